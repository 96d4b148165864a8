/**
 * Judged win rate of one model over another: both answer the same prompts (greedy by default), the judge scores each
 * answer, and a prompt is a win (1), a tie (½) or a loss (0) for the model. Reports the win rate with a 95% Wilson
 * score interval (ties counted as half a win), n, and each model's mean judged reward. The answers are decoded many
 * prompts at a time by the server's continuous batcher (greedy answers equal generate()'s one by one).
 */
import { chatmlPrompt } from "../data/format";
import { generate } from "../model/generate";
import { ContinuousBatcher } from "../serve/batcher";
import type { CausalLM } from "../model/io";
import type { Tokenizer } from "../tokenizer/tokenizer";
import type { Prompt } from "./held-out";
import { Judgement, judgeWorldAnswer, worldQuestionsOf } from "./judge";

/** Options of {@link judgeModels}: the model and reference compared, the prompts and the generation settings. */
export interface JudgeModelsOptions {
  model: CausalLM;
  reference: CausalLM;
  prompts: readonly Prompt[];
  tokenizer: Tokenizer;
  /** Tokens per answer at most. Default 48. */
  maxNewTokens?: number;
  /** 0 = greedy (default). */
  temperature?: number;
  /** Sampling seed (per prompt: seed + index). Default 0. */
  seed?: number;
}

/** One prompt judged: both models' answers and the judge's reading of each. */
export interface JudgedPrompt extends Prompt {
  answer: string;
  answerRef: string;
  judgement: Judgement;
  judgementRef: Judgement;
}

/** How often the model's answer beats the reference's (ties count half), its 95% Wilson interval, the mean judge scores and the win / tie / loss counts. */
export interface WinRate {
  win_rate: number;
  ci_low: number;
  ci_high: number;
  n: number;
  mean_reward: number;
  mean_reward_ref: number;
  /** Wins, ties and losses of the model. */
  wins: number;
  ties: number;
  losses: number;
}

/** 95% Wilson score interval of a proportion p observed over n trials. */
export function wilsonInterval(p: number, n: number, z = 1.959963984540054): [number, number] {
  if (n === 0) return [0, 1];
  const denom = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** The win rate of scores `a` over scores `b` (same prompts, same order); ties count half. */
export function winRate(a: readonly number[], b: readonly number[]): WinRate {
  if (a.length !== b.length) throw new Error(`winRate: ${a.length} scores against ${b.length}`);
  const n = a.length;
  const wins = a.filter((s, i) => s > b[i]).length;
  const ties = a.filter((s, i) => s === b[i]).length;
  const rate = n === 0 ? 0.5 : (wins + ties / 2) / n;
  const [lo, hi] = wilsonInterval(rate, n);
  const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);
  return { win_rate: rate, ci_low: lo, ci_high: hi, n, mean_reward: mean(a), mean_reward_ref: mean(b), wins, ties, losses: n - wins - ties };
}

/** One sampled (or greedy) answer: the prompt's token ids, the answer's token ids (the EOS that ended it included) and its text. */
export interface SampledAnswer {
  promptIds: number[];
  tokens: number[];
  text: string;
}

/** The answer `model` gives to `prompt` in the ChatML layout of the course, with its token ids (see {@link answerPrompt}). */
export async function sampleAnswer(
  model: CausalLM,
  tokenizer: Tokenizer,
  prompt: Prompt,
  opts: { maxNewTokens?: number; temperature?: number; seed?: number } = {},
): Promise<SampledAnswer> {
  const promptIds = tokenizer.encode(chatmlPrompt(prompt.system, prompt.question, tokenizer), { addSpecialTokens: false });
  const out = await generate(model, promptIds, {
    maxNewTokens: opts.maxNewTokens ?? 48,
    temperature: opts.temperature ?? 0,
    seed: opts.seed ?? 0,
    eosTokenId: tokenizer.eosTokenId,
  });
  return { promptIds, tokens: out.tokens, text: tokenizer.decode(out.tokens, { skipSpecialTokens: true }).trim() };
}

/**
 * The answers `model` gives to each of `prompts` (ChatML layout), decoded many at a time by the server's continuous
 * batcher, with their token ids: greedy answers equal {@link sampleAnswer}'s; sampled ones draw from the full softmax at
 * `temperature` (no top-k / top-p) with seed `seeds[i]` for prompt i (default i).
 */
export async function sampleAnswers(
  model: CausalLM,
  tokenizer: Tokenizer,
  prompts: readonly Prompt[],
  opts: { maxNewTokens?: number; temperature?: number; seeds?: readonly number[]; maxBatchSize?: number } = {},
): Promise<SampledAnswer[]> {
  const promptIds = prompts.map((p) => tokenizer.encode(chatmlPrompt(p.system, p.question, tokenizer), { addSpecialTokens: false }));
  const batcher = new ContinuousBatcher(model, { contextLength: model.config.nPositions, maxBatchSize: opts.maxBatchSize ?? 64, maxQueue: prompts.length });
  try {
    const handles = promptIds.map((ids, i) =>
      batcher.submit({
        promptIds: ids,
        maxNewTokens: opts.maxNewTokens ?? 48,
        temperature: opts.temperature ?? 0,
        topP: 1,
        topK: 0,
        seed: opts.seeds?.[i] ?? i,
        stopIds: [tokenizer.eosTokenId],
      }),
    );
    const results = await Promise.all(handles.map((h) => h.result));
    return results.map((r, i) => ({ promptIds: promptIds[i], tokens: r.tokens, text: tokenizer.decode(r.tokens, { skipSpecialTokens: true }).trim() }));
  } finally {
    batcher.close();
  }
}

/** The answer `model` gives to `prompt` in the ChatML layout of the course (special tokens left out). */
export async function answerPrompt(
  model: CausalLM,
  tokenizer: Tokenizer,
  prompt: Prompt,
  opts: { maxNewTokens?: number; temperature?: number; seed?: number } = {},
): Promise<string> {
  return (await sampleAnswer(model, tokenizer, prompt, opts)).text;
}

/**
 * The answers `model` gives to each of `prompts` (ChatML layout, special tokens left out), decoded together by a
 * continuous batcher ({@link sampleAnswers} without the token ids): greedy answers equal {@link answerPrompt}'s.
 */
export async function answerPrompts(
  model: CausalLM,
  tokenizer: Tokenizer,
  prompts: readonly Prompt[],
  opts: { maxNewTokens?: number; temperature?: number; seeds?: readonly number[]; maxBatchSize?: number } = {},
): Promise<string[]> {
  return (await sampleAnswers(model, tokenizer, prompts, opts)).map((a) => a.text);
}

/** Both models answer every prompt; returns the win rate of `model` over `reference` and every judged answer. */
export async function judgeModels(opts: JudgeModelsOptions): Promise<WinRate & { judged: JudgedPrompt[] }> {
  const questions = worldQuestionsOf(opts.prompts, "judgeModels");
  const gen = { maxNewTokens: opts.maxNewTokens, temperature: opts.temperature, seeds: opts.prompts.map((_, i) => (opts.seed ?? 0) + i) };
  const answers = await answerPrompts(opts.model, opts.tokenizer, opts.prompts, gen);
  const answersRef = await answerPrompts(opts.reference, opts.tokenizer, opts.prompts, gen);
  const judged: JudgedPrompt[] = opts.prompts.map((p, i) => ({
    ...p,
    answer: answers[i],
    answerRef: answersRef[i],
    judgement: judgeWorldAnswer(questions[i], answers[i]),
    judgementRef: judgeWorldAnswer(questions[i], answersRef[i]),
  }));
  return {
    ...winRate(
      judged.map((j) => j.judgement.score),
      judged.map((j) => j.judgementRef.score),
    ),
    judged,
  };
}
