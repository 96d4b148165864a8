/**
 * Reference handling: precomputeRefLogProbs caches the reference's log-probs on disk; a second run does no
 * reference forward at all (counted) and logs the same metrics. TR-DPO's sync is ref ← α·policy + (1−α)·ref.
 */
import { describe, it, expect, beforeAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadModelFromDir, CausalLM } from "../src/model/io";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { readPreferenceFile } from "../src/data/preferences";
import { DPOTrainer } from "../src/train/trainer";
import { syncReference } from "../src/train/reference";
import { TINY, tinyTokenizerOnTestBackend } from "./helpers/fixture";

const FIX = TINY;
const rows = readPreferenceFile(path.join(FIX, "prefs.jsonl"));
let tokenizer: Tokenizer;
beforeAll(async () => void (tokenizer = await tinyTokenizerOnTestBackend()));

/** A reference whose forward passes are counted. */
function countedReference(): { model: CausalLM; forwards: () => number } {
  const model = loadModelFromDir(path.join(FIX, "gpt2-ref"), { trainable: false });
  let n = 0;
  const forward = model.hiddenStates.bind(model);
  model.hiddenStates = ((...args: Parameters<CausalLM["hiddenStates"]>) => {
    n++;
    return forward(...args);
  }) as CausalLM["hiddenStates"];
  return { model, forwards: () => n };
}

describe("cached reference log-probs", () => {
  it("a second precomputeRefLogProbs run does no reference forward and logs the same metrics", async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-ref-cache-"));
    const run = async () => {
      const ref = countedReference();
      const model = loadModelFromDir(path.join(FIX, "gpt2-policy"));
      const trainer = new DPOTrainer({
        model,
        refModel: ref.model,
        tokenizer,
        trainDataset: rows,
        evalDataset: rows.slice(0, 2),
        args: {
          outputDir: fs.mkdtempSync(path.join(os.tmpdir(), "dpo-ref-run-")),
          maxSteps: 3,
          perDeviceTrainBatchSize: 2,
          learningRate: 1e-3,
          loggingSteps: 1,
          evalStrategy: "steps",
          evalSteps: 3,
          precomputeRefLogProbs: true,
          refLogpsCacheDir: cacheDir,
          reportTo: "none",
          numSampleGenerations: 0,
          writeReport: false,
        },
      });
      const out = await trainer.train();
      expect(trainer.refModel).toBe(null); // released after the precompute pass
      trainer.dispose();
      model.dispose();
      ref.model.dispose(); // the caller's reference: the trainer did not dispose it
      return { log: out.state.logHistory, forwards: ref.forwards(), fromCache: out.metrics.ref_logps_from_cache };
    };
    const first = await run();
    expect(first.forwards).toBeGreaterThan(0);
    expect(first.fromCache).toBe(0);
    expect(fs.readdirSync(cacheDir).filter((f) => f.endsWith(".bin")).length).toBe(2); // train and eval pairs
    const second = await run();
    expect(second.forwards).toBe(0);
    expect(second.fromCache).toBe(1);
    expect(second.log).toEqual(first.log);
    expect(second.log.some((e) => "eval_loss" in e)).toBe(true);
  });

  it("another maxLength gives another cache key", async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-ref-key-"));
    for (const maxLength of [0, 20]) {
      const model = loadModelFromDir(path.join(FIX, "gpt2-policy"));
      const trainer = new DPOTrainer({
        model,
        tokenizer,
        trainDataset: rows,
        args: {
          outputDir: fs.mkdtempSync(path.join(os.tmpdir(), "dpo-ref-key-run-")),
          maxSteps: 1,
          maxLength,
          precomputeRefLogProbs: true,
          refLogpsCacheDir: cacheDir,
          reportTo: "none",
          numSampleGenerations: 0,
          writeReport: false,
        },
      });
      await trainer.train();
      trainer.dispose();
      model.dispose();
    }
    expect(fs.readdirSync(cacheDir).length).toBe(2);
  });

  it("TR-DPO sync: ref ← α·policy + (1−α)·ref", () => {
    const policy = loadModelFromDir(path.join(FIX, "gpt2-policy"));
    const ref = loadModelFromDir(path.join(FIX, "gpt2-ref"), { trainable: false });
    const tensors = tf.memory().numTensors;
    const name = [...ref.params.keys()][0];
    const [p, r] = [policy, ref].map((m) => m.params.get(name)!.dataSync().slice());
    syncReference(policy, ref, 0.6);
    const got = ref.params.get(name)!.dataSync();
    got.forEach((v, i) => expect(v).toBeCloseTo(0.6 * p[i] + 0.4 * r[i], 6));
    expect(tf.memory().numTensors).toBe(tensors);
    policy.dispose();
    ref.dispose();
  });
});
