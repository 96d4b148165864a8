/**
 * LlamaForCausalLM exactly as transformers 5 defines it (models/llama/modeling_llama.py): token embedding, pre-RMSNorm
 * blocks of rotary grouped-query attention (num_key_value_heads, head_dim, attention_bias) and a SwiGLU MLP
 * (down(silu(gate(x)) · up(x)), mlp_bias), final RMSNorm, tied or untied head. Linear weights are nn.Linear's
 * [out, in]. Mistral (sliding window) and Qwen2 (q/k/v biases, sliding layers) are this network with other
 * configuration fields: mistral.ts and qwen2.ts only parse their config.json.
 */
import * as tf from "@tensorflow/tfjs";
import { BaseModelConfig, num, tokenId } from "./config";
import { HostTensor } from "./safetensors";
import { activation, embedding } from "./layers";
import { fusedRmsNorm, fusedRotary, fusedSwiGlu } from "./fused";
import { attentionBias, extendCache, groupedAttention, KVCache, splitHeads } from "./attention";
import { inverseFrequencies, parseRope, RopeParameters, rotaryTables } from "./rope";
import { ForwardOptions, HiddenStateOptions, LayerContext, newVariable, TransformerLM, WeightLookup } from "./causal-lm";
import type { LinearModule } from "./lora";

/** The hidden_act names of silu, whose MLP product runs as one fused op (fused.ts). */
const SILU = new Set(["silu", "swish"]);

/** A Llama-family config.json (llama, mistral, qwen2), in camelCase. */
export interface LlamaConfig extends BaseModelConfig {
  modelType: "llama" | "mistral" | "qwen2";
  /** Model width D (hidden_size). */
  hiddenSize: number;
  /** MLP width (intermediate_size). */
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  /** Key/value heads (grouped-query attention); = numAttentionHeads for plain multi-head attention. */
  numKeyValueHeads: number;
  /** Width of one head; transformers' default hidden_size / num_attention_heads. */
  headDim: number;
  rmsNormEps: number;
  /** hidden_act of the gate ("silu"). */
  hiddenAct: string;
  rope: RopeParameters;
  /** Biases on q_proj, k_proj, v_proj (Llama's attention_bias; always on in Qwen2). */
  qkvBias: boolean;
  /** Bias on o_proj (Llama's attention_bias; never in Qwen2). */
  oProjBias: boolean;
  mlpBias: boolean;
  /** Per layer: the sliding attention window in tokens, or null for full causal attention. */
  slidingWindows: (number | null)[];
}

/** Parses the fields the Llama family shares; mistral.ts and qwen2.ts add theirs. */
export function parseLlamaConfig(raw: Record<string, unknown>, file = "config.json", overrides: Partial<LlamaConfig> = {}): LlamaConfig {
  const hiddenSize = num(raw, "hidden_size", 4096, file);
  const numAttentionHeads = num(raw, "num_attention_heads", 32, file);
  const numKeyValueHeads = num(raw, "num_key_value_heads", numAttentionHeads, file);
  const headDim = num(raw, "head_dim", hiddenSize / numAttentionHeads, file);
  const numHiddenLayers = num(raw, "num_hidden_layers", 32, file);
  if (!Number.isInteger(headDim) || headDim % 2)
    throw new Error(`${file}: head_dim ${headDim} must be an even whole number (hidden_size / num_attention_heads by default)`);
  if (numAttentionHeads % numKeyValueHeads)
    throw new Error(`${file}: num_attention_heads ${numAttentionHeads} is not a multiple of num_key_value_heads ${numKeyValueHeads}`);
  const attentionBias = raw.attention_bias === true;
  const config: LlamaConfig = {
    modelType: "llama",
    vocabSize: num(raw, "vocab_size", undefined, file),
    nPositions: num(raw, "max_position_embeddings", 2048, file),
    hiddenSize,
    intermediateSize: num(raw, "intermediate_size", 11008, file),
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    rmsNormEps: num(raw, "rms_norm_eps", 1e-6, file),
    hiddenAct: (raw.hidden_act as string | undefined) ?? "silu",
    rope: parseRope(raw, file),
    qkvBias: attentionBias,
    oProjBias: attentionBias,
    mlpBias: raw.mlp_bias === true,
    slidingWindows: new Array(numHiddenLayers).fill(null),
    tieWordEmbeddings: raw.tie_word_embeddings === true,
    bosTokenId: tokenId(raw.bos_token_id),
    eosTokenId: tokenId(raw.eos_token_id),
    padTokenId: tokenId(raw.pad_token_id),
    raw,
    ...overrides,
  };
  activation(config.hiddenAct, tf.zeros([1])).dispose(); // an unsupported hidden_act fails here, at load time
  return config;
}

/** The weight names of a Llama-family checkpoint without the "model." prefix (lm_head.weight when untied). */
export function llamaWeightNames(config: LlamaConfig): string[] {
  const names = ["embed_tokens.weight"];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const at = (part: string) => `layers.${i}.${part}`;
    names.push(at("input_layernorm.weight"));
    for (const proj of ["q_proj", "k_proj", "v_proj"]) {
      names.push(at(`self_attn.${proj}.weight`));
      if (config.qkvBias) names.push(at(`self_attn.${proj}.bias`));
    }
    names.push(at("self_attn.o_proj.weight"));
    if (config.oProjBias) names.push(at("self_attn.o_proj.bias"));
    names.push(at("post_attention_layernorm.weight"));
    for (const proj of ["gate_proj", "up_proj", "down_proj"]) {
      names.push(at(`mlp.${proj}.weight`));
      if (config.mlpBias) names.push(at(`mlp.${proj}.bias`));
    }
  }
  names.push("norm.weight");
  if (!config.tieWordEmbeddings) names.push("lm_head.weight");
  return names;
}

function linearShapes(config: LlamaConfig): Record<string, [number, number]> {
  const D = config.hiddenSize;
  const q = config.numAttentionHeads * config.headDim;
  const kv = config.numKeyValueHeads * config.headDim;
  const I = config.intermediateSize;
  return { q_proj: [q, D], k_proj: [kv, D], v_proj: [kv, D], o_proj: [D, q], gate_proj: [I, D], up_proj: [I, D], down_proj: [D, I] };
}

function expectedShape(config: LlamaConfig, name: string): number[] {
  if (name === "embed_tokens.weight" || name === "lm_head.weight") return [config.vocabSize, config.hiddenSize];
  if (name.endsWith("norm.weight")) return [config.hiddenSize];
  const parts = name.split(".");
  const [out, inDim] = linearShapes(config)[parts[parts.length - 2]];
  return name.endsWith(".bias") ? [out] : [out, inDim];
}

/** Llama, Mistral and Qwen2 as transformers defines them (RMSNorm, rotary positions, grouped-query attention, SwiGLU). */
export class LlamaForCausalLM extends TransformerLM<LlamaConfig> {
  protected readonly checkpointPrefix = "model.";
  protected readonly conv1dWeights = false;
  /** PEFT's default for llama, mistral and qwen2. */
  protected readonly defaultLoraTargets = ["q_proj", "v_proj"];
  private readonly inverseFreq: Float32Array;

  protected constructor(config: LlamaConfig, params: Map<string, tf.Variable>) {
    super(config, params);
    this.inverseFreq = inverseFrequencies(config.rope, config.headDim);
  }

  protected create(params: Map<string, tf.Variable>): LlamaForCausalLM {
    return new LlamaForCausalLM(this.config, params);
  }

  /** Builds the model from host tensors named as in a transformers checkpoint (with or without "model."). */
  static fromWeights(config: LlamaConfig, weights: Map<string, HostTensor>, opts: { trainable?: boolean; source?: string } = {}): LlamaForCausalLM {
    const source = opts.source ?? "weights";
    const params = new Map<string, tf.Variable>();
    const fail = (message: string): never => {
      params.forEach((v) => v.dispose());
      throw new Error(`${source}: ${message}`);
    };
    for (const name of llamaWeightNames(config)) {
      const checkpointName = name === "lm_head.weight" ? name : `model.${name}`;
      const host = weights.get(checkpointName) ?? (name === "lm_head.weight" ? undefined : weights.get(name));
      if (!host) fail(`tensor "${checkpointName}" is missing${name === "lm_head.weight" ? " (config.json says tie_word_embeddings is false)" : ""}`);
      const shape = expectedShape(config, name);
      if (host!.shape.join(",") !== shape.join(",")) fail(`tensor "${checkpointName}" has shape [${host!.shape}], config.json implies [${shape}]`);
      params.set(name, newVariable(name, tf.tensor(host!.data, host!.shape, "float32"), opts.trainable ?? true));
    }
    return new LlamaForCausalLM(config, params);
  }

  /** A new model initialised like transformers' _init_weights: N(0, initializer_range), norms at 1, biases 0. */
  static init(config: LlamaConfig, seed = 0): LlamaForCausalLM {
    const std = typeof config.raw.initializer_range === "number" ? config.raw.initializer_range : 0.02;
    const weights = new Map<string, HostTensor>();
    let s = seed;
    for (const name of llamaWeightNames(config)) {
      const shape = expectedShape(config, name);
      const data = tf.tidy(() =>
        name.endsWith("norm.weight") ? tf.ones(shape) : name.endsWith(".bias") ? tf.zeros(shape) : tf.randomNormal(shape, 0, std, "float32", s++),
      );
      weights.set(name === "lm_head.weight" ? name : `model.${name}`, { shape, data: data.dataSync() as Float32Array });
      data.dispose();
    }
    return LlamaForCausalLM.fromWeights(config, weights, { source: "init" });
  }

  /** q/k/v/o projections and gate/up/down of every layer (not the head), as PEFT's "all-linear" takes them. */
  linearModules(): LinearModule[] {
    const shapes = linearShapes(this.config);
    const out: LinearModule[] = [];
    for (let i = 0; i < this.config.numHiddenLayers; i++) {
      for (const [proj, group] of [
        ["q_proj", "self_attn"],
        ["k_proj", "self_attn"],
        ["v_proj", "self_attn"],
        ["o_proj", "self_attn"],
        ["gate_proj", "mlp"],
        ["up_proj", "mlp"],
        ["down_proj", "mlp"],
      ]) {
        const [outFeatures, inFeatures] = shapes[proj];
        out.push({ name: `layers.${i}.${group}.${proj}`, inFeatures, outFeatures });
      }
    }
    return out;
  }

  /** The output projection [V, D]: the token embedding when tied, else lm_head. */
  lmHeadWeight(): tf.Tensor2D {
    return this.p<tf.Rank.R2>(this.config.tieWordEmbeddings ? "embed_tokens.weight" : "lm_head.weight");
  }

  protected runLayers(inputIds: tf.Tensor2D, opts: HiddenStateOptions & ForwardOptions, ctx: LayerContext, present: KVCache | undefined): tf.Tensor3D {
    const cfg = this.config;
    const T = inputIds.shape[1];
    const past = opts.pastKeyValues;
    const pastLength = past && past.length ? past[0].key.shape[2] : 0;
    const S = pastLength + T;
    if (S > cfg.nPositions && !opts.positionIds) {
      throw new Error(`sequence of ${S} tokens is longer than the model's max_position_embeddings ${cfg.nPositions}`);
    }
    let x = embedding(this.p<tf.Rank.R2>("embed_tokens.weight"), inputIds) as tf.Tensor3D; // [B, T, D]
    const positions = opts.positionIds ?? (tf.range(pastLength, S, 1, "int32").reshape([1, T]) as tf.Tensor2D); // [B or 1, T]
    const { cos, sin } = rotaryTables(positions, this.inverseFreq); // [B or 1, 1, T, hd]
    // One additive mask per distinct window (full attention: null).
    const biases = new Map<number | null, tf.Tensor4D>();
    for (const window of cfg.slidingWindows) {
      if (!biases.has(window)) biases.set(window, attentionBias(T, pastLength, opts.attentionMask, window && window < S ? window : null));
    }
    const checkpoint = !!opts.gradientCheckpointing && !past && !present;
    for (let layer = 0; layer < cfg.numHiddenLayers; layer++) {
      const bias = biases.get(cfg.slidingWindows[layer])!; // [B or 1, 1, T, S]
      x = this.runBlock(`layers.${layer}.`, x, [bias, cos, sin], ctx, checkpoint, (input, get, [b, c, s]) =>
        this.block(layer, input, get, b, c, s, ctx, past?.[layer], present),
      );
    }
    return fusedRmsNorm(x, this.p("norm.weight"), cfg.rmsNormEps) as tf.Tensor3D;
  }

  /**
   * One decoder layer: x + attention(RMSNorm(x)), then + MLP(RMSNorm(·)).
   * x: [B, T, D], bias: [B or 1, 1, T, S], cos/sin: [B or 1, 1, T, hd] → [B, T, D]
   */
  private block(
    layer: number,
    x: tf.Tensor3D,
    get: WeightLookup,
    bias: tf.Tensor,
    cos: tf.Tensor,
    sin: tf.Tensor,
    ctx: LayerContext,
    past?: { key: tf.Tensor4D; value: tf.Tensor4D },
    present?: KVCache,
  ): tf.Tensor3D {
    const cfg = this.config;
    const at = (part: string) => `layers.${layer}.${part}`;
    const h = fusedRmsNorm(x, get(at("input_layernorm.weight")) as tf.Tensor1D, cfg.rmsNormEps);
    const q = fusedRotary(splitHeads(this.project(at("self_attn.q_proj"), h, get, ctx), cfg.numAttentionHeads, cfg.headDim), cos, sin); // [B, H, T, hd]
    const kNew = fusedRotary(splitHeads(this.project(at("self_attn.k_proj"), h, get, ctx), cfg.numKeyValueHeads, cfg.headDim), cos, sin); // [B, Hkv, T, hd]
    const vNew = splitHeads(this.project(at("self_attn.v_proj"), h, get, ctx), cfg.numKeyValueHeads, cfg.headDim);
    const [k, v] = extendCache(kNew, vNew, past, present); // [B, Hkv, S, hd]
    const attended = groupedAttention(q, k, v, bias, 1 / Math.sqrt(cfg.headDim)); // [B, T, H·hd]
    const afterAttention = x.add(this.project(at("self_attn.o_proj"), attended, get, ctx));
    const h2 = fusedRmsNorm(afterAttention, get(at("post_attention_layernorm.weight")) as tf.Tensor1D, cfg.rmsNormEps);
    const gateIn = this.project(at("mlp.gate_proj"), h2, get, ctx); // [B, T, I]
    const up = this.project(at("mlp.up_proj"), h2, get, ctx); // [B, T, I]
    const gated = SILU.has(cfg.hiddenAct) ? fusedSwiGlu(gateIn, up) : activation(cfg.hiddenAct, gateIn).mul(up); // [B, T, I]
    return afterAttention.add(this.project(at("mlp.down_proj"), gated, get, ctx)) as tf.Tensor3D;
  }
}
