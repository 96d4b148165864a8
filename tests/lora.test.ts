/**
 * LoRA against Hugging Face peft, transformers and TRL: adapters saved by dpo-ts load in peft with the same logits;
 * merged models load in transformers with the same logits; from one PEFT adapter, 5 DPO steps of dpo-ts and of
 * TRL + peft agree; fresh adapters against the adapters-off reference give loss ln 2 with no second model in memory;
 * only adapters train and hold optimizer state; dropout is training-only and seeded.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { spawnSync } from "child_process";
import * as tf from "@tensorflow/tfjs";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadModel, loadModelFromDir, saveMergedModel, saveModel, CausalLM } from "../src/model/io";
import { frozenLoraLinear, loraDelta, readAdapter } from "../src/model/lora";
import { dropoutMask, MaskSeed } from "../src/model/dropout-mask";
import { linear, linearT } from "../src/model/layers";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { readPreferenceFile } from "../src/data/preferences";
import { DPOTrainer, LogEntry } from "../src/train/trainer";
import { useBackendForTests } from "./helpers/backend";
import { pythonWith } from "./helpers/python";
import { compareToTrl, trlCurveArgs } from "./helpers/trl-compare";
import { NEEDS, skipUnless } from "./helpers/skip";

const ROOT = path.join(__dirname, "..");
const FIX = path.join(__dirname, "fixtures/hf-tiny");
const expected = JSON.parse(fs.readFileSync(path.join(FIX, "expected.json"), "utf8"));
const rows = readPreferenceFile(path.join(FIX, "prefs.jsonl"));
const pythonPeft = pythonWith("torch", "transformers", "peft");
const pythonTrlPeft = pythonWith("torch", "transformers", "peft", "trl");
const ARTICLE_TARGETS = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj";
const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));
const baseArgs = (extra: Record<string, unknown> = {}) => ({
  outputDir: tmp("dpo-lora-run-"),
  perDeviceTrainBatchSize: rows.length,
  reportTo: "none" as const,
  writeReport: false,
  numSampleGenerations: 0,
  ...extra,
});

beforeAll(async () => {
  await useBackendForTests();
});

function python(py: string, args: string[]): Record<string, unknown> {
  const run = spawnSync(py, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 26 });
  if (run.status !== 0) throw new Error(`${args[0]} failed:\n${run.stderr.slice(-3000)}`);
  return JSON.parse(run.stdout);
}

function peftJobs(jobs: Record<string, unknown>[]): Record<string, unknown>[] {
  return python(pythonPeft!, ["tests/helpers/peft_reference.py", JSON.stringify(jobs)]) as unknown as Record<string, unknown>[];
}

function logitsOf(model: CausalLM, ids: number[], opts = {}): number[][] {
  return tf.tidy(() => model.forward(tf.tensor2d([ids], undefined, "int32"), opts).logits.arraySync() as number[][][])[0];
}

function maxDiff(a: number[][], b: number[][]): number {
  let worst = 0;
  a.forEach((row, t) => row.forEach((x, v) => (worst = Math.max(worst, Math.abs(x - b[t][v])))));
  return worst;
}

/** Gives every adapter matrix random values (fresh B is zero, which would make a round trip prove nothing). */
function randomizeAdapters(model: CausalLM, seed: number): void {
  let s = seed;
  model.params.forEach((v, name) => name.includes(".lora_") && v.assign(tf.tidy(() => tf.randomNormal(v.shape, 0, 0.2, "float32", s++))));
}

describe("frozen layers' ops (the base under LoRA): the composite's values and gradients, without dW", () => {
  const close = (a: tf.Tensor, b: tf.Tensor) => expect(tf.tidy(() => a.sub(b).abs().max().dataSync()[0])).toBeLessThan(1e-4);
  it("linear/linearT with frozen: same output and input gradient as the plain layer", () => {
    tf.tidy(() => {
      const x = tf.randomNormal([2, 3, 5], 0, 1, "float32", 1);
      const bias = tf.randomNormal([4], 0, 1, "float32", 2) as tf.Tensor1D;
      for (const [layer, weight] of [
        [linear, tf.randomNormal([5, 4], 0, 1, "float32", 3)],
        [linearT, tf.randomNormal([4, 5], 0, 1, "float32", 4)],
      ] as const) {
        const dy = tf.randomNormal([2, 3, 4], 0, 1, "float32", 5);
        const plain = tf.grad((v: tf.Tensor) =>
          layer(v, weight as tf.Tensor2D, bias)
            .mul(dy)
            .sum(),
        )(x);
        const frozen = tf.grad((v: tf.Tensor) =>
          layer(v, weight as tf.Tensor2D, bias, { frozen: true })
            .mul(dy)
            .sum(),
        )(x);
        close(layer(x, weight as tf.Tensor2D, bias, { frozen: true }), layer(x, weight as tf.Tensor2D, bias));
        close(frozen, plain);
      }
    });
  });

  it("frozenLoraLinear: the same values and gradients (x, A, B) as linearT + loraDelta, dropout masks included", () => {
    tf.tidy(() => {
      const x = tf.randomNormal([2, 3, 6], 0, 1, "float32", 11);
      const w = tf.randomNormal([5, 6], 0, 1, "float32", 12) as tf.Tensor2D;
      const bias = tf.randomNormal([5], 0, 1, "float32", 13) as tf.Tensor1D;
      const a = tf.randomNormal([2, 6], 0, 1, "float32", 14) as tf.Tensor2D;
      const b = tf.randomNormal([5, 2], 0, 1, "float32", 15) as tf.Tensor2D;
      const dy = tf.randomNormal([2, 3, 5], 0, 1, "float32", 16);
      // A number seeds tfjs's generator; an int32 [2] tensor TensorFlow's stateless one (native backend only).
      const seeds: [number, MaskSeed | null][] = [
        [0, null],
        [0.3, 7],
      ];
      if (tf.getBackend() === "tensorflow") seeds.push([0.3, tf.tensor1d([7, 2], "int32")]);
      for (const [dropout, seed] of seeds) {
        const composite = (v: tf.Tensor, la: tf.Tensor, lb: tf.Tensor) =>
          linearT(v, w, bias)
            .add(loraDelta(v, la as tf.Tensor2D, lb as tf.Tensor2D, 2, dropout, seed))
            .mul(dy)
            .sum();
        const fused = (v: tf.Tensor, la: tf.Tensor, lb: tf.Tensor) =>
          frozenLoraLinear(v, w, bias, la as tf.Tensor2D, lb as tf.Tensor2D, { weightInOut: false, scaling: 2, dropout, dropoutSeed: seed })
            .mul(dy)
            .sum();
        close(fused(x, a, b), composite(x, a, b));
        const want = tf.grads(composite)([x, a, b]);
        tf.grads(fused)([x, a, b]).forEach((g, i) => close(g, want[i]));
      }
    });
  });
});

describe("LoRA dropout masks", () => {
  it("keep 1−rate of the inputs scaled by 1/(1−rate), reproducibly from a seed; native masks ignore how far a batch is padded", () => {
    tf.tidy(() => {
      const rate = 0.25;
      const seeds: MaskSeed[] = [3];
      if (tf.getBackend() === "tensorflow") seeds.push(tf.tensor1d([3, 1], "int32"));
      for (const seed of seeds) {
        const mask = dropoutMask([4, 50, 40], rate, seed); // [200, 40]
        const values = Array.from(mask.dataSync());
        expect(mask.shape).toEqual([200, 40]);
        expect(new Set(values.map((v) => v.toFixed(5)))).toEqual(new Set(["0.00000", (1 / (1 - rate)).toFixed(5)]));
        const kept = values.filter((v) => v > 0).length / values.length;
        expect(Math.abs(kept - (1 - rate))).toBeLessThan(0.03);
        expect(Array.from(dropoutMask([4, 50, 40], rate, seed).dataSync())).toEqual(values);
        const other = typeof seed === "number" ? seed + 1 : seed.add(tf.tensor1d([0, 1], "int32"));
        expect(Array.from(dropoutMask([4, 50, 40], rate, other as MaskSeed).dataSync())).not.toEqual(values);
      }
      if (tf.getBackend() !== "tensorflow") return;
      // Rows of 50 positions padded to 64: the first 50 positions of every row draw the same mask.
      const seed = tf.tensor1d([3, 1], "int32");
      const short = dropoutMask([4, 50, 40], rate, seed).reshape([4, 50, 40]);
      const padded = dropoutMask([4, 64, 40], rate, seed).reshape([4, 64, 40]).slice([0, 0, 0], [4, 50, 40]);
      expect(Array.from(padded.dataSync())).toEqual(Array.from(short.dataSync()));
    });
  });
});

describe("LoRA adapters", () => {
  it("fresh adapters vs the adapters-off reference: loss ln 2 at step 0, and no second model in memory", async () => {
    for (const [name, targets] of [
      ["gpt2", "c_attn,c_proj,c_fc"],
      ["llama", ARTICLE_TARGETS],
    ]) {
      const tokenizer = await Tokenizer.fromDir(path.join(FIX, `${name}-policy`));
      const model = loadModelFromDir(path.join(FIX, `${name}-policy`));
      const baseParams = model.numParameters();
      const before = tf.memory().numBytes;
      const trainer = new DPOTrainer({
        model,
        tokenizer,
        trainDataset: rows,
        args: baseArgs({ usePeft: true, loraR: 16, loraAlpha: 16, loraDropout: 0.05, loraTargetModules: targets }),
      });
      const adapterParams = model.numParameters() - baseParams;
      // The trainer added the adapters (4 bytes each) and nothing else: no reference copy.
      expect(tf.memory().numBytes - before).toBe(adapterParams * 4);
      expect(model.trainableVariables().reduce((n, v) => n + v.size, 0)).toBe(adapterParams);
      expect(trainer.refModel.params.size).toBe([...model.params.keys()].filter((k) => !k.includes("lora_")).length);
      const metrics = await trainer.computeMetrics(trainer.trainPairs, rows.length);
      expect(Math.abs(metrics.loss - Math.LN2)).toBeLessThan(1e-6);
      expect(metrics["rewards/margins"]).toBe(0);
      trainer.dispose();
      // Without LoRA the default reference is a full frozen copy: the contrast the test above rules out.
      const plain = loadModelFromDir(path.join(FIX, `${name}-policy`));
      const plainBefore = tf.memory().numBytes;
      const copyTrainer = new DPOTrainer({ model: plain, tokenizer, trainDataset: rows, args: baseArgs() });
      expect(tf.memory().numBytes - plainBefore).toBe(baseParams * 4);
      copyTrainer.dispose();
      plain.dispose();
      model.dispose();
    }
  });

  it("only adapters train and only they get optimizer state; dropout is seeded and training-only", async () => {
    const tokenizer = await Tokenizer.fromDir(path.join(FIX, "llama-policy"));
    const run = async (dropout: number) => {
      const model = loadModelFromDir(path.join(FIX, "llama-policy"));
      const base = new Map([...model.params].map(([k, v]) => [k, v.dataSync().slice()]));
      const trainer = new DPOTrainer({
        model,
        tokenizer,
        trainDataset: rows,
        args: baseArgs({
          usePeft: true,
          loraR: 4,
          loraAlpha: 8,
          loraDropout: dropout,
          loraTargetModules: "all-linear",
          maxSteps: 2,
          learningRate: 1e-2,
          loggingSteps: 1,
        }),
      });
      const evalBefore = await trainer.computeMetrics(trainer.trainPairs, rows.length);
      await trainer.train();
      const adapters = [...model.params.keys()].filter((k) => k.includes(".lora_"));
      expect(adapters.length).toBe(2 * 7 * 2); // A and B on 7 linear layers of 2 blocks
      const optimizer = (trainer as unknown as { optimizer: { parameterNames: string[] } }).optimizer;
      expect([...optimizer.parameterNames].sort()).toEqual(adapters.sort());
      for (const [name, values] of base) expect(Array.from(model.params.get(name)!.dataSync())).toEqual(Array.from(values));
      const evalAgain = await trainer.computeMetrics(trainer.trainPairs.slice(0, 0).concat(trainer.trainPairs), rows.length);
      const losses = trainer.state.logHistory.map((l) => l.loss);
      trainer.dispose();
      model.dispose();
      return { losses, evalBefore: evalBefore.loss, evalAgain: evalAgain.loss };
    };
    const a = await run(0.3);
    const b = await run(0.3);
    const noDropout = await run(0);
    expect(a.losses).toEqual(b.losses); // seeded
    expect(a.evalBefore).toBeCloseTo(Math.LN2, 6); // no dropout outside training (fresh adapters: ln 2)
    expect(a.losses[1]).not.toBe(noDropout.losses[1]); // dropout changed training
  });

  it("an adapter folder reloads (loadModelFromDir(dir) on the adapter alone, and loadModelFromDir(base, { adapter }))", async () => {
    const model = loadModelFromDir(path.join(FIX, "llama-policy"));
    model.addAdapters({ r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj"], useRslora: true }, 3);
    randomizeAdapters(model, 5);
    const dir = tmp("dpo-lora-adapter-");
    await saveModel(model, dir);
    expect(fs.existsSync(path.join(dir, "config.json"))).toBe(false);
    const config = JSON.parse(fs.readFileSync(path.join(dir, "adapter_config.json"), "utf8"));
    expect(config).toMatchObject({ peft_type: "LORA", r: 4, lora_alpha: 8, target_modules: ["q_proj", "v_proj"], use_rslora: true, fan_in_fan_out: false });
    const ids: number[] = expected.ids[0].prompt;
    const want = logitsOf(model, ids);
    for (const reloaded of [loadModelFromDir(dir), await loadModel(dir), await loadModel(path.join(FIX, "llama-policy"), { adapter: dir })]) {
      expect(maxDiff(logitsOf(reloaded, ids), want)).toBeLessThan(1e-6);
      expect(maxDiff(logitsOf(reloaded, ids, { disableAdapters: true }), logitsOf(model, ids, { disableAdapters: true }))).toBeLessThan(1e-6);
      reloaded.dispose();
    }
    const gpt2 = loadModelFromDir(path.join(FIX, "gpt2-policy"));
    expect(() => gpt2.loadAdapter(readAdapter(dir), dir)).toThrow(/not a linear layer of this gpt2 model/);
    gpt2.dispose();
    model.dispose();
  });
});

describe.skipIf(skipUnless(pythonPeft, "LoRA against peft", "needs torch, transformers and peft in .venv: run `scripts/setup-python.sh`"))(
  `LoRA against peft${pythonPeft ? "" : " (skipped: the venv lacks torch/transformers/peft)"}`,
  () => {
    for (const [name, targets] of [
      ["gpt2", ["c_attn", "c_proj", "c_fc"]],
      ["llama", ARTICLE_TARGETS.split(",")],
    ] as const) {
      it(`${name}: adapter saved by dpo-ts → peft logits within 1e-4; merged model → transformers logits within 1e-4; peft's adapter → dpo-ts logits`, async () => {
        const model = loadModelFromDir(path.join(FIX, `${name}-policy`));
        model.addAdapters({ r: 4, alpha: 16, dropout: 0, targetModules: [...targets], useRslora: false }, 1);
        randomizeAdapters(model, 11);
        const ids: number[] = expected.ids[0].prompt;
        const ours = logitsOf(model, ids);
        expect(maxDiff(ours, logitsOf(model, ids, { disableAdapters: true }))).toBeGreaterThan(1e-2); // the adapter matters
        const adapterDir = tmp("dpo-lora-peft-");
        await model.saveAdapter(adapterDir);
        const mergedDir = tmp("dpo-lora-merged-");
        await saveMergedModel(model, mergedDir);
        // And the other way: an adapter made by peft, loaded by dpo-ts. One Python start for all four jobs.
        const peftAdapter = path.join(tmp("dpo-lora-from-peft-"), "adapter");
        const base = path.join(FIX, `${name}-policy`);
        const [peftLogits, merged, , theirs] = peftJobs([
          { logits: ids, base, adapter: adapterDir },
          { logits: ids, base: mergedDir, adapter: null },
          { make_adapter: peftAdapter, base, targets: [...targets], r: 4, alpha: 8 },
          { logits: ids, base, adapter: peftAdapter },
        ]).map((r) => r.logits as number[][]);
        expect(maxDiff(ours, peftLogits)).toBeLessThan(1e-4);
        expect(maxDiff(ours, merged)).toBeLessThan(1e-4);
        const loaded = loadModelFromDir(path.join(FIX, `${name}-policy`), { adapter: peftAdapter });
        expect(maxDiff(logitsOf(loaded, ids), theirs)).toBeLessThan(1e-4);
        loaded.dispose();
        model.dispose();
      }, 120_000);
    }

    it.skipIf(skipUnless(pythonTrlPeft, "DPO + LoRA against TRL + peft", NEEDS.venv))(
      `5-step DPO + LoRA from one PEFT adapter matches TRL + peft per step within 1e-3${pythonTrlPeft ? "" : " (skipped: no trl)"}`,
      async () => {
        const adapter = tmp("dpo-lora-start-");
        peftJobs([{ make_adapter: adapter, base: path.join(FIX, "llama-policy"), targets: ARTICLE_TARGETS.split(","), r: 4, alpha: 8 }]);
        const trl = python(pythonTrlPeft!, [
          "bench/trl_dpo.py",
          ...trlCurveArgs(path.join(FIX, "llama-policy"), path.join(FIX, "prefs.jsonl")),
          "--adapter",
          adapter,
          "--loss-type",
          "sigmoid",
        ]).logs as Record<string, number>[];
        const tokenizer = await Tokenizer.fromDir(path.join(FIX, "llama-policy"));
        const model = loadModelFromDir(path.join(FIX, "llama-policy"), { adapter });
        const trainer = new DPOTrainer({
          model,
          tokenizer,
          trainDataset: rows,
          args: baseArgs({ maxSteps: 5, learningRate: 1e-3, lrSchedulerType: "constant", loggingSteps: 1, maxGradNorm: 1, beta: 0.1 }),
        });
        await trainer.train();
        const ours: LogEntry[] = trainer.state.logHistory;
        compareToTrl(ours, trl, "TRL + peft");
        trainer.dispose();
        model.dispose();
      },
      180_000,
    );
  },
);
