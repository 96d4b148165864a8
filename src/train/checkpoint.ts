/**
 * Checkpoints in transformers' layout, enough to continue a run exactly:
 *
 *   OUT/checkpoint-N/
 *     config.json, model.safetensors, generation_config.json, tokenizer files   the policy (Hugging Face format)
 *     optimizer.safetensors    AdamW moments, torch's names (<param>.exp_avg, <param>.exp_avg_sq); metadata: step
 *     scheduler.json           the schedule's state (transformers' LambdaLR state_dict fields)
 *     rng_state.json           the data seed and position (micro-batches consumed), from which the order replays
 *     trainer_state.json       transformers' TrainerState (global_step, log_history, epoch, max_steps, …)
 *     dpo_ts_state.json        what transformers keeps in memory only: the open logging window, counters
 *     training_args.json       the DPOConfig of the run
 *     reference/               the reference model (HF format), only with TR-DPO (syncRefModel), where it changes
 *
 * Writes are atomic: everything goes into OUT/.checkpoint-N.tmp-<pid>, which is renamed to checkpoint-N only when
 * complete, so a run killed mid-save leaves a temp folder (removed by the next run), never a partial checkpoint-N.
 */
import * as fs from "fs";
import * as path from "path";
import { readSafetensors, writeSafetensors, HostTensor } from "../model/safetensors";

/** The name prefix of checkpoint folders (checkpoint-STEP), as transformers' Trainer names them. */
export const CHECKPOINT_PREFIX = "checkpoint-";

/** transformers' TrainerState as trainer_state.json stores it. */
export interface TrainerStateJson {
  best_global_step: number | null;
  best_metric: number | null;
  best_model_checkpoint: string | null;
  epoch: number;
  eval_steps: number;
  global_step: number;
  is_hyper_param_search: boolean;
  is_local_process_zero: boolean;
  is_world_process_zero: boolean;
  log_history: Record<string, number>[];
  logging_steps: number;
  max_steps: number;
  num_input_tokens_seen: number;
  num_train_epochs: number;
  save_steps: number;
  stateful_callbacks: Record<string, unknown>;
  total_flos: number;
  train_batch_size: number;
  trial_name: string | null;
  trial_params: Record<string, unknown> | null;
}

/** The run state transformers keeps in memory only, needed to continue bit for bit. */
export interface DpoTsState {
  /** Sums of each metric over the micro-batches since the last log entry (float32 values), and their count. */
  windowSums: number[] | null;
  windowCount: number;
  lossTotal: number;
  lossCount: number;
  pairsSeen: number;
  tokensSeen: number;
  elapsedSeconds: number;
}

/** What a checkpoint holds: the model and tokenizer writer, optimizer state, RNG state, trainer state and, for TR-DPO, the reference. */
export interface CheckpointContents {
  /** Writes the model and tokenizer files into the folder. */
  writeModel: (dir: string) => Promise<void>;
  optimizer: Map<string, HostTensor>;
  optimizerStep: number;
  scheduler: Record<string, unknown>;
  rng: { seed: number; micro_batches_consumed: number };
  trainerState: TrainerStateJson;
  dpoTsState: DpoTsState;
  trainingArgs: Record<string, unknown>;
  /** Writes the reference model into the folder given (TR-DPO only). */
  writeReference?: (dir: string) => Promise<void>;
}

const json = (value: unknown) => JSON.stringify(value, null, 2) + "\n";

/** Writes `dir` atomically: built in a temp folder next to it, then renamed into place (replacing an old one). */
export async function writeFolderAtomically(dir: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = path.join(path.dirname(dir), `.${path.basename(dir)}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    await write(tmp);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  // rename cannot replace a non-empty folder: move the old one aside first, then drop it.
  const old = fs.existsSync(dir) ? `${tmp}.old` : null;
  if (old) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  if (old) fs.rmSync(old, { recursive: true, force: true });
}

/** Writes OUT/checkpoint-<step> atomically; returns its path. */
export async function saveCheckpoint(outputDir: string, step: number, contents: CheckpointContents): Promise<string> {
  const dir = path.join(outputDir, `${CHECKPOINT_PREFIX}${step}`);
  await writeFolderAtomically(dir, async (tmp) => {
    await contents.writeModel(tmp);
    writeSafetensors(path.join(tmp, "optimizer.safetensors"), contents.optimizer, { format: "dpo-ts", step: String(contents.optimizerStep) });
    if (contents.writeReference) await contents.writeReference(path.join(tmp, "reference"));
    fs.writeFileSync(path.join(tmp, "scheduler.json"), json(contents.scheduler));
    fs.writeFileSync(path.join(tmp, "rng_state.json"), json(contents.rng));
    fs.writeFileSync(path.join(tmp, "dpo_ts_state.json"), json(contents.dpoTsState));
    fs.writeFileSync(path.join(tmp, "training_args.json"), json(contents.trainingArgs));
    fs.writeFileSync(path.join(tmp, "trainer_state.json"), json(contents.trainerState));
  });
  return dir;
}

/** Checkpoint folders of a run, oldest (lowest step) first. Temp folders of interrupted saves are not checkpoints. */
export function listCheckpoints(outputDir: string): { step: number; dir: string }[] {
  if (!fs.existsSync(outputDir)) return [];
  return fs
    .readdirSync(outputDir)
    .map((name) => ({ name, m: /^checkpoint-(\d+)$/.exec(name) }))
    .filter(({ name, m }) => m && fs.statSync(path.join(outputDir, name)).isDirectory())
    .map(({ name, m }) => ({ step: Number(m![1]), dir: path.join(outputDir, name) }))
    .sort((a, b) => a.step - b.step);
}

/** Deletes the oldest checkpoints beyond `limit` (saveTotalLimit; 0 keeps all). */
export function rotateCheckpoints(outputDir: string, limit: number): void {
  if (!(limit > 0)) return;
  const all = listCheckpoints(outputDir);
  for (const { dir } of all.slice(0, Math.max(0, all.length - limit))) fs.rmSync(dir, { recursive: true, force: true });
}

/** Removes temp folders left by saves a killed run never finished. */
export function removeInterruptedSaves(outputDir: string): void {
  if (!fs.existsSync(outputDir)) return;
  for (const name of fs.readdirSync(outputDir))
    if (/^\..*\.tmp-\d+(\.old)?$/.test(name)) fs.rmSync(path.join(outputDir, name), { recursive: true, force: true });
}

/** The checkpoint resumeFromCheckpoint names: a folder, or true for the newest in outputDir. */
export function resolveCheckpoint(outputDir: string, resume: string | boolean): string | null {
  if (resume === false || resume === "") return null;
  if (resume === true) {
    const all = listCheckpoints(outputDir);
    if (!all.length) throw new Error(`resumeFromCheckpoint: no checkpoint-N folder in ${outputDir}`);
    return all[all.length - 1].dir;
  }
  if (!fs.existsSync(path.join(resume, "trainer_state.json"))) throw new Error(`resumeFromCheckpoint: ${resume} is not a checkpoint (no trainer_state.json)`);
  return resume;
}

/** A checkpoint read back for a resume: optimizer state and step, RNG position, trainer states and the reference folder. */
export interface LoadedCheckpoint {
  dir: string;
  optimizer: Map<string, HostTensor>;
  optimizerStep: number;
  rng: { seed: number; micro_batches_consumed: number };
  trainerState: TrainerStateJson;
  dpoTsState: DpoTsState;
  /** The reference model folder (TR-DPO), or null. */
  referenceDir: string | null;
}

/** Reads a checkpoint's training state (the model weights are read by the caller with loadModel). */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const read = (name: string) => {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) throw new Error(`${dir}: incomplete checkpoint, ${name} is missing`);
    return JSON.parse(fs.readFileSync(file, "utf8"));
  };
  const optimizerFile = path.join(dir, "optimizer.safetensors");
  if (!fs.existsSync(optimizerFile)) throw new Error(`${dir}: incomplete checkpoint, optimizer.safetensors is missing`);
  const optimizer = readSafetensors(optimizerFile);
  const referenceDir = path.join(dir, "reference");
  return {
    dir,
    optimizer: optimizer.tensors,
    optimizerStep: Number(optimizer.metadata.step),
    rng: read("rng_state.json"),
    trainerState: read("trainer_state.json"),
    dpoTsState: read("dpo_ts_state.json"),
    referenceDir: fs.existsSync(referenceDir) ? referenceDir : null,
  };
}
