/**
 * The building blocks GPT-2 is made of, as plain functions over tensors.
 * Written so that every tensor stays at most 4-D (tfjs's WebGPU Pad kernel breaks on 5-D gradients) and so that no
 * op's gradient falls back to a slow or missing kernel (tf.gather's gradient needs UnsortedSegmentSum).
 */
import * as tf from "@tensorflow/tfjs";

/** x @ W + b over the last axis, with W stored [in, out] like GPT-2's Conv1D. x: [..., in] → [..., out]. */
export function linear(x: tf.Tensor, weight: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor {
  const inDim = weight.shape[0];
  const outDim = weight.shape[1];
  const leading = x.shape.slice(0, -1);
  // A 2-D matMul: a batched matMul's gradient w.r.t. a broadcast weight has the wrong shape in tfjs 4.22.
  const y = tf.fused.matMul({ a: x.reshape([-1, inDim]) as tf.Tensor2D, b: weight, bias });
  return y.reshape([...leading, outDim]);
}

/** LayerNorm over the last axis (biased variance, like torch). */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor1D, bias: tf.Tensor1D, epsilon: number): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return x.sub(mean).mul(tf.rsqrt(variance.add(epsilon))).mul(weight).add(bias);
  });
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** The activations transformers names in config.json's activation_function. */
export function activation(name: string, x: tf.Tensor): tf.Tensor {
  switch (name) {
    case "gelu_new":
    case "gelu_pytorch_tanh":
    case "gelu_fast":
      // 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))
      return tf.tidy(() => x.mul(0.5).mul(tf.tanh(x.add(x.pow(3).mul(0.044715)).mul(SQRT_2_OVER_PI)).add(1)));
    case "gelu":
      return tf.tidy(() => x.mul(0.5).mul(tf.erf(x.mul(Math.SQRT1_2)).add(1)));
    case "relu":
      return tf.relu(x);
    case "silu":
    case "swish":
      return tf.tidy(() => x.mul(tf.sigmoid(x)));
    default:
      throw new Error(`activation_function "${name}" is not supported (gelu_new, gelu, gelu_pytorch_tanh, relu, silu)`);
  }
}

/**
 * Embedding lookup table[ids] whose gradient is a scatter-add (ScatterNd) instead of tf.gather's
 * UnsortedSegmentSum, which is seconds-slow on the cpu backend and missing on wasm.
 * table: [V, D], ids: int32 [...] → [..., D]
 */
export function embedding(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
  const flatIds = ids.reshape([-1]) as tf.Tensor1D; // [N]
  const lookup = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const weights = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([flatIds]);
    return {
      value: tf.gather(weights, flatIds), // [N, D]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.scatterND(saved[0].expandDims(1), dy, weights.shape), // [V, D], duplicates summed
    };
  });
  const rows = lookup(table) as tf.Tensor;
  flatIds.dispose();
  return rows.reshape([...ids.shape, table.shape[1]]);
}
