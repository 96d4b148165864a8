/**
 * The building blocks the architectures are made of (GPT-2, Llama, Mistral, Qwen2), as plain functions over tensors.
 * Written so that every tensor stays at most 4-D (tfjs's WebGPU Pad kernel breaks on 5-D gradients) and so that no
 * op's gradient falls back to a slow or missing kernel (tf.gather's gradient needs UnsortedSegmentSum).
 */
import * as tf from "@tensorflow/tfjs";
import { tracedAs } from "../compile/trace";

/** Swaps the last two axes. [..., m, n] → [..., n, m] */
function swapLast(x: tf.Tensor): tf.Tensor {
  const axes = x.shape.map((_, i) => i);
  [axes[axes.length - 1], axes[axes.length - 2]] = [axes[axes.length - 2], axes[axes.length - 1]];
  return tf.transpose(x, axes);
}

/**
 * The wasm backend's (XNNPACK) matMul is 10–40× slower when asked to transpose an operand than on a plain one, and
 * tf.matMul's gradient always asks for transposes. There, transpose explicitly, in the forward and backward pass.
 */
function explicitTransposes(): boolean {
  return tf.getBackend() === "wasm";
}

/**
 * op(a) @ op(b) where op transposes the last two axes when asked; a and b have equal batch dimensions.
 * a: [..., m, k] (or [..., k, m]), b: [..., k, n] (or [..., n, k]) → [..., m, n]
 */
export function matMul(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  if (!explicitTransposes()) return tf.matMul(a, b, transposeA, transposeB);
  // A few rows times a transposed matrix (a decoding step's queries against their cached keys, [.., rows, hd]·[.., S, hd]ᵀ,
  // rows = query heads per key/value head) is the exception: there the kernel's own transposed read is 1.2–5× faster
  // than copying the whole cache transposed first.
  if (!transposeA && transposeB && a.shape[a.rank - 2] <= 8) return tf.matMul(a, b, false, true);
  const product = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, y] = args as tf.Tensor[];
    (args[2] as tf.GradSaveFunc)([x, y]);
    const opX = transposeA ? swapLast(x) : x;
    const opY = transposeB ? swapLast(y) : y;
    return {
      value: tf.matMul(opX, opY),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sy] = saved;
        // C = op(x)·op(y):  d op(x) = dy·op(y)ᵀ,  d op(y) = op(x)ᵀ·dy; transpose back where op transposed.
        const dx = transposeA ? tf.matMul(transposeB ? swapLast(sy) : sy, swapLast(dy)) : tf.matMul(dy, transposeB ? sy : swapLast(sy));
        const dyGrad = transposeB ? tf.matMul(swapLast(dy), transposeA ? swapLast(sx) : sx) : tf.matMul(transposeA ? sx : swapLast(sx), dy);
        return [dx, dyGrad];
      },
    };
  });
  return product(a, b);
}

/** x2d @ op(W) + b, op transposing W when transposeB (fused on the native backend). x2d: [N, in] → [N, out] */
export function affine(x2d: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D | undefined, transposeB: boolean): tf.Tensor2D {
  if (!explicitTransposes()) return tf.fused.matMul({ a: x2d, b: weight, transposeB, bias }) as tf.Tensor2D;
  const y = matMul(x2d, weight, false, transposeB) as tf.Tensor2D;
  return bias ? (y.add(bias) as tf.Tensor2D) : y;
}

/**
 * x2d @ op(W) + b for a weight and bias that get no gradient (a frozen base layer under LoRA, a frozen model): the
 * backward pass computes dx = dy @ op(W)ᵀ only and keeps nothing of the forward. tf.fused.matMul's gradient would
 * also compute dW (a second matmul as large as dx's, then thrown away) and keep x and y alive until the backward pass.
 * x2d: [N, in] → [N, out]
 */
function frozenAffine(x2d: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D | undefined, transposeB: boolean): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor2D;
    (args[1] as tf.GradSaveFunc)([]);
    return {
      value: affine(x, weight, bias, transposeB),
      gradFunc: (dy: tf.Tensor) => matMul(dy, weight, false, !transposeB), // [N, in]
    };
  });
  return op(x2d) as tf.Tensor2D;
}

/** Options of linear and linearT. */
export interface LinearOptions {
  /** The weight and bias get no gradient (frozen): the backward pass computes the input's gradient only. */
  frozen?: boolean;
}

/** x @ W + b over the last axis, with W stored [in, out] like GPT-2's Conv1D. x: [..., in] → [..., out]. */
export function linear(x: tf.Tensor, weight: tf.Tensor2D, bias?: tf.Tensor1D, opts: LinearOptions = {}): tf.Tensor {
  const inDim = weight.shape[0];
  const outDim = weight.shape[1];
  const leading = x.shape.slice(0, -1);
  // A 2-D matMul: a batched matMul's gradient w.r.t. a broadcast weight has the wrong shape in tfjs 4.22.
  const x2d = x.reshape([-1, inDim]) as tf.Tensor2D;
  const y = opts.frozen ? frozenAffine(x2d, weight, bias, false) : affine(x2d, weight, bias, false);
  return y.reshape([...leading, outDim]);
}

/**
 * x @ Wᵀ + b over the last axis, with W stored [out, in] like torch's nn.Linear (Llama-family projections, LoRA).
 * x: [..., in] → [..., out]
 */
export function linearT(x: tf.Tensor, weight: tf.Tensor2D, bias?: tf.Tensor1D, opts: LinearOptions = {}): tf.Tensor {
  const [outDim, inDim] = weight.shape;
  const leading = x.shape.slice(0, -1);
  const x2d = x.reshape([-1, inDim]) as tf.Tensor2D;
  const y = opts.frozen ? frozenAffine(x2d, weight, bias, true) : affine(x2d, weight, bias, true);
  return y.reshape([...leading, outDim]);
}

/** LayerNorm over the last axis (biased variance, like torch). */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor1D, bias: tf.Tensor1D, epsilon: number): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return x
      .sub(mean)
      .mul(tf.rsqrt(variance.add(epsilon)))
      .mul(weight)
      .add(bias);
  });
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * GPT-2's GELU, 0.5·x·(1 + tanh(u)) with u = √(2/π)·(x + 0.044715·x³), computed as x·σ(2u) (the same function:
 * 0.5·(1 + tanh u) = σ(2u)) because the wasm backend's Tanh is a scalar loop, 5–30× slower than its vectorized
 * Sigmoid. The derivative is written out (autodiff through the composite would keep every intermediate [tokens, 4D]
 * tensor alive for the backward pass), with s = σ(2u):
 *   dy/dx = s + x·2·s·(1 − s)·√(2/π)·(1 + 3·0.044715·x²)
 */
function geluTanh(x: tf.Tensor): tf.Tensor {
  const gelu = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([input]);
    const sigmoid2U = (v: tf.Tensor) =>
      tf.sigmoid(
        v
          .mul(v)
          .mul(2 * SQRT_2_OVER_PI * 0.044715)
          .add(2 * SQRT_2_OVER_PI)
          .mul(v),
      ); // σ(2u)
    return {
      value: tf.tidy(() => input.mul(sigmoid2U(input))),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const v = saved[0];
          const s = sigmoid2U(v);
          const du = v
            .mul(v)
            .mul(2 * SQRT_2_OVER_PI * 3 * 0.044715)
            .add(2 * SQRT_2_OVER_PI); // 2·du/dx
          return dy.mul(s.add(v.mul(s).mul(tf.scalar(1).sub(s)).mul(du)));
        }),
    };
  });
  return gelu(x);
}

/** The activations transformers names in config.json's activation_function. */
export function activation(name: string, x: tf.Tensor): tf.Tensor {
  switch (name) {
    case "gelu_new":
    case "gelu_pytorch_tanh":
    case "gelu_fast":
      return geluTanh(x);
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
 * UnsortedSegmentSum, which is seconds-slow on the cpu backend and missing on wasm. Native TensorFlow's own
 * UnsortedSegmentSum is faster than its ScatterNd at GPT-2's vocabulary (bench/embedding-grad.js), so there the
 * plain gather is kept.
 * table: [V, D], ids: int32 [...] → [..., D]
 */
export function embedding(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
  if (tf.getBackend() === "tensorflow") return tf.gather(table, ids);
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

/**
 * Gradient checkpointing (TRL's gradient_checkpointing): y = f(x, weights, constant) without keeping f's intermediate
 * activations for the backward pass; the backward pass runs f again and differentiates that. One more forward pass
 * per block buys memory: only x is kept per block, and the recomputed activations live for one block's backward.
 * constants (e.g. the attention bias, rotary cos/sin) get no gradient.
 * x: [...], weights: f's trainable inputs → f's output
 */
export function checkpointed<T extends tf.Tensor>(
  f: (x: T, weights: tf.Tensor[], constants: tf.Tensor[]) => T,
  x: T,
  weights: tf.Tensor[],
  constants: tf.Tensor[],
): T {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const inputs = args.slice(0, -1) as tf.Tensor[];
    save([inputs[0], ...constants]);
    return {
      value: tf.tidy(() => f(inputs[0] as T, inputs.slice(1), constants)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedX, ...savedConstants] = saved;
        const recompute = (...xs: tf.Tensor[]) => f(xs[0] as T, xs.slice(1), savedConstants);
        return withInnerTape(() => tracedAs("recompute", () => tf.grads(recompute)([savedX, ...inputs.slice(1)], dy), dy));
      },
    };
  });
  return op(x, ...weights) as T;
}

/**
 * Runs a nested gradient computation inside a backward pass. tfjs's engine keeps one active tape and drops it when a
 * top-level gradient computation ends, which would drop the outer computation's tape; it is put back afterwards.
 */
function withInnerTape<R>(fn: () => R): R {
  const state = (tf.engine() as unknown as { state: { activeTape: unknown } }).state;
  const outerTape = state.activeTape;
  try {
    return fn();
  } finally {
    state.activeTape = outerTape;
  }
}
