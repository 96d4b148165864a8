/**
 * GPT-2 exactly as Hugging Face transformers defines GPT2LMHeadModel: learned position embeddings, pre-LayerNorm
 * blocks, fused q/k/v projection stored as Conv1D weights [in, out], tied (or separate) language-model head.
 * Dropout is not implemented: DPO fine-tuning runs with dropout off (TRL's default disable_dropout=True).
 */
import * as tf from "@tensorflow/tfjs";
import { GPT2Config } from "./config";
import { HostTensor } from "./safetensors";
import { activation, embedding, layerNorm, matMul } from "./layers";
import { attentionBias, extendCache, KVCache, splitHeads } from "./attention";
import { ForwardOptions, HiddenStateOptions, LayerContext, newVariable, TransformerLM, WeightLookup } from "./causal-lm";
import type { LinearModule } from "./lora";

/** The weight names of one GPT-2 checkpoint, in the order transformers lists them (without the "transformer." prefix). */
export function gpt2WeightNames(config: GPT2Config): string[] {
  const names = ["wte.weight", "wpe.weight"];
  for (let i = 0; i < config.nLayer; i++) {
    for (const part of ["ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"]) {
      names.push(`h.${i}.${part}.weight`, `h.${i}.${part}.bias`);
    }
  }
  names.push("ln_f.weight", "ln_f.bias");
  if (!config.tieWordEmbeddings) names.push("lm_head.weight");
  return names;
}

function expectedShape(config: GPT2Config, name: string): number[] {
  const D = config.nEmbd;
  const last = name.split(".").slice(-2).join(".");
  if (name === "wte.weight") return [config.vocabSize, D];
  if (name === "wpe.weight") return [config.nPositions, D];
  if (name === "lm_head.weight") return [config.vocabSize, D];
  const table: Record<string, number[]> = {
    "c_attn.weight": [D, 3 * D],
    "c_attn.bias": [3 * D],
    "c_fc.weight": [D, config.nInner],
    "c_fc.bias": [config.nInner],
  };
  if (name.includes("mlp.c_proj")) return last.endsWith("weight") ? [config.nInner, D] : [D];
  if (name.includes("attn.c_proj")) return last.endsWith("weight") ? [D, D] : [D];
  return table[last] ?? [D];
}

/** GPT-2 as transformers' GPT2LMHeadModel defines it (Conv1D weights, learned positions, tied head). */
export class GPT2LMHeadModel extends TransformerLM<GPT2Config> {
  protected readonly checkpointPrefix = "transformer.";
  protected readonly conv1dWeights = true;
  protected readonly defaultLoraTargets = ["c_attn"];

  private constructor(config: GPT2Config, params: Map<string, tf.Variable>) {
    super(config, params);
  }

  protected create(params: Map<string, tf.Variable>): GPT2LMHeadModel {
    return new GPT2LMHeadModel(this.config, params);
  }

  /** Builds the model from host tensors named as in a transformers checkpoint (with or without "transformer."). */
  static fromWeights(config: GPT2Config, weights: Map<string, HostTensor>, opts: { trainable?: boolean; source?: string } = {}): GPT2LMHeadModel {
    const source = opts.source ?? "weights";
    const find = (name: string): HostTensor | undefined => weights.get(`transformer.${name}`) ?? weights.get(name);
    const params = new Map<string, tf.Variable>();
    for (const name of gpt2WeightNames(config)) {
      const host = name === "lm_head.weight" ? weights.get("lm_head.weight") : find(name);
      if (!host) {
        params.forEach((v) => v.dispose());
        throw new Error(`${source}: tensor "${name === "lm_head.weight" ? name : "transformer." + name}" is missing`);
      }
      const shape = expectedShape(config, name);
      if (host.shape.join(",") !== shape.join(",")) {
        params.forEach((v) => v.dispose());
        throw new Error(`${source}: tensor "${name}" has shape [${host.shape}], config.json implies [${shape}]`);
      }
      params.set(name, newVariable(name, tf.tensor(host.data, host.shape, "float32"), opts.trainable ?? true));
    }
    return new GPT2LMHeadModel(config, params);
  }

  /** A new model initialised like transformers' GPT2 (_init_weights): N(0, 0.02), c_proj scaled by 1/√(2·nLayer). */
  static init(config: GPT2Config, seed = 0): GPT2LMHeadModel {
    const weights = new Map<string, HostTensor>();
    let s = seed;
    for (const name of gpt2WeightNames(config)) {
      const shape = expectedShape(config, name);
      const isNorm = name.includes("ln_");
      const isBias = name.endsWith("bias");
      const std = name.endsWith("c_proj.weight") ? 0.02 / Math.sqrt(2 * config.nLayer) : 0.02;
      const data = tf.tidy(() => (isNorm && !isBias ? tf.ones(shape) : isBias ? tf.zeros(shape) : tf.randomNormal(shape, 0, std, "float32", s++)));
      weights.set(name, { shape, data: data.dataSync() as Float32Array });
      data.dispose();
    }
    return GPT2LMHeadModel.fromWeights(config, weights, { source: "init" });
  }

  /** GPT-2's Conv1D layers: c_attn, attn.c_proj, c_fc, mlp.c_proj of every block. */
  linearModules(): LinearModule[] {
    const D = this.config.nEmbd;
    const inner = this.config.nInner;
    const out: LinearModule[] = [];
    for (let i = 0; i < this.config.nLayer; i++) {
      out.push(
        { name: `h.${i}.attn.c_attn`, inFeatures: D, outFeatures: 3 * D },
        { name: `h.${i}.attn.c_proj`, inFeatures: D, outFeatures: D },
        { name: `h.${i}.mlp.c_fc`, inFeatures: D, outFeatures: inner },
        { name: `h.${i}.mlp.c_proj`, inFeatures: inner, outFeatures: D },
      );
    }
    return out;
  }

  /** The output projection [V, D]: the token embedding when tied, else lm_head. */
  lmHeadWeight(): tf.Tensor2D {
    return this.p<tf.Rank.R2>(this.config.tieWordEmbeddings ? "wte.weight" : "lm_head.weight");
  }

  protected runLayers(inputIds: tf.Tensor2D, opts: HiddenStateOptions & ForwardOptions, ctx: LayerContext, present: KVCache | undefined): tf.Tensor3D {
    const cfg = this.config;
    const T = inputIds.shape[1];
    const D = cfg.nEmbd;
    const past = opts.pastKeyValues;
    const pastLength = past && past.length ? past[0].key.shape[2] : 0;
    const S = pastLength + T;
    if (S > cfg.nPositions && !opts.positionIds) {
      throw new Error(`sequence of ${S} tokens is longer than the model's n_positions ${cfg.nPositions}`);
    }
    const tokens = embedding(this.p<tf.Rank.R2>("wte.weight"), inputIds); // [B, T, D]
    const positions = opts.positionIds
      ? tf.gather(this.p<tf.Rank.R2>("wpe.weight"), opts.positionIds) // [B, T, D] (no gradient needed: generation)
      : tf.slice(this.p<tf.Rank.R2>("wpe.weight"), [pastLength, 0], [T, D]); // [T, D]
    let x = tokens.add(positions) as tf.Tensor3D; // [B, T, D]
    const bias = attentionBias(T, pastLength, opts.attentionMask); // [B or 1, 1, T, S]
    const checkpoint = !!opts.gradientCheckpointing && !past && !present;
    for (let layer = 0; layer < cfg.nLayer; layer++) {
      x = this.runBlock(`h.${layer}.`, x, [bias], ctx, checkpoint, (input, get, constants) =>
        this.block(layer, input, get, constants[0], ctx, past?.[layer], present),
      );
    }
    return layerNorm(x, this.p("ln_f.weight"), this.p("ln_f.bias"), cfg.layerNormEpsilon) as tf.Tensor3D;
  }

  /**
   * One pre-LayerNorm transformer block.
   * x: [B, T, D], attentionBias: [B or 1, 1, T, S] → [B, T, D]
   */
  private block(
    layer: number,
    x: tf.Tensor3D,
    get: WeightLookup,
    attentionBias: tf.Tensor,
    ctx: LayerContext,
    past?: { key: tf.Tensor4D; value: tf.Tensor4D },
    present?: KVCache,
  ): tf.Tensor3D {
    const cfg = this.config;
    const [B, T, D] = x.shape;
    const H = cfg.nHead;
    const headDim = D / H;
    const at = (part: string) => `h.${layer}.${part}`;
    const scale = cfg.scaleAttnWeights ? 1 / Math.sqrt(headDim) : 1;
    const layerScale = cfg.scaleAttnByInverseLayerIdx ? scale / (layer + 1) : scale;
    const h = layerNorm(x, get(at("ln_1.weight")) as tf.Tensor1D, get(at("ln_1.bias")) as tf.Tensor1D, cfg.layerNormEpsilon);
    const qkv = this.project(at("attn.c_attn"), h, get, ctx); // [B, T, 3D]
    // Split heads with 3-D slices and 4-D transposes (no 5-D tensors).
    const heads = (part: number) => splitHeads(tf.slice(qkv, [0, 0, part * D], [B, T, D]), H, headDim); // [B, H, T, hd]
    const q = heads(0);
    const [k, v] = extendCache(heads(1), heads(2), past, present); // [B, H, S, hd]
    const scores = matMul(q, k, false, true).mul(layerScale).add(attentionBias); // [B, H, T, S]
    const probs = tf.softmax(scores, -1);
    const attended = matMul(probs, v).transpose([0, 2, 1, 3]).reshape([B, T, D]); // [B, T, D]
    const afterAttention = x.add(this.project(at("attn.c_proj"), attended, get, ctx));
    const h2 = layerNorm(afterAttention, get(at("ln_2.weight")) as tf.Tensor1D, get(at("ln_2.bias")) as tf.Tensor1D, cfg.layerNormEpsilon);
    const hidden = activation(cfg.activationFunction, this.project(at("mlp.c_fc"), h2, get, ctx)); // [B, T, 4D]
    return afterAttention.add(this.project(at("mlp.c_proj"), hidden, get, ctx)) as tf.Tensor3D;
  }
}
