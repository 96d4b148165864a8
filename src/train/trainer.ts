/**
 * DPOTrainer: trains a policy against a reference on preference pairs, like TRL's DPOTrainer (the loop of
 * transformers' Trainer).
 *
 * train() is the loop: for each update, take gradientAccumulationSteps micro-batches in the data RNG's order →
 * forward/backward of each (chosen and rejected rows in one pass, DPO loss against the reference's log-probs), with
 * accumulated gradients → clip → AdamW step at the scheduled learning rate → log / evaluate / TR-DPO sync / checkpoint
 * → callbacks. Everything else happens in callbacks chosen by reportTo (metrics.jsonl, TensorBoard) plus progress
 * displays, sample generations and the report (src/train/callbacks/).
 *
 * Runs are never lost: checkpoints hold everything needed to continue exactly (src/train/checkpoint.ts); a
 * non-finite loss or gradient norm stops the run before the update is applied, saving nothing; an output folder that
 * holds a run is refused unless overwriteOutputDir or resumeFromCheckpoint says otherwise.
 */
import * as tf from "@tensorflow/tfjs";
import * as fs from "fs";
import * as path from "path";
import { CausalLM, loadModelFromDir, saveModel } from "../model/io";
import { readAdapter } from "../model/lora";
import type { Tokenizer } from "../tokenizer/tokenizer";
import { PreferenceRow, rowLocation } from "../data/preferences";
import { tokenizePairs, TruncationCounts } from "../data/tokenize";
import { collatePairs, disposeBatch, microBatchOrder } from "./batch";
import { DPOConfig, DPOConfigInput, loraConfigOf, resolveConfig } from "./config";
import { completionLogps } from "./logps";
import { METRIC_NAMES } from "./step";
import { AdamW } from "./optimizer";
import { compiledCollateOptions, compiledUpdate, CompiledUpdates } from "./compiled";
import { learningRateAt } from "./scheduler";
import { dpoUpdate, microBatchGradients, NonFiniteError } from "./update";
import { evaluate, EvaluationReference } from "./evaluate";
import { cachedReferenceLogps, defaultRefLogpsCacheDir, referenceLogpsOf, syncReference } from "./reference";
import {
  listCheckpoints,
  loadCheckpoint,
  removeInterruptedSaves,
  resolveCheckpoint,
  rotateCheckpoints,
  saveCheckpoint,
  TrainerStateJson,
  writeFolderAtomically,
} from "./checkpoint";
import type { LogEntry, TrainerCallback, TrainerContext, TrainerState } from "./callbacks/callback";
import { JsonlWriter } from "./callbacks/jsonl";
import { TensorBoardWriter } from "./callbacks/tensorboard";
import { SamplesAndReport } from "./callbacks/report";
import { inNotebook, notebookProgress, terminalProgress } from "./callbacks/progress";
import type { TokenizedPair } from "../data/tokenize";

export type { LogEntry, TrainerCallback, TrainerContext, TrainerState } from "./callbacks/callback";
export { NonFiniteError } from "./update";

/** What {@link DPOTrainer} is built from: the policy, reference, tokenizer, data and config, and the callbacks. */
export interface DPOTrainerOptions {
  /** The policy being trained. */
  model: CausalLM;
  /** The reference. Default, as TRL 1.13: a frozen copy of the policy as it is now; when the trainer adds fresh LoRA
   * adapters (usePeft), the policy with its adapters switched off (no second copy of the weights); when the policy
   * starts from a pretrained adapter, the policy with a frozen copy of that adapter (TRL's "ref" adapter). A reference
   * passed here stays the caller's: the trainer never disposes it (with precomputeRefLogProbs it only stops using it);
   * with syncRefModel (TR-DPO) its weights are updated in place, as TRL does. */
  refModel?: CausalLM;
  tokenizer: Tokenizer;
  trainDataset: PreferenceRow[];
  evalDataset?: PreferenceRow[];
  args?: DPOConfigInput;
  /** Callbacks run after the ones reportTo selects. */
  callbacks?: TrainerCallback[];
  /** Where the rows came from, for messages (e.g. a file name) when rows carry no source. */
  datasetName?: string;
}

/** What {@link DPOTrainer.train} returns: the last step, the mean training loss and the final metrics. */
export interface TrainOutput {
  globalStep: number;
  trainLoss: number;
  metrics: Record<string, number>;
  state: TrainerState;
}

/** How tokenization treated a data set's rows (reported in train_results.json and on stderr). */
export interface DataReport {
  rows: number;
  /** Rows left without a completion token by the length knobs (file:line): not trained on, as in TRL. */
  dropped: string[];
  /** Rows whose prompt or completions were cut to the length knobs, and how many prompts / chosen / rejected were cut. */
  truncated: TruncationCounts;
}

/** What marks a folder as holding a run (its results), and every file a run writes (deleted by overwriteOutputDir). */
const RUN_RESULTS = /^(metrics\.jsonl|final|checkpoint-\d+|trainer_state\.json|train_results\.json|events\.out\.tfevents\..*)$/;
const RUN_FILES =
  /^(metrics\.jsonl|config\.json|final|checkpoint-\d+|trainer_state\.json|train_results\.json|samples\.json|report\.html|job\.json|events\.out\.tfevents\..*)$/;

/** DPO training as TRL's DPOTrainer does it: tokenized pairs in, a trained policy, metrics.jsonl, TensorBoard events, checkpoints and a report out. */
export class DPOTrainer {
  /** The resolved configuration. */
  readonly config: DPOConfig;
  /** The policy being trained. */
  readonly model: CausalLM;
  /** The tokenizer of the policy. */
  readonly tokenizer: Tokenizer;
  /** Training pairs, tokenized. */
  readonly trainPairs: TokenizedPair[];
  /** Evaluation pairs, tokenized (empty when there is no eval set). */
  readonly evalPairs: TokenizedPair[];
  /** Where training stands (step, epoch, log history). */
  readonly state: TrainerState;
  /** What tokenization kept, truncated and dropped, for the train and eval pairs. */
  readonly dataReport: { train: DataReport; eval: DataReport };
  /** The reference model; null once released after precomputing its log-probs. */
  refModel: CausalLM | null;
  private readonly ownsRef: boolean;
  private readonly callbacks: TrainerCallback[];
  private readonly optimizer: AdamW;
  /** Precomputed reference log-probs, [n, 2] flattened, of the train and eval pairs. */
  private refLogps: Float32Array | null = null;
  private evalRefLogps: Float32Array | null = null;
  private refLogpsFromCache = false;
  /** Micro-batches taken from the data order so far (the data position a checkpoint saves). */
  private microBatchesConsumed = 0;
  /** Metric sums of the micro-batches since the last log entry, and their count. */
  private window: { sum: tf.Tensor1D | null; count: number } = { sum: null, count: 0 };
  private lossTotal = 0;
  private lossCount = 0;
  /** Compiled update graphs, by batch shape (compileStep). */
  private compiled: CompiledUpdates | null = null;

  constructor(opts: DPOTrainerOptions) {
    this.config = resolveConfig((opts.args ?? {}) as Record<string, unknown>);
    this.model = opts.model;
    this.tokenizer = opts.tokenizer;
    const context = opts.model.config.nPositions;
    // maxLength unset (0): the model's context, so no row can be longer than what the model reads.
    if (this.config.maxLength === 0) this.config.maxLength = context;
    this.ownsRef = !opts.refModel;
    const pretrainedAdapter = opts.model.lora !== null;
    if (this.config.usePeft && !opts.model.lora) opts.model.addAdapters(loraConfigOf(this.config), this.config.seed);
    this.refModel =
      opts.refModel ??
      (!opts.model.lora ? opts.model.clone({ trainable: false }) : pretrainedAdapter ? opts.model.withFrozenAdapterCopy() : opts.model.withAdaptersDisabled());
    // TR-DPO moves the reference toward the policy; a LoRA reference shares the policy's base weights, so it cannot
    // move on its own (TRL 1.13 refuses sync_ref_model with a PEFT model and no ref_model as well).
    if (this.config.syncRefModel && !opts.refModel && opts.model.lora)
      throw new Error(
        `DPOConfig: "syncRefModel" (TR-DPO) needs a refModel of its own when the policy has LoRA adapters: the default reference shares the policy's weights`,
      );
    if (this.refModel.config.vocabSize !== this.model.config.vocabSize) {
      throw new Error(`reference vocabulary (${this.refModel.config.vocabSize}) differs from the policy's (${this.model.config.vocabSize})`);
    }
    const train = this.tokenize(opts.trainDataset, opts.datasetName ?? "train dataset");
    if (train.pairs.length === 0)
      throw new Error(
        `${opts.datasetName ?? "train dataset"}: no trainable rows (all ${opts.trainDataset.length} dropped, maxLength ${this.config.maxLength})`,
      );
    const evaluation = this.tokenize(opts.evalDataset ?? [], "eval dataset");
    this.trainPairs = train.pairs;
    this.evalPairs = evaluation.pairs;
    this.dataReport = { train: train.report, eval: evaluation.report };
    this.optimizer = new AdamW({
      beta1: this.config.adamBeta1,
      beta2: this.config.adamBeta2,
      epsilon: this.config.adamEpsilon,
      weightDecay: this.config.weightDecay,
    });
    this.state = {
      step: 0,
      totalSteps: this.totalSteps(),
      epoch: 0,
      tokensSeen: 0,
      pairsSeen: 0,
      elapsedSeconds: 0,
      lastLog: null,
      logHistory: [],
      resumedFromStep: 0,
    };
    const writers: TrainerCallback[] = this.config.reportTo.map((target) => (target === "jsonl" ? new JsonlWriter() : new TensorBoardWriter()));
    if (this.config.numSampleGenerations > 0 || this.config.writeReport) writers.push(new SamplesAndReport());
    // A progress display by default, as transformers' Trainer shows tqdm; disableTqdm or the caller's own turns it off.
    const userCallbacks = opts.callbacks ?? [];
    const progress = this.config.disableTqdm || userCallbacks.some((cb) => cb.isProgress) ? [] : [inNotebook() ? notebookProgress() : terminalProgress()];
    this.callbacks = [...writers, ...progress, ...userCallbacks];
  }

  /** Tokenizes rows with DPOConfig's length knobs; dropped rows are named by file:line (or 1-based row) with the
   * reason, truncated rows counted (tokenizePairs' report). */
  private tokenize(rows: PreferenceRow[], name: string): { pairs: TokenizedPair[]; report: DataReport } {
    const { maxLength, truncationMode, maxPromptLength, maxCompletionLength } = this.config;
    const { pairs, kept, droppedRows, truncated } = tokenizePairs(rows, this.tokenizer, { maxLength, truncationMode, maxPromptLength, maxCompletionLength });
    const where = (i: number) => rowLocation(rows[i], `${name}: row ${i + 1}`);
    // With maxLength above the model's context a row can still be longer than what the model reads: name them.
    const context = this.model.config.nPositions;
    const tooLong = pairs.flatMap((p, k) =>
      p.promptIds.length + Math.max(p.chosenIds.length, p.rejectedIds.length) > context
        ? [`${where(kept[k])} (${p.promptIds.length + Math.max(p.chosenIds.length, p.rejectedIds.length)} tokens)`]
        : [],
    );
    if (tooLong.length)
      throw new Error(
        `${tooLong.length} row(s) longer than the model's context of ${context} positions at maxLength ${maxLength}: ${tooLong.slice(0, 10).join(", ")}${tooLong.length > 10 ? ", …" : ""}; lower maxLength (unset, it is the context)`,
      );
    const report: DataReport = { rows: rows.length, dropped: droppedRows.map((d) => where(d.index)), truncated };
    // nothing is dropped or cut without a word: each dropped row by its source line, truncation as counts
    const limits = `maxLength ${maxLength}, ${truncationMode}${maxPromptLength ? `, maxPromptLength ${maxPromptLength}` : ""}${maxCompletionLength ? `, maxCompletionLength ${maxCompletionLength}` : ""}`;
    const shown = droppedRows.slice(0, 10).map((d) => `  ${where(d.index)}: ${d.reason}`);
    if (droppedRows.length)
      console.warn(
        `${name}: ${droppedRows.length} of ${rows.length} row(s) dropped (TRL drops them too):\n${shown.join("\n")}${droppedRows.length > 10 ? `\n  … (${droppedRows.length - 10} more)` : ""}`,
      );
    if (truncated.rows)
      console.warn(
        `${name}: ${truncated.rows} of ${rows.length} row(s) truncated (${limits}): prompt ${truncated.prompt}, chosen ${truncated.chosen}, rejected ${truncated.rejected}`,
      );
    return { pairs, report };
  }

  /**
   * With compileStep: the graphs built so far (one per batch shape — with gradient accumulation, one per micro-batch
   * shape and one that sums and clips — and AdamW's, one per parameter group), the TensorFlow ops of each gradient
   * graph and of AdamW's together, updates that ran graphs only, updates that traced, and the seconds spent tracing
   * and loading graphs.
   */
  compileStats(): {
    graphs: number;
    opsPerGraph: number[];
    optimizerOps: number;
    graphRuns: number;
    tracedUpdates: number;
    compileSeconds: number;
  } | null {
    return this.compiled
      ? {
          graphs: this.compiled.graphCount,
          opsPerGraph: this.compiled.opsPerGraph,
          optimizerOps: this.compiled.optimizerOps,
          graphRuns: this.compiled.graphRuns,
          tracedUpdates: this.compiled.tracedUpdates,
          compileSeconds: this.compiled.compileSeconds,
        }
      : null;
  }

  /** Updates per epoch (micro-batches rounded up, then grouped by gradientAccumulationSteps). */
  stepsPerEpoch(): number {
    const microBatches = Math.ceil(this.trainPairs.length / this.config.perDeviceTrainBatchSize);
    return Math.max(1, Math.floor(microBatches / this.config.gradientAccumulationSteps));
  }

  /** Optimizer steps the run will take: maxSteps, else epochs × steps per epoch. */
  totalSteps(): number {
    return this.config.maxSteps > 0 ? this.config.maxSteps : Math.ceil(this.config.numTrainEpochs * this.stepsPerEpoch());
  }

  private warmupSteps(): number {
    return this.config.warmupSteps > 0 ? this.config.warmupSteps : Math.ceil(this.config.warmupRatio * this.totalSteps());
  }

  /** The learning rate of update `step` (0-based). */
  learningRate(step: number): number {
    return learningRateAt(step, {
      learningRate: this.config.learningRate,
      type: this.config.lrSchedulerType,
      warmupSteps: this.warmupSteps(),
      totalSteps: this.totalSteps(),
    });
  }

  private context(): TrainerContext {
    return {
      config: this.config,
      model: this.model,
      refModel: this.refModel,
      tokenizer: this.tokenizer,
      trainPairs: this.trainPairs,
      evalPairs: this.evalPairs,
    };
  }

  /** Trains for the configured steps (continuing a checkpoint with resumeFromCheckpoint), then saves OUT/final. */
  async train(): Promise<TrainOutput> {
    const cfg = this.config;
    const resumeDir = this.prepareOutputDir();
    fs.writeFileSync(path.join(cfg.outputDir, "config.json"), JSON.stringify(cfg, null, 2) + "\n");
    if (resumeDir) this.restore(resumeDir);
    else this.startFresh();
    if (cfg.compileStep && !this.compiled) {
      if (tf.getBackend() !== "tensorflow")
        throw new Error(`DPOConfig: option "compileStep" needs the native "tensorflow" backend; the active backend is "${tf.getBackend()}"`);
      this.compiled = new CompiledUpdates();
    }
    const total = this.totalSteps();
    this.state.totalSteps = total;
    try {
      for (const cb of this.callbacks) await cb.onTrainBegin?.(this.state, cfg, this.context());
      if (cfg.precomputeRefLogProbs) await this.precomputeReference();
      if (cfg.evalOnStart && this.evalPairs.length && this.state.step === 0) await this.evaluateAndLog();
      const started = Date.now() - this.state.elapsedSeconds * 1000;
      const order = microBatchOrder(this.trainPairs.length, cfg.perDeviceTrainBatchSize, cfg.seed, this.microBatchesConsumed);
      let lastNorm: tf.Scalar | null = null;
      for (let step = this.state.step; step < total; step++) {
        // 1. The update's micro-batches, in the data RNG's order.
        const group = Array.from({ length: cfg.gradientAccumulationSteps }, () => order.next().value as { indices: number[]; epoch: number });
        this.microBatchesConsumed += group.length;
        // 2-4. Forward/backward with accumulation, clip, AdamW at the scheduled rate.
        const learningRate = this.learningRate(step);
        const { metricSum, gradNorm, tokens, pairs } = await this.trainStep(
          group.map((g) => g.indices),
          learningRate,
          step + 1,
        );
        lastNorm?.dispose();
        lastNorm = gradNorm;
        this.addToWindow(metricSum, group.length);
        this.state.step = step + 1;
        this.state.epoch = (step + 1) / this.stepsPerEpoch();
        this.state.tokensSeen += tokens;
        this.state.pairsSeen += pairs;
        this.state.elapsedSeconds = (Date.now() - started) / 1000;
        const isLast = step + 1 === total;
        // 5. Log, evaluate, TR-DPO sync, checkpoint, callbacks.
        if ((step + 1) % cfg.loggingSteps === 0 || isLast) await this.logWindow(lastNorm, learningRate);
        if (cfg.evalStrategy === "steps" && this.evalPairs.length && ((step + 1) % cfg.evalSteps === 0 || isLast)) await this.evaluateAndLog();
        if (cfg.syncRefModel && this.refModel && (step + 1) % cfg.refModelSyncSteps === 0) syncReference(this.model, this.refModel, cfg.refModelMixupAlpha);
        if (cfg.saveSteps > 0 && (step + 1) % cfg.saveSteps === 0) await this.saveCheckpoint();
        for (const cb of this.callbacks) await cb.onStepEnd?.(this.state);
      }
      lastNorm?.dispose();
      await this.saveModel(path.join(cfg.outputDir, "final"));
      fs.writeFileSync(path.join(cfg.outputDir, "trainer_state.json"), JSON.stringify(this.trainerStateJson(), null, 2) + "\n");
      for (const cb of this.callbacks) await cb.onTrainEnd?.(this.state, this.context());
    } catch (e) {
      for (const cb of this.callbacks) await cb.onTrainError?.(e as Error, this.state);
      throw e;
    } finally {
      this.window.sum?.dispose();
      this.window = { sum: null, count: 0 };
    }
    const trainLoss = this.lossCount ? this.lossTotal / this.lossCount : NaN;
    const elapsed = Math.max(1e-9, this.state.elapsedSeconds);
    const summary: Record<string, number> = {
      train_runtime: this.state.elapsedSeconds,
      train_samples_per_second: this.state.pairsSeen / elapsed,
      train_tokens_per_second: this.state.tokensSeen / elapsed,
      train_steps_per_second: this.state.step / elapsed,
      train_loss: trainLoss,
      train_rows: this.dataReport.train.rows,
      train_rows_dropped: this.dataReport.train.dropped.length,
      train_rows_truncated: this.dataReport.train.truncated.rows,
      ...(cfg.precomputeRefLogProbs ? { ref_logps_from_cache: this.refLogpsFromCache ? 1 : 0 } : {}),
      ...(this.compiled ? { compiled_graphs: this.compiled.graphCount, compile_seconds: this.compiled.compileSeconds } : {}),
    };
    fs.writeFileSync(path.join(cfg.outputDir, "train_results.json"), JSON.stringify(summary, null, 2) + "\n");
    return { globalStep: this.state.step, trainLoss, metrics: summary, state: this.state };
  }

  /**
   * Makes outputDir ready: removes temp folders of interrupted saves; returns the checkpoint to resume from, if any.
   * A folder that already holds a run is refused unless resuming or overwriteOutputDir, which deletes the old run's
   * files first (so old and new never mix).
   */
  private prepareOutputDir(): string | null {
    const cfg = this.config;
    fs.mkdirSync(cfg.outputDir, { recursive: true });
    removeInterruptedSaves(cfg.outputDir);
    const resumeDir = resolveCheckpoint(cfg.outputDir, cfg.resumeFromCheckpoint);
    if (resumeDir) return resumeDir;
    const dirs = [...new Set([cfg.outputDir, cfg.loggingDir])];
    const filesMatching = (pattern: RegExp) =>
      dirs.flatMap((dir) =>
        fs.existsSync(dir)
          ? fs
              .readdirSync(dir)
              .filter((f) => pattern.test(f))
              .map((f) => path.join(dir, f))
          : [],
      );
    const results = filesMatching(RUN_RESULTS);
    if (results.length && !cfg.overwriteOutputDir) {
      const names = results
        .slice(0, 5)
        .map((f) => path.basename(f))
        .join(", ");
      throw new Error(
        `outputDir ${cfg.outputDir} already holds a run (${names}${results.length > 5 ? ", …" : ""}); choose another outputDir, continue it with resumeFromCheckpoint (--resume), or replace it with overwriteOutputDir (--overwrite-output-dir)`,
      );
    }
    if (results.length) for (const f of filesMatching(RUN_FILES)) fs.rmSync(f, { recursive: true, force: true });
    return null;
  }

  /** A fresh run (also a second train() call without resuming): step 0, the data order from its start. */
  private startFresh(): void {
    Object.assign(this.state, { step: 0, epoch: 0, tokensSeen: 0, pairsSeen: 0, elapsedSeconds: 0, lastLog: null, logHistory: [], resumedFromStep: 0 });
    this.microBatchesConsumed = 0;
    this.lossTotal = 0;
    this.lossCount = 0;
  }

  /** Loads a checkpoint: weights, optimizer, data position, log history, the open logging window. */
  private restore(dir: string): void {
    const ckpt = loadCheckpoint(dir);
    const s = ckpt.trainerState;
    if (s.train_batch_size !== this.config.perDeviceTrainBatchSize || ckpt.rng.seed !== this.config.seed) {
      throw new Error(
        `resumeFromCheckpoint: ${dir} was trained with perDeviceTrainBatchSize ${s.train_batch_size} and seed ${ckpt.rng.seed}; this run has ${this.config.perDeviceTrainBatchSize} and ${this.config.seed} (the data order would differ)`,
      );
    }
    if (s.max_steps !== this.totalSteps())
      console.warn(
        `resumeFromCheckpoint: ${dir} was planned for ${s.max_steps} steps, this run for ${this.totalSteps()}: the learning-rate schedule differs from the original run`,
      );
    const copyInto = (target: CausalLM, modelDir: string) => {
      const saved = loadModelFromDir(modelDir, { trainable: false });
      target.params.forEach((v, name) => {
        const w = saved.params.get(name);
        if (!w) throw new Error(`${modelDir}: no weight "${name}"`);
        v.assign(w);
      });
      saved.dispose();
    };
    // A LoRA policy's checkpoint is its PEFT adapter folder: only the adapters trained, the base weights are as loaded.
    const copyAdapterInto = (target: CausalLM, adapterDir: string) => {
      const { tensors } = readAdapter(adapterDir);
      target.params.forEach((v, name) => {
        if (!name.includes(".lora_")) return;
        const key = [...tensors.keys()].find((k) => k === name || k.endsWith(`.${name}`));
        if (!key) throw new Error(`${adapterDir}: no adapter weight "${name}"`);
        const t = tensors.get(key)!;
        tf.tidy(() => v.assign(tf.tensor(t.data, t.shape)));
      });
    };
    if (this.model.lora) copyAdapterInto(this.model, dir);
    else copyInto(this.model, dir);
    if (ckpt.referenceDir && this.refModel) copyInto(this.refModel, ckpt.referenceDir);
    this.optimizer.load(this.model.params, ckpt.optimizer, ckpt.optimizerStep, path.join(dir, "optimizer.safetensors"));
    this.microBatchesConsumed = ckpt.rng.micro_batches_consumed;
    const d = ckpt.dpoTsState;
    this.window = { sum: d.windowSums ? tf.tensor1d(Float32Array.from(d.windowSums)) : null, count: d.windowCount };
    this.lossTotal = d.lossTotal;
    this.lossCount = d.lossCount;
    Object.assign(this.state, {
      step: s.global_step,
      epoch: s.epoch,
      tokensSeen: d.tokensSeen,
      pairsSeen: d.pairsSeen,
      elapsedSeconds: d.elapsedSeconds,
      logHistory: s.log_history as LogEntry[],
      lastLog: (s.log_history[s.log_history.length - 1] as LogEntry) ?? null,
      resumedFromStep: s.global_step,
    });
  }

  /** precomputeRefLogProbs: one reference pass over the train (and eval) pairs, or the disk cache; then the
   * reference is released — disposed when the trainer made it, merely dropped when the caller passed it. */
  private async precomputeReference(): Promise<void> {
    if (!this.refModel) return; // already released (a second train() call)
    const opts = {
      padTokenId: this.tokenizer.padTokenId,
      batchSize: this.config.perDeviceEvalBatchSize,
      padToMultipleOf: this.config.padToMultipleOf,
      ldAlpha: this.config.ldAlpha,
      cacheDir: this.config.refLogpsCacheDir || defaultRefLogpsCacheDir(),
    };
    const train = await cachedReferenceLogps(this.refModel, this.trainPairs, opts);
    this.refLogps = train.logps;
    this.refLogpsFromCache = train.fromCache;
    if (this.evalPairs.length) this.evalRefLogps = (await cachedReferenceLogps(this.refModel, this.evalPairs, opts)).logps;
    if (this.ownsRef) this.refModel.dispose();
    this.refModel = null;
  }

  /** One update (steps 2-4 of the loop). `step` is 1-based, for messages. */
  private async trainStep(
    microBatches: number[][],
    learningRate: number,
    step: number,
  ): Promise<{ metricSum: tf.Tensor1D; gradNorm: tf.Scalar; tokens: number; pairs: number }> {
    const cfg = this.config;
    const collateOptions = this.compiled
      ? compiledCollateOptions(this.trainPairs, microBatches, cfg.padToMultipleOf)
      : { padToMultipleOf: cfg.padToMultipleOf };
    const batches = microBatches.map((indices) =>
      collatePairs(
        indices.map((i) => this.trainPairs[i]),
        this.tokenizer.padTokenId,
        collateOptions,
      ),
    );
    const scalars = this.optimizer.nextScalars(learningRate);
    const referenceLogps = (k: number, cached: tf.Tensor1D[] | null = null): tf.Tensor1D =>
      cached?.[k] ??
      (this.refLogps
        ? referenceLogpsOf(this.refLogps, microBatches[k])
        : tf.tidy(() => completionLogps(this.refModel!, batches[k], { ldAlpha: cfg.ldAlpha }).logps));
    try {
      let result: { metricSum: tf.Tensor1D; gradNorm: tf.Scalar };
      if (this.compiled) {
        const cached = this.refLogps ? microBatches.map((_, k) => referenceLogps(k)) : null;
        result = await compiledUpdate({
          compiled: this.compiled,
          model: this.model,
          refModel: this.refModel,
          optimizer: this.optimizer,
          batches,
          cachedReference: cached,
          scalars,
          maxGradNorm: cfg.maxGradNorm,
          eagerGradients: (k) => microBatchGradients(this.model, { batch: batches[k], referenceLogps: referenceLogps(k, cached) }, cfg, batches.length),
          // Before AdamW changes the weights, as in the eager update.
          guard: (sums, norm) => checkFinite(step, sums, norm),
        });
      } else {
        result = dpoUpdate(
          this.model,
          this.optimizer,
          batches.map((batch, k) => ({ batch, referenceLogps: referenceLogps(k) })),
          cfg,
          scalars,
          (sums, norm) => checkFinite(step, sums, norm),
        );
      }
      return { ...result, tokens: batches.reduce((n, b) => n + b.tokenCount, 0), pairs: batches.reduce((n, b) => n + b.numPairs, 0) };
    } finally {
      batches.forEach(disposeBatch);
      tf.dispose(Object.values(scalars));
    }
  }

  private addToWindow(metricSum: tf.Tensor1D, microBatches: number): void {
    if (this.window.sum) {
      const next = this.window.sum.add(metricSum) as tf.Tensor1D;
      tf.dispose([this.window.sum, metricSum]);
      this.window.sum = next;
    } else this.window.sum = metricSum;
    this.window.count += microBatches;
  }

  /** One log entry: means of the metrics over the micro-batches since the last one (the step's only read-back). */
  private async logWindow(gradNorm: tf.Scalar, learningRate: number): Promise<void> {
    const sums = (await this.window.sum!.data()) as Float32Array;
    const count = this.window.count;
    this.window.sum!.dispose();
    this.window = { sum: null, count: 0 };
    const entry: LogEntry = { step: this.state.step, epoch: round(this.state.epoch) };
    METRIC_NAMES.forEach((name, i) => (entry[name] = sums[i] / count));
    entry.grad_norm = (await gradNorm.data())[0];
    entry.learning_rate = learningRate;
    for (const metric of ["loss", "grad_norm"]) if (!Number.isFinite(entry[metric])) throw new NonFiniteError(this.state.step, metric, entry[metric]);
    this.lossTotal += entry.loss * count;
    this.lossCount += count;
    await this.log(entry);
  }

  private async log(entry: LogEntry): Promise<void> {
    this.state.lastLog = entry;
    this.state.logHistory.push(entry);
    for (const cb of this.callbacks) await cb.onLog?.(entry, this.state);
  }

  private async evaluateAndLog(): Promise<void> {
    const entry = await this.evaluate();
    await this.log(entry);
    for (const cb of this.callbacks) await cb.onEvaluate?.(entry, this.state);
  }

  /** The reference of the eval pairs: the precomputed log-probs, else the reference model. */
  private evalReference(pairs: readonly TokenizedPair[]): EvaluationReference {
    if (pairs === this.evalPairs && this.evalRefLogps) return { logps: this.evalRefLogps };
    if (pairs === this.trainPairs && this.refLogps) return { logps: this.refLogps };
    if (!this.refModel) throw new Error("evaluate: the reference model was released after precomputing its log-probs, and these pairs have none");
    return this.refModel;
  }

  /**
   * Metrics of pairs without training (see evaluate() in src/train/evaluate.ts), in batches of `batchSize` pairs.
   */
  async computeMetrics(pairs: TokenizedPair[], batchSize = this.config.perDeviceEvalBatchSize): Promise<Record<string, number>> {
    return evaluate(this.model, this.evalReference(pairs), pairs, { ...this.config, perDeviceEvalBatchSize: batchSize, padTokenId: this.tokenizer.padTokenId });
  }

  /** Metrics on the eval set, "eval_" prefixed, at the current step. */
  async evaluate(): Promise<LogEntry> {
    if (!this.evalPairs.length) throw new Error("evaluate: no eval dataset");
    const metrics = await this.computeMetrics(this.evalPairs);
    const entry: LogEntry = { step: this.state.step, epoch: round(this.state.epoch) };
    for (const [name, value] of Object.entries(metrics)) entry[`eval_${name}`] = value;
    return entry;
  }

  /** transformers' TrainerState, as trainer_state.json stores it. */
  private trainerStateJson(): TrainerStateJson {
    const cfg = this.config;
    return {
      best_global_step: null,
      best_metric: null,
      best_model_checkpoint: null,
      epoch: this.state.epoch,
      eval_steps: cfg.evalSteps,
      global_step: this.state.step,
      is_hyper_param_search: false,
      is_local_process_zero: true,
      is_world_process_zero: true,
      log_history: this.state.logHistory,
      logging_steps: cfg.loggingSteps,
      max_steps: this.totalSteps(),
      num_input_tokens_seen: this.state.tokensSeen,
      num_train_epochs: Math.ceil(this.totalSteps() / this.stepsPerEpoch()),
      save_steps: cfg.saveSteps,
      stateful_callbacks: {},
      total_flos: 0,
      train_batch_size: cfg.perDeviceTrainBatchSize,
      trial_name: null,
      trial_params: null,
    };
  }

  /** Writes OUT/checkpoint-<step> (atomically) and drops checkpoints beyond saveTotalLimit. */
  async saveCheckpoint(): Promise<string> {
    const cfg = this.config;
    const step = this.state.step;
    const windowSums = this.window.sum ? Array.from((await this.window.sum.data()) as Float32Array) : null;
    const dir = await saveCheckpoint(cfg.outputDir, step, {
      writeModel: async (d) => {
        await saveModel(this.model, d);
        await this.tokenizer.save(d);
      },
      optimizer: await this.optimizer.toHost(),
      optimizerStep: this.optimizer.stepCount,
      // transformers' LambdaLR state_dict fields.
      scheduler: {
        last_epoch: step,
        _step_count: step + 1,
        base_lrs: [cfg.learningRate],
        _last_lr: [this.learningRate(step)],
        lr_scheduler_type: cfg.lrSchedulerType,
        warmup_steps: this.warmupSteps(),
        total_steps: this.totalSteps(),
      },
      rng: { seed: cfg.seed, micro_batches_consumed: this.microBatchesConsumed },
      trainerState: this.trainerStateJson(),
      dpoTsState: {
        windowSums,
        windowCount: this.window.count,
        lossTotal: this.lossTotal,
        lossCount: this.lossCount,
        pairsSeen: this.state.pairsSeen,
        tokensSeen: this.state.tokensSeen,
        elapsedSeconds: this.state.elapsedSeconds,
      },
      trainingArgs: cfg as unknown as Record<string, unknown>,
      writeReference: cfg.syncRefModel && this.refModel ? (d) => saveModel(this.refModel!, d) : undefined,
    });
    rotateCheckpoints(cfg.outputDir, cfg.saveTotalLimit);
    for (const cb of this.callbacks) await cb.onSave?.(dir, this.state);
    return dir;
  }

  /** The checkpoints of this run's outputDir, oldest first. */
  checkpoints(): { step: number; dir: string }[] {
    return listCheckpoints(this.config.outputDir);
  }

  /** Saves the policy (and tokenizer) as a Hugging Face folder, atomically (temp folder + rename). */
  async saveModel(dir: string): Promise<void> {
    await writeFolderAtomically(dir, async (tmp) => {
      await saveModel(this.model, tmp);
      await this.tokenizer.save(tmp);
    });
    for (const cb of this.callbacks) await cb.onSave?.(dir, this.state);
  }

  /** Frees the optimizer state and the reference copy the trainer made (not the models it was given). */
  dispose(): void {
    this.compiled?.dispose();
    this.compiled = null;
    this.optimizer.dispose();
    this.window.sum?.dispose();
    if (this.ownsRef) this.refModel?.dispose();
    this.refModel = null;
  }
}

/** The non-finite guard: reads the update's summed loss and its gradient norm (one small read-back per update). */
function checkFinite(step: number, metricSum: tf.Tensor1D, gradNorm: tf.Scalar): void {
  const both = tf.tidy(() => tf.concat([metricSum.slice(0, 1), gradNorm.reshape([1])]));
  const [loss, norm] = both.dataSync() as Float32Array;
  both.dispose();
  if (!Number.isFinite(loss)) throw new NonFiniteError(step, "loss", loss);
  if (!Number.isFinite(norm)) throw new NonFiniteError(step, "grad_norm", norm);
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
