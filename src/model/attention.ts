/**
 * Scaled dot-product attention shared by every architecture: the additive mask (causal, padding, sliding window)
 * and grouped-query attention (several query heads per key/value head, as transformers' repeat_kv) without copying
 * keys and values per query head and without 5-D tensors.
 */
import * as tf from "@tensorflow/tfjs";
import { matMul } from "./layers";

/** Keys and values of earlier positions, one entry per layer: [B, Hkv, S, headDim] each. */
export type KVCache = { key: tf.Tensor4D; value: tf.Tensor4D }[];

/** Frees a KV cache. */
export function disposeCache(cache: KVCache | undefined): void {
  cache?.forEach(({ key, value }) => {
    key.dispose();
    value.dispose();
  });
}

/**
 * Additive attention bias: 0 where query t (absolute position pastLength + t) may attend key s, -1e9 elsewhere.
 * Causal: s ≤ pastLength + t. Sliding window w (Mistral, Qwen2's sliding layers; transformers'
 * sliding_window_overlay): also s > pastLength + t − w. Padding: keys whose attentionMask is 0.
 * attentionMask: [B, S] or undefined → [B or 1, 1, T, S]
 */
export function attentionBias(T: number, pastLength: number, attentionMask?: tf.Tensor2D, slidingWindow?: number | null): tf.Tensor4D {
  const S = pastLength + T;
  const allowed = new Float32Array(T * S);
  for (let t = 0; t < T; t++) {
    const query = pastLength + t;
    const first = slidingWindow ? Math.max(0, query - slidingWindow + 1) : 0;
    for (let s = first; s <= query; s++) allowed[t * S + s] = 1;
  }
  return tf.tidy(() => {
    let mask: tf.Tensor = tf.tensor4d(allowed, [1, 1, T, S]);
    if (attentionMask) mask = mask.mul(attentionMask.cast("float32").reshape([attentionMask.shape[0], 1, 1, S])); // [B, 1, T, S]
    return mask.sub(1).mul(1e9) as tf.Tensor4D;
  });
}

/**
 * softmax(q·kᵀ·scale + bias)·v with H query heads sharing Hkv key/value heads (query head h reads key/value head
 * ⌊h / (H/Hkv)⌋, as transformers' repeat_kv). The H/Hkv query heads of a group are stacked along the time axis, so
 * one batched matMul per group serves them all. The bias is tiled to the group's rows, except on wasm, whose Tile
 * kernel is slow (at 32 decoding rows ~40× a broadcast add): there it is added to the scores viewed per head
 * ([B, H, T, S], a reshape that copies nothing), where it broadcasts. On native TensorFlow each reshape is an op.
 * q: [B, H, T, hd], k/v: [B, Hkv, S, hd], bias: [B or 1, 1, T, S] → [B, T, H·hd]
 */
export function groupedAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor, scale: number): tf.Tensor3D {
  const [B, H, T, hd] = q.shape;
  const [, Hkv, S] = k.shape;
  const group = H / Hkv;
  const grouped = group === 1 ? q : (q.reshape([B, Hkv, group * T, hd]) as tf.Tensor4D); // [B, Hkv, group·T, hd]
  const scaled = matMul(grouped, k, false, true).mul(scale); // [B, Hkv, group·T, S]
  let scores: tf.Tensor; // [B, Hkv, group·T, S]
  if (group === 1) scores = scaled.add(bias);
  else if (tf.getBackend() === "wasm")
    scores = scaled
      .reshape([B, H, T, S])
      .add(bias)
      .reshape([B, Hkv, group * T, S]);
  else scores = scaled.add(bias.tile([1, 1, group, 1])); // bias [B or 1, 1, group·T, S]
  const probs = tf.softmax(scores, -1);
  const attended = matMul(probs, v).reshape([B, H, T, hd]); // [B, H, T, hd]
  return attended.transpose([0, 2, 1, 3]).reshape([B, T, H * hd]) as tf.Tensor3D;
}

/** Splits a projection into heads. x: [B, T, heads·hd] → [B, heads, T, hd] */
export function splitHeads(x: tf.Tensor, heads: number, headDim: number): tf.Tensor4D {
  const [B, T] = x.shape;
  return x.reshape([B, T, heads, headDim]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
}

/** Appends this step's keys/values to the cached ones and records the result in present. → [B, Hkv, S, hd] each */
export function extendCache(
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  past: { key: tf.Tensor4D; value: tf.Tensor4D } | undefined,
  present: KVCache | undefined,
): [tf.Tensor4D, tf.Tensor4D] {
  if (past) {
    k = tf.concat([past.key, k], 2);
    v = tf.concat([past.value, v], 2);
  }
  if (present) present.push({ key: tf.keep(k), value: tf.keep(v) });
  return [k, v];
}
