/**
 * A real training run's TensorBoard event files, read back by TensorBoard itself (EventAccumulator): every tag and
 * value that metrics.jsonl has, at its step. Skipped only where the venv's python cannot import tensorboard.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadModel } from "../src/model/io";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { readPreferenceFile } from "../src/data/preferences";
import { DPOTrainer } from "../src/train/trainer";
import { tensorboardTag } from "../src/metrics/tensorboard";
import { useBackendForTests } from "./helpers/backend";
import { pythonWith } from "./helpers/python";
import { NEEDS, skipUnless } from "./helpers/skip";

const FIX = path.join(__dirname, "fixtures/hf-tiny");
const python = pythonWith("tensorboard");

beforeAll(async () => {
  await useBackendForTests();
});

describe.skipIf(skipUnless(python, "trainer → TensorBoard read back by TensorBoard", NEEDS.tensorboard))("trainer → TensorBoard", () => {
  it("EventAccumulator finds every metrics.jsonl value at its step", async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-tb-"));
    const rows = readPreferenceFile(path.join(FIX, "prefs.jsonl"));
    const model = await loadModel(path.join(FIX, "gpt2-policy"));
    const trainer = new DPOTrainer({
      model,
      tokenizer: await Tokenizer.fromDir(path.join(FIX, "gpt2-policy")),
      trainDataset: rows,
      evalDataset: rows.slice(0, 2),
      args: { outputDir: out, maxSteps: 4, perDeviceTrainBatchSize: 2, loggingSteps: 1, evalStrategy: "steps", evalSteps: 2, learningRate: 1e-3 },
    });
    await trainer.train();
    trainer.dispose();
    model.dispose();
    expect(fs.readdirSync(out).some((f) => f.startsWith("events.out.tfevents."))).toBe(true);
    const read = spawnSync(python!, [path.join(__dirname, "helpers/read_tb.py"), out], { encoding: "utf8", maxBuffer: 1 << 26 });
    expect(read.status, read.stderr).toBe(0);
    const tb = JSON.parse(read.stdout) as { scalars: Record<string, [number, number, number][]>; texts: Record<string, [number, string][]> };
    const logs = fs
      .readFileSync(path.join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    let checked = 0;
    for (const entry of logs) {
      for (const [key, value] of Object.entries(entry)) {
        if (key === "step") continue;
        const series = tb.scalars[tensorboardTag(key)];
        expect(series, `tag ${tensorboardTag(key)} for ${key}`).toBeDefined();
        const point = series.find(([step]) => step === entry.step);
        expect(point, `${key} at step ${entry.step}`).toBeDefined();
        expect(Math.abs(point![2] - Math.fround(value as number))).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(value as number)));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
    expect(Object.keys(tb.scalars)).toContain("train/rewards/accuracies");
    expect(Object.keys(tb.scalars)).toContain("eval/loss");
    expect(JSON.stringify(tb.texts)).toContain("learningRate");
  });
});
