/**
 * Data-file readers: JSON Lines, JSON (an array or {"data": [...]}), CSV (RFC 4180) and Parquet (as the Hugging Face
 * Hub stores it: snappy/zstd/gzip pages, nested list<struct> columns, read with hyparquet), each optionally gzipped
 * (`.jsonl.gz`, `.csv.gz`, ...). Every reader yields raw objects with where they came from: the 1-based line as the
 * file shows it (for a CSV record or JSON element: the line it starts on), or the 1-based row for Parquet.
 *
 * Memory stays flat in the file size for JSONL and CSV (read as a byte stream, one line at a time) and for Parquet
 * (one row group at a time; the next group's bytes are read while this one is decoded). A JSON document is parsed
 * whole (JSON has no row boundaries to stream by). A Parquet row group of flat columns (parquet.ts) comes out of
 * {@link readRawBatches} as its decoded columns (a ColumnBatch), from which the loader builds rows without a raw
 * object per row; {@link readRawRows} gives its rows as RawRows like any other reader's.
 *
 * Text is decoded strictly (utf8.ts: validated natively, then transcoded): invalid bytes are an error naming the line,
 * never U+FFFD. Decoding is done in bulk (a JSONL block of ~1 MB, a Parquet page's string values) and each row's strings
 * are slices of that one decoded string (JSONL; Parquet: its ASCII values, or all of a page of mostly non-ASCII
 * values): V8 keeps a slice as a reference, so the garbage collector moves a few
 * large strings instead of copying every row's text (most of a whole-file load's time was that copying). A slice
 * keeps its block alive: a caller that keeps a few rows of a streamed file keeps their blocks (~1 MB each).
 * Parquet values that are not valid UTF-8 stay bytes and are reported when their field is read (textField, rows.ts).
 */
import * as fs from "fs";
import * as path from "path";
import { isAscii } from "buffer";
import * as zlib from "zlib";
import { decodeUtf8Block } from "./utf8";
import { chunkRange, FlatColumn, FlatColumnDecoder, planFlatColumns, UnsupportedParquet } from "./parquet";

/** Where a row came from: the file and its 1-based line (text files) or row (Parquet, `unit: "row"`). */
export interface RowSource {
  file: string;
  line: number;
  unit?: "row";
}

/** `prefs.jsonl:12` for a line, `train.parquet: row 12` for a Parquet row. */
export function formatSource(s: RowSource): string {
  return s.unit === "row" ? `${s.file}: row ${s.line}` : `${s.file}:${s.line}`;
}

/** One object read from a file, before any validation. Parquet string values may be `Uint8Array` (undecoded). */
export interface RawRow {
  value: Record<string, unknown>;
  source: RowSource;
  /** All of the file's columns, when only some were read into `value` (Parquet, {@link ReadOptions.columns}). */
  columns?: readonly string[];
  /**
   * True when every string in `value` was decoded from valid UTF-8 and holds no JSON escape (a flat Parquet column,
   * a JSONL line without a backslash): such text cannot hold a lone surrogate, so textField (rows.ts) skips that scan.
   */
  wellFormed?: boolean;
}

/** What {@link readRawRows} reads. */
export interface ReadOptions {
  /** Parquet: read only these columns (those that exist; all when none does). Text files always give every field. */
  columns?: readonly string[];
}

/** A problem with one row: it can be skipped (skipInvalid) instead of stopping the load. */
export class RowError extends Error {
  constructor(readonly source: RowSource, readonly field: string | null, readonly reason: string) {
    super(`${formatSource(source)}: ${field === null ? "" : `field "${field}" `}${reason}`);
  }
}

/** A raw row, or a row that could not be read at all (invalid JSON line, invalid UTF-8, wrong CSV field count). */
export type RawItem = RawRow | RowError;

/** The file formats the readers understand (each optionally gzipped). */
export type FileKind = "jsonl" | "json" | "csv" | "parquet";

/** The reader for a file name: `.jsonl`/`.ndjson`, `.json`, `.csv`, `.parquet`, each optionally `.gz`. */
export function fileKind(file: string): { kind: FileKind; gzip: boolean } {
  let name = file.toLowerCase();
  const gzip = name.endsWith(".gz");
  if (gzip) name = name.slice(0, -3);
  if (name.endsWith(".jsonl") || name.endsWith(".ndjson")) return { kind: "jsonl", gzip };
  if (name.endsWith(".json")) return { kind: "json", gzip };
  if (name.endsWith(".csv")) return { kind: "csv", gzip };
  if (name.endsWith(".parquet")) return { kind: "parquet", gzip };
  throw new Error(`${file}: unknown data file type (expected .jsonl, .ndjson, .json, .csv or .parquet, optionally .gz)`);
}

/** Throws unless `file` is a readable regular file (naming the path when it is missing or a directory). */
export function checkDataFile(file: string): void {
  if (!fs.existsSync(file)) throw new Error(`${file}: file not found`);
  if (fs.statSync(file).isDirectory()) {
    const inside = fs.readdirSync(file).filter((f) => { try { fileKind(f); return true; } catch { return false; } });
    const hint = inside.length ? ` (data files in it: ${inside.slice(0, 5).join(", ")}${inside.length > 5 ? ", ..." : ""})` : "";
    throw new Error(`${file}: is a directory, not a data file; give a file${hint}`);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Byte offset of the first invalid UTF-8 sequence (for error messages), or -1. */
function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    const n = c < 0x80 ? 0 : c >= 0xc2 && c < 0xe0 ? 1 : c >= 0xe0 && c < 0xf0 ? 2 : c >= 0xf0 && c < 0xf5 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (i + k >= b.length || (b[i + k] & 0xc0) !== 0x80) return i;
    if ((c === 0xe0 && b[i + 1] < 0xa0) || (c === 0xed && b[i + 1] >= 0xa0) || (c === 0xf0 && b[i + 1] < 0x90) || (c === 0xf4 && b[i + 1] >= 0x90)) return i;
    i += n + 1;
  }
  return -1;
}

/** Decodes UTF-8 strictly. Throws `invalid UTF-8 at byte N` (N 1-based within the line or field). */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new Error(`invalid UTF-8 at byte ${firstInvalidUtf8(bytes) + 1}`);
  }
}

/** Splits byte chunks into lines at "\n" (a byte that never occurs inside a multi-byte UTF-8 sequence). */
class LineSplitter {
  private rest: Buffer[] = [];
  private lineNo = 0;
  *push(chunk: Buffer): Generator<{ line: number; bytes: Buffer }> {
    let start = 0;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, i);
      const bytes = this.rest.length ? Buffer.concat([...this.rest, piece]) : piece;
      this.rest = [];
      start = i + 1;
      yield { line: ++this.lineNo, bytes };
    }
    if (start < chunk.length) this.rest.push(chunk.subarray(start));
  }
  *end(): Generator<{ line: number; bytes: Buffer }> {
    if (this.rest.length) yield { line: ++this.lineNo, bytes: Buffer.concat(this.rest) };
    this.rest = [];
  }
}

/** A line's text without the "\r" of CRLF and (line 1) the byte-order mark. */
function lineText(bytes: Buffer, line: number): string {
  let text = decodeUtf8(bytes);
  if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text.endsWith("\r") ? text.slice(0, -1) : text;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** JSON Lines: one object per line, blank lines allowed. */
class JsonlParser {
  constructor(private readonly file: string) {}
  parse(line: number, bytes: Buffer): RawItem | null {
    const source = { file: this.file, line };
    let text: string;
    try {
      text = lineText(bytes, line);
    } catch (e) {
      return new RowError(source, null, (e as Error).message);
    }
    if (text.trim() === "") return null;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return new RowError(source, null, `invalid JSON at line ${line} (${(e as Error).message})`);
    }
    return isObject(value) ? { value, source } : new RowError(source, null, "expected a JSON object");
  }
}

/** Bytes of JSONL decoded at once: a block's text (over 128 kB) is a large-object or external string, never copied by the GC. */
const JSONL_BLOCK_BYTES = 1 << 20;

/** Shortest string V8 makes a slice of (SlicedString::kMinLength); shorter substrings are copies anyway. */
const MIN_SLICE = 13;

/**
 * Points the strings of `target` (JSON.parse of `text` from `pos`, a line without backslashes, so every '"' opens or
 * closes a string) at slices of `text`. A string is replaced only by an equal one, so the parsed value never changes;
 * the scanner follows JSON.parse's already-validated syntax, one value per call.
 */
class SliceScanner {
  constructor(private readonly text: string, public pos: number) {}

  private skipSpace(): void {
    let c = this.text.charCodeAt(this.pos);
    while (c === 32 || c === 9 || c === 13 || c === 10) c = this.text.charCodeAt(++this.pos);
  }

  /** Scans one value; returns it as a slice when it is a string (else undefined), replacing equal strings inside `target`. */
  value(target: unknown): string | undefined {
    const text = this.text;
    this.skipSpace();
    const c = text.charCodeAt(this.pos);
    if (c === 34) {
      const end = text.indexOf('"', this.pos + 1);
      const s = text.slice(this.pos + 1, end);
      this.pos = end + 1;
      return s;
    }
    if (c === 123 || c === 91) {
      const isObj = c === 123;
      const close = isObj ? 125 : 93;
      const container = (isObj ? isObject(target) : Array.isArray(target)) ? (target as Record<string, unknown>) : null;
      this.pos++;
      this.skipSpace();
      if (text.charCodeAt(this.pos) === close) return void this.pos++;
      for (let index = 0; ; index++) {
        let key: string = String(index);
        if (isObj) {
          this.skipSpace();
          const end = text.indexOf('"', this.pos + 1);
          key = text.slice(this.pos + 1, end);
          this.pos = end + 1;
          this.skipSpace();
          this.pos++; // ':'
        }
        const child = container && key !== "__proto__" ? container[key] : undefined;
        const s = this.value(child);
        if (s !== undefined && s.length >= MIN_SLICE && child === s) container![key] = s;
        this.skipSpace();
        if (text.charCodeAt(this.pos++) === close) return undefined; // else ','
        if (this.pos >= text.length) return undefined;
      }
    }
    // number, true, false, null
    for (let d = c; this.pos < text.length && d !== 44 && d !== 93 && d !== 125 && d !== 32 && d !== 9 && d !== 13 && d !== 10; d = text.charCodeAt(++this.pos));
    return undefined;
  }
}

/** Characters JSON never allows raw inside a string (a "\r" is allowed only as part of a line end). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const RAW_CONTROL = /[\x00-\x09\x0b\x0c\x0e-\x1f]|\r(?!\n)/;

/**
 * `{"key": "value", ...}` at text[from, to), every value a string, no escapes and no control characters (the caller
 * checks both): the object with its values as slices of `text`, exactly as JSON.parse would give it (a repeated key
 * keeps its last value). Undefined for anything else (numbers, nesting, bad syntax), which JSON.parse then reads.
 */
function parseFlatObject(text: string, from: number, to: number): Record<string, string> | undefined {
  let p = from;
  const space = () => {
    for (let c = text.charCodeAt(p); c === 32 || c === 9; c = text.charCodeAt(++p));
  };
  space();
  if (text.charCodeAt(p++) !== 123) return undefined;
  const row: Record<string, string> = {};
  space();
  if (text.charCodeAt(p) === 125) {
    p++;
    space();
    return p === to ? row : undefined;
  }
  for (;;) {
    space();
    if (text.charCodeAt(p) !== 34) return undefined;
    const keyEnd = text.indexOf('"', p + 1);
    if (keyEnd < 0 || keyEnd >= to) return undefined;
    const key = text.slice(p + 1, keyEnd);
    if (key === "__proto__") return undefined; // JSON.parse makes it an own property; an assignment would not
    p = keyEnd + 1;
    space();
    if (text.charCodeAt(p++) !== 58) return undefined;
    space();
    if (text.charCodeAt(p) !== 34) return undefined;
    const valueEnd = text.indexOf('"', p + 1);
    if (valueEnd < 0 || valueEnd >= to) return undefined;
    row[key] = text.slice(p + 1, valueEnd);
    p = valueEnd + 1;
    space();
    const c = text.charCodeAt(p++);
    if (c === 125) {
      space();
      return p === to ? row : undefined;
    }
    if (c !== 44) return undefined;
  }
}

/**
 * JSON Lines read a block at a time: the bytes up to a chunk's last "\n" become one string (pure ASCII, checked
 * natively: copied as Latin-1; else one fatal TextDecoder call) split into lines as text; a block with invalid UTF-8
 * is read again line by line (JsonlParser) to name the line. The line crossing two chunks is decoded on its own.
 * Flat rows of plain strings are parsed in place (parseFlatObject), others by JSON.parse with their strings then
 * pointed at the block (SliceScanner), in ASCII and non-ASCII blocks alike.
 */
class JsonlReader {
  private rest: Buffer[] = [];
  private lineNo = 0;
  private readonly byLine: JsonlParser;
  constructor(private readonly file: string) {
    this.byLine = new JsonlParser(file);
  }

  /** The rows completed by one more chunk of bytes. */
  *push(chunk: Buffer): Generator<RawItem> {
    let start = 0;
    if (this.rest.length) {
      const nl = chunk.indexOf(10);
      if (nl < 0) return void this.rest.push(chunk);
      const crossing = Buffer.concat([...this.rest, chunk.subarray(0, nl + 1)]);
      this.rest = [];
      yield* this.block(crossing);
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(10);
    if (last >= start) {
      yield* this.block(chunk.subarray(start, last + 1));
      start = last + 1;
    }
    if (start < chunk.length) this.rest.push(chunk.subarray(start));
  }

  /** The last line, when the file does not end with "\n". */
  *end(): Generator<RawItem> {
    if (this.rest.length) yield* this.block(Buffer.concat(this.rest));
    this.rest = [];
  }

  private *block(bytes: Buffer): Generator<RawItem> {
    // pure ASCII (checked natively) is its own Latin-1 text: a byte-for-byte copy; else a strict native decode
    const text = decodeUtf8Block(bytes);
    if (text === null) {
      for (let s = 0; s < bytes.length; ) {
        let nl = bytes.indexOf(10, s);
        if (nl < 0) nl = bytes.length;
        const item = this.byLine.parse(++this.lineNo, bytes.subarray(s, nl));
        if (item) yield item;
        s = nl + 1;
      }
      return;
    }
    // flat rows of plain strings are parsed here when the block has no control characters (JSON forbids them raw
    // in strings) and the line no backslash (no escapes); anything else goes to JSON.parse. Non-ASCII text too: the
    // strict decoder gave well-formed text (no lone surrogates), and '"', '\\' and ':' are never part of another
    // character, so the scan reads it as JSON.parse does
    const flat = !RAW_CONTROL.test(text);
    let backslash = flat ? text.indexOf("\\") : -1;
    for (let s = 0; s < text.length; ) {
      let nl = text.indexOf("\n", s);
      if (nl < 0) nl = text.length;
      const line = ++this.lineNo;
      let from = s, to = nl;
      if (line === 1 && text.charCodeAt(from) === 0xfeff) from++;
      if (to > from && text.charCodeAt(to - 1) === 13) to--;
      s = nl + 1;
      const source = { file: this.file, line };
      if (flat) {
        if (backslash >= 0 && backslash < from) backslash = text.indexOf("\\", from);
        const row = backslash < 0 || backslash >= to ? parseFlatObject(text, from, to) : undefined;
        if (row !== undefined) {
          yield { value: row, source, wellFormed: true };
          continue;
        }
      }
      const lineText = text.slice(from, to);
      if (lineText.charCodeAt(0) !== 123 && lineText.trim() === "") continue; // blank line ('{' opens every row)
      let value: unknown;
      try {
        value = JSON.parse(lineText);
      } catch (e) {
        yield new RowError(source, null, `invalid JSON at line ${line} (${(e as Error).message})`);
        continue;
      }
      if (!isObject(value)) {
        yield new RowError(source, null, "expected a JSON object");
        continue;
      }
      // without a backslash no string holds an escape (so no lone surrogate): its text is the strictly decoded block's
      const unescaped = lineText.indexOf("\\") < 0;
      if (unescaped) new SliceScanner(text, from).value(value);
      yield { value, source, wellFormed: unescaped };
    }
  }
}

/** RFC 4180 CSV: a header record, then records; quoted fields may hold commas, quotes ("") and newlines. */
class CsvParser {
  private header: string[] | null = null;
  private fields: string[] = [];
  private field = "";
  private inQuotes = false;
  private afterQuote = false;
  private startLine = 0;
  private error: string | null = null;
  constructor(private readonly file: string) {}

  parse(line: number, bytes: Buffer): RawItem | null {
    let text: string;
    try {
      text = decodeUtf8(bytes);
      if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    } catch (e) {
      this.reset();
      return new RowError({ file: this.file, line }, null, (e as Error).message);
    }
    if (!this.inQuotes) {
      this.startLine = line;
      if (text.trim() === "" && this.fields.length === 0 && this.field === "") return null; // blank line
    }
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (this.inQuotes) {
        if (c !== '"') this.field += c;
        else if (text[i + 1] === '"') (this.field += '"'), i++;
        else (this.inQuotes = false), (this.afterQuote = true);
      } else if (c === ",") {
        this.fields.push(this.field), (this.field = ""), (this.afterQuote = false);
      } else if (c === '"' && this.field === "" && !this.afterQuote) {
        this.inQuotes = true;
      } else if (c === "\r" && i === text.length - 1) {
        // CRLF line end
      } else if (this.afterQuote) {
        this.error ??= `unexpected character ${JSON.stringify(c)} after a closing quote (RFC 4180: a quoted field ends at the quote)`;
      } else {
        this.field += c;
      }
    }
    if (this.inQuotes) {
      this.field += "\n"; // the record continues on the next line
      return null;
    }
    this.fields.push(this.field);
    const fields = this.fields, source = { file: this.file, line: this.startLine }, error = this.error;
    this.reset();
    if (error) return new RowError(source, null, error);
    if (this.header === null) {
      const dup = fields.find((f, i) => fields.indexOf(f) !== i);
      if (dup !== undefined) throw new Error(`${formatSource(source)}: CSV header names column "${dup}" twice`);
      this.header = fields;
      return null;
    }
    if (fields.length !== this.header.length) {
      return new RowError(source, null, `CSV record has ${fields.length} fields, the header has ${this.header.length} (${this.header.join(", ")})`);
    }
    const value: Record<string, unknown> = {};
    this.header.forEach((name, i) => (value[name] = fields[i]));
    return { value, source };
  }
  end(): void {
    if (this.inQuotes) throw new Error(`${this.file}:${this.startLine}: quoted CSV field is never closed (a '"' is missing)`);
  }
  private reset(): void {
    this.fields = [];
    this.field = "";
    this.inQuotes = false;
    this.afterQuote = false;
    this.error = null;
  }
}

/** CSV: the rows completed by one more chunk of bytes, or (chunk null) at the end. */
function* feedCsv(splitter: LineSplitter, parser: CsvParser, chunk: Buffer | null): Generator<RawItem> {
  for (const { line, bytes } of chunk === null ? splitter.end() : splitter.push(chunk)) {
    const item = parser.parse(line, bytes);
    if (item) yield item;
  }
  if (chunk === null) parser.end();
}

/**
 * The 1-based line of each element of the JSON array at `key` (or of the top-level array when `key` is null): a
 * scan that skips strings and tracks nesting, so that rows of a `.json` file are named by the line they start on.
 */
function jsonElementLines(text: string, key: string | null): number[] {
  const lines: number[] = [];
  let depth = 0, line = 1, target = -1, want = false, done = false;
  let lastString: string | null = null, currentKey: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") { line++; continue; }
    if (c === " " || c === "\t" || c === "\r") continue;
    if (want) { if (c !== "]") lines.push(line); want = false; }
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      lastString = text.slice(i + 1, j);
      i = j;
    } else if (c === ":") {
      if (depth === 1) currentKey = lastString;
    } else if (c === "[" || c === "{") {
      depth++;
      const isTarget = key === null ? depth === 1 : depth === 2 && currentKey === key;
      if (c === "[" && !done && isTarget) (target = depth), (want = true);
    } else if (c === "]" || c === "}") {
      if (depth === target) (done = true), (target = -1);
      depth--;
    } else if (c === ",") {
      if (depth === target) want = true;
      if (depth === 1) currentKey = null;
    }
  }
  return lines;
}

/** A JSON document: an array of objects, or an object whose "data" member is one (the Hub's JSON layout). */
function* parseJsonDocument(file: string, bytes: Buffer): Generator<RawItem> {
  let text: string;
  try {
    text = decodeUtf8(bytes);
  } catch (e) {
    const at = firstInvalidUtf8(bytes);
    const line = bytes.subarray(0, at).toString("latin1").split("\n").length;
    throw new Error(`${file}:${line}: ${(e as Error).message} of the file`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
  let rows: unknown[], key: string | null = null;
  if (Array.isArray(data)) rows = data;
  else if (isObject(data) && Array.isArray(data.data)) (rows = data.data), (key = "data");
  else throw new Error(`${file}: expected a JSON array of objects or an object {"data": [...]} (got ${isObject(data) ? `an object with keys ${Object.keys(data).join(", ")}` : typeof data})`);
  const lines = jsonElementLines(text, key);
  for (let i = 0; i < rows.length; i++) {
    const source = { file, line: lines[i] ?? 1 };
    const value = rows[i];
    yield isObject(value) ? { value, source } : new RowError(source, null, `row ${i + 1}: expected a JSON object`);
  }
}

function gunzipError(file: string, e: unknown): Error {
  return new Error(`${file}: not a valid gzip file (${(e as Error).message})`);
}

/** All raw rows of a JSONL, JSON or CSV file (optionally gzipped), read at once. Parquet needs {@link readRawRows}. */
export function readRawRowsSync(file: string): RawItem[] {
  checkDataFile(file);
  const { kind, gzip } = fileKind(file);
  if (kind === "parquet") throw new Error(`${file}: Parquet files are read asynchronously (use loadPreferenceDataset / readRawRows)`);
  let bytes = fs.readFileSync(file);
  if (gzip) {
    try { bytes = zlib.gunzipSync(bytes); } catch (e) { throw gunzipError(file, e); }
  }
  if (kind === "json") return [...parseJsonDocument(file, bytes)];
  if (kind === "csv") {
    const splitter = new LineSplitter(), parser = new CsvParser(file);
    return [...feedCsv(splitter, parser, bytes), ...feedCsv(splitter, parser, null)];
  }
  // JSONL a block at a time (a whole file's text could pass V8's string length limit)
  const reader = new JsonlReader(file), items: RawItem[] = [];
  for (let at = 0; at < bytes.length; at += JSONL_BLOCK_BYTES) for (const item of reader.push(bytes.subarray(at, at + JSONL_BLOCK_BYTES))) items.push(item);
  for (const item of reader.end()) items.push(item);
  return items;
}

/** Byte chunks of a file as a stream (gunzipped when `gzip`). */
async function* fileChunks(file: string, gzip: boolean): AsyncGenerator<Buffer> {
  const raw = fs.createReadStream(file, { highWaterMark: JSONL_BLOCK_BYTES });
  const stream = gzip ? raw.pipe(zlib.createGunzip()) : raw;
  if (gzip) raw.on("error", (e) => stream.destroy(e));
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (e) {
    throw gzip ? gunzipError(file, e) : e;
  }
}

/** hyparquet is an ES module: loaded once, on first use. */
let hyparquetModules: Promise<[typeof import("hyparquet"), typeof import("hyparquet-compressors")]> | null = null;
function loadHyparquet() {
  hyparquetModules ??= Promise.all([import("hyparquet"), import("hyparquet-compressors")]);
  return hyparquetModules;
}

/** A file as hyparquet's AsyncBuffer: byte ranges read on demand (so only the row group being read is in memory). */
async function fileBuffer(handle: fs.promises.FileHandle): Promise<import("hyparquet").AsyncBuffer> {
  const { size } = await handle.stat();
  return {
    byteLength: size,
    async slice(start: number, end = size) {
      // an unpooled buffer owns its whole ArrayBuffer: handed over as it is, no copy
      const out = Buffer.allocUnsafeSlow(end - start);
      for (let at = 0; at < out.length; ) {
        const { bytesRead } = await handle.read(out, at, out.length - at, start + at);
        if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${start + at} (the file is ${size} bytes)`);
        at += bytesRead;
      }
      return out.buffer as ArrayBuffer;
    },
  };
}

/** Parquet rows, one row group at a time (string values decoded in bulk, see decodeStrings). */
async function* parquetRows(file: string, gzip: boolean, columns: readonly string[] | undefined): AsyncGenerator<RawBatch> {
  const [hp, { compressors }] = await loadHyparquet();
  let buffer: import("hyparquet").AsyncBuffer;
  let handle: fs.promises.FileHandle | null = null;
  if (gzip) {
    let bytes: Buffer;
    try { bytes = zlib.gunzipSync(fs.readFileSync(file)); } catch (e) { throw gunzipError(file, e); }
    buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  } else {
    handle = await fs.promises.open(file, "r");
    buffer = await fileBuffer(handle);
  }
  try {
    yield* parquetGroups(hp, compressors, file, buffer, columns);
  } finally {
    await handle?.close();
  }
}

/**
 * hyparquet's `stringFromBytes` for one read: each string value comes as bytes, a view into its decompressed page.
 * The page (from its first string value on) is turned into one Latin-1 string once, byte for byte, so a pure-ASCII
 * value (checked natively) is a slice of it at its byte offset: no copy, no per-value decoder call. Other values
 * are decoded strictly one by one; one that is not valid UTF-8 stays bytes (textField names its row and field).
 */
function pageStringDecoder(): (bytes: Uint8Array) => string | Uint8Array {
  let page: ArrayBufferLike | null = null, base = 0, text = "";
  return (bytes) => {
    if (!bytes) return bytes;
    if (isAscii(bytes)) {
      if (bytes.buffer !== page || bytes.byteOffset < base) {
        page = bytes.buffer;
        base = bytes.byteOffset;
        text = Buffer.from(page, base, page.byteLength - base).toString("latin1");
      }
      const at = bytes.byteOffset - base;
      return text.slice(at, at + bytes.length);
    }
    try {
      return utf8.decode(bytes);
    } catch {
      return bytes;
    }
  };
}

/**
 * The rows of a Parquet row group read by the direct decoder (parquet.ts), kept as its columns: the loader builds its
 * rows straight from them (dataset.ts), without a raw object per row; {@link columnBatchRows} makes them RawRows.
 */
export interface ColumnBatch {
  file: string;
  /** 1-based row, in the file, of the batch's first row. */
  firstRow: number;
  numRows: number;
  /** Each decoded column by name: row i's value is at [i] (a string; bytes when binary or not valid UTF-8; null). */
  values: Map<string, unknown[]>;
  /** All of the file's columns, when only some were read (RawRow.columns). */
  columns?: readonly string[];
}

/** A batch of raw rows, or a Parquet row group as columns (see {@link readRawBatches}). */
export type RawBatch = RawItem[] | ColumnBatch;

/** Row `i` of a column batch as a RawRow (what any other reader gives); its strings all came from strict decoding. */
export function columnBatchRow(batch: ColumnBatch, i: number): RawRow {
  const value: Record<string, unknown> = {};
  for (const [name, column] of batch.values) value[name] = column[i];
  const source: RowSource = { file: batch.file, line: batch.firstRow + i, unit: "row" };
  return batch.columns ? { value, source, columns: batch.columns, wellFormed: true } : { value, source, wellFormed: true };
}

/** All rows of a column batch as RawRows. */
export function columnBatchRows(batch: ColumnBatch): RawRow[] {
  const rows: RawRow[] = new Array(batch.numRows);
  for (let i = 0; i < batch.numRows; i++) rows[i] = columnBatchRow(batch, i);
  return rows;
}

/** The bytes of one row group's planned column chunks, read from the file (each an own copy the decoder may change). */
function readChunks(buffer: import("hyparquet").AsyncBuffer, chunks: import("hyparquet").ColumnChunk[], plan: FlatColumn[]): Promise<Uint8Array[]> {
  return Promise.all(
    plan.map(async (column) => {
      const { start, end } = chunkRange(chunks[column.chunkIndex]);
      return new Uint8Array(await buffer.slice(start, end));
    }),
  );
}

/** One row group's flat columns, decoded (parquet.ts) from their chunks' bytes. */
function flatColumns(chunks: import("hyparquet").ColumnChunk[], bytes: Uint8Array[], plan: FlatColumn[], decoder: FlatColumnDecoder, numRows: number): Map<string, unknown[]> {
  const values = new Map<string, unknown[]>();
  plan.forEach((column, c) => values.set(column.name, decoder.decode(column, chunks[column.chunkIndex].meta_data!.codec, bytes[c], numRows)));
  return values;
}

async function* parquetGroups(
  hp: typeof import("hyparquet"),
  compressors: import("hyparquet").Compressors,
  file: string,
  buffer: import("hyparquet").AsyncBuffer,
  wanted: readonly string[] | undefined,
): AsyncGenerator<RawBatch> {
  let metadata: import("hyparquet").FileMetaData;
  try {
    metadata = await hp.parquetMetadataAsync(buffer);
  } catch (e) {
    throw new Error(`${file}: not a readable Parquet file (${(e as Error).message})`);
  }
  // only the wanted columns that exist are decoded; messages still list all of the file's columns
  const schema = hp.parquetSchema(metadata);
  const all = schema.children.map((c) => c.element.name);
  const columns = wanted ? all.filter((c) => wanted.includes(c)) : undefined;
  const readColumns = columns && columns.length ? columns : undefined;
  const partial = readColumns !== undefined && readColumns.length < all.length;
  // string values (UTF8/STRING columns; binary ones stay bytes, decoded by textField when read as text)
  const parsers = { stringFromBytes: pageStringDecoder() };
  // flat string columns (what preference data sets hold) are decoded directly (parquet.ts), anything else by hyparquet
  const plan = planFlatColumns(schema, metadata.row_groups, readColumns ?? all, compressors);
  const decoder = plan && new FlatColumnDecoder(compressors);
  // the next row group's chunks are read (file I/O, off the main thread) while this one is decoded; a read's error
  // is reported when its row group's turn comes (the no-op catch only keeps it from being an unhandled rejection)
  const prefetch = (g: number) => {
    if (!plan || g >= metadata.row_groups.length) return null;
    const read = readChunks(buffer, metadata.row_groups[g].columns, plan);
    read.catch(() => {});
    return read;
  };
  let next = prefetch(0);
  let start = 0;
  for (let g = 0; g < metadata.row_groups.length; g++) {
    const group = metadata.row_groups[g];
    const end = start + Number(group.num_rows);
    const read = next;
    next = prefetch(g + 1);
    let values: Map<string, unknown[]> | undefined;
    try {
      if (plan && decoder && read) values = flatColumns(group.columns, await read, plan, decoder, end - start);
    } catch (e) {
      if (!(e instanceof UnsupportedParquet)) throw new Error(`${file}: rows ${start + 1}-${end}: cannot decode Parquet row group (${(e as Error).message})`);
    }
    if (values) {
      yield partial ? { file, firstRow: start + 1, numRows: end - start, values, columns: all } : { file, firstRow: start + 1, numRows: end - start, values };
      start = end;
      continue;
    }
    let rows: Record<string, unknown>[];
    try {
      rows = await hp.parquetReadObjects({ file: buffer, metadata, rowStart: start, rowEnd: end, columns: readColumns, compressors, utf8: false, parsers });
    } catch (e) {
      throw new Error(`${file}: rows ${start + 1}-${end}: cannot decode Parquet row group (${(e as Error).message})`);
    }
    // hyparquet's rows may hold parsed JSON (escapes): not wellFormed
    const items: RawItem[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const source: RowSource = { file, line: start + i + 1, unit: "row" };
      items[i] = partial ? { value: rows[i], source, columns: all, wellFormed: false } : { value: rows[i], source, wellFormed: false };
    }
    yield items;
    start = end;
  }
}

/**
 * Raw rows of one data file as an async stream of batches (a JSONL/CSV chunk of ~1 MB, a Parquet row group, a whole
 * JSON document): what the loaders iterate, sparing an await per row. A Parquet row group of flat columns comes as a
 * {@link ColumnBatch}. See {@link readRawRows}.
 */
export async function* readRawBatches(file: string, opts: ReadOptions = {}): AsyncGenerator<RawBatch> {
  checkDataFile(file);
  const { kind, gzip } = fileKind(file);
  if (kind === "parquet") {
    yield* parquetRows(file, gzip, opts.columns);
  } else if (kind === "json") {
    const chunks: Buffer[] = [];
    for await (const c of fileChunks(file, gzip)) chunks.push(c);
    yield [...parseJsonDocument(file, Buffer.concat(chunks))];
  } else if (kind === "csv") {
    const splitter = new LineSplitter(), parser = new CsvParser(file);
    for await (const chunk of fileChunks(file, gzip)) yield [...feedCsv(splitter, parser, chunk)];
    yield [...feedCsv(splitter, parser, null)];
  } else {
    const reader = new JsonlReader(file);
    for await (const chunk of fileChunks(file, gzip)) yield [...reader.push(chunk)];
    yield [...reader.end()];
  }
}

/**
 * Raw rows of one data file as an async stream (see the file comment): a row that cannot be read comes as a
 * {@link RowError} (the caller stops or skips); a file that cannot be read at all throws.
 */
export async function* readRawRows(file: string, opts: ReadOptions = {}): AsyncGenerator<RawItem> {
  for await (const batch of readRawBatches(file, opts)) for (const item of Array.isArray(batch) ? batch : columnBatchRows(batch)) yield item;
}

/** Path for messages, relative when under the working directory. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
}
