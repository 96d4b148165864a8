/**
 * Log-probabilities of completions: the quantity DPO compares between policy and reference.
 * log π(y|x) = Σ_t log p(y_t | x, y_<t), summed over completion tokens only (prompt and padding never count).
 *
 * Only the positions that predict a completion token go through the language-model head, and the [tokens, V] logits
 * are built a chunk of rows at a time, forward and backward: at GPT-2's vocabulary of 50,257 the full logits of a
 * batch (and their gradient) would be the largest tensors of the step.
 */
import * as tf from "@tensorflow/tfjs";
import type { CausalLM } from "../model/io";
import { embedding, matMul } from "../model/layers";
import type { SequenceBatch } from "./batch";

/** Logits per chunk, in elements: 8M float32 = 32 MB. */
const CHUNK_ELEMENTS = 1 << 23;

/** Row ranges [start, size] covering n rows in chunks of at most chunkRows. */
function chunks(n: number, chunkRows: number): [number, number][] {
  const out: [number, number][] = [];
  for (let start = 0; start < n; start += chunkRows) out.push([start, Math.min(chunkRows, n - start)]);
  return out.length ? out : [[0, 0]];
}

/**
 * log softmax(hidden · headᵀ)[label] per row, with the gradient dlogits = dy·(onehot − softmax) written out.
 * With more than one chunk the backward pass recomputes each chunk's logits instead of keeping them all.
 * hidden: [N, D], head: [V, D] (the LM head / tied embedding), labels: int32 [N] → [N]
 */
export function headLogProbs(hidden: tf.Tensor2D, head: tf.Tensor2D, labels: tf.Tensor1D, chunkRows = Math.max(1, Math.floor(CHUNK_ELEMENTS / head.shape[0]))): tf.Tensor1D {
  const [N, D] = hidden.shape;
  const V = head.shape[0];
  const ranges = chunks(N, chunkRows);
  const rowsOf = (t: tf.Tensor2D, start: number, size: number) => (size === N ? t : t.slice([start, 0], [size, D]));
  const logitsOf = (h: tf.Tensor2D, w: tf.Tensor2D) => matMul(h, w, false, true) as tf.Tensor2D; // [n, V]
  const pick = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w] = args as tf.Tensor2D[];
    const save = args[2] as tf.GradSaveFunc;
    const single = ranges.length === 1;
    let keptLogits: tf.Tensor2D | null = null;
    const perChunk = ranges.map(([start, size]) =>
      tf.tidy(() => {
        const logits = logitsOf(rowsOf(x, start, size), w); // [n, V]
        const logSumExp = tf.logSumExp(logits, -1); // [n]
        const flatIndex = tf.range(0, size, 1, "int32").mul(tf.scalar(V, "int32")).add(labels.slice(start, size)); // [n]
        const picked = tf.gather(logits.reshape([-1]), flatIndex); // [n]
        if (single) keptLogits = tf.keep(logits);
        return [logSumExp, picked.sub(logSumExp)];
      }),
    );
    const logSumExp = single ? perChunk[0][0] : tf.concat(perChunk.map((c) => c[0])); // [N]
    const value = single ? perChunk[0][1] : tf.concat(perChunk.map((c) => c[1])); // [N]
    // Saved for the backward pass (the caller's tidy disposes the originals before it runs).
    save(keptLogits ? [x, w, labels, logSumExp, keptLogits] : [x, w, labels, logSumExp]);
    if (keptLogits) (keptLogits as tf.Tensor).dispose(); // the saved clone holds the data
    if (!single) perChunk.forEach((c) => tf.dispose(c));
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw, sLabels, sLse, sLogits] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.Tensor2D | undefined];
        const hiddenGrads: tf.Tensor[] = [];
        let headGrad: tf.Tensor | null = null;
        for (const [start, size] of ranges) {
          // One chunk's [n, V] temporaries are freed before the next chunk starts.
          const [hiddenGrad, chunkHeadGrad] = tf.tidy(() => {
            const h = rowsOf(sx, start, size);
            const logits = sLogits ?? logitsOf(h, sw); // [n, V]
            const probs = tf.exp(logits.sub(sLse.slice(start, size).expandDims(1))); // [n, V]
            const gLogits = tf.oneHot(sLabels.slice(start, size), V).sub(probs).mul(dy.slice(start, size).expandDims(1)); // [n, V]
            return [matMul(gLogits, sw), matMul(gLogits, h, true, false)]; // [n, D], [V, D]
          });
          hiddenGrads.push(hiddenGrad);
          if (!headGrad) headGrad = chunkHeadGrad;
          else {
            const sum: tf.Tensor = tf.add(headGrad, chunkHeadGrad);
            tf.dispose([headGrad, chunkHeadGrad]);
            headGrad = sum;
          }
        }
        if (hiddenGrads.length === 1) return [hiddenGrads[0], headGrad!];
        const hiddenGrad = tf.concat(hiddenGrads);
        tf.dispose(hiddenGrads);
        return [hiddenGrad, headGrad!];
      },
    };
  });
  return pick(hidden, head) as tf.Tensor1D;
}

export interface CompletionLogps {
  /** Σ over completion tokens of log p(token): [R] */
  logps: tf.Tensor1D;
  /** Σ over completion tokens of the vocabulary-mean logit (for TRL's logits/chosen; a metric, never differentiated): [R] */
  meanLogitSums: tf.Tensor1D;
  /** Completion tokens per row: [R] */
  tokenCounts: tf.Tensor1D;
}

export interface CompletionLogpsOptions {
  /** Recompute each block's activations in the backward pass instead of keeping them (DPOConfig.gradientCheckpointing). */
  gradientCheckpointing?: boolean;
}

/**
 * Summed completion log-probs of every row of a batch under a model (one forward pass).
 * batch: inputIds/attentionMask [R, T] and the C completion labels (see collateSequences) → per row [R]
 */
export function completionLogps(model: CausalLM, batch: SequenceBatch, opts: CompletionLogpsOptions = {}): CompletionLogps {
  return tf.tidy(() => {
    const hidden = model.hiddenStates(batch.inputIds, { attentionMask: batch.attentionMask, gradientCheckpointing: opts.gradientCheckpointing }); // [R, T, D]
    const [R, T, D] = hidden.shape;
    const head = model.lmHeadWeight(); // [V, D]
    // The positions that predict completion tokens; the lookup's gradient is a scatter back into [R·T, D].
    const predicting = embedding(hidden.reshape([R * T, D]) as tf.Tensor2D, batch.labelPositions) as tf.Tensor2D; // [C, D]
    const perToken = headLogProbs(predicting, head, batch.labels); // [C]
    const sumPerRow = (values: tf.Tensor1D) => batch.labelRows.matMul(values.expandDims(1)).reshape([R]) as tf.Tensor1D; // [R]
    // The mean logit over the vocabulary is linear in the hidden state: h·mean_v(W_v). A metric only (not in the loss).
    const meanLogits = predicting.matMul(head.mean(0).expandDims(1)).reshape([-1]) as tf.Tensor1D; // [C]
    return { logps: sumPerRow(perToken), meanLogitSums: sumPerRow(meanLogits), tokenCounts: batch.labelRows.sum(1) as tf.Tensor1D };
  });
}
