/**
 * The same DPO job for Hugging Face TRL, for when one machine is not enough: a folder that `trl dpo --config` (one
 * device) or `accelerate launch` (many GPUs, DeepSpeed ZeRO-3 or FSDP) runs as it is, with the hyperparameters under
 * TRL 1.13's names, the training rows exactly as dpo-ts trained on them (already formatted, e.g. ChatML for orca rows),
 * the model folder (or its Hub id) and the LoRA adapter when there is one.
 *
 *   DIR/dpo_config.yaml            TrlParser's config: DPOConfig + ScriptArguments + ModelConfig keys (snake_case)
 *   DIR/data/train.jsonl           {prompt, chosen, rejected} rows; data/test.jsonl when the job evaluates
 *   DIR/model/                     the policy's HF folder (config.json, *.safetensors, tokenizer files), unless a Hub id
 *   DIR/adapter/                   the PEFT adapter the job starts from, when it names one
 *   DIR/accelerate/deepspeed_zero3.yaml, DIR/accelerate/fsdp.yaml   accelerate's config files
 *   DIR/launch.sh                  the command lines (run from DIR: every path in the folder is relative to it)
 *
 * Knobs with no TRL twin are either without numeric effect (written as comments) or refused when they would change
 * what is trained; see TRL_KEY below.
 */
import * as fs from "fs";
import * as path from "path";
import type { DPOConfig } from "./config";
import type { PreferenceRow } from "../data/preferences";
import { writeJsonl } from "../data/preferences";

/** What export needs: the resolved config and where the job's pieces are. */
export interface TrlExportJob {
  config: DPOConfig;
  /** The policy: a local HF folder (copied unless copyModel is false) or a Hub repo id (written as it is). */
  policy: string;
  /** The tokenizer's folder when it is not the policy's (its tokenizer files are copied into DIR/model). */
  tokenizer?: string;
  /** Training rows as dpo-ts trains on them (after formatting). */
  trainRows: PreferenceRow[];
  /** Evaluation rows, when the job evaluates. */
  evalRows?: PreferenceRow[];
  /** A PEFT adapter folder (adapter_config.json + adapter_model.safetensors) the job starts from. */
  adapter?: string;
  /** The export folder. */
  out: string;
  /** Copy the model folder into DIR/model (default) or reference it by absolute path. */
  copyModel?: boolean;
  /** GPUs in launch.sh's accelerate command lines (the per-device batch is divided so the global batch is unchanged). */
  numProcesses?: number;
}

/** What {@link exportTrl} wrote, and what a user should know before running it. */
export interface TrlExportResult {
  /** Files written, relative to `out`. */
  files: string[];
  /** What a user should know (knobs TRL lacks, batch split across GPUs, …). */
  notes: string[];
}

/**
 * dpo-ts knob → TRL key. `null`: no TRL twin and no effect on the numbers (a comment in the YAML). A knob missing here
 * and from REFUSED is written under its snake_case name (TRL's convention), which the loop checks against TRL_KNOWN.
 */
const TRL_KEY: Record<string, string | null> = {
  outputDir: "output_dir",
  compileStep: null,
  loggingDir: null,
  numSampleGenerations: null,
  sampleMaxNewTokens: null,
  writeReport: null,
  disableTqdm: "disable_tqdm",
  overwriteOutputDir: null,
  refLogpsCacheDir: null,
  resumeFromCheckpoint: null,
  warmupRatio: null, // folded into warmup_steps (transformers 5: a float < 1 is a ratio)
  saveSteps: null, // save_strategy + save_steps below
  padToMultipleOf: null, // 0 → None below
  maxPromptLength: null, // checked against the rows below
  maxCompletionLength: null, // checked against the rows below
};

/** Knobs of DPOConfig that TRL 1.13's DPOConfig / ModelConfig take under their snake_case name. */
const TRL_KNOWN = new Set([
  "beta",
  "loss_type",
  "loss_weights",
  "label_smoothing",
  "f_divergence_type",
  "f_alpha_divergence_coef",
  "ld_alpha",
  "use_weighting",
  "discopop_tau",
  "learning_rate",
  "lr_scheduler_type",
  "warmup_steps",
  "per_device_train_batch_size",
  "per_device_eval_batch_size",
  "gradient_accumulation_steps",
  "num_train_epochs",
  "max_steps",
  "max_length",
  "weight_decay",
  "adam_beta1",
  "adam_beta2",
  "adam_epsilon",
  "max_grad_norm",
  "seed",
  "data_seed",
  "logging_steps",
  "disable_tqdm",
  "eval_strategy",
  "eval_steps",
  "eval_on_start",
  "gradient_checkpointing",
  "precompute_ref_log_probs",
  "run_name",
  "report_to",
  "save_total_limit",
  "truncation_mode",
  "sync_ref_model",
  "ref_model_mixup_alpha",
  "ref_model_sync_steps",
  "disable_dropout",
  "output_dir",
  // ModelConfig (TrlParser's model arguments): LoRA
  "use_peft",
  "lora_r",
  "lora_alpha",
  "lora_dropout",
  "lora_target_modules",
  "use_rslora",
]);

/**
 * YAML that PyYAML (YAML 1.1, what TrlParser and accelerate read) parses to the intended types: strings double-quoted
 * (a bare `no` would be false), floats with a dot (a bare `1e-8` would be a string), lists in flow style.
 */
export function toYaml(value: Record<string, unknown>, indent = ""): string {
  const scalar = (v: unknown): string => {
    if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new Error(`toYaml: ${v} has no YAML form here`);
      if (Number.isInteger(v)) return String(v);
      const text = String(v);
      if (!/e/.test(text)) return text;
      const [mantissa, exponent] = text.split("e");
      return `${mantissa.includes(".") ? mantissa : mantissa + ".0"}e${exponent.startsWith("-") ? exponent : "+" + exponent.replace(/^\+/, "")}`;
    }
    if (Array.isArray(v)) return `[${v.map(scalar).join(", ")}]`;
    return JSON.stringify(v ?? null); // strings, booleans, null
  };
  return Object.entries(value)
    .map(([k, v]) =>
      v !== null && typeof v === "object" && !Array.isArray(v)
        ? `${indent}${k}:\n${toYaml(v as Record<string, unknown>, indent + "  ")}`
        : `${indent}${k}: ${scalar(v)}\n`,
    )
    .join("");
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

/** Files of an HF model folder that carry the tokenizer. */
const TOKENIZER_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "vocab.json",
  "merges.txt",
  "chat_template.jinja",
  "added_tokens.json",
];

/** Is `policy` a Hub repo id rather than a local folder? */
function isHubId(policy: string): boolean {
  return !fs.existsSync(policy) && /^[\w.-]+\/[\w.-]+$/.test(policy);
}

/** The TrlParser keys (DPOConfig + ScriptArguments + ModelConfig) of a job, and notes about what could not carry. */
export function trlConfigOf(
  job: Pick<TrlExportJob, "config" | "evalRows">,
  modelPath: string,
  notes: string[],
): { keys: Record<string, unknown>; comments: string[] } {
  const cfg = job.config as unknown as Record<string, unknown>;
  const keys: Record<string, unknown> = { model_name_or_path: modelPath, dataset_name: "./data", dataset_train_split: "train" };
  if (job.evalRows?.length) keys.dataset_test_split = "test";
  const comments: string[] = [];
  for (const [knob, value] of Object.entries(cfg)) {
    const mapped = knob in TRL_KEY ? TRL_KEY[knob] : snake(knob);
    if (mapped === null) {
      if (!["warmupRatio", "saveSteps", "padToMultipleOf", "maxPromptLength", "maxCompletionLength"].includes(knob))
        comments.push(`${knob}: ${JSON.stringify(value)} (dpo-ts only; no effect on the numbers)`);
      continue;
    }
    if (!TRL_KNOWN.has(mapped)) throw new Error(`DPOConfig.${knob} = ${JSON.stringify(value)} has no TRL 1.13 twin; export-trl cannot carry it`);
    keys[mapped] = value;
  }
  keys.output_dir = "output";
  // TRL's defaults that differ from dpo-ts's numbers: fp32 (TRL: bf16 on GPUs), dropout off, the model in float32.
  keys.bf16 = false;
  keys.fp16 = false;
  keys.dtype = "float32";
  keys.disable_dropout = true;
  if (keys.ld_alpha === null) delete keys.ld_alpha;
  if (keys.loss_weights === null) delete keys.loss_weights;
  if (job.config.warmupSteps === 0 && job.config.warmupRatio > 0) keys.warmup_steps = job.config.warmupRatio;
  keys.pad_to_multiple_of = job.config.padToMultipleOf > 0 ? job.config.padToMultipleOf : null;
  if (job.config.saveSteps > 0) Object.assign(keys, { save_strategy: "steps", save_steps: job.config.saveSteps });
  else keys.save_strategy = "no"; // dpo-ts saves only the final model (the trl dpo script saves it at the end)
  if (job.config.evalStrategy === "no" || !job.evalRows?.length) {
    keys.eval_strategy = "no";
    delete keys.eval_steps;
    delete keys.eval_on_start;
  }
  // dpo-ts's metrics.jsonl has no transformers integration: TensorBoard carries over, anything else is "none".
  keys.report_to = job.config.reportTo.includes("tensorboard") ? "tensorboard" : "none";
  // LoRA (TrlParser's ModelConfig): only when the job trains adapters; target modules as the list PEFT takes.
  const lora = ["use_peft", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "use_rslora"];
  if (keys.use_peft !== true) {
    for (const k of lora) delete keys[k];
  } else {
    const targets = String(keys.lora_target_modules ?? "");
    if (targets === "")
      delete keys.lora_target_modules; // PEFT's default for the architecture, as in dpo-ts
    else keys.lora_target_modules = targets === "all-linear" ? targets : targets.split(",").map((t) => t.trim());
    if (job.config.loraDropout > 0)
      notes.push(
        `loraDropout ${job.config.loraDropout}: TRL's disable_dropout (true here, as dpo-ts disables the model's dropout) also zeroes peft's LoRA dropout, so TRL trains without it; set disable_dropout: false in dpo_config.yaml to keep it (and the model's own dropout)`,
      );
  }
  if (cfg.resumeFromCheckpoint) notes.push("resumeFromCheckpoint is not exported: the TRL job starts from the model at the start of the dpo-ts job");
  return { keys, comments };
}

/** Rows that dpo-ts's maxPromptLength / maxCompletionLength (which TRL 1.13 has not) would truncate: the exported
 * job would train differently, so they are an error naming the row. */
export function checkPromptLengths(rows: readonly PreferenceRow[], config: DPOConfig, countTokens: (text: string) => number, file: string): void {
  const limits: ["prompt" | "chosen" | "rejected", number | null, string][] = [
    ["prompt", config.maxPromptLength, "maxPromptLength"],
    ["chosen", config.maxCompletionLength, "maxCompletionLength"],
    ["rejected", config.maxCompletionLength, "maxCompletionLength"],
  ];
  rows.forEach((row, i) => {
    for (const [field, limit, knob] of limits) {
      if (limit === null) continue;
      const n = countTokens(row[field]) + (field === "prompt" ? 0 : 1); // + the EOS both append to completions
      if (n > limit) {
        throw new Error(
          `${file}: row ${i + 1}: ${field} has ${n} tokens > ${knob} ${limit}; dpo-ts truncates it but TRL 1.13 has no ${knob === "maxPromptLength" ? "max_prompt_length" : "max_completion_length"}, so the exported job would train differently (raise or unset ${knob})`,
        );
      }
    }
  });
}

/** accelerate config (accelerate's YAML, as TRL's trl/accelerate_configs/) for DeepSpeed ZeRO-3 or FSDP, fp32. */
export function accelerateConfig(kind: "deepspeed_zero3" | "fsdp", numProcesses: number): string {
  const common = {
    compute_environment: "LOCAL_MACHINE",
    debug: false,
    downcast_bf16: "no",
    machine_rank: 0,
    main_training_function: "main",
    // "no" keeps dpo-ts's fp32 numbers; "bf16" halves memory and is what TRL's shipped configs use on GPUs.
    mixed_precision: "no",
    num_machines: 1,
    num_processes: numProcesses,
    rdzv_backend: "static",
    same_network: true,
    tpu_env: [],
    tpu_use_cluster: false,
    tpu_use_sudo: false,
    use_cpu: false,
  };
  const specific =
    kind === "deepspeed_zero3"
      ? {
          distributed_type: "DEEPSPEED",
          deepspeed_config: {
            deepspeed_multinode_launcher: "standard",
            offload_optimizer_device: "none",
            offload_param_device: "none",
            zero3_init_flag: true,
            zero3_save_16bit_model: true,
            zero_stage: 3,
          },
        }
      : {
          distributed_type: "FSDP",
          enable_cpu_affinity: false,
          fsdp_config: {
            fsdp_activation_checkpointing: false,
            fsdp_auto_wrap_policy: "TRANSFORMER_BASED_WRAP",
            fsdp_cpu_ram_efficient_loading: true,
            fsdp_offload_params: false,
            fsdp_reshard_after_forward: true,
            fsdp_state_dict_type: "FULL_STATE_DICT",
            fsdp_version: 2,
          },
        };
  const sorted = Object.fromEntries(Object.entries({ ...common, ...specific }).sort(([a], [b]) => a.localeCompare(b)));
  return `# accelerate launch config (${kind === "fsdp" ? "FSDP 2, accelerate >= 1.7" : "DeepSpeed ZeRO-3"}), written by dpo-ts export-trl\n` + toYaml(sorted);
}

function copyFolder(from: string, to: string, only?: (name: string) => boolean): string[] {
  fs.mkdirSync(to, { recursive: true });
  const copied: string[] = [];
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (only && !only(entry.name)) continue;
    const src = path.join(from, entry.name);
    if (entry.isDirectory()) copied.push(...copyFolder(src, path.join(to, entry.name)).map((f) => path.join(entry.name, f)));
    else if (entry.isFile()) {
      fs.copyFileSync(src, path.join(to, entry.name));
      copied.push(entry.name);
    }
  }
  return copied;
}

/** Writes the export folder (see the file comment). */
export function exportTrl(job: TrlExportJob): TrlExportResult {
  const out = job.out;
  const notes: string[] = [];
  const files: string[] = [];
  const numProcesses = job.numProcesses ?? 8;
  if (!Number.isInteger(numProcesses) || numProcesses < 1) throw new Error(`numProcesses must be a whole number ≥ 1, got ${numProcesses}`);
  fs.mkdirSync(out, { recursive: true });

  // The model: copied (the folder travels to the cluster), referenced, or a Hub id.
  let modelPath: string;
  if (isHubId(job.policy)) {
    modelPath = job.policy;
  } else {
    if (!fs.existsSync(path.join(job.policy, "config.json")))
      throw new Error(`${job.policy}: not a Hugging Face model folder (no config.json) nor a Hub repo id`);
    if (job.copyModel === false) modelPath = path.resolve(job.policy);
    else {
      files.push(...copyFolder(job.policy, path.join(out, "model")).map((f) => path.join("model", f)));
      modelPath = "./model";
    }
  }
  if (job.tokenizer && path.resolve(job.tokenizer) !== path.resolve(job.policy)) {
    if (modelPath !== "./model")
      throw new Error(
        `the job's tokenizer (${job.tokenizer}) is not the model's: export it with the model copied (TRL reads the tokenizer from model_name_or_path)`,
      );
    files.push(...copyFolder(job.tokenizer, path.join(out, "model"), (n) => TOKENIZER_FILES.includes(n)).map((f) => path.join("model", f)));
    notes.push(`tokenizer files from ${job.tokenizer} copied into model/ (TRL reads the tokenizer from the model folder)`);
  }
  if (job.adapter) {
    if (!fs.existsSync(path.join(job.adapter, "adapter_config.json"))) throw new Error(`${job.adapter}: not a PEFT adapter folder (no adapter_config.json)`);
    files.push(...copyFolder(job.adapter, path.join(out, "adapter")).map((f) => path.join("adapter", f)));
    notes.push(
      "adapter/ holds the PEFT adapter the job starts from; TRL's dpo script creates fresh adapters from lora_* (use_peft), so to continue from this one load it with peft's PeftModel.from_pretrained(model, 'adapter', is_trainable=True) in your own script",
    );
  }

  // The data, as dpo-ts trained on it.
  fs.mkdirSync(path.join(out, "data"), { recursive: true });
  // TRL's columns only (a row's `source`, where dpo-ts read it, is not data).
  const trlRows = (rows: readonly PreferenceRow[]) => rows.map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected }));
  writeJsonl(path.join(out, "data", "train.jsonl"), trlRows(job.trainRows));
  files.push("data/train.jsonl");
  if (job.evalRows?.length) {
    writeJsonl(path.join(out, "data", "test.jsonl"), trlRows(job.evalRows));
    files.push("data/test.jsonl");
  }

  // The config TrlParser reads.
  const { keys, comments } = trlConfigOf(job, modelPath, notes);
  const header = [
    "# TRL 1.13 DPO job exported by dpo-ts export-trl: the same hyperparameters under TRL's names.",
    "# Run from this folder:  trl dpo --config dpo_config.yaml     (multi-GPU: see launch.sh)",
    ...(comments.length ? ["# dpo-ts settings without a TRL twin (none changes the numbers):", ...comments.map((c) => `#   ${c}`)] : []),
  ];
  fs.writeFileSync(path.join(out, "dpo_config.yaml"), header.join("\n") + "\n" + toYaml(keys));
  files.push("dpo_config.yaml");

  // Launch command lines.
  fs.mkdirSync(path.join(out, "accelerate"), { recursive: true });
  for (const kind of ["deepspeed_zero3", "fsdp"] as const) {
    fs.writeFileSync(path.join(out, "accelerate", `${kind}.yaml`), accelerateConfig(kind, numProcesses));
    files.push(`accelerate/${kind}.yaml`);
  }
  const bs = job.config.perDeviceTrainBatchSize;
  let batchOverride = "";
  if (numProcesses > 1) {
    if (bs % numProcesses === 0) {
      batchOverride = ` --per_device_train_batch_size ${bs / numProcesses}`;
      notes.push(`launch.sh: ${numProcesses} processes × per_device_train_batch_size ${bs / numProcesses} = the job's batch of ${bs} pairs per micro-batch`);
    } else {
      notes.push(
        `launch.sh: perDeviceTrainBatchSize ${bs} does not split over ${numProcesses} processes; each GPU takes ${bs} pairs, so the global batch is ${bs * numProcesses} (lower the learning rate or gradient_accumulation_steps to match)`,
      );
    }
  }
  const launch = [
    "#!/usr/bin/env bash",
    "# The exported DPO job, run from this folder. Needs trl 1.13, accelerate, deepspeed (ZeRO-3) and peft (LoRA jobs).",
    'cd "$(dirname "$0")"',
    "set -euo pipefail",
    'MODE="${1:-zero3}"',
    `NUM_PROCESSES="\${NUM_PROCESSES:-${numProcesses}}"`,
    'case "$MODE" in',
    "  single) # one device, exactly the dpo-ts job",
    "    trl dpo --config dpo_config.yaml ;;",
    "  zero3) # DeepSpeed ZeRO-3 over NUM_PROCESSES GPUs",
    `    accelerate launch --config_file accelerate/deepspeed_zero3.yaml --num_processes "$NUM_PROCESSES" -m trl.scripts.dpo --config dpo_config.yaml${batchOverride} ;;`,
    "  fsdp) # FSDP 2 over NUM_PROCESSES GPUs",
    `    accelerate launch --config_file accelerate/fsdp.yaml --num_processes "$NUM_PROCESSES" -m trl.scripts.dpo --config dpo_config.yaml${batchOverride} ;;`,
    '  *) echo "usage: launch.sh [single|zero3|fsdp]" >&2; exit 2 ;;',
    "esac",
    "",
  ];
  fs.writeFileSync(path.join(out, "launch.sh"), launch.join("\n"), { mode: 0o755 });
  files.push("launch.sh");
  return { files, notes };
}
