/** `dpo-ts serve`: the OpenAI-compatible server for a model folder, until Ctrl-C. */
import { initBackend } from "../backend";
import { loadModel } from "../model/io";
import { Tokenizer } from "../tokenizer/tokenizer";
import { startServer } from "../serve/server";
import { BACKEND_OPTION, OptionsTable, integerValue, requiredString, stringValue } from "./framework";

export const serveOptions: OptionsTable = {
  model: { type: "string", valueName: "DIR", description: "model folder (Hugging Face format)" },
  host: { type: "string", valueName: "HOST", description: "address to listen on (default 127.0.0.1)" },
  port: { type: "string", valueName: "PORT", description: "port to listen on (default 8000)" },
  name: { type: "string", valueName: "NAME", description: "model name reported by /v1/models (default dpo-ts)" },
  backend: BACKEND_OPTION,
};

export async function serveCommand(values: Record<string, unknown>): Promise<void> {
  const dir = requiredString(values, "model");
  const port = integerValue(values, "port", { min: 0 }) ?? 8000;
  await initBackend({ backend: stringValue(values, "backend") });
  const model = loadModel(dir, { trainable: false });
  const tokenizer = await Tokenizer.fromDir(dir);
  const server = await startServer({
    model,
    tokenizer,
    host: stringValue(values, "host") ?? "127.0.0.1",
    port,
    modelName: stringValue(values, "name") ?? "dpo-ts",
  });
  console.log(`serving ${dir} at ${server.url}/v1 (OpenAI-compatible: /v1/models, /v1/chat/completions, /v1/completions)`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close().then(resolve, resolve);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  model.dispose();
}
