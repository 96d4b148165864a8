/**
 * Preference and SFT row types, and synchronous readers of local JSONL / JSON / CSV files (optionally gzipped) for the
 * fixed-column cases the course and tests use. {@link loadPreferenceDataset} (dataset.ts) is the general loader:
 * every format, Parquet, streaming, skipInvalid. Nothing is silently dropped: every non-blank line must be a valid
 * row, else an error names the file, the 1-based line and the field.
 *
 * - Standard preference rows (TRL's "standard" format): `{prompt, chosen, rejected}`.
 * - Orca rows (Intel/orca_dpo_pairs columns): `{system, question, chosen, rejected}`; `system` may be "".
 * - Instruction rows (SFT): `{system, question, answer}`; `system` may be "".
 */
import * as fs from "fs";
import { Rng } from "../util/rng";
import { formatSource, readRawRowsSync, RawRow, RowError, RowSource } from "./readers";
import { convertRow, textField } from "./rows";

export type { RowSource };

/** One preference pair as text: TRL's standard format, or a conversational row after its chat template. */
export interface PreferenceRow {
  prompt: string;
  chosen: string;
  rejected: string;
  /** The completions are what the chat template renders after the prompt (conversational rows): they already end
   * with the template's end-of-turn tokens, so tokenization appends no EOS (TRL's conversational path). */
  chatTemplated?: boolean;
  /** File and 1-based line (or Parquet row) the row came from, for messages. */
  source?: RowSource;
}

/** Where a row came from as messages print it (`prefs.jsonl:3`, `train.parquet: row 3`), or `fallback` (e.g.
 * "prefs.jsonl: row 3") for a row built in code without a source. */
export function rowLocation(row: { source?: RowSource }, fallback: string): string {
  return row.source ? formatSource(row.source) : fallback;
}

/** One row of Intel/orca_dpo_pairs. */
export interface OrcaRow {
  system: string;
  question: string;
  chosen: string;
  rejected: string;
}

/** One supervised fine-tuning example. */
export interface InstructionRow {
  system: string;
  question: string;
  answer: string;
}

/** The raw objects of a JSONL / JSON / CSV file with their sources; throws on the first unreadable row. */
export function readJsonObjects(file: string): RawRow[] {
  const items = readRawRowsSync(file);
  const rows: RawRow[] = [];
  for (const item of items) {
    if (item instanceof RowError) throw item;
    rows.push(item);
  }
  if (rows.length === 0) throw new Error(`${file}: no rows`);
  return rows;
}

/** Reads `{prompt, chosen, rejected}` string rows. Extra fields are ignored. */
export function readPreferenceFile(file: string): PreferenceRow[] {
  return readJsonObjects(file).map((o) => {
    textField(o.value.prompt, o.source, "prompt");
    return convertRow(o, { format: "standard", conversational: false });
  });
}

/** Reads Intel/orca_dpo_pairs rows `{system, question, chosen, rejected}` (`system` may be ""). */
export function readOrcaFile(file: string): OrcaRow[] {
  return readJsonObjects(file).map((o) => ({
    system: textField(o.value.system, o.source, "system", true),
    question: textField(o.value.question, o.source, "question"),
    chosen: textField(o.value.chosen, o.source, "chosen"),
    rejected: textField(o.value.rejected, o.source, "rejected"),
  }));
}

/** Reads SFT rows `{system, question, answer}` (`system` may be ""). */
export function readInstructionFile(file: string): InstructionRow[] {
  return readJsonObjects(file).map((o) => ({
    system: textField(o.value.system, o.source, "system", true),
    question: textField(o.value.question, o.source, "question"),
    answer: textField(o.value.answer, o.source, "answer"),
  }));
}

/** Writes rows as JSON Lines (one object per line, trailing newline). */
export function writeJsonl(file: string, rows: readonly object[]): void {
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n") + (rows.length > 0 ? "\n" : ""));
}

/**
 * Deterministic train/eval split: a seeded shuffle picks the eval rows; both parts keep the original order.
 * `evalSize` in [0, 1) is a fraction of the rows (rounded, at least 1 when > 0); an integer >= 1 is a row count.
 */
export function splitTrainEval<T>(rows: readonly T[], evalSize: number, seed = 42): { train: T[]; eval: T[] } {
  const n = rows.length;
  let nEval: number;
  if (!(evalSize >= 0) || !Number.isFinite(evalSize)) throw new Error(`splitTrainEval: evalSize must be >= 0 (got ${evalSize})`);
  if (evalSize < 1) nEval = evalSize === 0 ? 0 : Math.max(1, Math.round(n * evalSize));
  else if (Number.isInteger(evalSize)) nEval = evalSize;
  else throw new Error(`splitTrainEval: evalSize must be a fraction in [0, 1) or an integer count (got ${evalSize})`);
  if (nEval >= n && n > 0) throw new Error(`splitTrainEval: eval set of ${nEval} rows leaves no training rows (${n} rows)`);
  const order = new Rng(seed).shuffle(rows.map((_, i) => i));
  const isEval = new Uint8Array(n);
  for (let i = 0; i < nEval; i++) isEval[order[i]] = 1;
  const train: T[] = [], evalRows: T[] = [];
  rows.forEach((r, i) => (isEval[i] ? evalRows : train).push(r));
  return { train, eval: evalRows };
}
