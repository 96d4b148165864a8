/**
 * dpo-ts: Direct Preference Optimization in TypeScript.
 *
 * DPO aligns a language model with preferences (a prompt, a chosen and a rejected answer) using a classification
 * loss against a frozen reference model: no reward model, no reinforcement learning. This package holds everything
 * the recipe needs, with Hugging Face's formats and TRL's names:
 *
 * - {@link initBackend}: pick the TensorFlow.js backend (native TensorFlow, WebGPU, wasm, cpu) and say why;
 * - {@link loadModel} / {@link saveModel}: GPT-2, Llama, Mistral and Qwen2 checkpoints in Hugging Face format
 *   (config.json + safetensors), with optional PEFT LoRA adapters;
 * - {@link Tokenizer}: tokenizer.json, tokenizer_config.json and chat templates;
 * - {@link loadPreferenceDataset}, {@link inspectPreferenceData}: preference data in TRL's formats (standard,
 *   conversational, implicit prompt, Intel/orca_dpo_pairs columns) from JSONL, JSON, CSV or Parquet files;
 * - {@link DPOTrainer} with {@link DPOConfig}: training with TRL's losses, metrics and knobs;
 * - {@link generate}: text generation with a KV cache;
 * - {@link serve}: an OpenAI-compatible HTTP server (streaming, continuous batching, several models, chat page);
 * - metrics: TensorBoard event files, plotly figures, an HTML report.
 *
 * @example
 * ```ts
 * import { initBackend, loadModel, Tokenizer, loadPreferenceDataset, DPOTrainer, EMBEDDED } from "dpo-ts";
 * await initBackend();
 * const tokenizer = await Tokenizer.fromDir(EMBEDDED.sftModel);
 * const model = await loadModel(EMBEDDED.sftModel);
 * const rows = await loadPreferenceDataset(EMBEDDED.orcaDpoPairs, tokenizer);
 * const trainer = new DPOTrainer({ model, tokenizer, trainDataset: rows, args: { beta: 0.1, learningRate: 5e-5, maxSteps: 50 } });
 * await trainer.train();
 * ```
 * @packageDocumentation
 */

import { packageVersion } from "./embedded";

/** This package's version (from package.json). */
export const VERSION = packageVersion();

// Backend
export { initBackend, describeBackend, currentBackend } from "./backend";

// The data and model shipped with the package (absolute paths)
export { EMBEDDED } from "./embedded";
export type { BackendChoice, BackendName, BackendOptions, NativeThreads } from "./backend";

// Model
export { loadModel, loadModelFromDir, saveModel, saveMergedModel, readModelWeights } from "./model/io";
export type { LoadModelOptions } from "./model/io";
export { TransformerLM } from "./model/causal-lm";
export type { CausalLM, ForwardOptions, ForwardOutput, HiddenStateOptions } from "./model/causal-lm";
export type { KVCache } from "./model/attention";
export { TransposedWeights } from "./model/transposed-weights";
export { GPT2LMHeadModel } from "./model/gpt2";
export { LlamaForCausalLM, parseLlamaConfig } from "./model/llama";
export type { LlamaConfig } from "./model/llama";
export { parseMistralConfig } from "./model/mistral";
export { parseQwen2Config } from "./model/qwen2";
export { ARCHITECTURES, parseConfig, readConfig, configToJson, modelFromWeights, initModel } from "./model/architectures";
export { gpt2Config } from "./model/config";
export type { ModelConfig, GPT2Config, BaseModelConfig } from "./model/config";
export { parseRope, inverseFrequencies, ROPE_TYPES } from "./model/rope";
export type { RopeParameters } from "./model/rope";
export { DEFAULT_LORA_CONFIG, readAdapter, loraScaling } from "./model/lora";
export type { LoraConfig, AdapterFiles, LinearModule } from "./model/lora";
export { readSafetensors, writeSafetensors } from "./model/safetensors";
export type { HostTensor, SafetensorsFile } from "./model/safetensors";
export { generate } from "./model/generate";
export type { GenerationOptions, GenerationOutput } from "./model/generate";

// Hugging Face Hub (models and data sets, in the cache Python's huggingface_hub uses)
export { snapshotDownload, resolvePretrained, resolveHubDataset, HubError, hubCacheDir, hubEndpoint, hubOffline, looksLikeRepoId, formatProgress } from "./hub";
export type { HubOptions, SnapshotOptions, Snapshot, HubDatasetOptions, HubDatasetFiles, HubErrorKind, DownloadProgress, ProgressHook } from "./hub";

// Tokenizer
export { Tokenizer } from "./tokenizer/tokenizer";
export type { ChatMessage } from "./tokenizer/tokenizer";
export { trainByteLevelBpe, trainChatMLTokenizer, CHATML_TEMPLATE, CHATML_SPECIAL_TOKENS } from "./tokenizer/train-bpe";

// Data
export {
  loadPreferenceDataset,
  loadPreferenceData,
  streamPreferenceRows,
  detectPreferenceFormat,
  resolveDataFiles,
  resolvePreferenceSource,
} from "./data/dataset";
export type { PreferenceFormat, LoadOptions, PreferenceData, SkippedRow } from "./data/dataset";
export { readRawRows, readRawRowsSync, formatSource, RowError } from "./data/readers";
export type { RowSource, RawRow } from "./data/readers";
export { classifyRow, convertRow, extractPrompt, ORCA_COLUMNS, PREFERENCE_FORMATS } from "./data/rows";
export type { ColumnName, RowKind } from "./data/rows";
export { inspectPreferenceData, summarizePreferenceData, formatSummary, lengthStats } from "./data/inspect";
export type { PreferenceDataSummary, LengthStats } from "./data/inspect";
export { readPreferenceFile, readOrcaFile, readInstructionFile, readJsonObjects, writeJsonl, splitTrainEval, rowLocation } from "./data/preferences";
export type { PreferenceRow, OrcaRow, InstructionRow } from "./data/preferences";
export { chatmlFormat, chatmlPrompt, chatmlInstruction, CHATML_END } from "./data/format";
export { tokenizePair, tokenizePairs, DEFAULT_MAX_LENGTH } from "./data/tokenize";
export type { TokenizedPair, TokenizeOptions, TruncationMode, DroppedRow, TruncationCounts } from "./data/tokenize";
export { generatePreferenceSet, generateInstructionSet } from "./data/synthetic";
export { Rng } from "./util/rng";
export { worldQuestions, lookUpQuestion, heldOutReservation, isHeldOut } from "./data/world";
export type { WorldQuestion, WorldPrompt, Task } from "./data/world";

// The world's judge (a readable stand-in for labellers / a reward model)
export { judgeAnswer, judgeWorldAnswer, VERDICT_SCORES } from "./judge/judge";
export type { Judgement, Verdict } from "./judge/judge";
export { heldOutPrompts } from "./judge/held-out";
export type { Prompt } from "./judge/held-out";
export { judgeModels, winRate, wilsonInterval, answerPrompt, answerPrompts, sampleAnswer, sampleAnswers } from "./judge/win-rate";
export type { JudgeModelsOptions, JudgedPrompt, WinRate, SampledAnswer } from "./judge/win-rate";
// The reward–KL frontier (the DPO paper's Fig. 2): a β sweep, each policy's judged reward against its KL to the reference
export { klEstimate, meanEstimate, sequenceLogps, frontierPoint } from "./judge/frontier";
export type { MeanEstimate, FrontierPoint, FrontierPointOptions, FrontierSample } from "./judge/frontier";
export { betaSweep, frontierFigure, frontierTable, betaRunName, SWEEP_TRAIN_ARGS } from "./judge/beta-sweep";
export type { BetaSweepOptions, BetaSweepResult, SweepPoint } from "./judge/beta-sweep";
export { buildJudgedPairs } from "./judge/judged-pairs";
export type { JudgedPair, JudgedPairsOptions, JudgedPairsResult } from "./judge/judged-pairs";

// Training
export { DPOTrainer, NonFiniteError } from "./train/trainer";
export type { DPOTrainerOptions, TrainerCallback, TrainerContext, TrainerState, LogEntry, TrainOutput, DataReport } from "./train/trainer";
export { JsonlWriter } from "./train/callbacks/jsonl";
export { TensorBoardWriter } from "./train/callbacks/tensorboard";
export { SamplesAndReport } from "./train/callbacks/report";
export { evaluate } from "./train/evaluate";
export type { EvaluateConfig, EvaluationReference } from "./train/evaluate";
export { computeReferenceLogps, cachedReferenceLogps, referenceCacheKey, defaultRefLogpsCacheDir, syncReference } from "./train/reference";
export { saveCheckpoint, loadCheckpoint, listCheckpoints, resolveCheckpoint } from "./train/checkpoint";
export type { TrainerStateJson } from "./train/checkpoint";
export { DEFAULT_DPO_CONFIG, resolveConfig, reportTargets, loraConfigOf } from "./train/config";
export type { DPOConfig, DPOConfigInput, ReportTarget } from "./train/config";
export { dpoLoss, lossCurves, checkLossOptions, LOSS_TYPES, F_DIVERGENCE_TYPES, F_DIVERGENCE_LOSS_TYPES } from "./train/loss";
export type { LossType, FDivergenceType, DPOLossOptions, PreferenceLogps } from "./train/loss";
export { dpoBatchLoss, METRIC_NAMES } from "./train/step";
export type { DPOStepOptions } from "./train/step";
export { completionLogps, headLogProbs, lengthDesensitizedRows } from "./train/logps";
export { collatePairs, collateSequences, disposeBatch, microBatchOrder } from "./train/batch";
export type { PairBatch } from "./train/batch";
export { AdamW, clipGradNorm, optimizerStep, gradientsByName } from "./train/optimizer";
export { learningRateAt, SCHEDULER_TYPES } from "./train/scheduler";
export type { SchedulerType } from "./train/scheduler";
export { trainSFT, DEFAULT_SFT_CONFIG } from "./train/sft";
export type { SFTConfig } from "./train/sft";

// Metrics: TensorBoard, plots, report
export { SummaryWriter, hparamsMarkdown } from "./metrics/tensorboard";
export { formatLogLine } from "./metrics/logger";
export {
  lossFigure,
  rewardsFigure,
  marginsFigure,
  accuracyFigure,
  learningRateFigure,
  gradNormFigure,
  logpsFigure,
  klFigure,
  completionLengthFigure,
  winRateFigure,
  rewardKlFigure,
  compareRunsFigure,
  compareTable,
  finalMetricsTable,
  dpoDashboard,
  lossShapesFigure,
  seriesFromLog,
  ema,
  histogram,
} from "./metrics/plots";
export type { PlotlyFigure, MetricLogEntry, NamedFigure, RunLog, Table, LossCurve, RewardKlGroup, RewardKlOptions } from "./metrics/plots";
export { figureHtml, mimeBundle, htmlPage, tableHtml } from "./metrics/render";
export { writeReport, buildReport, readMetricsLog, writeComparison, buildComparison } from "./metrics/report";

// Serving
export { serve, modelNameFromPath } from "./serve/server";
export type { ServeOptions, ServedModel, RunningServer } from "./serve/server";
export { ContinuousBatcher, QueueFullError } from "./serve/batcher";
export type { BatcherConfig, SequenceRequest, SequenceResult, SequenceHandle, FinishReason } from "./serve/batcher";

// Notebook displays and progress (the notebook runner and kernel install: `dpo-ts/course`)
export { displayBundle, LiveDisplay } from "./course/display";
export { notebookProgress, terminalProgress, progressSnapshot, progressLine, liveTrainingFigure, inNotebook } from "./train/callbacks/progress";
export type { ProgressSnapshot, ProgressOptions, NotebookProgressOptions, TerminalProgressOptions } from "./train/callbacks/progress";
