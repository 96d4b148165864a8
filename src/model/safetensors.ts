/**
 * The safetensors file format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length,
 * a JSON header mapping tensor names to {dtype, shape, data_offsets}, then the raw little-endian bytes.
 * We read F32, F16 and BF16 tensors into Float32Arrays and write F32.
 */
import * as fs from "fs";

/** A tensor in host memory: its shape and float32 data, row-major. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** A safetensors file read into memory: its tensors by name and its string metadata. */
export interface SafetensorsFile {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

const BYTES_PER_ELEMENT: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** IEEE half precision to float32. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function decode(dtype: string, bytes: Buffer, count: number, where: string): Float32Array {
  const out = new Float32Array(count);
  switch (dtype) {
    case "F32":
      // Copy into a fresh, aligned buffer (the host is little-endian like the file).
      new Uint8Array(out.buffer).set(bytes.subarray(0, count * 4));
      return out;
    case "F64":
      for (let i = 0; i < count; i++) out[i] = bytes.readDoubleLE(i * 8);
      return out;
    case "F16":
      for (let i = 0; i < count; i++) out[i] = halfToFloat(bytes.readUInt16LE(i * 2));
      return out;
    case "BF16": {
      // bfloat16 is the upper half of a float32.
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u32[i] = bytes.readUInt16LE(i * 2) << 16;
      return out;
    }
    default:
      throw new Error(`${where}: unsupported dtype ${dtype} (supported: F32, F16, BF16, F64)`);
  }
}

/** Reads every floating-point tensor of a .safetensors file as float32. */
export function readSafetensors(path: string): SafetensorsFile {
  const file = fs.readFileSync(path);
  if (file.length < 8) throw new Error(`${path}: not a safetensors file (shorter than its 8-byte header length)`);
  const headerLength = Number(file.readBigUInt64LE(0));
  if (headerLength <= 0 || 8 + headerLength > file.length) {
    throw new Error(`${path}: corrupt safetensors header length ${headerLength} for a file of ${file.length} bytes`);
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- untrusted JSON, validated entry by entry below
  let header: Record<string, any>;
  try {
    header = JSON.parse(file.subarray(8, 8 + headerLength).toString("utf8"));
  } catch (e) {
    throw new Error(`${path}: safetensors header is not valid JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, HostTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry ?? {};
      continue;
    }
    const where = `${path}: tensor "${name}"`;
    const { dtype, shape, data_offsets: offsets } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (!(dtype in BYTES_PER_ELEMENT)) {
      // Integer buffers (e.g. old GPT-2 checkpoints' attention masks) carry no weights we load.
      if (/^(I|U|BOOL)/.test(dtype)) continue;
      throw new Error(`${where}: unsupported dtype ${dtype}`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    const [begin, end] = offsets;
    if (end - begin !== count * BYTES_PER_ELEMENT[dtype] || dataStart + end > file.length) {
      throw new Error(`${where}: data_offsets [${begin}, ${end}] do not fit shape [${shape}] of ${dtype}`);
    }
    tensors.set(name, { shape, data: decode(dtype, file.subarray(dataStart + begin, dataStart + end), count, where) });
  }
  return { tensors, metadata };
}

/** Writes float32 tensors as a .safetensors file (names sorted, header padded to 8 bytes like the reference writer). */
export function writeSafetensors(path: string, tensors: Map<string, HostTensor>, metadata: Record<string, string> = { format: "pt" }): void {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = t.data.length * 4;
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let headerText = JSON.stringify(header);
  headerText += " ".repeat((8 - (Buffer.byteLength(headerText) % 8)) % 8);
  const headerBytes = Buffer.from(headerText, "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  // Written tensor by tensor from the host arrays: a whole-file buffer would be one more copy of the model in memory.
  const fd = fs.openSync(path, "w");
  try {
    fs.writeSync(fd, length);
    fs.writeSync(fd, headerBytes);
    for (const name of names) {
      const data = tensors.get(name)!.data;
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      for (let written = 0; written < bytes.length;) written += fs.writeSync(fd, bytes, written, bytes.length - written);
    }
  } finally {
    fs.closeSync(fd);
  }
}
