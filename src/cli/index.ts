#!/usr/bin/env node
/**
 * dpo-ts: Direct Preference Optimization from the command line. The command registry and the entry point.
 *
 * Adding a command: write src/cli/<name>.ts exporting
 *   export const <name>Options: OptionsTable = { "max-steps": { type: "string", valueName: "N", description: "…" }, … };
 *   export async function <name>Command(values: Record<string, unknown>, positionals: string[]): Promise<void> { … }
 * (OptionsTable = util.parseArgs's option format plus `description`, optional `valueName`, `group`; see framework.ts.
 * Keys may be kebab-case or camelCase: the flag is always kebab-case (`maxLength` → --max-length) and `values` are
 * keyed as the table is. Read values with stringValue / integerValue / numberValue / listValue, which name the option
 * in errors, and throw CliError for mistakes the user can fix), then add ONE line to COMMANDS below:
 *   command("<name>", "one-line summary", () => import("./<name>")),
 * with `{ positionals: "RUN_DIR..." }` as a fourth argument if it takes arguments besides options. The module is loaded
 * only when its command runs; --help (generated from the options table) and --version come for free.
 */
import { CliError, CommandRun, CommandSpec, OptionsTable, formatOverview, runCommand } from "./framework";
import { packageVersion } from "../embedded";

interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<CommandSpec>;
}

type CommandModule<N extends string> = Record<`${N}Options`, OptionsTable> & Record<`${N}Command`, CommandRun>;

/** A registry entry whose options and handler are `<name>Options` and `<name>Command` of a lazily loaded module. */
function command<N extends string>(
  name: N,
  summary: string,
  load: () => Promise<CommandModule<N>>,
  extra: Pick<CommandSpec, "usage" | "positionals" | "details"> = {},
): CommandEntry {
  return {
    name,
    summary,
    load: async () => {
      const m = (await load()) as unknown as Record<string, unknown>;
      return { name, summary, ...extra, options: m[`${name}Options`] as OptionsTable, run: m[`${name}Command`] as CommandRun };
    },
  };
}

/** Every `dpo-ts` command, in the order `dpo-ts --help` lists them; each module is loaded only when its command runs. */
export const COMMANDS: CommandEntry[] = [
  command("train", "DPO training of --policy on --data (every DPOConfig knob is an option; --config FILE.json|.yaml)", () => import("./train")),
  command("eval", "DPO metrics of --policy against --ref on --data", () => import("./eval")),
  command("generate", "a continuation of --prompt by --model (--chat for the chat template)", () => import("./generate")),
  command("sft", "supervised fine-tuning on {system, question, answer} rows (how data/sft-model was made)", () => import("./sft")),
  command("serve", "OpenAI-compatible server and chat page for one or more --model [NAME=]DIR (streaming, batching, API key)", () => import("./serve")),
  command("course", "run the five course notebooks headlessly into runs/<name>/", () => import("./course")),
  command("kernel", "kernel install: register the Jupyter kernel for the notebooks", () => import("./kernel"), {
    positionals: "install",
    usage: "install [--user | --prefix DIR] [--name NAME] [--display-name TEXT]",
  }),
  command("bench", "DPO training speed beside TRL: interleaved rounds, medians with min–max, matmul roof", () => import("./bench")),
  command("judge", "judged win rate of --model over --ref on held-out world prompts (95% interval, mean judged reward)", () => import("./judge")),
  command("data", "data inspect SOURCE...: rows, format, invalid and dropped rows by line, lengths, truncation, examples", () => import("./data"), {
    positionals: "inspect SOURCE...",
    usage: "inspect SOURCE... [--format auto|standard|conversational|implicit|orca] [--tokenizer DIR] [--json]",
  }),
  command("report", "rebuild RUN_DIR/report.html (config, curves, final metrics, sample generations)", () => import("./report"), { positionals: "RUN_DIR" }),
  command(
    "export-trl",
    "the same job for TRL: DPOConfig YAML, JSONL data, model, adapter, accelerate launch (ZeRO-3, FSDP)",
    async () => {
      const m = await import("./export-trl");
      return { "export-trlOptions": m.exportTrlOptions, "export-trlCommand": m.exportTrlCommand };
    },
    { positionals: "RUN_OR_CONFIG" },
  ),
  command("compare", "several runs side by side (e.g. a beta sweep) on one page", () => import("./compare"), { positionals: "RUN_DIR..." }),
];

/** Runs the dpo-ts command line (`argv` without "node dpo-ts"). Throws CliError for usage mistakes. */
export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h") return console.log(formatOverview(COMMANDS));
  if (name === "--version" || name === "-V") return console.log(`dpo-ts ${packageVersion()}`);
  if (name === "help") return main(rest.length ? [rest[0], "--help"] : []);
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) throw new CliError(`unknown command "${name}" (commands: ${COMMANDS.map((c) => c.name).join(", ")}; dpo-ts --help)`);
  await runCommand(await entry.load(), rest);
}

if (typeof require !== "undefined" && require.main === module) {
  const argv = process.argv.slice(2);
  const name = argv[0] && !argv[0].startsWith("-") && COMMANDS.some((c) => c.name === argv[0]) ? argv[0] : undefined;
  main(argv).then(
    () => process.exit(0),
    (e: Error) => {
      const prefix = name ? `dpo-ts ${name}: ` : "dpo-ts: ";
      console.error(prefix + e.message.replace(/^dpo-ts( [a-z]+)?: /, ""));
      if (process.env.DPO_DEBUG === "1") console.error(e.stack);
      process.exit(1);
    },
  );
}
