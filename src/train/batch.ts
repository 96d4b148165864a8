/**
 * Collation of preference pairs into one padded batch: chosen sequences in rows 0..B-1, rejected in rows B..2B-1,
 * so one forward pass scores both (TRL's concatenated_forward). Rows are right-padded to the batch's longest row.
 * Also the training order: micro-batches of pair indices shuffled by the data RNG (microBatchOrder).
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../util/rng";
import type { TokenizedPair } from "../data/tokenize";

/** A padded batch of B preference pairs: 2B rows, [chosen; rejected], with masks and the positions whose labels count. */
export interface PairBatch {
  numPairs: number; // B
  /** int32 [2B, T] */
  inputIds: tf.Tensor2D;
  /** 1 for real tokens, 0 for padding: int32 [2B, T] */
  attentionMask: tf.Tensor2D;
  /** The C completion tokens (the tokens whose log-probs DPO sums), each predicted from the position before it:
   * flat index row·T + t of that predicting position, int32 [C] (positions of prompts and padding never reach the LM head). */
  labelPositions: tf.Tensor1D;
  /** The completion token ids those positions predict: int32 [C]. */
  labels: tf.Tensor1D;
  /** labelRows[r, c] = 1 when label c belongs to row r: float32 [2B, C]; a matMul with it sums per-token values per row. */
  labelRows: tf.Tensor2D;
  /** Non-padding tokens in the batch (prompt + completion, chosen and rejected). */
  tokenCount: number;
}

/** How a batch is shaped. */
export interface CollateOptions {
  /** Pad the length T up to a multiple of this (TRL's pad_to_multiple_of); 0 or 1 pads to the longest row only. */
  padToMultipleOf?: number;
  /** Pad to at least this length (before rounding up to padToMultipleOf). */
  padToLength?: number;
  /** One label slot per position (C = R·T; slots that predict no completion token are zero columns of labelRows),
   * so that the batch's shapes depend on R and T only: what a compiled step, traced once per shape, needs. */
  labelsAtEveryPosition?: boolean;
}

/** Pads B pairs into one {@link PairBatch} of 2B rows, chosen rows first; throws on an empty batch. The caller disposes it ({@link disposeBatch}). */
export function collatePairs(pairs: TokenizedPair[], padTokenId: number, opts: CollateOptions = {}): PairBatch {
  if (pairs.length === 0) throw new Error("collatePairs: empty batch");
  const batch = collateSequences(
    [
      ...pairs.map((p) => ({ prompt: p.promptIds, completion: p.chosenIds })),
      ...pairs.map((p) => ({ prompt: p.rejectedPromptIds ?? p.promptIds, completion: p.rejectedIds })),
    ],
    padTokenId,
    opts,
  );
  return { ...batch, numPairs: pairs.length };
}

/** Prompt + completion token ids of one sequence. */
export interface PromptCompletion {
  prompt: number[];
  completion: number[];
}

/** A padded batch of prompt + completion sequences (a {@link PairBatch} without the pair count). */
export type SequenceBatch = Omit<PairBatch, "numPairs">;

/** Right-pads prompt+completion sequences into one batch (the rows in the given order). */
export function collateSequences(sequences: PromptCompletion[], padTokenId: number, opts: CollateOptions = {}): SequenceBatch {
  if (sequences.length === 0) throw new Error("collateSequences: empty batch");
  const R = sequences.length;
  const longest = Math.max(opts.padToLength ?? 0, ...sequences.map((s) => s.prompt.length + s.completion.length));
  const multiple = Math.max(1, opts.padToMultipleOf ?? 1);
  const T = Math.ceil(longest / multiple) * multiple;
  const ids = new Int32Array(R * T).fill(padTokenId);
  const attention = new Int32Array(R * T);
  const positions: number[] = [];
  const labels: number[] = [];
  const labelRowOf: number[] = [];
  let tokenCount = 0;
  sequences.forEach((s, row) => {
    const base = row * T;
    s.prompt.forEach((id, i) => {
      ids[base + i] = id;
      attention[base + i] = 1;
    });
    s.completion.forEach((id, i) => {
      const at = base + s.prompt.length + i;
      ids[at] = id;
      attention[at] = 1;
      // Position at−1 predicts this token; a completion token at position 0 has no predictor (as in TRL's shift).
      if (at > base) {
        positions.push(at - 1);
        labels.push(id);
        labelRowOf.push(row);
      }
    });
    tokenCount += s.prompt.length + s.completion.length;
  });
  // Label slots: one per completion token, or one per position (slot p holds the token at p+1; slots that predict
  // no completion token stay zero columns of labelRows).
  const everyPosition = opts.labelsAtEveryPosition ?? false;
  const C = everyPosition ? R * T : labels.length;
  const slotPositions = everyPosition ? Int32Array.from({ length: C }, (_, i) => i) : Int32Array.from(positions);
  const slotLabels = new Int32Array(C);
  const labelRows = new Float32Array(R * C);
  labels.forEach((id, c) => {
    const slot = everyPosition ? positions[c] : c;
    slotLabels[slot] = id;
    labelRows[labelRowOf[c] * C + slot] = 1;
  });
  return {
    inputIds: tf.tensor2d(ids, [R, T], "int32"),
    attentionMask: tf.tensor2d(attention, [R, T], "int32"),
    labelPositions: tf.tensor1d(slotPositions, "int32"),
    labels: tf.tensor1d(slotLabels, "int32"),
    labelRows: tf.tensor2d(labelRows, [R, C], "float32"),
    tokenCount,
  };
}

/** Disposes every tensor of a batch. */
export function disposeBatch(batch: SequenceBatch): void {
  batch.inputIds.dispose();
  batch.attentionMask.dispose();
  batch.labelPositions.dispose();
  batch.labels.dispose();
  batch.labelRows.dispose();
}

/**
 * The training order: micro-batches of pair indices, epoch after epoch, each epoch a fresh shuffle by the data RNG
 * (seeded with DPOConfig.seed). The order is a function of (n, batchSize, seed) alone, so a resumed run replays it and
 * skips the micro-batches already consumed.
 */
export function* microBatchOrder(n: number, batchSize: number, seed: number, skip = 0): Generator<{ indices: number[]; epoch: number }> {
  const rng = new Rng(seed);
  let position = 0;
  for (let epoch = 0; ; epoch++) {
    const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
    for (let start = 0; start < n; start += batchSize, position++) {
      if (position >= skip) yield { indices: order.slice(start, start + batchSize), epoch };
    }
  }
}
