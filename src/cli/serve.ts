/** `dpo-ts serve`: the OpenAI-compatible server (and chat page) for one or more model folders, until Ctrl-C. */
import { initBackend } from "../backend";
import { checkExposure, modelNameFromPath, serve, ServedModel } from "../serve/server";
import { BACKEND_OPTION, CliError, OptionsTable, integerValue, stringValue } from "./framework";

/** A model the CLI loads: a folder or Hub id, with an adapter folder when --adapter names it. */
type ModelSpec = Extract<ServedModel, { path: string }>;

/** Options of `dpo-ts serve`. */
export const serveOptions: OptionsTable = {
  model: {
    type: "string",
    multiple: true,
    short: "m",
    valueName: "[NAME=]DIR",
    description: "a model folder (or Hub repo id) to serve, as NAME=DIR or DIR (named after the folder); repeat for several",
  },
  adapter: {
    type: "string",
    multiple: true,
    valueName: "[NAME=]DIR",
    description: "a PEFT LoRA adapter folder to attach: NAME=DIR for the model named NAME, or DIR when one model is served; repeat for several",
  },
  host: {
    type: "string",
    default: "127.0.0.1",
    valueName: "HOST",
    description: "address to listen on; anything but loopback needs --api-key or --allow-unauthenticated",
  },
  port: { type: "string", default: "8000", valueName: "PORT", description: "port to listen on (0 picks a free one)" },
  "api-key": { type: "string", valueName: "KEY", description: "require 'Authorization: Bearer KEY' on /v1/* (default: DPO_API_KEY)" },
  "allow-unauthenticated": { type: "boolean", description: "serve a non-loopback --host without an API key" },
  "max-batch-size": { type: "string", default: "32", valueName: "N", description: "sequences decoded together per model" },
  "max-queue": { type: "string", default: "256", valueName: "N", description: "sequences waiting per model before 429" },
  "max-tokens-limit": { type: "string", default: "512", valueName: "N", description: "largest max_tokens a request may ask" },
  backend: BACKEND_OPTION,
};

/** Attaches `--adapter [NAME=]DIR` to the model it names (or to the only model); refuses an unknown name or a second adapter. */
function attachAdapter(models: ModelSpec[], spec: string): void {
  const eq = spec.indexOf("=");
  const named = eq > 0 && models.some((m) => m.name === spec.slice(0, eq));
  if (!named && eq > 0 && models.length > 1) {
    throw new CliError(`--adapter "${spec}": no model is named "${spec.slice(0, eq)}" (models: ${models.map((m) => m.name).join(", ")})`);
  }
  if (!named && models.length > 1) throw new CliError(`--adapter "${spec}": several models are served; say which as NAME=DIR`);
  const target = named ? models.find((m) => m.name === spec.slice(0, eq))! : models[0];
  const dir = named ? spec.slice(eq + 1) : spec;
  if (!dir) throw new CliError(`--adapter "${spec}" has no folder after "="`);
  if (target.adapter) throw new CliError(`--adapter: model "${target.name}" already has an adapter (${target.adapter})`);
  target.adapter = dir;
}

/** `dpo-ts serve`: an OpenAI-compatible HTTP server (and chat page) over one or more models until interrupted; throws CliError on bad options. */
export async function serveCommand(values: Record<string, unknown>, positionals: string[] = []): Promise<void> {
  if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}" (models are given with --model [NAME=]DIR)`);
  const specs = (values.model as string[] | undefined) ?? [];
  if (specs.length === 0) throw new CliError("--model is required (e.g. --model dpo=runs/course/final --model sft=data/sft-model)");
  const models: ModelSpec[] = specs.map((spec) => {
    const eq = spec.indexOf("=");
    const [name, dir] = eq > 0 ? [spec.slice(0, eq), spec.slice(eq + 1)] : [modelNameFromPath(spec), spec];
    if (!dir) throw new CliError(`--model "${spec}" has no folder after "="`);
    return { name, path: dir };
  });
  for (const spec of (values.adapter as string[] | undefined) ?? []) attachAdapter(models, spec);
  const port = integerValue(values, "port", { min: 0 }) ?? 8000;
  if (port > 65535) throw new CliError(`--port must be at most 65535, got ${port}`);
  const host = stringValue(values, "host") ?? "127.0.0.1";
  const apiKey = stringValue(values, "api-key") ?? process.env.DPO_API_KEY;
  const allowUnauthenticated = values["allow-unauthenticated"] === true;
  const limits = {
    maxBatchSize: integerValue(values, "max-batch-size", { positive: true }),
    maxQueue: integerValue(values, "max-queue", { min: 0 }),
    maxTokensLimit: integerValue(values, "max-tokens-limit", { positive: true }),
  };
  try {
    checkExposure(host, apiKey, allowUnauthenticated); // before loading anything
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  // TensorFlow's thread pools are sized for the first model (they are process-wide; most servers serve one).
  await initBackend({ backend: stringValue(values, "backend"), model: models[0]?.path });
  const server = await serve({ models, host, port, apiKey, allowUnauthenticated, ...limits });
  console.log(`serving ${server.models.join(", ")} at ${server.url}/v1 (OpenAI-compatible); chat page at ${server.url}/`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close().then(resolve, resolve);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
