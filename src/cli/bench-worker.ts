/**
 * One measurement of `dpo-ts bench`, run in a fresh process of its own (`dpo-ts bench --worker --task …`) so that no
 * measurement inherits another's warm caches, compiled graphs or heap. Prints one JSON line on stdout.
 *
 * Tasks:
 *   throughput  warm-up epochs, then timed epochs of DPO updates: tokens/s, s/update, compile time, peak RSS
 *   updates     notebook 03's training from a cold start: load policy + reference, build the trainer (tokenizes the
 *               data), N updates (compile/trace included); the wall time is what a learner waits for. train()
 *               also saves the final model (TRL's side saves nothing), which only counts against us.
 *   roof        GFLOP/s of a large fp32 matmul on the native backend: the machine's ceiling for the figures beside it
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { describeThreads, initBackend } from "../backend";
import { loadModelFromDir } from "../model/io";
import { Tokenizer } from "../tokenizer/tokenizer";
import { loadPreferenceDataset } from "../data/dataset";
import { DPOTrainer } from "../train/trainer";
import { CliError, integerValue, requiredString, stringValue } from "./framework";

/** The article's LoRA (Mistral-7B): what the smollm2-lora config trains on both sides (the worker's --peft). */
export const ARTICLE_LORA = { r: 16, alpha: 16, dropout: 0.05, targetModules: "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj" };

/** What a worker prints (one line of JSON). Times in seconds. */
export interface WorkerResult {
  task: "throughput" | "updates" | "roof";
  backend: string;
  detail?: string;
  tokens_per_s?: number;
  pairs_per_s?: number;
  step_s_mean?: number;
  tokens_per_step?: number;
  /** Tracing + graph loading of compileStep, seconds (compiled backend only). */
  compile_s?: number;
  /** Graphs traced, and their compile seconds, after the warm-up (batch shapes the warm-up did not meet). */
  graphs_traced_in_timed_steps?: number;
  compile_s_in_timed_steps?: number;
  /** Wall time of the updates task: model load + trainer + N updates. */
  wall_s?: number;
  updates?: number;
  gflops?: number;
  peak_rss_mb?: number;
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "dpo-bench-"));
}

/** Nothing but the updates: no TensorBoard events, no sample generations, no report (TRL's side writes none). */
const QUIET = { reportTo: "none" as const, numSampleGenerations: 0, writeReport: false };

async function throughput(values: Record<string, unknown>, backendName: string, compiled: boolean, detail: string): Promise<WorkerResult> {
  const modelDir = requiredString(values, "model");
  const tokenizer = await Tokenizer.fromDir(modelDir);
  const rows = await loadPreferenceDataset(requiredString(values, "prefs"), tokenizer);
  const batchSize = integerValue(values, "batch-size", { positive: true }) ?? 4;
  const warmup = integerValue(values, "warmup", { min: 0 }) ?? 2;
  const steps = integerValue(values, "steps", { positive: true }) ?? 5;
  const model = loadModelFromDir(modelDir);
  const marks: { time: number; tokens: number }[] = [];
  // A batch shape first met after the warm-up is traced inside the timed steps: counted there, and reported.
  const warm: { stats: ReturnType<DPOTrainer["compileStats"]> } = { stats: null };
  const trainer: DPOTrainer = new DPOTrainer({
    model,
    tokenizer,
    trainDataset: rows,
    args: {
      ...QUIET,
      outputDir: tempDir(),
      perDeviceTrainBatchSize: batchSize,
      maxSteps: warmup + steps,
      learningRate: 1e-6,
      lrSchedulerType: "constant",
      loggingSteps: warmup + steps,
      maxLength: 100000,
      maxPromptLength: 100000,
      gradientCheckpointing: Boolean(values["gradient-checkpointing"]),
      compileStep: compiled,
      ...(values.peft
        ? {
            usePeft: true,
            loraR: ARTICLE_LORA.r,
            loraAlpha: ARTICLE_LORA.alpha,
            loraDropout: ARTICLE_LORA.dropout,
            loraTargetModules: ARTICLE_LORA.targetModules,
          }
        : {}),
    },
    callbacks: [
      {
        onStepEnd: (state) => {
          marks.push({ time: performance.now(), tokens: state.tokensSeen });
          if (marks.length === warmup) warm.stats = trainer.compileStats();
        },
      },
    ],
  });
  const started = performance.now();
  await trainer.train();
  const times = [started, ...marks.map((m) => m.time)];
  // Steps end when their work was queued; the last logging step reads the results, so the total is the honest time.
  const timedSeconds = (marks[marks.length - 1].time - times[warmup]) / 1000;
  const tokens = marks[marks.length - 1].tokens - (warmup > 0 ? marks[warmup - 1].tokens : 0);
  const stats = trainer.compileStats();
  const result: WorkerResult = {
    task: "throughput",
    backend: backendName,
    detail: stats ? `${detail}; ${stats.graphs} graphs: gradients ${stats.opsPerGraph.join("/")}, AdamW ${stats.optimizerOps} TF ops` : detail,
    step_s_mean: timedSeconds / steps,
    tokens_per_step: tokens / steps,
    tokens_per_s: tokens / timedSeconds,
    pairs_per_s: (batchSize * steps) / timedSeconds,
    ...(stats
      ? {
          compile_s: stats.compileSeconds,
          graphs_traced_in_timed_steps: stats.graphs - (warm.stats?.graphs ?? 0),
          compile_s_in_timed_steps: stats.compileSeconds - (warm.stats?.compileSeconds ?? 0),
        }
      : {}),
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  };
  trainer.dispose();
  model.dispose();
  return result;
}

/** The cold-start figure's trainer arguments: notebook 03's batching, lengths and schedule as full fine-tuning, evaluation left out on
 * both sides (the notebook's main run adds the article's LoRA; this figure times full fine-tuning, as TRL's side runs it). */
export const NOTEBOOK_03 = {
  beta: 0.1,
  learningRate: 2e-4,
  lrSchedulerType: "cosine" as const,
  warmupSteps: 4,
  perDeviceTrainBatchSize: 4,
  gradientAccumulationSteps: 2,
  maxLength: 256,
  maxPromptLength: 128,
  loggingSteps: 5,
  seed: 42,
};

async function updates(values: Record<string, unknown>, backendName: string, compiled: boolean, detail: string): Promise<WorkerResult> {
  const n = integerValue(values, "updates", { positive: true }) ?? 40;
  const started = performance.now();
  const modelDir = requiredString(values, "model");
  const tokenizer = await Tokenizer.fromDir(modelDir);
  const rows = await loadPreferenceDataset(requiredString(values, "prefs"), tokenizer);
  const policy = loadModelFromDir(modelDir);
  const reference = loadModelFromDir(modelDir, { trainable: false });
  const trainer = new DPOTrainer({
    model: policy,
    refModel: reference,
    tokenizer,
    trainDataset: rows,
    args: { ...NOTEBOOK_03, ...QUIET, outputDir: tempDir(), maxSteps: n, compileStep: compiled },
  });
  await trainer.train();
  const wall = (performance.now() - started) / 1000;
  const stats = trainer.compileStats();
  trainer.dispose();
  policy.dispose();
  reference.dispose();
  return {
    task: "updates",
    backend: backendName,
    detail,
    updates: n,
    wall_s: wall,
    ...(stats ? { compile_s: stats.compileSeconds } : {}),
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  };
}

/** GFLOP/s of a [n, n] × [n, n] fp32 matmul on the current backend: best of 3 timed after one untimed (2n³ flops). */
export function matmulRoofGflops(n: number): number {
  const a = tf.randomNormal([n, n]); // [N, N]
  const b = tf.randomNormal([n, n]); // [N, N]
  let best = Infinity;
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b); // [N, N]
    c.dataSync(); // waits for the result
    const ms = performance.now() - t0;
    c.dispose();
    if (i > 0) best = Math.min(best, ms);
  }
  a.dispose();
  b.dispose();
  return (2 * n ** 3) / (best / 1000) / 1e9;
}

function roof(values: Record<string, unknown>, backendName: string, detail: string): WorkerResult {
  const n = integerValue(values, "roof-size", { positive: true }) ?? 3072;
  return { task: "roof", backend: backendName, detail: `${detail}; ${n}² matmul, best of 3`, gflops: matmulRoofGflops(n) };
}

/** Runs the task named by --task on --backend and prints its result as one JSON line. */
export async function benchWorker(values: Record<string, unknown>): Promise<void> {
  const backendName = requiredString(values, "backend");
  const task = requiredString(values, "task");
  const compiled = backendName === "tensorflow-compiled";
  // The roof measures the machine (every thread inside one matmul); training sizes TensorFlow's pools for the model.
  const choice = await initBackend({
    backend: compiled ? "tensorflow" : backendName,
    quiet: true,
    threads: integerValue(values, "threads", { positive: true }),
    model: task === "roof" ? undefined : stringValue(values, "model"),
  });
  if (choice.name !== (compiled ? "tensorflow" : backendName)) throw new CliError(`backend ${backendName} did not load (got ${choice.name})`);
  const label = compiled ? "tensorflow (compileStep)" : choice.name;
  let result: WorkerResult;
  const detail = choice.threads ? `${choice.detail}; ${describeThreads(choice.threads)}` : choice.detail;
  if (task === "throughput") result = await throughput(values, label, compiled, detail);
  else if (task === "updates") result = await updates(values, label, compiled, detail);
  else if (task === "roof") result = roof(values, label, detail);
  else throw new CliError(`--task must be throughput, updates or roof, got "${task}"`);
  console.log(JSON.stringify(result));
}
