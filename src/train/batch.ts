/**
 * Collation of preference pairs into one padded batch: chosen sequences in rows 0..B-1, rejected in rows B..2B-1,
 * so one forward pass scores both (TRL's concatenated_forward). Rows are right-padded to the batch's longest row.
 */
import * as tf from "@tensorflow/tfjs";

/** One tokenized preference pair (TRL's tokenization contract, see src/data/tokenize.ts). */
export interface TokenIdsPair {
  promptIds: number[];
  chosenIds: number[];
  rejectedIds: number[];
}

export interface PairBatch {
  numPairs: number; // B
  /** int32 [2B, T] */
  inputIds: tf.Tensor2D;
  /** 1 for real tokens, 0 for padding: int32 [2B, T] */
  attentionMask: tf.Tensor2D;
  /** 1 on completion tokens (the tokens whose log-probs DPO sums): float32 [2B, T] */
  completionMask: tf.Tensor2D;
  /** Non-padding tokens in the batch (prompt + completion, chosen and rejected). */
  tokenCount: number;
}

export function collatePairs(pairs: TokenIdsPair[], padTokenId: number): PairBatch {
  if (pairs.length === 0) throw new Error("collatePairs: empty batch");
  const B = pairs.length;
  const sequences: { prompt: number[]; completion: number[] }[] = [
    ...pairs.map((p) => ({ prompt: p.promptIds, completion: p.chosenIds })),
    ...pairs.map((p) => ({ prompt: p.promptIds, completion: p.rejectedIds })),
  ];
  const T = Math.max(...sequences.map((s) => s.prompt.length + s.completion.length));
  const ids = new Int32Array(2 * B * T).fill(padTokenId);
  const attention = new Int32Array(2 * B * T);
  const completion = new Float32Array(2 * B * T);
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
      completion[at] = 1;
    });
    tokenCount += s.prompt.length + s.completion.length;
  });
  return {
    numPairs: B,
    inputIds: tf.tensor2d(ids, [2 * B, T], "int32"),
    attentionMask: tf.tensor2d(attention, [2 * B, T], "int32"),
    completionMask: tf.tensor2d(completion, [2 * B, T], "float32"),
    tokenCount,
  };
}

export function disposeBatch(batch: PairBatch): void {
  batch.inputIds.dispose();
  batch.attentionMask.dispose();
  batch.completionMask.dispose();
}
