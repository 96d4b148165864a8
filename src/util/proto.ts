/**
 * The one protobuf encoder dpo-ts uses: TensorBoard event files (metrics/tensorboard.ts) and SavedModel graphs
 * (compile/proto.ts) are both written through it. Encoding only, and only the wire types those messages need:
 * varint (int32/int64/bool/enum), fixed64 (double), fixed32 (float), length-delimited (bytes, string, embedded
 * messages, packed repeated fields, map entries).
 */

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** Appends protobuf fields to a growing list of byte chunks; `finish()` returns the serialized message. */
export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private scratch: number[] = [];

  private flushScratch(): void {
    if (this.scratch.length) {
      this.chunks.push(Uint8Array.from(this.scratch));
      this.scratch = [];
    }
  }

  /** A bare varint; negative numbers as 64-bit two's complement (10 bytes), as int32/int64 fields require. */
  varint(value: number | bigint): this {
    if (typeof value === "bigint" || value < 0 || value > Number.MAX_SAFE_INTEGER) {
      let big = BigInt.asUintN(64, BigInt(value));
      while (big >= 0x80n) {
        this.scratch.push(Number(big & 0x7fn) | 0x80);
        big >>= 7n;
      }
      this.scratch.push(Number(big));
      return this;
    }
    while (value >= 0x80) {
      this.scratch.push((value % 0x80) | 0x80);
      value = Math.floor(value / 0x80);
    }
    this.scratch.push(value);
    return this;
  }

  private tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  /** An int32 / int64 / enum field. */
  int(field: number, value: number | bigint): this {
    return this.tag(field, VARINT).varint(value);
  }

  /** Writes a bool field. */
  bool(field: number, value: boolean): this {
    return this.tag(field, VARINT).varint(value ? 1 : 0);
  }

  /** A double field (fixed64, little-endian). */
  double(field: number, value: number): this {
    this.tag(field, FIXED64);
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, value, true);
    this.scratch.push(...bytes);
    return this;
  }

  /** A float field (fixed32, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.scratch.push(...bytes);
    return this;
  }

  /** Writes a length-delimited bytes field. */
  bytes(field: number, data: Uint8Array): this {
    this.tag(field, LENGTH_DELIMITED).varint(data.length);
    this.flushScratch();
    this.chunks.push(data);
    return this;
  }

  /** Writes a string field (UTF-8). */
  string(field: number, text: string): this {
    return this.bytes(field, Buffer.from(text, "utf8"));
  }

  /** An embedded message written by fill. */
  message(field: number, fill: (w: ProtoWriter) => void): this {
    return this.bytes(field, encodeMessage(fill));
  }

  /** Writes a packed repeated varint field (nothing when empty). */
  packedVarints(field: number, values: number[]): this {
    if (!values.length) return this;
    const inner = new ProtoWriter();
    values.forEach((v) => inner.varint(v));
    return this.bytes(field, inner.finish());
  }

  /** Writes a packed repeated float field, little-endian float32 (nothing when empty). */
  packedFloats(field: number, values: number[]): this {
    if (!values.length) return this;
    const data = new Uint8Array(values.length * 4);
    const view = new DataView(data.buffer);
    values.forEach((v, i) => view.setFloat32(i * 4, v, true));
    return this.bytes(field, data);
  }

  /** map<string, V> fields, entries sorted by key (deterministic output). */
  map<V>(field: number, entries: Record<string, V>, writeValue: (w: ProtoWriter, value: V) => void): this {
    for (const key of Object.keys(entries).sort()) {
      this.message(field, (entry) => {
        entry.string(1, key);
        entry.message(2, (w) => writeValue(w, entries[key]));
      });
    }
    return this;
  }

  /** The encoded message. */
  finish(): Uint8Array {
    this.flushScratch();
    return Buffer.concat(this.chunks);
  }
}

/** Serializes the message that fill writes. */
export function encodeMessage(fill: (w: ProtoWriter) => void): Uint8Array {
  const w = new ProtoWriter();
  fill(w);
  return w.finish();
}
