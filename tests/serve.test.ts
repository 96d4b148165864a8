import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as fs from "fs";
import * as path from "path";
import { loadModel, CausalLM } from "../src/model/io";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { generate } from "../src/model/generate";
import { startServer, RunningServer } from "../src/serve/server";
import { useBackendForTests } from "./helpers/backend";

const FIX = path.join(__dirname, "fixtures/hf-tiny");
const expected = JSON.parse(fs.readFileSync(path.join(FIX, "expected.json"), "utf8"));
let model: CausalLM, tokenizer: Tokenizer, server: RunningServer;

beforeAll(async () => {
  await useBackendForTests();
  model = await loadModel(path.join(FIX, "gpt2-policy"), { trainable: false });
  tokenizer = await Tokenizer.fromDir(path.join(FIX, "gpt2-policy"));
  server = await startServer({ model, tokenizer, host: "127.0.0.1", port: 0, modelName: "tiny" });
});
afterAll(async () => {
  await server.close();
  model.dispose();
});

const post = (route: string, body: unknown) =>
  fetch(`${server.url}${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("OpenAI-compatible server", () => {
  it("lists the model", async () => {
    const res = await fetch(`${server.url}/v1/models`);
    expect(res.status).toBe(200);
    expect((await res.json()).data[0].id).toBe("tiny");
  });

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

  it("/v1/chat/completions applies the chat template, non-streamed and streamed alike", async () => {
    const messages = [{ role: "user", content: "How many legs does a spider have?" }];
    const res = await post("/v1/chat/completions", { model: "tiny", messages, max_tokens: 8 });
    expect(res.status).toBe(200);
    const body = await res.json();
    const promptIds = tokenizer.encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }), { addSpecialTokens: false });
    const direct = await generate(model, promptIds, { maxNewTokens: 8, eosTokenId: tokenizer.eosTokenId });
    const text = tokenizer.decode(direct.tokens.filter((t) => t !== tokenizer.eosTokenId), { skipSpecialTokens: true });
    expect(body.choices[0].message).toEqual({ role: "assistant", content: text });
    const streamed = await post("/v1/chat/completions", { messages, max_tokens: 8, stream: true });
    expect(streamed.headers.get("content-type")).toMatch(/text\/event-stream/);
    const events = (await streamed.text()).trim().split("\n\n").map((e) => e.replace(/^data: /, ""));
    expect(events[events.length - 1]).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.choices[0].delta.content ?? "").join("")).toBe(text);
    expect(chunks[chunks.length - 1].choices[0].finish_reason).toBe(direct.finishReason);
  });

  it("answers bad requests with 400 and unknown routes with 404", async () => {
    expect((await post("/v1/chat/completions", { messages: [] })).status).toBe(400);
    expect((await post("/v1/completions", { prompt: "x", max_tokens: -1 })).status).toBe(400);
    const broken = await fetch(`${server.url}/v1/completions`, { method: "POST", body: "{not json" });
    expect(broken.status).toBe(400);
    expect((await broken.json()).error.message).toMatch(/JSON/);
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  });
});
