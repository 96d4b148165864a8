#!/usr/bin/env node
/**
 * Where one DPO update's memory goes: tfjs-tracked tensor bytes and the process RSS at each phase of an eager update
 * (model loaded, adapters attached, reference log-probs, inside the gradient tape after the forward, gradients,
 * optimizer step), for a model folder and a preference file. Diagnoses what `npm run bench` only reports as a peak.
 *
 * usage: npm run build && node bench/memory-step.js MODEL_DIR PREFS.jsonl [--backend tensorflow|wasm] [--batch-size 4]
 *        [--peft] [--gradient-checkpointing] [--steps 2]
 */
const tf = require("@tensorflow/tfjs");
const { initBackend } = require("../dist/backend");
const { loadModelFromDir } = require("../dist/model/io");
const { Tokenizer } = require("../dist/tokenizer/tokenizer");
const { loadPreferenceDataset } = require("../dist/data/dataset");
const { tokenizePairs } = require("../dist/data/tokenize");
const { collatePairs, disposeBatch } = require("../dist/train/batch");
const { completionLogps } = require("../dist/train/logps");
const { dpoBatchLoss } = require("../dist/train/step");
const { AdamW, optimizerStep } = require("../dist/train/optimizer");
const { DEFAULT_DPO_CONFIG } = require("../dist/train/config");
const { loraConfigOf } = require("../dist/train/config");
const { ARTICLE_LORA } = require("../dist/cli/bench-worker");

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const option = (name, fallback) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : fallback);
const [modelDir, prefsFile] = argv.filter(
  (a, i) => !a.startsWith("--") && !(i > 0 && argv[i - 1].startsWith("--") && !["--peft", "--gradient-checkpointing"].includes(argv[i - 1])),
);

const MB = 1 << 20;
const rssMb = () => process.memoryUsage().rss / MB;
const rows = [];
function mark(phase) {
  const m = tf.memory();
  const row = {
    phase,
    tensorsMb: +(m.numBytes / MB).toFixed(1),
    tensors: m.numTensors,
    rssMb: +rssMb().toFixed(0),
    peakRssMb: +(process.resourceUsage().maxRSS / 1024).toFixed(0),
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}

(async () => {
  await initBackend({ backend: option("backend", "tensorflow"), quiet: true });
  const tokenizer = await Tokenizer.fromDir(modelDir);
  const prefs = await loadPreferenceDataset(prefsFile, tokenizer);
  const batchSize = Number(option("batch-size", "4"));
  const { pairs } = tokenizePairs(prefs.slice(0, batchSize), tokenizer, { maxLength: 100000, maxPromptLength: 100000 });
  mark("start");
  const model = loadModelFromDir(modelDir);
  mark("model loaded");
  const config = { ...DEFAULT_DPO_CONFIG, gradientCheckpointing: flag("gradient-checkpointing") };
  let reference;
  if (flag("peft")) {
    model.addAdapters(
      loraConfigOf({
        ...config,
        usePeft: true,
        loraR: ARTICLE_LORA.r,
        loraAlpha: ARTICLE_LORA.alpha,
        loraDropout: ARTICLE_LORA.dropout,
        loraTargetModules: ARTICLE_LORA.targetModules,
      }),
      42,
    );
    reference = model.withAdaptersDisabled();
    mark("adapters attached");
  } else {
    reference = model.clone({ trainable: false });
    mark("reference copy");
  }
  // --by-kernel: bytes the gradient tape keeps for the backward pass, by the kernel that saved them (first step).
  const savedByKernel = new Map();
  if (flag("by-kernel")) {
    const engine = tf.engine();
    const getTensorsForGradient = engine.getTensorsForGradient.bind(engine);
    engine.getTensorsForGradient = (kernelName, inputs, outputs) => {
      const saved = getTensorsForGradient(kernelName, inputs, outputs);
      const entry = savedByKernel.get(kernelName) ?? { calls: 0, mb: 0 };
      entry.calls += 1;
      entry.mb += saved.reduce((sum, t) => sum + (t.dtype === "float32" || t.dtype === "int32" ? 4 : 1) * t.size, 0) / MB;
      savedByKernel.set(kernelName, entry);
      return saved;
    };
  }
  const optimizer = new AdamW();
  const variables = model.trainableVariables();
  for (let step = 1; step <= Number(option("steps", "2")); step++) {
    const batch = collatePairs(pairs, tokenizer.padTokenId ?? tokenizer.eosTokenId, {});
    const refLogps = tf.tidy(() => completionLogps(reference, batch, {}).logps);
    mark(`step ${step}: reference log-probs`);
    const { value, grads } = tf.variableGrads(() => {
      const { loss, metrics } = dpoBatchLoss(model, batch, refLogps, config);
      metrics.dispose();
      mark(`step ${step}: forward inside the tape`);
      return loss;
    }, variables);
    mark(`step ${step}: gradients`);
    if (savedByKernel.size && step === 1) {
      const sorted = [...savedByKernel].sort((a, b) => b[1].mb - a[1].mb);
      for (const [name, e] of sorted.slice(0, 15)) console.log(`  saved for backward by ${name}: ${e.mb.toFixed(0)} MB in ${e.calls} calls`);
    }
    value.dispose();
    refLogps.dispose();
    const named = new Map();
    const nameOf = new Map([...model.params].map(([n, v]) => [v.name, n]));
    for (const [k, g] of Object.entries(grads)) named.set(nameOf.get(k), g);
    const scalars = optimizer.nextScalars(1e-6);
    optimizerStep(optimizer, model.params, named, { maxGradNorm: 1, scalars }).dispose();
    tf.dispose(Object.values(scalars));
    disposeBatch(batch);
    mark(`step ${step}: optimizer step`);
  }
})();
