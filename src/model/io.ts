/**
 * Hugging Face model folders: config.json + model.safetensors (+ tokenizer files, generation_config.json).
 * What we save, transformers loads (AutoModelForCausalLM.from_pretrained) and vice versa.
 */
import * as fs from "fs";
import * as path from "path";
import { configToJson, ModelConfig, readConfig } from "./config";
import { GPT2LMHeadModel } from "./gpt2";
import { readSafetensors, writeSafetensors, HostTensor } from "./safetensors";
import { resolvePretrained } from "../hub/model-files";
import type { HubOptions } from "../hub/snapshot";

export type CausalLM = GPT2LMHeadModel;

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

/** Loads a causal language model from a Hugging Face folder (synchronous; no Hub). */
export function loadModelFromDir(dir: string, opts: { trainable?: boolean } = {}): CausalLM {
  const config = readConfig(dir);
  return GPT2LMHeadModel.fromWeights(config, readModelWeights(dir), { trainable: opts.trainable, source: dir });
}

export interface LoadModelOptions extends HubOptions {
  /** false: weights are constants (a reference model, eval, serving). Default true. */
  trainable?: boolean;
}

/**
 * Loads a causal language model from a folder or a Hugging Face Hub repo id ("HuggingFaceTB/SmolLM2-135M-Instruct"):
 * a repo's config, tokenizer files and safetensors weights are downloaded into the Hugging Face cache (or found
 * there; offline too), then read as from a folder. `revision`, `cacheDir`, `token`, `hubUrl`: see {@link HubOptions}.
 */
export async function loadModel(idOrDir: string, opts: LoadModelOptions = {}): Promise<CausalLM> {
  const { trainable, ...hub } = opts;
  return loadModelFromDir(await resolvePretrained(idOrDir, "model", hub), { trainable });
}

/** generation_config.json as transformers writes it. */
function generationConfig(config: ModelConfig): Record<string, unknown> {
  return { bos_token_id: config.bosTokenId, eos_token_id: config.eosTokenId, transformers_version: "dpo-ts" };
}

/** Saves config.json, model.safetensors and generation_config.json; tokenizer files are the tokenizer's own job. */
export async function saveModel(model: CausalLM, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(configToJson(model.config), null, 2) + "\n");
  writeSafetensors(path.join(dir, "model.safetensors"), await model.toHost());
  const generationFile = path.join(dir, "generation_config.json");
  fs.writeFileSync(generationFile, JSON.stringify(generationConfig(model.config), null, 2) + "\n");
}
