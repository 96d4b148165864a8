/** dpo-ts serve: the OpenAI-compatible server (and chat page) for one or more model folders, until Ctrl-C. */
import { initBackend } from "../backend";
import { checkExposure, modelNameFromPath, serve, ServedModel } from "../serve/server";

export const serveOptions = {
  model: { type: "string", multiple: true, short: "m", description: "a model folder to serve, as NAME=DIR or DIR (name: the folder's); repeat for several", valueName: "[NAME=]DIR" },
  host: { type: "string", default: "127.0.0.1", description: "address to listen on; anything but loopback needs --api-key or --allow-unauthenticated", valueName: "HOST" },
  port: { type: "string", default: "8000", description: "port to listen on (0 picks a free one)", valueName: "N" },
  "api-key": { type: "string", description: "require 'Authorization: Bearer KEY' on /v1/* (default: DPO_API_KEY)", valueName: "KEY" },
  "allow-unauthenticated": { type: "boolean", default: false, description: "serve a non-loopback --host without an API key" },
  "max-batch-size": { type: "string", default: "32", description: "sequences decoded together per model", valueName: "N" },
  "max-queue": { type: "string", default: "256", description: "sequences waiting per model before 429", valueName: "N" },
  "max-tokens-limit": { type: "string", default: "512", description: "largest max_tokens a request may ask", valueName: "N" },
  backend: { type: "string", description: "tensorflow|webgpu|wasm|cpu (default: DPO_BACKEND, else the best that loads)", valueName: "NAME" },
} as const;

function integer(values: Record<string, unknown>, name: string, min: number): number {
  const raw = String(values[name]);
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min) throw new Error(`dpo-ts serve: --${name} must be an integer ≥ ${min}, got "${raw}"`);
  return n;
}

export async function serveCommand(values: Record<string, unknown>, positionals: string[]): Promise<void> {
  if (positionals.length > 0) throw new Error(`dpo-ts serve: unexpected argument "${positionals[0]}" (models are given with --model [NAME=]DIR)`);
  const specs = (values.model as string[] | undefined) ?? [];
  if (specs.length === 0) throw new Error("dpo-ts serve: --model is required (e.g. --model dpo=runs/course/final --model sft=data/sft-model)");
  const models: ServedModel[] = specs.map((spec) => {
    const eq = spec.indexOf("=");
    const [name, dir] = eq > 0 ? [spec.slice(0, eq), spec.slice(eq + 1)] : [modelNameFromPath(spec), spec];
    if (!dir) throw new Error(`dpo-ts serve: --model "${spec}" has no folder after "="`);
    return { name, path: dir };
  });
  const port = integer(values, "port", 0);
  if (port > 65535) throw new Error(`dpo-ts serve: --port must be at most 65535, got ${port}`);
  const host = values.host as string;
  const apiKey = (values["api-key"] as string | undefined) ?? process.env.DPO_API_KEY;
  const allowUnauthenticated = values["allow-unauthenticated"] === true;
  const limits = { maxBatchSize: integer(values, "max-batch-size", 1), maxQueue: integer(values, "max-queue", 0), maxTokensLimit: integer(values, "max-tokens-limit", 1) };
  try {
    checkExposure(host, apiKey, allowUnauthenticated); // before loading anything
  } catch (e) {
    throw new Error(`dpo-ts serve: ${(e as Error).message}`);
  }
  await initBackend({ backend: values.backend as string | undefined });
  const server = await serve({ models, host, port, apiKey, allowUnauthenticated, ...limits }).catch((e: Error) => {
    throw new Error(`dpo-ts serve: ${e.message}`);
  });
  console.log(`serving ${server.models.join(", ")} at ${server.url}/v1 (OpenAI-compatible); chat page at ${server.url}/`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close().then(resolve, resolve);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
