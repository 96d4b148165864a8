/**
 * Llama-family building blocks as single differentiable ops with their backward pass written out (tf.customGrad):
 * RMSNorm, the SwiGLU product silu(gate)·up and rotary position embeddings. Each computes the same forward values
 * as the composite it replaces, in the same order; the gain is in the backward pass and in what is kept for it.
 * Autodiff through a composite records every small op on the tape (each one a kernel call with fixed overhead on
 * wasm, an op in a compiled graph on the native backend) and keeps every intermediate for the backward pass; here
 * the backward pass is the few ops its formula needs, and only the inputs are kept.
 */
import * as tf from "@tensorflow/tfjs";

/**
 * RMSNorm over the last axis as transformers' LlamaRMSNorm, weight · x / √(mean(x²) + ε). With r = 1/√(mean(x²) + ε)
 * and x̂ = x·r, the backward pass is
 *   dweight = Σ_rows dy·x̂,   dx = r·(g − x̂·mean(g·x̂)),  g = dy·weight.
 * x: [..., D], weight: [D] → [..., D]
 */
export function fusedRmsNorm(x: tf.Tensor, weight: tf.Tensor1D, epsilon: number): tf.Tensor {
  const norm = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, w] = args as tf.Tensor[];
    const save = args[2] as tf.GradSaveFunc;
    const r = tf.tidy(() => tf.rsqrt(input.square().mean(-1, true).add(epsilon))); // [..., 1]
    save([input, w, r]);
    return {
      value: tf.tidy(() => input.mul(r).mul(w)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sx, sw, sr] = saved;
          const D = sw.shape[0];
          const xHat = sx.mul(sr); // [..., D]
          const g = dy.mul(sw); // [..., D]
          const dx = g.sub(xHat.mul(g.mul(xHat).mean(-1, true))).mul(sr); // [..., D]
          const dw = dy.mul(xHat).reshape([-1, D]).sum(0); // [D]
          return [dx, dw];
        }),
    };
  });
  return norm(x, weight);
}

/**
 * Llama's MLP product silu(gate)·up, silu(g) = g·σ(g). With s = σ(g), silu'(g) = s·(1 + g·(1 − s)) = s + silu − silu·s:
 *   dgate = dy·up·silu'(g),   dup = dy·silu(g).
 * gate, up: [..., I] → [..., I]
 */
export function fusedSwiGlu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  const product = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [g, u] = args as tf.Tensor[];
    (args[2] as tf.GradSaveFunc)([g, u]);
    return {
      value: tf.tidy(() => g.mul(tf.sigmoid(g)).mul(u)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sg, su] = saved;
          const s = tf.sigmoid(sg);
          const silu = sg.mul(s);
          const siluGrad = s.add(silu.sub(silu.mul(s)));
          return [dy.mul(su).mul(siluGrad), dy.mul(silu)];
        }),
    };
  });
  return product(gate, up);
}

/** rotate_half matrices already built, by head width and orientation (host arrays: never freed, a few KB). */
const rotateHalfValues = new Map<string, Float32Array>();

/**
 * rotate_half as a matrix R over the last axis: x·R = [−x₂, x₁] (x₁, x₂ the two halves). One small matmul instead of
 * two slices, a negation and a concat; every product is a ±1 or a 0, so the values are exact. → [hd, hd]
 */
function rotateHalfMatrix(headDim: number, transposed: boolean): tf.Tensor2D {
  const key = `${headDim}${transposed ? "T" : ""}`;
  let r = rotateHalfValues.get(key);
  if (!r) {
    const half = headDim / 2;
    r = new Float32Array(headDim * headDim);
    for (let i = 0; i < half; i++) {
      // Column i of x·R is −x[half + i]; column half + i is x[i].
      const [negRow, negCol, posRow, posCol] = transposed ? [i, half + i, half + i, i] : [half + i, i, i, half + i];
      r[negRow * headDim + negCol] = -1;
      r[posRow * headDim + posCol] = 1;
    }
    rotateHalfValues.set(key, r);
  }
  return tf.tensor2d(r, [headDim, headDim]);
}

/**
 * Rotary position embedding x·cos + rotate_half(x)·sin (transformers' apply_rotary_pos_emb), whose backward pass is
 *   dx = dy·cos + (dy·sin)·Rᵀ
 * with R the rotate_half matrix. cos and sin get no gradient.
 * x: [B, H, T, hd], cos/sin: [B or 1, 1, T, hd] → [B, H, T, hd]
 */
export function fusedRotary(x: tf.Tensor4D, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor4D {
  const hd = x.shape[3];
  const rotateHalf = (t: tf.Tensor, transposed: boolean) => tf.tidy(() => tf.matMul(t.reshape([-1, hd]), rotateHalfMatrix(hd, transposed)).reshape(t.shape)); // [..., hd]
  const rotary = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([cos, sin]);
    return {
      value: tf.tidy(() => input.mul(cos).add(rotateHalf(input, false).mul(sin))),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => dy.mul(saved[0]).add(rotateHalf(dy.mul(saved[1]), true))),
    };
  });
  return rotary(x) as tf.Tensor4D;
}
