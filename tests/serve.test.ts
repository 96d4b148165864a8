/**
 * The server's engine: continuous batching gives generate()'s greedy outputs, tokens are streamed while later ones
 * are still being generated, a cancelled request frees its slot at once, and /health answers during generation.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { loadModel, CausalLM } from "../src/model/io";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { generate, pickToken } from "../src/model/generate";
import { Rng } from "../src/util/rng";
import { ContinuousBatcher } from "../src/serve/batcher";
import { serve, RunningServer } from "../src/serve/server";
import { TextStream } from "../src/serve/text-stream";
import { useBackendForTests } from "./helpers/backend";

const FIX = path.join(__dirname, "fixtures/hf-tiny");
const expected = JSON.parse(fs.readFileSync(path.join(FIX, "expected.json"), "utf8"));
let model: CausalLM, tokenizer: Tokenizer, server: RunningServer;
/** performance.now() of every forward pass of the served model (the real model, instrumented). */
const forwardAt: number[] = [];

beforeAll(async () => {
  await useBackendForTests();
  model = await loadModel(path.join(FIX, "gpt2-policy"), { trainable: false });
  tokenizer = await Tokenizer.fromDir(path.join(FIX, "gpt2-policy"));
  const timed = Object.create(model) as CausalLM;
  timed.forward = (ids, opts) => {
    forwardAt.push(performance.now());
    return model.forward(ids, opts);
  };
  server = await serve({ models: [{ name: "tiny", model: timed, tokenizer }], host: "127.0.0.1", port: 0, log: false });
});
afterAll(async () => {
  await server.close();
  model.dispose();
});

const post = (route: string, body: unknown, signal?: AbortSignal) =>
  fetch(`${server.url}${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal });

const PROMPTS = ["Question: What colour is the sky?\nAnswer:", "Hi", "The capital of France is", "Once upon a time there was a little dog who"];

describe("continuous batching", () => {
  it("greedy outputs of sequences batched together (some joining mid-batch) equal generate()'s, tensors freed", async () => {
    const prompts = PROMPTS.map((p) => tokenizer.encode(p));
    const before = tf.memory().numTensors;
    const batcher = new ContinuousBatcher(model, { contextLength: model.config.nPositions, maxBatchSize: 3 });
    const base = { temperature: 0, topP: 1, topK: 0, seed: 0, stopIds: [tokenizer.eosTokenId] };
    const lengths = [20, 9, 30, 14];
    const first = prompts.slice(0, 2).map((p, i) => batcher.submit({ ...base, promptIds: p, maxNewTokens: lengths[i] }));
    await new Promise((r) => setTimeout(r, 5)); // the first two are decoding when the others arrive
    const later = prompts.slice(2).map((p, i) => batcher.submit({ ...base, promptIds: p, maxNewTokens: lengths[i + 2] }));
    const results = await Promise.all([...first, ...later].map((h) => h.result));
    expect(batcher.steps).toBeLessThan(lengths.reduce((a, b) => a + b, 0) - 4); // decoded together, not one after another
    for (let i = 0; i < prompts.length; i++) {
      const alone = await generate(model, prompts[i], { maxNewTokens: lengths[i], eosTokenId: tokenizer.eosTokenId });
      expect(results[i].tokens).toEqual(alone.tokens);
      expect(results[i].finishReason).toBe(alone.finishReason);
    }
    await batcher.close(); // frees the weight transposes it keeps across requests (wasm)
    expect(tf.memory().numTensors).toBe(before);
  });

  it("finished rows decoded along, compaction, and rows joining with longer and shorter prompts keep generate()'s outputs", async () => {
    const texts = [...PROMPTS, "Water boils at", "A B C D E F G H I J K L M N O P Q R S T U V W", "Yes", "No"];
    const prompts = texts.map((p) => tokenizer.encode(p));
    const lengths = [3, 25, 14, 18, 10, 12, 9, 4];
    const before = tf.memory().numTensors;
    const batcher = new ContinuousBatcher(model, { contextLength: model.config.nPositions, maxBatchSize: 6, maxWaitSteps: 2 });
    const base = { temperature: 0, topP: 1, topK: 0, seed: 0, stopIds: [] };
    const submit = (i: number) => batcher.submit({ ...base, promptIds: prompts[i], maxNewTokens: lengths[i] }).result;
    const early = [0, 1, 2, 3, 4].map(submit); // row 0 finishes first and is decoded along (1 of 5 rows) until compaction
    while (batcher.steps < 4) await new Promise((r) => setImmediate(r));
    const late = [5, 6, 7].map(submit); // one longer than every cached row (the cache is padded), two shorter
    const results = await Promise.all([...early, ...late]);
    for (let i = 0; i < prompts.length; i++) {
      const alone = await generate(model, prompts[i], { maxNewTokens: lengths[i], eosTokenId: null });
      expect(results[i].tokens).toEqual(alone.tokens);
    }
    expect(batcher.steps).toBeLessThan(30); // decoded together: the longest alone takes 24 decode steps
    await batcher.close();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("a request arriving while others decode waits at most maxWaitSteps steps to be prefilled", async () => {
    const batcher = new ContinuousBatcher(model, { contextLength: model.config.nPositions, maxBatchSize: 12, maxWaitSteps: 3 });
    const base = { temperature: 0, topP: 1, topK: 0, seed: 0, stopIds: [] };
    const running = [...PROMPTS, ...PROMPTS].map((p) => batcher.submit({ ...base, promptIds: tokenizer.encode(p), maxNewTokens: 20 }).result);
    while (batcher.steps < 2) await new Promise((r) => setImmediate(r));
    const submittedAt = batcher.steps;
    let firstTokenAt = -1;
    const late = batcher.submit({
      ...base,
      promptIds: tokenizer.encode("Hi"),
      maxNewTokens: 3,
      onToken: () => {
        if (firstTokenAt < 0) firstTokenAt = batcher.steps;
      },
    }).result;
    await Promise.all([late, ...running]);
    expect(firstTokenAt).toBeGreaterThanOrEqual(submittedAt + 1); // one arrival among eight running rows waits for company
    expect(firstTokenAt).toBeLessThanOrEqual(submittedAt + 3);
  });

  it("sampling is per sequence: same seed, same tokens, whatever else is in the batch", async () => {
    const batcher = new ContinuousBatcher(model, { contextLength: model.config.nPositions });
    const req = { promptIds: tokenizer.encode(PROMPTS[0]), maxNewTokens: 12, temperature: 1, topP: 0.9, topK: 0, seed: 5, stopIds: [] };
    const alone = await batcher.submit(req).result;
    const crowd = [1, 2, 3].map((s) => batcher.submit({ ...req, seed: s }));
    const again = batcher.submit(req);
    const [mine] = await Promise.all([again.result, ...crowd.map((h) => h.result)]);
    expect(mine.tokens).toEqual(alone.tokens);
  });
});

describe("sampling for a batch (pickToken)", () => {
  /** The exact distribution: softmax(logits / T), then top-k, then the top-p nucleus, renormalized. */
  function exact(logits: number[], T: number, topK: number, topP: number): Map<number, number> {
    let order = logits.map((_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
    if (topK > 0) order = order.slice(0, topK);
    const w = order.map((i) => Math.exp(logits[i] / T));
    const total = w.reduce((a, b) => a + b, 0);
    let keep = 0,
      mass = 0;
    while (keep < order.length && mass < topP) mass += w[keep++] / total;
    const kept = w.slice(0, keep).reduce((a, b) => a + b, 0);
    return new Map(order.slice(0, keep).map((i, j) => [i, w[j] / kept]));
  }

  it("draws from the softmax / top-k / top-p distribution without sorting the whole vocabulary", () => {
    const logits = [2, 0.5, 1.5, -1, 3, 0, 2.5, -3, 1, 0.2];
    for (const [T, topK, topP] of [
      [1, 0, 1],
      [0.7, 0, 0.8],
      [1.3, 4, 1],
      [1, 5, 0.6],
    ]) {
      const want = exact(logits, T, topK, topP);
      const counts = new Map<number, number>();
      const rng = new Rng(1);
      const N = 20000;
      for (let n = 0; n < N; n++) {
        const id = pickToken(Float32Array.from(logits), { temperature: T, topK, topP }, rng);
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      for (const id of counts.keys()) expect(want.has(id), `T=${T} k=${topK} p=${topP}: token ${id} is outside the allowed set`).toBe(true);
      for (const [id, p] of want) expect(Math.abs((counts.get(id) ?? 0) / N - p), `T=${T} k=${topK} p=${topP}: token ${id}`).toBeLessThan(0.015);
    }
    // A 150k vocabulary with a language model's spread of logits (normal, sd 3): one top-p draw takes well under the
    // time a full sort of the vocabulary would (~50-100 ms).
    const rng = new Rng(2);
    const big = new Float32Array(150_000).map(() => 3 * Math.sqrt(-2 * Math.log(1 - rng.float())) * Math.cos(2 * Math.PI * rng.float()));
    let t = performance.now();
    for (let n = 0; n < 10; n++) pickToken(big, { temperature: 1, topK: 0, topP: 0.9 }, rng);
    const draw = (performance.now() - t) / 10;
    t = performance.now();
    Array.from(big.keys()).sort((a, b) => big[b] - big[a]);
    const fullSort = performance.now() - t;
    expect(draw).toBeLessThan(fullSort / 3);
  });
});

describe("text stream", () => {
  it("cuts stop strings out and holds back text that may start one", () => {
    const ids = tokenizer.encode(" the sky is blue and the grass is green");
    const stream = new TextStream(tokenizer, ["grass"]);
    let sent = "";
    for (const id of ids) if (!stream.stopped) sent += stream.push(id);
    sent += stream.flush();
    expect(stream.stopped).toBe(true);
    expect(sent).toBe(" the sky is blue and the ");
    expect(stream.output).toBe(sent);
  });
});

describe("streaming server", () => {
  it("/v1/completions returns the greedy continuation transformers gives", async () => {
    const prompt = "Question: What colour is the sky?\nAnswer:";
    const res = await post("/v1/completions", { prompt, max_tokens: 12, temperature: 0 });
    expect(res.status).toBe(200);
    const body = await res.json();
    const greedy: number[] = expected.models.gpt2.greedy_policy_prompt0_12_tokens;
    const eos = greedy.indexOf(tokenizer.eosTokenId);
    const want = tokenizer.decode(eos >= 0 ? greedy.slice(0, eos) : greedy, { skipSpecialTokens: true });
    expect(body.object).toBe("text_completion");
    expect(body.choices[0].text).toBe(want);
    expect(body.usage.prompt_tokens).toBe(expected.ids[0].prompt.length);
  });

  it("sends the first content chunk before the last token is generated, and /health answers meanwhile", async () => {
    const started = forwardAt.length;
    const res = await post("/v1/completions", { prompt: PROMPTS[3], max_tokens: 60, temperature: 1, seed: 3 });
    const length = (await res.json()).usage.completion_tokens;
    expect(length).toBeGreaterThanOrEqual(20); // a long enough sample for the timing below
    forwardAt.length = started;
    const streamed = await post("/v1/completions", { prompt: PROMPTS[3], max_tokens: 60, temperature: 1, seed: 3, stream: true });
    const reader = streamed.body!.getReader();
    const decoder = new TextDecoder();
    let firstContentAt = 0;
    let buffer = "";
    const health: number[] = [];
    const probe = (async () => {
      while (!firstContentAt || forwardAt.length < started + 5) {
        const t = performance.now();
        await fetch(`${server.url}/health`);
        health.push(performance.now() - t);
        if (health.length > 200) break;
      }
    })();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      if (!firstContentAt && /"text":"[^"]/.test(buffer)) firstContentAt = performance.now();
    }
    await probe;
    const lastForward = forwardAt[forwardAt.length - 1];
    expect(forwardAt.length - started).toBe(length); // one prefill + length-1 decode steps
    expect(firstContentAt).toBeGreaterThan(0);
    expect(firstContentAt).toBeLessThan(lastForward);
    expect(health.length).toBeGreaterThan(0);
  });

  it("a cancelled stream frees its slot at once: a following request is not delayed", async () => {
    const baselineStart = performance.now();
    await (await post("/v1/completions", { prompt: "Hi", max_tokens: 8, temperature: 0 })).json();
    const baseline = performance.now() - baselineStart;
    const controllers = Array.from({ length: 10 }, () => new AbortController());
    const readers = await Promise.all(
      controllers.map(async (c, i) => {
        const res = await post("/v1/completions", { prompt: PROMPTS[i % 4], max_tokens: 120, temperature: 1, seed: i, stream: true }, c.signal);
        const reader = res.body!.getReader();
        await reader.read(); // generation has started
        return reader;
      }),
    );
    controllers.forEach((c) => c.abort());
    readers.forEach((r) => r.cancel().catch(() => undefined));
    const t = performance.now();
    let active = -1;
    while (performance.now() - t < 2000) {
      active = (await (await fetch(`${server.url}/health`)).json()).models[0].active;
      if (active === 0) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(active).toBe(0);
    const forwards = forwardAt.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(forwardAt.length).toBe(forwards); // nothing is generated for the cancelled streams any more
    const afterStart = performance.now();
    const after = await (await post("/v1/completions", { prompt: "Hi", max_tokens: 8, temperature: 0 })).json();
    const elapsed = performance.now() - afterStart;
    expect(after.choices[0].text.length).toBeGreaterThan(0);
    expect(elapsed).toBeLessThan(baseline * 4 + 250);
  });

  it("holds tf.memory().numTensors flat across requests, streamed, cancelled and n > 1", async () => {
    await (await post("/v1/completions", { prompt: "Hi", max_tokens: 4 })).json(); // warm-up
    const before = tf.memory().numTensors;
    for (let round = 0; round < 2; round++) {
      const c = new AbortController();
      const cancelled = await post("/v1/completions", { prompt: PROMPTS[1], max_tokens: 100, stream: true }, c.signal);
      await cancelled.body!.getReader().read();
      c.abort();
      await Promise.all([
        post("/v1/completions", { prompt: PROMPTS[0], max_tokens: 9, n: 3, temperature: 1 }).then((r) => r.json()),
        post("/v1/chat/completions", { messages: [{ role: "user", content: "Hi" }], max_tokens: 7, stream: true }).then((r) => r.text()),
      ]);
    }
    for (let t = performance.now(); performance.now() - t < 2000;) {
      if ((await (await fetch(`${server.url}/health`)).json()).models[0].active === 0) break;
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
