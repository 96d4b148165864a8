/**
 * One entry point for preference data: a file, a list of files (e.g. the Parquet shards of one split) or a data set
 * id, in any reader's file type (readers.ts) and any of TRL's formats (rows.ts).
 *
 *   const rows = await loadPreferenceDataset("prefs.parquet", tokenizer);                  // throws on a bad row
 *   const data = await loadPreferenceData(["a.jsonl", "b.jsonl"], tokenizer, { skipInvalid: true });
 *   data.skipped  // every skipped row: file, line, field, reason
 *
 * The format is decided over all rows (the most common one, or `format` when given); a row in another format is
 * an error naming it. Conversational and orca rows are rendered with the tokenizer's chat template (without a
 * tokenizer: the built-in ChatML template). {@link streamPreferenceRows} reads big files as a stream instead.
 */
import * as fs from "fs";
import type { Tokenizer } from "../tokenizer/tokenizer";
import { resolveHubDataset, HubDatasetOptions } from "../hub/dataset-files";
import { looksLikeRepoId } from "../hub/repo-id";
import type { PreferenceRow } from "./preferences";
import { checkDataFile, ColumnBatch, columnBatchRow, columnBatchRows, formatSource, readRawBatches, RawRow, RowError, RowSource } from "./readers";
import { chatmlRenderer, classifyRow, ColumnName, convertRow, kindName, PreferenceFormat, PREFERENCE_FORMATS, RowKind, standardRow, usedColumns } from "./rows";

export type { PreferenceFormat };

/** Load options; the Hub ones (split, config, revision, token, offline, ...) apply to data set ids only. */
export interface LoadOptions extends HubDatasetOptions {
  /** "auto" (default): the most common format over all rows; else every row must be in this one. */
  format?: PreferenceFormat | "auto";
  /** Other column names for the canonical ones, e.g. `{prompt: "instruction", chosen: "better"}`. */
  columns?: Partial<Record<ColumnName, string>>;
  /** Skip invalid rows (each reported in `skipped`) instead of stopping at the first. Default false. */
  skipInvalid?: boolean;
}

/** A row left out with skipInvalid, and why. */
export interface SkippedRow {
  source: RowSource;
  field: string | null;
  reason: string;
}

/** Preference data loaded by {@link loadPreferenceData}: the rows, their format and where they came from. */
export interface PreferenceData {
  rows: PreferenceRow[];
  format: PreferenceFormat;
  /** Whether the rows were message lists (chat template applied). */
  conversational: boolean;
  files: string[];
  /** Rows read, valid or not. */
  totalRows: number;
  skipped: SkippedRow[];
  /** Rows whose string "prompt" column was ignored for conversational chosen/rejected (TRL's maybe_extract_prompt). */
  promptIgnored: number;
  /** "tokenizer" or, with no tokenizer, "chatml" (the built-in template rendered conversational/orca rows). */
  templateFrom: "tokenizer" | "chatml";
}

/**
 * The local files of one preference data source: an existing path as it is; else a Hub data set id
 * ("Intel/orca_dpo_pairs"), whose split (`opts.split`, default "train") is downloaded into the Hugging Face cache
 * (or found there, offline too) — see resolveHubDataset.
 */
export async function resolvePreferenceSource(source: string, opts: HubDatasetOptions = {}): Promise<string[]> {
  if (fs.existsSync(source) || !looksLikeRepoId(source)) return [source];
  return (await resolveHubDataset(source, opts)).files;
}

/** The local files of a source or a list of sources (each must end up a file; a directory is named). */
export async function resolveDataFiles(source: string | readonly string[], opts: LoadOptions = {}): Promise<string[]> {
  const sources = typeof source === "string" ? [source] : [...source];
  if (sources.length === 0) throw new Error("loadPreferenceDataset: no data files given");
  const files: string[] = [];
  for (const s of sources) files.push(...(await resolvePreferenceSource(s, opts)));
  for (const f of files) checkDataFile(f);
  return files;
}

function checkFormat(format: string | undefined): PreferenceFormat | "auto" {
  const f = format ?? "auto";
  if (f !== "auto" && !PREFERENCE_FORMATS.includes(f as PreferenceFormat)) {
    throw new Error(`format must be auto, ${PREFERENCE_FORMATS.join(", ")} (got "${f}")`);
  }
  return f as PreferenceFormat | "auto";
}

/** The kind of a row under a forced format (`implicit` ignores any prompt column, as TRL's extract_prompt does). */
function forcedKind(row: RawRow, format: PreferenceFormat, opts: LoadOptions): RowKind {
  const detected = classifyRow(row, opts.columns);
  if (format === "implicit") return { format, conversational: detected.conversational || detected.format === "conversational", promptIgnored: detected.format !== "implicit" };
  if (detected.format !== format) {
    throw new RowError(row.source, null, `row is ${kindName(detected)} but the format asked for is ${format}`);
  }
  return detected;
}

/** The kind of a row under the requested format: classifyRow's, or forcedKind's. */
function rowKind(row: RawRow, format: PreferenceFormat | "auto", opts: LoadOptions): RowKind {
  return format === "auto" ? classifyRow(row, opts.columns) : forcedKind(row, format, opts);
}

/** A column batch's standard rows as their columns (row i: prompt[i], chosen[i], rejected[i]). */
interface StandardColumns {
  kind: RowKind;
  /** 1-based row in the file of the batch's first row. */
  firstRow: number;
  prompt: unknown[];
  chosen: unknown[];
  rejected: unknown[];
}

/**
 * The prompt, chosen and rejected columns of a column batch whose rows are all standard (as convertRow's common case
 * takes them), else null: the rows then go the general way, one RawRow each. A flat column's values are strings,
 * bytes or null, never missing nor message lists, so a row's kind depends only on which columns the batch has: every
 * row's is its first row's.
 */
function standardColumns(batch: ColumnBatch, format: PreferenceFormat | "auto", opts: LoadOptions): StandardColumns | null {
  if (batch.numRows === 0) return null;
  let kind: RowKind;
  try {
    kind = rowKind(columnBatchRow(batch, 0), format, opts);
  } catch {
    return null; // each row's own error, from the general way
  }
  if (kind.format !== "standard" || kind.conversational) return null;
  const name = (n: ColumnName) => opts.columns?.[n] ?? n;
  const prompt = batch.values.get(name("prompt")), chosen = batch.values.get(name("chosen")), rejected = batch.values.get(name("rejected"));
  return prompt && chosen && rejected ? { kind, firstRow: batch.firstRow, prompt, chosen, rejected } : null;
}

/**
 * Converts a batch's standard rows straight from its columns (standardRow), appending each row (null when invalid,
 * its error in `errors` under its index) and its kind, as loadPreferenceData's general loop does.
 */
function addStandardRows(
  standard: StandardColumns,
  file: string,
  columns: Partial<Record<ColumnName, string>>,
  converted: Array<PreferenceRow | null>,
  kinds: RowKind[],
  errors: Map<number, { error: unknown; source: RowSource }>,
): void {
  const { kind, firstRow, prompt, chosen, rejected } = standard;
  for (let i = 0; i < prompt.length; i++) {
    const source: RowSource = { file, line: firstRow + i, unit: "row" };
    try {
      converted.push(standardRow(prompt[i], chosen[i], rejected[i], source, columns, true));
    } catch (e) {
      errors.set(converted.length, { error: e, source });
      converted.push(null);
    }
    kinds.push(kind);
  }
}

/** Throws the error, or records the skipped row when skipInvalid. */
function handle(e: unknown, skipped: SkippedRow[], opts: LoadOptions): void {
  if (!(e instanceof RowError) || !opts.skipInvalid) throw e;
  skipped.push({ source: e.source, field: e.field, reason: e.reason });
}

/**
 * Reads, checks and converts all rows (see the file comment). Stops at the first invalid row with an error naming
 * file, line and field, unless `skipInvalid`.
 */
export async function loadPreferenceData(source: string | readonly string[], tokenizer: Tokenizer | null = null, opts: LoadOptions = {}): Promise<PreferenceData> {
  const format = checkFormat(opts.format);
  const files = await resolveDataFiles(source, opts);
  const renderer = tokenizer ?? chatmlRenderer();
  const skipped: SkippedRow[] = [];
  // One pass: each row is classified and converted as it is read (its raw object dies young, which spares the
  // garbage collector); the data set's kind is known only at the end, so a row of another kind is converted too and
  // reported then, as is a conversion error (after any read/classify error, which stops the load at once).
  const convertOptions = { columns: opts.columns, renderer };
  const columns = opts.columns ?? {};
  const converted: Array<PreferenceRow | null> = [];
  const kinds: RowKind[] = [];
  const errors = new Map<number, { error: unknown; source: RowSource }>();
  const counts = new Map<string, { kind: RowKind; n: number; first: RowSource }>();
  // rows of each kind, and the first of them
  const count = (kind: RowKind, n: number, first: RowSource) => {
    const c = counts.get(kindName(kind));
    if (c) c.n += n;
    else counts.set(kindName(kind), { kind, n, first });
  };
  let totalRows = 0;
  for (const file of files) {
    for await (const batch of readRawBatches(file, { columns: usedColumns(opts.columns) })) {
      // a Parquet row group of standard rows: each row built straight from the columns (no raw object per row)
      const standard = Array.isArray(batch) ? null : standardColumns(batch, format, opts);
      if (standard) {
        totalRows += standard.prompt.length;
        count(standard.kind, standard.prompt.length, { file, line: standard.firstRow, unit: "row" });
        addStandardRows(standard, file, columns, converted, kinds, errors);
        continue;
      }
      for (const item of Array.isArray(batch) ? batch : columnBatchRows(batch)) {
        totalRows++;
        let kind: RowKind;
        try {
          if (item instanceof RowError) throw item;
          kind = rowKind(item, format, opts);
        } catch (e) {
          handle(e, skipped, opts);
          continue;
        }
        count(kind, 1, item.source);
        try {
          converted.push(convertRow(item, kind, convertOptions));
        } catch (e) {
          errors.set(converted.length, { error: e, source: item.source });
          converted.push(null);
        }
        kinds.push(kind);
      }
    }
  }
  if (totalRows === 0) throw new Error(`${files.join(", ")}: no rows`);
  if (converted.length === 0) throw new Error(`${files.join(", ")}: no valid rows (${skipped.length} skipped; first: ${formatSource(skipped[0].source)}: ${skipped[0].reason})`);
  // the data set's kind: the most common one (ties: the first seen)
  const major = [...counts.values()].reduce((a, b) => (b.n > a.n ? b : a));
  const majorName = kindName(major.kind);
  const rows: PreferenceRow[] = [];
  let promptIgnored = 0;
  for (let i = 0; i < converted.length; i++) {
    const kind = kinds[i];
    const row = converted[i];
    try {
      if (counts.size > 1 && kindName(kind) !== majorName) {
        throw new RowError(row?.source ?? errors.get(i)!.source, null, `row is ${kindName(kind)} but the data set is ${majorName} (${major.n} of ${converted.length} rows, first at ${formatSource(major.first)}); one data set has one format`);
      }
      if (row === null) throw errors.get(i)!.error;
      rows.push(row);
      if (kind.promptIgnored) promptIgnored++;
    } catch (e) {
      handle(e, skipped, opts);
    }
  }
  skipped.sort((a, b) => files.indexOf(a.source.file) - files.indexOf(b.source.file) || a.source.line - b.source.line);
  return {
    rows, format: major.kind.format, conversational: major.kind.conversational, files, totalRows, skipped, promptIgnored,
    templateFrom: tokenizer ? "tokenizer" : "chatml",
  };
}

/** The rows of {@link loadPreferenceData}; with skipInvalid, skipped rows are listed on stderr. */
export async function loadPreferenceDataset(source: string | readonly string[], tokenizer: Tokenizer | null = null, opts: LoadOptions = {}): Promise<PreferenceRow[]> {
  const data = await loadPreferenceData(source, tokenizer, opts);
  if (data.skipped.length) {
    console.warn(`${data.files.join(", ")}: ${data.skipped.length} invalid row(s) skipped:\n` + data.skipped.map((s) => `  ${formatSource(s.source)}: ${s.field === null ? "" : `field "${s.field}" `}${s.reason}`).join("\n"));
  }
  return data.rows;
}

/**
 * Rows as a stream, for data sets too big to hold: memory stays flat in the file size. The format is `format`, or
 * (auto) the first valid row's; a row in another format is an error. With skipInvalid each skipped row goes to
 * `onSkip` (default: one line on stderr), never silently.
 */
export async function* streamPreferenceRows(
  source: string | readonly string[],
  tokenizer: Tokenizer | null = null,
  opts: LoadOptions & { onSkip?: (s: SkippedRow) => void } = {},
): AsyncGenerator<PreferenceRow> {
  const format = checkFormat(opts.format);
  const files = await resolveDataFiles(source, opts);
  const renderer = tokenizer ?? chatmlRenderer();
  let first: { kind: RowKind; source: RowSource } | null = null;
  const skipped: SkippedRow[] = [];
  // an invalid row: thrown, or with skipInvalid passed to onSkip (default: one line on stderr)
  const skip = (e: unknown) => {
    handle(e, skipped, opts);
    const s = skipped.pop()!;
    if (opts.onSkip) opts.onSkip(s);
    else console.warn(`${formatSource(s.source)}: skipped: ${s.field === null ? "" : `field "${s.field}" `}${s.reason}`);
  };
  const columns = opts.columns ?? {};
  for (const file of files) {
    for await (const batch of readRawBatches(file, { columns: usedColumns(opts.columns) })) {
      // a Parquet row group of standard rows (the stream's kind): each row built straight from the columns
      const standard = Array.isArray(batch) ? null : standardColumns(batch, format, opts);
      if (standard && (first === null || kindName(first.kind) === kindName(standard.kind))) {
        first ??= { kind: standard.kind, source: { file, line: standard.firstRow, unit: "row" } };
        const { firstRow, prompt, chosen, rejected } = standard;
        for (let i = 0; i < prompt.length; i++) {
          let row: PreferenceRow;
          try {
            row = standardRow(prompt[i], chosen[i], rejected[i], { file, line: firstRow + i, unit: "row" }, columns, true);
          } catch (e) {
            skip(e);
            continue;
          }
          yield row;
        }
        continue;
      }
      for (const item of Array.isArray(batch) ? batch : columnBatchRows(batch)) {
        try {
          if (item instanceof RowError) throw item;
          const kind = rowKind(item, format, opts);
          first ??= { kind, source: item.source };
          if (kindName(kind) !== kindName(first.kind)) {
            throw new RowError(item.source, null, `row is ${kindName(kind)} but the data set is ${kindName(first.kind)} (from its first row, ${formatSource(first.source)})`);
          }
          yield convertRow(item, kind, { columns: opts.columns, renderer });
        } catch (e) {
          skip(e);
        }
      }
    }
  }
}

/** Which format a file's rows are in (the most common over all rows). */
export async function detectPreferenceFormat(source: string | readonly string[]): Promise<PreferenceFormat> {
  return (await loadPreferenceData(source, null, { skipInvalid: true })).format;
}
