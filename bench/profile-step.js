#!/usr/bin/env node
/**
 * Where a DPO training step's time goes, by kernel: one update of the course config on a given backend.
 * usage: node bench/profile-step.js [tensorflow|wasm|cpu] [--compiled]
 * --compiled (native backend): the same updates with compileStep; prints the graphs' TensorFlow op counts and the
 * time per op of a compiled update beside the eager one.
 */
const tf = require("@tensorflow/tfjs");
const path = require("path");
const os = require("os");
const fs = require("fs");
const { initBackend } = require("../dist/backend");
const { loadModelFromDir } = require("../dist/model/io");
const { Tokenizer } = require("../dist/tokenizer/tokenizer");
const { loadPreferenceDataset } = require("../dist/data/dataset");
const { DPOTrainer } = require("../dist/train/trainer");

(async () => {
  await initBackend({ backend: process.argv[2] || "wasm", quiet: true });
  const root = path.join(__dirname, "..");
  const tokenizer = await Tokenizer.fromDir(path.join(root, "data/sft-model"));
  const rows = loadPreferenceDataset(path.join(root, "data/orca_dpo_pairs.jsonl"), tokenizer).slice(0, 64);
  const model = loadModelFromDir(path.join(root, "data/sft-model"));
  const trainer = new DPOTrainer({ model, tokenizer, trainDataset: rows, args: { outputDir: fs.mkdtempSync(path.join(os.tmpdir(), "prof-")), perDeviceTrainBatchSize: 4, maxSteps: 1, reportTo: "none", numSampleGenerations: 0, writeReport: false, learningRate: 1e-6, overwriteOutputDir: true } });
  await trainer.train(); // warm-up
  const t0 = performance.now();
  const prof = await tf.profile(() => trainer.train());
  const wall = performance.now() - t0;
  const agg = {};
  let kernelTotal = 0;
  for (const k of prof.kernels) {
    const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
    agg[k.name] = agg[k.name] || { ms: 0, calls: 0 };
    agg[k.name].ms += ms;
    agg[k.name].calls += 1;
    kernelTotal += ms;
  }
  console.log(`${tf.getBackend()}: one update (train() incl. setup and final save) ${wall.toFixed(0)} ms; ${prof.kernels.length} kernel calls, ${kernelTotal.toFixed(0)} ms inside kernels`);
  console.log(Object.entries(agg).sort((a, b) => b[1].ms - a[1].ms).slice(0, 14).map(([k, v]) => `${k} ${v.ms.toFixed(1)}ms/${v.calls}`).join("  "));
  trainer.dispose();
  model.dispose();
  if (process.argv.includes("--compiled")) {
    // 48 updates (3 epochs) with compileStep: the last epoch runs graphs only (every batch shape seen before).
    const compiledModel = loadModelFromDir(path.join(root, "data/sft-model"));
    const marks = [];
    const compiled = new DPOTrainer({ model: compiledModel, tokenizer, trainDataset: rows, args: { outputDir: fs.mkdtempSync(path.join(os.tmpdir(), "prof-")), perDeviceTrainBatchSize: 4, maxSteps: 48, loggingSteps: 48, reportTo: "none", numSampleGenerations: 0, writeReport: false, learningRate: 1e-6, compileStep: true }, callbacks: [{ onStepEnd: () => void marks.push(performance.now()) }] });
    await compiled.train();
    const stats = compiled.compileStats();
    const lastEpochMs = (marks[47] - marks[31]) / 16;
    const ops = stats.opsPerGraph.reduce((a, b) => a + b, 0) / stats.opsPerGraph.length;
    console.log(`compileStep: ${stats.graphs} graphs of ${stats.opsPerGraph.join("/")} TensorFlow ops (${stats.compileSeconds.toFixed(1)} s tracing + loading); ` +
      `last epoch ${lastEpochMs.toFixed(1)} ms/update, ${((lastEpochMs * 1000) / ops).toFixed(1)} µs per op, against ${((wall * 1000) / prof.kernels.length).toFixed(1)} µs per eager kernel call`);
    compiled.dispose();
    compiledModel.dispose();
  }
})();
