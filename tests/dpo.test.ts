import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as fs from "fs";
import * as path from "path";
import { loadModel, CausalLM } from "../src/model/io";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { readPreferenceFile } from "../src/data/preferences";
import { DPOTrainer } from "../src/train/trainer";
import { collatePairs, disposeBatch } from "../src/train/batch";
import { completionLogps } from "../src/train/logps";
import { dpoLoss, LossType } from "../src/train/loss";
import { useBackendForTests } from "./helpers/backend";
import { expectPerPairLogps } from "./helpers/fixture";

const FIX = path.join(__dirname, "fixtures/hf-tiny");
const expected = JSON.parse(fs.readFileSync(path.join(FIX, "expected.json"), "utf8"));
const rows = readPreferenceFile(path.join(FIX, "prefs.jsonl"));
let policy: CausalLM, reference: CausalLM, tokenizer: Tokenizer;

beforeAll(async () => {
  await useBackendForTests();
  policy = await loadModel(path.join(FIX, "gpt2-policy"));
  reference = await loadModel(path.join(FIX, "gpt2-ref"), { trainable: false });
  tokenizer = await Tokenizer.fromDir(path.join(FIX, "gpt2-policy"));
});
afterAll(() => {
  policy.dispose();
  reference.dispose();
});

function relClose(got: number, want: number, tol = 1e-4): void {
  expect(Math.abs(got - want) / Math.max(1, Math.abs(want)), `got ${got}, want ${want}`).toBeLessThan(tol);
}

function parseKey(key: string): { lossType: LossType; beta: number; labelSmoothing: number } {
  const m = /^(\w+)_beta([\d.]+)_ls([\d.]+)$/.exec(key)!;
  return { lossType: m[1] as LossType, beta: Number(m[2]), labelSmoothing: Number(m[3]) };
}

describe("DPO numbers match transformers (tests/fixtures/hf-tiny, GPT-2)", () => {
  it("tokenizes the pairs to the fixture's ids", () => {
    const trainer = new DPOTrainer({ model: policy, refModel: reference, tokenizer, trainDataset: rows });
    expect(trainer.trainPairs.map((p) => ({ prompt: p.promptIds, chosen: p.chosenIds, rejected: p.rejectedIds }))).toEqual(expected.ids);
    trainer.dispose();
  });

  it("per-pair summed completion log-probs within 1e-4 relative", async () => {
    const trainer = new DPOTrainer({ model: policy, refModel: reference, tokenizer, trainDataset: rows });
    const batch = collatePairs(trainer.trainPairs, tokenizer.padTokenId);
    const [pol, ref] = tf.tidy(() => [policy, reference].map((m) => completionLogps(m, batch).logps.arraySync() as number[]));
    disposeBatch(batch);
    expectPerPairLogps(pol, ref, expected.models.gpt2.metrics["sigmoid_beta0.1_ls0.0"].per_pair);
    trainer.dispose();
  });

  for (const key of Object.keys(expected.models.gpt2.metrics).filter((k) => k.includes("_ls"))) {
    it(`metrics ${key} within 1e-4`, async () => {
      const opts = parseKey(key);
      const trainer = new DPOTrainer({ model: policy, refModel: reference, tokenizer, trainDataset: rows, args: opts });
      const got = await trainer.computeMetrics(trainer.trainPairs, rows.length);
      const want = expected.models.gpt2.metrics[key];
      for (const name of Object.keys(got)) {
        if (name === "loss" && opts.lossType === "ipo") continue; // the fixture's ipo is on summed log-probs; checked below
        relClose(got[name], want[name]);
      }
      trainer.dispose();
    });
  }

  it("ipo: TRL 1.x's length-normalised form, and the paper's form on summed log-probs (the fixture's)", () => {
    const beta = 0.1;
    const perPair = expected.models.gpt2.metrics["ipo_beta0.1_ls0.0"].per_pair;
    const col = (k: string) => tf.tensor1d(perPair.map((p: Record<string, number>) => p[k]));
    const lengths = (k: "chosen" | "rejected") => tf.tensor1d(expected.ids.map((ids: Record<string, number[]>) => ids[k].length));
    const ones = tf.ones([perPair.length]) as tf.Tensor1D;
    const inputs = {
      policyChosenLogps: col("policy_chosen_logp"),
      policyRejectedLogps: col("policy_rejected_logp"),
      referenceChosenLogps: col("ref_chosen_logp"),
      referenceRejectedLogps: col("ref_rejected_logp"),
    };
    const summed = dpoLoss({ ...inputs, chosenLengths: ones, rejectedLengths: ones }, { beta, lossType: "ipo", labelSmoothing: 0 });
    relClose(summed.losses.mean().dataSync()[0], expected.models.gpt2.metrics["ipo_beta0.1_ls0.0"].loss);
    const normalised = dpoLoss(
      { ...inputs, chosenLengths: lengths("chosen"), rejectedLengths: lengths("rejected") },
      { beta, lossType: "ipo", labelSmoothing: 0 },
    );
    const manual = perPair.map((p: Record<string, number>, i: number) => {
      const h =
        (p.policy_chosen_logp - p.ref_chosen_logp) / expected.ids[i].chosen.length -
        (p.policy_rejected_logp - p.ref_rejected_logp) / expected.ids[i].rejected.length;
      return (h - 1 / (2 * beta)) ** 2;
    });
    relClose(normalised.losses.mean().dataSync()[0], manual.reduce((a: number, b: number) => a + b, 0) / manual.length);
  });

  it("policy as its own reference gives loss ln 2", async () => {
    const trainer = new DPOTrainer({ model: policy, tokenizer, trainDataset: rows });
    const got = await trainer.computeMetrics(trainer.trainPairs, rows.length);
    relClose(got.loss, Math.LN2, 1e-6);
    const want = expected.models.gpt2.metrics["self_sigmoid_beta0.1"];
    for (const name of Object.keys(want)) relClose(got[name], want[name]);
    trainer.dispose();
  });
});
