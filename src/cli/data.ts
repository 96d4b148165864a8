/**
 * dpo-ts data inspect SOURCE...: what a preference data set holds and what training would make of it (see
 * src/data/inspect.ts). Exits non-zero when any row is invalid.
 */
import { Tokenizer } from "../tokenizer/tokenizer";
import { formatSummary, inspectPreferenceData } from "../data/inspect";
import { PREFERENCE_FORMATS, PreferenceFormat } from "../data/rows";
import { DEFAULT_MAX_LENGTH, TruncationMode } from "../data/tokenize";

export const dataOptions = {
  split: { type: "string", description: "split of a data set id (Hub sources)", valueName: "NAME" },
  format: { type: "string", default: "auto", description: "auto | standard | conversational | implicit | orca", valueName: "FORMAT" },
  tokenizer: { type: "string", description: "tokenizer folder: lengths in tokens and the chat template for messages", valueName: "DIR" },
  maxLength: { type: "string", description: `sequence limit for the truncation counts (default ${DEFAULT_MAX_LENGTH})`, valueName: "N" },
  truncationMode: { type: "string", default: "keep_start", description: "keep_start | keep_end", valueName: "MODE" },
  maxPromptLength: { type: "string", description: "legacy prompt limit (TRL 0.x)", valueName: "N" },
  maxCompletionLength: { type: "string", description: "legacy completion limit (TRL 0.x)", valueName: "N" },
  examples: { type: "string", default: "2", description: "rendered examples to show", valueName: "N" },
  json: { type: "boolean", description: "print the summary as JSON" },
} as const;

function positiveInt(values: Record<string, unknown>, name: string, flag: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`dpo-ts data: --${flag} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

export async function dataCommand(values: Record<string, unknown>, positionals: string[]): Promise<void> {
  const [sub, ...sources] = positionals;
  if (sub !== "inspect") throw new Error(`dpo-ts data: unknown subcommand ${JSON.stringify(sub ?? "")} (usage: dpo-ts data inspect SOURCE... [--format F] [--tokenizer DIR] [--json])`);
  if (sources.length === 0) throw new Error("dpo-ts data: inspect needs a SOURCE (a data file, several files, or a data set id)");
  const format = (values.format as string | undefined) ?? "auto";
  if (format !== "auto" && !PREFERENCE_FORMATS.includes(format as PreferenceFormat)) throw new Error(`dpo-ts data: --format must be auto, ${PREFERENCE_FORMATS.join(", ")}; got "${format}"`);
  const truncationMode = ((values.truncationMode as string | undefined) ?? "keep_start") as TruncationMode;
  if (truncationMode !== "keep_start" && truncationMode !== "keep_end") throw new Error(`dpo-ts data: --truncation-mode must be keep_start or keep_end, got "${truncationMode}"`);
  const examples = Number(values.examples ?? 2);
  if (!Number.isInteger(examples) || examples < 0) throw new Error(`dpo-ts data: --examples must be a whole number, got ${JSON.stringify(values.examples)}`);
  const tokenizer = typeof values.tokenizer === "string" ? await Tokenizer.fromDir(values.tokenizer) : null;
  const summary = await inspectPreferenceData(sources.length === 1 ? sources[0] : sources, tokenizer, {
    format: format as PreferenceFormat | "auto",
    split: values.split as string | undefined,
    examples,
    tokenize: {
      maxLength: positiveInt(values, "maxLength", "max-length") ?? DEFAULT_MAX_LENGTH,
      truncationMode,
      maxPromptLength: positiveInt(values, "maxPromptLength", "max-prompt-length") ?? null,
      maxCompletionLength: positiveInt(values, "maxCompletionLength", "max-completion-length") ?? null,
    },
  });
  if (values.json) {
    const { perRow: _perRow, ...rest } = summary;
    console.log(JSON.stringify(rest));
  } else {
    console.log(formatSummary(summary));
  }
  if (summary.skipped.length > 0) {
    if (!values.json) console.error(`dpo-ts data: ${summary.skipped.length} invalid row(s), first: ${summary.skipped[0].where}: ${summary.skipped[0].field === null ? "" : `field "${summary.skipped[0].field}" `}${summary.skipped[0].reason}`);
    process.exitCode = 1;
  }
}
