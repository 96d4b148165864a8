/**
 * The trainer's callback interface (the shape of transformers' TrainerCallback): the loop calls these hooks with the
 * config, the state and the metrics in memory; metric writers, progress displays, sample generations and the report
 * are all callbacks (this folder). No callback re-reads files the trainer wrote.
 */
import type { CausalLM } from "../../model/io";
import type { Tokenizer } from "../../tokenizer/tokenizer";

import type { DPOConfig } from "../config";
import type { TokenizedPair } from "../../data/tokenize";
import type { MetricLogEntry } from "../../metrics/plots/figure";

/** One logged step: "step", "epoch" and TRL's metric names ("loss", "rewards/chosen", …; "eval_" prefixed for eval).
 * The same type the metric writers and plots read (metrics never import train, so it is defined there). */
export type LogEntry = MetricLogEntry;

/** Where training stands, passed to every callback: step, epoch, tokens and pairs seen, the log history and the step a resume started from. */
export interface TrainerState {
  step: number;
  totalSteps: number;
  epoch: number;
  /** Non-padding tokens processed so far (prompt + completions, chosen and rejected). */
  tokensSeen: number;
  pairsSeen: number;
  elapsedSeconds: number;
  lastLog: LogEntry | null;
  logHistory: LogEntry[];
  /** The step the run resumed from (0 for a fresh run). */
  resumedFromStep: number;
}

/** What callbacks that need the models see (sample generations): the trainer's models, tokenizer and data. */
export interface TrainerContext {
  config: DPOConfig;
  model: CausalLM;
  /** The reference model; null once released (precomputeRefLogProbs). */
  refModel: CausalLM | null;
  tokenizer: Tokenizer;
  trainPairs: readonly TokenizedPair[];
  evalPairs: readonly TokenizedPair[];
}

/** Hooks into {@link DPOTrainer.train}, as transformers' TrainerCallback: every hook is optional, and the trainer awaits each in turn. */
export interface TrainerCallback {
  /** Marks a progress display (notebookProgress, terminalProgress): when the caller passes one, the trainer adds no
   * progress display of its own. */
  readonly isProgress?: boolean;
  /** Before the first update (and before the reference is released). */
  onTrainBegin?(state: TrainerState, config: DPOConfig, context: TrainerContext): void | Promise<void>;
  onStepEnd?(state: TrainerState): void | Promise<void>;
  onLog?(entry: LogEntry, state: TrainerState): void | Promise<void>;
  onEvaluate?(metrics: LogEntry, state: TrainerState): void | Promise<void>;
  onSave?(dir: string, state: TrainerState): void | Promise<void>;
  /** After the last update and after final/ is saved. */
  onTrainEnd?(state: TrainerState, context: TrainerContext): void | Promise<void>;
  /** The run stopped with an error (e.g. a non-finite loss): release what the callback holds. */
  onTrainError?(error: Error, state: TrainerState): void | Promise<void>;
}
