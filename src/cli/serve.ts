/** dpo-ts serve: the OpenAI-compatible server for a model folder, until Ctrl-C. */
import { initBackend } from "../backend";
import { loadModel } from "../model/io";
import { Tokenizer } from "../tokenizer/tokenizer";
import { startServer } from "../serve/server";
import { need, numberOption, ParsedArgs } from "./args";

export async function serveCommand({ options }: ParsedArgs): Promise<void> {
  await initBackend({ backend: options.backend as string | undefined });
  const dir = need(options, "model", "serve");
  const model = await loadModel(dir, { trainable: false });
  const tokenizer = await Tokenizer.fromDir(dir);
  const server = await startServer({
    model,
    tokenizer,
    host: (options.host as string) ?? "127.0.0.1",
    port: numberOption(options, "port", 8000),
    modelName: (options.name as string) ?? "dpo-ts",
  });
  console.log(`serving ${dir} at ${server.url}/v1 (OpenAI-compatible: /v1/models, /v1/chat/completions, /v1/completions)`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close().then(resolve, resolve);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  model.dispose();
}
