/**
 * Log-probabilities of completions: the quantity DPO compares between policy and reference.
 * log π(y|x) = Σ_t log p(y_t | x, y_<t), summed over completion tokens only (prompt and padding masked).
 */
import * as tf from "@tensorflow/tfjs";

/**
 * log softmax(logits)[label] per row, with a fused gradient dy·(onehot − softmax).
 * Avoids tf.gather's slow UnsortedSegmentSum gradient and never builds a one-hot in the forward pass.
 * logits: [N, V], labels: int32 [N] → [N]
 */
export function tokenLogProbs(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  const [N, V] = logits.shape;
  const pick = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor2D;
    const logSumExp = tf.logSumExp(x, -1); // [N]
    const flatIndex = tf.range(0, N, 1, "int32").mul(tf.scalar(V, "int32")).add(labels.cast("int32")); // [N]
    const picked = tf.gather(x.reshape([-1]), flatIndex); // [N]
    // Saved for the backward pass (the caller's tidy disposes the originals before it runs).
    (args[1] as tf.GradSaveFunc)([x, logSumExp, labels]);
    return {
      value: picked.sub(logSumExp),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [savedLogits, savedLse, savedLabels] = saved;
          const probs = tf.exp(savedLogits.sub(savedLse.expandDims(1))); // [N, V]
          return tf.oneHot(savedLabels as tf.Tensor1D, V).sub(probs).mul(dy.expandDims(1));
        }),
    };
  });
  return pick(logits) as tf.Tensor1D;
}

export interface CompletionLogps {
  /** Σ over completion tokens of log p(token): [R] */
  logps: tf.Tensor1D;
  /** Σ over completion tokens of the vocabulary-mean logit (for TRL's logits/chosen; a metric, never differentiated): [R] */
  meanLogitSums: tf.Tensor1D;
  /** Completion tokens per row: [R] */
  tokenCounts: tf.Tensor1D;
}

/**
 * Summed completion log-probs. Position t's logits predict token t+1, so labels are the inputs shifted by one.
 * logits: [R, T, V], inputIds: int32 [R, T], completionMask: [R, T] (1 on completion tokens) → per row [R]
 */
export function completionLogps(logits: tf.Tensor3D, inputIds: tf.Tensor2D, completionMask: tf.Tensor2D): CompletionLogps {
  return tf.tidy(() => {
    const [R, T, V] = logits.shape;
    // Shift the labels and the mask left instead of slicing the logits: no copy of the largest tensor of the step
    // (and no pad of its gradient). The last position predicts nothing: label 0, mask 0.
    const allLogits = logits.reshape([R * T, V]) as tf.Tensor2D; // [R·T, V]
    const labels = tf.concat([inputIds.slice([0, 1], [R, T - 1]), tf.zeros([R, 1], "int32")], 1).reshape([-1]) as tf.Tensor1D; // [R·T]
    const mask = tf.concat([completionMask.slice([0, 1], [R, T - 1]).cast("float32"), tf.zeros([R, 1])], 1); // [R, T]
    const perToken = tokenLogProbs(allLogits, labels).reshape([R, T]); // [R, T]
    const logps = perToken.mul(mask).sum(1) as tf.Tensor1D;
    const meanLogitSums = allLogits.mean(1).reshape([R, T]).mul(mask).sum(1) as tf.Tensor1D;
    return { logps, meanLogitSums, tokenCounts: mask.sum(1) as tf.Tensor1D };
  });
}
