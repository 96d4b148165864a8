/**
 * DPO learns: a short training run on the embedded preference data (data/orca_dpo_pairs.jsonl, ChatML-formatted)
 * starting from the embedded SFT checkpoint raises reward accuracy and margins on held-out pairs.
 */
import { describe, it, expect, beforeAll } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadModel } from "../src/model/io";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { loadPreferenceDataset } from "../src/data/dataset";
import { splitTrainEval } from "../src/data/preferences";
import { DPOTrainer } from "../src/train/trainer";
import { useBackendForTests } from "./helpers/backend";

const ROOT = path.join(__dirname, "..");

beforeAll(async () => {
  await useBackendForTests();
});

describe("DPO on the embedded default", () => {
  it("raises rewards/accuracies and margins on held-out pairs", async () => {
    const tokenizer = await Tokenizer.fromDir(path.join(ROOT, "data/sft-model"));
    const rows = await loadPreferenceDataset(path.join(ROOT, "data/orca_dpo_pairs.jsonl"), tokenizer);
    const { train, eval: heldOut } = splitTrainEval(rows.slice(0, 240), 40, 7);
    const model = await loadModel(path.join(ROOT, "data/sft-model"));
    const trainer = new DPOTrainer({
      model,
      tokenizer,
      trainDataset: train,
      evalDataset: heldOut,
      args: {
        outputDir: fs.mkdtempSync(path.join(os.tmpdir(), "dpo-learn-")),
        maxSteps: 20,
        perDeviceTrainBatchSize: 8,
        perDeviceEvalBatchSize: 40,
        learningRate: 1e-3,
        lrSchedulerType: "constant",
        loggingSteps: 10,
        beta: 0.1,
        seed: 3,
        reportTo: "none",
      },
    });
    const before = await trainer.evaluate();
    await trainer.train();
    const after = await trainer.evaluate();
    // Before training the policy is its own reference: rewards are exactly 0, accuracy 0 and loss ln 2.
    expect(before.eval_loss).toBeCloseTo(Math.LN2, 5);
    expect(before["eval_rewards/accuracies"]).toBe(0);
    expect(after["eval_rewards/accuracies"], JSON.stringify(after)).toBeGreaterThan(0.75);
    expect(after["eval_rewards/margins"]).toBeGreaterThan(0);
    expect(after.eval_loss).toBeLessThan(Math.LN2);
    trainer.dispose();
    model.dispose();
  });
});
