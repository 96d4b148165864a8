/**
 * Faster versions of tfjs-backend-wasm 4.22 kernels that the course model's update spends most of its time in, each
 * computing the same values as the kernel it replaces:
 * - BatchMatMul: the wasm backend runs a batched product ([n, m, k]·[n, k, n']) as a scalar triple loop (its
 *   slow_batch_matmul); only a single product goes to XNNPACK. Here each batch element goes to XNNPACK on its own, read
 *   and written in place (aliases into the operands' and output's memory, no copies), 5–10× faster for attention.
 * - Slice, SplitV, Unpack: the wasm Slice kernel copies the whole input out of the heap (readSync) for every slice, so
 *   splitting a tensor into p parts costs p full copies. Here slices read the heap in place.
 * - Tile: the wasm C++ Tile computes every element's source index (~100 ns each); here rows are block-copied.
 * - GatherV2 of rows (axis 0, an embedding lookup): one block copy per index instead of the general C++ gather.
 * - Identity: the wasm kernel copies; here the output shares the input's data (tensors are immutable), as the cpu
 *   backend's Identity does.
 */
import * as tf from "@tensorflow/tfjs";

/** What these kernels use of tfjs-backend-wasm's BackendWasm (its public class, typed here without importing it). */
interface WasmBackend {
  wasm: {
    cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
    HEAPU8: Uint8Array;
    tfjs: { disposeData(id: number): void };
  };
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number }; delete(dataId: object): void };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  incRef(dataId: object): void;
  disposeData(dataId: object): boolean;
}

interface TensorInfo {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}

type KernelArgs = { inputs: Record<string, TensorInfo>; attrs: Record<string, unknown>; backend: WasmBackend };

let installed = false;

/**
 * Copies the slice [begin, begin + size) of x (row-major, shape xShape) into out, innermost runs at a time. The
 * trailing axes the slice takes whole are merged into one run, so a run is as long as it can be.
 */
function copySlice(
  x: Float32Array | Int32Array | Uint8Array,
  xShape: number[],
  begin: number[],
  size: number[],
  out: Float32Array | Int32Array | Uint8Array,
): void {
  const rank = xShape.length;
  if (rank === 0) {
    out[0] = x[0];
    return;
  }
  const strides = tf.util.computeStrides(xShape).concat([1]); // [rank]
  // The run: axes from `inner` on are copied as one contiguous block per index of the axes before it.
  let inner = rank - 1;
  while (inner > 0 && size[inner] === xShape[inner]) inner--;
  const run = size.slice(inner).reduce((a, b) => a * b, 1);
  const outer = size.slice(0, inner);
  const index = new Array(inner).fill(0);
  const count = outer.reduce((a, b) => a * b, 1);
  let offset = begin.reduce((acc, b, axis) => acc + b * strides[axis], 0);
  for (let o = 0, outOffset = 0; o < count; o++, outOffset += run) {
    if (run >= 16) out.set(x.subarray(offset, offset + run), outOffset);
    else for (let i = 0; i < run; i++) out[outOffset + i] = x[offset + i];
    // Next index of the outer axes (an odometer), moving the source offset along.
    for (let axis = inner - 1; axis >= 0; axis--) {
      offset += strides[axis];
      if (++index[axis] < outer[axis]) break;
      offset -= strides[axis] * outer[axis];
      index[axis] = 0;
    }
  }
}

/** x[begin : begin + size] as a new tensor, read from the heap in place. */
function sliceOf(backend: WasmBackend, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  // Views are taken after the allocation: growing the heap detaches earlier views.
  if (tf.util.sizeFromShape(size) > 0) copySlice(backend.typedArrayFromHeap(x), x.shape, begin, size, backend.typedArrayFromHeap(out));
  return out;
}

const slice = (original: tf.KernelFunc) => (args: KernelArgs) => {
  const x = args.inputs.x;
  if (x.dtype === "string") return original(args as never);
  const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.TensorInfo, args.attrs.begin as number[], args.attrs.size as number[]);
  return sliceOf(args.backend, x, begin, size);
};

const splitV = (original: tf.KernelFunc) => (args: KernelArgs) => {
  const x = args.inputs.x;
  if (x.dtype === "string") return original(args as never);
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, args.attrs.numOrSizeSplits as number[], axis);
  const begin = new Array(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[axis] = s;
    const part = sliceOf(args.backend, x, begin, size);
    begin[axis] += s;
    return part;
  });
};

const unpack = (original: tf.KernelFunc) => (args: KernelArgs) => {
  const x = args.inputs.value;
  if (x.dtype === "string") return original(args as never);
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
  const outShape = x.shape.filter((_, i) => i !== axis);
  const begin = new Array(x.shape.length).fill(0);
  const size = x.shape.slice();
  size[axis] = 1;
  const outs: TensorInfo[] = [];
  for (let i = 0; i < x.shape[axis]; i++) {
    begin[axis] = i;
    const part = sliceOf(args.backend, x, begin, size);
    outs.push({ dataId: part.dataId, dtype: part.dtype, shape: outShape });
  }
  return outs;
};

const tile = (original: tf.KernelFunc) => (args: KernelArgs) => {
  const x = args.inputs.x;
  if (x.dtype === "string") return original(args as never);
  const reps = args.attrs.reps as number[];
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = args.backend.makeOutput(outShape, x.dtype);
  if (tf.util.sizeFromShape(outShape) === 0) return out;
  const src = args.backend.typedArrayFromHeap(x);
  const dst = args.backend.typedArrayFromHeap(out);
  const rank = x.shape.length;
  if (rank === 0) {
    dst[0] = src[0];
    return out;
  }
  const xStrides = tf.util.computeStrides(x.shape).concat([1]);
  const outStrides = tf.util.computeStrides(outShape).concat([1]);
  // Writes x's block at axis (all indices of the axes before it fixed), then repeats it reps[axis] − 1 times.
  const fill = (axis: number, srcOffset: number, dstOffset: number) => {
    const block = x.shape[axis] * outStrides[axis]; // one repetition along axis, in output elements
    if (axis === rank - 1) dst.set(src.subarray(srcOffset, srcOffset + x.shape[axis]), dstOffset);
    else for (let i = 0; i < x.shape[axis]; i++) fill(axis + 1, srcOffset + i * xStrides[axis], dstOffset + i * outStrides[axis]);
    for (let r = 1; r < reps[axis]; r++) dst.copyWithin(dstOffset + r * block, dstOffset, dstOffset + block);
  };
  fill(0, 0, 0);
  return out;
};

const gatherV2 = (original: tf.KernelFunc) => (args: KernelArgs) => {
  const { x, indices } = args.inputs;
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
  if (axis !== 0 || args.attrs.batchDims || x.dtype === "string" || indices.dtype !== "int32") return original(args as never);
  // Rows of x picked by index (an embedding lookup): one block copy per index.
  const row = tf.util.sizeFromShape(x.shape.slice(1));
  const out = args.backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
  const src = args.backend.typedArrayFromHeap(x);
  const ids = args.backend.typedArrayFromHeap(indices);
  const dst = args.backend.typedArrayFromHeap(out);
  for (let i = 0; i < ids.length; i++) {
    const index = ids[i];
    if (!(index >= 0 && index < x.shape[0])) {
      args.backend.disposeData(out.dataId);
      throw new Error(`GatherV2: the index value ${index} is not in [0, ${x.shape[0] - 1}]`);
    }
    dst.set(src.subarray(index * row, (index + 1) * row), i * row);
  }
  return out;
};

const identity = (original: tf.KernelFunc) => (args: KernelArgs) => {
  const x = args.inputs.x;
  if (x.dtype === "string") return original(args as never);
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

let wasmBatchMatMul: ((...args: unknown[]) => void) | null = null;

/** A tensor id of the wasm module for memory inside another tensor's allocation (never freed: see dropAlias). */
function alias(backend: WasmBackend, shape: number[], memoryOffset: number): { info: TensorInfo; id: number } {
  const info = backend.makeOutput(shape, "float32", memoryOffset);
  return { info, id: backend.dataIdMap.get(info.dataId).id };
}

/** Unregisters an alias without freeing its memory (it belongs to the tensor it points into). */
function dropAlias(backend: WasmBackend, a: { info: TensorInfo; id: number }): void {
  backend.wasm.tfjs.disposeData(a.id); // also deletes the XNNPACK operator cached on it
  backend.dataIdMap.delete(a.info.dataId);
}

const shapeBytes = (shape: number[]) => new Uint8Array(new Int32Array(shape).buffer);

const batchMatMul = (original: tf.KernelFunc) => (args: KernelArgs) => {
  const { a, b } = args.inputs;
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  if (transposeA || transposeB || a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 3) return original(args as never);
  const backend = args.backend;
  const [m, k] = a.shape.slice(-2);
  const n = b.shape[b.shape.length - 1];
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  // Only equal batches (or one weight shared by every batch element) of products with more than one row: a single
  // row (a decoding step) is as fast in the scalar loop; broadcasting batch shapes and empty products are left to the
  // original.
  const sameBatch = a.shape.length === b.shape.length && a.shape.slice(0, -2).every((d, i) => d === b.shape[i]);
  if (m < 2 || k === 0 || n === 0 || !(sameBatch || batchB === 1) || (batchA === 1 && batchB === 1)) return original(args as never);
  const outShape = [...a.shape.slice(0, -2), m, n];
  const out = backend.makeOutput(outShape, "float32");
  if (tf.util.sizeFromShape(outShape) === 0) return out;
  wasmBatchMatMul ??= backend.wasm.cwrap("BatchMatMul", null, ["number", "array", "number", "number", "array", "number", "number", "number", "number"]);
  const at = (t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset;
  const bShape = shapeBytes([1, k, n]);
  const product = (aOffset: number, rows: number, aShape: Uint8Array, bOffset: number, outOffset: number) => {
    const aPart = alias(backend, [1, rows, k], aOffset);
    const bPart = alias(backend, [1, k, n], bOffset);
    const outPart = alias(backend, [1, rows, n], outOffset);
    wasmBatchMatMul!(aPart.id, aShape, 3, bPart.id, bShape, 3, false, false, outPart.id);
    [aPart, bPart, outPart].forEach((p) => dropAlias(backend, p));
  };
  // One weight for every batch element: a single [batch·m, k]·[k, n] product.
  if (batchB === 1) product(at(a), batchA * m, shapeBytes([1, batchA * m, k]), at(b), at(out));
  else {
    const aShape = shapeBytes([1, m, k]);
    for (let i = 0; i < batchA; i++) product(at(a) + i * m * k * 4, m, aShape, at(b) + i * k * n * 4, at(out) + i * m * n * 4);
  }
  return out;
};

const REPLACEMENTS: Record<string, (original: tf.KernelFunc) => (args: KernelArgs) => unknown> = {
  BatchMatMul: batchMatMul,
  Slice: slice,
  SplitV: splitV,
  Unpack: unpack,
  Tile: tile,
  GatherV2: gatherV2,
  Identity: identity,
};

/**
 * Replaces the wasm backend's BatchMatMul, Slice, SplitV, Unpack, Tile, GatherV2 and Identity kernels with the faster ones of
 * this file (each falls back to the original for what it does not handle). Idempotent; call after the wasm backend
 * is ready.
 */
export function installWasmKernels(): void {
  if (installed) return;
  installed = true;
  for (const [kernelName, replacement] of Object.entries(REPLACEMENTS)) {
    const original = tf.getKernel(kernelName, "wasm");
    if (!original) continue;
    tf.unregisterKernel(kernelName, "wasm");
    tf.registerKernel({ ...original, kernelFunc: replacement(original.kernelFunc) as unknown as tf.KernelFunc });
  }
}
