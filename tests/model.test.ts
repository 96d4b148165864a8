import { describe, it, expect, beforeAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadModel, loadModelFromDir, saveModel } from "../src/model/io";
import { readSafetensors } from "../src/model/safetensors";
import { useBackendForTests } from "./helpers/backend";
import { pythonWith } from "./helpers/python";
import { spawnSync } from "child_process";
import { NEEDS, skipUnless } from "./helpers/skip";

const FIX = path.join(__dirname, "fixtures/hf-tiny");
const expected = JSON.parse(fs.readFileSync(path.join(FIX, "expected.json"), "utf8"));

beforeAll(async () => {
  await useBackendForTests();
});

describe("GPT-2 forward matches transformers", () => {
  it("first logits of prompt 0 within 1e-4", () => {
    const model = loadModelFromDir(path.join(FIX, "gpt2-policy"));
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
    const model = loadModelFromDir(path.join(FIX, "gpt2-policy"));
    const ids: number[] = expected.ids[1].prompt;
    const padded = [...ids, 0, 0, 0];
    const [a, b] = tf.tidy(() => {
      const plain = model.forward(tf.tensor2d([ids], undefined, "int32")).logits;
      const withPad = model
        .forward(tf.tensor2d([padded], undefined, "int32"), {
          attentionMask: tf.tensor2d([padded.map((_, i) => (i < ids.length ? 1 : 0))], undefined, "int32"),
        })
        .logits.slice([0, 0, 0], [1, ids.length, -1]);
      return [plain.arraySync() as number[][][], withPad.arraySync() as number[][][]];
    });
    const flatA = a[0].flat();
    const flatB = b[0].flat();
    expect(Math.max(...flatA.map((x, i) => Math.abs(x - flatB[i])))).toBeLessThan(1e-5);
    model.dispose();
  });

  it("saves a folder that reloads to identical weights", async () => {
    const model = await loadModel(path.join(FIX, "gpt2-policy"));
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
    expect(() => loadModelFromDir(dir)).toThrow(/wte\.weight.*shape \[400,48\].*\[400,64\]/);
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...config, model_type: "bert" }));
    expect(() => loadModelFromDir(dir)).toThrow(/config\.json: field "model_type"/);
  });
});

describe("generation", () => {
  it("greedy 12 tokens equal transformers' generate (KV cache)", async () => {
    const { generate } = await import("../src/model/generate");
    const model = await loadModel(path.join(FIX, "gpt2-policy"));
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
    const model = await loadModel(path.join(FIX, "gpt2-policy"));
    const greedy: number[] = expected.models.gpt2.greedy_policy_prompt0_12_tokens;
    const out = await generate(model, expected.ids[0].prompt, { maxNewTokens: 12, eosTokenId: greedy[3] });
    expect(out.tokens).toEqual(greedy.slice(0, greedy.indexOf(greedy[3]) + 1));
    expect(out.finishReason).toBe("stop");
    model.dispose();
  });
});

describe("transformers loads what dpo-ts saves", () => {
  const python = pythonWith("torch", "transformers");
  it.skipIf(skipUnless(python, "logits and ids against transformers", NEEDS.torch))(
    "AutoModelForCausalLM + AutoTokenizer on a saved folder give the same logits and ids",
    async () => {
      const { Tokenizer } = await import("../src/tokenizer/tokenizer");
      const model = await loadModel(path.join(FIX, "gpt2-policy"));
      const tokenizer = await Tokenizer.fromDir(path.join(FIX, "gpt2-policy"));
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-hf-load-"));
      await saveModel(model, dir);
      await tokenizer.save(dir);
      const script = [
        "import json, sys, torch",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "d = sys.argv[1]",
        "m = AutoModelForCausalLM.from_pretrained(d).eval()",
        "t = AutoTokenizer.from_pretrained(d)",
        "ids = t('Question: What colour is the sky?\\nAnswer:', add_special_tokens=False)['input_ids']",
        "with torch.no_grad(): logits = m(torch.tensor([ids])).logits[0, :3, :8].tolist()",
        "print(json.dumps({'ids': ids, 'logits': logits}))",
      ].join("\n");
      const run = spawnSync(python!, ["-c", script, dir], { encoding: "utf8" });
      expect(run.status, run.stderr).toBe(0);
      const out = JSON.parse(run.stdout.trim().split("\n").pop()!);
      expect(out.ids).toEqual(expected.ids[0].prompt);
      const want: number[][] = expected.models.gpt2.first_logits_prompt0_pos0to2_vocab0to7;
      out.logits.forEach((row: number[], i: number) => row.forEach((x, j) => expect(Math.abs(x - want[i][j])).toBeLessThan(1e-5)));
      model.dispose();
    },
  );
});

describe("safetensors", () => {
  it("reads F16 and BF16 tensors as float32 and names the tensor in errors", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-st-"));
    const values = [1, -2.5, 0.333251953125, 65504];
    const f16 = Buffer.alloc(8);
    [0x3c00, 0xc100, 0x3555, 0x7bff].forEach((h, i) => f16.writeUInt16LE(h, i * 2)); // IEEE half bit patterns
    const bf16 = Buffer.alloc(8);
    values.forEach((v, i) => bf16.writeUInt16LE(Buffer.from(new Float32Array([v]).buffer).readUInt32LE(0) >>> 16, i * 2));
    const header = JSON.stringify({ a: { dtype: "F16", shape: [2, 2], data_offsets: [0, 8] }, b: { dtype: "BF16", shape: [4], data_offsets: [8, 16] } });
    const file = path.join(dir, "x.safetensors");
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    fs.writeFileSync(file, Buffer.concat([len, Buffer.from(header), f16, bf16]));
    const { tensors } = readSafetensors(file);
    expect(tensors.get("a")!.shape).toEqual([2, 2]);
    expect(Array.from(tensors.get("a")!.data)).toEqual(values);
    // bfloat16 = the upper half of a float32 (8 mantissa bits): 0.333251953125 → 0.33203125, 65504 → 65280
    expect(Array.from(tensors.get("b")!.data)).toEqual([1, -2.5, 0.33203125, 65280]); // the top 16 bits of each float32
    const bad = JSON.stringify({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } });
    len.writeBigUInt64LE(BigInt(bad.length));
    fs.writeFileSync(file, Buffer.concat([len, Buffer.from(bad), Buffer.alloc(8)]));
    expect(() => readSafetensors(file)).toThrow(/tensor "w": data_offsets \[0, 8\] do not fit shape \[3\] of F32/);
  });
});
