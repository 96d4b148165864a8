/**
 * MistralForCausalLM (transformers 5, models/mistral): Llama's network with sliding-window attention over the last
 * `sliding_window` tokens in every layer (no window when the field is null). Only the configuration differs.
 */
import { LlamaConfig, parseLlamaConfig } from "./llama";
import { num } from "./config";

/** A Mistral config.json as a {@link LlamaConfig} (with its sliding window); throws naming the file and field on a bad value. */
export function parseMistralConfig(raw: Record<string, unknown>, file = "config.json"): LlamaConfig {
  const layers = num(raw, "num_hidden_layers", 32, file);
  const window = raw.sliding_window === null || raw.sliding_window === undefined ? null : num(raw, "sliding_window", undefined, file);
  if (window !== null && !(Number.isInteger(window) && window > 0))
    throw new Error(`${file}: field "sliding_window" must be a whole number > 0 or null, got ${window}`);
  return parseLlamaConfig(raw, file, {
    modelType: "mistral",
    qkvBias: false,
    oProjBias: false,
    mlpBias: false,
    slidingWindows: new Array(layers).fill(window),
  });
}
