/**
 * `dpo-ts generate`: a continuation of --prompt (with --chat, the prompt is a user message in the model's chat
 * template). Special tokens such as <|im_end|> are left out of the printed text unless --keep-special-tokens.
 */
import { initBackend } from "../backend";
import { loadModel } from "../model/io";
import { generate } from "../model/generate";
import { Tokenizer } from "../tokenizer/tokenizer";
import { BACKEND_OPTION, OptionsTable, integerValue, numberValue, requiredString, stringValue } from "./framework";

/** Options of `dpo-ts generate`. */
export const generateOptions: OptionsTable = {
  model: { type: "string", valueName: "DIR|ID", description: "model folder or Hub repo id (Hugging Face format)" },
  adapter: {
    type: "string",
    valueName: "DIR",
    description: "a PEFT LoRA adapter folder to attach to the model (adapter_config.json + adapter_model.safetensors)",
  },
  prompt: { type: "string", valueName: "TEXT", description: "the text to continue" },
  chat: { type: "boolean", description: "wrap --prompt as a user message in the chat template" },
  "max-new-tokens": { type: "string", valueName: "N", description: "tokens to generate at most (default 32)" },
  temperature: { type: "string", valueName: "T", description: "0 = greedy (default 0)" },
  "top-k": { type: "string", valueName: "K", description: "sample from the K likeliest tokens; 0 = all (default 0)" },
  "top-p": { type: "string", valueName: "P", description: "nucleus sampling mass (default 1)" },
  seed: { type: "string", valueName: "N", description: "sampling seed (default 0)" },
  "keep-special-tokens": { type: "boolean", description: "print special tokens such as <|im_end|> too" },
  backend: BACKEND_OPTION,
  json: { type: "boolean", description: "print {text, tokens, finish_reason} as JSON" },
};

/** `dpo-ts generate`: prints a continuation of --prompt by --model (through the chat template with --chat); throws CliError on bad options. */
export async function generateCommand(values: Record<string, unknown>): Promise<void> {
  const modelDir = requiredString(values, "model");
  const prompt = requiredString(values, "prompt");
  const options = {
    maxNewTokens: integerValue(values, "max-new-tokens", { positive: true }) ?? 32,
    temperature: numberValue(values, "temperature", { min: 0 }) ?? 0,
    topK: integerValue(values, "top-k", { min: 0 }) ?? 0,
    topP: numberValue(values, "top-p", { positive: true }) ?? 1,
    seed: integerValue(values, "seed") ?? 0,
  };
  await initBackend({ backend: stringValue(values, "backend"), quiet: Boolean(values.json), model: modelDir });
  const tokenizer = await Tokenizer.fromDir(modelDir);
  const model = await loadModel(modelDir, { trainable: false, adapter: stringValue(values, "adapter") });
  const text = values.chat ? tokenizer.applyChatTemplate([{ role: "user", content: prompt }], { addGenerationPrompt: true }) : prompt;
  const out = await generate(model, tokenizer.encode(text, { addSpecialTokens: false }), { ...options, eosTokenId: tokenizer.eosTokenId });
  const completion = tokenizer.decode(out.tokens, { skipSpecialTokens: !values["keep-special-tokens"] });
  if (values.json) console.log(JSON.stringify({ text: completion, tokens: out.tokens, finish_reason: out.finishReason }));
  else console.log(completion);
  model.dispose();
}
