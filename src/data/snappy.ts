/**
 * Snappy pages decompressed in place, for the direct Parquet decoder (parquet.ts): hysnappy's WebAssembly module (the
 * one hyparquet-compressors runs for SNAPPY) driven directly, so that a page is decompressed into the module's memory
 * and decoded from there. hysnappy's own function returns a copy of every page: ~113 MB of copies and short-lived
 * buffers on the 100k-row benchmark file, ~25 ms plus the garbage collections they set off.
 *
 * hysnappy exports no handle on its module, only its source holds the bytes (a base64 string): they are read from
 * there once. A hysnappy whose source no longer has them gives null, and the caller keeps hyparquet-compressors'
 * function (with its copies).
 */
import * as fs from "fs";

interface SnappyExports {
  memory: WebAssembly.Memory;
  uncompress(input: number, inputLength: number, output: number): number;
  __heap_base: WebAssembly.Global;
}

const WASM_PAGE = 64 * 1024;

/** hysnappy's `uncompress` results, as its own function words them. */
const SNAPPY_ERRORS: Record<number, string> = { [-1]: "invalid snappy length header", [-2]: "missing eof marker", [-3]: "premature end of input" };

let snappyModule: WebAssembly.Module | null | undefined;

/** hysnappy's compiled module, or null when its source does not hold it as expected. */
function hysnappyModule(): WebAssembly.Module | null {
  if (snappyModule !== undefined) return snappyModule;
  snappyModule = null;
  try {
    const source = fs.readFileSync(require.resolve("hysnappy/js/uncompress.js"), "utf8");
    const base64 = /\bwasm64\s*=\s*['"]([A-Za-z0-9+/=]+)['"]/.exec(source)?.[1];
    if (base64) {
      const module = new WebAssembly.Module(Buffer.from(base64, "base64"));
      const names = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
      if (names.has("memory") && names.has("uncompress") && names.has("__heap_base")) snappyModule = module;
    }
  } catch {
    snappyModule = null; // not installed where expected, or not a module: the caller's fallback
  }
  return snappyModule;
}

/** The uncompressed length a snappy block starts with (a little-endian base-128 varint), or -1 when malformed. */
function snappyLength(input: Uint8Array): number {
  let length = 0;
  for (let i = 0, shift = 0; i < input.length && i < 5; i++, shift += 7) {
    const b = input[i];
    length += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return length;
  }
  return -1;
}

/**
 * One instance of the module: {@link InPlaceSnappy.decompress} returns a view of its memory that the next call
 * overwrites. Memory is laid out as [the module's data and stack | compressed input | output] and grows to the
 * largest page seen.
 */
export class InPlaceSnappy {
  private constructor(private readonly wasm: SnappyExports) {}

  /** A new instance, or null when hysnappy's module cannot be loaded (see the file comment). */
  static create(): InPlaceSnappy | null {
    const module = hysnappyModule();
    return module && new InPlaceSnappy(new WebAssembly.Instance(module).exports as unknown as SnappyExports);
  }

  /**
   * The `size` bytes `input` decompresses to, as a view of this instance's memory, valid (and writable) until the next
   * call. Throws when the block is malformed or does not hold exactly `size` bytes.
   */
  decompress(input: Uint8Array, size: number): Uint8Array {
    const declared = snappyLength(input);
    if (declared !== size) throw new Error(`SNAPPY page ${declared < 0 ? "has a malformed length header" : `decompresses to ${declared} bytes`}, the page header says ${size}`);
    const { memory, uncompress } = this.wasm;
    const inputStart = this.wasm.__heap_base.value as number;
    const outputStart = inputStart + input.length;
    const needed = outputStart + size;
    if (memory.buffer.byteLength < needed) memory.grow(Math.ceil((needed - memory.buffer.byteLength) / WASM_PAGE));
    const heap = new Uint8Array(memory.buffer);
    heap.set(input, inputStart);
    const result = uncompress(inputStart, input.length, outputStart);
    if (result !== 0) throw new Error(`SNAPPY page cannot be decompressed (${SNAPPY_ERRORS[result] ?? `error ${result}`})`);
    return heap.subarray(outputStart, needed);
  }
}
