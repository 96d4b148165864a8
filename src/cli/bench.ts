/**
 * dpo-ts bench: DPO training speed of dpo-ts beside TRL (bench/trl_throughput.py in the project's Python venv), measured
 * so that it cannot flatter us:
 *
 * - Interleaved rounds (default 3): each round runs every dpo-ts backend, then TRL, so a machine that gets busier or
 *   hotter over the run hurts both sides alike; the figures are medians with their min–max, and a side whose rounds
 *   disagree by more than 15% of the median gets a warning.
 * - Every measurement is a fresh process (a worker: `dpo-ts bench --worker`, or a new Python), so no side or round
 *   starts with another's warm caches, traced graphs or heap; within a throughput process, warm-up epochs are excluded.
 * - Same model folder, same pairs, same batch, same sequence lengths (no truncation), same number of updates, fp32,
 *   and the same cores on both sides: torch.set_num_threads(--threads), and for the native backend TensorFlow's thread
 *   pools as dpo-ts sizes them for the model on --threads cores (src/backend.ts, nativeThreadsFor: a small model one
 *   thread per op and --threads ops at once); default 2; wasm runs 1 thread in Node. The ratio × TRL is computed from
 *   the medians.
 * - The machine's fp32 matmul roof (GFLOP/s of a --roof-size² matmul, native backend and torch) is measured in every
 *   round and printed beside the figures: a figure is only as meaningful as its distance to that ceiling.
 * - Compile time (compileStep's tracing + graph loading) is reported on its own, and inside a "N updates" figure:
 *   notebook 03's training (its trainer arguments, its 90% train split, evaluation left out on both sides) from a
 *   cold start — tokenizer, policy and reference loaded, data tokenized, N updates — what a learner waits for.
 *
 * Configs (stated in the output):
 *   course      data/sft-model (the course's GPT-2: 4 layers, 64 wide), 4 ChatML pairs of data/orca_dpo_pairs.jsonl a step
 *   4x256       a random GPT-2 of 4 layers, 256 wide, 4 heads (the course tokenizer, vocab 512; 3.4M parameters),
 *               8 pairs of the course data a step
 *   gpt2-small  a random GPT-2-small-shaped model (12 layers, 768 wide, 12 heads, vocab 50257), 8 pairs of 256 tokens
 *   smollm2-lora  a random SmolLM2-135M-shaped Llama (30 layers, 576 wide, 9 heads, 3 key/value heads, SwiGLU 1536,
 *               vocab 49152, tied embeddings), DPO + LoRA as the article trains Mistral-7B (r 16, alpha 16, dropout 0.05
 *               on q/k/v/o/gate/up/down; the reference is the model with adapters off): TRL + peft on the other side,
 *               4 pairs of 256 tokens a step
 * "tensorflow-compiled" is the native backend with DPOConfig.compileStep (each batch shape traced once into a
 * TensorFlow graph; its first update per shape falls in the warm-up when warm-up covers an epoch).
 * Tokens are counted as TRL does: non-padding tokens of chosen and rejected sequences, prompt included.
 * The result goes to runs/bench/bench-<config>.json, the table to stdout.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Tokenizer } from "../tokenizer/tokenizer";
import { chatmlFormat } from "../data/format";
import { readOrcaFile, splitTrainEval, writeJsonl } from "../data/preferences";
import { CliError, OptionsTable, integerValue, stringValue } from "./framework";
import { ARTICLE_LORA, NOTEBOOK_03, WorkerResult, benchWorker } from "./bench-worker";
import { Summary, formatNumber, formatRatio, formatSummary, ratio, spreadWarning, summarize } from "./bench-stats";

const ROOT = path.resolve(__dirname, "../..");
const CONFIGS = ["course", "4x256", "gpt2-small", "smollm2-lora"] as const;
/** A benchmark configuration: the model and data `dpo-ts bench` measures (see the file's opening comment). */
export type ConfigName = (typeof CONFIGS)[number];

/** Options of `dpo-ts bench` (config, backends, rounds, …), shown by `dpo-ts bench --help`. */
export const benchOptions: OptionsTable = {
  config: { type: "string", valueName: "NAME", description: "course, 4x256, gpt2-small or smollm2-lora (default course)" },
  backends: {
    type: "string",
    valueName: "A,B",
    description:
      "dpo-ts backends to measure (default tensorflow-compiled,tensorflow,wasm for course and smollm2-lora; tensorflow-compiled,tensorflow otherwise)",
  },
  rounds: { type: "string", valueName: "N", description: "interleaved rounds, each side a fresh process per round (default 3)" },
  threads: {
    type: "string",
    valueName: "N",
    description: "CPU cores for both sides: torch.set_num_threads, and TensorFlow's thread pools sized for the model on that many cores (default 2)",
  },
  steps: {
    type: "string",
    valueName: "N",
    description:
      "timed steps, a whole number of epochs (default: 1 epoch for course and 4x256, 3 for gpt2-small and smollm2-lora; wasm on those two: 1, labelled)",
  },
  warmup: {
    type: "string",
    valueName: "N",
    description: "warm-up steps, a whole number of epochs (default: 1 epoch for course and 4x256, 2 for gpt2-small and smollm2-lora; wasm on those two: 1)",
  },
  "batch-size": { type: "string", valueName: "N", description: "pairs per step (default 4 for course and smollm2-lora, 8 otherwise)" },
  updates: {
    type: "string",
    valueName: "N",
    description:
      "updates of the cold-start figure, full fine-tuning with notebook 03's batching (default 40 for course, 0 = skip otherwise; not for gpt2-small)",
  },
  "roof-size": { type: "string", valueName: "N", description: "side of the matmul that measures the fp32 roof (default 3072; 0 = skip)" },
  "gradient-checkpointing": { type: "boolean", description: "gradient checkpointing on both sides (default: on for gpt2-small and smollm2-lora)" },
  "no-gradient-checkpointing": { type: "boolean", description: "gradient checkpointing off on both sides" },
  "skip-trl": { type: "boolean", description: "do not measure TRL" },
  peft: { type: "boolean", description: "internal (--worker): train the article's LoRA adapters (smollm2-lora)", group: "internal" },
  worker: { type: "boolean", description: "internal: one measurement in this process", group: "internal" },
  task: { type: "string", valueName: "NAME", description: "internal (--worker): throughput, updates or roof", group: "internal" },
  backend: { type: "string", valueName: "NAME", description: "internal (--worker): the backend to measure", group: "internal" },
  model: { type: "string", valueName: "DIR", description: "internal (--worker): model folder", group: "internal" },
  prefs: { type: "string", valueName: "FILE", description: "internal (--worker): preference pairs", group: "internal" },
};

/** A prepared benchmark configuration: model folder, prefs file, batch size, what it is, and the backends it measures. */
export interface Prepared {
  model: string;
  prefs: string;
  batchSize: number;
  /** Both sides train the article's LoRA adapters (dpo-ts usePeft; TRL + peft) instead of all weights. */
  lora: boolean;
  /** Large models: 2 warm-up and 3 timed epochs by default, gradient checkpointing on unless told otherwise. */
  large: boolean;
  checkpointing: boolean;
  description: string;
  backends: string[];
  updates: number;
}

/** The project venv's Python (DPO_VENV, else .venv) when it has trl and torch, else null (TRL is then not measured). */
export function benchPython(): string | null {
  const venv = process.env.DPO_VENV ?? path.join(ROOT, ".venv");
  const py = path.join(venv, "bin/python");
  if (!fs.existsSync(py)) return null;
  return spawnSync(py, ["-c", "import trl, torch"]).status === 0 ? py : null;
}

/** The first 64 pairs of the course data, ChatML-formatted, in the standard format both sides read. */
function coursePrefs(outDir: string): string {
  const tokenizer = Tokenizer.fromDirSync(path.join(ROOT, "data/sft-model"));
  const rows = readOrcaFile(path.join(ROOT, "data/orca_dpo_pairs.jsonl"))
    .slice(0, 64)
    .map((row) => chatmlFormat(row, tokenizer));
  const prefs = path.join(outDir, "course-prefs.jsonl");
  writeJsonl(prefs, rows);
  return prefs;
}

function makeModel(py: string | null, config: string, args: string[]): void {
  if (!py) throw new CliError(`the ${config} config builds its model with bench/trl_throughput.py: run scripts/setup-python.sh first`);
  const made = spawnSync(py, [path.join(ROOT, "bench/trl_throughput.py"), ...args, "--no-bench"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (made.status !== 0) throw new Error("bench/trl_throughput.py --make-model failed");
}

/**
 * Builds the config's model folder and a standard-format prefs file both sides read, under `outDir` (the course
 * config uses data/sft-model as it is); shared with bench/ref-cache.js. Throws CliError when a config that builds its
 * model with bench/trl_throughput.py has no Python (`py` null).
 */
export function prepareBenchConfig(config: ConfigName, outDir: string, py: string | null): Prepared {
  fs.mkdirSync(outDir, { recursive: true });
  if (config === "course") {
    return {
      model: path.join(ROOT, "data/sft-model"),
      prefs: coursePrefs(outDir),
      batchSize: 4,
      lora: false,
      large: false,
      checkpointing: false,
      backends: ["tensorflow-compiled", "tensorflow", "wasm"],
      updates: 40,
      description:
        "course model (data/sft-model: MistralForCausalLM, 4 layers, 64 wide, 4 query / 2 key-value heads, vocab 512), 4 ChatML pairs per step, 64 pairs of data/orca_dpo_pairs.jsonl shuffled on both sides, fp32",
    };
  }
  if (config === "4x256") {
    const model = path.join(outDir, "gpt2-4x256");
    makeModel(py, config, [
      "--make-model",
      model,
      "--n-layer",
      "4",
      "--n-embd",
      "256",
      "--n-head",
      "4",
      "--vocab",
      "512",
      "--n-positions",
      "256",
      "--tokenizer-from",
      path.join(ROOT, "data/sft-model"),
    ]);
    return {
      model,
      prefs: coursePrefs(outDir),
      batchSize: 8,
      lora: false,
      large: false,
      checkpointing: false,
      backends: ["tensorflow-compiled", "tensorflow"],
      updates: 0,
      description:
        "random GPT-2 of 4 layers, 256 wide, 4 heads (course tokenizer, vocab 512, 256 positions; 3.4M parameters), 8 ChatML pairs per step, 64 pairs of data/orca_dpo_pairs.jsonl shuffled on both sides, fp32",
    };
  }
  if (config === "smollm2-lora") {
    const model = path.join(outDir, "smollm2-135m-shaped");
    const prefs = path.join(outDir, "smollm2-prefs-256.jsonl");
    // SmolLM2-135M's config.json (HuggingFaceTB/SmolLM2-135M), random weights; the tokenizer is the fixture's byte-level
    // BPE (SmolLM2's own is not here offline), so the synthetic pairs use its words while the model keeps 49152 rows.
    makeModel(py, config, [
      "--make-model",
      model,
      "--arch",
      "llama",
      "--n-layer",
      "30",
      "--n-embd",
      "576",
      "--n-head",
      "9",
      "--n-kv-head",
      "3",
      "--intermediate",
      "1536",
      "--vocab",
      "49152",
      "--n-positions",
      "8192",
      "--rope-theta",
      "100000",
      "--make-prefs",
      prefs,
      "--n-pairs",
      "4",
      "--seq-len",
      "256",
    ]);
    return {
      model,
      prefs,
      batchSize: 4,
      lora: true,
      large: true,
      // TRL's default (DPOConfig.gradient_checkpointing); without it dpo-ts's gradient tape keeps ~0.35 GB a layer here.
      checkpointing: true,
      backends: ["tensorflow-compiled", "tensorflow", "wasm"],
      updates: 0,
      description:
        "SmolLM2-135M-shaped Llama (30 layers, 576 wide, 9 heads, 3 key/value heads, SwiGLU 1536, vocab 49152, tied embeddings; random weights), " +
        `DPO + LoRA r ${ARTICLE_LORA.r} alpha ${ARTICLE_LORA.alpha} dropout ${ARTICLE_LORA.dropout} on ${ARTICLE_LORA.targetModules} (reference: adapters off; TRL + peft), ` +
        "4 pairs of 256 tokens per step, fp32",
    };
  }
  const model = path.join(outDir, "gpt2-small");
  const prefs = path.join(outDir, "gpt2-small-prefs-256.jsonl");
  makeModel(py, config, [
    "--make-model",
    model,
    "--n-layer",
    "12",
    "--n-embd",
    "768",
    "--n-head",
    "12",
    "--vocab",
    "50257",
    "--n-positions",
    "1024",
    "--make-prefs",
    prefs,
    "--n-pairs",
    "8",
    "--seq-len",
    "256",
  ]);
  return {
    model,
    prefs,
    batchSize: 8,
    lora: false,
    large: true,
    checkpointing: true,
    backends: ["tensorflow-compiled", "tensorflow"],
    updates: 0,
    description: "GPT-2-small-shaped (12 layers, 768 wide, 12 heads, vocab 50257, random weights), 8 pairs of 256 tokens per step, fp32",
  };
}

/** Notebook 03's training split (90% of data/orca_dpo_pairs.jsonl, seed 42), written for both sides of the cold-start figure. */
function notebookPrefs(outDir: string, model: string): { file: string; pairs: number; truncated: number } {
  const tokenizer = Tokenizer.fromDirSync(model);
  const rows = splitTrainEval(
    readOrcaFile(path.join(ROOT, "data/orca_dpo_pairs.jsonl")).map((row) => chatmlFormat(row, tokenizer)),
    0.1,
    42,
  ).train;
  const file = path.join(outDir, "notebook03-train.jsonl");
  writeJsonl(file, rows);
  // TRL 1.13 has no max_prompt_length, only max_length: the sides see the same tokens only where neither truncates.
  const tokens = (s: string) => tokenizer.encode(s).length;
  const truncated = rows.filter(
    (r) => tokens(r.prompt) > NOTEBOOK_03.maxPromptLength || tokens(r.prompt) + Math.max(tokens(r.chosen), tokens(r.rejected)) + 1 > NOTEBOOK_03.maxLength,
  ).length;
  return { file, pairs: rows.length, truncated };
}

/** One run of a child process: its last stdout line parsed as JSON, or the reason it gave none. */
interface Spawned<T> {
  result: T | null;
  error?: string;
  /** The child's whole life, start-up included (seconds), as the parent saw it. */
  process_s: number;
}

function spawnJson<T>(cmd: string, args: string[], env: NodeJS.ProcessEnv): Spawned<T> {
  const t0 = performance.now();
  const run = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26, env });
  const process_s = (performance.now() - t0) / 1000;
  const out = run.stdout ?? "";
  // trl_throughput.py prints only its (indented) JSON on stdout; a worker prints one JSON line, last.
  if (run.status === 0) {
    for (const text of [out, out.trim().split("\n").pop() ?? ""]) {
      try {
        return { result: JSON.parse(text) as T, process_s };
      } catch {
        /* next reading, else the error below */
      }
    }
  }
  const stderr = run.stderr ?? "";
  const error = (
    stderr.match(/dpo-ts(?: [a-z]+)?: (.*)/)?.[1] ??
    (run.signal ? `killed by ${run.signal}` : run.error?.message) ??
    `exit ${run.status}: ${stderr.trim().split("\n").pop()}`
  ).slice(0, 300);
  return { result: null, error, process_s };
}

/** Every number one side produced over the rounds, and the errors of failed rounds. */
interface Side {
  label: string;
  detail?: string;
  tokens_per_s: number[];
  step_s: number[];
  compile_s: number[];
  peak_rss_mb: number[];
  updates_wall_s: number[];
  updates_compile_s: number[];
  updates_process_s: number[];
  errors: string[];
}

function newSide(label: string): Side {
  return { label, tokens_per_s: [], step_s: [], compile_s: [], peak_rss_mb: [], updates_wall_s: [], updates_compile_s: [], updates_process_s: [], errors: [] };
}

interface TrlThroughput {
  tokens_per_s: number;
  step_s_mean: number;
  peak_rss_mb: number;
  threads: number;
  versions: { torch: string; trl: string };
}

/** `dpo-ts bench`: times DPO steps of one configuration on each backend against TRL, in worker processes; throws CliError on bad options. */
export async function benchCommand(values: Record<string, unknown>): Promise<void> {
  if (values.worker) return benchWorker(values);
  const config = (stringValue(values, "config") ?? "course") as ConfigName;
  if (!CONFIGS.includes(config)) throw new CliError(`--config must be ${CONFIGS.join(", ")}, got "${config}"`);
  const batchSizeOption = integerValue(values, "batch-size", { positive: true });
  const stepsOption = integerValue(values, "steps", { positive: true });
  const warmupOption = integerValue(values, "warmup", { min: 0 });
  const rounds = integerValue(values, "rounds", { positive: true }) ?? 3;
  const threads = integerValue(values, "threads", { positive: true }) ?? 2;
  const roofSize = integerValue(values, "roof-size", { min: 0 }) ?? 3072;
  const updatesOption = integerValue(values, "updates", { min: 0 });
  if (updatesOption && (config === "gpt2-small" || config === "smollm2-lora"))
    throw new CliError(`--updates: the cold-start figure trains on the course data, which ${config}'s tokenizer does not read; use --config course or 4x256`);
  if (values["gradient-checkpointing"] && values["no-gradient-checkpointing"])
    throw new CliError("--gradient-checkpointing and --no-gradient-checkpointing contradict each other");
  const outDir = path.join(ROOT, "runs/bench");
  const py = values["skip-trl"] ? null : benchPython();
  const prepared = prepareBenchConfig(config, outDir, py ?? (config === "course" ? null : benchPython()));
  const { model, prefs } = prepared;
  const batchSize = batchSizeOption ?? prepared.batchSize;
  const updates = updatesOption ?? prepared.updates;
  const rowCount = fs.readFileSync(prefs, "utf8").trim().split("\n").length;
  if (rowCount % batchSize) throw new CliError(`--batch-size ${batchSize}: ${rowCount} pairs do not split into batches of ${batchSize}`);
  const epoch = rowCount / batchSize;
  const described =
    batchSize === prepared.batchSize
      ? prepared.description
      : `${prepared.description.replace(/\d+ (ChatML )?pairs per step/, `${batchSize} $1pairs per step`)} (--batch-size ${batchSize})`;
  const description = `${described}; ${epoch} step(s) an epoch`;
  const wholeEpochs = (name: string, given: number | undefined, fallback: number) => {
    const n = given ?? fallback;
    if (n % epoch) throw new CliError(`--${name} ${n} must be a whole number of epochs (${epoch} steps each)`);
    return String(n);
  };
  const warmup = wholeEpochs("warmup", warmupOption, prepared.large ? 2 * epoch : epoch);
  const steps = wholeEpochs("steps", stepsOption, prepared.large ? 3 * epoch : epoch);
  // A wasm step of the large configs takes minutes (one thread): unless told otherwise, wasm runs one epoch of warm-up
  // and one timed, the other sides the usual; a rate over fewer steps is noisier, not biased, and the label says so.
  const shortWasm = prepared.large && warmupOption === undefined && stepsOption === undefined;
  const stepsOf = (backend: string) => (shortWasm && backend === "wasm" ? { warmup: String(epoch), steps: String(epoch) } : { warmup, steps });
  const checkpointingOn = values["no-gradient-checkpointing"] ? false : Boolean(values["gradient-checkpointing"]) || prepared.checkpointing;
  const lora = prepared.lora ? ["--peft"] : [];
  const trlLora = prepared.lora
    ? [
        "--lora-r",
        String(ARTICLE_LORA.r),
        "--lora-alpha",
        String(ARTICLE_LORA.alpha),
        "--lora-dropout",
        String(ARTICLE_LORA.dropout),
        "--lora-targets",
        ARTICLE_LORA.targetModules,
      ]
    : [];
  const checkpointing = checkpointingOn ? ["--gradient-checkpointing"] : [];
  const backends = (stringValue(values, "backends") ?? prepared.backends.join(","))
    .split(",")
    .map((b) => b.trim())
    .filter(Boolean);
  const notebook = updates ? notebookPrefs(outDir, model) : null;

  // Same cores on both sides: torch gets --threads, each dpo-ts worker sizes TensorFlow's pools for the model on as
  // many cores (initBackend's threads and model options; TensorFlow reads them when it starts, in the fresh worker).
  const env = { ...process.env, TOKENIZERS_PARALLELISM: "false" };
  const cli = path.join(__dirname, "index.js");
  const trlScript = path.join(ROOT, "bench/trl_throughput.py");
  const worker = (task: string, backend: string, extra: string[]) =>
    spawnJson<WorkerResult>(
      process.execPath,
      [cli, "bench", "--worker", "--task", task, "--backend", backend, "--model", model, "--threads", String(threads), ...extra],
      env,
    );

  const loadStart = os.loadavg()[0];
  console.log(`bench config "${config}": ${description}`);
  console.log(
    `  ${rounds} interleaved round(s) (${[...backends.map((b) => `dpo-ts ${b}`), ...(py ? ["TRL"] : [])].join(", ")}), each measurement a fresh process; ` +
      `${warmup} warm-up + ${steps} timed steps${backends.some((b) => stepsOf(b).steps !== steps) ? ` (wasm: ${epoch} + ${epoch}, a wasm step takes minutes here)` : ""}; gradient checkpointing ${checkpointingOn ? "on" : "off"} (both sides); ` +
      `${threads} cores on both sides (torch.set_num_threads; TensorFlow's pools sized for the model, shown per side; wasm: 1 thread); ${os.cpus().length} CPU cores, load average ${os.loadavg()[0].toFixed(1)}`,
  );
  if (notebook) {
    console.log(
      `  cold start: full fine-tuning with notebook 03's batching and lengths (not its LoRA run), ${updates} updates of ${NOTEBOOK_03.perDeviceTrainBatchSize}×${NOTEBOOK_03.gradientAccumulationSteps} pairs over its ${notebook.pairs}-pair train split ` +
        `(lr ${NOTEBOOK_03.learningRate} cosine, ${NOTEBOOK_03.warmupSteps} warm-up steps, max length ${NOTEBOOK_03.maxLength}; no evaluation on either side)` +
        (notebook.truncated
          ? `; ${notebook.truncated} rows exceed the lengths and are truncated (TRL 1.13 has no max_prompt_length: those rows differ)`
          : "; no row is truncated"),
    );
  }
  if (!py) console.log("  TRL: not measured (" + (values["skip-trl"] ? "--skip-trl" : "no Python venv with trl; run scripts/setup-python.sh") + ")");

  const sides = new Map<string, Side>(
    backends.map((b) => [b, newSide(`dpo-ts ${b}${stepsOf(b).steps !== steps ? ` (${stepsOf(b).warmup} warm-up + ${stepsOf(b).steps} timed steps)` : ""}`)]),
  );
  const trl = newSide("TRL");
  const roofs = { native: [] as number[], torch: [] as number[], errors: [] as string[] };
  const log: object[] = [];
  const failed = (side: Side, round: number, what: string, error: string | undefined) => {
    side.errors.push(`round ${round} ${what}: ${error}`);
    console.log(`    ${side.label} ${what}: failed (${error})`);
  };

  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round}/${rounds}`);
    if (roofSize) {
      const native = worker("roof", "tensorflow", ["--roof-size", String(roofSize)]);
      roofs.native.push(native.result?.gflops ?? NaN);
      if (!native.result) roofs.errors.push(`round ${round} native: ${native.error}`);
      if (py) {
        const torch = spawnJson<{ roof_gflops: number }>(py, [trlScript, "--no-bench", "--roof", String(roofSize), "--threads", String(threads)], env);
        roofs.torch.push(torch.result?.roof_gflops ?? NaN);
        if (!torch.result) roofs.errors.push(`round ${round} torch: ${torch.error}`);
      }
      console.log(
        `    matmul roof (${roofSize}²): native ${formatNumber(roofs.native[roofs.native.length - 1])} GFLOP/s` +
          (py ? `, torch ${formatNumber(roofs.torch[roofs.torch.length - 1])} GFLOP/s` : ""),
      );
    }
    for (const backend of backends) {
      const side = sides.get(backend)!;
      const r = worker("throughput", backend, [
        "--prefs",
        prefs,
        "--batch-size",
        String(batchSize),
        "--warmup",
        stepsOf(backend).warmup,
        "--steps",
        stepsOf(backend).steps,
        ...checkpointing,
        ...lora,
      ]);
      log.push({ round, side: side.label, task: "throughput", ...r });
      side.tokens_per_s.push(r.result?.tokens_per_s ?? NaN);
      side.step_s.push(r.result?.step_s_mean ?? NaN);
      side.compile_s.push(r.result?.compile_s ?? NaN);
      side.peak_rss_mb.push(r.result?.peak_rss_mb ?? NaN);
      if (r.result) {
        side.detail = r.result.detail;
        console.log(
          `    ${side.label}: ${formatNumber(r.result.tokens_per_s!)} tokens/s, ${formatNumber(r.result.step_s_mean!)} s/step` +
            (r.result.compile_s !== undefined ? `, compile ${formatNumber(r.result.compile_s)} s` : "") +
            (r.result.graphs_traced_in_timed_steps
              ? ` (${r.result.graphs_traced_in_timed_steps} batch shape(s) first met in the timed steps: ${formatNumber(r.result.compile_s_in_timed_steps!)} s of compile counted in them)`
              : ""),
        );
      } else failed(side, round, "throughput", r.error);
    }
    if (py) {
      const r = spawnJson<TrlThroughput>(
        py,
        [
          trlScript,
          "--model",
          model,
          "--prefs",
          prefs,
          "--batch-size",
          String(batchSize),
          "--warmup",
          warmup,
          "--steps",
          steps,
          "--all-rows",
          "--threads",
          String(threads),
          ...checkpointing,
          ...trlLora,
        ],
        env,
      );
      log.push({ round, side: "TRL", task: "throughput", ...r });
      trl.tokens_per_s.push(r.result?.tokens_per_s ?? NaN);
      trl.step_s.push(r.result?.step_s_mean ?? NaN);
      trl.peak_rss_mb.push(r.result?.peak_rss_mb ?? NaN);
      if (r.result) {
        trl.detail = `trl ${r.result.versions.trl}, torch ${r.result.versions.torch} cpu, ${r.result.threads} threads`;
        console.log(`    TRL: ${formatNumber(r.result.tokens_per_s)} tokens/s, ${formatNumber(r.result.step_s_mean)} s/step`);
      } else failed(trl, round, "throughput", r.error);
    }
    if (notebook) {
      for (const backend of backends) {
        const side = sides.get(backend)!;
        const r = worker("updates", backend, ["--prefs", notebook.file, "--updates", String(updates)]);
        log.push({ round, side: side.label, task: "updates", ...r });
        side.updates_wall_s.push(r.result?.wall_s ?? NaN);
        side.updates_compile_s.push(r.result?.compile_s ?? NaN);
        side.updates_process_s.push(r.result ? r.process_s : NaN);
        if (r.result)
          console.log(
            `    ${side.label}: ${updates} updates from cold in ${formatNumber(r.result.wall_s!)} s` +
              (r.result.compile_s !== undefined ? ` (compile ${formatNumber(r.result.compile_s)} s)` : "") +
              `, process ${formatNumber(r.process_s)} s`,
          );
        else failed(side, round, `${updates} updates`, r.error);
      }
      if (py) {
        const r = spawnJson<{ wall_s: number }>(
          py,
          [
            trlScript,
            "--cold",
            "--model",
            model,
            "--prefs",
            notebook.file,
            "--batch-size",
            String(NOTEBOOK_03.perDeviceTrainBatchSize),
            "--grad-accum",
            String(NOTEBOOK_03.gradientAccumulationSteps),
            "--warmup",
            "0",
            "--steps",
            String(updates),
            "--lr",
            String(NOTEBOOK_03.learningRate),
            "--beta",
            String(NOTEBOOK_03.beta),
            "--lr-scheduler",
            NOTEBOOK_03.lrSchedulerType,
            "--lr-warmup-steps",
            String(NOTEBOOK_03.warmupSteps),
            "--max-length",
            String(NOTEBOOK_03.maxLength),
            "--logging-steps",
            String(NOTEBOOK_03.loggingSteps),
            "--seed",
            String(NOTEBOOK_03.seed),
            "--threads",
            String(threads),
          ],
          env,
        );
        log.push({ round, side: "TRL", task: "updates", ...r });
        trl.updates_wall_s.push(r.result?.wall_s ?? NaN);
        trl.updates_process_s.push(r.result ? r.process_s : NaN);
        if (r.result) console.log(`    TRL: ${updates} updates from cold in ${formatNumber(r.result.wall_s)} s, process ${formatNumber(r.process_s)} s`);
        else failed(trl, round, `${updates} updates`, r.error);
      }
    }
  }

  const all = [...sides.values(), ...(py ? [trl] : [])];
  const trlTokens = summarize(trl.tokens_per_s);
  const trlUpdates = summarize(trl.updates_wall_s);
  const summary = all.map((side) => {
    const s = {
      side: side.label,
      detail: side.detail,
      tokens_per_s: summarize(side.tokens_per_s),
      step_s: summarize(side.step_s),
      compile_s: summarize(side.compile_s),
      peak_rss_mb: summarize(side.peak_rss_mb),
      updates_wall_s: summarize(side.updates_wall_s),
      updates_compile_s: summarize(side.updates_compile_s),
      updates_process_s: summarize(side.updates_process_s),
    };
    return { ...s, ratio_vs_trl: ratio(s.tokens_per_s, trlTokens), updates_ratio_vs_trl: ratio(s.updates_wall_s, trlUpdates, true), errors: side.errors };
  });
  const roof = { size: roofSize, native_gflops: summarize(roofs.native), torch_gflops: summarize(roofs.torch), errors: roofs.errors };

  const median = (s: Summary) => formatNumber(s.median);
  console.log(`\n## ${config}: ${rounds} round(s), medians (min–max)\n`);
  console.log("| side | tokens/s | s/step | × TRL | compile s | peak RSS MB |\n|---|---|---|---|---|---|");
  for (const s of summary)
    console.log(
      `| ${s.side} | ${formatSummary(s.tokens_per_s)} | ${formatSummary(s.step_s)} | ${s.side === "TRL" ? "1" : formatRatio(s.ratio_vs_trl)} | ${s.compile_s.n ? formatSummary(s.compile_s) : "—"} | ${median(s.peak_rss_mb)} |`,
    );
  if (notebook) {
    console.log(`\n| ${updates} updates from a cold start (notebook 03) | wall s | of which compile s | × TRL | process s |\n|---|---|---|---|---|`);
    for (const s of summary)
      console.log(
        `| ${s.side} | ${formatSummary(s.updates_wall_s)} | ${s.updates_compile_s.n ? formatSummary(s.updates_compile_s) : "—"} | ${s.side === "TRL" ? "1" : formatRatio(s.updates_ratio_vs_trl)} | ${formatSummary(s.updates_process_s)} |`,
      );
  }
  if (roofSize)
    console.log(
      `\nfp32 matmul roof (${roofSize}², ${threads} threads, same run): native backend ${formatSummary(roof.native_gflops)} GFLOP/s` +
        (py ? `; torch ${formatSummary(roof.torch_gflops)} GFLOP/s` : ""),
    );
  for (const s of all) for (const e of s.errors) console.log(`error: ${s.label}: ${e}`);
  for (const e of roofs.errors) console.log(`error: matmul roof: ${e}`);
  // Another process's load steals the same cores from whichever side runs then; the interleaving spreads it, no more.
  // The bench itself keeps about `threads` runnable; more than one beyond that (or above 1 before it began) is others.
  const loadEnd = os.loadavg()[0];
  const warnings = [
    loadStart > 1 || loadEnd > threads + 1
      ? `warning: 1-minute load average ${loadStart.toFixed(1)} at the start, ${loadEnd.toFixed(1)} at the end (the bench alone keeps about ${threads} busy, on ${os.cpus().length} cores): other processes shared the machine; rerun it idle`
      : null,
    ...summary.flatMap((s) => [spreadWarning(s.side, "tokens/s", s.tokens_per_s), spreadWarning(s.side, `${updates} updates' wall time`, s.updates_wall_s)]),
    spreadWarning("native backend", "matmul roof", roof.native_gflops),
    spreadWarning("torch", "matmul roof", roof.torch_gflops),
  ].filter((w): w is string => w !== null);
  for (const w of warnings) console.log(w);

  const file = path.join(outDir, `bench-${config}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify(
      {
        config,
        description,
        date: new Date().toISOString(),
        rounds,
        threads,
        batch_size: batchSize,
        warmup_steps: Number(warmup),
        timed_steps: Number(steps),
        steps_by_backend: Object.fromEntries(backends.map((b) => [b, { warmup: Number(stepsOf(b).warmup), timed: Number(stepsOf(b).steps) }])),
        gradient_checkpointing: checkpointingOn,
        lora: prepared.lora ? ARTICLE_LORA : null,
        cold_start: notebook ? { updates, ...NOTEBOOK_03, train_pairs: notebook.pairs, truncated_rows: notebook.truncated } : null,
        machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, loadavg_1m_start: loadStart, loadavg_end: os.loadavg() },
        roof,
        summary,
        warnings,
        measurements: log,
      },
      (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v),
      2,
    ) + "\n",
  );
  console.log(`\nwritten ${path.relative(process.cwd(), file)}`);
}
