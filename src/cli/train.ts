/**
 * `dpo-ts train`: DPO training of --policy on --data, writing OUT/metrics.jsonl and OUT/final/. Every DPOConfig knob is
 * an option (generated in dpo-options.ts); --config FILE.json|.yaml sets the same options, TRL's snake_case names too,
 * and the command line overrides the file.
 */
import * as fs from "fs";
import * as path from "path";
import { initBackend } from "../backend";
import { loadModel } from "../model/io";
import { Tokenizer } from "../tokenizer/tokenizer";
import { loadPreferenceDataset } from "../data/dataset";
import { PreferenceRow, splitTrainEval } from "../data/preferences";
import { DPOTrainer } from "../train/trainer";
import { terminalProgress } from "../course/progress";
import { BACKEND_OPTION, CliError, OptionsTable, parseNumber } from "./framework";
import { DPOConfig, resolveConfig } from "../train/config";
import { dpoConfigFrom, dpoConfigOptions, kebab, mergeValues, readConfigFile } from "./dpo-options";

/** Options of `dpo-ts train`: the model, data and output, plus every DPOConfig knob (added from the config's fields). */
export const trainOptions: OptionsTable = {
  policy: { type: "string", valueName: "DIR|ID", description: "model folder or Hub repo id to train (Hugging Face format; TRL: model_name_or_path)" },
  adapter: {
    type: "string",
    valueName: "DIR",
    description: "a PEFT LoRA adapter folder to attach to the model (adapter_config.json + adapter_model.safetensors)",
  },
  ref: { type: "string", valueName: "DIR|ID", description: "reference model folder or Hub repo id (default: a frozen copy of --policy)" },
  data: {
    type: "string",
    valueName: "FILE|ID",
    description: "preference pairs: .jsonl, .json, .csv, .parquet (optionally .gz), or a Hub data set id (TRL: dataset_name)",
  },
  "eval-data": { type: "string", valueName: "FILE", description: 'evaluation pairs (turns on evalStrategy "steps")' },
  "eval-fraction": { type: "string", valueName: "F", description: "hold out this fraction of --data for evaluation instead" },
  "skip-invalid": { type: "boolean", description: "skip invalid data rows (each listed with file, line and reason) instead of stopping" },
  tokenizer: { type: "string", valueName: "DIR|ID", description: "tokenizer folder or Hub repo id (default: --policy)" },
  config: { type: "string", valueName: "FILE", description: "options from FILE.json|.yaml|.yml (TRL snake_case names accepted); the command line wins" },
  backend: BACKEND_OPTION,
  json: { type: "boolean", description: "print one JSON object with the final metrics instead of progress" },
  quiet: { type: "boolean", description: "no backend banner" },
  ...dpoConfigOptions(),
};

/** RUN_DIR/job.json: where a run's inputs are (absolute paths; what config.json, the DPOConfig, does not say). */
export const JOB_FILE = "job.json";
/** What a run was started with (job.json in the run folder): policy, reference, data and tokenizer sources, adapter, so export-trl can find them again. */
export interface TrainJob {
  policy?: string;
  ref?: string;
  data?: string;
  evalData?: string;
  evalFraction?: number;
  tokenizer?: string;
  /** A PEFT adapter folder the job starts from. */
  adapter?: string;
  /** Invalid data rows were skipped (--skip-invalid). */
  skipInvalid?: boolean;
}

/** A local path made absolute (a Hub repo id, which is no local path, stays as it is). */
function abs(p: string | undefined): string | undefined {
  return p === undefined ? undefined : fs.existsSync(p) ? path.resolve(p) : p;
}

/** The train and eval rows of a job: --data formatted as dpo-ts trains on it, eval rows from --eval-data or held out
 * (a seeded split of evalFraction of the rows). */
export async function jobRows(
  tokenizer: Tokenizer,
  dataFile: string,
  evalData: string | undefined,
  evalFraction: number,
  seed: number,
  load: { skipInvalid?: boolean } = {},
): Promise<{ trainRows: PreferenceRow[]; evalRows: PreferenceRow[] }> {
  let trainRows = await loadPreferenceDataset(dataFile, tokenizer, load);
  let evalRows = evalData ? await loadPreferenceDataset(evalData, tokenizer, load) : [];
  if (evalFraction > 0) {
    const split = splitTrainEval(trainRows, Math.max(1, Math.round(evalFraction * trainRows.length)), seed);
    trainRows = split.train;
    evalRows = split.eval;
  }
  return { trainRows, evalRows };
}

/** DPOConfig's own checks, run before anything loads; a knob in an error is named as the user gave it. */
function checkConfig(args: Partial<DPOConfig>, merged: ReturnType<typeof mergeValues>): void {
  try {
    resolveConfig(args as Record<string, unknown>, "");
  } catch (e) {
    const message = (e as Error).message
      .replace(/^: /, "")
      .replace(/option "(\w+)"/, (m, knob: string) => merged.get(kebab(knob))?.where ?? `--${kebab(knob)}`);
    throw new CliError(message);
  }
}

/** `dpo-ts train`: DPO training of --policy on --data with the options and --config file merged; throws CliError on bad options. */
export async function trainCommand(values: Record<string, unknown>): Promise<void> {
  const note = (message: string) => console.error(`dpo-ts train: ${message}`);
  const entries = typeof values.config === "string" ? readConfigFile(values.config, trainOptions, note) : [];
  const merged = mergeValues(values, trainOptions, entries);
  const text = (name: string): string | undefined => {
    const v = merged.get(name);
    if (v === undefined) return undefined;
    if (typeof v.value !== "string" || v.value === "") throw new CliError(`${v.where} must be text, got ${JSON.stringify(v.value)}`);
    return v.value;
  };
  const flag = (name: string): boolean => {
    const v = merged.get(name);
    return v !== undefined && (v.value === true || v.value === "true");
  };
  const args = dpoConfigFrom(merged, trainOptions);
  checkConfig(args, merged);
  const policyDir = text("policy");
  const dataFile = text("data");
  if (!policyDir) throw new CliError("--policy is required (see --help)");
  if (!dataFile) throw new CliError("--data is required (see --help)");
  const fraction = merged.get("eval-fraction");
  const evalFraction = fraction ? parseNumber(fraction.value as string, fraction.where) : 0;
  if (evalFraction < 0 || evalFraction >= 1) throw new CliError(`${fraction!.where} must be in [0, 1), got ${evalFraction}`);
  const json = flag("json");

  await initBackend({ backend: text("backend"), quiet: json || flag("quiet"), model: policyDir });
  const tokenizer = await Tokenizer.fromDir(text("tokenizer") ?? policyDir);
  const evalData = text("eval-data");
  const skipInvalid = flag("skip-invalid");
  const { trainRows, evalRows } = await jobRows(tokenizer, dataFile, evalData, evalFraction, args.seed ?? 42, { skipInvalid });
  if (evalRows.length && !args.evalStrategy) args.evalStrategy = "steps";
  const model = await loadModel(policyDir, { adapter: text("adapter") }); // --adapter: train that adapter, the base frozen
  const refDir = text("ref");
  const refModel = refDir ? await loadModel(refDir, { trainable: false }) : undefined;
  // Where the job's inputs are, so that `dpo-ts export-trl RUN_DIR` can rebuild the same job for TRL. Written when
  // training begins, after the trainer has accepted the folder (a refused folder keeps its old run's job.json).
  const job: TrainJob = {
    policy: abs(policyDir),
    ref: abs(refDir),
    data: abs(dataFile),
    evalData: abs(evalData),
    evalFraction: evalFraction || undefined,
    tokenizer: abs(text("tokenizer")),
    adapter: abs(text("adapter")),
    skipInvalid: skipInvalid || undefined,
  };
  const writeJob = {
    onTrainBegin: (_state: unknown, config: { outputDir: string }) =>
      fs.writeFileSync(path.join(config.outputDir, JOB_FILE), JSON.stringify(job, null, 2) + "\n"),
  };
  const trainer = new DPOTrainer({
    model,
    refModel,
    tokenizer,
    trainDataset: trainRows,
    evalDataset: evalRows,
    datasetName: dataFile,
    args: json ? { ...args, disableTqdm: true } : args,
    callbacks: json ? [writeJob] : [writeJob, terminalProgress()],
  });
  const result = await trainer.train();
  const final = path.join(trainer.config.outputDir, "final");
  if (json) console.log(JSON.stringify({ ...result.metrics, global_step: result.globalStep, output_dir: trainer.config.outputDir, final }));
  else console.log(`trained ${result.globalStep} steps in ${result.metrics.train_runtime.toFixed(1)} s; model saved to ${final}`);
  trainer.dispose();
  model.dispose();
  refModel?.dispose();
}
