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
import { tracedAs } from "../compile/trace";
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
 * Per-token statistics that need the full [n, V] logits, computed alongside the log-probs from the same chunks
 * (never differentiated). Ask for one by setting its flag; headLogProbs fills the tensor, which the caller disposes.
 */
export interface HeadTokenStats {
  /** WPO's log Σ_v p_v² = logsumexp(2z) − 2·logsumexp(z) per token (TRL's log_denom): [N] */
  wpoLogDenom?: boolean;
  wpoLogDenomValues?: tf.Tensor1D;
}

/**
 * log softmax(hidden · headᵀ)[label] per row, with the gradient dlogits = dy·(onehot − softmax) written out.
 * With more than one chunk the backward pass recomputes each chunk's logits instead of keeping them all.
 * hidden: [N, D], head: [V, D] (the LM head / tied embedding), labels: int32 [N] → [N]
 */
export function headLogProbs(
  hidden: tf.Tensor2D,
  head: tf.Tensor2D,
  labels: tf.Tensor1D,
  chunkRows = Math.max(1, Math.floor(CHUNK_ELEMENTS / head.shape[0])),
  stats?: HeadTokenStats,
): tf.Tensor1D {
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
    // In a traced graph each chunk waits for the previous one (tracedAs), so one chunk's [n, V] logits are live at a
    // time there too; a graph would otherwise run every chunk as soon as x exists.
    let previous: tf.Tensor | undefined;
    const perChunk = ranges.map(([start, size]) => {
      const out = tracedAs(
        "head-chunk",
        () =>
          tf.tidy(() => {
            const logits = logitsOf(rowsOf(x, start, size), w); // [n, V]
            const logSumExp = tf.logSumExp(logits, -1); // [n]
            const flatIndex = tf.range(0, size, 1, "int32").mul(tf.scalar(V, "int32")).add(labels.slice(start, size)); // [n]
            const picked = tf.gather(logits.reshape([-1]), flatIndex); // [n]
            if (single) keptLogits = tf.keep(logits);
            const logDenom = stats?.wpoLogDenom ? tf.logSumExp(logits.mul(2), -1).sub(logSumExp.mul(2)) : null; // [n]
            return logDenom ? [logSumExp, picked.sub(logSumExp), logDenom] : [logSumExp, picked.sub(logSumExp)];
          }),
        previous,
      );
      previous = out[1];
      return out;
    });
    if (stats?.wpoLogDenom) {
      stats.wpoLogDenomValues = tf.keep(single ? perChunk[0][2] : tf.concat(perChunk.map((c) => c[2]))) as tf.Tensor1D;
      if (single) perChunk[0].pop();
    }
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
        // One chunk's [n, V] temporaries are freed before the next chunk starts. In a traced graph, a chunk's ops wait
        // for the previous chunk's sum (the first for dy), and their tag keeps the logits recomputed here from being
        // merged with the forward pass's (which would keep every chunk's logits alive in between).
        let previous: tf.Tensor = dy;
        for (const [start, size] of ranges) {
          const [hiddenGrad, chunkHeadGrad] = tracedAs(
            "head-chunk-backward",
            () =>
              tf.tidy(() => {
                const h = rowsOf(sx, start, size);
                const logits = sLogits ?? logitsOf(h, sw); // [n, V]
                const probs = tf.exp(logits.sub(sLse.slice(start, size).expandDims(1))); // [n, V]
                const gLogits = tf.oneHot(sLabels.slice(start, size), V).sub(probs).mul(dy.slice(start, size).expandDims(1)); // [n, V]
                return [matMul(gLogits, sw), matMul(gLogits, h, true, false)]; // [n, D], [V, D]
              }),
            previous,
          );
          hiddenGrads.push(hiddenGrad);
          if (!headGrad) headGrad = chunkHeadGrad;
          else {
            const sum: tf.Tensor = tf.add(headGrad, chunkHeadGrad);
            tf.dispose([headGrad, chunkHeadGrad]);
            headGrad = sum;
          }
          previous = headGrad;
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

/** x, with a zero gradient (torch's .detach() / no_grad). */
const stopGradient = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  return { value: x.clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
}) as (x: tf.Tensor) => tf.Tensor;

/** Per-row sums of completion-token log-probabilities (and what some losses need besides): [R] each. */
export type CompletionLogps = {
  /** Σ over completion tokens of log p(token); with ldAlpha, shared part + ldAlpha · tail part: [R] */
  logps: tf.Tensor1D;
  /** Σ over completion tokens of log p(token), never length-weighted (the sft loss): [R] */
  rawLogps: tf.Tensor1D;
  /** With wpoWeights: the WPO weight of each row, exp(mean over its tokens of log p − log Σ_v p_v²), no gradient: [R] */
  wpoWeights?: tf.Tensor1D;
  /** Σ over completion tokens of the vocabulary-mean logit (for TRL's logits/chosen; a metric, never differentiated): [R] */
  meanLogitSums: tf.Tensor1D;
  /** Completion tokens per row: [R] */
  tokenCounts: tf.Tensor1D;
};

/** Options of {@link completionLogps}: gradient checkpointing, LD-DPO's length weighting and WPO weights. */
export interface CompletionLogpsOptions {
  /** Recompute each block's activations in the backward pass instead of keeping them (DPOConfig.gradientCheckpointing). */
  gradientCheckpointing?: boolean;
  /** LD-DPO (DPOConfig.ldAlpha): rows are [chosen; rejected] pairs (collatePairs); the tokens of each completion beyond
   * the shorter completion of its pair (the "verbose" tail) count ldAlpha times. null/undefined: plain sums. */
  ldAlpha?: number | null;
  /** Also compute WPO weights (DPOConfig.useWeighting). */
  wpoWeights?: boolean;
}

/**
 * LD-DPO's per-label weights: 1 for the first min(|y_w|, |y_l|) completion tokens of each row (the length both
 * completions of the pair share), ldAlpha for the rest (TRL's shared_mask + ld_alpha·tail_mask), 0 off the row.
 * Built from labelRows alone (labels are in position order within a row), so a compiled graph carries it as well.
 * labelRows: [2B, C] → [2B, C]
 */
export function lengthDesensitizedRows(labelRows: tf.Tensor2D, ldAlpha: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [R] = labelRows.shape;
    const counts = labelRows.sum(1); // [2B]
    const [chosen, rejected] = [counts.slice(0, R / 2), counts.slice(R / 2)];
    const shared = tf.minimum(chosen, rejected); // [B]
    const sharedPerRow = tf.concat([shared, shared]).expandDims(1); // [2B, 1]
    const rank = tf.cumsum(labelRows, 1); // [2B, C]: 1-based index of each label within its row
    const inShared = labelRows.mul(rank.lessEqual(sharedPerRow).cast("float32")); // [2B, C]
    return inShared.add(labelRows.sub(inShared).mul(ldAlpha)) as tf.Tensor2D;
  });
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
    const stats: HeadTokenStats = { wpoLogDenom: opts.wpoWeights };
    const perToken = headLogProbs(predicting, head, batch.labels, undefined, stats); // [C]
    const sumPerRow = (values: tf.Tensor1D, rows: tf.Tensor2D = batch.labelRows) => rows.matMul(values.expandDims(1)).reshape([R]) as tf.Tensor1D; // [R]
    // The mean logit over the vocabulary is linear in the hidden state: h·mean_v(W_v). A metric only (not in the loss).
    const meanLogits = predicting.matMul(head.mean(0).expandDims(1)).reshape([-1]) as tf.Tensor1D; // [C]
    const tokenCounts = batch.labelRows.sum(1) as tf.Tensor1D; // [R]
    const rawLogps = sumPerRow(perToken);
    const logps = opts.ldAlpha == null ? rawLogps : sumPerRow(perToken, lengthDesensitizedRows(batch.labelRows, opts.ldAlpha));
    const out: CompletionLogps = { logps, rawLogps, meanLogitSums: sumPerRow(meanLogits), tokenCounts };
    if (stats.wpoLogDenomValues) {
      // Eq. 2 of WPO as TRL computes it: exp of the per-token mean of (log p − log Σ_v p_v²); weights carry no gradient.
      const aligned = stopGradient(perToken).sub(stats.wpoLogDenomValues) as tf.Tensor1D; // [C]
      out.wpoWeights = tf.exp(sumPerRow(aligned).div(tf.maximum(tokenCounts, 1))) as tf.Tensor1D;
      stats.wpoLogDenomValues.dispose();
    }
    return out;
  });
}
