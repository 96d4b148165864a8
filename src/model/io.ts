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
import { resolvePretrained } from "../hub/model-files";
import type { HubOptions } from "../hub/snapshot";

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
    throw new Error(
      `${dir}: only pytorch_model.bin found; dpo-ts reads safetensors (convert with transformers: model.save_pretrained(dir, safe_serialization=True))`,
    );
  }
  throw new Error(`${single}: not found`);
}

/**
 * Loads a causal language model from a Hugging Face folder (synchronous; no Hub), with a PEFT adapter folder attached
 * when `adapter` names one. A PEFT adapter folder given as the model (adapter_config.json, no config.json) loads its
 * base_model_name_or_path (a folder here) with the adapter attached, as peft's AutoPeftModelForCausalLM does.
 */
export function loadModelFromDir(dir: string, opts: { trainable?: boolean; adapter?: string } = {}): CausalLM {
  const adapterDir = opts.adapter;
  const base = adapterBase(dir, adapterDir);
  if (base !== null) return loadModelFromDir(base, { ...opts, adapter: dir });
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

/** Options of {@link loadModel}: trainable or frozen, a LoRA adapter to attach, plus the Hub options. */
export interface LoadModelOptions extends HubOptions {
  /** false: weights are constants (a reference model, eval, serving). Default true. */
  trainable?: boolean;
  /** A PEFT LoRA adapter folder to attach (its weights train, the base is frozen). */
  adapter?: string;
}

/**
 * When dir is a PEFT adapter folder (adapter_config.json, no config.json): its base_model_name_or_path, resolved
 * against dir when relative and present there; else null.
 */
function adapterBase(dir: string, otherAdapter: string | undefined): string | null {
  if (fs.existsSync(path.join(dir, "config.json")) || !fs.existsSync(path.join(dir, "adapter_config.json"))) return null;
  if (otherAdapter) throw new Error(`${dir}: is a PEFT adapter folder, and another adapter (${otherAdapter}) was given`);
  const base = readAdapter(dir).baseModel;
  if (!base)
    throw new Error(
      `${path.join(dir, "adapter_config.json")}: field "base_model_name_or_path" is empty; load the base model and pass this folder as its adapter`,
    );
  return !path.isAbsolute(base) && fs.existsSync(path.join(dir, base)) ? path.join(dir, base) : base;
}

/**
 * Loads a causal language model from a folder or a Hugging Face Hub repo id ("HuggingFaceTB/SmolLM2-135M-Instruct"):
 * a repo's config, tokenizer files and safetensors weights are downloaded into the Hugging Face cache (or found
 * there; offline too), then read as from a folder. `revision`, `cacheDir`, `token`, `hubUrl`: see {@link HubOptions}.
 * `adapter`: a local PEFT adapter folder to attach; a PEFT adapter folder given as the model loads its base (a folder
 * or a Hub id) with that adapter.
 */
export async function loadModel(idOrDir: string, opts: LoadModelOptions = {}): Promise<CausalLM> {
  const { trainable, adapter, ...hub } = opts;
  const dir = await resolvePretrained(idOrDir, "model", hub);
  const base = adapterBase(dir, adapter);
  const model =
    base !== null ? loadModelFromDir(await resolvePretrained(base, "model", hub), { trainable, adapter: dir }) : loadModelFromDir(dir, { trainable, adapter });
  // A Hub model keeps its repo id (saved adapters name it as base_model_name_or_path, as peft does).
  if (base === null && dir !== idOrDir) model.nameOrPath = idOrDir;
  else if (base !== null && !fs.existsSync(base)) model.nameOrPath = base;
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
