/**
 * An OpenAI-compatible HTTP server for a trained model: the article's last step ("serve the model").
 *   GET  /v1/models              the one model served
 *   POST /v1/chat/completions    {messages, max_tokens, temperature, top_p, seed, stream}
 *   POST /v1/completions         {prompt, max_tokens, temperature, top_p, seed, stream}
 *   GET  /health
 * Requests run one at a time (the model is one set of tensors); streaming uses server-sent events like OpenAI's API.
 * It listens on 127.0.0.1 by default.
 */
import * as http from "http";
import { AddressInfo } from "net";
import { generate, GenerationOptions } from "../model/generate";
import type { CausalLM } from "../model/io";
import type { ChatMessage, Tokenizer } from "../tokenizer/tokenizer";

export interface ServerOptions {
  model: CausalLM;
  tokenizer: Tokenizer;
  /** Name reported in /v1/models and responses. Default "dpo-ts". */
  modelName?: string;
  host?: string;
  /** 0 picks a free port. Default 8000. */
  port?: number;
  /** Upper bound on max_tokens per request. Default 512. */
  maxTokensLimit?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function readBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > 1 << 20) reject(new HttpError(413, "request body over 1 MiB"));
      else chunks.push(c);
    });
    req.on("end", () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
        if (!body || typeof body !== "object" || Array.isArray(body)) throw new Error("not an object");
        resolve(body);
      } catch (e) {
        reject(new HttpError(400, `request body is not a JSON object (${(e as Error).message})`));
      }
    });
    req.on("error", reject);
  });
}

function sampling(body: Record<string, unknown>, limit: number): GenerationOptions {
  const num = (key: string, fallback: number, min: number, max: number): number => {
    const v = body[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "number" || !(v >= min && v <= max)) throw new HttpError(400, `"${key}" must be a number in [${min}, ${max}]`);
    return v;
  };
  return {
    maxNewTokens: num("max_tokens", 64, 1, limit),
    temperature: num("temperature", 0, 0, 10),
    topP: num("top_p", 1, 0, 1),
    topK: num("top_k", 0, 0, 1e6),
    seed: num("seed", 0, -1e15, 1e15),
  };
}

function chatMessages(body: Record<string, unknown>): ChatMessage[] {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw new HttpError(400, '"messages" must be a non-empty array');
  return messages.map((m, i) => {
    if (!m || typeof m.role !== "string" || typeof m.content !== "string") {
      throw new HttpError(400, `messages[${i}] must have string "role" and "content"`);
    }
    return { role: m.role, content: m.content };
  });
}

/** Starts the server; resolves once it listens. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { model, tokenizer } = opts;
  const modelName = opts.modelName ?? "dpo-ts";
  const limit = opts.maxTokensLimit ?? 512;
  const created = Math.floor(Date.now() / 1000);
  let queue: Promise<unknown> = Promise.resolve();
  let counter = 0;

  // One generation at a time, in arrival order.
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
    return run;
  };

  async function complete(req: http.IncomingMessage, res: http.ServerResponse, chat: boolean): Promise<void> {
    const body = await readBody(req);
    const options = sampling(body, limit);
    let prompt: string;
    if (chat) prompt = tokenizer.applyChatTemplate(chatMessages(body), { addGenerationPrompt: true });
    else {
      if (typeof body.prompt !== "string" || !body.prompt) throw new HttpError(400, '"prompt" must be a non-empty string');
      prompt = body.prompt;
    }
    const promptIds = tokenizer.encode(prompt, { addSpecialTokens: false });
    const id = `${chat ? "chatcmpl" : "cmpl"}-${created}-${++counter}`;
    const object = chat ? "chat.completion" : "text_completion";
    const stream = body.stream === true;
    if (stream) {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    }
    const send = (payload: unknown) => res.write(`data: ${JSON.stringify(payload)}\n\n`);
    const out = await exclusive(() =>
      generate(model, promptIds, {
        ...options,
        eosTokenId: tokenizer.eosTokenId,
        onToken: stream
          ? (token) => {
              if (token === tokenizer.eosTokenId) return;
              const text = tokenizer.decode([token], { skipSpecialTokens: true });
              send(chat
                ? { id, object: "chat.completion.chunk", created, model: modelName, choices: [{ index: 0, delta: { content: text }, finish_reason: null }] }
                : { id, object, created, model: modelName, choices: [{ index: 0, text, finish_reason: null }] });
            }
          : undefined,
      }),
    );
    const tokens = out.tokens.filter((t) => t !== tokenizer.eosTokenId);
    const text = tokenizer.decode(tokens, { skipSpecialTokens: true });
    const usage = { prompt_tokens: promptIds.length, completion_tokens: out.tokens.length, total_tokens: promptIds.length + out.tokens.length };
    if (stream) {
      send(chat
        ? { id, object: "chat.completion.chunk", created, model: modelName, choices: [{ index: 0, delta: {}, finish_reason: out.finishReason }] }
        : { id, object, created, model: modelName, choices: [{ index: 0, text: "", finish_reason: out.finishReason }] });
      res.end("data: [DONE]\n\n");
      return;
    }
    const choice = chat
      ? { index: 0, message: { role: "assistant", content: text }, finish_reason: out.finishReason }
      : { index: 0, text, finish_reason: out.finishReason };
    json(res, 200, { id, object, created, model: modelName, choices: [choice], usage });
  }

  const server = http.createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    const handle = async () => {
      if (req.method === "GET" && url === "/health") return json(res, 200, { status: "ok" });
      if (req.method === "GET" && url === "/v1/models") {
        return json(res, 200, { object: "list", data: [{ id: modelName, object: "model", created, owned_by: "dpo-ts" }] });
      }
      if (req.method === "POST" && url === "/v1/chat/completions") return complete(req, res, true);
      if (req.method === "POST" && url === "/v1/completions") return complete(req, res, false);
      throw new HttpError(404, `no route ${req.method} ${url}`);
    };
    handle().catch((e: Error) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (!res.headersSent) json(res, status, { error: { message: e.message, type: status < 500 ? "invalid_request_error" : "server_error" } });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 8000, opts.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}

function json(res: http.ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
