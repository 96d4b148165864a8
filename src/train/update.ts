/**
 * One DPO update: gradient accumulation over the update's micro-batches (each micro-batch's loss divided by their
 * number, gradients summed, as transformers' Trainer does), then the shared optimizer step (clip + AdamW).
 * Used eagerly by the trainer; with compileStep, the gradients and clipping are traced into one graph
 * (src/train/compiled.ts) and AdamW runs after it.
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
 * The gradients of one update: each micro-batch's loss divided by their number, gradients summed by parameter name.
 * Returns them with the metric sums over the micro-batches [METRIC_NAMES.length]. Disposes the reference log-probs.
 */
export function dpoGradients(model: CausalLM, microBatches: MicroBatch[], config: DPOConfig): { metricSum: tf.Tensor1D; grads: Map<string, tf.Tensor> } {
  const variables = model.trainableVariables();
  let accumulated: Map<string, tf.Tensor> | null = null;
  let metricSum: tf.Tensor1D | null = null;
  for (const { batch, referenceLogps } of microBatches) {
    let metrics: tf.Tensor1D | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const out = dpoBatchLoss(model, batch, referenceLogps, config);
      metrics = tf.keep(out.metrics);
      return out.loss.div(microBatches.length) as tf.Scalar;
    }, variables);
    value.dispose();
    referenceLogps.dispose();
    const named = gradientsByName(model.params, grads);
    if (!accumulated) accumulated = named;
    else {
      for (const [name, grad] of named) {
        const sum = accumulated.get(name)!.add(grad);
        tf.dispose([accumulated.get(name)!, grad]);
        accumulated.set(name, sum);
      }
    }
    const next: tf.Tensor1D = metricSum ? metricSum.add(metrics!) : metrics!;
    if (metricSum) tf.dispose([metricSum, metrics!]);
    metricSum = next;
  }
  return { metricSum: metricSum!, grads: accumulated! };
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
  const { metricSum: sums, grads } = dpoGradients(model, microBatches, config);
  try {
    const gradNorm = optimizerStep(optimizer, model.params, grads, {
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
