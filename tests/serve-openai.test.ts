/**
 * The server through the official `openai` npm client (and raw fetch where the client cannot send the mistake):
 * two models by name, chat (streamed and not), completions, models, n, stop, seed reproducibility, the API key,
 * and every error case answered in OpenAI's {error: {message, type, param, code}} shape.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as path from "path";
import OpenAI from "openai";
import { loadModel, CausalLM } from "../src/model/io";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { generate } from "../src/model/generate";
import { serve, RunningServer } from "../src/serve/server";
import { useBackendForTests } from "./helpers/backend";

const FIX = path.join(__dirname, "fixtures/hf-tiny");
const KEY = "sk-test-0123456789abcdef";
let policy: CausalLM, tokenizer: Tokenizer, server: RunningServer, client: OpenAI;
const logLines: string[] = [];

beforeAll(async () => {
  await useBackendForTests();
  policy = await loadModel(path.join(FIX, "gpt2-policy"), { trainable: false });
  tokenizer = await Tokenizer.fromDir(path.join(FIX, "gpt2-policy"));
  server = await serve({
    models: [
      { name: "dpo", model: policy, tokenizer },
      { name: "ref", path: path.join(FIX, "gpt2-ref") },
    ],
    port: 0,
    apiKey: KEY,
    maxN: 4,
    log: (line) => logLines.push(line),
  });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => {
  await server.close();
  policy.dispose();
});

const QUESTION = [{ role: "user" as const, content: "How many legs does a spider have?" }];

async function greedyText(messages: { role: string; content: string }[], maxTokens: number): Promise<{ text: string; finish: string; tokens: number }> {
  const ids = tokenizer.encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }));
  const out = await generate(policy, ids, { maxNewTokens: maxTokens, eosTokenId: tokenizer.eosTokenId });
  return { text: tokenizer.decode(out.tokens, { skipSpecialTokens: true }), finish: out.finishReason, tokens: out.tokens.length };
}

/** Raw request, for what the client will not send; returns status, headers and the JSON body. */
async function raw(route: string, init: RequestInit & { auth?: boolean } = {}) {
  const headers: Record<string, string> = { "content-type": "application/json", ...(init.headers as Record<string, string>) };
  if (init.auth !== false) headers.authorization = `Bearer ${KEY}`;
  const res = await fetch(`${server.url}${route}`, { ...init, headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

describe("through the openai client", () => {
  it("lists and retrieves the models", async () => {
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toEqual(["dpo", "ref"]);
    expect((await client.models.retrieve("ref")).id).toBe("ref");
  });

  it("chat completion, non-streamed: the greedy answer of generate(), usage, created now", async () => {
    const want = await greedyText(QUESTION, 10);
    const before = Math.floor(Date.now() / 1000);
    const out = await client.chat.completions.create({ model: "dpo", messages: QUESTION, max_tokens: 10, temperature: 0 });
    expect(out.object).toBe("chat.completion");
    expect(out.choices[0].message.role).toBe("assistant");
    expect(out.choices[0].message.content).toBe(want.text);
    expect(out.choices[0].finish_reason).toBe(want.finish);
    expect(out.usage!.completion_tokens).toBe(want.tokens);
    expect(out.created).toBeGreaterThanOrEqual(before);
  });

  it("chat completion, streamed: role first, content deltas, finish_reason, usage chunk, same text", async () => {
    const want = await greedyText(QUESTION, 10);
    const stream = await client.chat.completions.create({
      model: "dpo",
      messages: QUESTION,
      max_tokens: 10,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0].choices[0].delta.role).toBe("assistant");
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe(want.text);
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeGreaterThan(1);
    const finals = chunks.filter((c) => c.choices[0]?.finish_reason);
    expect(finals.map((c) => c.choices[0].finish_reason)).toEqual([want.finish]);
    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    expect(last.usage!.completion_tokens).toBe(want.tokens);
  });

  it("text completion, streamed and not, on the second model", async () => {
    const out = await client.completions.create({ model: "ref", prompt: "The capital of France is", max_tokens: 8, temperature: 0 });
    expect(out.object).toBe("text_completion");
    const stream = await client.completions.create({ model: "ref", prompt: "The capital of France is", max_tokens: 8, temperature: 0, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    expect(text).toBe(out.choices[0].text);
    const other = await client.completions.create({ model: "dpo", prompt: "The capital of France is", max_tokens: 8, temperature: 0 });
    expect(other.model).toBe("dpo");
  });

  it("n choices; seed reproducibility", async () => {
    const req = { model: "dpo", messages: QUESTION, max_tokens: 12, temperature: 1, seed: 11, n: 3 };
    const a = await client.chat.completions.create(req);
    const b = await client.chat.completions.create(req);
    expect(a.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(b.choices.map((c) => c.message.content)).toEqual(a.choices.map((c) => c.message.content));
    expect(new Set(a.choices.map((c) => c.message.content)).size).toBeGreaterThan(1); // n samples, not one copied
    const seeds = await Promise.all([1, 2, 3].map((seed) => client.chat.completions.create({ ...req, n: 1, seed })));
    expect(new Set(seeds.map((c) => c.choices[0].message.content)).size).toBeGreaterThan(1);
  });

  it("n choices streamed: each index its own role chunk, deltas and finish_reason, as the non-streamed ones", async () => {
    const req = { model: "dpo", messages: QUESTION, max_tokens: 10, temperature: 1, seed: 4, n: 2 };
    const whole = await client.chat.completions.create(req);
    const stream = await client.chat.completions.create({ ...req, stream: true });
    const texts = ["", ""],
      roles = [0, 0],
      finishes: (string | null)[] = [null, null];
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        if (c.delta.role) roles[c.index]++;
        texts[c.index] += c.delta.content ?? "";
        if (c.finish_reason) finishes[c.index] = c.finish_reason;
      }
    }
    expect(roles).toEqual([1, 1]);
    expect(texts).toEqual(whole.choices.map((c) => c.message.content));
    expect(finishes).toEqual(whole.choices.map((c) => c.finish_reason));
  });

  it("stop strings end the answer before them (stop text not returned), also streamed", async () => {
    const full = (await client.completions.create({ model: "dpo", prompt: "Once upon a time", max_tokens: 24, temperature: 0 })).choices[0].text;
    expect(full.length).toBeGreaterThan(6);
    const stop = full.slice(3, 6);
    const cut = full.slice(0, full.indexOf(stop));
    const out = await client.completions.create({ model: "dpo", prompt: "Once upon a time", max_tokens: 24, temperature: 0, stop: [stop, "zzzz"] });
    expect(out.choices[0].text).toBe(cut);
    expect(out.choices[0].finish_reason).toBe("stop");
    const stream = await client.completions.create({ model: "dpo", prompt: "Once upon a time", max_tokens: 24, temperature: 0, stop, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    expect(text).toBe(cut);
  });
});

describe("errors, OpenAI-style, never a 500 for a client's mistake", () => {
  const expectError = async (p: Promise<unknown>, status: number, param?: string | null, message?: RegExp) => {
    const e = (await p.then(
      () => null,
      (err) => err,
    )) as InstanceType<typeof OpenAI.APIError>;
    expect(e).toBeInstanceOf(OpenAI.APIError);
    expect(e.status).toBe(status);
    if (param !== undefined) expect(e.param).toBe(param);
    if (message) expect(e.message).toMatch(message);
    return e;
  };

  it("401 without the key or with a wrong one; the key never appears in the log", async () => {
    const anonymous = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "wrong", maxRetries: 0 });
    const e = await expectError(anonymous.models.list(), 401);
    expect(e.code).toBe("invalid_api_key");
    expect((await raw("/v1/models", { auth: false })).status).toBe(401);
    expect((await raw("/health", { auth: false })).status).toBe(200); // health and the page need no key
    expect((await fetch(`${server.url}/`)).status).toBe(200);
    expect(logLines.some((l) => /GET \/v1\/models 401/.test(l))).toBe(true);
    expect(logLines.some((l) => /POST \/v1\/chat\/completions 200 \d+ tokens [\d.]+ ms/.test(l))).toBe(true);
    expect(logLines.join("\n")).not.toContain(KEY);
  });

  it("400 with param for invalid fields", async () => {
    const chat = (body: Record<string, unknown>) => client.chat.completions.create({ model: "dpo", messages: QUESTION, ...body } as never);
    await expectError(chat({ messages: [] }), 400, "messages");
    await expectError(chat({ messages: [{ role: "robot", content: "x" }] }), 400, "messages[0].role");
    await expectError(chat({ max_tokens: 1.5 }), 400, "max_tokens");
    await expectError(chat({ max_completion_tokens: 0 }), 400, "max_completion_tokens");
    await expectError(chat({ temperature: 3 }), 400, "temperature");
    await expectError(chat({ top_p: -0.1 }), 400, "top_p");
    await expectError(chat({ n: 5 }), 400, "n", /from 1 to 4/);
    await expectError(chat({ seed: "x" }), 400, "seed");
    await expectError(chat({ stop: ["a", "b", "c", "d", "e"] }), 400, "stop");
    await expectError(chat({ stream_options: { include_usage: true } }), 400, "stream_options");
    await expectError(chat({ logprobs: true }), 400, "logprobs");
    await expectError(client.completions.create({ model: "dpo", prompt: "" }), 400, "prompt");
    await expectError(client.completions.create({ prompt: "x" } as never), 400, "model");
    const broken = await raw("/v1/completions", { method: "POST", body: "{not json" });
    expect(broken.status).toBe(400);
    expect(broken.body.error).toMatchObject({ type: "invalid_request_error", code: "invalid_json" });
  });

  it("context overflow is a 400 naming the prompt's length and the limit", async () => {
    const long = "the sky is blue ".repeat(80);
    const n = tokenizer.encode(long).length;
    await expectError(
      client.completions.create({ model: "dpo", prompt: long }),
      400,
      "prompt",
      new RegExp(`context length is 128 tokens; the prompt has ${n} tokens`),
    );
    await expectError(client.completions.create({ model: "dpo", prompt: "Hi there", max_tokens: 127 }), 400, "max_tokens", /128 tokens; you requested/);
  });

  it("404 unknown model or route, 405 with Allow, 413 body too large", async () => {
    await expectError(client.chat.completions.create({ model: "gpt-4", messages: QUESTION }), 404, "model");
    expect((await raw("/v1/embeddings", { method: "POST", body: "{}" })).status).toBe(404);
    const wrongMethod = await raw("/v1/chat/completions");
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
    expect(wrongMethod.body.error.type).toBe("invalid_request_error");
    const big = await raw("/v1/completions", { method: "POST", body: JSON.stringify({ model: "dpo", prompt: "x".repeat(2 << 20) }) });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe("request_too_large");
  });

  it("429 with Retry-After when the queue is full", async () => {
    const small = await serve({ models: [{ name: "dpo", model: policy, tokenizer }], port: 0, maxBatchSize: 1, maxQueue: 0, log: false });
    try {
      const busy = await fetch(`${small.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: "Once upon a time", max_tokens: 100, temperature: 1, stream: true }),
      });
      const reader = busy.body!.getReader();
      await reader.read();
      const refused = await fetch(`${small.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: "Hi" }),
      });
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("1");
      expect((await refused.json()).error.type).toBe("rate_limit_error");
      await reader.cancel();
    } finally {
      await small.close();
    }
  });

  it("a server fault is a 500 with type server_error, logged with its cause; the batcher recovers", async () => {
    let fail = true;
    const faulty = Object.create(policy) as CausalLM;
    faulty.forward = (ids, o) => {
      if (fail) throw new Error("simulated device failure");
      return policy.forward(ids, o);
    };
    const lines: string[] = [];
    const other = await serve({ models: [{ name: "dpo", model: faulty, tokenizer }], port: 0, log: (l) => lines.push(l) });
    try {
      const res = await fetch(`${other.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: "Hi", max_tokens: 4 }),
      });
      expect(res.status).toBe(500);
      expect((await res.json()).error.type).toBe("server_error");
      expect(lines.join("\n")).toMatch(/500 on POST \/v1\/completions: Error: simulated device failure\n\s+at /);
      fail = false;
      const ok = await fetch(`${other.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: "Hi", max_tokens: 4 }),
      });
      expect(ok.status).toBe(200);
    } finally {
      await other.close();
    }
  });

  it("a non-loopback address without a key refuses to start, saying why", async () => {
    await expect(serve({ models: [{ name: "dpo", model: policy, tokenizer }], host: "0.0.0.0", port: 0, log: false })).rejects.toThrow(
      /without an API key.*--allow-unauthenticated/,
    );
  });

  it("close() ends an in-flight stream cleanly (finish chunk, then [DONE])", async () => {
    const other = await serve({ models: [{ name: "dpo", model: policy, tokenizer }], port: 0, log: false });
    const res = await fetch(`${other.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: QUESTION, max_tokens: 100, temperature: 1, stream: true }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    await other.close();
    let rest = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toMatch(/"finish_reason":"abort"/);
    expect(rest.trim().endsWith("data: [DONE]")).toBe(true);
  });
});
