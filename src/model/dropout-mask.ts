/**
 * Dropout masks of LoRA adapters, seeded so that a run is reproducible and a recomputed (checkpointed) block sees the
 * mask it saw the first time. Two generators, chosen by the kind of seed:
 *   - a number: tfjs's seeded generator in JavaScript (what tf.dropout uses; wasm and cpu backends);
 *   - an int32 [2] tensor: TensorFlow's stateless generator (StatelessRandomUniform, Philox) on the native backend.
 *     The draw is a TensorFlow op reading the seed tensor, so a traced graph (compileStep) computes the mask from the
 *     seed it is fed at each run instead of keeping the traced mask as a constant.
 * The same seed numbers on both, but different generators: masks differ between native and wasm/cpu.
 * On the native backend the draw runs position-major ([T, rows, in], then transposed): a counter-based generator gives
 * element i the same value whatever comes after it, so a token's mask does not depend on how far its right-padded
 * batch was padded — a compiled update (micro-batches padded to one length) draws the eager update's masks.
 */
import * as tf from "@tensorflow/tfjs";
import { nativeBackend } from "../compile/trace";

/** A dropout mask's seed: a number (JavaScript generator) or an int32 [2] tensor (TensorFlow's stateless generator). */
export type MaskSeed = number | tf.Tensor1D;

/**
 * The multiplier dropout at `rate` applies to an input of shape `inputShape` ([..., T, in], or [N, in]) flattened to
 * [N, in]: 1/(1−rate) where an element is kept, 0 where it is dropped — the formula of tf.dropout
 * (floor(u + keep) / keep, u uniform in [0, 1)). → [N, in]
 */
export function dropoutMask(inputShape: number[], rate: number, seed: MaskSeed): tf.Tensor2D {
  const inDim = inputShape[inputShape.length - 1];
  const n = inputShape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (typeof seed === "number") return tf.tidy(() => tf.dropout(tf.ones([n, inDim]), rate, undefined, seed) as tf.Tensor2D);
  const keep = 1 - rate;
  const positions = inputShape.length >= 3 ? inputShape[inputShape.length - 2] : n; // T
  const rows = n / positions;
  return tf.tidy(() => {
    const uniform = statelessUniform([positions, rows, inDim], seed); // [T, rows, in]
    const rowMajor = rows === 1 ? uniform : uniform.transpose([1, 0, 2]); // [rows, T, in]
    return rowMajor.reshape([n, inDim]).add(keep).floor().div(keep) as tf.Tensor2D;
  });
}

/** Uniform [0, 1) floats from TensorFlow's StatelessRandomUniform (native backend): same seed, same values, in a graph or eagerly. */
function statelessUniform(shape: number[], seed: tf.Tensor1D): tf.Tensor {
  if (seed.dtype !== "int32" || seed.shape.join() !== "2") throw new Error(`dropout seed tensor must be int32 [2], got ${seed.dtype} [${seed.shape}]`);
  const backend = nativeBackend();
  const type = (name: string, value: number) => ({ name, type: backend.binding.TF_ATTR_TYPE, value });
  return tf.tidy(() => {
    const shapeTensor = tf.tensor1d(shape, "int32");
    const attrs = [type("dtype", backend.binding.TF_FLOAT), type("T", backend.binding.TF_INT32), type("Tseed", backend.binding.TF_INT32)];
    return backend.executeSingleOutput("StatelessRandomUniform", attrs, [shapeTensor, seed]) as unknown as tf.Tensor;
  });
}
