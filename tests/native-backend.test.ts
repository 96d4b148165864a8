/**
 * The native TensorFlow backend (@tensorflow/tfjs-node, built by `npm run setup:native`, or
 * @tensorflow/tfjs-node-gpu) computes the same numbers as the plain JavaScript cpu backend:
 * a few forward ops of a GPT block and the gradients of a small attention + MLP loss, within 1e-5.
 * Skipped, with a message, when no native package loads.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { createRequire } from "module";
import * as fs from "fs";
import * as path from "path";
import { NEEDS, skipUnless } from "./helpers/skip";

const req = createRequire(__filename);
// GPUs from Ampere on run float32 matmuls in TF32 unless told not to; compare true float32.
process.env.NVIDIA_TF32_OVERRIDE ??= "0";
process.env.TF_CPP_MIN_LOG_LEVEL ??= "2";

let nativePkg = "";
const loadErrors: string[] = [];
/** True when the package's addon (lib/napi-vN/tfjs_binding.node) was built; requiring an unbuilt one
 * registers all its kernels and then throws, which would make the next require warn about every kernel. */
function addonBuilt(pkg: string): boolean {
  try {
    const lib = path.join(path.dirname(req.resolve(`${pkg}/package.json`)), "lib");
    return fs.readdirSync(lib).some((d) => fs.existsSync(path.join(lib, d, "tfjs_binding.node")));
  } catch {
    return false;
  }
}
for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
  if (!addonBuilt(pkg)) {
    loadErrors.push(`${pkg}: not installed or addon not built`);
    continue;
  }
  try {
    req(pkg);
    nativePkg = pkg;
    break;
  } catch (e) {
    loadErrors.push(`${pkg}: ${String((e as Error).message).split("\n")[0]}`);
  }
}
const title = nativePkg
  ? `native backend (${nativePkg}) matches cpu`
  : `native backend — SKIPPED: @tensorflow/tfjs-node does not load; run \`npm run setup:native\` (${loadErrors.join("; ")})`;

if (!nativePkg) console.warn(title);

/** Deterministic inputs built in JS so both backends see identical bits. */
function data(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

const T = 6;
const D = 16;
const V = 11;

/** Values of several ops (forward of one GPT-style block pieces) as plain arrays. */
function forwardOps(): Record<string, number[]> {
  return tf.tidy(() => {
    const x = tf.tensor2d(data(T * D, 1), [T, D]); // [T, D]
    const w = tf.tensor2d(data(D * D, 2, 0.3), [D, D]); // [D, D]
    const q = tf.tensor3d(data(2 * T * D, 3), [2, T, D]); // [H=2, T, D]
    const ids = tf.tensor1d([3, 1, 4, 1, 5, 9], "int32"); // [T]
    const emb = tf.tensor2d(data(V * D, 4), [V, D]); // [V, D]
    const mean = tf.mean(x, -1, true);
    const xc = tf.sub(x, mean);
    const ln = tf.div(xc, tf.sqrt(tf.add(tf.mean(tf.square(xc), -1, true), 1e-5)));
    const gelu = tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI)))));
    const scores = tf.div(tf.matMul(q, q, false, true), Math.sqrt(D)); // [2, T, T]
    const logits = tf.matMul(x, emb, false, true); // [T, V]
    const out: Record<string, tf.Tensor> = {
      matMul: tf.matMul(x, w),
      batchMatMulT: scores,
      softmax: tf.softmax(scores),
      logSoftmax: tf.logSoftmax(logits),
      logSumExp: tf.logSumExp(logits, -1),
      layerNorm: ln,
      gelu,
      gather: tf.gather(emb, ids),
      transpose: tf.transpose(q, [1, 0, 2]),
      sumMaxExp: tf.stack([tf.sum(x), tf.max(x), tf.sum(tf.exp(x))]),
    };
    const res: Record<string, number[]> = {};
    for (const [k, v] of Object.entries(out)) res[k] = Array.from(v.dataSync());
    return res;
  });
}

/** Gradients of a one-head causal attention + MLP + cross-entropy loss w.r.t. all four weights. */
function gradients(): { loss: number; grads: number[][] } {
  return tf.tidy(() => {
    const x = tf.tensor2d(data(T * D, 5), [T, D]); // [T, D]
    const ws = [
      tf.tensor2d(data(D * 3 * D, 6, 0.3), [D, 3 * D]), // wqkv
      tf.tensor2d(data(D * 2 * D, 7, 0.3), [D, 2 * D]), // w1
      tf.tensor2d(data(2 * D * D, 8, 0.3), [2 * D, D]), // w2
      tf.tensor2d(data(D * V, 9, 0.3), [D, V]), // head
    ];
    const targets = tf.oneHot(tf.tensor1d([1, 2, 3, 5, 8, 10], "int32"), V); // [T, V]
    const mask = tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9); // [T, T]
    const f = (wqkv: tf.Tensor, w1: tf.Tensor, w2: tf.Tensor, head: tf.Tensor): tf.Scalar => {
      const [q, k, v] = tf.split(tf.matMul(x, wqkv as tf.Tensor2D), 3, 1); // 3 x [T, D]
      const att = tf.softmax(tf.add(tf.div(tf.matMul(q, k, false, true), Math.sqrt(D)), mask)); // [T, T]
      const h = tf.add(x, tf.matMul(att, v)); // [T, D]
      const m = tf.add(h, tf.matMul(tf.tanh(tf.matMul(h, w1 as tf.Tensor2D)), w2 as tf.Tensor2D)); // [T, D]
      const logits = tf.matMul(m, head as tf.Tensor2D); // [T, V]
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), targets), -1))) as tf.Scalar;
    };
    const { value, grads } = tf.valueAndGrads(f as (...a: tf.Tensor[]) => tf.Scalar)(ws);
    return { loss: value.dataSync()[0], grads: grads.map((g) => Array.from(g.dataSync())) };
  });
}

function maxAbsDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.skipIf(skipUnless(nativePkg, `native backend matches cpu (${loadErrors.join("; ")})`, NEEDS.native))(title, () => {
  let previous = "";
  beforeAll(() => {
    previous = tf.getBackend();
  });
  afterAll(async () => {
    if (previous) await tf.setBackend(previous);
  });

  it("registers the 'tensorflow' backend and reports libtensorflow's version", async () => {
    expect(await tf.setBackend("tensorflow")).toBe(true);
    expect(tf.getBackend()).toBe("tensorflow");
    const version = (tf.backend() as unknown as { binding: { TF_Version: string } }).binding.TF_Version;
    expect(version).toMatch(/^2\.\d+\.\d+/);
  });

  it("forward ops match the cpu backend within 1e-5", async () => {
    await tf.setBackend("tensorflow");
    const native = forwardOps();
    await tf.setBackend("cpu");
    const cpu = forwardOps();
    for (const k of Object.keys(cpu)) {
      const d = maxAbsDiff(native[k], cpu[k]);
      expect(d, `${k}: max |tensorflow - cpu| = ${d}`).toBeLessThan(1e-5);
    }
    // a real check, not 0 == 0
    expect(cpu.matMul.some((v) => Math.abs(v) > 0.1)).toBe(true);
  });

  it("gradients of an attention + MLP loss match the cpu backend within 1e-5", async () => {
    await tf.setBackend("tensorflow");
    const native = gradients();
    await tf.setBackend("cpu");
    const cpu = gradients();
    expect(Math.abs(native.loss - cpu.loss)).toBeLessThan(1e-5);
    expect(cpu.loss).toBeGreaterThan(0.1);
    for (let i = 0; i < cpu.grads.length; i++) {
      const d = maxAbsDiff(native.grads[i], cpu.grads[i]);
      expect(d, `grad ${i}: max |tensorflow - cpu| = ${d}`).toBeLessThan(1e-5);
      expect(cpu.grads[i].some((v) => Math.abs(v) > 1e-4)).toBe(true);
    }
  });

  it("does not leak tensors across a backend round trip", async () => {
    await tf.setBackend("tensorflow");
    const before = tf.memory().numTensors;
    forwardOps();
    gradients();
    expect(tf.memory().numTensors).toBe(before);
  });
});
