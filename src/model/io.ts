/**
 * Hugging Face model folders: config.json + model.safetensors (+ tokenizer files, generation_config.json), of any
 * architecture in architectures.ts, optionally with a PEFT LoRA adapter folder (adapter_config.json +
 * adapter_model.safetensors). What we save, transformers and peft load (AutoModelForCausalLM.from_pretrained,
 * PeftModel.from_pretrained) and vice versa.
 */
import * as fs from "fs";
import * as path from "path";
import type { ModelConfig } from "./config";
import { configToJson, modelFromWeights, readConfig } from "./architectures";
import type { CausalLM } from "./causal-lm";
import { readAdapter } from "./lora";
import { readSafetensors, writeSafetensors, HostTensor } from "./safetensors";

export type { CausalLM } from "./causal-lm";

/** Loads the weights of a model folder (model.safetensors, or sharded model-0000x-of-0000y.safetensors with an index). */
export function readModelWeights(dir: string): Map<string, HostTensor> {
  const single = path.join(dir, "model.safetensors");
  if (fs.existsSync(single)) return readSafetensors(single).tensors;
  const index = path.join(dir, "model.safetensors.index.json");
  if (fs.existsSync(index)) {
    const weightMap: Record<string, string> = JSON.parse(fs.readFileSync(index, "utf8")).weight_map ?? {};
    const all = new Map<string, HostTensor>();
    for (const shard of new Set(Object.values(weightMap))) {
      readSafetensors(path.join(dir, shard)).tensors.forEach((t, name) => all.set(name, t));
    }
    return all;
  }
  if (fs.existsSync(path.join(dir, "pytorch_model.bin"))) {
    throw new Error(`${dir}: only pytorch_model.bin found; dpo-ts reads safetensors (convert with transformers: model.save_pretrained(dir, safe_serialization=True))`);
  }
  throw new Error(`${single}: not found`);
}

export interface LoadModelOptions {
  /** false freezes every weight (a reference or an inference model). Default true. */
  trainable?: boolean;
  /** A PEFT LoRA adapter folder to attach (its weights train, the base is frozen). */
  adapter?: string;
}

/**
 * Loads a causal language model from a Hugging Face folder. A PEFT adapter folder (adapter_config.json, no
 * config.json) loads its base_model_name_or_path with the adapter attached, as peft's AutoPeftModelForCausalLM does.
 */
export function loadModel(dir: string, opts: LoadModelOptions = {}): CausalLM {
  let adapterDir = opts.adapter;
  if (!fs.existsSync(path.join(dir, "config.json")) && fs.existsSync(path.join(dir, "adapter_config.json"))) {
    if (adapterDir) throw new Error(`${dir}: is a PEFT adapter folder, and another adapter (${adapterDir}) was given`);
    const base = readAdapter(dir).baseModel;
    if (!base) throw new Error(`${path.join(dir, "adapter_config.json")}: field "base_model_name_or_path" is empty; load the base model and pass this folder as its adapter`);
    return loadModel(path.isAbsolute(base) || fs.existsSync(base) ? base : path.join(dir, base), { ...opts, adapter: dir });
  }
  const config = readConfig(dir);
  const model = modelFromWeights(config, readModelWeights(dir), { trainable: opts.trainable, source: dir });
  model.nameOrPath = path.resolve(dir);
  if (adapterDir) {
    try {
      model.loadAdapter(readAdapter(adapterDir), path.join(adapterDir, "adapter_model.safetensors"));
      if (opts.trainable === false) model.params.forEach((v) => (v.trainable = false));
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  return model;
}

/** generation_config.json as transformers writes it. */
function generationConfig(config: ModelConfig): Record<string, unknown> {
  return { bos_token_id: config.bosTokenId, eos_token_id: config.eosTokenId, transformers_version: "dpo-ts" };
}

/**
 * Saves config.json, model.safetensors and generation_config.json; tokenizer files are the tokenizer's own job.
 * A model with LoRA adapters saves only the adapter, in PEFT's format (as TRL + peft save a LoRA run); loadModel on
 * that folder loads the base it names with the adapter. saveMergedModel writes the full merged model instead.
 */
export async function saveModel(model: CausalLM, dir: string): Promise<void> {
  if (model.lora) return model.saveAdapter(dir);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(configToJson(model.config), null, 2) + "\n");
  writeSafetensors(path.join(dir, "model.safetensors"), await model.toHost());
  const generationFile = path.join(dir, "generation_config.json");
  fs.writeFileSync(generationFile, JSON.stringify(generationConfig(model.config), null, 2) + "\n");
}

/** Saves the model with its adapters merged into the weights (PEFT's merge_and_unload + save_pretrained). */
export async function saveMergedModel(model: CausalLM, dir: string): Promise<void> {
  const merged = model.mergeAdapters();
  try {
    await saveModel(merged, dir);
  } finally {
    merged.dispose();
  }
}
