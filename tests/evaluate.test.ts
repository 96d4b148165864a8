/**
 * evaluate(): batches of perDeviceEvalBatchSize aggregated as TRL 1.13's evaluation (loss weighted by pairs per batch,
 * every other metric a mean of per-batch means), checked against TRL's DPOTrainer.evaluate() run live in the venv,
 * and by hand; tensors stay flat across calls.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { spawnSync } from "child_process";
import * as path from "path";
import { loadModelFromDir, CausalLM } from "../src/model/io";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { readPreferenceFile } from "../src/data/preferences";
import { tokenizePairs } from "../src/data/tokenize";
import { evaluate } from "../src/train/evaluate";
import { computeReferenceLogps } from "../src/train/reference";

import { useBackendForTests } from "./helpers/backend";
import { pythonWith } from "./helpers/python";
import { NEEDS, skipUnless } from "./helpers/skip";
import type { TokenizedPair } from "../src/data/tokenize";

const FIX = path.join(__dirname, "fixtures/hf-tiny");
const python = pythonWith("trl", "torch", "datasets");
let policy: CausalLM, reference: CausalLM, tokenizer: Tokenizer, pairs: TokenizedPair[];

beforeAll(async () => {
  await useBackendForTests();
  policy = loadModelFromDir(path.join(FIX, "gpt2-policy"), { trainable: false });
  reference = loadModelFromDir(path.join(FIX, "gpt2-ref"), { trainable: false });
  tokenizer = await Tokenizer.fromDir(path.join(FIX, "gpt2-policy"));
  pairs = tokenizePairs(readPreferenceFile(path.join(FIX, "prefs.jsonl")), tokenizer).pairs;
});
afterAll(() => {
  policy.dispose();
  reference.dispose();
});

const relClose = (got: number, want: number, what: string, tol = 1e-4) =>
  expect(Math.abs(got - want) / Math.max(1, Math.abs(want)), `${what}: ${got} vs ${want}`).toBeLessThan(tol);

describe("evaluate()", () => {
  it.skipIf(skipUnless(python, "comparison with TRL 1.13 run in Python", NEEDS.venv))(
    "equals TRL 1.13's DPOTrainer.evaluate() with per_device_eval_batch_size 3 over 4 pairs",
    async () => {
      const run = spawnSync(
        python!,
        [path.join(__dirname, "helpers/trl_eval.py"), path.join(FIX, "gpt2-policy"), path.join(FIX, "gpt2-ref"), path.join(FIX, "prefs.jsonl"), "3", "0.1"],
        { encoding: "utf8" },
      );
      expect(run.status, run.stderr.slice(-2000)).toBe(0);
      const trl = JSON.parse(run.stdout.trim().split("\n").pop()!);
      const ours = await evaluate(policy, reference, pairs, { perDeviceEvalBatchSize: 3, beta: 0.1, padTokenId: tokenizer.padTokenId });
      for (const [name, value] of Object.entries(ours)) relClose(value, trl[`eval_${name}`], name);
    },
  );

  it("aggregates per batch as TRL: pair-weighted loss, mean of batch means otherwise; cached reference gives the same", async () => {
    const cfg = { beta: 0.1, padTokenId: tokenizer.padTokenId };
    const before = tf.memory().numTensors;
    const both = await evaluate(policy, reference, pairs, { ...cfg, perDeviceEvalBatchSize: 3 });
    const first = await evaluate(policy, reference, pairs.slice(0, 3), { ...cfg, perDeviceEvalBatchSize: 3 });
    const last = await evaluate(policy, reference, pairs.slice(3), { ...cfg, perDeviceEvalBatchSize: 3 });
    expect(tf.memory().numTensors).toBe(before);
    relClose(both.loss, (3 * first.loss + last.loss) / 4, "loss", 1e-6);
    for (const name of ["rewards/accuracies", "rewards/margins", "logps/chosen", "logits/rejected"])
      relClose(both[name], (first[name] + last[name]) / 2, name, 1e-6);
    const logps = await computeReferenceLogps(reference, pairs, { padTokenId: tokenizer.padTokenId, batchSize: 3 });
    const cached = await evaluate(policy, { logps }, pairs, { ...cfg, perDeviceEvalBatchSize: 3 });
    for (const [name, value] of Object.entries(both)) relClose(cached[name], value, name, 1e-5);
  });
});
