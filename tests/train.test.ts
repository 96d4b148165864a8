import { describe, it, expect, beforeAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadModel, loadModelFromDir } from "../src/model/io";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { readPreferenceFile } from "../src/data/preferences";
import { DPOTrainer } from "../src/train/trainer";
import { collatePairs, disposeBatch } from "../src/train/batch";
import { completionLogps, headLogProbs } from "../src/train/logps";
import { METRIC_NAMES, dpoBatchLoss } from "../src/train/step";
import { AdamW, clipGradNorm } from "../src/train/optimizer";
import { learningRateAt } from "../src/train/scheduler";
import { TINY, tinyTokenizerOnTestBackend } from "./helpers/fixture";

const FIX = TINY;
const rows = readPreferenceFile(path.join(FIX, "prefs.jsonl"));
let tokenizer: Tokenizer;

beforeAll(async () => void (tokenizer = await tinyTokenizerOnTestBackend()));

describe("DPO gradient", () => {
  it("matches central finite differences of the loss", async () => {
    const policy = await loadModel(path.join(FIX, "gpt2-policy"));
    const reference = await loadModel(path.join(FIX, "gpt2-ref"), { trainable: false });
    const trainer = new DPOTrainer({ model: policy, refModel: reference, tokenizer, trainDataset: rows });
    const batch = collatePairs(trainer.trainPairs, tokenizer.padTokenId);
    const refLogps = tf.tidy(() => completionLogps(reference, batch).logps);
    const opts = { beta: 0.5, lossType: "sigmoid" as const, labelSmoothing: 0 };
    const lossValue = () => tf.tidy(() => dpoBatchLoss(policy, batch, refLogps, opts).loss.dataSync()[0]);
    const variables = policy.trainableVariables();
    const { value, grads } = tf.variableGrads(() => dpoBatchLoss(policy, batch, refLogps, opts).loss, variables);
    value.dispose();
    // Coordinates across the network: embeddings (tied with the head), attention, MLP, LayerNorm, positions.
    const probes: [string, number][] = [
      ["wte.weight", 5 * 48 + 3],
      ["wte.weight", 2 * 48 + 7],
      ["h.0.attn.c_attn.weight", 100],
      ["h.1.attn.c_proj.weight", 7],
      ["h.1.mlp.c_fc.weight", 333],
      ["h.0.ln_1.weight", 4],
      ["ln_f.bias", 11],
      ["wpe.weight", 3 * 48 + 1],
    ];
    for (const [name, index] of probes) {
      const param = policy.params.get(name)!;
      const analytic = grads[param.name].dataSync()[index];
      const original = param.dataSync().slice();
      const eps = 1e-2;
      const at = (delta: number) => {
        const values = original.slice();
        values[index] += delta;
        param.assign(tf.tensor(values, param.shape));
        return lossValue();
      };
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      param.assign(tf.tensor(original, param.shape));
      expect(Math.abs(analytic - numeric), `${name}[${index}]: analytic ${analytic}, numeric ${numeric}`).toBeLessThan(2e-3 + 3e-2 * Math.abs(numeric));
    }
    Object.values(grads).forEach((g) => g.dispose());
    refLogps.dispose();
    disposeBatch(batch);
    trainer.dispose();
    policy.dispose();
    reference.dispose();
  });
});

describe("memory-saving paths give the same numbers", () => {
  it("gradient checkpointing: same loss and gradients as keeping activations", () => {
    const policy = loadModelFromDir(path.join(FIX, "gpt2-policy"));
    const reference = loadModelFromDir(path.join(FIX, "gpt2-ref"), { trainable: false });
    const trainer = new DPOTrainer({ model: policy, refModel: reference, tokenizer, trainDataset: rows });
    const batch = collatePairs(trainer.trainPairs, tokenizer.padTokenId);
    const refLogps = tf.tidy(() => completionLogps(reference, batch).logps);
    const variables = policy.trainableVariables();
    const run = (gradientCheckpointing: boolean) => {
      const opts = { beta: 0.1, lossType: "sigmoid" as const, labelSmoothing: 0, gradientCheckpointing };
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(() => dpoBatchLoss(policy, batch, refLogps, opts).loss, variables);
      const out = { loss: value.dataSync()[0], grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, Array.from(g.dataSync())])) };
      value.dispose();
      Object.values(grads).forEach((g) => g.dispose());
      expect(tf.memory().numTensors, "tensors left behind by one gradient computation").toBe(before);
      return out;
    };
    const plain = run(false);
    const checkpointed = run(true);
    expect(checkpointed.loss).toBeCloseTo(plain.loss, 6);
    for (const [name, values] of Object.entries(plain.grads)) {
      const scale = Math.max(...values.map(Math.abs));
      checkpointed.grads[name].forEach((g, i) => expect(Math.abs(g - values[i]), name).toBeLessThan(1e-5 * scale + 1e-9));
    }
    refLogps.dispose();
    disposeBatch(batch);
    trainer.dispose();
    policy.dispose();
    reference.dispose();
  });

  it("chunked LM-head log-probs: same values and gradients as one chunk", () => {
    const N = 7,
      D = 5,
      V = 11;
    const hidden = tf.randomNormal([N, D], 0, 1, "float32", 1) as tf.Tensor2D;
    const head = tf.randomNormal([V, D], 0, 1, "float32", 2) as tf.Tensor2D;
    const labels = tf.tensor1d([0, 3, 10, 5, 5, 1, 7], "int32");
    const weights = tf.randomNormal([N], 0, 1, "float32", 3);
    const run = (chunkRows: number) => {
      const value = tf.tidy(() => Array.from(headLogProbs(hidden, head, labels, chunkRows).dataSync()));
      const [dHidden, dHead] = tf.grads((h: tf.Tensor, w: tf.Tensor) =>
        headLogProbs(h as tf.Tensor2D, w as tf.Tensor2D, labels, chunkRows)
          .mul(weights)
          .sum(),
      )([hidden, head]);
      const out = { value, dHidden: Array.from(dHidden.dataSync()), dHead: Array.from(dHead.dataSync()) };
      tf.dispose([dHidden, dHead]);
      return out;
    };
    const whole = run(N);
    // log softmax by hand for one row
    const logits = tf.tidy(() => Array.from(hidden.matMul(head, false, true).dataSync()));
    const row1 = logits.slice(V, 2 * V);
    const lse = Math.log(row1.reduce((a, x) => a + Math.exp(x), 0));
    expect(whole.value[1]).toBeCloseTo(row1[3] - lse, 5);
    const chunked = run(3);
    chunked.value.forEach((x, i) => expect(x).toBeCloseTo(whole.value[i], 5));
    chunked.dHidden.forEach((x, i) => expect(x).toBeCloseTo(whole.dHidden[i], 5));
    chunked.dHead.forEach((x, i) => expect(x).toBeCloseTo(whole.dHead[i], 5));
    tf.dispose([hidden, head, labels, weights]);
  });
});

describe("optimizer", () => {
  it("AdamW follows torch.optim.AdamW's update (hand-computed)", () => {
    const p = tf.variable(tf.tensor1d([1, -2]), true, "adamw_probe");
    const params = new Map([["w", p]]);
    const opt = new AdamW({ weightDecay: 0.1 });
    const g = [0.5, -1];
    const m = [0, 0],
      v = [0, 0];
    let w = [1, -2];
    for (let t = 1; t <= 3; t++) {
      opt.apply(params, new Map([["w", tf.tensor1d(g)]]), 0.01);
      w = w.map((wi, i) => {
        wi = wi * (1 - 0.01 * 0.1);
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
        return wi - ((0.01 / (1 - 0.9 ** t)) * m[i]) / (Math.sqrt(v[i]) / Math.sqrt(1 - 0.999 ** t) + 1e-8);
      });
    }
    const got = Array.from(p.dataSync());
    got.forEach((x, i) => expect(x).toBeCloseTo(w[i], 6));
    opt.dispose();
    p.dispose();
  });

  it("AdamW's flat groups give each parameter the per-parameter update, keep decayed and non-decayed apart, and round-trip through toHost/load", async () => {
    const shapes: Record<string, number[]> = { "h.0.attn.weight": [3, 2], "h.0.attn.bias": [2], "ln_f.weight": [4], "wte.weight": [2, 3] };
    const init = (name: string, k: number) => Array.from({ length: shapes[name].reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(k + i) * 0.5);
    const names = Object.keys(shapes);
    const params = new Map(names.map((name, k) => [name, tf.variable(tf.tensor(init(name, k), shapes[name]), true, `flat_probe_${k}`)]));
    const opt = new AdamW({ weightDecay: 0.1 });
    const expected = new Map(names.map((name, k) => [name, { w: init(name, k), m: init(name, k).map(() => 0), v: init(name, k).map(() => 0) }]));
    for (let t = 1; t <= 2; t++) {
      const grads = new Map(names.map((name, k) => [name, tf.tensor(init(name, k + 7 * t), shapes[name])]));
      opt.apply(params, grads, 0.01);
      tf.dispose([...grads.values()]);
      names.forEach((name, k) => {
        const e = expected.get(name)!;
        const decay = name.endsWith("weight") && !name.startsWith("ln_f") ? 1 - 0.01 * 0.1 : 1;
        e.w = e.w.map((wi, i) => {
          const g = init(name, k + 7 * t)[i];
          e.m[i] = 0.9 * e.m[i] + 0.1 * g;
          e.v[i] = 0.999 * e.v[i] + 0.001 * g * g;
          return wi * decay - ((0.01 / (1 - 0.9 ** t)) * e.m[i]) / (Math.sqrt(e.v[i]) / Math.sqrt(1 - 0.999 ** t) + 1e-8);
        });
      });
    }
    // Two groups: the decayed weights, then the biases and LayerNorm weight.
    expect(opt.moments(params).size).toBe(2);
    expect(opt.parameterNames).toEqual(["h.0.attn.weight", "wte.weight", "h.0.attn.bias", "ln_f.weight"]);
    for (const name of names) Array.from(params.get(name)!.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(expected.get(name)!.w[i], 6));
    const host = await opt.toHost();
    for (const name of names) {
      expect(host.get(`${name}.exp_avg`)!.shape).toEqual(shapes[name]);
      Array.from(host.get(`${name}.exp_avg_sq`)!.data).forEach((x, i) => expect(x).toBeCloseTo(expected.get(name)!.v[i], 9));
    }
    const restored = new AdamW({ weightDecay: 0.1 });
    restored.load(params, host, opt.stepCount);
    const again = await restored.toHost();
    for (const [key, value] of host) expect(Array.from(again.get(key)!.data)).toEqual(Array.from(value.data));
    expect(() => opt.apply(params, new Map([["wte.weight", tf.zeros([2, 3])]]), 0.01)).toThrow(/no gradient for parameter h\.0\.attn\.weight/);
    [opt, restored].forEach((o) => o.dispose());
    params.forEach((p) => p.dispose());
  });

  it("a Cast to a tensor's own dtype and a Reshape to its own shape share its data; real ones still compute", () => {
    const x = tf.tensor2d([1.5, -2, 3, 4], [2, 2]);
    const same = [tf.cast(x, "float32"), tf.reshape(x, [2, 2]), tf.reshape(x, [-1, 2])];
    const changed = [tf.cast(x, "int32"), tf.reshape(x, [4])];
    if (tf.getBackend() === "tensorflow" || tf.getBackend() === "wasm") same.forEach((t) => expect(t.dataId).toBe(x.dataId));
    same.forEach((t) => expect(Array.from(t.dataSync())).toEqual([1.5, -2, 3, 4]));
    expect(Array.from(changed[0].dataSync())).toEqual([1, -2, 3, 4]);
    expect(changed[1].shape).toEqual([4]);
    // Disposing the input leaves the shortcuts' outputs readable (they hold a reference of their own).
    x.dispose();
    expect(Array.from(same[0].dataSync())).toEqual([1.5, -2, 3, 4]);
    tf.dispose([...same, ...changed]);
  });

  it("clips to the global norm like torch's clip_grad_norm_", () => {
    const grads = new Map<string, tf.Tensor>([
      ["a", tf.tensor1d([3, 0])],
      ["b", tf.tensor1d([0, 4])],
    ]);
    const { grads: clipped, norm } = clipGradNorm(grads, 1);
    expect(norm.dataSync()[0]).toBeCloseTo(5, 5);
    expect(Array.from(clipped.get("a")!.dataSync())[0]).toBeCloseTo(3 / (5 + 1e-6), 6);
    clipped.forEach((g) => g.dispose());
    norm.dispose();
  });

  it("schedules like transformers' get_scheduler", () => {
    const base = { learningRate: 1, warmupSteps: 2, totalSteps: 10 };
    expect([0, 1, 2, 6, 10].map((s) => learningRateAt(s, { ...base, type: "linear" }))).toEqual([0, 0.5, 1, 0.5, 0]);
    expect(learningRateAt(6, { ...base, type: "cosine" })).toBeCloseTo(0.5, 10);
    expect(learningRateAt(0, { ...base, type: "constant" })).toBe(1);
  });
});

describe("DPOTrainer", () => {
  it("keeps tf.memory().numTensors flat across steps and writes metrics.jsonl and final/", async () => {
    const policy = await loadModel(path.join(FIX, "gpt2-policy"));
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-train-"));
    const counts: number[] = [];
    const trainer = new DPOTrainer({
      model: policy,
      tokenizer,
      trainDataset: rows,
      evalDataset: rows.slice(0, 2),
      args: {
        outputDir: out,
        maxSteps: 6,
        perDeviceTrainBatchSize: 2,
        gradientAccumulationSteps: 2,
        loggingSteps: 2,
        evalStrategy: "steps",
        evalSteps: 3,
        learningRate: 1e-3,
        lrSchedulerType: "cosine",
        warmupSteps: 1,
      },
      callbacks: [{ onStepEnd: () => void counts.push(tf.memory().numTensors) }],
    });
    await trainer.train();
    // Between logging steps the trainer holds one running metric sum; after each log it holds none. So the count
    // after every logging step (2, 4, 6) is the same, and the steps between are exactly one higher: nothing leaks.
    const afterLogs = counts.filter((_, i) => (i + 1) % 2 === 0);
    expect(new Set(afterLogs).size, `numTensors per step: ${counts}`).toBe(1);
    counts.forEach((c, i) => expect(c, `numTensors per step: ${counts}`).toBe(afterLogs[0] + ((i + 1) % 2 === 0 ? 0 : 1)));
    const logs = fs
      .readFileSync(path.join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const train = logs.filter((l) => "loss" in l);
    const evals = logs.filter((l) => "eval_loss" in l);
    expect(train.map((l) => l.step)).toEqual([2, 4, 6]);
    expect(evals.map((l) => l.step)).toEqual([3, 6]);
    for (const key of [...METRIC_NAMES, "grad_norm", "learning_rate"]) {
      expect(Number.isFinite(train[0][key]), key).toBe(true);
    }
    expect(train[0].learning_rate).toBeCloseTo(learningRateAt(1, { learningRate: 1e-3, type: "cosine", warmupSteps: 1, totalSteps: 6 }), 10);
    const reloaded = await loadModel(path.join(out, "final"));
    expect(reloaded.numParameters()).toBe(policy.numParameters());
    expect(fs.existsSync(path.join(out, "final/tokenizer.json"))).toBe(true);
    // After training: sample generations of policy vs reference, and the self-contained report.
    const samples = JSON.parse(fs.readFileSync(path.join(out, "samples.json"), "utf8"));
    expect(samples).toHaveLength(2);
    expect(samples[0].prompt).toBe(rows[0].prompt);
    expect(typeof samples[0].policy).toBe("string");
    const report = fs.readFileSync(path.join(out, "report.html"), "utf8");
    expect(report).toContain("rewards/accuracies");
    expect(report).toContain("<script");
    reloaded.dispose();
    trainer.dispose();
    policy.dispose();
  });
});
