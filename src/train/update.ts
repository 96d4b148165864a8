/**
 * One DPO update: gradient accumulation over the update's micro-batches (each micro-batch's loss divided by their
 * number, gradients summed, as transformers' Trainer does), then the shared optimizer step (clip + AdamW).
 * Used eagerly by the trainer and, with compileStep, traced into one graph (src/train/compiled.ts).
 */
import * as tf from "@tensorflow/tfjs";
import type { CausalLM } from "../model/io";
import type { PairBatch } from "./batch";
import type { DPOConfig } from "./config";
import { dpoBatchLoss } from "./step";
import { AdamW, AdamWScalars, gradientsByName, optimizerStep } from "./optimizer";

/** One micro-batch of an update: the collated pairs and their precomputed reference log-probs. */
export interface MicroBatch {
  batch: PairBatch;
  /** Reference log-probs of the batch's 2B rows: [2B], chosen first. Disposed by the update. */
  referenceLogps: tf.Tensor1D;
}

/** Thrown when a loss or gradient norm is NaN or infinite: the update that produced it was not applied. */
export class NonFiniteError extends Error {
  constructor(
    readonly step: number,
    readonly metric: string,
    readonly value: number,
  ) {
    super(`step ${step}: ${metric} is ${value} (not finite); the run stopped before applying this update — lower the learning rate or enable maxGradNorm`);
    this.name = "NonFiniteError";
  }
}

/**
 * One micro-batch's share of an update: the gradients of its loss divided by the update's number of micro-batches,
 * by parameter name (trainable weights only), and its metric sums [METRIC_NAMES.length]. Disposes the micro-batch's
 * reference log-probs.
 */
export function microBatchGradients(
  model: CausalLM,
  microBatch: MicroBatch,
  config: DPOConfig,
  microBatchCount: number,
): { grads: Map<string, tf.Tensor>; metrics: tf.Tensor1D } {
  let metrics: tf.Tensor1D | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const out = dpoBatchLoss(model, microBatch.batch, microBatch.referenceLogps, config);
    metrics = tf.keep(out.metrics);
    return out.loss.div(microBatchCount) as tf.Scalar;
  }, model.trainableVariables());
  value.dispose();
  microBatch.referenceLogps.dispose();
  return { grads: gradientsByName(model.params, grads), metrics: metrics! };
}

/** The sum of two gradient maps (same names), in a new map; both inputs are disposed. */
export function addGradients(sum: Map<string, tf.Tensor>, grads: Map<string, tf.Tensor>): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, grad] of grads) {
    out.set(name, sum.get(name)!.add(grad));
    tf.dispose([sum.get(name)!, grad]);
  }
  return out;
}

/**
 * Sums the gradients of every micro-batch (loss / number of micro-batches), clips and applies AdamW.
 * Returns the metric sums over the micro-batches [METRIC_NAMES.length] and the gradient norm before clipping.
 * `guard(metricSum, norm)` runs before the weights change and may throw (see NonFiniteError).
 */
export function dpoUpdate(
  model: CausalLM,
  optimizer: AdamW,
  microBatches: MicroBatch[],
  config: DPOConfig,
  scalars: AdamWScalars,
  guard?: (metricSum: tf.Tensor1D, norm: tf.Scalar) => void,
): { metricSum: tf.Tensor1D; gradNorm: tf.Scalar } {
  let accumulated: Map<string, tf.Tensor> | null = null;
  let metricSum: tf.Tensor1D | null = null;
  for (const microBatch of microBatches) {
    const { grads, metrics } = microBatchGradients(model, microBatch, config, microBatches.length);
    accumulated = accumulated ? addGradients(accumulated, grads) : grads;
    const next: tf.Tensor1D = metricSum ? metricSum.add(metrics) : metrics;
    if (metricSum) tf.dispose([metricSum, metrics]);
    metricSum = next;
  }
  const sums = metricSum!;
  try {
    const gradNorm = optimizerStep(optimizer, model.params, accumulated!, {
      maxGradNorm: config.maxGradNorm,
      scalars,
      guard: guard && ((norm) => guard(sums, norm)),
    });
    return { metricSum: sums, gradNorm };
  } catch (e) {
    sums.dispose();
    throw e;
  }
}
