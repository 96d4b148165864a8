#!/usr/bin/env node
/**
 * Training-step speed of TensorFlow.js backends on a small GPT-like model:
 * the native 'tensorflow' backend (@tensorflow/tfjs-node, built by `npm run setup:native`),
 * the plain JavaScript 'cpu' backend, and 'wasm' (@tensorflow/tfjs-backend-wasm).
 *
 *   node scripts/setup-native.bench.mjs [--gpu] [--steps N] [--batch B] [--seq T] [--width D] [--layers L]
 *   npm run setup:native -- --bench          (runs this after the setup)
 *
 * Model (defaults): vocab 256, width 128, 2 pre-LayerNorm blocks (4-head causal self-attention + 4x
 * tanh-GELU MLP), tied output embedding, batch 8 x 64 tokens. One step = forward, cross-entropy,
 * gradients of all variables with tf.variableGrads, plain SGD update. Prints the median ms/step
 * over N timed steps after 2 warm-up steps, for every backend that loads.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(ROOT, "package.json"));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const STEPS = opt("steps", 5);
const B = opt("batch", 8);
const T = opt("seq", 64);
const D = opt("width", 128);
const L = opt("layers", 2);
const H = 4;
const V = 256;
const HD = D / H;

process.env.TF_CPP_MIN_LOG_LEVEL ??= "2";
const tf = require("@tensorflow/tfjs");
const backends = [];
const nativePkg = args.includes("--gpu") ? "@tensorflow/tfjs-node-gpu" : "@tensorflow/tfjs-node";
try {
  require(nativePkg);
  backends.push("tensorflow");
} catch (e) {
  console.log(`tensorflow: ${nativePkg} does not load (${e.message.split("\n")[0]}); run npm run setup:native`);
}
backends.push("cpu");
try {
  require("@tensorflow/tfjs-backend-wasm");
  backends.push("wasm");
} catch (e) {
  console.log(`wasm: @tensorflow/tfjs-backend-wasm does not load (${e.message})`);
}

/** Seeded parameters (same initial values on every backend). */
function makeParams() {
  let seed = 1;
  const init = (shape, std) => tf.variable(tf.randomNormal(shape, 0, std, "float32", seed++));
  const p = { wte: init([V, D], 0.02), wpe: init([T, D], 0.01), blocks: [] };
  for (let l = 0; l < L; l++) {
    p.blocks.push({
      ln1g: tf.variable(tf.ones([D])),
      ln1b: tf.variable(tf.zeros([D])),
      wqkv: init([D, 3 * D], 0.02),
      wo: init([D, D], 0.02 / Math.sqrt(2 * L)),
      ln2g: tf.variable(tf.ones([D])),
      ln2b: tf.variable(tf.zeros([D])),
      w1: init([D, 4 * D], 0.02),
      b1: tf.variable(tf.zeros([4 * D])),
      w2: init([4 * D, D], 0.02 / Math.sqrt(2 * L)),
      b2: tf.variable(tf.zeros([D])),
    });
  }
  p.lnfg = tf.variable(tf.ones([D]));
  p.lnfb = tf.variable(tf.zeros([D]));
  return p;
}

function layerNorm(x, g, b) {
  // x: [N, D]
  const mean = tf.mean(x, -1, true);
  const xc = tf.sub(x, mean);
  const variance = tf.mean(tf.square(xc), -1, true);
  return tf.add(tf.mul(tf.div(xc, tf.sqrt(tf.add(variance, 1e-5))), g), b);
}

function gelu(x) {
  const c = Math.sqrt(2 / Math.PI);
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), c))));
}

function loss(p, ids, targets, mask) {
  // ids, targets: [B*T] int32; one-hot embedding so every backend has the gradient kernels
  let x = tf.add(tf.reshape(tf.matMul(tf.oneHot(ids, V), p.wte), [B, T, D]), p.wpe); // [B, T, D]
  x = tf.reshape(x, [B * T, D]); // [B*T, D]
  for (const k of p.blocks) {
    const h = layerNorm(x, k.ln1g, k.ln1b);
    const qkv = tf.reshape(tf.matMul(h, k.wqkv), [B, T, 3, H, HD]);
    const [q, kk, v] = tf.split(qkv, 3, 2).map((t) => tf.transpose(tf.reshape(t, [B, T, H, HD]), [0, 2, 1, 3])); // [B, H, T, HD]
    const att = tf.softmax(tf.add(tf.mul(tf.matMul(q, kk, false, true), 1 / Math.sqrt(HD)), mask)); // [B, H, T, T]
    const y = tf.reshape(tf.transpose(tf.matMul(att, v), [0, 2, 1, 3]), [B * T, D]); // [B*T, D]
    x = tf.add(x, tf.matMul(y, k.wo));
    const h2 = layerNorm(x, k.ln2g, k.ln2b);
    x = tf.add(x, tf.add(tf.matMul(gelu(tf.add(tf.matMul(h2, k.w1), k.b1)), k.w2), k.b2));
  }
  const logits = tf.matMul(layerNorm(x, p.lnfg, p.lnfb), p.wte, false, true); // [B*T, V]
  const logp = tf.sub(logits, tf.logSumExp(logits, -1, true));
  return tf.neg(tf.mean(tf.sum(tf.mul(logp, tf.oneHot(targets, V)), -1)));
}

const results = [];
for (const be of backends) {
  await tf.setBackend(be);
  await tf.ready();
  const p = makeParams();
  const vars = tf.engine().state.registeredVariables;
  let r = 12345;
  const rand = () => ((r = (r * 1103515245 + 12345) % 2147483648), r % V);
  const idArr = Int32Array.from({ length: B * T }, rand);
  const ids = tf.tensor1d(idArr, "int32");
  const targets = tf.tensor1d(
    Int32Array.from({ length: B * T }, (_, i) => idArr[(i + 1) % (B * T)]),
    "int32",
  );
  const mask = tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9)); // [T, T]
  const nParams = Object.values(vars).reduce((s, v) => s + v.size, 0);
  const times = [];
  let first = 0;
  let last = 0;
  for (let s = 0; s < STEPS + 2; s++) {
    const t = performance.now();
    const lossVal = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => loss(p, ids, targets, mask));
      for (const [name, g] of Object.entries(grads)) vars[name].assign(tf.sub(vars[name], tf.mul(g, 0.1)));
      return value;
    });
    const lv = (await lossVal.data())[0];
    lossVal.dispose();
    if (s === 0) first = lv;
    last = lv;
    if (s >= 2) times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)];
  results.push({ backend: be, ms, first, last });
  console.log(
    `${be.padEnd(10)} ${ms.toFixed(1).padStart(8)} ms/step  (median of ${STEPS}; loss ${first.toFixed(4)} -> ${last.toFixed(4)}; ` +
      `${nParams} params, batch ${B}x${T}, width ${D}, ${L} layers)`,
  );
  tf.dispose([ids, targets, mask]);
  tf.disposeVariables();
}
const cpu = results.find((x) => x.backend === "cpu");
if (cpu) {
  console.log(results.map((x) => `${x.backend}: ${(cpu.ms / x.ms).toFixed(1)}x cpu`).join(", "));
}
