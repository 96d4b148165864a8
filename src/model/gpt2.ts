/**
 * GPT-2 exactly as Hugging Face transformers defines GPT2LMHeadModel: learned position embeddings, pre-LayerNorm
 * blocks, fused q/k/v projection stored as Conv1D weights [in, out], tied (or separate) language-model head.
 * Dropout is not implemented: DPO fine-tuning runs with dropout off (TRL's default disable_dropout=True).
 */
import * as tf from "@tensorflow/tfjs";
import { ModelConfig } from "./config";
import { HostTensor } from "./safetensors";
import { activation, checkpointed, embedding, layerNorm, linear, matMul } from "./layers";

/** Keys and values of earlier positions, one entry per layer: [B, H, S, headDim] each. */
export type KVCache = { key: tf.Tensor4D; value: tf.Tensor4D }[];

export interface ForwardOptions {
  /** 1 for real tokens, 0 for padding, over past + current positions: [B, S]. Default: all ones. */
  attentionMask?: tf.Tensor2D;
  /** Position of each current token: [B, T]. Default: pastLength + 0..T-1. */
  positionIds?: tf.Tensor2D;
  /** Cached keys/values of earlier positions (generation). */
  pastKeyValues?: KVCache;
  /** Return the new cache (past + current keys/values). */
  useCache?: boolean;
}

export interface ForwardOutput {
  logits: tf.Tensor3D; // [B, T, V]
  presentKeyValues?: KVCache;
}

/** The weight names of one GPT-2 checkpoint, in the order transformers lists them (without the "transformer." prefix). */
export function gpt2WeightNames(config: ModelConfig): string[] {
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

function expectedShape(config: ModelConfig, name: string): number[] {
  const D = config.nEmbd;
  const last = name.split(".").slice(-2).join(".");
  if (name === "wte.weight") return [config.vocabSize, D];
  if (name === "wpe.weight") return [config.nPositions, D];
  if (name === "lm_head.weight") return [config.vocabSize, D];
  const table: Record<string, number[]> = {
    "c_attn.weight": [D, 3 * D], "c_attn.bias": [3 * D],
    "c_fc.weight": [D, config.nInner], "c_fc.bias": [config.nInner],
  };
  if (name.includes("mlp.c_proj")) return last.endsWith("weight") ? [config.nInner, D] : [D];
  if (name.includes("attn.c_proj")) return last.endsWith("weight") ? [D, D] : [D];
  return table[last] ?? [D];
}

export class GPT2LMHeadModel {
  readonly config: ModelConfig;
  /** Parameters by Hugging Face name without the "transformer." prefix (e.g. "h.0.attn.c_attn.weight"). */
  readonly params: Map<string, tf.Variable>;

  private constructor(config: ModelConfig, params: Map<string, tf.Variable>) {
    this.config = config;
    this.params = params;
  }

  /** Builds the model from host tensors named as in a transformers checkpoint (with or without "transformer."). */
  static fromWeights(config: ModelConfig, weights: Map<string, HostTensor>, opts: { trainable?: boolean; source?: string } = {}): GPT2LMHeadModel {
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
      params.set(name, tf.variable(tf.tensor(host.data, host.shape, "float32"), opts.trainable ?? true, `${name}_${nextId++}`));
    }
    return new GPT2LMHeadModel(config, params);
  }

  /** A new model initialised like transformers' GPT2 (_init_weights): N(0, 0.02), c_proj scaled by 1/√(2·nLayer). */
  static init(config: ModelConfig, seed = 0): GPT2LMHeadModel {
    const weights = new Map<string, HostTensor>();
    let s = seed;
    for (const name of gpt2WeightNames(config)) {
      const shape = expectedShape(config, name);
      const isNorm = name.includes("ln_");
      const isBias = name.endsWith("bias");
      const std = name.endsWith("c_proj.weight") ? 0.02 / Math.sqrt(2 * config.nLayer) : 0.02;
      const data = tf.tidy(() =>
        isNorm && !isBias ? tf.ones(shape) : isBias ? tf.zeros(shape) : tf.randomNormal(shape, 0, std, "float32", s++),
      );
      weights.set(name, { shape, data: data.dataSync() as Float32Array });
      data.dispose();
    }
    return GPT2LMHeadModel.fromWeights(config, weights, { source: "init" });
  }

  private p<R extends tf.Rank>(name: string): tf.Tensor<R> {
    const v = this.params.get(name);
    if (!v) throw new Error(`GPT-2 parameter ${name} not found`);
    return v as unknown as tf.Tensor<R>;
  }

  /** The parameters a trainer updates. */
  trainableVariables(): tf.Variable[] {
    return [...this.params.values()].filter((v) => v.trainable);
  }

  /** Number of parameters (tied embeddings counted once). */
  numParameters(): number {
    let n = 0;
    this.params.forEach((v) => (n += v.size));
    return n;
  }

  /** Logits for every position. inputIds: int32 [B, T] → logits [B, T, V]. */
  forward(inputIds: tf.Tensor2D, opts: ForwardOptions = {}): ForwardOutput {
    const [B, T] = inputIds.shape;
    const present: KVCache | undefined = opts.useCache ? [] : undefined;
    const logits = tf.tidy(() => {
      const hidden = this.runLayers(inputIds, opts, present); // [B, T, D]
      return matMul(hidden.reshape([B * T, this.config.nEmbd]), this.lmHeadWeight(), false, true).reshape([B, T, this.config.vocabSize]) as tf.Tensor3D;
    });
    return present ? { logits, presentKeyValues: present } : { logits };
  }

  /** The final hidden states (after ln_f), the input of the language-model head. inputIds: int32 [B, T] → [B, T, D]. */
  hiddenStates(inputIds: tf.Tensor2D, opts: Omit<ForwardOptions, "useCache" | "pastKeyValues"> & { gradientCheckpointing?: boolean } = {}): tf.Tensor3D {
    return tf.tidy(() => this.runLayers(inputIds, opts, undefined));
  }

  /** The language-model head's weight [V, D] (the token embedding when tied). */
  lmHeadWeight(): tf.Tensor2D {
    return this.p<tf.Rank.R2>(this.config.tieWordEmbeddings ? "wte.weight" : "lm_head.weight");
  }

  /** Embeddings → blocks → ln_f. Pushes each layer's keys/values into present when given. → [B, T, D] */
  private runLayers(inputIds: tf.Tensor2D, opts: ForwardOptions & { gradientCheckpointing?: boolean }, present: KVCache | undefined): tf.Tensor3D {
    const cfg = this.config;
    const [B, T] = inputIds.shape;
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

    // Additive attention bias: 0 where query t may attend key s (causal and not padding), -1e9 elsewhere.
    const causal = tf.linalg.bandPart(tf.ones([T, S]), -1, pastLength); // [T, S]
    let allowed: tf.Tensor = causal.reshape([1, 1, T, S]);
    if (opts.attentionMask) allowed = allowed.mul(opts.attentionMask.cast("float32").reshape([B, 1, 1, S])); // [B, 1, T, S]
    const attentionBias = allowed.sub(1).mul(1e9) as tf.Tensor4D;

    for (let layer = 0; layer < cfg.nLayer; layer++) {
      const weights = BLOCK_PARTS.map((part) => this.p(`h.${layer}.${part}`));
      if (opts.gradientCheckpointing && !past && !present) x = checkpointed(this.block.bind(this, layer), x, weights, attentionBias);
      else x = this.block(layer, x, weights, attentionBias, past?.[layer], present);
    }
    return layerNorm(x, this.p("ln_f.weight"), this.p("ln_f.bias"), cfg.layerNormEpsilon) as tf.Tensor3D;
  }

  /**
   * One pre-LayerNorm transformer block. weights: the tensors of BLOCK_PARTS, in order.
   * x: [B, T, D], attentionBias: [B or 1, 1, T, S] → [B, T, D]
   */
  private block(layer: number, x: tf.Tensor3D, weights: tf.Tensor[], attentionBias: tf.Tensor, past?: { key: tf.Tensor4D; value: tf.Tensor4D }, present?: KVCache): tf.Tensor3D {
    const cfg = this.config;
    const [B, T, D] = x.shape;
    const H = cfg.nHead;
    const headDim = D / H;
    const [ln1W, ln1B, attnW, attnB, projW, projB, ln2W, ln2B, fcW, fcB, mlpProjW, mlpProjB] = weights as tf.Tensor1D[] & tf.Tensor2D[];
    const scale = cfg.scaleAttnWeights ? 1 / Math.sqrt(headDim) : 1;
    const layerScale = cfg.scaleAttnByInverseLayerIdx ? scale / (layer + 1) : scale;
    const h = layerNorm(x, ln1W, ln1B, cfg.layerNormEpsilon);
    const qkv = linear(h, attnW as tf.Tensor2D, attnB); // [B, T, 3D]
    // Split heads with 3-D slices and 4-D transposes (no 5-D tensors).
    const heads = (part: number) =>
      tf.slice(qkv, [0, 0, part * D], [B, T, D]).reshape([B, T, H, headDim]).transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, H, T, hd]
    const q = heads(0);
    let k = heads(1);
    let v = heads(2);
    if (past) {
      k = tf.concat([past.key, k], 2); // [B, H, S, hd]
      v = tf.concat([past.value, v], 2);
    }
    if (present) present.push({ key: tf.keep(k), value: tf.keep(v) });
    const scores = matMul(q, k, false, true).mul(layerScale).add(attentionBias); // [B, H, T, S]
    const probs = tf.softmax(scores, -1);
    const attended = matMul(probs, v).transpose([0, 2, 1, 3]).reshape([B, T, D]); // [B, T, D]
    const afterAttention = x.add(linear(attended, projW as tf.Tensor2D, projB));
    const h2 = layerNorm(afterAttention, ln2W, ln2B, cfg.layerNormEpsilon);
    const hidden = activation(cfg.activationFunction, linear(h2, fcW as tf.Tensor2D, fcB)); // [B, T, 4D]
    return afterAttention.add(linear(hidden, mlpProjW as tf.Tensor2D, mlpProjB)) as tf.Tensor3D;
  }

  /** A deep copy; trainable=false gives a frozen reference model. */
  clone(opts: { trainable?: boolean } = {}): GPT2LMHeadModel {
    const params = new Map<string, tf.Variable>();
    this.params.forEach((v, name) => {
      // A copy with its own storage (tf.variable(v) would share v's until v is next assigned).
      const copy = tf.tidy(() => v.mul(1));
      params.set(name, tf.variable(copy, opts.trainable ?? true, `${name}_${nextId++}`));
      copy.dispose();
    });
    return new GPT2LMHeadModel(this.config, params);
  }

  /** The weights as host tensors, named as transformers saves GPT2LMHeadModel. */
  async toHost(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const [name, v] of this.params) {
      const key = name === "lm_head.weight" ? name : `transformer.${name}`;
      out.set(key, { shape: v.shape.slice(), data: (await v.data()) as Float32Array });
    }
    return out;
  }

  dispose(): void {
    this.params.forEach((v) => v.dispose());
    this.params.clear();
  }
}

let nextId = 0;

/** The weights of one block, in the order GPT2LMHeadModel.block takes them. */
const BLOCK_PARTS = [
  "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
  "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
];

/** Frees a KV cache. */
export function disposeCache(cache: KVCache | undefined): void {
  cache?.forEach(({ key, value }) => {
    key.dispose();
    value.dispose();
  });
}
