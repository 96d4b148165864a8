/**
 * The dpo-ts command-line framework: each command declares one options table (Node's util.parseArgs format plus a
 * description), and this file parses strictly against it (unknown options, missing values and values given to
 * boolean flags are errors), generates `--help` and the usage text from it, and answers `--version` from
 * package.json. Errors a user can fix are CliErrors; the entry point (index.ts) prints them as
 * `dpo-ts <command>: <what>` and exits 1.
 */
import { parseArgs } from "util";
import { packageVersion } from "../embedded";

/** One option: util.parseArgs's format plus what --help shows. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  default?: string | boolean | string[] | boolean[];
  /** One line for --help. */
  description: string;
  /** The value's name in --help (`--steps N`); default "VALUE". */
  valueName?: string;
  /** For a string option that may also stand alone (`--resume` or `--resume DIR`): the value it gets when alone. */
  impliedValue?: string;
  /** This option is another name of that one (shown beside it in --help; giving both is an error). */
  aliasOf?: string;
  /** Heading this option is listed under in --help (default "options"). */
  group?: string;
}

/** A command's options by name (node:util parseArgs style, plus help text). */
export type OptionsTable = Record<string, OptionSpec>;
/** Parsed option values by name, as node:util parseArgs returns them. */
export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;
/** What a command runs: its parsed options and positional arguments. */
export type CommandRun = (values: Record<string, unknown>, positionals: string[]) => Promise<void> | void;

/** A command of the `dpo-ts` CLI: name, help text, options and what it runs. */
export interface CommandSpec {
  name: string;
  /** One line for `dpo-ts --help`. */
  summary: string;
  /** Synopsis after `dpo-ts <name>` (default: generated from required-looking options). */
  usage?: string;
  /** Paragraphs printed after the synopsis in --help. */
  details?: string;
  options: OptionsTable;
  /** Positional arguments: `false`/absent refuses them; otherwise a name for --help (e.g. "RUN_DIR..."). */
  positionals?: string | false;
  run: CommandRun;
}

/** A mistake in what the user typed or gave: printed as `dpo-ts <command>: <message>`, exit 1, no stack trace. */
export class CliError extends Error {}

/** Options every command has. */
export const COMMON_OPTIONS: OptionsTable = {
  help: { type: "boolean", short: "h", description: "print this help and exit", group: "common" },
  version: { type: "boolean", description: "print the dpo-ts version and exit", group: "common" },
};

/** `--backend NAME`, for every command that computes. */
export const BACKEND_OPTION: OptionSpec = {
  type: "string",
  valueName: "NAME",
  description: "tensorflow, webgpu, wasm or cpu (default: DPO_BACKEND, else the best that loads)",
};

/** A command line parsed against a command's options. */
export interface ParsedCommandLine {
  values: OptionValues;
  positionals: string[];
}

/** The argv token the user typed for option `name` (`--name`, `--name=…`, `-n`), for error messages. */
function typedToken(argv: string[], name: string): string {
  return argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`)) ?? `--${name}`;
}

/** kebab-case: the command-line spelling of an options-table key (`maxLength` → `max-length`; kebab keys stay). */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/** The command's table plus COMMON_OPTIONS keyed by flag name, and the table key each flag stands for. */
function flagTable(options: OptionsTable): { table: OptionsTable; keyOf: Map<string, string> } {
  const table: OptionsTable = {};
  const keyOf = new Map<string, string>();
  for (const [key, o] of Object.entries({ ...options, ...COMMON_OPTIONS })) {
    table[flagName(key)] = o.aliasOf ? { ...o, aliasOf: flagName(o.aliasOf) } : o;
    keyOf.set(flagName(key), key);
  }
  return { table, keyOf };
}

/**
 * Strict parse of `argv` against `options` (the command's table plus COMMON_OPTIONS). On the command line every
 * option is kebab-case; `values` are keyed as the table is (a table key `maxLength` is `--max-length`, value
 * `values.maxLength`). Throws CliError.
 */
export function parseCommandLine(spec: Pick<CommandSpec, "options" | "positionals">, argv: string[]): ParsedCommandLine {
  const { table, keyOf } = flagTable(spec.options);
  // util.parseArgs has no optional values and reads "-1" as an option: `--resume` alone gets its implied value, and
  // `--steps -1` becomes `--steps=-1` so that the value is checked (and refused by name) like any other.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const o = arg.startsWith("--") ? table[arg.slice(2)] : undefined;
    const next = argv[i + 1];
    if (o?.type === "string" && next !== undefined && /^-(\d|\.\d)/.test(next)) args.push(`${arg}=${argv[++i]}`);
    else if (o?.impliedValue !== undefined && (next === undefined || next.startsWith("-"))) args.push(`${arg}=${o.impliedValue}`);
    else args.push(arg);
  }
  const config: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean; default?: string | boolean | string[] | boolean[] }> = {};
  for (const [name, o] of Object.entries(table)) {
    config[name] = { type: o.type };
    if (o.short !== undefined) config[name].short = o.short;
    if (o.multiple !== undefined) config[name].multiple = o.multiple;
    if (o.default !== undefined) config[name].default = o.default;
  }
  let parsed: ParsedCommandLine;
  try {
    parsed = parseArgs({ args, options: config, strict: true, allowPositionals: true }) as ParsedCommandLine;
  } catch (e) {
    const err = e as Error & { code?: string };
    const quoted = err.message.match(/'(-[^' ]*)/)?.[1] ?? "";
    const name = quoted.replace(/^-+/, "");
    if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new CliError(`unknown option "${typedToken(argv, name)}" (see --help)`);
    if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const long = Object.entries(table).find(([n, o]) => n === name || o.short === name)?.[0] ?? name;
      if (table[long]?.type === "boolean") throw new CliError(`--${long} is a flag and takes no value`);
      throw new CliError(`--${long} needs a value`);
    }
    throw new CliError(err.message);
  }
  if (parsed.positionals.length && !spec.positionals && !parsed.values.help && !parsed.values.version) {
    const first = parsed.positionals[0];
    const before = args[args.indexOf(first) - 1];
    if (before?.startsWith("--") && table[before.slice(2)]?.type === "boolean") throw new CliError(`${before} is a flag and takes no value (got "${first}")`);
    throw new CliError(`unexpected argument "${first}" (see --help)`);
  }
  for (const [name, o] of Object.entries(table)) {
    if (o.aliasOf && parsed.values[name] !== undefined && parsed.values[o.aliasOf] !== undefined) {
      throw new CliError(`--${name} and --${o.aliasOf} are the same option; give one`);
    }
  }
  const values: OptionValues = {};
  for (const [flag, value] of Object.entries(parsed.values)) values[keyOf.get(flag) ?? flag] = value;
  return { values, positionals: parsed.positionals };
}

function optionLine(name: string, o: OptionSpec, aliases: string[]): string {
  const names = [...(o.short ? [`-${o.short}`] : []), `--${name}`, ...aliases.map((a) => `--${a}`)].join(", ");
  const value = o.type === "string" ? (o.impliedValue !== undefined ? ` [${o.valueName ?? "VALUE"}]` : ` ${o.valueName ?? "VALUE"}`) : "";
  const left = `  ${names}${value}`;
  const defaultText = o.default !== undefined && o.default !== false ? ` (default ${Array.isArray(o.default) ? o.default.join(",") : o.default})` : "";
  const text = o.description + defaultText;
  return left.length < 34 ? left.padEnd(34) + text : `${left}\n${" ".repeat(34)}${text}`;
}

/** The --help text of a command, generated from its options table. */
export function formatHelp(spec: CommandSpec): string {
  const { table } = flagTable(spec.options);
  const aliases = new Map<string, string[]>();
  for (const [name, o] of Object.entries(table)) if (o.aliasOf) aliases.set(o.aliasOf, [...(aliases.get(o.aliasOf) ?? []), name]);
  const groups = new Map<string, string[]>();
  for (const [name, o] of Object.entries(table)) {
    if (o.aliasOf) continue;
    const group = o.group ?? "options";
    groups.set(group, [...(groups.get(group) ?? []), optionLine(name, o, aliases.get(name) ?? [])]);
  }
  const positional = spec.positionals ? ` ${spec.positionals}` : "";
  const lines = [`usage: dpo-ts ${spec.name}${spec.usage ? ` ${spec.usage}` : `${positional} [options]`}`, "", spec.summary];
  if (spec.details) lines.push("", spec.details);
  for (const [group, entries] of groups) lines.push("", `${group}:`, ...entries);
  return lines.join("\n");
}

/** The top-level `dpo-ts --help`. */
export function formatOverview(commands: { name: string; summary: string }[]): string {
  return [
    "usage: dpo-ts <command> [options]      (dpo-ts <command> --help for its options)",
    "",
    "commands:",
    ...commands.map((c) => `  ${c.name.padEnd(Math.max(10, ...commands.map((d) => d.name.length + 2)))}${c.summary}`),
    "",
    "  --help, -h    print this help        --version    print the dpo-ts version",
  ].join("\n");
}

// ---- Values: each command reads its options through these, so every error names the option. ----

/** A string option's value, or undefined. */
export function stringValue(values: Record<string, unknown>, name: string): string | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new CliError(`--${flagName(name)} needs a value`);
  return v;
}

/** A string option that must be given. */
export function requiredString(values: Record<string, unknown>, name: string): string {
  const v = stringValue(values, name);
  if (v === undefined || v === "") throw new CliError(`--${flagName(name)} is required (see --help)`);
  return v;
}

/** A finite number, or undefined when not given. */
export function numberValue(values: Record<string, unknown>, name: string, opts: { min?: number; positive?: boolean } = {}): number | undefined {
  const raw = stringValue(values, name);
  if (raw === undefined) return undefined;
  return parseNumber(raw, `--${flagName(name)}`, opts);
}

/** A whole number, or undefined when not given; `positive` refuses 0 and negatives, `min` sets a lower bound. */
export function integerValue(values: Record<string, unknown>, name: string, opts: { min?: number; positive?: boolean } = {}): number | undefined {
  const raw = stringValue(values, name);
  if (raw === undefined) return undefined;
  return parseNumber(raw, `--${flagName(name)}`, { ...opts, integer: true });
}

/** `raw` as a number, checked; `what` names the option in the error. */
export function parseNumber(raw: string | number, what: string, opts: { min?: number; positive?: boolean; integer?: boolean } = {}): number {
  const n = typeof raw === "number" ? raw : raw.trim() === "" ? NaN : Number(raw);
  const kind = opts.integer ? (opts.positive ? "a positive whole number" : "a whole number") : opts.positive ? "a positive number" : "a number";
  const shown = typeof raw === "string" ? `"${raw}"` : String(raw);
  if (!Number.isFinite(n) || (opts.integer && !Number.isInteger(n))) throw new CliError(`${what} must be ${kind}, got ${shown}`);
  if (opts.positive && !(n > 0)) throw new CliError(`${what} must be ${kind} (> 0), got ${shown}`);
  if (opts.min !== undefined && n < opts.min) throw new CliError(`${what} must be ≥ ${opts.min}, got ${shown}`);
  return n;
}

/** A comma-separated list (`--loss sigmoid,sft`), or undefined. Empty items are errors. */
export function listValue(values: Record<string, unknown>, name: string): string[] | undefined {
  const raw = stringValue(values, name);
  if (raw === undefined) return undefined;
  return splitList(raw, `--${flagName(name)}`);
}

/** Splits a comma-separated option value; throws CliError naming `what` on an empty item. */
export function splitList(raw: string, what: string): string[] {
  const items = raw.split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) throw new CliError(`${what} must be a comma-separated list without empty items, got "${raw}"`);
  return items;
}

/** Runs `argv` (the words after "dpo-ts <name>") against the command: --help and --version print and return. */
export async function runCommand(spec: CommandSpec, argv: string[], print: (s: string) => void = console.log): Promise<void> {
  // --help wins over any mistake elsewhere on the line (one asks for help after an error).
  const beforeTerminator = argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv;
  if (beforeTerminator.some((a) => a === "--help" || a === "-h")) return print(formatHelp(spec));
  const { values, positionals } = parseCommandLine(spec, argv);
  if (values.help) return print(formatHelp(spec));
  if (values.version) return print(`dpo-ts ${packageVersion()}`);
  await spec.run(values, positionals);
}
