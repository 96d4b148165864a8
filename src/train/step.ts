/**
 * The DPO objective of one batch: one policy forward over [chosen; rejected] rows, completion log-probs, the loss
 * against the reference's log-probs, and TRL's metrics.
 */
import * as tf from "@tensorflow/tfjs";
import type { CausalLM } from "../model/io";
import type { PairBatch } from "./batch";
import { completionLogps } from "./logps";
import { dpoLoss, DPOLossOptions, lossTypeList } from "./loss";

/** What one batch's loss needs beyond the loss itself: how log-probs are taken (ldAlpha) and the forward's memory mode. */
export type DPOStepOptions = DPOLossOptions & { gradientCheckpointing?: boolean; ldAlpha?: number | null };

/** The per-batch metrics, in TRL's names and order. */
export const METRIC_NAMES = [
  "loss",
  "rewards/chosen",
  "rewards/rejected",
  "rewards/accuracies",
  "rewards/margins",
  "logps/chosen",
  "logps/rejected",
  "logits/chosen",
  "logits/rejected",
] as const;

/**
 * Mean DPO loss (scalar; differentiable w.r.t. the policy inside tf.variableGrads) and the metric vector
 * [METRIC_NAMES.length]. referenceLogps: [2B], chosen rows first.
 */
export function dpoBatchLoss(policy: CausalLM, batch: PairBatch, referenceLogps: tf.Tensor1D, opts: DPOStepOptions): { loss: tf.Scalar; metrics: tf.Tensor1D } {
  const B = batch.numPairs;
  const logps = completionLogps(policy, batch, { gradientCheckpointing: opts.gradientCheckpointing, ldAlpha: opts.ldAlpha, wpoWeights: opts.useWeighting }); // each [2B]
  const chosen = (t: tf.Tensor1D) => t.slice(0, B);
  const rejected = (t: tf.Tensor1D) => t.slice(B, B);
  const { losses, chosenRewards, rejectedRewards } = dpoLoss(
    {
      policyChosenLogps: chosen(logps.logps),
      policyRejectedLogps: rejected(logps.logps),
      referenceChosenLogps: chosen(referenceLogps),
      referenceRejectedLogps: rejected(referenceLogps),
      chosenLengths: chosen(logps.tokenCounts),
      rejectedLengths: rejected(logps.tokenCounts),
      // TRL's sft term: cross-entropy averaged over all chosen completion tokens of the batch (never ld-weighted).
      chosenNll: lossTypeList(opts.lossType).includes("sft")
        ? (chosen(logps.rawLogps)
            .sum()
            .neg()
            .div(tf.maximum(chosen(logps.tokenCounts).sum(), 1)) as tf.Scalar)
        : undefined,
      chosenWeights: logps.wpoWeights && chosen(logps.wpoWeights),
      rejectedWeights: logps.wpoWeights && rejected(logps.wpoWeights),
    },
    opts,
  );
  const loss = losses.mean() as tf.Scalar;
  const metrics = tf.stack([
    loss,
    chosenRewards.mean(),
    rejectedRewards.mean(),
    chosenRewards.greater(rejectedRewards).cast("float32").mean(), // strict >, like TRL
    chosenRewards.sub(rejectedRewards).mean(),
    chosen(logps.logps).mean(),
    rejected(logps.logps).mean(),
    chosen(logps.meanLogitSums).sum().div(chosen(logps.tokenCounts).sum()), // token-weighted, TRL 1.x
    rejected(logps.meanLogitSums).sum().div(rejected(logps.tokenCounts).sum()),
  ]) as tf.Tensor1D;
  return { loss, metrics };
}
