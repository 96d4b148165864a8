/**
 * Sample generations and the run report: greedy completions of the reference for the first eval (else train) prompts
 * before training (while the reference is still loaded), of the trained policy after, saved to OUT/samples.json;
 * then OUT/report.html from the log, config and samples in memory (DPOConfig.numSampleGenerations, writeReport).
 */
import * as fs from "fs";
import * as path from "path";
import type { CausalLM } from "../../model/io";
import { generate } from "../../model/generate";
import { writeReport, SampleGeneration } from "../../metrics/report";
import type { DPOConfig } from "../config";
import type { TrainerCallback, TrainerContext, TrainerState } from "./callback";

/** Greedy completions of `model` for prompts (token ids), decoded without special tokens. */
export async function greedyCompletions(model: CausalLM, context: TrainerContext, prompts: readonly number[][]): Promise<string[]> {
  const out: string[] = [];
  for (const promptIds of prompts) {
    const g = await generate(model, promptIds, { maxNewTokens: context.config.sampleMaxNewTokens, eosTokenId: context.tokenizer.eosTokenId });
    out.push(context.tokenizer.decode(g.tokens, { skipSpecialTokens: true }));
  }
  return out;
}

/** Greedy samples of the reference before training and of the policy after (OUT/samples.json), then OUT/report.html. */
export class SamplesAndReport implements TrainerCallback {
  private prompts: number[][] = [];
  private referenceCompletions: string[] = [];

  /** Generates the reference's samples now, while the reference is loaded. */
  async onTrainBegin(_state: TrainerState, config: DPOConfig, context: TrainerContext): Promise<void> {
    const source = context.evalPairs.length ? context.evalPairs : context.trainPairs;
    this.prompts = source.slice(0, config.numSampleGenerations).map((p) => p.promptIds);
    // The reference is released after precomputing its log-probs: generate its samples now.
    if (this.prompts.length && context.refModel) this.referenceCompletions = await greedyCompletions(context.refModel, context, this.prompts);
  }

  /** Generates the policy's samples, writes samples.json and report.html. */
  async onTrainEnd(state: TrainerState, context: TrainerContext): Promise<void> {
    const { config } = context;
    let samples: SampleGeneration[] | undefined;
    if (this.prompts.length) {
      const policy = await greedyCompletions(context.model, context, this.prompts);
      samples = this.prompts.map((ids, i) => ({
        prompt: context.tokenizer.decode(ids, { skipSpecialTokens: false }),
        policy: policy[i],
        reference: this.referenceCompletions[i] ?? "",
      }));
      fs.writeFileSync(path.join(config.outputDir, "samples.json"), JSON.stringify(samples, null, 2) + "\n");
    }
    if (config.writeReport) writeReport(config.outputDir, { log: state.logHistory, config: config as unknown as Record<string, unknown>, samples });
  }
}
