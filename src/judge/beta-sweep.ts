/**
 * The β sweep behind the reward–KL frontier (the DPO paper's Fig. 2 in miniature): for each β, DPO trains a fresh copy
 * of the SFT model on the same pairs with the same knobs and steps, then the trained policy is placed on the
 * reward–KL plane by {@link frontierPoint} (answers sampled at temperature 1 on held-out prompts, judged; KL to the SFT
 * model estimated from the samples' log-probs). The SFT model itself is the point at KL 0. Lower β lets the policy
 * move further from the reference: more KL, and (up to a point) more reward.
 */
import * as path from "path";
import type { PreferenceRow } from "../data/preferences";
import { loadModel } from "../model/io";
import type { Tokenizer } from "../tokenizer/tokenizer";
import type { DPOConfigInput } from "../train/config";
import { DPOTrainer } from "../train/trainer";
import { rewardKlFigure } from "../metrics/plots/distributions";
import type { PlotlyFigure, Table } from "../metrics/plots/figure";
import { FrontierPoint, FrontierSample, frontierPoint } from "./frontier";
import type { Prompt } from "./held-out";

/**
 * The DPOConfig every β of a sweep shares unless told otherwise: notebook 03's main run — the article's LoRA
 * configuration verbatim (r 16, alpha 16, dropout 0.05 on q/k/v/o/gate/up/down), learning rate 2e-3, cosine schedule
 * with warmup, 4 pairs × 2 accumulation steps, 40 updates — without its evaluation, TensorBoard files, sample
 * generations and report. The reference (the SFT model) is a frozen copy whose log-probs are computed once and cached
 * on disk for all βs (they do not depend on β).
 */
export const SWEEP_TRAIN_ARGS: DPOConfigInput = {
  usePeft: true,
  loraR: 16,
  loraAlpha: 16,
  loraDropout: 0.05,
  loraTargetModules: "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
  learningRate: 2e-3,
  lrSchedulerType: "cosine",
  warmupSteps: 4,
  perDeviceTrainBatchSize: 4,
  gradientAccumulationSteps: 2,
  maxSteps: 40,
  maxLength: 256,
  maxPromptLength: 128,
  loggingSteps: 10,
  seed: 42,
  reportTo: "jsonl",
  numSampleGenerations: 0,
  writeReport: false,
  precomputeRefLogProbs: true,
};

/** What {@link betaSweep} trains and measures, and where it writes. */
export interface BetaSweepOptions {
  /** The SFT model: every β's policy starts from it, and it is the reference. */
  modelDir: string;
  tokenizer: Tokenizer;
  /** Preference rows every β trains on. */
  trainRows: PreferenceRow[];
  /** The βs, one trained policy each. */
  betas: readonly number[];
  /** Held-out prompts the frontier is measured on. */
  prompts: readonly Prompt[];
  /** Runs go to outputDir/beta-<β>/ (metrics.jsonl, final/); cached reference log-probs to outputDir/ref-logps/. */
  outputDir: string;
  /** DPOConfig knobs for every β, over {@link SWEEP_TRAIN_ARGS} (beta, outputDir and runName are set per β). */
  trainArgs?: DPOConfigInput;
  /** Answers sampled per prompt and policy. Default 1. */
  samplesPerPrompt?: number;
  /** Tokens per sampled answer at most. Default 48. */
  maxNewTokens?: number;
  /** Sampling seed (the same for every β). Default 0. */
  seed?: number;
  /** Called when the reference's point and each β's point are measured (progress). */
  onPoint?: (point: SweepPoint) => void;
}

/** One model on the frontier: a β's trained policy, or the SFT reference (beta null). */
export interface SweepPoint extends Omit<FrontierPoint, "samples"> {
  /** The β the policy was trained with; null for the SFT model itself (KL 0). */
  beta: number | null;
  /** The run folder (null for the reference). */
  runDir: string | null;
  /** Last logged training metrics (null for the reference). */
  trainLoss: number | null;
  rewardMargin: number | null;
  rewardAccuracy: number | null;
  /** Seconds spent training, and measuring the point (sampling, judging, log-probs). */
  trainSeconds: number;
  measureSeconds: number;
  /** The first few judged samples, to read. */
  examples: FrontierSample[];
}

/** What a sweep measured, and with what (everything needed to redo it). */
export interface BetaSweepResult {
  reference: SweepPoint;
  points: SweepPoint[];
  settings: {
    modelDir: string;
    betas: number[];
    trainRows: number;
    prompts: number;
    samplesPerPrompt: number;
    maxNewTokens: number;
    seed: number;
    temperature: 1;
    trainArgs: DPOConfigInput;
  };
  seconds: number;
}

const EXAMPLES = 4;

/** The folder of β's run: beta-0.1, beta-0.05, beta-1. */
export function betaRunName(beta: number): string {
  return `beta-${beta}`;
}

/** Trains one policy per β from the SFT model and measures every policy (and the SFT model) on the reward–KL plane. */
export async function betaSweep(opts: BetaSweepOptions): Promise<BetaSweepResult> {
  if (opts.betas.length === 0) throw new Error("betaSweep: no betas");
  for (const beta of opts.betas) if (!(beta > 0) || !Number.isFinite(beta)) throw new Error(`betaSweep: every beta must be a positive number, got ${beta}`);
  if (new Set(opts.betas).size !== opts.betas.length) throw new Error(`betaSweep: betas repeat: ${opts.betas.join(", ")}`);
  const started = Date.now();
  const trainArgs: DPOConfigInput = { ...SWEEP_TRAIN_ARGS, refLogpsCacheDir: path.join(opts.outputDir, "ref-logps"), ...opts.trainArgs };
  const measure = { samplesPerPrompt: opts.samplesPerPrompt ?? 1, maxNewTokens: opts.maxNewTokens ?? 48, seed: opts.seed ?? 0 };
  const reference = await loadModel(opts.modelDir, { trainable: false });
  try {
    const place = async (
      policy: typeof reference,
      beta: number | null,
      run: Omit<SweepPoint, keyof FrontierPoint | "measureSeconds" | "examples" | "beta">,
    ) => {
      const t0 = Date.now();
      const { samples, ...point } = await frontierPoint({ policy, reference, tokenizer: opts.tokenizer, prompts: opts.prompts, ...measure });
      const out: SweepPoint = { beta, ...point, ...run, measureSeconds: (Date.now() - t0) / 1000, examples: samples.slice(0, EXAMPLES) };
      opts.onPoint?.(out);
      return out;
    };
    const noRun = { runDir: null, trainLoss: null, rewardMargin: null, rewardAccuracy: null, trainSeconds: 0 };
    const referencePoint = await place(reference, null, noRun);
    const points: SweepPoint[] = [];
    for (const beta of opts.betas) {
      const runDir = path.join(opts.outputDir, betaRunName(beta));
      const policy = await loadModel(opts.modelDir);
      const trainer = new DPOTrainer({
        model: policy,
        refModel: reference, // stays ours: the trainer only stops using it once its log-probs are cached
        tokenizer: opts.tokenizer,
        trainDataset: opts.trainRows,
        args: { ...trainArgs, beta, outputDir: runDir, runName: betaRunName(beta) },
      });
      try {
        const t0 = Date.now();
        await trainer.train();
        const trainSeconds = (Date.now() - t0) / 1000;
        const last = [...trainer.state.logHistory].reverse().find((e) => typeof e.loss === "number");
        points.push(
          await place(policy, beta, {
            runDir,
            trainLoss: last?.loss ?? null,
            rewardMargin: last?.["rewards/margins"] ?? null,
            rewardAccuracy: last?.["rewards/accuracies"] ?? null,
            trainSeconds,
          }),
        );
      } finally {
        trainer.dispose();
        policy.dispose();
      }
    }
    return {
      reference: referencePoint,
      points,
      settings: {
        modelDir: opts.modelDir,
        betas: [...opts.betas],
        trainRows: opts.trainRows.length,
        prompts: opts.prompts.length,
        ...measure,
        temperature: 1,
        trainArgs,
      },
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    reference.dispose();
  }
}

/** The frontier as a figure: mean judged reward against KL(π ‖ π_ref), one point per β joined in β order, the SFT model at KL 0. */
export function frontierFigure(result: Pick<BetaSweepResult, "reference" | "points">, opts: { title?: string } = {}): PlotlyFigure {
  const byBeta = [...result.points].sort((a, b) => b.beta! - a.beta!); // large β (close to the reference) first
  return rewardKlFigure(
    [
      {
        name: "DPO, one point per β",
        kl: byBeta.map((p) => p.kl),
        reward: byBeta.map((p) => p.meanReward),
        text: byBeta.map((p) => `β=${p.beta}`),
        klErr: byBeta.map((p) => p.klStdErr),
        rewardErr: byBeta.map((p) => p.rewardStdErr),
      },
      {
        name: "SFT model (the reference)",
        kl: [result.reference.kl],
        reward: [result.reference.meanReward],
        text: ["SFT"],
        rewardErr: [result.reference.rewardStdErr],
      },
    ],
    { title: opts.title ?? "Mean judged reward vs KL(π ‖ π_ref) on held-out prompts", connect: true, labels: true, yTitle: "mean judged reward" },
  );
}

/** The frontier as a table: one row per model (the SFT model first, then each β), with what training left in the log. */
export function frontierTable(result: Pick<BetaSweepResult, "reference" | "points">): Table {
  const row = (name: string, p: SweepPoint): Array<string | number | null> => [
    name,
    p.kl,
    p.klStdErr,
    p.meanReward,
    p.rewardStdErr,
    p.n,
    p.trainLoss,
    p.rewardMargin,
    p.rewardAccuracy,
    +(p.trainSeconds + p.measureSeconds).toFixed(1),
  ];
  return {
    columns: [
      "model",
      "KL (nats)",
      "± s.e.",
      "mean judged reward",
      "± s.e.",
      "samples",
      "final train loss",
      "rewards/margins",
      "rewards/accuracies",
      "seconds",
    ],
    rows: [row("SFT (reference)", result.reference), ...result.points.map((p) => row(`DPO β=${p.beta}`, p))],
  };
}
