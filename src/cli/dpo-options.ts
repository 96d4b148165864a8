/**
 * DPOConfig on the command line and in --config files. Every DPOConfig knob gets a kebab-case option generated from
 * DEFAULT_DPO_CONFIG (so a knob added to the config is a flag at once): number → a checked number (a whole number for
 * the counts in INTEGER_KNOBS), boolean → a flag (`--no-<knob>` too when the default is true), list → comma-separated,
 * string → text. The short names (--lr, --steps, …) are aliases. A --config FILE.json|.yaml|.yml takes the same names
 * and TRL's snake_case names, so a TRL user's DPOConfig YAML works unchanged; TRL keys that only concern hardware or
 * the Hub are ignored with a printed note, any other key dpo-ts does not know is an error naming file, line and key.
 */
import * as fs from "fs";
import { LineCounter, parseDocument, isMap, isScalar } from "yaml";
import { DEFAULT_DPO_CONFIG, DPOConfig } from "../train/config";
import { CliError, OptionSpec, OptionsTable, parseNumber, splitList } from "./framework";

/** A DPOConfig field name: what the CLI's options and config files set. */
type Knob = keyof DPOConfig & string;

/** Short names kept from the first CLI: alias → knob. */
export const KNOB_ALIASES: Record<string, string> = {
  out: "outputDir",
  steps: "maxSteps",
  epochs: "numTrainEpochs",
  "batch-size": "perDeviceTrainBatchSize",
  "eval-batch-size": "perDeviceEvalBatchSize",
  "grad-accum": "gradientAccumulationSteps",
  lr: "learningRate",
  loss: "lossType",
  scheduler: "lrSchedulerType",
  "precompute-ref": "precomputeRefLogProbs",
  name: "runName",
  resume: "resumeFromCheckpoint",
};

/** Knobs that count things: whole numbers only. */
export const INTEGER_KNOBS = new Set<string>([
  "perDeviceTrainBatchSize",
  "perDeviceEvalBatchSize",
  "gradientAccumulationSteps",
  "maxSteps",
  "maxLength",
  "maxPromptLength",
  "maxCompletionLength",
  "warmupSteps",
  "seed",
  "dataSeed",
  "loggingSteps",
  "evalSteps",
  "saveSteps",
  "saveTotalLimit",
  "padToMultipleOf",
  "numSampleGenerations",
  "sampleMaxNewTokens",
  "refModelSyncSteps",
  "loraR",
]);

/** Knobs that must be > 0 when given (maxSteps ≤ 0 in a TRL config file means "unset", as in transformers). */
export const POSITIVE_KNOBS = new Set<string>([
  "perDeviceTrainBatchSize",
  "perDeviceEvalBatchSize",
  "gradientAccumulationSteps",
  "maxSteps",
  "numTrainEpochs",
  "maxPromptLength",
  "maxCompletionLength",
  "loggingSteps",
  "evalSteps",
  "beta",
  "refModelSyncSteps",
  "loraR",
]);

/** Knobs that take a list (`--loss sigmoid,sft --loss-weights 1,0.5`), even where the default is one value. */
export const LIST_KNOBS = new Set<string>(["lossType", "lossWeights", "reportTo"]);
const NUMBER_LIST_KNOBS = new Set<string>(["lossWeights"]);

/** TRL / transformers keys that only concern hardware, distribution, logging services or the Hub: ignored with a note. */
export const TRL_IGNORED_KEYS = new Set<string>([
  "bf16",
  "fp16",
  "tf32",
  "bf16_full_eval",
  "fp16_full_eval",
  "half_precision_backend",
  "fp16_opt_level",
  "dataloader_num_workers",
  "dataloader_pin_memory",
  "dataloader_persistent_workers",
  "dataloader_prefetch_factor",
  "dataset_num_proc",
  "push_to_hub",
  "hub_model_id",
  "hub_strategy",
  "hub_token",
  "hub_private_repo",
  "hub_always_push",
  "hub_revision",
  "use_cpu",
  "no_cuda",
  "local_rank",
  "ddp_backend",
  "ddp_timeout",
  "ddp_find_unused_parameters",
  "ddp_bucket_cap_mb",
  "ddp_broadcast_buffers",
  "log_level",
  "log_level_replica",
  "log_on_each_node",
  "logging_nan_inf_filter",
  "save_safetensors",
  "save_on_each_node",
  "gradient_checkpointing_kwargs",
  "remove_unused_columns",
  "skip_memory_metrics",
  "include_tokens_per_second",
  "include_num_input_tokens_seen",
  "activation_offloading",
  "do_train",
  "do_eval",
  "do_predict",
]);

/** TRL / transformers keys refused with a reason (they would change what is trained, and dpo-ts cannot do it). */
const TRL_REFUSED_KEYS: Record<string, string> = {
  deepspeed: "dpo-ts trains on one device: no DeepSpeed",
  fsdp: "dpo-ts trains on one device: no FSDP",
  fsdp_config: "dpo-ts trains on one device: no FSDP",
  torch_compile: "not PyTorch: use compile_step (the native TensorFlow backend's graph mode)",
  rpo_alpha: "RPO is loss_type [sigmoid, sft] with loss_weights in TRL 1.x",
  reference_free: "not implemented by dpo-ts",
  use_liger_kernel: "not PyTorch: no Liger kernels",
  padding_free: "not implemented by dpo-ts",
};

/** transformers' optim values that are the AdamW dpo-ts runs. */
const ADAMW_OPTIMS = new Set(["adamw_torch", "adamw_torch_fused", "adamw_hf"]);

/** report_to values of transformers' integrations that dpo-ts has no writer for: dropped with a note. */
const FOREIGN_REPORT_TO = new Set([
  "all",
  "azure_ml",
  "clearml",
  "codecarbon",
  "comet_ml",
  "dagshub",
  "dvclive",
  "flyte",
  "mlflow",
  "neptune",
  "swanlab",
  "trackio",
  "wandb",
]);

/** TRL script / transformers names that differ from dpo-ts's: TRL key (camelCased) → dpo-ts option name. */
const TRL_RENAMES: Record<string, string> = {
  modelNameOrPath: "policy",
  refModelNameOrPath: "ref",
  datasetName: "data",
  evaluationStrategy: "evalStrategy",
};

/** camelCase → kebab-case (`maxSteps` → `max-steps`), the option name of a DPOConfig field. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/** kebab-case or snake_case → camelCase (`max-steps`, `max_steps` → `maxSteps`). */
export function camel(name: string): string {
  return name.replace(/[-_]([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** camelCase → snake_case (`maxSteps` → `max_steps`), TRL's name of a DPOConfig field. */
export function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

function defaultOf(knob: string): unknown {
  return (DEFAULT_DPO_CONFIG as unknown as Record<string, unknown>)[knob];
}

function isList(knob: string): boolean {
  return LIST_KNOBS.has(knob) || Array.isArray(defaultOf(knob));
}

/** --help text of the knobs (DPOConfig's doc comments in brief); a knob missing here is shown by its TRL name. */
const KNOB_HELP: Record<string, string> = {
  outputDir: "run folder (default runs/<run-name>)",
  beta: "strength of the KL penalty to the reference",
  lossType: "DPO loss, or a list for a weighted sum (see --loss-weights)",
  lossWeights: "weights of the losses in --loss",
  labelSmoothing: "probability that a preference label is flipped (cDPO, robust)",
  learningRate: "peak learning rate",
  lrSchedulerType: "constant, constant_with_warmup, linear or cosine",
  warmupSteps: "updates of linear warm-up",
  warmupRatio: "warm-up as a fraction of all updates (when --warmup-steps is 0)",
  perDeviceTrainBatchSize: "pairs per micro-batch",
  perDeviceEvalBatchSize: "pairs per evaluation batch",
  gradientAccumulationSteps: "micro-batches per update",
  numTrainEpochs: "passes over the data when --steps is not given",
  maxSteps: "total updates (default: --epochs passes over the data)",
  maxLength: "longest prompt + completion in tokens; 0 = the model's context (TRL: 1024)",
  maxPromptLength: "longest prompt in tokens (truncated from the left)",
  weightDecay: "AdamW's decoupled weight decay",
  maxGradNorm: "clip gradients to this global L2 norm; 0 = no clipping",
  seed: "seed of data order and initialisation",
  loggingSteps: "log metrics every N updates",
  evalStrategy: "no or steps",
  evalSteps: "evaluate every N updates (default: --logging-steps)",
  evalOnStart: "evaluate before the first update too",
  saveSteps: "save a checkpoint every N updates; 0 = only the final model",
  saveTotalLimit: "keep at most N checkpoints (the oldest are deleted)",
  gradientCheckpointing: "recompute activations in the backward pass (less memory, more time)",
  padToMultipleOf: "pad batch lengths to a multiple of N; 0 = to the longest row",
  compileStep: "run each update as one TensorFlow graph (native tensorflow backend)",
  precomputeRefLogProbs: "score the reference once before training, then release it",
  runName: "name in logs and of the default run folder",
  reportTo: "metric writers besides the console (e.g. tensorboard, none)",
  loggingDir: "TensorBoard folder (default: the run folder)",
  numSampleGenerations: "after training, sample generations of this many prompts; 0 = none",
  sampleMaxNewTokens: "tokens per sample generation",
  writeReport: "write report.html into the run folder",
  overwriteOutputDir: "replace an existing run folder",
  refLogpsCacheDir: "folder of cached reference log-probs (with --precompute-ref-log-probs)",
  syncRefModel: "TR-DPO: move the reference towards the policy during training",
  refModelMixupAlpha: "TR-DPO: weight of the policy in each reference update",
  refModelSyncSteps: "TR-DPO: update the reference every N steps",
  fDivergenceType: "reverse_kl, forward_kl, js_divergence or alpha_divergence",
  fAlphaDivergenceCoef: "α of alpha_divergence",
  ldAlpha: "LD-DPO: weight of the verbose part of longer responses",
  useWeighting: "WPO: weight pairs by their policy probability",
  discopopTau: "τ of the discopop loss",
  maxCompletionLength: "longest completion in tokens",
  truncationMode: "keep_start or keep_end",
  usePeft: "train LoRA adapters instead of all weights",
  loraR: "LoRA rank",
  loraAlpha: "LoRA scaling α",
  loraDropout: "dropout on the LoRA input",
  loraTargetModules: "modules that get adapters (comma-separated, or all-linear)",
  useRslora: "rank-stabilised LoRA scaling (α/√r)",
};

function knobOption(knob: string): OptionSpec {
  const d = defaultOf(knob);
  const description = KNOB_HELP[knob] ?? `DPOConfig.${knob} (TRL: ${snake(knob)})`;
  if (knob === "resumeFromCheckpoint") {
    return {
      type: "string",
      valueName: "DIR",
      impliedValue: "true",
      description: "continue from OUT/checkpoint-N; alone: the newest checkpoint (TRL: resume_from_checkpoint)",
      group: "DPOConfig",
    };
  }
  if (typeof d === "boolean") return { type: "boolean", description, group: "DPOConfig" };
  const shown = Array.isArray(d) ? d.join(",") : d === null || d === undefined || d === "" || description.includes("default") ? undefined : String(d);
  const valueName = isList(knob) ? "A,B" : INTEGER_KNOBS.has(knob) ? "N" : typeof d === "number" || d === null ? "X" : /Dir$/.test(knob) ? "DIR" : "NAME";
  return { type: "string", valueName, description: description + (shown !== undefined ? ` (default ${shown})` : ""), group: "DPOConfig" };
}

/**
 * Options for DPOConfig's knobs (all of them, less `exclude`), named in kebab-case, with the short aliases and a
 * `--no-<knob>` for each boolean knob that defaults to true.
 */
export function dpoConfigOptions(exclude: Iterable<string> = []): OptionsTable {
  const skip = new Set(exclude);
  const table: OptionsTable = {};
  for (const knob of Object.keys(DEFAULT_DPO_CONFIG)) {
    if (skip.has(knob)) continue;
    table[kebab(knob)] = knobOption(knob);
    if (defaultOf(knob) === true) {
      table[kebab(knob)].description += " (default: on)";
      table[`no-${kebab(knob)}`] = { type: "boolean", description: `turn --${kebab(knob)} off`, group: "DPOConfig" };
    }
  }
  for (const [alias, knob] of Object.entries(KNOB_ALIASES)) {
    if (table[kebab(knob)]) table[alias] = { ...table[kebab(knob)], aliasOf: kebab(knob) };
  }
  return table;
}

/** The knob an option name stands for (`lr` → learningRate, `no-write-report` → writeReport), or undefined. */
export function knobOf(optionName: string): string | undefined {
  const name = KNOB_ALIASES[optionName] ?? camel(optionName.replace(/^no-/, ""));
  return name in DEFAULT_DPO_CONFIG ? name : undefined;
}

/** A value as DPOConfig wants it for `knob`; `what` names where it came from; `fromFile` accepts TRL's "unset" -1. */
export function knobValue(knob: string, raw: unknown, what: string, fromFile = false): unknown {
  const d = defaultOf(knob);
  if (knob === "resumeFromCheckpoint") {
    if (raw === true || raw === "true") return true;
    if (raw === false || raw === "false" || raw === null) return typeof d === "string" ? "" : false;
    if (typeof raw !== "string") throw new CliError(`${what} must be a checkpoint folder or true, got ${JSON.stringify(raw)}`);
    return raw;
  }
  if (isList(knob)) {
    const items = Array.isArray(raw) ? raw.map(String) : typeof raw === "string" ? splitList(raw, what) : [String(raw)];
    const typed: unknown[] = NUMBER_LIST_KNOBS.has(knob) || (Array.isArray(d) && typeof d[0] === "number") ? items.map((s) => parseNumber(s, what)) : items;
    return Array.isArray(d) || typed.length !== 1 ? typed : typed[0];
  }
  if (typeof d === "boolean") {
    if (raw === true || raw === "true") return true;
    if (raw === false || raw === "false") return false;
    throw new CliError(`${what} must be true or false, got ${JSON.stringify(raw)}`);
  }
  // A null default is a number that may be unset (ldAlpha: TRL's None).
  if (typeof d === "number" || INTEGER_KNOBS.has(knob) || d === null) {
    if (raw === null && d === null) return null;
    if (typeof raw !== "number" && typeof raw !== "string") throw new CliError(`${what} must be a number, got ${JSON.stringify(raw)}`);
    const integer = INTEGER_KNOBS.has(knob);
    if (fromFile && knob === "maxSteps" && Number(raw) <= 0) return parseNumber(raw, what, { integer });
    return parseNumber(raw, what, { integer, positive: POSITIVE_KNOBS.has(knob) });
  }
  // A comma-separated text knob (loraTargetModules) written as a YAML list.
  if (Array.isArray(raw) && raw.every((x) => typeof x === "string")) return raw.join(",");
  if (typeof raw !== "string") throw new CliError(`${what} must be text, got ${JSON.stringify(raw)}`);
  return raw;
}

/** One value taken from a --config file: the option it sets and where it was (for errors). */
export interface FileEntry {
  option: string;
  value: unknown;
  where: string;
}

/**
 * Reads --config FILE (.json, .yaml, .yml): one object whose keys are `table`'s option names (kebab-case, camelCase or
 * TRL's snake_case; DPOConfig knob names too). Returns the entries; each ignored TRL key is passed to `note` as it is
 * met (so the notes come out even when a later key is an error).
 */
export function readConfigFile(file: string, table: OptionsTable, note: (message: string) => void): FileEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new CliError(`--config ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  const pairs: { key: string; value: unknown; line: number }[] = [];
  if (/\.ya?ml$/i.test(file)) {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter });
    if (doc.errors.length) {
      const err = doc.errors[0];
      throw new CliError(`${file}:${err.linePos?.[0].line ?? "?"}: ${err.message.split("\n")[0]}`);
    }
    if (!isMap(doc.contents)) throw new CliError(`${file}: must hold one mapping of option names to values`);
    for (const pair of doc.contents.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const offset = isScalar(pair.key) && pair.key.range ? pair.key.range[0] : 0;
      const value =
        pair.value && typeof (pair.value as { toJSON?: () => unknown }).toJSON === "function"
          ? (pair.value as { toJSON: () => unknown }).toJSON()
          : isScalar(pair.value)
            ? pair.value.value
            : null;
      pairs.push({ key, value, line: lineCounter.linePos(offset).line });
    }
  } else if (/\.json$/i.test(file)) {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new CliError(`${file}: ${(e as Error).message}`);
    }
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new CliError(`${file}: must hold one JSON object`);
    for (const [key, value] of Object.entries(raw)) {
      const at = text.indexOf(JSON.stringify(key));
      pairs.push({ key, value, line: at < 0 ? 1 : text.slice(0, at).split("\n").length });
    }
  } else throw new CliError(`--config ${file}: must be a .json, .yaml or .yml file`);

  const entries: FileEntry[] = [];
  const seen = new Map<string, string>();
  for (const { key, value, line } of pairs) {
    const where = `${file}:${line}: ${key}`;
    if (key === "optim" && typeof value === "string" && ADAMW_OPTIMS.has(value)) {
      note(`${file}:${line}: optim "${value}": dpo-ts runs its own AdamW (the same update)`);
      continue;
    }
    if (key === "optim") throw new CliError(`${where}: dpo-ts trains with AdamW only (adamw_torch), got ${JSON.stringify(value)}`);
    const option = fileKeyToOption(key, table);
    // A key dpo-ts implements is never ignored or refused, even if listed below.
    if (!option && TRL_IGNORED_KEYS.has(key)) {
      note(`${file}:${line}: ignoring TRL option "${key}" (hardware, distribution or Hub setting; dpo-ts runs fp32 on one device)`);
      continue;
    }
    if (!option && TRL_REFUSED_KEYS[key]) throw new CliError(`${where}: ${TRL_REFUSED_KEYS[key]}`);
    if (!option) {
      throw new CliError(`${where}: unknown option (neither a dpo-ts option nor a TRL DPOConfig knob dpo-ts implements; see dpo-ts train --help)`);
    }
    if (seen.has(option)) throw new CliError(`${where}: sets --${option} again (also set as ${seen.get(option)})`);
    seen.set(option, key);
    let v = value;
    if (option === "report-to") {
      const list = Array.isArray(v) ? v.map(String) : typeof v === "string" ? splitList(v, where) : [];
      const foreign = list.filter((x) => FOREIGN_REPORT_TO.has(x));
      if (foreign.length) note(`${file}:${line}: ignoring report_to ${foreign.join(", ")} (dpo-ts has no such integration)`);
      const kept = list.filter((x) => !FOREIGN_REPORT_TO.has(x));
      v = kept.length ? kept : ["none"];
    }
    entries.push({ option, value: v, where });
  }
  return entries;
}

/** The option of `table` a config-file key names: kebab, camel or snake spelling, an alias, or a TRL rename. */
function fileKeyToOption(key: string, table: OptionsTable): string | undefined {
  const asCamel = camel(key);
  const candidates = [key, kebab(asCamel), kebab(TRL_RENAMES[asCamel] ?? "")];
  for (const name of candidates) {
    const o = table[name];
    if (o) return o.aliasOf ?? name;
  }
  return undefined;
}

/**
 * Command-line values and --config entries merged (the command line wins), keyed by canonical option name (aliases
 * folded into the option they stand for), each with where it came from.
 */
export function mergeValues(
  values: Record<string, unknown>,
  table: OptionsTable,
  entries: FileEntry[] = [],
): Map<string, { value: unknown; where: string; fromFile: boolean }> {
  const merged = new Map<string, { value: unknown; where: string; fromFile: boolean }>();
  for (const e of entries) merged.set(e.option, { value: e.value, where: e.where, fromFile: true });
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined || !table[name]) continue;
    merged.set(table[name].aliasOf ?? name, { value, where: `--${name}`, fromFile: false });
  }
  return merged;
}

/** The DPOConfig overrides among merged values: the options of `table` generated for knobs (`--no-<knob>` sets false). */
export function dpoConfigFrom(merged: ReturnType<typeof mergeValues>, table: OptionsTable): Partial<DPOConfig> {
  const config: Record<string, unknown> = {};
  for (const [option, { value, where, fromFile }] of merged) {
    const knob = knobOf(option);
    if (!knob || table[option]?.group !== "DPOConfig") continue;
    if (option === `no-${kebab(knob)}`) {
      if (merged.has(kebab(knob))) throw new CliError(`${where} contradicts ${merged.get(kebab(knob))!.where}`);
      if (value === true) config[knob] = false;
      continue;
    }
    config[knob] = knobValue(knob, value, where, fromFile);
  }
  return config as Partial<DPOConfig>;
}

export type { Knob };
