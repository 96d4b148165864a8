/**
 * A summary of a preference data set, for `dpo-ts data inspect` and notebook 02: rows read, format, kept and skipped
 * rows with reasons, length percentiles of prompt / chosen / rejected (tokens with a tokenizer, else characters),
 * what truncation would cut or drop under the given lengths, and a few rendered examples.
 */
import type { Tokenizer } from "../tokenizer/tokenizer";
import { loadPreferenceData, LoadOptions, PreferenceData, SkippedRow } from "./dataset";
import type { PreferenceRow } from "./preferences";
import { formatSource } from "./readers";
import { kindName } from "./rows";
import { DroppedRow, tokenizePairs, TokenizeOptions, TruncationCounts } from "./tokenize";

/** Percentiles, extremes and mean of a list of lengths. */
export interface LengthStats {
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** What `dpo-ts data inspect` reports on preference data: format, rows kept and skipped, lengths, truncation, examples and notes. */
export interface PreferenceDataSummary {
  files: string[];
  format: string;
  rows: number;
  kept: number;
  skipped: Array<SkippedRow & { where: string }>;
  /** Rows truncation would drop (empty completion), with source lines; empty without a tokenizer. */
  dropped: DroppedRow[];
  truncated: TruncationCounts | null;
  unit: "tokens" | "characters";
  lengths: { prompt: LengthStats; chosen: LengthStats; rejected: LengthStats };
  /** Per-row lengths in `unit` (for histograms), in row order of the kept rows. */
  perRow: { prompt: number[]; chosen: number[]; rejected: number[] };
  examples: Array<{ where: string; prompt: string; chosen: string; rejected: string }>;
  notes: string[];
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] : 0;
}

/** Min, p50, p90, p99, max and mean of `values` (all 0 for an empty list). */
export function lengthStats(values: number[]): LengthStats {
  const s = [...values].sort((a, b) => a - b);
  return { min: s[0] ?? 0, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1] ?? 0, mean: s.length ? s.reduce((a, b) => a + b, 0) / s.length : 0 };
}

/** Summarizes loaded data (see the file comment); `tokenize` sets maxLength / truncation as the trainer would. */
export function summarizePreferenceData(data: PreferenceData, tokenizer: Tokenizer | null, tokenize: TokenizeOptions = {}, numExamples = 2): PreferenceDataSummary {
  const rows: PreferenceRow[] = data.rows;
  let perRow: PreferenceDataSummary["perRow"];
  let dropped: DroppedRow[] = [], truncated: TruncationCounts | null = null;
  if (tokenizer) {
    const full = tokenizePairs(rows, tokenizer, { ...tokenize, maxLength: null, maxPromptLength: null, maxCompletionLength: null });
    perRow = { prompt: full.pairs.map((p) => p.promptIds.length), chosen: full.pairs.map((p) => p.chosenIds.length), rejected: full.pairs.map((p) => p.rejectedIds.length) };
    const cut = tokenizePairs(rows, tokenizer, tokenize);
    dropped = cut.droppedRows;
    truncated = cut.truncated;
  } else {
    perRow = { prompt: rows.map((r) => r.prompt.length), chosen: rows.map((r) => r.chosen.length), rejected: rows.map((r) => r.rejected.length) };
  }
  const notes: string[] = [];
  if (data.conversational || data.format === "orca") {
    notes.push(data.templateFrom === "tokenizer" ? "messages rendered with the tokenizer's chat template" : "messages rendered with the built-in ChatML template (no tokenizer given)");
  }
  if (data.promptIgnored) notes.push(`${data.promptIgnored} row(s): string "prompt" column ignored beside conversational chosen/rejected (TRL's maybe_extract_prompt)`);
  return {
    files: data.files,
    format: kindName({ format: data.format, conversational: data.conversational }),
    rows: data.totalRows,
    kept: rows.length - dropped.length,
    skipped: data.skipped.map((s) => ({ ...s, where: formatSource(s.source) })),
    dropped,
    truncated,
    unit: tokenizer ? "tokens" : "characters",
    lengths: { prompt: lengthStats(perRow.prompt), chosen: lengthStats(perRow.chosen), rejected: lengthStats(perRow.rejected) },
    perRow,
    examples: rows.slice(0, numExamples).map((r) => ({ where: r.source ? formatSource(r.source) : "", prompt: r.prompt, chosen: r.chosen, rejected: r.rejected })),
    notes,
  };
}

/** Loads (with skipInvalid, so that every bad row is listed) and summarizes a data source. */
export async function inspectPreferenceData(
  source: string | readonly string[],
  tokenizer: Tokenizer | null = null,
  opts: LoadOptions & { tokenize?: TokenizeOptions; examples?: number } = {},
): Promise<PreferenceDataSummary> {
  const data = await loadPreferenceData(source, tokenizer, { ...opts, skipInvalid: true });
  return summarizePreferenceData(data, tokenizer, opts.tokenize, opts.examples);
}

/** The summary as text, as `dpo-ts data inspect` prints it. */
export function formatSummary(s: PreferenceDataSummary): string {
  const out: string[] = [];
  out.push(`source     ${s.files.join(", ")}`);
  out.push(`format     ${s.format}`);
  out.push(`rows       ${s.rows} read, ${s.kept} kept, ${s.skipped.length} invalid, ${s.dropped.length} dropped by truncation`);
  for (const n of s.notes) out.push(`note       ${n}`);
  const f = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
  out.push(`lengths in ${s.unit}:`);
  out.push(`  ${"".padEnd(9)}${["min", "p50", "p90", "p99", "max", "mean"].map((h) => h.padStart(8)).join("")}`);
  for (const k of ["prompt", "chosen", "rejected"] as const) {
    const l = s.lengths[k];
    out.push(`  ${k.padEnd(9)}${[l.min, l.p50, l.p90, l.p99, l.max, l.mean].map((v) => f(v).padStart(8)).join("")}`);
  }
  if (s.truncated) out.push(`truncated  ${s.truncated.rows} row(s): prompt ${s.truncated.prompt}, chosen ${s.truncated.chosen}, rejected ${s.truncated.rejected}`);
  if (s.skipped.length) {
    out.push(`invalid rows (${s.skipped.length}):`);
    for (const r of s.skipped) out.push(`  ${r.where}: ${r.field === null ? "" : `field "${r.field}" `}${r.reason}`);
  }
  if (s.dropped.length) {
    out.push(`dropped by truncation (${s.dropped.length}):`);
    for (const d of s.dropped) out.push(`  ${d.where}: ${d.reason}`);
  }
  for (const e of s.examples) {
    out.push(`example ${e.where}`);
    for (const k of ["prompt", "chosen", "rejected"] as const) out.push(`  ${k}: ${JSON.stringify(e[k].length > 300 ? e[k].slice(0, 300) + "..." : e[k])}`);
  }
  return out.join("\n");
}
