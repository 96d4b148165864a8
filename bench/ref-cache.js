#!/usr/bin/env node
/**
 * What cached reference log-probs save: DPO step time, setup time and peak RSS of three runs of the same training,
 * each in its own process (so each peak RSS is its own):
 *   reference model     the frozen reference runs a forward pass every step (TRL's default);
 *   precompute (cold)   precomputeRefLogProbs with an empty cache: one reference pass before training, then released;
 *   precompute (cached) the same with the cache filled by the cold run: no reference forward at all.
 *
 * usage: node bench/ref-cache.js [--config course|gpt2-small|tiny] [--backend wasm|cpu|tensorflow|webgpu] [--steps N]
 *   course      data/sft-model on 64 ChatML pairs of data/orca_dpo_pairs.jsonl, batches of 4
 *   gpt2-small  a random GPT-2-small-shaped model (12 layers, 768 wide, vocab 50257; built as `dpo-ts bench` builds it),
 *               8 pairs of 256 tokens, batches of 8
 *   tiny        the test fixture (tests/fixtures/hf-tiny), for a smoke test
 * Needs `npm run build` (it uses dist/). Prints a table and one JSON line.
 */
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const ROOT = path.join(__dirname, "..");
const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};

/**
 * The model folder, preference rows file, batch size and data rows of a config: course and gpt2-small are built as
 * `dpo-ts bench` builds them (prepareBenchConfig in src/cli/bench.ts), so both benchmarks measure the same model.
 */
function setup(config, workDir) {
  if (config === "tiny")
    return {
      model: path.join(ROOT, "tests/fixtures/hf-tiny/gpt2-policy"),
      prefs: path.join(ROOT, "tests/fixtures/hf-tiny/prefs.jsonl"),
      batchSize: 2,
      rows: 4,
    };
  if (config !== "course" && config !== "gpt2-small") throw new Error(`unknown --config ${config} (course, gpt2-small, tiny)`);
  const { benchPython, prepareBenchConfig } = require("../dist/cli/bench");
  const prepared = prepareBenchConfig(config, workDir, config === "course" ? null : benchPython());
  return { model: prepared.model, prefs: prepared.prefs, batchSize: prepared.batchSize, rows: config === "course" ? 64 : 8 };
}

/** One run in this process: prints one JSON line with its timings and peak RSS. */
async function worker() {
  const { initBackend } = require("../dist/backend");
  const { loadModel } = require("../dist/model/io");
  const { Tokenizer } = require("../dist/tokenizer/tokenizer");
  const { loadPreferenceDataset } = require("../dist/data/dataset");
  const { DPOTrainer } = require("../dist/train/trainer");
  const choice = await initBackend({ backend: option("backend", "wasm"), quiet: true });
  const spec = JSON.parse(option("spec"));
  const tokenizer = await Tokenizer.fromDir(spec.model);
  const rows = (await loadPreferenceDataset(spec.prefs, tokenizer)).slice(0, spec.rows);
  const model = await loadModel(spec.model);
  const steps = Number(option("steps", "8"));
  const marks = [];
  let begin = 0;
  const trainer = new DPOTrainer({
    model,
    tokenizer,
    trainDataset: rows,
    args: {
      outputDir: fs.mkdtempSync(path.join(os.tmpdir(), "dpo-bench-ref-")),
      perDeviceTrainBatchSize: spec.batchSize,
      perDeviceEvalBatchSize: spec.batchSize,
      maxSteps: steps,
      loggingSteps: steps,
      learningRate: 1e-6,
      lrSchedulerType: "constant",
      reportTo: "none",
      numSampleGenerations: 0,
      writeReport: false,
      gradientCheckpointing: spec.gradientCheckpointing,
      precomputeRefLogProbs: spec.mode !== "reference model",
      refLogpsCacheDir: spec.cacheDir,
    },
    callbacks: [{ onTrainBegin: () => void (begin = performance.now()), onStepEnd: () => void marks.push(performance.now()) }],
  });
  const out = await trainer.train();
  // Step times after the first (warm-up); the last step includes the metric read-back, as a real run does.
  const stepTimes = marks.slice(1).map((t, i) => (t - marks[i]) / 1000);
  const stepSeconds = stepTimes.reduce((a, b) => a + b, 0) / Math.max(1, stepTimes.length);
  console.log(
    JSON.stringify({
      mode: spec.mode,
      backend: choice.name,
      step_s: stepSeconds,
      setup_s: (marks[0] - begin) / 1000 - stepSeconds, // before the first update: the reference pass (or cache read)
      train_s: out.metrics.train_runtime,
      from_cache: out.metrics.ref_logps_from_cache ?? null,
      peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    }),
  );
  trainer.dispose();
}

function main() {
  const config = option("config", "course");
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-bench-ref-cache-"));
  const spec = { ...setup(config, workDir), cacheDir: path.join(workDir, "ref-logps"), gradientCheckpointing: config === "gpt2-small" };
  const results = [];
  for (const mode of ["reference model", "precompute (cold)", "precompute (cached)"]) {
    const args = [__filename, "--worker", "--spec", JSON.stringify({ ...spec, mode }), "--backend", option("backend", "wasm"), "--steps", option("steps", "8")];
    const run = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 26 });
    if (run.status !== 0) throw new Error(`${mode}: worker failed\n${run.stderr.slice(-3000)}`);
    results.push(JSON.parse(run.stdout.trim().split("\n").pop()));
  }
  console.log(`config ${config}, backend ${results[0].backend}, ${option("steps", "8")} steps`);
  console.log(`${"mode".padEnd(22)}${"step (s)".padStart(10)}${"setup (s)".padStart(11)}${"peak RSS (MB)".padStart(15)}`);
  for (const r of results)
    console.log(`${r.mode.padEnd(22)}${r.step_s.toFixed(4).padStart(10)}${r.setup_s.toFixed(3).padStart(11)}${r.peak_rss_mb.toFixed(0).padStart(15)}`);
  console.log(JSON.stringify({ config, results }));
  fs.rmSync(workDir, { recursive: true, force: true });
}

if (argv.includes("--worker"))
  worker().catch((e) => {
    console.error(e.stack || e.message);
    process.exit(1);
  });
else main();
