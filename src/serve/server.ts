/**
 * An OpenAI-compatible HTTP server for trained models: the article's last step ("expose for inference").
 *   GET  /                          a chat page (static, offline): stream answers, two models side by side
 *   GET  /health                    {status, models: [{id, active, queued}]}
 *   GET  /v1/models, /v1/models/ID  the models served, by name
 *   POST /v1/chat/completions       messages through the model's chat template
 *   POST /v1/completions            a raw prompt
 * Tokens are streamed as they are made (server-sent events in OpenAI's chunk format); concurrent requests of one model
 * are decoded together by a ContinuousBatcher. Errors are OpenAI's {error: {message, type, param, code}}.
 * It listens on 127.0.0.1 unless told otherwise; another address needs an API key (or allowUnauthenticated).
 */
import * as crypto from "crypto";
import * as http from "http";
import * as path from "path";
import { AddressInfo } from "net";
import { loadModel, CausalLM } from "../model/io";
import { ChatMessage, Tokenizer } from "../tokenizer/tokenizer";
import { ContinuousBatcher, FinishReason, QueueFullError, SequenceHandle } from "./batcher";
import { CHAT_PAGE } from "./chat-page";
import { TextStream } from "./text-stream";

/**
 * A model to serve: already loaded (model + tokenizer), or a folder (or Hub repo id) to load and free at close,
 * optionally with a PEFT LoRA adapter folder attached (`adapter`), as `dpo-ts generate --adapter` loads it.
 */
export type ServedModel = { name: string; model: CausalLM; tokenizer: Tokenizer } | { name: string; path: string; adapter?: string };

/** Options of {@link serve}: the models, address, port, API key and limits. */
export interface ServeOptions {
  models: ServedModel[];
  /** Default "127.0.0.1". Any other address needs apiKey or allowUnauthenticated. */
  host?: string;
  /** 0 picks a free port. Default 8000. */
  port?: number;
  /** Requires `Authorization: Bearer <apiKey>` on /v1/*. Default: DPO_API_KEY, else none. */
  apiKey?: string;
  /** Lets a non-loopback host run without an API key. Default false. */
  allowUnauthenticated?: boolean;
  /** Upper bound on max_tokens per request. Default 512. */
  maxTokensLimit?: number;
  /** max_tokens when the request gives none (clipped to the context left). Default 256. */
  defaultMaxTokens?: number;
  /** Sequences decoded together per model. Default 32. */
  maxBatchSize?: number;
  /** Sequences waiting for a slot per model; beyond that 429. Default 256. */
  maxQueue?: number;
  /** Largest n (choices per request). Default 8. */
  maxN?: number;
  /** Largest request body in bytes (413 beyond). Default 1 MiB. */
  maxBodyBytes?: number;
  /** Where the access log and errors go, one line each. Default: stderr. false: nowhere. */
  log?: ((line: string) => void) | false;
}

/** A server {@link serve} started: its URL, port, model names and `close()`. */
export interface RunningServer {
  url: string;
  port: number;
  /** Model names served. */
  models: string[];
  /** Ends in-flight streams (finish_reason "abort", then [DONE]), stops listening, frees models it loaded. */
  close(): Promise<void>;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const TYPE_OF: Record<number, string> = { 401: "invalid_request_error", 404: "invalid_request_error", 429: "rate_limit_error", 503: "server_error" };

interface Loaded {
  name: string;
  model: CausalLM;
  tokenizer: Tokenizer;
  batcher: ContinuousBatcher;
  contextLength: number;
  owned: boolean;
  created: number;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);
/** Whether a host name or address is this machine's loopback (127.0.0.0/8, ::1, localhost). */
export const isLoopback = (host: string): boolean => LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);

/** Model name from a folder: its basename, or parent/basename for runs/<name>/final and checkpoints. */
export function modelNameFromPath(dir: string): string {
  const resolved = path.resolve(dir);
  const base = path.basename(resolved);
  return base === "final" || /^checkpoint-\d+$/.test(base) ? `${path.basename(path.dirname(resolved))}/${base}` : base;
}

/** Throws unless listening on `host` is safe: loopback, or an API key, or unauthenticated access allowed explicitly. */
export function checkExposure(host: string, apiKey: string | undefined, allowUnauthenticated: boolean | undefined): void {
  if (!isLoopback(host) && !apiKey && !allowUnauthenticated) {
    throw new Error(
      `refusing to listen on ${host} without an API key: anyone who can reach this machine could use the models. ` +
        "Give an API key (--api-key KEY or DPO_API_KEY), or allow it explicitly (--allow-unauthenticated) on a trusted network.",
    );
  }
}

/** Starts the server; resolves once it listens. */
export async function serve(opts: ServeOptions): Promise<RunningServer> {
  const host = opts.host ?? "127.0.0.1";
  const apiKey = opts.apiKey ?? process.env.DPO_API_KEY ?? undefined;
  checkExposure(host, apiKey, opts.allowUnauthenticated);
  if (opts.models.length === 0) throw new Error("serve: no model given");
  const log = opts.log === false ? () => undefined : (opts.log ?? ((line: string) => process.stderr.write(line + "\n")));
  const limit = opts.maxTokensLimit ?? 512;
  const defaultMaxTokens = opts.defaultMaxTokens ?? 256;
  const maxN = opts.maxN ?? 8;
  const maxBody = opts.maxBodyBytes ?? 1 << 20;

  const models = new Map<string, Loaded>();
  for (const spec of opts.models) {
    if (models.has(spec.name)) throw new Error(`serve: two models are named "${spec.name}"`);
    const owned = "path" in spec;
    const tokenizer = owned ? await Tokenizer.fromDir(spec.path) : spec.tokenizer; // before the model: nothing to free if it fails
    const model = owned ? await loadModel(spec.path, { trainable: false, adapter: spec.adapter }) : spec.model;
    const contextLength = model.config.nPositions;
    const batcher = new ContinuousBatcher(model, { maxBatchSize: opts.maxBatchSize, maxQueue: opts.maxQueue, contextLength });
    models.set(spec.name, { name: spec.name, model, tokenizer, batcher, contextLength, owned, created: Math.floor(Date.now() / 1000) });
  }
  let closing = false;
  const inFlight = new Set<() => void>(); // each ends its request at close
  const handling = new Set<Promise<void>>(); // every request being answered

  const checkKey = (req: http.IncomingMessage): void => {
    if (!apiKey) return;
    const header = req.headers.authorization ?? "";
    const given = Buffer.from(header.startsWith("Bearer ") ? header.slice(7).trim() : "");
    const want = Buffer.from(apiKey);
    if (given.length !== want.length || !crypto.timingSafeEqual(given, want)) {
      throw new ApiError(401, header ? "Incorrect API key provided." : "Missing API key: send 'Authorization: Bearer <key>'.", null, "invalid_api_key");
    }
  };

  const pickModel = (body: Record<string, unknown>): Loaded => {
    const name = body.model;
    if (name === undefined || name === null) {
      if (models.size === 1) return [...models.values()][0];
      throw new ApiError(400, `"model" is required when several models are served (${[...models.keys()].join(", ")})`, "model", "missing_required_parameter");
    }
    if (typeof name !== "string") throw new ApiError(400, '"model" must be a string', "model");
    const found = models.get(name);
    if (!found) throw new ApiError(404, `The model '${name}' does not exist; served: ${[...models.keys()].join(", ")}`, "model", "model_not_found");
    return found;
  };

  async function complete(req: http.IncomingMessage, res: http.ServerResponse, chat: boolean, note: { tokens: number }): Promise<void> {
    const body = await readBody(req, maxBody);
    if (closing) throw new ApiError(503, "The server is shutting down.", null, "server_shutting_down");
    const served = pickModel(body);
    const { tokenizer } = served;
    const params = requestParams(body, { limit, maxN });
    let promptIds: number[];
    const promptParam = chat ? "messages" : "prompt";
    if (chat) {
      const messages = chatMessages(body);
      let rendered: string;
      try {
        rendered = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
      } catch (e) {
        throw new ApiError(400, `messages could not be rendered with the model's chat template: ${(e as Error).message}`, "messages");
      }
      promptIds = tokenizer.encode(rendered, { addSpecialTokens: false });
    } else {
      let prompt = body.prompt;
      if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === "string") prompt = prompt[0];
      if (typeof prompt !== "string" || prompt.length === 0) throw new ApiError(400, '"prompt" must be a non-empty string', "prompt");
      promptIds = tokenizer.encode(prompt, { addSpecialTokens: false });
      if (promptIds.length === 0) throw new ApiError(400, '"prompt" encodes to no tokens', "prompt");
    }
    const ctx = served.contextLength;
    if (promptIds.length >= ctx) {
      throw new ApiError(
        400,
        `This model's maximum context length is ${ctx} tokens; the ${promptParam} has ${promptIds.length} tokens (at least one must be left to generate).`,
        promptParam,
        "context_length_exceeded",
      );
    }
    let maxTokens = params.maxTokens;
    if (maxTokens !== undefined && promptIds.length + maxTokens > ctx) {
      throw new ApiError(
        400,
        `This model's maximum context length is ${ctx} tokens; you requested ${promptIds.length + maxTokens} tokens (${promptIds.length} in the ${promptParam}, ${maxTokens} for the completion). Shorten the ${promptParam} or lower max_tokens.`,
        params.maxTokensParam,
        "context_length_exceeded",
      );
    }
    maxTokens ??= Math.min(defaultMaxTokens, limit, ctx - promptIds.length);
    if (!served.batcher.hasRoom(params.n)) {
      throw new ApiError(
        429,
        `The server is busy (${served.batcher.queued} requests waiting for ${served.name}); retry shortly.`,
        null,
        "rate_limit_exceeded",
        { "retry-after": "1" },
      );
    }

    const created = Math.floor(Date.now() / 1000);
    const id = `${chat ? "chatcmpl" : "cmpl"}-${crypto.randomBytes(12).toString("hex")}`;
    const base = { id, object: chat ? "chat.completion.chunk" : "text_completion", created, model: served.name };
    const eos = tokenizer.eosTokenId;
    const seed = params.seed ?? (params.temperature > 0 ? crypto.randomInt(2 ** 31) : 0);
    const stream = params.stream;
    const withUsage = params.includeUsage;
    const send = (payload: Record<string, unknown>) => res.write(`data: ${JSON.stringify(withUsage ? { ...payload, usage: null } : payload)}\n\n`);
    const chunk = (index: number, content: string | null, finish: string | null, first = false) =>
      chat
        ? {
            ...base,
            choices: [
              { index, delta: first ? { role: "assistant", content: "" } : content === null ? {} : { content }, logprobs: null, finish_reason: finish },
            ],
          }
        : { ...base, choices: [{ index, text: content ?? "", logprobs: null, finish_reason: finish }] };
    if (stream) {
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      res.flushHeaders();
      if (chat) for (let i = 0; i < params.n; i++) send(chunk(i, "", null, true));
    }

    const texts = Array.from({ length: params.n }, () => new TextStream(tokenizer, params.stop));
    let handles: SequenceHandle[];
    try {
      handles = texts.map((text, i) =>
        served.batcher.submit({
          promptIds,
          maxNewTokens: maxTokens!,
          temperature: params.temperature,
          topP: params.topP,
          topK: params.topK,
          seed: seed + i,
          stopIds: [eos],
          onToken: (token) => {
            const delta = token === eos ? "" : text.push(token);
            if (stream && delta && !res.writableEnded) send(chunk(i, delta, null));
            return text.stopped;
          },
        }),
      );
    } catch (e) {
      if (e instanceof QueueFullError)
        throw new ApiError(429, `The server is busy: ${e.message}; retry shortly.`, null, "rate_limit_exceeded", { "retry-after": "1" });
      throw e;
    }
    let shutDown = false;
    const cancelAll = () => handles.forEach((h) => h.cancel());
    const onClose = () => {
      if (!res.writableFinished) cancelAll(); // the client went away: free its slots at once
    };
    res.on("close", onClose);
    const endAtShutdown = () => {
      shutDown = true;
      cancelAll();
    };
    inFlight.add(endAtShutdown);
    let results;
    try {
      results = await Promise.all(handles.map((h) => h.result));
    } finally {
      inFlight.delete(endAtShutdown);
    }
    if (res.destroyed) return; // client gone: nothing to answer
    const finishOf = (r: FinishReason): string => (r === "cancelled" ? "abort" : r);
    const completionTokens = results.reduce((a, r) => a + r.tokens.length, 0);
    note.tokens = completionTokens;
    const usage = { prompt_tokens: promptIds.length, completion_tokens: completionTokens, total_tokens: promptIds.length + completionTokens };
    if (stream) {
      results.forEach((r, i) => {
        const rest = texts[i].flush();
        if (rest) send(chunk(i, rest, null));
        send(chunk(i, null, finishOf(r.finishReason)));
      });
      if (withUsage) res.write(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`);
      res.end("data: [DONE]\n\n");
      return;
    }
    if (shutDown) throw new ApiError(503, "The server is shutting down.", null, "server_shutting_down");
    const choices = results.map((r, i) =>
      chat
        ? { index: i, message: { role: "assistant", content: texts[i].output, refusal: null }, logprobs: null, finish_reason: finishOf(r.finishReason) }
        : { index: i, text: texts[i].output, logprobs: null, finish_reason: finishOf(r.finishReason) },
    );
    json(res, 200, { id, object: chat ? "chat.completion" : "text_completion", created, model: served.name, choices, usage });
  }

  const ROUTES: Record<string, string[]> = {
    "/": ["GET", "HEAD"],
    "/health": ["GET", "HEAD"],
    "/v1/models": ["GET"],
    "/v1/chat/completions": ["POST"],
    "/v1/completions": ["POST"],
  };

  const server = http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    const route = (req.url ?? "/").split("?")[0];
    const note = { tokens: 0 };
    res.on("close", () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log(`dpo-ts serve: ${req.method} ${route} ${res.statusCode}${res.writableFinished ? "" : " (client closed)"} ${note.tokens} tokens ${ms.toFixed(1)} ms`);
    });
    const handle = async (): Promise<void> => {
      const modelRoute = route.startsWith("/v1/models/") ? "/v1/models" : route;
      const allowed = ROUTES[modelRoute];
      if (!allowed) throw new ApiError(404, `Unknown route ${route}. Routes: ${Object.keys(ROUTES).join(", ")}, /v1/models/{model}`, null, "not_found");
      if (!allowed.includes(req.method ?? "")) {
        throw new ApiError(405, `${req.method} is not allowed on ${route}; use ${allowed.join(" or ")}.`, null, "method_not_allowed", {
          allow: allowed.join(", "),
        });
      }
      if (route.startsWith("/v1/")) checkKey(req);
      if (route === "/") {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(CHAT_PAGE) });
        res.end(req.method === "HEAD" ? undefined : CHAT_PAGE);
        return;
      }
      if (route === "/health") {
        const status = closing ? "closing" : "ok";
        return json(res, closing ? 503 : 200, {
          status,
          models: [...models.values()].map((m) => ({ id: m.name, active: m.batcher.active, queued: m.batcher.queued })),
        });
      }
      const card = (m: Loaded) => ({ id: m.name, object: "model", created: m.created, owned_by: "dpo-ts", context_length: m.contextLength });
      if (route === "/v1/models") return json(res, 200, { object: "list", data: [...models.values()].map(card) });
      if (modelRoute === "/v1/models") {
        const name = decodeURIComponent(route.slice("/v1/models/".length));
        const m = models.get(name);
        if (!m) throw new ApiError(404, `The model '${name}' does not exist; served: ${[...models.keys()].join(", ")}`, "model", "model_not_found");
        return json(res, 200, card(m));
      }
      if (closing) throw new ApiError(503, "The server is shutting down.", null, "server_shutting_down");
      return complete(req, res, route === "/v1/chat/completions", note);
    };
    const answered = handle().catch((e: Error) => {
      const status = e instanceof ApiError ? e.status : 500;
      if (status >= 500 && !(e instanceof ApiError)) log(`dpo-ts serve: 500 on ${req.method} ${route}: ${e.stack ?? e.message}`);
      if (res.headersSent) {
        // Mid-stream failure: say so in the stream, then end it.
        if (!res.writableEnded) res.end(`data: ${JSON.stringify(errorBody(status, e))}\n\ndata: [DONE]\n\n`);
        return;
      }
      if (e instanceof ApiError) for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
      if (status === 413) res.setHeader("connection", "close");
      json(res, status, errorBody(status, e));
    });
    handling.add(answered);
    answered.finally(() => handling.delete(answered));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 8000, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    models: [...models.keys()],
    close: async () => {
      if (closing) return;
      closing = true;
      for (const end of [...inFlight]) end();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Streams end (last chunk, [DONE]) once the batcher's current step settles them: wait for that, up to 5 s.
      await Promise.race([Promise.allSettled([...handling]), new Promise((r) => setTimeout(r, 5000).unref())]);
      await Promise.all([...models.values()].map((m) => m.batcher.close())); // each stops after its current step
      server.closeAllConnections();
      await stopped;
      for (const m of models.values()) if (m.owned) m.model.dispose();
    },
  };
}

function errorBody(status: number, e: Error): { error: { message: string; type: string; param: string | null; code: string | null } } {
  const api = e instanceof ApiError ? e : undefined;
  const type = status >= 500 ? "server_error" : (TYPE_OF[status] ?? "invalid_request_error");
  return { error: { message: api ? e.message : `internal error: ${e.message}`, type, param: api?.param ?? null, code: api?.code ?? null } };
}

function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    const tooLarge = () => new ApiError(413, `Request body over ${maxBytes} bytes.`, null, "request_too_large");
    if (declared > maxBytes) {
      req.resume();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > maxBytes)
        over = true; // keep draining so the client can read the 413
      else chunks.push(c);
    });
    req.on("end", () => {
      if (over) return reject(tooLarge());
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (e) {
        return reject(new ApiError(400, `The request body is not valid JSON (${(e as Error).message}).`, null, "invalid_json"));
      }
      if (!body || typeof body !== "object" || Array.isArray(body))
        return reject(new ApiError(400, "The request body must be a JSON object.", null, "invalid_json"));
      resolve(body as Record<string, unknown>);
    });
    req.on("error", reject);
  });
}

interface RequestParams {
  maxTokens?: number;
  maxTokensParam: string;
  temperature: number;
  topP: number;
  topK: number;
  seed?: number;
  n: number;
  stop: string[];
  stream: boolean;
  includeUsage: boolean;
}

/** Validates the sampling fields shared by both completion routes; every mistake is a 400 naming its param. */
function requestParams(body: Record<string, unknown>, opts: { limit: number; maxN: number }): RequestParams {
  const bad = (param: string, what: string) => new ApiError(400, `'${param}' ${what}; got ${JSON.stringify(body[param])}.`, param, "invalid_value");
  const number = (param: string, min: number, max: number, integer: boolean): number | undefined => {
    const v = body[param];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
      throw bad(param, `must be ${integer ? "an integer" : "a number"} from ${min} to ${max}`);
    }
    return v;
  };
  for (const unsupported of ["logprobs", "top_logprobs", "tools", "functions", "logit_bias", "echo", "best_of", "suffix"]) {
    const v = body[unsupported];
    if (v !== undefined && v !== null && v !== false && !(unsupported === "best_of" && v === 1)) {
      throw new ApiError(400, `'${unsupported}' is not supported by this server.`, unsupported, "unsupported_parameter");
    }
  }
  const fmt = body.response_format as { type?: string } | undefined;
  if (fmt !== undefined && fmt !== null && fmt.type !== "text")
    throw new ApiError(400, "'response_format' other than {type: \"text\"} is not supported.", "response_format", "unsupported_parameter");
  const maxCompletion = number("max_completion_tokens", 1, opts.limit, true);
  const maxTokens = number("max_tokens", 1, opts.limit, true);
  if (maxCompletion !== undefined && maxTokens !== undefined && maxCompletion !== maxTokens) {
    throw new ApiError(400, "'max_tokens' and 'max_completion_tokens' differ; give one.", "max_tokens", "invalid_value");
  }
  let stop: string[] = [];
  if (body.stop !== undefined && body.stop !== null) {
    stop = typeof body.stop === "string" ? [body.stop] : (body.stop as string[]);
    if (!Array.isArray(stop) || stop.length > 4 || stop.some((s) => typeof s !== "string" || s.length === 0)) {
      throw bad("stop", "must be a non-empty string or an array of up to 4 non-empty strings");
    }
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== "boolean") throw bad("stream", "must be a boolean");
  const stream = body.stream === true;
  let includeUsage = false;
  const so = body.stream_options;
  if (so !== undefined && so !== null) {
    if (!stream) throw new ApiError(400, "'stream_options' is only allowed when 'stream' is true.", "stream_options", "invalid_value");
    if (typeof so !== "object" || Array.isArray(so)) throw bad("stream_options", "must be an object");
    const inc = (so as Record<string, unknown>).include_usage;
    if (inc !== undefined && typeof inc !== "boolean")
      throw new ApiError(400, "'stream_options.include_usage' must be a boolean.", "stream_options.include_usage", "invalid_value");
    includeUsage = inc === true;
  }
  return {
    maxTokens: maxCompletion ?? maxTokens,
    maxTokensParam: maxCompletion !== undefined ? "max_completion_tokens" : "max_tokens",
    temperature: number("temperature", 0, 2, false) ?? 1,
    topP: number("top_p", 0, 1, false) ?? 1,
    topK: number("top_k", 0, 1e6, true) ?? 0,
    seed: number("seed", -(2 ** 53), 2 ** 53, true),
    n: number("n", 1, opts.maxN, true) ?? 1,
    stop,
    stream,
    includeUsage,
  };
}

function chatMessages(body: Record<string, unknown>): ChatMessage[] {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new ApiError(400, "'messages' must be a non-empty array of {role, content}.", "messages", "invalid_value");
  }
  return messages.map((m, i) => {
    const param = `messages[${i}]`;
    if (!m || typeof m !== "object") throw new ApiError(400, `'${param}' must be an object {role, content}.`, param, "invalid_value");
    if (!["system", "developer", "user", "assistant"].includes(m.role)) {
      throw new ApiError(
        400,
        `'${param}.role' must be "system", "developer", "user" or "assistant"; got ${JSON.stringify(m.role)}.`,
        `${param}.role`,
        "invalid_value",
      );
    }
    let content = m.content;
    if (Array.isArray(content)) {
      // The content-parts form: text parts only.
      if (!content.every((p: { type?: string; text?: unknown }) => p && p.type === "text" && typeof p.text === "string")) {
        throw new ApiError(400, `'${param}.content' parts must all be {type: "text", text}: this model reads text only.`, `${param}.content`, "invalid_value");
      }
      content = content.map((p: { text: string }) => p.text).join("");
    }
    if (typeof content !== "string") throw new ApiError(400, `'${param}.content' must be a string.`, `${param}.content`, "invalid_value");
    return { role: m.role === "developer" ? "system" : m.role, content };
  });
}

function json(res: http.ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
