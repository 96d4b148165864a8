/**
 * Preference pairs built the way the DPO paper builds its IMDb pairs: sample several answers per prompt from the SFT
 * model, let the judge (the stand-in for the reward model / labellers) score them, and keep the best as chosen and
 * the worst as rejected, in Intel/orca_dpo_pairs columns. The pairs then teach DPO about the SFT model's own
 * mistakes (wrong facts it actually produces), not only about the generator's hand-made bad kinds.
 */
import type { OrcaRow } from "../data/preferences";
import type { CausalLM } from "../model/io";
import type { Tokenizer } from "../tokenizer/tokenizer";
import type { Prompt } from "./held-out";
import { judgeWorldAnswer, worldQuestionsOf } from "./judge";
import { answerPrompts } from "./win-rate";

/** Options of {@link judgedPairs}: the model that samples, its tokenizer, the prompts and the sampling settings. */
export interface JudgedPairsOptions {
  model: CausalLM;
  tokenizer: Tokenizer;
  prompts: readonly Prompt[];
  /** Answers sampled per prompt. Default 4. */
  samples?: number;
  /** Sampling temperature. Default 1. */
  temperature?: number;
  /** Tokens per answer at most. Default 48. */
  maxNewTokens?: number;
  /** Seed of the first sample (sample k of prompt i uses seed + i * samples + k). Default 0. */
  seed?: number;
}

/** A preference pair built from two judged samples, with the judge's scores of both. */
export interface JudgedPair extends OrcaRow {
  score_chosen: number;
  score_rejected: number;
}

/** The preference pairs {@link judgedPairs} built, and the prompts that gave none. */
export interface JudgedPairsResult {
  pairs: JudgedPair[];
  /** Prompts whose non-empty samples all scored the same (no preference to learn), by 1-based index, with that score. */
  noPreference: { index: number; question: string; score: number }[];
}

/** Samples, judges and pairs (best vs worst non-empty sample; the first sampled wins a tie) the SFT model's answers to each prompt. */
export async function buildJudgedPairs(opts: JudgedPairsOptions): Promise<JudgedPairsResult> {
  const samples = opts.samples ?? 4;
  if (!Number.isInteger(samples) || samples < 2) throw new Error(`buildJudgedPairs: samples must be an integer ≥ 2, got ${samples}`);
  const pairs: JudgedPair[] = [];
  const noPreference: JudgedPairsResult["noPreference"] = [];
  const questions = worldQuestionsOf(opts.prompts, "buildJudgedPairs");
  // Every sample of every prompt decoded together: prompt i's sample k is request i * samples + k, with that seed offset.
  const requests = opts.prompts.flatMap((p) => Array.from({ length: samples }, () => p));
  const answers = await answerPrompts(opts.model, opts.tokenizer, requests, {
    maxNewTokens: opts.maxNewTokens ?? 48,
    temperature: opts.temperature ?? 1,
    seeds: requests.map((_, j) => (opts.seed ?? 0) + j),
  });
  for (const [i, p] of opts.prompts.entries()) {
    const judged = answers.slice(i * samples, (i + 1) * samples).map((answer) => ({ answer, score: judgeWorldAnswer(questions[i], answer).score }));
    // Empty samples (EOS at once) cannot be a pair's side: the Orca columns, and the readers, need text.
    const usable = judged.filter((j) => j.answer.length > 0);
    const best = usable.reduce((a, b) => (b.score > a.score ? b : a), usable[0]);
    const worst = usable.reduce((a, b) => (b.score < a.score ? b : a), usable[0]);
    if (!best || best.score === worst.score) noPreference.push({ index: i + 1, question: p.question, score: best?.score ?? 0 });
    else
      pairs.push({
        system: p.system,
        question: p.question,
        chosen: best.answer,
        rejected: worst.answer,
        score_chosen: best.score,
        score_rejected: worst.score,
      });
  }
  return { pairs, noPreference };
}
