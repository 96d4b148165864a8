/**
 * DPOTrainer: trains a policy against a frozen reference on preference pairs, like TRL's DPOTrainer.
 *
 * One update = gradientAccumulationSteps micro-batches; each micro-batch scores chosen and rejected completions in
 * one forward pass ([chosen; rejected] rows), takes the DPO loss against the reference's log-probs, and adds its
 * gradients. Then global-norm clipping, one AdamW step at the scheduled learning rate, and (every loggingSteps)
 * one log entry with TRL's metric names, appended to OUT/metrics.jsonl.
 */
import * as tf from "@tensorflow/tfjs";
import * as fs from "fs";
import * as path from "path";
import { CausalLM, saveModel } from "../model/io";
import type { Tokenizer } from "../tokenizer/tokenizer";
import type { PreferenceRow } from "../data/preferences";
import { tokenizePairs } from "../data/tokenize";
import { Rng } from "../util/rng";
import { collatePairs, disposeBatch, PairBatch, TokenIdsPair } from "./batch";
import { DPOConfig, loraConfigOf, resolveConfig } from "./config";
import { completionLogps } from "./logps";
import { dpoBatchLoss, METRIC_NAMES } from "./step";
import { AdamW, AdamWScalars, clipGradNorm } from "./optimizer";
import { COMPILED_PAD_MULTIPLE, CompiledUpdates } from "./compiled";
import { SummaryWriter } from "../metrics/tensorboard";
import { writeReport } from "../metrics/report";
import { generate } from "../model/generate";
import { learningRateAt } from "./scheduler";

/** One logged step: "step", "epoch" and TRL's metric names ("loss", "rewards/chosen", …; "eval_" prefixed for eval). */
export interface LogEntry {
  step: number;
  [metric: string]: number;
}

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
}

export interface TrainerCallback {
  onTrainBegin?(state: TrainerState, config: DPOConfig): void | Promise<void>;
  onStepEnd?(state: TrainerState): void | Promise<void>;
  onLog?(entry: LogEntry, state: TrainerState): void | Promise<void>;
  onEvaluate?(metrics: LogEntry, state: TrainerState): void | Promise<void>;
  onSave?(dir: string, state: TrainerState): void | Promise<void>;
  onTrainEnd?(state: TrainerState): void | Promise<void>;
}

export interface DPOTrainerOptions {
  /** The policy being trained. */
  model: CausalLM;
  /** The frozen reference. Default, as TRL 1.13: a frozen copy of the policy as it is now; when the trainer adds
   * fresh LoRA adapters (usePeft), the policy with its adapters switched off (no second copy of the weights); when
   * the policy starts from a pretrained adapter, the policy with a frozen copy of that adapter (TRL's "ref" adapter). */
  refModel?: CausalLM;
  tokenizer: Tokenizer;
  trainDataset: PreferenceRow[];
  evalDataset?: PreferenceRow[];
  args?: Partial<DPOConfig>;
  callbacks?: TrainerCallback[];
  /** Where the rows came from, for messages (e.g. a file name). */
  datasetName?: string;
}

export interface TrainOutput {
  globalStep: number;
  trainLoss: number;
  metrics: Record<string, number>;
  state: TrainerState;
}

export class DPOTrainer {
  readonly config: DPOConfig;
  readonly model: CausalLM;
  readonly refModel: CausalLM;
  readonly tokenizer: Tokenizer;
  readonly trainPairs: TokenIdsPair[];
  readonly evalPairs: TokenIdsPair[];
  readonly state: TrainerState;
  private readonly ownsRef: boolean;
  private readonly callbacks: TrainerCallback[];
  private readonly optimizer: AdamW;
  private readonly paramNameOfVariable = new Map<string, string>();
  private refLogpsCache: Float32Array[] | null = null;
  private tensorboard: SummaryWriter | null = null;
  /** Compiled update graphs, by batch shape (compileStep). */
  private compiled: CompiledUpdates | null = null;

  constructor(opts: DPOTrainerOptions) {
    this.config = resolveConfig((opts.args ?? {}) as Record<string, unknown>);
    this.model = opts.model;
    this.tokenizer = opts.tokenizer;
    this.ownsRef = !opts.refModel;
    const pretrainedAdapter = opts.model.lora !== null;
    if (this.config.usePeft && !opts.model.lora) opts.model.addAdapters(loraConfigOf(this.config), this.config.seed);
    this.refModel = opts.refModel ?? (!opts.model.lora ? opts.model.clone({ trainable: false }) : pretrainedAdapter ? opts.model.withFrozenAdapterCopy() : opts.model.withAdaptersDisabled());
    if (this.refModel.config.vocabSize !== this.model.config.vocabSize) {
      throw new Error(`reference vocabulary (${this.refModel.config.vocabSize}) differs from the policy's (${this.model.config.vocabSize})`);
    }
    this.callbacks = opts.callbacks ?? [];
    const { maxLength, truncationMode, maxPromptLength, maxCompletionLength } = this.config;
    const tokenizeOptions = { maxLength, truncationMode, maxPromptLength, maxCompletionLength };
    const name = opts.datasetName ?? "train dataset";
    const limits = `maxLength ${maxLength}, ${truncationMode}${maxPromptLength ? `, maxPromptLength ${maxPromptLength}` : ""}${maxCompletionLength ? `, maxCompletionLength ${maxCompletionLength}` : ""}`;
    // nothing is dropped or cut without a word: each dropped row by its source line, truncation as counts
    const report = (label: string, r: ReturnType<typeof tokenizePairs>) => {
      if (r.droppedRows.length) console.warn(`${label}: ${r.droppedRows.length} row(s) dropped (TRL drops them too):\n${r.droppedRows.map((d) => `  ${d.where}: ${d.reason}`).join("\n")}`);
      if (r.truncated.rows) console.warn(`${label}: ${r.truncated.rows} row(s) truncated (${limits}): prompt ${r.truncated.prompt}, chosen ${r.truncated.chosen}, rejected ${r.truncated.rejected}`);
    };
    const train = tokenizePairs(opts.trainDataset, this.tokenizer, tokenizeOptions);
    report(name, train);
    if (train.pairs.length === 0) throw new Error(`${name}: no trainable rows`);
    this.trainPairs = train.pairs;
    const evaluation = tokenizePairs(opts.evalDataset ?? [], this.tokenizer, tokenizeOptions);
    report("eval dataset", evaluation);
    this.evalPairs = evaluation.pairs;
    this.optimizer = new AdamW({
      beta1: this.config.adamBeta1,
      beta2: this.config.adamBeta2,
      epsilon: this.config.adamEpsilon,
      weightDecay: this.config.weightDecay,
    });
    this.model.params.forEach((v, name) => this.paramNameOfVariable.set(v.name, name));
    this.state = { step: 0, totalSteps: this.totalSteps(), epoch: 0, tokensSeen: 0, pairsSeen: 0, elapsedSeconds: 0, lastLog: null, logHistory: [] };
  }

  /** With compileStep: the graphs built so far (one per batch shape) and the seconds spent tracing and loading them. */
  compileStats(): { graphs: number; opsPerGraph: number[]; graphRuns: number; compileSeconds: number } | null {
    return this.compiled ? { graphs: this.compiled.graphCount, opsPerGraph: this.compiled.opsPerGraph, graphRuns: this.compiled.graphRuns, compileSeconds: this.compiled.compileSeconds } : null;
  }

  /** Updates per epoch (micro-batches rounded up, then grouped by gradientAccumulationSteps). */
  stepsPerEpoch(): number {
    const microBatches = Math.ceil(this.trainPairs.length / this.config.perDeviceTrainBatchSize);
    return Math.max(1, Math.floor(microBatches / this.config.gradientAccumulationSteps));
  }

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

  /** Micro-batches of training pair indices, epoch after epoch, shuffled with the seed. */
  private *microBatches(): Generator<{ indices: number[]; epoch: number }> {
    const rng = new Rng(this.config.seed);
    const n = this.trainPairs.length;
    const batchSize = this.config.perDeviceTrainBatchSize;
    for (let epoch = 0; ; epoch++) {
      const order = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rng.float() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      for (let start = 0; start < n; start += batchSize) yield { indices: order.slice(start, start + batchSize), epoch };
    }
  }

  /** Reference log-probs of a batch's 2B rows: [2B], no gradient. */
  private referenceLogps(batch: PairBatch, indices: number[] | null): tf.Tensor1D {
    if (this.refLogpsCache && indices) {
      const values = new Float32Array(2 * indices.length);
      indices.forEach((pairIndex, i) => {
        values[i] = this.refLogpsCache![pairIndex][0];
        values[indices.length + i] = this.refLogpsCache![pairIndex][1];
      });
      return tf.tensor1d(values);
    }
    return tf.tidy(() => completionLogps(this.refModel, batch, { ldAlpha: this.config.ldAlpha }).logps);
  }

  /** Computes reference log-probs for every training pair once (precomputeRefLogProbs). */
  private async precomputeReference(): Promise<void> {
    const cache: Float32Array[] = [];
    const batchSize = this.config.perDeviceEvalBatchSize;
    for (let start = 0; start < this.trainPairs.length; start += batchSize) {
      const pairs = this.trainPairs.slice(start, start + batchSize);
      const batch = collatePairs(pairs, this.tokenizer.padTokenId);
      const logps = this.referenceLogps(batch, null);
      const values = (await logps.data()) as Float32Array;
      pairs.forEach((_, i) => cache.push(Float32Array.of(values[i], values[pairs.length + i])));
      logps.dispose();
      disposeBatch(batch);
    }
    this.refLogpsCache = cache;
  }

  /** One update: forward/backward over the accumulation micro-batches, clip, AdamW. Returns metric sums. */
  private async trainStep(microBatches: { indices: number[] }[], learningRate: number): Promise<{ metricSum: tf.Tensor1D; gradNorm: tf.Scalar; tokens: number; pairs: number }> {
    // A compiled update pads all its micro-batches to one length: one graph per (batch sizes, length).
    const longest = (indices: number[]) => Math.max(...indices.map((i) => this.trainPairs[i]).map((p) => p.promptIds.length + Math.max(p.chosenIds.length, p.rejectedIds.length)));
    const collateOptions = this.compiled
      ? { padToMultipleOf: this.config.padToMultipleOf || COMPILED_PAD_MULTIPLE, padToLength: Math.max(...microBatches.map(({ indices }) => longest(indices))), labelsAtEveryPosition: true }
      : { padToMultipleOf: this.config.padToMultipleOf };
    const batches = microBatches.map(({ indices }) => ({ indices, batch: collatePairs(indices.map((i) => this.trainPairs[i]), this.tokenizer.padTokenId, collateOptions) }));
    const scalars = this.optimizer.nextScalars(learningRate);
    try {
      const { metricSum, gradNorm } = this.compiled
        ? await this.compiledUpdate(batches, scalars)
        : this.update(batches.map(({ batch, indices }) => ({ batch, referenceLogps: this.referenceLogps(batch, indices) })), scalars);
      return { metricSum, gradNorm, tokens: batches.reduce((n, b) => n + b.batch.tokenCount, 0), pairs: batches.reduce((n, b) => n + b.batch.numPairs, 0) };
    } finally {
      batches.forEach(({ batch }) => disposeBatch(batch));
      tf.dispose(Object.values(scalars));
    }
  }

  /** The eager update: gradients of each micro-batch (summed), clipping, AdamW. Disposes the reference log-probs. */
  private update(microBatches: { batch: PairBatch; referenceLogps: tf.Tensor1D }[], scalars: AdamWScalars): { metricSum: tf.Tensor1D; gradNorm: tf.Scalar } {
    const variables = this.model.trainableVariables();
    let accumulated: Map<string, tf.Tensor> | null = null;
    const metricSum = new RunningSum();
    for (const { batch, referenceLogps } of microBatches) {
      let metrics: tf.Tensor1D | null = null;
      const { value, grads } = tf.variableGrads(() => {
        const out = dpoBatchLoss(this.model, batch, referenceLogps, this.config);
        metrics = tf.keep(out.metrics);
        return out.loss.div(microBatches.length) as tf.Scalar;
      }, variables);
      value.dispose();
      referenceLogps.dispose();
      const named = new Map<string, tf.Tensor>();
      for (const [variableName, grad] of Object.entries(grads)) named.set(this.paramNameOfVariable.get(variableName)!, grad);
      if (!accumulated) accumulated = named;
      else {
        for (const [name, grad] of named) {
          const sum = accumulated.get(name)!.add(grad);
          accumulated.get(name)!.dispose();
          grad.dispose();
          accumulated.set(name, sum);
        }
      }
      metricSum.add(metrics!);
    }
    const { grads, norm } = clipGradNorm(accumulated!, this.config.maxGradNorm);
    this.optimizer.applyWith(this.model.params, grads, scalars);
    grads.forEach((g) => g.dispose());
    return { metricSum: metricSum.take(), gradNorm: norm };
  }

  /**
   * The update as a compiled graph (compileStep): its inputs are everything that changes between updates — the
   * batch, AdamW's scalars, the policy's weights and moments, and the reference's weights (or its cached log-probs).
   */
  private async compiledUpdate(batches: { batch: PairBatch; indices: number[] }[], scalars: AdamWScalars): Promise<{ metricSum: tf.Tensor1D; gradNorm: tf.Scalar }> {
    const moments = this.optimizer.moments(this.model.params);
    const cachedReference = this.refLogpsCache ? batches.map(({ batch, indices }) => this.referenceLogps(batch, indices)) : null;
    const inputs: Record<string, tf.Tensor> = {
      step_size: scalars.stepSize,
      bias_correction2_sqrt: scalars.biasCorrection2Sqrt,
      decay_factor: scalars.decayFactor,
    };
    batches.forEach(({ batch }, k) => {
      Object.assign(inputs, {
        [`batch${k}/input_ids`]: batch.inputIds,
        [`batch${k}/attention_mask`]: batch.attentionMask,
        [`batch${k}/label_positions`]: batch.labelPositions,
        [`batch${k}/labels`]: batch.labels,
        [`batch${k}/label_rows`]: batch.labelRows,
      });
      if (cachedReference) inputs[`batch${k}/reference_logps`] = cachedReference[k];
    });
    // A LoRA reference shares the policy's base weights: each tensor is one graph input.
    const policyVariables = new Set(this.model.params.values());
    if (!cachedReference) this.refModel.params.forEach((v, name) => policyVariables.has(v) || (inputs[`reference/${name}`] = v));
    this.model.params.forEach((v, name) => (inputs[`policy/${name}`] = v));
    moments.forEach(({ m, v }, name) => {
      inputs[`adam_m/${name}`] = m;
      inputs[`adam_v/${name}`] = v;
    });
    const state = () => {
      const out: Record<string, tf.Tensor> = {};
      this.model.params.forEach((v, name) => v.trainable && (out[`policy/${name}`] = v));
      moments.forEach(({ m, v }, name) => {
        out[`adam_m/${name}`] = m;
        out[`adam_v/${name}`] = v;
      });
      return out;
    };
    const key = `${batches.map(({ batch }) => batch.inputIds.shape).join(";")}|${cachedReference ? "cached reference" : "reference model"}`;
    const { outputs, traced } = await this.compiled!.run(key, inputs, () => {
      const { metricSum, gradNorm } = this.update(batches.map(({ batch }, k) => ({ batch, referenceLogps: cachedReference?.[k] ?? this.referenceLogps(batch, null) })), scalars);
      return { ...state(), metrics: metricSum, grad_norm: gradNorm };
    });
    if (!traced) {
      // The graph returned the new weights and moments as new tensors: move them into the variables.
      for (const [key, variable] of Object.entries(state())) {
        (variable as tf.Variable).assign(outputs[key]);
        outputs[key].dispose();
      }
      tf.dispose(cachedReference ?? []);
    }
    return { metricSum: outputs.metrics as tf.Tensor1D, gradNorm: outputs.grad_norm as tf.Scalar };
  }

  /** Trains for the configured steps, logging, evaluating and saving as configured. */
  async train(): Promise<TrainOutput> {
    const cfg = this.config;
    fs.mkdirSync(cfg.outputDir, { recursive: true });
    fs.writeFileSync(path.join(cfg.outputDir, "config.json"), JSON.stringify(cfg, null, 2) + "\n");
    const metricsFile = path.join(cfg.outputDir, "metrics.jsonl");
    fs.writeFileSync(metricsFile, "");
    if (cfg.reportTo === "tensorboard") {
      // A new run in the same folder starts a new TensorBoard history, as metrics.jsonl starts anew.
      if (fs.existsSync(cfg.loggingDir)) {
        for (const f of fs.readdirSync(cfg.loggingDir)) if (f.startsWith("events.out.tfevents.")) fs.rmSync(path.join(cfg.loggingDir, f));
      }
      this.tensorboard = new SummaryWriter(cfg.loggingDir);
      this.tensorboard.addHparams(cfg as unknown as Record<string, unknown>);
    }
    if (cfg.compileStep && !this.compiled) {
      if (tf.getBackend() !== "tensorflow") throw new Error(`DPOConfig: option "compileStep" needs the native "tensorflow" backend; the active backend is "${tf.getBackend()}"`);
      this.compiled = new CompiledUpdates();
    }
    if (cfg.precomputeRefLogProbs) await this.precomputeReference();
    const total = this.totalSteps();
    this.state.totalSteps = total;
    for (const cb of this.callbacks) await cb.onTrainBegin?.(this.state, cfg);
    if (cfg.evalOnStart && this.evalPairs.length) {
      const evalEntry = await this.evaluate();
      await this.log(evalEntry, metricsFile);
      for (const cb of this.callbacks) await cb.onEvaluate?.(evalEntry, this.state);
    }
    const started = Date.now();
    const batches = this.microBatches();
    const windowSum = new RunningSum();
    let windowCount = 0;
    let lossTotal = 0;
    let lossCount = 0;
    let lastNorm: tf.Scalar | null = null;
    for (let step = 0; step < total; step++) {
      const group: { indices: number[]; epoch: number }[] = [];
      for (let k = 0; k < cfg.gradientAccumulationSteps; k++) group.push(batches.next().value as { indices: number[]; epoch: number });
      const learningRate = this.learningRate(step);
      const { metricSum, gradNorm, tokens, pairs } = await this.trainStep(group, learningRate);
      lastNorm?.dispose();
      lastNorm = gradNorm;
      windowSum.add(metricSum);
      windowCount += group.length;
      this.state.step = step + 1;
      this.state.epoch = (step + 1) / this.stepsPerEpoch();
      this.state.tokensSeen += tokens;
      this.state.pairsSeen += pairs;
      this.state.elapsedSeconds = (Date.now() - started) / 1000;
      const isLast = step + 1 === total;
      if ((step + 1) % cfg.loggingSteps === 0 || isLast) {
        // The only synchronous point of a step: read the metrics at logging steps.
        const sumTensor = windowSum.take();
        const sums = (await sumTensor.data()) as Float32Array;
        sumTensor.dispose();
        const entry: LogEntry = { step: step + 1, epoch: round(this.state.epoch) };
        METRIC_NAMES.forEach((name, i) => (entry[name] = sums[i] / windowCount));
        entry.grad_norm = (await lastNorm.data())[0];
        entry.learning_rate = learningRate;
        lossTotal += entry.loss * windowCount;
        lossCount += windowCount;
        windowCount = 0;
        await this.log(entry, metricsFile);
      }
      if (cfg.evalStrategy === "steps" && this.evalPairs.length && ((step + 1) % cfg.evalSteps === 0 || isLast)) {
        const evalEntry = await this.evaluate();
        await this.log(evalEntry, metricsFile);
        for (const cb of this.callbacks) await cb.onEvaluate?.(evalEntry, this.state);
      }
      if (cfg.saveSteps > 0 && (step + 1) % cfg.saveSteps === 0 && !isLast) {
        await this.saveModel(path.join(cfg.outputDir, `checkpoint-${step + 1}`));
      }
      for (const cb of this.callbacks) await cb.onStepEnd?.(this.state);
    }
    windowSum.dispose();
    lastNorm?.dispose();
    this.tensorboard?.close();
    this.tensorboard = null;
    await this.saveModel(path.join(cfg.outputDir, "final"));
    if (cfg.numSampleGenerations > 0) await this.writeSamples(path.join(cfg.outputDir, "samples.json"));
    if (cfg.writeReport) writeReport(cfg.outputDir);
    for (const cb of this.callbacks) await cb.onTrainEnd?.(this.state);
    const trainLoss = lossCount ? lossTotal / lossCount : NaN;
    const summary = {
      train_runtime: this.state.elapsedSeconds,
      train_samples_per_second: this.state.pairsSeen / Math.max(1e-9, this.state.elapsedSeconds),
      train_tokens_per_second: this.state.tokensSeen / Math.max(1e-9, this.state.elapsedSeconds),
      train_steps_per_second: this.state.step / Math.max(1e-9, this.state.elapsedSeconds),
      train_loss: trainLoss,
      ...(this.compiled ? { compiled_graphs: this.compiled.graphCount, compile_seconds: this.compiled.compileSeconds } : {}),
    };
    fs.writeFileSync(path.join(cfg.outputDir, "train_results.json"), JSON.stringify(summary, null, 2) + "\n");
    return { globalStep: this.state.step, trainLoss, metrics: summary, state: this.state };
  }

  private async log(entry: LogEntry, metricsFile: string): Promise<void> {
    fs.appendFileSync(metricsFile, JSON.stringify(entry) + "\n");
    this.tensorboard?.addScalars(entry);
    this.state.lastLog = entry;
    this.state.logHistory.push(entry);
    for (const cb of this.callbacks) await cb.onLog?.(entry, this.state);
  }

  /**
   * Metrics of pairs without training. Means over batches of `batchSize` pairs (TRL averages per-batch means);
   * with batchSize ≥ the number of pairs it is one batch over all of them.
   */
  async computeMetrics(pairs: TokenIdsPair[], batchSize = this.config.perDeviceEvalBatchSize): Promise<Record<string, number>> {
    if (pairs.length === 0) throw new Error("computeMetrics: no pairs");
    const sum = new RunningSum();
    let batches = 0;
    for (let start = 0; start < pairs.length; start += batchSize) {
      const batch = collatePairs(pairs.slice(start, start + batchSize), this.tokenizer.padTokenId);
      const metrics = tf.tidy(() => {
        const referenceLogps = this.referenceLogps(batch, null);
        return dpoBatchLoss(this.model, batch, referenceLogps, this.config).metrics;
      });
      disposeBatch(batch);
      sum.add(metrics);
      batches += 1;
    }
    const total = sum.take();
    const values = (await total.data()) as Float32Array;
    total.dispose();
    const out: Record<string, number> = {};
    METRIC_NAMES.forEach((name, i) => (out[name] = values[i] / batches));
    return out;
  }

  /** Metrics on the eval set, "eval_" prefixed, at the current step. */
  async evaluate(): Promise<LogEntry> {
    if (!this.evalPairs.length) throw new Error("evaluate: no eval dataset");
    const metrics = await this.computeMetrics(this.evalPairs);
    const entry: LogEntry = { step: this.state.step, epoch: round(this.state.epoch) };
    for (const [name, value] of Object.entries(metrics)) entry[`eval_${name}`] = value;
    return entry;
  }

  /** Greedy generations of policy and reference for the first eval (else train) prompts: samples.json for the report. */
  async writeSamples(file: string): Promise<{ prompt: string; policy: string; reference: string }[]> {
    const source = this.evalPairs.length ? this.evalPairs : this.trainPairs;
    const samples: { prompt: string; policy: string; reference: string }[] = [];
    const completion = async (model: CausalLM, promptIds: number[]) => {
      const out = await generate(model, promptIds, { maxNewTokens: this.config.sampleMaxNewTokens, eosTokenId: this.tokenizer.eosTokenId });
      return this.tokenizer.decode(out.tokens, { skipSpecialTokens: true });
    };
    for (const pair of source.slice(0, this.config.numSampleGenerations)) {
      samples.push({
        prompt: this.tokenizer.decode(pair.promptIds, { skipSpecialTokens: false }),
        policy: await completion(this.model, pair.promptIds),
        reference: await completion(this.refModel, pair.promptIds),
      });
    }
    fs.writeFileSync(file, JSON.stringify(samples, null, 2) + "\n");
    return samples;
  }

  /** Saves the policy (and tokenizer) as a Hugging Face folder. */
  async saveModel(dir: string): Promise<void> {
    await saveModel(this.model, dir);
    await this.tokenizer.save(dir);
    for (const cb of this.callbacks) await cb.onSave?.(dir, this.state);
  }

  /** Frees the optimizer state and the reference copy the trainer made (not the models it was given). */
  dispose(): void {
    this.compiled?.dispose();
    this.compiled = null;
    this.optimizer.dispose();
    if (this.ownsRef) this.refModel.dispose();
  }
}

/** A sum of same-shaped tensors that owns (and disposes) what it is given. */
class RunningSum {
  private total: tf.Tensor1D | null = null;
  add(t: tf.Tensor1D): void {
    if (!this.total) {
      this.total = t;
      return;
    }
    const next = this.total.add(t) as tf.Tensor1D;
    this.total.dispose();
    t.dispose();
    this.total = next;
  }
  /** The sum so far; the caller owns it and the running sum starts again from zero. */
  take(): tf.Tensor1D {
    if (!this.total) throw new Error("RunningSum: nothing added");
    const t = this.total;
    this.total = null;
    return t;
  }
  dispose(): void {
    this.total?.dispose();
    this.total = null;
  }
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
