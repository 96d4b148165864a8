/**
 * Model configurations, read from and written to Hugging Face's config.json (field names as transformers spells them):
 * the fields every architecture has (BaseModelConfig: what code outside src/model may read) and GPT-2's own.
 * The Llama family's configuration lives in llama.ts; dispatch on model_type in architectures.ts.
 */
import type { LlamaConfig } from "./llama";

/** What every architecture's configuration carries, under one name each. */
export interface BaseModelConfig {
  /** config.json's model_type ("gpt2", "llama", "mistral", "qwen2"). */
  modelType: string;
  /** Vocabulary size V. */
  vocabSize: number;
  /** Context length: the longest sequence the model takes (GPT-2's n_positions, Llama's max_position_embeddings). */
  nPositions: number;
  /** The output head shares the token embedding matrix. */
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenId: number | null;
  padTokenId: number | null;
  /** The config.json object as read, so that saving keeps fields we do not use. */
  raw: Record<string, unknown>;
}

/** A GPT-2 config.json, in camelCase. */
export interface GPT2Config extends BaseModelConfig {
  modelType: "gpt2";
  /** Model width D. */
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** MLP hidden width; transformers' default is 4 * nEmbd. */
  nInner: number;
  layerNormEpsilon: number;
  /** "gelu_new" (tanh approximation, GPT-2's), "gelu" (erf), "relu", "silu"/"swish", "gelu_pytorch_tanh". */
  activationFunction: string;
  scaleAttnWeights: boolean;
  scaleAttnByInverseLayerIdx: boolean;
}

/** The config of any supported architecture. */
export type ModelConfig = GPT2Config | LlamaConfig;

/** A number field of config.json (fallback when absent or null; an error naming file and field otherwise). */
export function num(raw: Record<string, unknown>, key: string, fallback: number | undefined, file: string): number {
  const value = raw[key];
  if (value === undefined || value === null) {
    if (fallback === undefined) throw new Error(`${file}: field "${key}" is missing`);
    return fallback;
  }
  if (typeof value !== "number" || !Number.isFinite(value)) throw new Error(`${file}: field "${key}" must be a number, got ${JSON.stringify(value)}`);
  return value;
}

/** A token id field (a list's first id when transformers allows a list). */
export function tokenId(value: unknown): number | null {
  if (typeof value === "number") return value;
  if (Array.isArray(value) && typeof value[0] === "number") return value[0];
  return null;
}

/** Parses a GPT-2 config.json object. */
export function parseGpt2Config(raw: Record<string, unknown>, file = "config.json"): GPT2Config {
  const nEmbd = num(raw, "n_embd", 768, file);
  const nHead = num(raw, "n_head", 12, file);
  if (nEmbd % nHead !== 0) throw new Error(`${file}: n_embd ${nEmbd} is not divisible by n_head ${nHead}`);
  const activationFunction = (raw.activation_function as string | undefined) ?? "gelu_new";
  return {
    modelType: "gpt2",
    vocabSize: num(raw, "vocab_size", undefined, file),
    nPositions: num(raw, "n_positions", 1024, file),
    nEmbd,
    nLayer: num(raw, "n_layer", 12, file),
    nHead,
    nInner: num(raw, "n_inner", 4 * nEmbd, file),
    layerNormEpsilon: num(raw, "layer_norm_epsilon", 1e-5, file),
    activationFunction,
    scaleAttnWeights: raw.scale_attn_weights !== false,
    scaleAttnByInverseLayerIdx: raw.scale_attn_by_inverse_layer_idx === true,
    tieWordEmbeddings: raw.tie_word_embeddings !== false,
    bosTokenId: tokenId(raw.bos_token_id),
    eosTokenId: tokenId(raw.eos_token_id),
    padTokenId: tokenId(raw.pad_token_id),
    raw,
  };
}

/** The config.json object for a GPT-2 config (keeps unknown fields of the original). */
export function gpt2ConfigToJson(config: GPT2Config): Record<string, unknown> {
  return {
    ...config.raw,
    architectures: ["GPT2LMHeadModel"],
    model_type: "gpt2",
    vocab_size: config.vocabSize,
    n_positions: config.nPositions,
    n_embd: config.nEmbd,
    n_layer: config.nLayer,
    n_head: config.nHead,
    n_inner: config.nInner === 4 * config.nEmbd ? null : config.nInner,
    layer_norm_epsilon: config.layerNormEpsilon,
    activation_function: config.activationFunction,
    scale_attn_weights: config.scaleAttnWeights,
    scale_attn_by_inverse_layer_idx: config.scaleAttnByInverseLayerIdx,
    tie_word_embeddings: config.tieWordEmbeddings,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenId,
    dtype: "float32",
  };
}

/** A GPT-2 config from the few numbers that matter (for new models). */
export function gpt2Config(opts: {
  vocabSize: number;
  nPositions?: number;
  nEmbd?: number;
  nLayer?: number;
  nHead?: number;
  nInner?: number;
  bosTokenId?: number | null;
  eosTokenId?: number | null;
}): GPT2Config {
  const raw: Record<string, unknown> = {
    model_type: "gpt2",
    vocab_size: opts.vocabSize,
    n_positions: opts.nPositions ?? 1024,
    n_embd: opts.nEmbd ?? 768,
    n_layer: opts.nLayer ?? 12,
    n_head: opts.nHead ?? 12,
    n_inner: opts.nInner ?? null,
    bos_token_id: opts.bosTokenId ?? null,
    eos_token_id: opts.eosTokenId ?? null,
    activation_function: "gelu_new",
    layer_norm_epsilon: 1e-5,
    // dpo-ts trains without dropout (TRL's default disable_dropout=True); say so in the saved config.
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
  };
  return parseGpt2Config(raw);
}
