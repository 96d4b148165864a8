/**
 * evaluate(): the DPO metrics of a policy against a reference on preference pairs, without training — what
 * `dpo-ts eval`, the trainer's evaluation and the notebooks use.
 *
 * Pairs are scored in batches of perDeviceEvalBatchSize (memory is one batch's, whatever the number of pairs), and
 * aggregated as TRL 1.13 does in evaluation:
 * - "loss": transformers' evaluation loop repeats each batch's mean loss batch-size times and takes the mean over all
 *   pairs, i.e. the pair-weighted mean of the batch losses;
 * - every other metric: TRL's DPOTrainer appends each batch's mean to a list and logs the mean of that list, i.e. the
 *   unweighted mean over batches.
 */
import * as tf from "@tensorflow/tfjs";
import type { CausalLM } from "../model/io";
import { collatePairs, disposeBatch } from "./batch";
import { DPOConfig, DPOConfigInput, resolveConfig } from "./config";
import { completionLogps } from "./logps";
import { referenceLogpsOf } from "./reference";
import { dpoBatchLoss, METRIC_NAMES } from "./step";
import type { TokenizedPair } from "../data/tokenize";

/** The reference: a model, or its log-probs of these very pairs ([n, 2] flattened, see computeReferenceLogps). */
export type EvaluationReference = CausalLM | { logps: Float32Array };

/** evaluate's settings: the DPOConfig knobs that shape the loss and batching, and the tokenizer's pad token. */
export type EvaluateConfig = (DPOConfigInput | DPOConfig) & { padTokenId: number };

/** Mean DPO metrics over the pairs, with TRL's names ("loss", "rewards/chosen", …) and no "eval_" prefix. */
export async function evaluate(
  policy: CausalLM,
  reference: EvaluationReference,
  pairs: readonly TokenizedPair[],
  config: EvaluateConfig,
): Promise<Record<string, number>> {
  if (pairs.length === 0) throw new Error("evaluate: no pairs");
  const { padTokenId, ...rest } = config;
  const cfg = resolveConfig(rest as Record<string, unknown>, "evaluate");
  const batchSize = cfg.perDeviceEvalBatchSize;
  if ("logps" in reference && reference.logps.length !== 2 * pairs.length)
    throw new Error(`evaluate: ${reference.logps.length / 2} reference log-prob pairs for ${pairs.length} pairs`);
  const sums = new Float64Array(METRIC_NAMES.length);
  let weightedLoss = 0;
  let batches = 0;
  for (let start = 0; start < pairs.length; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, pairs.length - start) }, (_, i) => start + i);
    const batch = collatePairs(
      indices.map((i) => pairs[i]),
      padTokenId,
      { padToMultipleOf: cfg.padToMultipleOf },
    );
    const metrics = tf.tidy(() => {
      const referenceLogps =
        "logps" in reference ? referenceLogpsOf(reference.logps, indices) : completionLogps(reference, batch, { ldAlpha: cfg.ldAlpha }).logps;
      return dpoBatchLoss(policy, batch, referenceLogps, cfg).metrics;
    });
    disposeBatch(batch);
    const values = (await metrics.data()) as Float32Array;
    metrics.dispose();
    values.forEach((v, i) => (sums[i] += v));
    weightedLoss += values[0] * indices.length;
    batches += 1;
  }
  const out: Record<string, number> = {};
  METRIC_NAMES.forEach((name, i) => (out[name] = sums[i] / batches));
  out.loss = weightedLoss / pairs.length;
  return out;
}
