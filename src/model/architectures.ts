/**
 * The supported architectures, dispatched on config.json's model_type: how to parse each configuration and build
 * each model. A new architecture is one file in src/model/ and one entry here.
 */
import * as fs from "fs";
import * as path from "path";
import { GPT2Config, gpt2ConfigToJson, ModelConfig, parseGpt2Config } from "./config";
import { GPT2LMHeadModel } from "./gpt2";
import { LlamaConfig, LlamaForCausalLM, parseLlamaConfig } from "./llama";
import { parseMistralConfig } from "./mistral";
import { parseQwen2Config } from "./qwen2";
import { HostTensor } from "./safetensors";
import type { CausalLM } from "./causal-lm";

interface Architecture {
  /** transformers' class name, written to config.json's architectures. */
  className: string;
  parse(raw: Record<string, unknown>, file: string): ModelConfig;
  fromWeights(config: ModelConfig, weights: Map<string, HostTensor>, opts: { trainable?: boolean; source?: string }): CausalLM;
  init(config: ModelConfig, seed: number): CausalLM;
  toJson(config: ModelConfig): Record<string, unknown>;
}

const llamaFamily = (className: string, parse: (raw: Record<string, unknown>, file: string) => LlamaConfig): Architecture => ({
  className,
  parse,
  fromWeights: (config, weights, opts) => LlamaForCausalLM.fromWeights(config as LlamaConfig, weights, opts),
  init: (config, seed) => LlamaForCausalLM.init(config as LlamaConfig, seed),
  toJson: (config) => ({ ...config.raw, architectures: [className], model_type: config.modelType, dtype: "float32" }),
});

/** model_type → architecture. */
export const ARCHITECTURES: Record<string, Architecture> = {
  gpt2: {
    className: "GPT2LMHeadModel",
    parse: parseGpt2Config,
    fromWeights: (config, weights, opts) => GPT2LMHeadModel.fromWeights(config as GPT2Config, weights, opts),
    init: (config, seed) => GPT2LMHeadModel.init(config as GPT2Config, seed),
    toJson: (config) => gpt2ConfigToJson(config as GPT2Config),
  },
  llama: llamaFamily("LlamaForCausalLM", parseLlamaConfig),
  mistral: llamaFamily("MistralForCausalLM", parseMistralConfig),
  qwen2: llamaFamily("Qwen2ForCausalLM", parseQwen2Config),
};

function architectureOf(modelType: string, file: string): Architecture {
  const arch = Object.prototype.hasOwnProperty.call(ARCHITECTURES, modelType) ? ARCHITECTURES[modelType] : undefined;
  if (!arch)
    throw new Error(
      `${file}: field "model_type" is ${JSON.stringify(modelType)}; dpo-ts supports ${Object.keys(ARCHITECTURES)
        .map((t) => `"${t}" (${ARCHITECTURES[t].className})`)
        .join(", ")}`,
    );
  return arch;
}

/** Parses a transformers config.json object of any supported architecture. */
export function parseConfig(raw: Record<string, unknown>, file = "config.json"): ModelConfig {
  const arch = architectureOf(raw.model_type as string, file);
  const classes = raw.architectures;
  if (Array.isArray(classes) && classes.length && !classes.includes(arch.className)) {
    throw new Error(
      `${file}: field "architectures" is ${JSON.stringify(classes)}; for model_type "${raw.model_type}" dpo-ts builds ${arch.className} (a causal language model)`,
    );
  }
  return arch.parse(raw, file);
}

/** Reads DIR/config.json. */
export function readConfig(dir: string): ModelConfig {
  const file = path.join(dir, "config.json");
  if (!fs.existsSync(file)) throw new Error(`${file}: not found (a Hugging Face model folder has config.json)`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return parseConfig(raw, file);
}

/** The config.json object for a config (keeps unknown fields of the original). */
export function configToJson(config: ModelConfig): Record<string, unknown> {
  return architectureOf(config.modelType, "config").toJson(config);
}

/** Builds a model of the config's architecture from host tensors named as in its checkpoint. */
export function modelFromWeights(config: ModelConfig, weights: Map<string, HostTensor>, opts: { trainable?: boolean; source?: string } = {}): CausalLM {
  return architectureOf(config.modelType, opts.source ?? "config").fromWeights(config, weights, opts);
}

/** A new randomly initialised model of the config's architecture (transformers' initialisation). */
export function initModel(config: ModelConfig, seed = 0): CausalLM {
  return architectureOf(config.modelType, "config").init(config, seed);
}
