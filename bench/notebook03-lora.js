#!/usr/bin/env node
/**
 * Notebook 03's main run — the article's LoRA (r 16, alpha 16, dropout 0.05 on q/k/v/o/gate/up/down) on the course
 * model, its trainer arguments verbatim (evaluation at the start, at 20 and at 40 updates included) — timed with and
 * without compileStep on the native backend, each run a fresh process, the two kinds interleaved (A, B, A, B, …).
 *
 * usage: npm run build && node bench/notebook03-lora.js [--rounds 3] [--steps 40] [--threads 2] [--json FILE]
 *
 * Reported per run and as medians: the wall time of trainer.train() (what notebook 03's "Train" cell waits for;
 * tracing and graph loading included), the compile seconds inside it, and the final train and eval losses — the two
 * kinds draw the same dropout masks, so their losses agree.
 */
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const root = path.join(__dirname, "..");
const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : fallback);

/** One run in this process: notebook 03's trainer, compiled or eager; prints one JSON line. */
async function child(compiled, steps) {
  const { initBackend } = require("../dist/backend");
  const { Tokenizer } = require("../dist/tokenizer/tokenizer");
  const { loadModel } = require("../dist/model/io");
  const { loadPreferenceDataset } = require("../dist/data/dataset");
  const { splitTrainEval } = require("../dist/data/preferences");
  const { DPOTrainer } = require("../dist/train/trainer");
  const modelDir = path.join(root, "data/sft-model");
  await initBackend({ backend: "tensorflow", quiet: true, model: modelDir }); // as notebook 03 does
  const tokenizer = await Tokenizer.fromDir(modelDir);
  const dataset = await loadPreferenceDataset(path.join(root, "data/orca_dpo_pairs.jsonl"), tokenizer);
  const split = splitTrainEval(dataset, 0.1, 42);
  const policy = await loadModel(modelDir);
  const trainer = new DPOTrainer({
    model: policy,
    tokenizer,
    trainDataset: split.train,
    evalDataset: split.eval,
    args: {
      outputDir: fs.mkdtempSync(path.join(os.tmpdir(), "dpo-nb03-")),
      usePeft: true,
      loraR: 16,
      loraAlpha: 16,
      loraDropout: 0.05,
      loraTargetModules: "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
      beta: 0.1,
      learningRate: 2e-3,
      lrSchedulerType: "cosine",
      warmupSteps: Math.min(4, Math.floor(steps / 10)),
      perDeviceTrainBatchSize: 4,
      gradientAccumulationSteps: 2,
      maxSteps: steps,
      maxLength: 256,
      maxPromptLength: 128,
      loggingSteps: 5,
      evalStrategy: "steps",
      evalSteps: 20,
      evalOnStart: true,
      seed: 42,
      reportTo: "none",
      compileStep: compiled,
    },
  });
  const started = performance.now();
  const result = await trainer.train();
  const wall = (performance.now() - started) / 1000;
  const evals = trainer.state.logHistory.filter((e) => typeof e.eval_loss === "number");
  const stats = trainer.compileStats();
  console.log(
    JSON.stringify({
      compiled,
      train_wall_s: wall,
      compile_s: stats ? stats.compileSeconds : 0,
      graphs: stats ? stats.graphs : 0,
      train_loss: result.trainLoss,
      eval_loss: evals[evals.length - 1].eval_loss,
      peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    }),
  );
  fs.rmSync(trainer.config.outputDir, { recursive: true, force: true });
  trainer.dispose();
  policy.dispose();
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function main() {
  const rounds = Number(option("rounds", "3"));
  const steps = option("steps", "40");
  const threads = option("threads", "2");
  const runs = { compiled: [], eager: [] };
  for (let round = 1; round <= rounds; round++) {
    for (const kind of ["compiled", "eager"]) {
      const out = spawnSync(process.execPath, [__filename, "--child", kind, "--steps", steps], {
        encoding: "utf8",
        env: { ...process.env, TF_NUM_INTRAOP_THREADS: threads, TF_CPP_MIN_LOG_LEVEL: "2" },
        maxBuffer: 64 << 20,
      });
      const line = out.stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .pop();
      if (out.status !== 0 || !line) throw new Error(`round ${round} ${kind} failed:\n${out.stderr.slice(-2000)}`);
      const r = JSON.parse(line);
      runs[kind].push(r);
      console.log(
        `round ${round} ${kind}: train ${r.train_wall_s.toFixed(2)} s (compile ${r.compile_s.toFixed(2)} s, ${r.graphs} graphs), ` +
          `train loss ${r.train_loss.toFixed(5)}, eval loss ${r.eval_loss.toFixed(5)}, peak RSS ${r.peak_rss_mb.toFixed(0)} MB`,
      );
    }
  }
  const wall = (kind) => median(runs[kind].map((r) => r.train_wall_s));
  const ratios = runs.compiled.map((r, i) => runs.eager[i].train_wall_s / r.train_wall_s);
  const afterCompile = median(runs.compiled.map((r) => r.train_wall_s - r.compile_s));
  console.log(
    `\nnotebook 03's LoRA run (${steps} updates, native backend, ${threads} threads), median of ${rounds} interleaved rounds: ` +
      `compiled ${wall("compiled").toFixed(2)} s (compile ${median(runs.compiled.map((r) => r.compile_s)).toFixed(2)} s), eager ${wall("eager").toFixed(2)} s; ` +
      `eager/compiled per round ${ratios.map((x) => x.toFixed(2)).join(", ")} (median ${median(ratios).toFixed(2)}×); ` +
      `compiled without its compile time ${afterCompile.toFixed(2)} s (${(wall("eager") / afterCompile).toFixed(2)}× faster than eager)`,
  );
  const json = option("json", null);
  if (json) fs.writeFileSync(json, JSON.stringify({ steps: Number(steps), threads: Number(threads), runs, ratios }, null, 2) + "\n");
}

if (argv.includes("--child")) {
  child(option("child") === "compiled", Number(option("steps", "40"))).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else main();
