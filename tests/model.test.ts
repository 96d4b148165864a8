import { describe, it, expect, beforeAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadModel, saveModel } from "../src/model/io";
import { readSafetensors } from "../src/model/safetensors";
import { useBackendForTests } from "./helpers/backend";

const FIX = path.join(__dirname, "fixtures/hf-tiny");
const expected = JSON.parse(fs.readFileSync(path.join(FIX, "expected.json"), "utf8"));

beforeAll(async () => {
  await useBackendForTests();
});

describe("GPT-2 forward matches transformers", () => {
  it("first logits of prompt 0 within 1e-4", () => {
    const model = loadModel(path.join(FIX, "gpt2-policy"));
    const ids: number[] = expected.ids[0].prompt;
    const got = tf.tidy(() => {
      const { logits } = model.forward(tf.tensor2d([ids], [1, ids.length], "int32"));
      return logits.slice([0, 0, 0], [1, 3, 8]).arraySync() as number[][][];
    })[0];
    const want: number[][] = expected.models.gpt2.first_logits_prompt0_pos0to2_vocab0to7;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 8; j++) expect(Math.abs(got[i][j] - want[i][j])).toBeLessThan(1e-4);
    model.dispose();
  });

  it("padding does not change the logits of real tokens", () => {
    const model = loadModel(path.join(FIX, "gpt2-policy"));
    const ids: number[] = expected.ids[1].prompt;
    const padded = [...ids, 0, 0, 0];
    const [a, b] = tf.tidy(() => {
      const plain = model.forward(tf.tensor2d([ids], undefined, "int32")).logits;
      const withPad = model.forward(tf.tensor2d([padded], undefined, "int32"), {
        attentionMask: tf.tensor2d([padded.map((_, i) => (i < ids.length ? 1 : 0))], undefined, "int32"),
      }).logits.slice([0, 0, 0], [1, ids.length, -1]);
      return [plain.arraySync() as number[][][], withPad.arraySync() as number[][][]];
    });
    const flatA = a[0].flat();
    const flatB = b[0].flat();
    expect(Math.max(...flatA.map((x, i) => Math.abs(x - flatB[i])))).toBeLessThan(1e-5);
    model.dispose();
  });

  it("saves a folder that reloads to identical weights", async () => {
    const model = loadModel(path.join(FIX, "gpt2-policy"));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-save-"));
    await saveModel(model, dir);
    const original = readSafetensors(path.join(FIX, "gpt2-policy/model.safetensors")).tensors;
    const saved = readSafetensors(path.join(dir, "model.safetensors")).tensors;
    expect([...saved.keys()].sort()).toEqual([...original.keys()].sort());
    for (const [name, t] of original) expect(Array.from(saved.get(name)!.data)).toEqual(Array.from(t.data));
    const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    expect(config.model_type).toBe("gpt2");
    expect(config.n_embd).toBe(48);
    model.dispose();
  });

  it("rejects a folder whose weights do not fit config.json, naming the tensor", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-bad-"));
    fs.copyFileSync(path.join(FIX, "gpt2-policy/model.safetensors"), path.join(dir, "model.safetensors"));
    const config = JSON.parse(fs.readFileSync(path.join(FIX, "gpt2-policy/config.json"), "utf8"));
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...config, n_embd: 64 }));
    expect(() => loadModel(dir)).toThrow(/wte\.weight.*shape \[400,48\].*\[400,64\]/);
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...config, model_type: "bert" }));
    expect(() => loadModel(dir)).toThrow(/config\.json: field "model_type"/);
  });
});

describe("generation", () => {
  it("greedy 12 tokens equal transformers' generate (KV cache)", async () => {
    const { generate } = await import("../src/model/generate");
    const model = loadModel(path.join(FIX, "gpt2-policy"));
    const before = tf.memory().numTensors;
    const out = await generate(model, expected.ids[0].prompt, { maxNewTokens: 12, eosTokenId: null });
    expect(out.tokens).toEqual(expected.models.gpt2.greedy_policy_prompt0_12_tokens);
    expect(out.finishReason).toBe("length");
    expect(tf.memory().numTensors).toBe(before);
    // Sampling is seeded: the same seed gives the same tokens.
    const a = await generate(model, expected.ids[0].prompt, { maxNewTokens: 8, temperature: 1, topK: 20, topP: 0.9, seed: 7 });
    const b = await generate(model, expected.ids[0].prompt, { maxNewTokens: 8, temperature: 1, topK: 20, topP: 0.9, seed: 7 });
    expect(a.tokens).toEqual(b.tokens);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it("stops at EOS", async () => {
    const { generate } = await import("../src/model/generate");
    const model = loadModel(path.join(FIX, "gpt2-policy"));
    const greedy: number[] = expected.models.gpt2.greedy_policy_prompt0_12_tokens;
    const out = await generate(model, expected.ids[0].prompt, { maxNewTokens: 12, eosTokenId: greedy[3] });
    expect(out.tokens).toEqual(greedy.slice(0, greedy.indexOf(greedy[3]) + 1));
    expect(out.finishReason).toBe("stop");
    model.dispose();
  });
});
