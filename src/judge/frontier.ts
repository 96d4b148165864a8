/**
 * One point of the reward–KL frontier (the DPO paper's Fig. 2): the policy samples an answer to each held-out prompt
 * at temperature 1, the judge scores each answer (the "reward"), and KL(π ‖ π_ref) is estimated from the same samples'
 * sequence log-probabilities under the policy and the reference:
 *
 *   KL(π ‖ π_ref) = E_{x, y ~ π(·|x)} [log π(y|x) − log π_ref(y|x)]  ≈  mean over the samples of that difference.
 *
 * The estimate is unbiased only for samples drawn from π itself, so sampling is always at temperature 1 with no
 * top-k / top-p. Answers are cut at maxNewTokens: the KL is then that of the answers' first maxNewTokens tokens.
 */
import * as tf from "@tensorflow/tfjs";
import type { CausalLM } from "../model/io";
import type { Tokenizer } from "../tokenizer/tokenizer";
import { collateSequences, disposeBatch, PromptCompletion } from "../train/batch";
import { completionLogps } from "../train/logps";
import type { Prompt } from "./held-out";
import { judgeWorldAnswer, worldQuestionsOf } from "./judge";
import type { Verdict } from "./judge";
import { sampleAnswers } from "./win-rate";

/** A mean over samples with its standard error (sample standard deviation / √n). */
export interface MeanEstimate {
  mean: number;
  stdErr: number;
  n: number;
}

/** The mean of `values` and its standard error (0 for fewer than two values). */
export function meanEstimate(values: readonly number[]): MeanEstimate {
  const n = values.length;
  if (n === 0) throw new Error("meanEstimate: no values");
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const variance = n > 1 ? values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, stdErr: Math.sqrt(variance / n), n };
}

/**
 * KL(π ‖ π_ref) from samples y ~ π: the mean of log π(y|x) − log π_ref(y|x) over the samples (nats), with its standard
 * error. `policyLogps[i]` and `refLogps[i]` are the summed log-probabilities of sample i under each model.
 */
export function klEstimate(policyLogps: readonly number[], refLogps: readonly number[]): MeanEstimate {
  if (policyLogps.length !== refLogps.length) throw new Error(`klEstimate: ${policyLogps.length} policy log-probs against ${refLogps.length} reference ones`);
  return meanEstimate(policyLogps.map((lp, i) => lp - refLogps[i]));
}

/**
 * Summed log-probability of each completion given its prompt under `model` (token ids in, nats out), in batches of
 * `batchSize` sequences: log π(y|x) = Σ_t log π(y_t | x, y_<t).
 */
export function sequenceLogps(model: CausalLM, sequences: readonly PromptCompletion[], padTokenId: number, batchSize = 16): number[] {
  const out: number[] = [];
  for (let start = 0; start < sequences.length; start += batchSize) {
    const batch = collateSequences(sequences.slice(start, start + batchSize), padTokenId);
    try {
      const logps = tf.tidy(() => completionLogps(model, batch).rawLogps); // [R]
      out.push(...logps.dataSync());
      logps.dispose();
    } finally {
      disposeBatch(batch);
    }
  }
  return out;
}

/** The policy, the reference and the prompts {@link frontierPoint} measures, and how it samples. */
export interface FrontierPointOptions {
  policy: CausalLM;
  reference: CausalLM;
  tokenizer: Tokenizer;
  /** Held-out prompts: questions of the course's world (the judge needs the ground truth). */
  prompts: readonly Prompt[];
  /** Answers sampled per prompt. Default 1. */
  samplesPerPrompt?: number;
  /** Tokens per answer at most. Default 48. */
  maxNewTokens?: number;
  /** Seed of the first sample (sample k of prompt i uses seed + i · samplesPerPrompt + k). Default 0. */
  seed?: number;
  /** Sequences per forward pass when scoring the samples. Default 16. */
  batchSize?: number;
}

/** One sampled answer, judged, with its log-probability under both models. */
export interface FrontierSample extends Prompt {
  answer: string;
  reward: number;
  verdict: Verdict;
  policyLogp: number;
  refLogp: number;
}

/** Where a policy sits on the reward–KL plane. */
export interface FrontierPoint {
  /** Estimated KL(π ‖ π_ref) in nats per answer, and its standard error. */
  kl: number;
  klStdErr: number;
  /** Mean judged reward of the sampled answers (in [0, 1]), and its standard error. */
  meanReward: number;
  rewardStdErr: number;
  /** Sampled answers. */
  n: number;
  samples: FrontierSample[];
}

/** Samples the policy on every prompt at temperature 1, judges the answers and estimates KL(π ‖ π_ref) from them. */
export async function frontierPoint(opts: FrontierPointOptions): Promise<FrontierPoint> {
  const perPrompt = opts.samplesPerPrompt ?? 1;
  if (!Number.isInteger(perPrompt) || perPrompt < 1) throw new Error(`frontierPoint: samplesPerPrompt must be a positive integer, got ${perPrompt}`);
  if (opts.prompts.length === 0) throw new Error("frontierPoint: no prompts");
  const seed = opts.seed ?? 0;
  const questions = worldQuestionsOf(opts.prompts, "frontierPoint");
  // Sample k of prompt i is request i · perPrompt + k, with that seed offset; all are decoded together.
  const requests = opts.prompts.flatMap((prompt) => Array.from({ length: perPrompt }, () => prompt));
  const answers = await sampleAnswers(opts.policy, opts.tokenizer, requests, {
    maxNewTokens: opts.maxNewTokens ?? 48,
    temperature: 1,
    seeds: requests.map((_, j) => seed + j),
  });
  const drawn = answers.map((sample, j) => {
    const judgement = judgeWorldAnswer(questions[Math.floor(j / perPrompt)], sample.text);
    return {
      prompt: requests[j],
      sequence: { prompt: sample.promptIds, completion: sample.tokens },
      answer: sample.text,
      reward: judgement.score,
      verdict: judgement.verdict,
    };
  });
  const sequences = drawn.map((d) => d.sequence);
  const policyLogps = sequenceLogps(opts.policy, sequences, opts.tokenizer.padTokenId, opts.batchSize);
  const refLogps = opts.reference === opts.policy ? policyLogps : sequenceLogps(opts.reference, sequences, opts.tokenizer.padTokenId, opts.batchSize);
  const kl = klEstimate(policyLogps, refLogps);
  const reward = meanEstimate(drawn.map((d) => d.reward));
  return {
    kl: kl.mean,
    klStdErr: kl.stdErr,
    meanReward: reward.mean,
    rewardStdErr: reward.stdErr,
    n: drawn.length,
    samples: drawn.map((d, i) => ({ ...d.prompt, answer: d.answer, reward: d.reward, verdict: d.verdict, policyLogp: policyLogps[i], refLogp: refLogps[i] })),
  };
}
