/**
 * DPOConfig: TRL's DPOConfig / Hugging Face TrainingArguments knobs, in camelCase, with TRL's defaults where they
 * make sense for dpo-ts. Every knob is one the trainer actually reads.
 */
import type { LoraConfig } from "../model/lora";
import { checkLossOptions, FDivergenceType, LossType, LOSS_TYPES } from "./loss";
import { SchedulerType, SCHEDULER_TYPES } from "./scheduler";

/** Every knob of DPO training, with TRL's DPOConfig names in camelCase and TRL 1.13's defaults. */
export interface DPOConfig {
  /** Run folder: metrics.jsonl, config.json, TensorBoard events, report.html, checkpoints, final/.
   * Default "runs/<runName>". */
  outputDir: string;
  // ── The loss (TRL DPOConfig's "Parameters that control the training"; formulas in loss.ts) ──────────────────
  /** β, the strength of the KL penalty to the reference model (τ of the IPO paper for "ipo"). TRL: 0.1. */
  beta: number;
  /** The loss, or several summed with lossWeights (MPO; RPO = ["sigmoid", "sft"]): "sigmoid", "hinge", "ipo",
   * "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot", "aot_unpaired", "apo_zero", "apo_down",
   * "discopop", "sft", "sigmoid_norm". A string (comma-separated names allowed) is turned into a list, as TRL does.
   * TRL: ["sigmoid"]. */
  lossType: LossType | LossType[];
  /** One weight per entry of lossType; null = 1 each. TRL: None. */
  lossWeights: number[] | null;
  /** ε: the label-flip probability of robust DPO and cDPO ("sigmoid"; TRL 1.13 ignores it there), EXO's ε
   * ("exo_pair", must be > 0), and the smoothing of "aot"/"aot_unpaired". TRL: 0. */
  labelSmoothing: number;
  /** f-DPO's divergence: "reverse_kl" (standard DPO), "forward_kl", "js_divergence", "alpha_divergence"; a
   * non-default one only with sigmoid, sigmoid_norm, hinge, ipo, exo_pair, robust, discopop, sft. TRL: "reverse_kl". */
  fDivergenceType: FDivergenceType;
  /** α of "alpha_divergence". TRL: 0.5. */
  fAlphaDivergenceCoef: number;
  /** LD-DPO's α in [0, 1]: completion tokens beyond the shorter completion of the pair count α times in log π (policy
   * and reference); null = plain sums. TRL: None. */
  ldAlpha: number | null;
  /** WPO: weight each pair's loss by the policy's length-normalised probabilities of both completions. TRL: false. */
  useWeighting: boolean;
  /** τ of "discopop". TRL: 0.05. */
  discopopTau: number;
  // ────────────────────────────────────────────────────────────────────────────────────────────────────────────
  /** Peak learning rate. TRL: 1e-6. */
  learningRate: number;
  /** "constant", "constant_with_warmup", "linear" or "cosine". Transformers: "linear". */
  lrSchedulerType: SchedulerType;
  /** Updates of linear warmup from 0 to learningRate. Transformers: 0. */
  warmupSteps: number;
  /** Warmup as a fraction of all updates, used when warmupSteps is 0. Transformers: 0. */
  warmupRatio: number;
  /** Pairs per micro-batch. Transformers: 8. */
  perDeviceTrainBatchSize: number;
  /** Pairs per evaluation batch. Transformers: 8. */
  perDeviceEvalBatchSize: number;
  /** Micro-batches whose gradients are summed before one update. Transformers: 1. */
  gradientAccumulationSteps: number;
  /** Passes over the training set when maxSteps ≤ 0. Transformers: 3. */
  numTrainEpochs: number;
  /** Total updates; overrides numTrainEpochs when > 0. Transformers: -1. */
  maxSteps: number;
  // --- Sequence lengths and truncation (applied in src/data/tokenize.ts, which documents each mode in detail) ---
  /** Longest prompt + completion sequence in tokens (TRL max_length). TRL 1.x and 0.x: 1024. dpo-ts: 0 = unset
   * (the default), which resolves to the model's context (n_positions / max_position_embeddings) when the trainer
   * is built, so no row can exceed what the model reads; set 1024 for TRL's value. */
  maxLength: number;
  /** Which end of a too-long sequence is kept (TRL truncation_mode). TRL 1.x: "keep_start" (the completion's end is
   * cut; rows whose prompt alone fills maxLength are dropped); "keep_end" (cut the prompt's start) is deprecated in
   * TRL 1.x and was TRL 0.x's default for prompts. */
  truncationMode: "keep_start" | "keep_end";
  /** Legacy (TRL 0.x max_prompt_length, 512 there; removed in TRL 1.x): the prompt keeps its last N tokens.
   * Default null = no limit (TRL 1.13). */
  maxPromptLength: number | null;
  /** Legacy (TRL 0.x max_completion_length, None there; removed in TRL 1.x): each completion keeps its first N
   * tokens. Default null = no limit. */
  maxCompletionLength: number | null;
  /** Decoupled weight decay of AdamW (not on biases and LayerNorm). Transformers: 0. */
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  /** Clip gradients to this global L2 norm (0 disables). Transformers: 1. */
  maxGradNorm: number;
  /** Seed for data order and initialisation. Transformers: 42. */
  seed: number;
  /** Log metrics every N updates (metrics are means over the micro-batches since the last log). TRL: 10. */
  loggingSteps: number;
  /** "no" or "steps": evaluate on the eval set every evalSteps updates (and at the end). */
  evalStrategy: "no" | "steps";
  /** Evaluate every N updates; defaults to loggingSteps like transformers. */
  evalSteps: number;
  /** Also evaluate (and log) before the first update, at step 0 (transformers' eval_on_start). */
  evalOnStart: boolean;
  /** Save a checkpoint OUT/checkpoint-N (model, optimizer, scheduler, RNG and data position, trainer_state.json)
   * every N updates; 0 saves only the final model. Transformers: 500 (dpo-ts: 0). */
  saveSteps: number;
  /** Keep at most this many checkpoints, deleting the oldest; 0 keeps all. Transformers: None (all). */
  saveTotalLimit: number;
  /** Continue a run from a checkpoint: its folder, or true for the newest OUT/checkpoint-N. The run continues exactly
   * (weights, optimizer moments, schedule, data order, log history). Transformers: None (the Trainer.train argument). */
  resumeFromCheckpoint: string | boolean;
  /** Allow training into an outputDir that already holds a run; the old run's files are deleted first so old and new
   * never mix. Transformers: False (dpo-ts refuses instead of silently overwriting). */
  overwriteOutputDir: boolean;
  /** Recompute each transformer block's activations during the backward pass instead of keeping them: about one
   * more forward pass of time for much less memory on long sequences and big models. TRL's DPOConfig defaults to
   * true (GPU memory is scarce); dpo-ts defaults to false because at the course's size memory is not the limit. */
  gradientCheckpointing: boolean;
  /** Pad each batch's length to a multiple of this (TRL's pad_to_multiple_of); 0 pads to the longest row only.
   * With compileStep, 0 means 32, so that few distinct batch shapes (and graphs) occur. */
  padToMultipleOf: number;
  /** Run each update as one TensorFlow graph, traced at the first update of each batch shape and then executed as a
   * single session call (the analogue of transformers' torch_compile). Native "tensorflow" backend only. The
   * micro-batches of an update are padded to one length; each new shape costs a traced eager update plus about a
   * second of graph setup, so it pays off over longer runs. LoRA dropout masks are drawn inside the graph from a seed
   * fed at each update (TensorFlow's stateless generator), the same masks as an eager update on the native backend. */
  compileStep: boolean;
  /** Compute reference log-probs once for the whole dataset before training (TRL's precompute_ref_log_probs); the
   * reference model is then released (disposed when the trainer made it) and the values are cached on disk in
   * refLogpsCacheDir, so a later run on the same rows, tokenizer, reference and length settings does no reference
   * forward at all. TRL: false. */
  precomputeRefLogProbs: boolean;
  /** Folder of the reference log-prob cache (files <sha256>.bin); default (empty) $DPO_TS_CACHE/ref-logps or
   * ~/.cache/dpo-ts/ref-logps. "none" disables the disk cache. dpo-ts only. */
  refLogpsCacheDir: string;
  /** TR-DPO (Gorbatovski et al., 2024): every refModelSyncSteps updates, ref ← α·policy + (1−α)·ref. TRL: false. */
  syncRefModel: boolean;
  /** α of the TR-DPO reference update. TRL: 0.6. */
  refModelMixupAlpha: number;
  /** Updates between TR-DPO reference updates. TRL: 512. */
  refModelSyncSteps: number;
  /** Name used in logs and the default run folder. */
  runName: string;
  /** Where metrics go (TRL's report_to): a list of "jsonl" (OUT/metrics.jsonl) and "tensorboard" (event files in
   * loggingDir), or "none"; a single string is accepted too. dpo-ts default: ["jsonl", "tensorboard"]. */
  reportTo: ReportTarget[];
  /** TensorBoard log folder; default (empty) the run folder, outputDir. */
  loggingDir: string;
  /** After training, greedy generations of policy and reference for this many eval (else train) prompts, saved to
   * samples.json and shown in report.html (TRL's generate_during_eval, once). 0 disables. */
  numSampleGenerations: number;
  /** Tokens per sample generation. */
  sampleMaxNewTokens: number;
  /** Write report.html (config, curves, final metrics, samples) into the run folder after training. */
  writeReport: boolean;
  /** No progress display (transformers' disable_tqdm). Default false: unless a progress callback is passed, the trainer
   * shows one — a bar on a terminal (TTY), one plain line per log entry elsewhere (stderr), an output updated in place
   * in a notebook. */
  disableTqdm: boolean;
  /** Train LoRA adapters instead of the whole model (TRL's ModelConfig use_peft / DPOTrainer peft_config); the
   * reference is then the same network with its adapters switched off (no second copy of the weights). A model
   * loaded with an adapter trains that adapter whatever this says. Default false. */
  usePeft: boolean;
  /** LoRA rank r (PEFT LoraConfig.r). PEFT: 8; TRL's ModelConfig: 16. */
  loraR: number;
  /** LoRA alpha; updates are scaled by alpha / r (PEFT lora_alpha). PEFT: 8; TRL's ModelConfig: 32. */
  loraAlpha: number;
  /** Dropout on the adapters' input, training only, seeded by `seed` (PEFT lora_dropout). PEFT: 0; TRL's ModelConfig: 0.05.
   * Note: TRL's disable_dropout (default true) also zeroes peft's LoRA dropout; dpo-ts applies this value as given.
   * The masks come from tfjs's seeded generator on wasm/cpu and TensorFlow's stateless one on the native backend (eager
   * and compileStep alike), so the two kinds of backend draw different masks from the same seed. */
  loraDropout: number;
  /** Comma-separated module names (e.g. "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"; GPT-2:
   * "c_attn,c_proj,c_fc") or "all-linear" (PEFT target_modules). Empty: PEFT's default for the architecture
   * (Llama family: q_proj,v_proj; GPT-2: c_attn). */
  loraTargetModules: string;
  /** rsLoRA: scale by alpha / √r (PEFT use_rslora). PEFT: false. */
  useRslora: boolean;
}

/** The metric writers reportTo can name (src/train/callbacks/). */
export type ReportTarget = "jsonl" | "tensorboard";
/** Every {@link ReportTarget}. */
export const REPORT_TARGETS: ReportTarget[] = ["jsonl", "tensorboard"];

/** What callers may pass: DPOConfig where reportTo may also be one string ("none", "jsonl", "tensorboard"). */
export type DPOConfigInput = Partial<Omit<DPOConfig, "reportTo">> & { reportTo?: ReportTarget[] | ReportTarget | "none" | ("none" | ReportTarget)[] };

/** Knobs that are a positive integer or null (no limit). */
export const NULLABLE_LENGTH_KNOBS: readonly (keyof DPOConfig)[] = ["maxPromptLength", "maxCompletionLength"];

/** TRL 1.13's DPOConfig defaults (what {@link resolveDPOConfig} fills in). */
export const DEFAULT_DPO_CONFIG: DPOConfig = {
  outputDir: "runs/dpo",
  // The loss
  beta: 0.1,
  lossType: ["sigmoid"],
  lossWeights: null,
  labelSmoothing: 0,
  fDivergenceType: "reverse_kl",
  fAlphaDivergenceCoef: 0.5,
  ldAlpha: null,
  useWeighting: false,
  discopopTau: 0.05,
  learningRate: 1e-6,
  lrSchedulerType: "linear",
  warmupSteps: 0,
  warmupRatio: 0,
  perDeviceTrainBatchSize: 8,
  perDeviceEvalBatchSize: 8,
  gradientAccumulationSteps: 1,
  numTrainEpochs: 3,
  maxSteps: -1,
  maxLength: 0,
  truncationMode: "keep_start",
  maxPromptLength: null,
  maxCompletionLength: null,
  weightDecay: 0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  maxGradNorm: 1,
  seed: 42,
  loggingSteps: 10,
  evalStrategy: "no",
  evalSteps: 0,
  evalOnStart: false,
  saveSteps: 0,
  saveTotalLimit: 0,
  resumeFromCheckpoint: false,
  overwriteOutputDir: false,
  gradientCheckpointing: false,
  padToMultipleOf: 0,
  compileStep: false,
  precomputeRefLogProbs: false,
  refLogpsCacheDir: "",
  syncRefModel: false,
  refModelMixupAlpha: 0.6,
  refModelSyncSteps: 512,
  runName: "dpo",
  reportTo: ["jsonl", "tensorboard"],
  loggingDir: "",
  numSampleGenerations: 4,
  sampleMaxNewTokens: 48,
  writeReport: true,
  disableTqdm: false,
  usePeft: false,
  loraR: 8,
  loraAlpha: 8,
  loraDropout: 0,
  loraTargetModules: "",
  useRslora: false,
};

/** Fills defaults, checks every knob's type and range, and names the offending knob (and source) in errors. */
export function resolveConfig(partial: Partial<DPOConfig> & Record<string, unknown>, source = "DPOConfig"): DPOConfig {
  const known = new Set(Object.keys(DEFAULT_DPO_CONFIG));
  for (const key of Object.keys(partial)) {
    if (!known.has(key)) throw new Error(`${source}: unknown option "${key}" (known: ${[...known].join(", ")})`);
  }
  const config = { ...DEFAULT_DPO_CONFIG, ...(partial as Partial<DPOConfig>) };
  config.reportTo = reportTargets(partial.reportTo ?? DEFAULT_DPO_CONFIG.reportTo, source);
  if (partial.outputDir === undefined && typeof config.runName === "string") config.outputDir = `runs/${config.runName}`;
  for (const key of NULLABLE_LENGTH_KNOBS) {
    const v = config[key];
    if (v !== null && !(Number.isInteger(v) && (v as number) > 0))
      throw new Error(`${source}: option "${key}" must be a positive integer or null (no limit), got ${JSON.stringify(v)}`);
  }
  resolveLossKnobs(config, source);
  for (const [key, value] of Object.entries(config)) {
    if (key === "reportTo" || key === "resumeFromCheckpoint") continue; // checked below
    if (NULLABLE_LENGTH_KNOBS.includes(key as keyof DPOConfig)) continue;
    if (LOSS_LIST_KNOBS.has(key)) continue; // checked by resolveLossKnobs
    const expected = typeof (DEFAULT_DPO_CONFIG as unknown as Record<string, unknown>)[key];
    if (typeof value !== expected) throw new Error(`${source}: option "${key}" must be a ${expected}, got ${JSON.stringify(value)}`);
    if (expected === "number" && !Number.isFinite(value as number)) throw new Error(`${source}: option "${key}" must be finite`);
  }
  const positive: (keyof DPOConfig)[] = [
    "beta",
    "perDeviceTrainBatchSize",
    "perDeviceEvalBatchSize",
    "gradientAccumulationSteps",
    "loggingSteps",
    "refModelSyncSteps",
  ];
  for (const key of positive) if (!((config[key] as number) > 0)) throw new Error(`${source}: option "${key}" must be > 0, got ${config[key]}`);
  if (!SCHEDULER_TYPES.includes(config.lrSchedulerType)) throw new Error(`${source}: option "lrSchedulerType" must be one of ${SCHEDULER_TYPES.join(", ")}`);
  if (config.learningRate < 0) throw new Error(`${source}: option "learningRate" must be ≥ 0`);
  if (config.evalStrategy !== "no" && config.evalStrategy !== "steps") throw new Error(`${source}: option "evalStrategy" must be "no" or "steps"`);
  if (!(config.maxLength >= 0) || !Number.isInteger(config.maxLength))
    throw new Error(`${source}: option "maxLength" must be a whole number ≥ 0 (0 = the model's context)`);
  for (const key of ["saveSteps", "saveTotalLimit"] as const)
    if (!(config[key] >= 0) || !Number.isInteger(config[key])) throw new Error(`${source}: option "${key}" must be a whole number ≥ 0`);
  if (typeof config.resumeFromCheckpoint !== "boolean" && typeof config.resumeFromCheckpoint !== "string")
    throw new Error(`${source}: option "resumeFromCheckpoint" must be a checkpoint folder or true, got ${JSON.stringify(config.resumeFromCheckpoint)}`);
  if (config.refModelMixupAlpha < 0 || config.refModelMixupAlpha > 1) throw new Error(`${source}: option "refModelMixupAlpha" must be in [0, 1]`);
  // TRL refuses these too: cached reference log-probs would go stale as soon as the reference moves.
  if (config.syncRefModel && config.precomputeRefLogProbs)
    throw new Error(`${source}: "syncRefModel" (TR-DPO) cannot be combined with "precomputeRefLogProbs": the reference changes during training`);
  if (config.truncationMode !== "keep_start" && config.truncationMode !== "keep_end")
    throw new Error(`${source}: option "truncationMode" must be "keep_start" or "keep_end", got ${JSON.stringify(config.truncationMode)}`);
  if (config.padToMultipleOf < 0 || !Number.isInteger(config.padToMultipleOf))
    throw new Error(`${source}: option "padToMultipleOf" must be a whole number ≥ 0`);
  if (!Number.isInteger(config.loraR) || config.loraR <= 0) throw new Error(`${source}: option "loraR" must be a whole number > 0, got ${config.loraR}`);
  if (!(config.loraAlpha > 0)) throw new Error(`${source}: option "loraAlpha" must be > 0, got ${config.loraAlpha}`);
  if (!(config.loraDropout >= 0 && config.loraDropout < 1)) throw new Error(`${source}: option "loraDropout" must be in [0, 1), got ${config.loraDropout}`);
  if (config.evalSteps <= 0) config.evalSteps = config.loggingSteps;
  if (!config.loggingDir) config.loggingDir = config.outputDir;
  return config;
}

/** The LoRA configuration DPOConfig's lora* knobs describe. */
export function loraConfigOf(config: DPOConfig): LoraConfig {
  const targets = config.loraTargetModules.trim();
  return {
    r: config.loraR,
    alpha: config.loraAlpha,
    dropout: config.loraDropout,
    targetModules:
      targets === "all-linear"
        ? "all-linear"
        : targets
            .split(",")
            .map((t) => t.trim())
            .filter((t) => t),
    useRslora: config.useRslora,
  };
}

/** The loss knobs whose values are lists or null (not checked against the default's type). */
const LOSS_LIST_KNOBS = new Set(["lossType", "lossWeights", "ldAlpha"]);

/**
 * Normalises and checks the loss knobs: lossType to a list (TRL's __post_init__), then TRL's refusals (loss.ts
 * checkLossOptions) and dpo-ts's own range checks, naming the knob. Warns where dpo-ts's numbers differ from TRL 1.13.
 */
function resolveLossKnobs(config: DPOConfig, source: string): void {
  const raw = config.lossType as unknown;
  if (typeof raw === "string") config.lossType = raw.split(",").map((t) => t.trim()) as LossType[];
  else if (Array.isArray(raw) && raw.every((t) => typeof t === "string")) config.lossType = [...raw] as LossType[];
  else throw new Error(`${source}: option "lossType" must be a loss name or a list of them (${LOSS_TYPES.join(", ")}), got ${JSON.stringify(raw)}`);
  const weights = config.lossWeights as unknown;
  if (typeof weights === "string") config.lossWeights = weights.split(",").map((w) => Number(w.trim()));
  else if (weights !== null && !Array.isArray(weights))
    throw new Error(`${source}: option "lossWeights" must be a list of numbers or null, got ${JSON.stringify(weights)}`);
  const ldAlpha = config.ldAlpha as unknown;
  if (ldAlpha !== null && !(typeof ldAlpha === "number" && ldAlpha >= 0 && ldAlpha <= 1))
    throw new Error(`${source}: option "ldAlpha" must be a number in [0, 1] or null, got ${JSON.stringify(ldAlpha)}`);
  for (const key of ["labelSmoothing", "fAlphaDivergenceCoef", "discopopTau"] as const) {
    if (typeof config[key] !== "number" || !Number.isFinite(config[key]))
      throw new Error(`${source}: option "${key}" must be a finite number, got ${JSON.stringify(config[key])}`);
  }
  if (config.labelSmoothing < 0 || config.labelSmoothing >= 1)
    throw new Error(`${source}: option "labelSmoothing" must be in [0, 1), got ${config.labelSmoothing}`);
  checkLossOptions(config, source);
  if (config.labelSmoothing > 0 && (config.lossType as LossType[]).includes("sigmoid")) {
    console.warn(
      `${source}: labelSmoothing ${config.labelSmoothing} with lossType "sigmoid" trains conservative DPO (cDPO, TRL 0.x's sigmoid); TRL 1.13 ignores label_smoothing for "sigmoid", so its numbers differ.`,
    );
  }
}

/** reportTo as a list: "none" (alone) means no writers; a single string is a one-item list. */
export function reportTargets(value: unknown, source = "DPOConfig"): ReportTarget[] {
  const items = typeof value === "string" ? [value] : value;
  if (!Array.isArray(items) || !items.every((v) => typeof v === "string"))
    throw new Error(`${source}: option "reportTo" must be a list of ${REPORT_TARGETS.join(", ")} or "none", got ${JSON.stringify(value)}`);
  if (items.includes("none")) {
    if (items.length > 1) throw new Error(`${source}: option "reportTo": "none" cannot be combined with other targets`);
    return [];
  }
  for (const item of items)
    if (!REPORT_TARGETS.includes(item as ReportTarget))
      throw new Error(`${source}: option "reportTo" has unknown target "${item}" (use ${REPORT_TARGETS.join(", ")} or "none")`);
  return [...new Set(items as ReportTarget[])];
}
