/**
 * Kernel shortcuts for work tfjs 4.22 does for nothing. Its gradients cast float32 operands to float32 (Mul, Square,
 * …) and reshape tensors to the shape they already have; on the native backend each such call is a TensorFlow op
 * (one eager dispatch, one graph node when traced), on wasm a Cast is a copy. A Cast to the tensor's own dtype and a
 * Reshape to its own shape are made the identity here (the output shares the input's data, as tfjs's Identity
 * kernel does): the values are the same bits, with no op run.
 */
import * as tf from "@tensorflow/tfjs";

/** The backends the shortcuts are installed on (the kernel registry is process-wide). */
const installed = new Set<string>();

interface TensorInfo {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}

/** Whether the call changes nothing: a Cast to x's dtype, or a Reshape to x's shape. */
const NO_OP: Record<string, (x: TensorInfo, attrs: Record<string, unknown>) => boolean> = {
  Cast: (x, attrs) => attrs.dtype === x.dtype,
  Reshape: (x, attrs) => {
    const size = tf.util.sizeFromShape(x.shape);
    const shape = tf.util.inferFromImplicitShape((attrs.shape as number[]).slice(), size);
    return shape.length === x.shape.length && shape.every((d, i) => d === x.shape[i]);
  },
};

/**
 * Replaces backendName's Cast and Reshape kernels with ones that return their input when the call changes nothing,
 * and run the original kernel otherwise. Idempotent; backends without these kernels are left alone.
 */
export function installKernelShortcuts(backendName: string): void {
  if (installed.has(backendName)) return;
  installed.add(backendName);
  for (const [kernelName, isNoOp] of Object.entries(NO_OP)) {
    const original = tf.getKernel(kernelName, backendName);
    if (!original) continue;
    tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({
      ...original,
      kernelFunc: (args) => {
        const x = args.inputs.x as unknown as TensorInfo;
        if (!isNoOp(x, args.attrs as Record<string, unknown>)) return original.kernelFunc(args);
        (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
        return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
      },
    });
  }
}
