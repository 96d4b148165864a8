/**
 * The reward–KL frontier (src/judge/frontier.ts, src/judge/beta-sweep.ts, `dpo-ts sweep`): the KL estimator on cases
 * worked by hand, sequence log-probs against the model's own logits, a model measured against itself (KL exactly 0),
 * and the sweep command end to end with tiny settings (two βs, two updates, four prompts).
 */
import { describe, it, expect, vi, beforeAll } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { klEstimate, meanEstimate, sequenceLogps, frontierPoint } from "../src/judge/frontier";
import { frontierFigure, frontierTable } from "../src/judge/beta-sweep";
import { Rng } from "../src/util/rng";
import { loadModel } from "../src/model/io";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { sweepCommand } from "../src/cli/sweep";
import { sampleAnswer, sampleAnswers } from "../src/judge/win-rate";
import { useBackendForTests } from "./helpers/backend";

const DATA = path.join(__dirname, "..", "data");
const SFT = path.join(DATA, "sft-model");

beforeAll(async () => {
  await useBackendForTests();
});

describe("KL estimator", () => {
  it("is the mean of log π − log π_ref over the samples, with its standard error", () => {
    // Differences 1, 0, 2: mean 1; sample variance ((0)² + (−1)² + (1)²) / 2 = 1; standard error 1/√3.
    const kl = klEstimate([-1, -2, -3], [-2, -2, -5]);
    expect(kl.mean).toBeCloseTo(1, 12);
    expect(kl.stdErr).toBeCloseTo(1 / Math.sqrt(3), 12);
    expect(kl.n).toBe(3);
    expect(klEstimate([-4.5], [-4.5])).toEqual({ mean: 0, stdErr: 0, n: 1 });
    expect(() => klEstimate([1, 2], [1])).toThrow(/2 policy log-probs against 1/);
    expect(() => meanEstimate([])).toThrow(/no values/);
  });

  it("recovers KL(p ‖ q) of two coin distributions from samples of p", () => {
    // p = (0.8, 0.2), q = (0.5, 0.5): KL = 0.8 ln(0.8/0.5) + 0.2 ln(0.2/0.5) = 0.19274 nats.
    const p = [0.8, 0.2];
    const q = [0.5, 0.5];
    const exact = 0.8 * Math.log(1.6) + 0.2 * Math.log(0.4);
    expect(exact).toBeCloseTo(0.19274, 5);
    const rng = new Rng(7);
    const draws = Array.from({ length: 20000 }, () => (rng.float() < p[0] ? 0 : 1));
    const kl = klEstimate(
      draws.map((y) => Math.log(p[y])),
      draws.map((y) => Math.log(q[y])),
    );
    expect(Math.abs(kl.mean - exact)).toBeLessThan(4 * kl.stdErr);
    expect(kl.stdErr).toBeLessThan(0.01);
  });
});

describe("frontier point", () => {
  it("sums the completion tokens' log-probs as the model's own logits give them", async () => {
    const tokenizer = await Tokenizer.fromDir(SFT);
    const model = await loadModel(SFT, { trainable: false });
    try {
      const sequences = [
        { prompt: tokenizer.encode("What is 2 plus 2?", { addSpecialTokens: false }), completion: tokenizer.encode(" 4.", { addSpecialTokens: false }) },
        { prompt: tokenizer.encode("Hi", { addSpecialTokens: false }), completion: tokenizer.encode(" there, friend", { addSpecialTokens: false }) },
      ];
      const fromBatch = sequenceLogps(model, sequences, tokenizer.padTokenId, 1);
      const byHand = sequences.map(({ prompt, completion }) => {
        const ids = [...prompt, ...completion];
        const logProbs = tf.tidy(() => tf.logSoftmax(model.forward(tf.tensor2d([ids], [1, ids.length], "int32")).logits).arraySync() as number[][][]);
        return completion.reduce((sum, id, i) => sum + logProbs[0][prompt.length + i - 1][id], 0);
      });
      for (const [i, v] of byHand.entries()) expect(fromBatch[i]).toBeCloseTo(v, 3);
      // Batched and padded together: the same values.
      const together = sequenceLogps(model, sequences, tokenizer.padTokenId, 16);
      for (const [i, v] of byHand.entries()) expect(together[i]).toBeCloseTo(v, 3);
    } finally {
      model.dispose();
    }
  });

  it("samples batched answers (continuous batcher) as one-by-one generation does when greedy", async () => {
    const tokenizer = await Tokenizer.fromDir(SFT);
    const model = await loadModel(SFT, { trainable: false });
    const prompts = [
      { system: "", question: "What is the opposite of dry?" },
      { system: "You are a helpful assistant.", question: "What is 2 plus 2?" },
      { system: "", question: "Which city is the capital of Spain?" },
    ];
    try {
      const batched = await sampleAnswers(model, tokenizer, prompts, { maxNewTokens: 16 });
      for (const [i, p] of prompts.entries()) expect(batched[i]).toEqual(await sampleAnswer(model, tokenizer, p, { maxNewTokens: 16 }));
    } finally {
      model.dispose();
    }
  });

  it("places a model measured against itself at KL 0, with its judged samples, and leaks no tensor", async () => {
    const tokenizer = await Tokenizer.fromDir(SFT);
    const model = await loadModel(SFT, { trainable: false });
    const prompts = [
      { system: "", question: "What is the opposite of dry?" },
      { system: "You are a helpful assistant.", question: "What is 2 plus 2?" },
    ];
    try {
      const tensorsBefore = tf.memory().numTensors;
      const point = await frontierPoint({ policy: model, reference: model, tokenizer, prompts, samplesPerPrompt: 2, maxNewTokens: 12, seed: 3 });
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      expect(point.n).toBe(4);
      expect(point.kl).toBe(0);
      expect(point.samples.map((s) => s.question)).toEqual([prompts[0].question, prompts[0].question, prompts[1].question, prompts[1].question]);
      expect(point.meanReward).toBeCloseTo(point.samples.reduce((s, x) => s + x.reward, 0) / 4, 12);
      for (const s of point.samples) expect(s.policyLogp).toBeLessThan(0);
      await expect(frontierPoint({ policy: model, reference: model, tokenizer, prompts: [{ system: "", question: "Who are you?" }] })).rejects.toThrow(
        /prompt 1 is not a question of the course's world/,
      );
    } finally {
      model.dispose();
    }
  });
});

describe("dpo-ts sweep", () => {
  it("trains one policy per β, writes frontier.json and frontier.html, and refuses to overwrite a sweep", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-sweep-"));
    const data = path.join(dir, "pairs.jsonl");
    fs.writeFileSync(data, fs.readFileSync(path.join(DATA, "orca_dpo_pairs.jsonl"), "utf8").split("\n").slice(0, 16).join("\n") + "\n");
    const out = path.join(dir, "sweep");
    const args = { betas: "0.1,1", steps: "2", data, limit: "4", "max-new-tokens": "12", out, json: true, backend: process.env.DPO_BACKEND };
    const printed: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((line: string) => void printed.push(line));
    try {
      await sweepCommand(args);
    } finally {
      spy.mockRestore();
    }
    const summary = JSON.parse(printed[printed.length - 1]);
    expect(summary.points.map((p: { beta: number }) => p.beta)).toEqual([0.1, 1]);
    expect(summary.reference).toMatchObject({ beta: null, kl: 0, n: 4 });
    const frontier = JSON.parse(fs.readFileSync(path.join(out, "frontier.json"), "utf8"));
    expect(frontier.settings).toMatchObject({ betas: [0.1, 1], trainRows: 16, prompts: 4, temperature: 1 });
    for (const p of frontier.points) {
      expect(p.n).toBe(4);
      expect(Number.isFinite(p.kl) && Number.isFinite(p.meanReward)).toBe(true);
      expect(p.examples.length).toBeGreaterThan(0);
      expect(fs.readdirSync(path.join(p.runDir, "final"))).toContain("adapter_model.safetensors"); // notebook 03's LoRA: a peft adapter folder
      expect(fs.readFileSync(path.join(p.runDir, "metrics.jsonl"), "utf8").trim().split("\n").length).toBeGreaterThan(0);
    }
    // The figure and the table have a point / row for the SFT model and each β.
    const figure = frontierFigure(frontier);
    expect(figure.data.map((t) => (t.x as number[]).length)).toEqual([2, 1]);
    expect(frontierTable(frontier).rows.map((r) => r[0])).toEqual(["SFT (reference)", "DPO β=0.1", "DPO β=1"]);
    expect(fs.readFileSync(path.join(out, "frontier.html"), "utf8")).toContain("DPO β=0.1");
    await expect(sweepCommand(args)).rejects.toThrow(/already holds a sweep/);
    await expect(sweepCommand({ ...args, betas: "0.1,0.1" })).rejects.toThrow(/repeats/);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 300_000);
});
