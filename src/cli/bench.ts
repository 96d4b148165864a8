/**
 * dpo-ts bench: DPO training-step throughput (tokens/s, pairs/s) and peak memory on every backend that loads, beside
 * TRL (bench/trl_throughput.py in the project's Python venv) on the same HF model folder, data and batch, fp32.
 *
 *   dpo-ts bench [--config course|gpt2-small] [--backends tensorflow-compiled,tensorflow,webgpu,wasm,cpu] [--steps N]
 *                [--warmup N] [--batch-size B] [--gradient-checkpointing | --no-gradient-checkpointing] [--skip-trl]
 *
 * Configs (stated in the output):
 *   course      data/sft-model (the course's GPT-2: 4 layers, 64 wide), 4 ChatML pairs of data/orca_dpo_pairs.jsonl a step
 *   gpt2-small  a random GPT-2-small-shaped model (12 layers, 768 wide, 12 heads, vocab 50257), 8 pairs of 256 tokens
 * "tensorflow-compiled" is the native backend with DPOConfig.compileStep (each batch shape traced once into a
 * TensorFlow graph; its first update per shape falls in the warm-up when warm-up covers an epoch).
 * Both sides train on every pair of the data set, shuffled; warm-up and timed steps are whole epochs.
 * Gradient checkpointing (both sides) is off for course and on for gpt2-small (TRL's default; dpo-ts's eager
 * tape does not fit 8 × 256 tokens of GPT-2-small in 24 GB without it).
 * Each backend runs in its own process (tokens counted as TRL does: non-padding tokens of chosen and rejected
 * sequences, prompt included). The result goes to runs/bench/bench-<config>.json.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../backend";
import { loadModel } from "../model/io";
import { Tokenizer } from "../tokenizer/tokenizer";
import { loadPreferenceDataset } from "../data/dataset";
import { writeJsonl } from "../data/preferences";
import { DPOTrainer } from "../train/trainer";
import { CliError, OptionsTable, integerValue, requiredString, stringValue } from "./framework";

const ROOT = path.resolve(__dirname, "../..");

interface Measurement {
  framework: string;
  backend: string;
  tokens_per_s: number;
  pairs_per_s: number;
  step_s_mean: number;
  tokens_per_step: number;
  peak_rss_mb: number;
  detail?: string;
  error?: string;
}

export const benchOptions: OptionsTable = {
  config: { type: "string", valueName: "NAME", description: "course or gpt2-small (default course)" },
  backends: { type: "string", valueName: "A,B", description: "backends to measure (default tensorflow-compiled,tensorflow,webgpu,wasm,cpu)" },
  steps: { type: "string", valueName: "N", description: "timed steps, a whole number of epochs (default: 1 epoch for course, 3 for gpt2-small)" },
  warmup: { type: "string", valueName: "N", description: "warm-up steps, a whole number of epochs (default: 1 epoch for course, 2 for gpt2-small)" },
  "batch-size": { type: "string", valueName: "N", description: "pairs per step (default 4 for course, 8 for gpt2-small)" },
  "gradient-checkpointing": { type: "boolean", description: "gradient checkpointing on both sides (default: on for gpt2-small only)" },
  "no-gradient-checkpointing": { type: "boolean", description: "gradient checkpointing off on both sides" },
  "skip-trl": { type: "boolean", description: "do not measure TRL" },
  worker: { type: "boolean", description: "internal: measure one backend in this process", group: "internal" },
  backend: { type: "string", valueName: "NAME", description: "internal (--worker): the backend to measure", group: "internal" },
  model: { type: "string", valueName: "DIR", description: "internal (--worker): model folder", group: "internal" },
  prefs: { type: "string", valueName: "FILE", description: "internal (--worker): preference pairs", group: "internal" },
};

/** Worker: one backend, one process. Prints one JSON line. */
async function worker(values: Record<string, unknown>): Promise<void> {
  const backendName = requiredString(values, "backend");
  const compiled = backendName === "tensorflow-compiled";
  const choice = await initBackend({ backend: compiled ? "tensorflow" : backendName, quiet: true });
  const modelDir = requiredString(values, "model");
  const tokenizer = await Tokenizer.fromDir(modelDir);
  const rows = loadPreferenceDataset(requiredString(values, "prefs"), tokenizer);
  const batchSize = integerValue(values, "batch-size", { positive: true }) ?? 4;
  const warmup = integerValue(values, "warmup", { min: 0 }) ?? 2;
  const steps = integerValue(values, "steps", { positive: true }) ?? 5;
  const model = await loadModel(modelDir);
  const marks: { time: number; tokens: number }[] = [];
  const trainer = new DPOTrainer({
    model,
    tokenizer,
    trainDataset: rows,
    args: {
      outputDir: fs.mkdtempSync(path.join(os.tmpdir(), "dpo-bench-")),
      perDeviceTrainBatchSize: batchSize, maxSteps: warmup + steps, learningRate: 1e-6, lrSchedulerType: "constant",
      loggingSteps: warmup + steps, maxLength: 100000, maxPromptLength: 100000, gradientCheckpointing: Boolean(values["gradient-checkpointing"]),
      compileStep: compiled,
    },
    callbacks: [{ onStepEnd: (state) => void marks.push({ time: performance.now(), tokens: state.tokensSeen }) }],
  });
  const started = performance.now();
  await trainer.train();
  const times = [started, ...marks.map((m) => m.time)];
  // Steps end when their work was queued; the last logging step reads the results, so the total is the honest time.
  const timedSeconds = (marks[marks.length - 1].time - times[warmup]) / 1000;
  const tokens = marks[marks.length - 1].tokens - (warmup > 0 ? marks[warmup - 1].tokens : 0);
  const result: Measurement = {
    framework: "dpo-ts",
    backend: compiled ? "tensorflow (compileStep)" : choice.name,
    detail: compiled ? `${choice.detail}; ${trainer.compileStats()!.graphs} graphs of ${trainer.compileStats()!.opsPerGraph.join("/")} TF ops, ${trainer.compileStats()!.compileSeconds.toFixed(1)} s tracing + loading` : choice.detail,
    step_s_mean: timedSeconds / steps,
    tokens_per_step: tokens / steps,
    tokens_per_s: tokens / timedSeconds,
    pairs_per_s: (batchSize * steps) / timedSeconds,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  };
  console.log(JSON.stringify(result));
  trainer.dispose();
  model.dispose();
}

function python(): string | null {
  const venv = process.env.DPO_VENV ?? path.join(ROOT, ".venv");
  const py = path.join(venv, "bin/python");
  if (!fs.existsSync(py)) return null;
  return spawnSync(py, ["-c", "import trl, torch"]).status === 0 ? py : null;
}

/** Builds the config's model folder and a standard-format prefs file both sides read. */
function prepare(config: string, outDir: string, py: string | null): { model: string; prefs: string; batchSize: number; description: string } {
  fs.mkdirSync(outDir, { recursive: true });
  if (config === "course") {
    const model = path.join(ROOT, "data/sft-model");
    const tokenizer = Tokenizer.fromDirSync(model);
    const rows = loadPreferenceDataset(path.join(ROOT, "data/orca_dpo_pairs.jsonl"), tokenizer).slice(0, 64);
    const prefs = path.join(outDir, "course-prefs.jsonl");
    writeJsonl(prefs, rows);
    return { model, prefs, batchSize: 4, description: "course model (data/sft-model: GPT-2, 4 layers, 64 wide, 4 heads, vocab 512), 4 ChatML pairs per step, 64 pairs of data/orca_dpo_pairs.jsonl shuffled on both sides (16 steps an epoch), fp32" };
  }
  if (config === "gpt2-small") {
    if (!py) throw new Error("the gpt2-small config builds its model with bench/trl_throughput.py: run scripts/setup-python.sh first");
    const model = path.join(outDir, "gpt2-small");
    const prefs = path.join(outDir, "gpt2-small-prefs-256.jsonl");
    const made = spawnSync(py, [path.join(ROOT, "bench/trl_throughput.py"), "--make-model", model, "--n-layer", "12", "--n-embd", "768", "--n-head", "12", "--vocab", "50257", "--n-positions", "1024", "--make-prefs", prefs, "--n-pairs", "8", "--seq-len", "256", "--no-bench"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    if (made.status !== 0) throw new Error("bench/trl_throughput.py --make-model failed");
    return { model, prefs, batchSize: 8, description: "GPT-2-small-shaped (12 layers, 768 wide, 12 heads, vocab 50257, random weights), 8 pairs of 256 tokens per step, fp32" };
  }
  throw new CliError(`--config must be course or gpt2-small, got "${config}"`);
}

export async function benchCommand(values: Record<string, unknown>): Promise<void> {
  if (values.worker) return worker(values);
  const config = stringValue(values, "config") ?? "course";
  if (config !== "course" && config !== "gpt2-small") throw new CliError(`--config must be course or gpt2-small, got "${config}"`);
  const batchSizeOption = integerValue(values, "batch-size", { positive: true });
  const stepsOption = integerValue(values, "steps", { positive: true });
  const warmupOption = integerValue(values, "warmup", { min: 0 });
  if (values["gradient-checkpointing"] && values["no-gradient-checkpointing"]) throw new CliError("--gradient-checkpointing and --no-gradient-checkpointing contradict each other");
  const outDir = path.join(ROOT, "runs/bench");
  const py = values["skip-trl"] ? null : python();
  const prepared = prepare(config, outDir, py);
  const { model, prefs } = prepared;
  const batchSize = batchSizeOption ?? prepared.batchSize;
  const description = batchSize === prepared.batchSize ? prepared.description : `${prepared.description.replace(/\d+ (ChatML )?pairs/, `${batchSize} $1pairs`)} (--batch-size ${batchSize})`;
  const rowCount = fs.readFileSync(prefs, "utf8").trim().split("\n").length;
  if (rowCount % batchSize) throw new CliError(`--batch-size ${batchSize}: ${rowCount} pairs do not split into batches of ${batchSize}`);
  const epoch = rowCount / batchSize;
  const wholeEpochs = (name: string, given: number | undefined, fallback: number) => {
    const n = given ?? fallback;
    if (n % epoch) throw new CliError(`--${name} ${n} must be a whole number of epochs (${epoch} steps each)`);
    return String(n);
  };
  const warmup = wholeEpochs("warmup", warmupOption, config === "course" ? epoch : 2 * epoch);
  const steps = wholeEpochs("steps", stepsOption, config === "course" ? epoch : 3 * epoch);
  const checkpointingOn = values["no-gradient-checkpointing"] ? false : Boolean(values["gradient-checkpointing"]) || config === "gpt2-small";
  const checkpointing = checkpointingOn ? ["--gradient-checkpointing"] : [];
  const backends = (stringValue(values, "backends") ?? "tensorflow-compiled,tensorflow,webgpu,wasm,cpu").split(",").map((b) => b.trim()).filter(Boolean);
  console.log(`bench config "${config}": ${description}; ${warmup} warm-up + ${steps} timed steps; gradient checkpointing ${checkpointing.length ? "on" : "off"} (both sides); ${os.cpus().length} CPU cores`);
  const results: Measurement[] = [];
  for (const backend of backends) {
    const run = spawnSync(process.execPath, [path.join(__dirname, "index.js"), "bench", "--worker", "--backend", backend, "--model", model, "--prefs", prefs, "--batch-size", String(batchSize), "--warmup", warmup, "--steps", steps, ...checkpointing], { encoding: "utf8", maxBuffer: 1 << 26 });
    const line = run.stdout.trim().split("\n").pop() ?? "";
    if (run.status === 0 && line.startsWith("{")) results.push(JSON.parse(line));
    else {
      const reason = (run.stderr.match(/dpo-ts(?: [a-z]+)?: (.*)/)?.[1] ?? (run.signal ? `killed by ${run.signal}` : run.error?.message) ?? `exit ${run.status}: ${run.stderr.trim().split("\n").pop()}`).slice(0, 300);
      results.push({ framework: "dpo-ts", backend, tokens_per_s: NaN, pairs_per_s: NaN, step_s_mean: NaN, tokens_per_step: NaN, peak_rss_mb: NaN, error: reason });
    }
    const r = results[results.length - 1];
    console.log(r.error ? `  dpo-ts ${backend}: not measured (${r.error})` : `  dpo-ts ${backend}: ${r.tokens_per_s.toFixed(0)} tokens/s, ${r.step_s_mean.toFixed(3)} s/step`);
  }
  let trl: Measurement | null = null;
  if (py) {
    const run = spawnSync(py, [path.join(ROOT, "bench/trl_throughput.py"), "--model", model, "--prefs", prefs, "--batch-size", String(batchSize), "--warmup", warmup, "--steps", steps, "--all-rows", ...checkpointing], { encoding: "utf8", maxBuffer: 1 << 26 });
    if (run.status === 0) {
      const r = JSON.parse(run.stdout);
      trl = { framework: "trl", backend: `torch ${r.versions.torch} cpu (${r.threads} threads)`, tokens_per_s: r.tokens_per_s, pairs_per_s: r.pairs_per_s, step_s_mean: r.step_s_mean, tokens_per_step: r.tokens_per_step, peak_rss_mb: r.peak_rss_mb };
      console.log(`  TRL: ${trl.tokens_per_s.toFixed(0)} tokens/s, ${trl.step_s_mean.toFixed(3)} s/step`);
    } else console.log(`  TRL: failed (${run.stderr.trim().split("\n").pop()})`);
  } else console.log("  TRL: not measured (no Python venv with trl; run scripts/setup-python.sh)");
  const rows = results.map((r) => ({ ...r, ratio_vs_trl: trl && !r.error ? r.tokens_per_s / trl.tokens_per_s : null }));
  console.log("\n| framework | backend | tokens/s | pairs/s | s/step | peak RSS MB | ×TRL |\n|---|---|---|---|---|---|---|");
  for (const r of [...rows, ...(trl ? [{ ...trl, ratio_vs_trl: 1 }] : [])]) {
    if (r.error) console.log(`| ${r.framework} | ${r.backend} | — | — | — | — | not loaded |`);
    else console.log(`| ${r.framework} | ${r.backend} | ${r.tokens_per_s.toFixed(0)} | ${r.pairs_per_s.toFixed(2)} | ${r.step_s_mean.toFixed(3)} | ${r.peak_rss_mb.toFixed(0)} | ${r.ratio_vs_trl === null ? "—" : r.ratio_vs_trl.toFixed(3)} |`);
  }
  const file = path.join(outDir, `bench-${config}.json`);
  fs.writeFileSync(file, JSON.stringify({ config, description, gradient_checkpointing: checkpointing.length > 0, date: new Date().toISOString(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, loadavg: os.loadavg(), results: rows, trl }, null, 2) + "\n");
  console.log(`\nwritten ${path.relative(process.cwd(), file)}`);
}
