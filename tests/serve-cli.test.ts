/**
 * `dpo-ts serve` (serveCommand with parsed option values, as the CLI calls it): several models by name, an API key,
 * refusal of a network address without a key, clear option errors; stopped by SIGTERM. `--adapter NAME=DIR` (and
 * serve({ models: [{ path, adapter }] })) serve a base model with a PEFT adapter, answering as generate() does.
 */
import { describe, it, expect, vi } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import OpenAI from "openai";
import { serveCommand, serveOptions } from "../src/cli/serve";
import { loadModel, loadModelFromDir, saveModel } from "../src/model/io";
import { generate } from "../src/model/generate";
import { serve } from "../src/serve/server";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { useBackendForTests } from "./helpers/backend";

const FIX = path.join(__dirname, "fixtures/hf-tiny");
const defaults = Object.fromEntries(
  Object.entries(serveOptions)
    .filter(([, o]) => "default" in o)
    .map(([k, o]) => [k, (o as { default: unknown }).default]),
);

describe("dpo-ts serve", () => {
  it("serves several models by name behind an API key until SIGTERM", async () => {
    const printed: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((line: string) => void printed.push(line));
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const running = serveCommand(
        { ...defaults, backend: process.env.DPO_BACKEND, port: "0", "api-key": "k-123", model: [`policy=${FIX}/gpt2-policy`, `${FIX}/gpt2-ref`] },
        [],
      );
      while (!printed.some((l) => l.startsWith("serving"))) await new Promise((r) => setTimeout(r, 10));
      const url = /at (http:\/\/\S+)\/v1/.exec(printed.find((l) => l.startsWith("serving"))!)![1];
      expect((await fetch(`${url}/v1/models`)).status).toBe(401);
      const models = await (await fetch(`${url}/v1/models`, { headers: { authorization: "Bearer k-123" } })).json();
      expect(models.data.map((m: { id: string }) => m.id)).toEqual(["policy", "gpt2-ref"]);
      process.emit("SIGTERM");
      await running;
      await expect(fetch(`${url}/health`)).rejects.toThrow();
      const logged = stderr.mock.calls.map((c) => String(c[0])).join("");
      expect(logged).toMatch(/GET \/v1\/models 401 0 tokens/);
      expect(logged).not.toContain("k-123");
    } finally {
      spy.mockRestore();
      stderr.mockRestore();
    }
  });

  it("refuses a network address without a key, saying why; rejects bad options clearly", async () => {
    const base = { ...defaults, port: "0", model: [`${FIX}/gpt2-policy`] };
    const saved = process.env.DPO_API_KEY;
    delete process.env.DPO_API_KEY;
    try {
      await expect(serveCommand({ ...base, host: "0.0.0.0" }, [])).rejects.toThrow(
        /refusing to listen on 0\.0\.0\.0 without an API key.*--allow-unauthenticated/,
      );
    } finally {
      if (saved !== undefined) process.env.DPO_API_KEY = saved;
    }
    await expect(serveCommand({ ...base, port: "80a" }, [])).rejects.toThrow(/--port must be a whole number/);
    await expect(serveCommand({ ...base, "max-batch-size": "0" }, [])).rejects.toThrow(/--max-batch-size must be a positive whole number/);
    await expect(serveCommand({ ...defaults }, [])).rejects.toThrow(/--model is required/);
    await expect(serveCommand(base, ["extra"])).rejects.toThrow(/unexpected argument "extra"/);
  });

  it("--adapter NAME=DIR serves the base with a PEFT adapter (greedy answers as generate() gives them); bad --adapter refused", async () => {
    await useBackendForTests();
    const base = path.join(FIX, "llama-policy");
    const lora = loadModelFromDir(base);
    lora.addAdapters({ r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj", "down_proj"], useRslora: false }, 1);
    let seed = 3; // fresh B is zero: random adapters, so that serving without the adapter would answer differently
    lora.params.forEach((v, name) => name.includes(".lora_") && v.assign(tf.tidy(() => tf.randomNormal(v.shape, 0, 0.5, "float32", seed++))));
    const adapterDir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-serve-adapter-"));
    await saveModel(lora, adapterDir);
    lora.dispose();

    const tokenizer = await Tokenizer.fromDir(base);
    const prompt = "The quick brown fox";
    const greedy = async (adapter?: string) => {
      const model = await loadModel(base, { trainable: false, adapter });
      const out = await generate(model, tokenizer.encode(prompt, { addSpecialTokens: false }), { maxNewTokens: 8, eosTokenId: tokenizer.eosTokenId });
      model.dispose();
      return tokenizer.decode(out.tokens, { skipSpecialTokens: true });
    };
    const [withAdapter, without] = [await greedy(adapterDir), await greedy()];
    expect(withAdapter).not.toBe(without); // the adapter changes the answer, so the check below means something

    const printed: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((line: string) => void printed.push(line));
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const running = serveCommand(
        { ...defaults, backend: process.env.DPO_BACKEND, port: "0", model: [`tuned=${base}`, `plain=${base}`], adapter: [`tuned=${adapterDir}`] },
        [],
      );
      while (!printed.some((l) => l.startsWith("serving"))) await new Promise((r) => setTimeout(r, 10));
      const url = /at (http:\/\/\S+)\/v1/.exec(printed.find((l) => l.startsWith("serving"))!)![1];
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
      const answer = async (model: string) => (await client.completions.create({ model, prompt, max_tokens: 8, temperature: 0 })).choices[0].text;
      expect(await answer("tuned")).toBe(withAdapter);
      expect(await answer("plain")).toBe(without);
      process.emit("SIGTERM");
      await running;
    } finally {
      spy.mockRestore();
      stderr.mockRestore();
    }

    // The library: serve({ models: [{ name, path, adapter }] }).
    const server = await serve({ models: [{ name: "tuned", path: base, adapter: adapterDir }], port: 0, log: false });
    try {
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
      expect((await client.completions.create({ model: "tuned", prompt, max_tokens: 8, temperature: 0 })).choices[0].text).toBe(withAdapter);
    } finally {
      await server.close();
    }

    const twoModels = { ...defaults, port: "0", model: [`a=${base}`, `b=${base}`] };
    await expect(serveCommand({ ...twoModels, adapter: [adapterDir] }, [])).rejects.toThrow(/several models are served; say which as NAME=DIR/);
    await expect(serveCommand({ ...twoModels, adapter: [`c=${adapterDir}`] }, [])).rejects.toThrow(/no model is named "c" \(models: a, b\)/);
    await expect(serveCommand({ ...twoModels, adapter: [`a=${adapterDir}`, `a=${adapterDir}`] }, [])).rejects.toThrow(/model "a" already has an adapter/);
  }, 60_000);
});
