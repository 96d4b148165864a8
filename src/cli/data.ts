/**
 * `dpo-ts data inspect SOURCE...`: what a preference data set holds and what training would make of it (see
 * src/data/inspect.ts). Exits non-zero when any row is invalid.
 */
import { Tokenizer } from "../tokenizer/tokenizer";
import { formatSummary, inspectPreferenceData } from "../data/inspect";
import { PREFERENCE_FORMATS, PreferenceFormat } from "../data/rows";
import { DEFAULT_MAX_LENGTH, TruncationMode } from "../data/tokenize";
import { CliError, integerValue, OptionsTable, stringValue } from "./framework";

/** Options of `dpo-ts data inspect`. */
export const dataOptions: OptionsTable = {
  split: { type: "string", description: "split of a data set id (Hub sources)", valueName: "NAME" },
  format: { type: "string", default: "auto", description: "auto | standard | conversational | implicit | orca", valueName: "FORMAT" },
  tokenizer: { type: "string", description: "tokenizer folder: lengths in tokens and the chat template for messages", valueName: "DIR" },
  maxLength: { type: "string", description: `sequence limit for the truncation counts (default ${DEFAULT_MAX_LENGTH})`, valueName: "N" },
  truncationMode: { type: "string", default: "keep_start", description: "keep_start | keep_end", valueName: "MODE" },
  maxPromptLength: { type: "string", description: "legacy prompt limit (TRL 0.x)", valueName: "N" },
  maxCompletionLength: { type: "string", description: "legacy completion limit (TRL 0.x)", valueName: "N" },
  examples: { type: "string", default: "2", description: "rendered examples to show", valueName: "N" },
  json: { type: "boolean", description: "print the summary as JSON" },
};

/** `dpo-ts data inspect SOURCE...`: reads preference data and prints its format, row count and lengths (or JSON); throws CliError on a bad subcommand. */
export async function dataCommand(values: Record<string, unknown>, positionals: string[]): Promise<void> {
  const [sub, ...sources] = positionals;
  if (sub !== "inspect")
    throw new CliError(`unknown subcommand ${JSON.stringify(sub ?? "")} (usage: dpo-ts data inspect SOURCE... [--format F] [--tokenizer DIR] [--json])`);
  if (sources.length === 0) throw new CliError("inspect needs a SOURCE (a data file, several files, or a data set id)");
  const format = stringValue(values, "format") ?? "auto";
  if (format !== "auto" && !PREFERENCE_FORMATS.includes(format as PreferenceFormat))
    throw new CliError(`--format must be auto, ${PREFERENCE_FORMATS.join(", ")}; got "${format}"`);
  const truncationMode = (stringValue(values, "truncationMode") ?? "keep_start") as TruncationMode;
  if (truncationMode !== "keep_start" && truncationMode !== "keep_end")
    throw new CliError(`--truncation-mode must be keep_start or keep_end, got "${truncationMode}"`);
  const examples = integerValue(values, "examples", { min: 0 }) ?? 2;
  const tokenizerDir = stringValue(values, "tokenizer");
  const tokenizer = tokenizerDir ? await Tokenizer.fromDir(tokenizerDir) : null;
  const summary = await inspectPreferenceData(sources.length === 1 ? sources[0] : sources, tokenizer, {
    format: format as PreferenceFormat | "auto",
    split: stringValue(values, "split"),
    examples,
    tokenize: {
      maxLength: integerValue(values, "maxLength", { positive: true }) ?? DEFAULT_MAX_LENGTH,
      truncationMode,
      maxPromptLength: integerValue(values, "maxPromptLength", { positive: true }) ?? null,
      maxCompletionLength: integerValue(values, "maxCompletionLength", { positive: true }) ?? null,
    },
  });
  if (values.json) {
    const { perRow: _perRow, ...rest } = summary;
    console.log(JSON.stringify(rest));
  } else {
    console.log(formatSummary(summary));
  }
  if (summary.skipped.length > 0) {
    // exit 1 (through the entry point's error path) after the summary has been printed
    const first = summary.skipped[0];
    throw new Error(`${summary.skipped.length} invalid row(s), first: ${first.where}: ${first.field === null ? "" : `field "${first.field}" `}${first.reason}`);
  }
}
