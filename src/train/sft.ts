/**
 * Supervised fine-tuning (SFT): the step before DPO in the article's recipe, where the policy learns the chat format.
 * Loss = mean negative log-likelihood of completion tokens (TRL SFTTrainer's completion-only loss on
 * prompt/completion data), same AdamW, clipping and schedule as the DPO trainer.
 */
import * as tf from "@tensorflow/tfjs";
import * as fs from "fs";
import * as path from "path";
import { CausalLM, saveModel } from "../model/io";
import type { Tokenizer } from "../tokenizer/tokenizer";
import { Rng } from "../util/rng";
import { collateSequences, disposeBatch, PromptCompletion } from "./batch";
import { completionLogps } from "./logps";
import { AdamW, gradientsByName, optimizerStep } from "./optimizer";
import { learningRateAt, SchedulerType } from "./scheduler";

/** Knobs of supervised fine-tuning (TRL SFTConfig names in camelCase). */
export interface SFTConfig {
  outputDir: string;
  learningRate: number;
  lrSchedulerType: SchedulerType;
  warmupSteps: number;
  perDeviceTrainBatchSize: number;
  maxSteps: number;
  maxLength: number;
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
  loggingSteps: number;
}

/** The defaults {@link trainSFT} fills in. */
export const DEFAULT_SFT_CONFIG: SFTConfig = {
  outputDir: "runs/sft",
  learningRate: 2e-5,
  lrSchedulerType: "linear",
  warmupSteps: 0,
  perDeviceTrainBatchSize: 8,
  maxSteps: 100,
  maxLength: 1024,
  weightDecay: 0,
  maxGradNorm: 1,
  seed: 42,
  loggingSteps: 10,
};

/** Prompt/completion text → token ids: completion without special tokens plus EOS, truncated to maxLength. */
export function tokenizeCompletion(row: { prompt: string; completion: string }, tok: Tokenizer, maxLength: number): PromptCompletion {
  const prompt = tok.encode(row.prompt, { addSpecialTokens: false });
  const completion = tok.encode(row.completion, { addSpecialTokens: false });
  if (completion[completion.length - 1] !== tok.eosTokenId) completion.push(tok.eosTokenId);
  const keptPrompt = prompt.slice(Math.max(0, prompt.length - Math.max(1, maxLength - 1)));
  return { prompt: keptPrompt, completion: completion.slice(0, Math.max(0, maxLength - keptPrompt.length)) };
}

/**
 * Supervised fine-tuning: trains `model` in place on prompt/completion rows (loss on the completion tokens only), calling
 * `onLog` every loggingSteps; returns the last loss, steps and seconds.
 */
export async function trainSFT(
  model: CausalLM,
  tokenizer: Tokenizer,
  rows: { prompt: string; completion: string }[],
  partial: Partial<SFTConfig> = {},
  onLog: (entry: { step: number; loss: number; grad_norm: number; learning_rate: number }) => void = () => {},
): Promise<{ loss: number; steps: number; seconds: number }> {
  const cfg = { ...DEFAULT_SFT_CONFIG, ...partial };
  const sequences = rows.map((r) => tokenizeCompletion(r, tokenizer, cfg.maxLength)).filter((s) => s.completion.length > 0);
  const optimizer = new AdamW({ weightDecay: cfg.weightDecay });
  const variables = model.trainableVariables();
  const rng = new Rng(cfg.seed);
  let order: number[] = [];
  const started = Date.now();
  let lastLoss = NaN;
  fs.mkdirSync(cfg.outputDir, { recursive: true });
  const log = path.join(cfg.outputDir, "sft_metrics.jsonl");
  fs.writeFileSync(log, "");
  for (let step = 0; step < cfg.maxSteps; step++) {
    if (order.length < cfg.perDeviceTrainBatchSize) {
      order = order.concat(rng.shuffle(sequences.map((_, i) => i)));
    }
    const batch = collateSequences(
      order.splice(0, cfg.perDeviceTrainBatchSize).map((i) => sequences[i]),
      tokenizer.padTokenId,
    );
    const { value, grads } = tf.variableGrads(() => {
      const { logps, tokenCounts } = completionLogps(model, batch);
      return logps.sum().neg().div(tokenCounts.sum()) as tf.Scalar;
    }, variables);
    disposeBatch(batch);
    const learningRate = learningRateAt(step, {
      learningRate: cfg.learningRate,
      type: cfg.lrSchedulerType,
      warmupSteps: cfg.warmupSteps,
      totalSteps: cfg.maxSteps,
    });
    const scalars = optimizer.nextScalars(learningRate);
    const norm = optimizerStep(optimizer, model.params, gradientsByName(model.params, grads), { maxGradNorm: cfg.maxGradNorm, scalars });
    tf.dispose(Object.values(scalars));
    if ((step + 1) % cfg.loggingSteps === 0 || step + 1 === cfg.maxSteps) {
      lastLoss = (await value.data())[0];
      const entry = { step: step + 1, loss: lastLoss, grad_norm: (await norm.data())[0], learning_rate: learningRate };
      fs.appendFileSync(log, JSON.stringify(entry) + "\n");
      onLog(entry);
    }
    value.dispose();
    norm.dispose();
  }
  optimizer.dispose();
  await saveModel(model, cfg.outputDir);
  await tokenizer.save(cfg.outputDir);
  return { loss: lastLoss, steps: cfg.maxSteps, seconds: (Date.now() - started) / 1000 };
}
