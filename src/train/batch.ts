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
  const batch = collateSequences(
    [...pairs.map((p) => ({ prompt: p.promptIds, completion: p.chosenIds })), ...pairs.map((p) => ({ prompt: p.promptIds, completion: p.rejectedIds }))],
    padTokenId,
  );
  return { ...batch, numPairs: pairs.length };
}

/** Prompt + completion token ids of one sequence. */
export interface PromptCompletion {
  prompt: number[];
  completion: number[];
}

export type SequenceBatch = Omit<PairBatch, "numPairs">;

/** Right-pads prompt+completion sequences into one batch (the rows in the given order). */
export function collateSequences(sequences: PromptCompletion[], padTokenId: number): SequenceBatch {
  if (sequences.length === 0) throw new Error("collateSequences: empty batch");
  const R = sequences.length;
  const T = Math.max(...sequences.map((s) => s.prompt.length + s.completion.length));
  const ids = new Int32Array(R * T).fill(padTokenId);
  const attention = new Int32Array(R * T);
  const completion = new Float32Array(R * T);
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
    inputIds: tf.tensor2d(ids, [R, T], "int32"),
    attentionMask: tf.tensor2d(attention, [R, T], "int32"),
    completionMask: tf.tensor2d(completion, [R, T], "float32"),
    tokenCount,
  };
}

export function disposeBatch(batch: SequenceBatch): void {
  batch.inputIds.dispose();
  batch.attentionMask.dispose();
  batch.completionMask.dispose();
}
