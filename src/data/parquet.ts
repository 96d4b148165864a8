/**
 * A direct decoder for the Parquet columns preference data sets are made of: flat (required or optional) BYTE_ARRAY
 * columns, string or binary, PLAIN or dictionary encoded, in v1 or v2 data pages, uncompressed or in any codec
 * hyparquet-compressors has (snappy, zstd, gzip, brotli, lz4). What Hugging Face's and pyarrow's files of text columns
 * hold. It skips the general reader's per-value work (a Uint8Array view and a decoder call per value): a page's
 * values become one Latin-1 string in one call and each ASCII value is a slice of it (V8 keeps a slice as a reference,
 * no copy); other values are decoded strictly one by one, and one that is not valid UTF-8 stays bytes, as the general path leaves it, so textField (rows.ts) names its row and field.
 *
 * Anything else (nested or repeated columns, DELTA_* or BYTE_STREAM_SPLIT encodings, an unknown codec) is not this
 * file's: {@link planFlatColumns} says no, or {@link FlatColumnDecoder.decode} throws {@link UnsupportedParquet} for
 * the row group, and readers.ts reads it with hyparquet instead.
 *
 * Snappy stays hysnappy's wasm (what hyparquet-compressors runs), called in place (snappy.ts): a page is decompressed
 * into the module's memory and decoded from there, with no copy out. A pure-JS decoder into a reused buffer was tried
 * and measured ~20% slower per byte than the wasm even with its copies (about 60-90 ms more CPU on the 100k-row
 * benchmark file).
 */
import type { ColumnChunk, Compressors, SchemaTree } from "hyparquet";
import { isAscii } from "buffer";
import { InPlaceSnappy } from "./snappy";
import { decodeUtf8Block } from "./utf8";

/** A page or column this decoder does not handle: the caller reads the row group with the general reader. */
export class UnsupportedParquet extends Error {}

/** One column as this decoder reads it. */
export interface FlatColumn {
  /** Column name (top-level field). */
  name: string;
  /** Index of the column's chunk within each row group. */
  chunkIndex: number;
  /** 1 when the column is OPTIONAL (a definition level per row says null or not), else 0. */
  maxDefinition: 0 | 1;
  /** UTF8/STRING annotated: values decode to strings; else they stay bytes. */
  isString: boolean;
}

const FLAT_ENCODINGS = new Set(["PLAIN", "PLAIN_DICTIONARY", "RLE_DICTIONARY", "RLE", "BIT_PACKED"]);

/**
 * The columns `names` as {@link FlatColumn}s when every one is a flat BYTE_ARRAY column this decoder reads in every
 * row group (encodings and codec checked in the metadata), else null (the caller uses the general reader).
 */
export function planFlatColumns(schema: SchemaTree, rowGroups: { columns: ColumnChunk[] }[], names: readonly string[], compressors: Compressors): FlatColumn[] | null {
  const plan: FlatColumn[] = [];
  for (const name of names) {
    const node = schema.children.find((c) => c.element.name === name);
    if (!node || node.children.length || node.element.type !== "BYTE_ARRAY" || node.element.repetition_type === "REPEATED") return null;
    const logical = node.element.logical_type?.type;
    const isString = node.element.converted_type === "UTF8" || logical === "STRING";
    const chunkIndex = rowGroups.length ? rowGroups[0].columns.findIndex((c) => c.meta_data?.path_in_schema.join(".") === name) : 0;
    if (chunkIndex < 0) return null;
    for (const group of rowGroups) {
      const meta = group.columns[chunkIndex]?.meta_data;
      if (!meta || meta.path_in_schema.length !== 1 || meta.path_in_schema[0] !== name || group.columns[chunkIndex].file_path) return null;
      if (meta.codec !== "UNCOMPRESSED" && !compressors[meta.codec]) return null;
      if (!meta.encodings.every((e) => FLAT_ENCODINGS.has(e))) return null;
    }
    plan.push({ name, chunkIndex, maxDefinition: node.element.repetition_type === "OPTIONAL" ? 1 : 0, isString });
  }
  return plan;
}

/** The byte range of a column chunk in the file (from its dictionary page when it has one). */
export function chunkRange(chunk: ColumnChunk): { start: number; end: number } {
  const meta = chunk.meta_data!;
  const data = Number(meta.data_page_offset);
  const dict = meta.dictionary_page_offset === undefined ? 0 : Number(meta.dictionary_page_offset);
  const start = dict > 0 && dict < data ? dict : data;
  return { start, end: start + Number(meta.total_compressed_size) };
}

// ---------------------------------------------------------------------------------------------------------------
// Thrift compact protocol: just enough to read page headers (a struct becomes {fieldId: value}).

type Thrift = number | boolean | Uint8Array | Thrift[] | ThriftStruct;
interface ThriftStruct {
  [field: number]: Thrift;
}

class ThriftReader {
  constructor(readonly bytes: Uint8Array, public pos: number) {}

  private byte(): number {
    if (this.pos >= this.bytes.length) throw new Error("page header runs past the column chunk");
    return this.bytes[this.pos++];
  }

  private varint(): number {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      const b = this.byte();
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
    throw new Error("page header varint too long");
  }

  private zigzag(): number {
    const v = this.varint();
    return v % 2 ? -(v + 1) / 2 : v / 2;
  }

  private element(type: number): Thrift {
    switch (type) {
      case 1:
        return true;
      case 2:
        return false;
      case 3:
        return this.byte();
      case 4:
      case 5:
      case 6:
        return this.zigzag();
      case 7:
        this.pos += 8;
        return 0;
      case 8: {
        const n = this.varint();
        if (this.pos + n > this.bytes.length) throw new Error("page header runs past the column chunk");
        this.pos += n;
        return this.bytes.subarray(this.pos - n, this.pos);
      }
      case 9:
      case 10: {
        const head = this.byte();
        const size = head >> 4 === 15 ? this.varint() : head >> 4;
        const items: Thrift[] = [];
        const type = head & 15;
        // booleans in a list are one byte each (1 true, else false), not folded into a field header
        for (let i = 0; i < size; i++) items.push(type === 1 || type === 2 ? this.byte() === 1 : this.element(type));
        return items;
      }
      case 12:
        return this.struct();
      default:
        throw new UnsupportedParquet(`page header holds thrift type ${type}`);
    }
  }

  struct(): ThriftStruct {
    const out: ThriftStruct = {};
    for (let field = 0; ; ) {
      const head = this.byte();
      const type = head & 15;
      if (type === 0) return out;
      field = head >> 4 ? field + (head >> 4) : this.zigzag();
      out[field] = this.element(type);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Levels and dictionary indices: the RLE / bit-packed hybrid encoding.

/** Decodes `count` values of `bitWidth` bits from the hybrid encoding at bytes[pos, end) into out[0, count). */
function readHybrid(bytes: Uint8Array, pos: number, end: number, bitWidth: number, count: number, out: Int32Array): void {
  const byteWidth = (bitWidth + 7) >> 3;
  const modulus = 2 ** bitWidth;
  let n = 0;
  while (n < count) {
    if (pos >= end) throw new Error(`RLE/bit-packed data ends after ${n} of ${count} values`);
    let header = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[pos++];
      header += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
      if (pos >= end) throw new Error("RLE/bit-packed run header runs past the data");
    }
    if (header % 2 === 0) {
      // RLE run: one value repeated
      const run = header / 2;
      let value = 0;
      for (let k = 0; k < byteWidth; k++) value |= bytes[pos + k] << (8 * k);
      pos += byteWidth;
      for (let k = 0; k < run && n < count; k++) out[n++] = value;
    } else {
      // bit-packed groups of 8 values, least significant bit first
      const values = ((header - 1) / 2) * 8;
      let buffer = 0, bits = 0;
      if (bitWidth <= 24) {
        // at most 23 + 8 bits are pending: they fit a 32-bit integer
        const mask = modulus - 1;
        for (let k = 0; k < values; k++) {
          while (bits < bitWidth) {
            buffer = (buffer | ((pos < end ? bytes[pos] : 0) << bits)) >>> 0;
            pos++;
            bits += 8;
          }
          if (n < count) out[n++] = buffer & mask;
          buffer >>>= bitWidth;
          bits -= bitWidth;
        }
      } else {
        for (let k = 0; k < values; k++) {
          while (bits < bitWidth) {
            buffer += (pos < end ? bytes[pos] : 0) * 2 ** bits;
            pos++;
            bits += 8;
          }
          if (n < count) out[n++] = buffer % modulus;
          buffer = Math.floor(buffer / modulus);
          bits -= bitWidth;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Values.

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** True when bytes[from, to) are all below 0x80. */
function asciiRange(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] & 0x80) return false;
  return true;
}

/** UTF-16 code units of the valid UTF-8 bytes[from, to): one per sequence, two for a 4-byte one. */
function utf16Length(bytes: Uint8Array, from: number, to: number): number {
  let units = 0;
  for (let i = from; i < to; i++) {
    const b = bytes[i];
    if ((b & 0xc0) !== 0x80) units += b >= 0xf0 ? 2 : 1;
  }
  return units;
}

/**
 * Splits `text`, a region's values each after its zeroed length word (four U+0000), into out[at + i] (or
 * out[targets[i]]): each value runs from its word to the next NUL. True when that reads exactly `count` values to
 * the end of `text`; then the text holds exactly 4 * count NULs, all in length words, so every value is what the
 * byte lengths say. False when a value holds a NUL itself (out is then partly written: the caller writes it again).
 */
function splitAtLengthWords(text: string, count: number, out: unknown[], at: number, targets?: Int32Array): boolean {
  let pos = 0;
  for (let i = 0; i < count; i++) {
    // past the end charCodeAt is NaN: not a length word
    if (text.charCodeAt(pos) !== 0 || text.charCodeAt(pos + 1) !== 0 || text.charCodeAt(pos + 2) !== 0 || text.charCodeAt(pos + 3) !== 0) return false;
    pos += 4;
    let next = text.indexOf("\0", pos);
    if (next < 0) next = text.length;
    out[targets ? targets[i] : at + i] = text.slice(pos, next);
    pos = next;
  }
  return pos === text.length;
}

/**
 * String values of a region that is not pure ASCII (its length words zeroed, see readPlain). Each value is checked
 * (short ones here, long ones natively). When most are non-ASCII and the region is valid UTF-8, it is decoded in one
 * native call (utf8.ts) and each value is a slice, found at the NULs of the length words (or, when a value holds a
 * NUL, by counting UTF-16 units). Otherwise each ASCII value is a slice of the region's Latin-1 text (made once, on
 * first need) and the others are decoded one by one; a value that is not valid UTF-8 stays bytes (a copy) for
 * textField to report.
 */
function decodeMixed(bytes: Uint8Array, base: number, end: number, starts: Int32Array, lengths: Int32Array, ascii: Uint8Array, count: number, out: unknown[], at: number, targets?: Int32Array): void {
  let nonAscii = 0;
  for (let i = 0; i < count; i++) {
    const start = starts[i], length = lengths[i];
    const isAsciiValue = length < 64 ? asciiRange(bytes, start, start + length) : isAscii(bytes.subarray(start, start + length));
    ascii[i] = isAsciiValue ? 1 : 0;
    if (!isAsciiValue) nonAscii++;
  }
  if (nonAscii * 2 > count) {
    // null: invalid UTF-8 somewhere: value by value below, to keep the valid ones
    const text = decodeUtf8Block(bytes.subarray(base, end));
    if (text !== null && splitAtLengthWords(text, count, out, at, targets)) return;
    if (text !== null) {
      for (let i = 0, unit = 0; i < count; i++) {
        const start = starts[i], units = ascii[i] ? lengths[i] : utf16Length(bytes, start, start + lengths[i]);
        unit += 4; // the zeroed length word: four NULs
        out[targets ? targets[i] : at + i] = text.slice(unit, unit + units);
        unit += units;
      }
      return;
    }
  }
  let latin1: string | null = null;
  for (let i = 0; i < count; i++) {
    const start = starts[i], length = lengths[i];
    const index = targets ? targets[i] : at + i;
    if (ascii[i]) {
      latin1 ??= Buffer.from(bytes.buffer, bytes.byteOffset + base, end - base).toString("latin1");
      out[index] = latin1.slice(start - base, start - base + length);
      continue;
    }
    const valueBytes = bytes.subarray(start, start + length);
    try {
      out[index] = utf8.decode(valueBytes);
    } catch {
      out[index] = valueBytes.slice();
    }
  }
}

/** Reads flat byte-array column chunks; holds the reused buffers. */
export class FlatColumnDecoder {
  private levels = new Int32Array(0);
  private indices = new Int32Array(0);
  private positions = new Int32Array(0);
  private starts = new Int32Array(0);
  private lengths = new Int32Array(0);

  /** Snappy pages are decompressed into this instance's memory (snappy.ts); null: hyparquet-compressors' copies. */
  private readonly snappy = InPlaceSnappy.create();

  constructor(private readonly compressors: Compressors) {}

  /**
   * A page's bytes, writable and this decoder's own until the next call (a snappy page is a view of the wasm memory
   * the next page overwrites): every value is made a string or copied out before the next page is decompressed.
   */
  private decompress(codec: string, input: Uint8Array, size: number): Uint8Array {
    if (codec === "UNCOMPRESSED") {
      if (input.length !== size) throw new Error(`uncompressed page of ${input.length} bytes, the header says ${size}`);
      return input;
    }
    if (codec === "SNAPPY" && this.snappy) return this.snappy.decompress(input, size);
    const decompress = this.compressors[codec as keyof Compressors];
    if (!decompress) throw new UnsupportedParquet(`codec ${codec}`);
    const out = decompress(input, size);
    if (out.length !== size) throw new Error(`${codec} page decompressed to ${out.length} bytes, the header says ${size}`);
    return out;
  }

  /**
   * `count` PLAIN byte-array values at bytes[pos, end) (each a 4-byte little-endian length, then the bytes) into
   * out[at, at + count) (or out[targets[i]]): strings for string columns, copies of the bytes otherwise.
   *
   * Strings: the length words are zeroed first (`bytes` is always this decoder's own copy: a decompressed page or a
   * chunk read from the file), so one native check says whether the whole region is ASCII; then it is one Latin-1
   * string and every value a slice. Else see decodeMixed: one TextDecoder call when most values are non-ASCII, value
   * by value when few are (one call for the region made every value a two-byte string: twice the memory, and ~25%
   * more CPU on a file where each prompt had one non-ASCII character).
   */
  private readPlain(bytes: Uint8Array, pos: number, end: number, count: number, isString: boolean, out: unknown[], at: number, targets?: Int32Array): void {
    const starts = this.ints("starts", count), lengths = this.ints("lengths", count);
    const base = pos;
    for (let i = 0; i < count; i++) {
      if (pos + 4 > end) throw new Error(`PLAIN value ${i + 1} of ${count} runs past its page`);
      const length = bytes[pos] | (bytes[pos + 1] << 8) | (bytes[pos + 2] << 16) | (bytes[pos + 3] << 24);
      if (length < 0 || pos + 4 + length > end) throw new Error(`PLAIN value ${i + 1} of ${count} (${length} bytes) runs past its page`);
      if (isString) bytes[pos] = bytes[pos + 1] = bytes[pos + 2] = bytes[pos + 3] = 0;
      starts[i] = pos + 4;
      lengths[i] = length;
      pos += 4 + length;
    }
    if (!isString) {
      for (let i = 0; i < count; i++) out[targets ? targets[i] : at + i] = bytes.slice(starts[i], starts[i] + lengths[i]);
      return;
    }
    const region = bytes.subarray(base, pos);
    if (isAscii(region)) {
      const text = Buffer.from(region.buffer, region.byteOffset, region.length).toString("latin1");
      for (let i = 0; i < count; i++) out[targets ? targets[i] : at + i] = text.slice(starts[i] - base, starts[i] - base + lengths[i]);
      return;
    }
    decodeMixed(bytes, base, pos, starts, lengths, this.bytesOf(count), count, out, at, targets);
  }

  private asciiFlags = new Uint8Array(0);

  /** A Uint8Array of at least n entries, reused (decodeMixed's per-value ASCII flags). */
  private bytesOf(n: number): Uint8Array {
    if (this.asciiFlags.length < n) this.asciiFlags = new Uint8Array(Math.max(n, this.asciiFlags.length * 2));
    return this.asciiFlags;
  }

  /** An Int32Array of at least n entries, reused. */
  private ints(which: "levels" | "indices" | "positions" | "starts" | "lengths", n: number): Int32Array {
    if (this[which].length < n) this[which] = new Int32Array(Math.max(n, this[which].length * 2));
    return this[which];
  }

  /**
   * The `numRows` values of one column chunk (`chunk`: its bytes from the first page header on): strings, bytes
   * (binary columns, or strings that are not valid UTF-8) and null for a null of an OPTIONAL column.
   */
  decode(column: FlatColumn, codec: string, chunk: Uint8Array, numRows: number): unknown[] {
    const values: unknown[] = new Array(numRows).fill(null);
    let dictionary: unknown[] | null = null;
    let row = 0;
    const reader = new ThriftReader(chunk, 0);
    while (row < numRows) {
      if (reader.pos >= chunk.length) throw new Error(`column "${column.name}" chunk ends after ${row} of ${numRows} rows`);
      const header = reader.struct();
      const compressedSize = header[3] as number, uncompressedSize = header[2] as number;
      const body = chunk.subarray(reader.pos, reader.pos + compressedSize);
      if (body.length !== compressedSize) throw new Error(`column "${column.name}": a page runs past its chunk`);
      reader.pos += compressedSize;
      const type = header[1] as number;
      if (type === 2) {
        // DICTIONARY_PAGE: PLAIN values every later dictionary-encoded page indexes
        const dict = header[7] as ThriftStruct;
        const encoding = dict[2] as number;
        if (encoding !== 0 && encoding !== 2) throw new UnsupportedParquet(`dictionary encoding ${encoding}`);
        const n = dict[1] as number;
        const page = this.decompress(codec, body, uncompressedSize);
        dictionary = new Array(n);
        this.readPlain(page, 0, page.length, n, column.isString, dictionary, 0);
        continue;
      }
      if (type !== 0 && type !== 3) continue; // an index page: nothing to read
      let page: Uint8Array, valuesStart: number, numValues: number, encoding: number;
      let defined: Int32Array | null = null;
      if (type === 0) {
        const h = header[5] as ThriftStruct;
        numValues = h[1] as number;
        encoding = h[2] as number;
        page = this.decompress(codec, body, uncompressedSize);
        valuesStart = 0;
        if (column.maxDefinition) {
          if (h[3] !== 3) throw new UnsupportedParquet(`definition level encoding ${h[3]}`);
          const length = page[0] | (page[1] << 8) | (page[2] << 16) | (page[3] << 24);
          if (length < 0 || 4 + length > page.length) throw new Error(`column "${column.name}": definition levels run past their page`);
          defined = this.ints("levels", numValues);
          readHybrid(page, 4, 4 + length, 1, numValues, defined);
          valuesStart = 4 + length;
        }
      } else {
        const h = header[8] as ThriftStruct;
        numValues = h[1] as number;
        encoding = h[4] as number;
        const defLength = (h[5] as number) ?? 0, repLength = (h[6] as number) ?? 0;
        if (repLength) throw new UnsupportedParquet("repetition levels in a flat column");
        if (defLength > body.length) throw new Error(`column "${column.name}": definition levels run past their page`);
        if (column.maxDefinition && defLength) {
          defined = this.ints("levels", numValues);
          readHybrid(body, 0, defLength, 1, numValues, defined);
        }
        const compressed = h[7] !== false;
        page = compressed ? this.decompress(codec, body.subarray(defLength), uncompressedSize - defLength) : body.subarray(defLength);
        valuesStart = 0;
      }
      if (row + numValues > numRows) throw new Error(`column "${column.name}": pages hold more than the row group's ${numRows} rows`);
      // where each non-null value goes (all rows of the page when nothing is null)
      let present = numValues;
      let targets: Int32Array | undefined;
      if (defined) {
        targets = this.ints("positions", numValues);
        present = 0;
        for (let i = 0; i < numValues; i++) if (defined[i]) targets[present++] = row + i;
        if (present === numValues) targets = undefined;
      }
      if (encoding === 0) {
        this.readPlain(page, valuesStart, page.length, present, column.isString, values, targets ? 0 : row, targets);
      } else if (encoding === 2 || encoding === 8) {
        if (!dictionary) throw new Error(`column "${column.name}": a dictionary-encoded page comes before any dictionary page`);
        const bitWidth = page[valuesStart];
        if (bitWidth > 32) throw new Error(`column "${column.name}": dictionary index width ${bitWidth} bits`);
        const indices = this.ints("indices", present);
        if (bitWidth === 0) indices.fill(0, 0, present);
        else readHybrid(page, valuesStart + 1, page.length, bitWidth, present, indices);
        for (let i = 0; i < present; i++) {
          const index = indices[i];
          if (index >= dictionary.length) throw new Error(`column "${column.name}": dictionary index ${index} past the dictionary's ${dictionary.length} values`);
          values[targets ? targets[i] : row + i] = dictionary[index];
        }
      } else {
        throw new UnsupportedParquet(`encoding ${encoding}`);
      }
      row += numValues;
    }
    return values;
  }
}
