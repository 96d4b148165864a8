/**
 * Loading and validating preference data sets.
 *
 * Formats: JSON Lines (one object per line; blank lines allowed) or, for files ending in `.json`, a JSON array of
 * objects. Nothing is silently dropped: every non-blank line must be a valid row, else an error names the file, the
 * 1-based line (or, for a JSON array, the 1-based row) and the field.
 *
 * - Standard preference rows (TRL's "standard" format): `{prompt, chosen, rejected}`.
 * - Orca rows (Intel/orca_dpo_pairs columns): `{system, question, chosen, rejected}`; `system` may be "".
 * - Instruction rows (SFT): `{system, question, answer}`; `system` may be "".
 */
import * as fs from "fs";
import { Rng } from "./rng";

/** One preference pair in TRL's standard (non-conversational) format. */
export interface PreferenceRow {
  prompt: string;
  chosen: string;
  rejected: string;
  /** Where the row came from (file and 1-based line, or row of a .json array), for messages. Set by the readers as a
   * non-enumerable property, so rows still compare and serialize as {prompt, chosen, rejected}. */
  source?: RowSource;
}

/** A row's origin: the file and the 1-based line as the file shows it (for a .json array, the 1-based row). */
export interface RowSource {
  file: string;
  line: number;
}

/** Attaches `source` to a row without making it part of the row's data (see PreferenceRow.source). */
export function withSource<T extends object>(row: T, source: RowSource | undefined): T & { source?: RowSource } {
  if (source) Object.defineProperty(row, "source", { value: source, enumerable: false, writable: true, configurable: true });
  return row;
}

/** "file:line" of a row, or `fallback` (e.g. "row 3") when it has no source. */
export function rowLocation(row: { source?: RowSource }, fallback: string): string {
  return row.source ? `${row.source.file}:${row.source.line}` : fallback;
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

/** A parsed JSON object with the place it came from (e.g. `prefs.jsonl:3` or `prefs.json: row 3`). */
interface LocatedObject {
  where: string;
  source: RowSource;
  value: Record<string, unknown>;
}

function describe(v: unknown): string {
  if (v === undefined) return "missing";
  if (v === null) return "got null";
  if (Array.isArray(v)) return "got an array";
  if (typeof v === "string") return "got an empty string";
  return `got ${typeof v}`;
}

/** Reads the objects of a JSONL file (or a `.json` array) with their locations; throws on anything malformed. */
export function readJsonObjects(file: string): LocatedObject[] {
  if (!fs.existsSync(file)) throw new Error(`${file}: file not found`);
  let text = fs.readFileSync(file, "utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // BOM
  const out: LocatedObject[] = [];
  if (file.toLowerCase().endsWith(".json")) {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(data)) throw new Error(`${file}: expected a JSON array of objects`);
    data.forEach((value, i) => {
      const where = `${file}: row ${i + 1}`;
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new Error(`${where}: expected a JSON object`);
      }
      out.push({ where, source: { file, line: i + 1 }, value: value as Record<string, unknown> });
    });
  } else {
    const lines = text.split("\n");
    lines.forEach((raw, i) => {
      const line = raw.trim();
      if (line === "") return; // blank lines are allowed
      const where = `${file}:${i + 1}`;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (e) {
        throw new Error(`${where}: invalid JSON at line ${i + 1} (${(e as Error).message})`);
      }
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new Error(`${where}: expected a JSON object`);
      }
      out.push({ where, source: { file, line: i + 1 }, value: value as Record<string, unknown> });
    });
  }
  if (out.length === 0) throw new Error(`${file}: no rows`);
  return out;
}

/** The string field `name`; `allowEmpty` lets "" through (orca's `system`). */
function stringField(obj: LocatedObject, name: string, allowEmpty = false): string {
  const v = obj.value[name];
  if (typeof v === "string" && (allowEmpty || v.length > 0)) return v;
  const what = allowEmpty ? "a string" : "a non-empty string";
  let hint = "";
  if (Array.isArray(v) && (name === "prompt" || name === "chosen" || name === "rejected")) {
    hint = "; conversational (list of messages) rows are not supported, apply the chat template first";
  }
  throw new Error(`${obj.where}: field "${name}" must be ${what} (${describe(v)}${hint})`);
}

/** Reads `{prompt, chosen, rejected}` rows (JSONL or `.json` array). Extra fields are ignored. */
export function readPreferenceFile(file: string): PreferenceRow[] {
  return readJsonObjects(file).map((o) =>
    withSource({ prompt: stringField(o, "prompt"), chosen: stringField(o, "chosen"), rejected: stringField(o, "rejected") }, o.source),
  );
}

/** Reads Intel/orca_dpo_pairs rows `{system, question, chosen, rejected}` (`system` may be ""). */
export function readOrcaFile(file: string): OrcaRow[] {
  return readJsonObjects(file).map((o) =>
    withSource({ system: stringField(o, "system", true), question: stringField(o, "question"), chosen: stringField(o, "chosen"), rejected: stringField(o, "rejected") }, o.source),
  );
}

/** Reads SFT rows `{system, question, answer}` (`system` may be ""). */
export function readInstructionFile(file: string): InstructionRow[] {
  return readJsonObjects(file).map((o) => ({
    system: stringField(o, "system", true),
    question: stringField(o, "question"),
    answer: stringField(o, "answer"),
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
