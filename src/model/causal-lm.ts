/**
 * CausalLM: what every architecture offers the rest of dpo-ts (trainer, log-probs, generation, server), and
 * TransformerLM, the part every architecture shares: parameters by name, the language-model head, cloning, host
 * copies, gradient checkpointing per block, and LoRA adapters on the linear layers (attach, disable, merge, save and
 * load in PEFT's format). An architecture supplies its blocks (runLayers) and the names of its linear layers.
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "./config";
import type { KVCache } from "./attention";
import { checkpointed, linear, linearT, matMul } from "./layers";
import { HostTensor } from "./safetensors";
import type { TransposedWeights } from "./transposed-weights";
import {
  adapterConfigJson,
  AdapterFiles,
  checkLoraConfig,
  frozenLoraLinear,
  LinearModule,
  LoraConfig,
  loraDelta,
  loraScaling,
  targetedModules,
  writeAdapter,
} from "./lora";

/** Options of a forward pass: attention mask, positions, and the KV cache to read or fill. */
export interface ForwardOptions {
  /** 1 for real tokens, 0 for padding, over past + current positions: [B, S]. Default: all ones. */
  attentionMask?: tf.Tensor2D;
  /** Position of each current token: [B, T]. Default: pastLength + 0..T-1. */
  positionIds?: tf.Tensor2D;
  /** Cached keys/values of earlier positions (generation). */
  pastKeyValues?: KVCache;
  /** Return the new cache (past + current keys/values). */
  useCache?: boolean;
  /** Run the base model only, as if no LoRA adapter were attached (the DPO reference of a LoRA policy). */
  disableAdapters?: boolean;
  /** Transposed copies of the frozen weights to reuse across calls (the server's decode steps; wasm only gains). */
  transposedWeights?: TransposedWeights;
  /** Logits of the last position only, [B, 1, V] (a prefill needs no more; the head is skipped for the others). */
  lastPositionOnly?: boolean;
}

/** Options of {@link CausalLM.hiddenStates}: the forward options without the cache, plus gradient checkpointing. */
export type HiddenStateOptions = Omit<ForwardOptions, "useCache" | "pastKeyValues" | "lastPositionOnly"> & {
  /** Recompute each block's activations in the backward pass instead of keeping them. */
  gradientCheckpointing?: boolean;
};

/** What a forward pass returns: logits [B, T, V] ([B, 1, V] with lastPositionOnly) and, with useCache, the keys and values to pass next time. */
export interface ForwardOutput {
  logits: tf.Tensor3D; // [B, T or 1, V]
  presentKeyValues?: KVCache;
}

/** A causal language model of any supported architecture. */
export interface CausalLM {
  readonly config: ModelConfig;
  /** Parameters by name as in the checkpoint without its prefix ("h.0.attn.c_attn.weight", "layers.0.mlp.up_proj.weight"); LoRA matrices end in ".lora_A.weight" / ".lora_B.weight". */
  readonly params: Map<string, tf.Variable>;
  /** The attached LoRA configuration, or null. */
  readonly lora: LoraConfig | null;
  /** Where the base weights came from (folder or Hub id), written as base_model_name_or_path of saved adapters. */
  nameOrPath: string | null;
  trainableVariables(): tf.Variable[];
  numParameters(): number;
  /** Logits for every position. inputIds: int32 [B, T] → logits [B, T, V]. */
  forward(inputIds: tf.Tensor2D, opts?: ForwardOptions): ForwardOutput;
  /** The final hidden states (after the last norm), the input of the head. inputIds: int32 [B, T] → [B, T, D]. */
  hiddenStates(inputIds: tf.Tensor2D, opts?: HiddenStateOptions): tf.Tensor3D;
  /** The language-model head's weight [V, D] (the token embedding when tied). */
  lmHeadWeight(): tf.Tensor2D;
  /** A deep copy (adapters included unless withoutAdapters); trainable=false freezes every parameter. */
  clone(opts?: { trainable?: boolean; withoutAdapters?: boolean }): CausalLM;
  /** The base weights as host tensors, named as transformers saves them (adapters not included). */
  toHost(): Promise<Map<string, HostTensor>>;
  /** The module names (without prefix) whose layers can carry adapters, with their sizes. */
  linearModules(): LinearModule[];
  /** Attaches fresh LoRA adapters (A Kaiming-uniform seeded, B zero) and freezes the base weights. */
  addAdapters(config: LoraConfig, seed?: number): void;
  /** Attaches the adapter read from a PEFT folder and freezes the base weights. */
  loadAdapter(adapter: AdapterFiles, source?: string): void;
  /** Writes the adapters as a PEFT folder (adapter_config.json + adapter_model.safetensors). */
  saveAdapter(dir: string): Promise<void>;
  /** The same network with adapters switched off: shares every weight, owns nothing (disposing it frees nothing). */
  withAdaptersDisabled(): CausalLM;
  /** The same network with a frozen copy of the adapters as they are now: shares the base weights, owns only the
   * adapter copies (TRL's reference for a model that starts from a pretrained adapter, its "ref" adapter). */
  withFrozenAdapterCopy(): CausalLM;
  /** A new model without adapters whose weights are W + scaling·B·A (PEFT's merge_and_unload). */
  mergeAdapters(): CausalLM;
  dispose(): void;
}

/** Per-forward settings the blocks read. */
export interface LayerContext {
  /** Whether LoRA adapters take part. */
  adapters: boolean;
  /** Base seed of this forward pass's adapter dropout masks; null = no dropout (inference, or dropout 0). */
  dropoutSeed: number | null;
  /** Where frozen [out, in] weights' transposes are kept between calls, when the caller gave one. */
  transposedWeights: TransposedWeights | null;
}

/** Looks up a block's tensors by parameter name. */
export type WeightLookup = (name: string) => tf.Tensor;

let nextVariableId = 0;

/** A variable named uniquely (tfjs variable names must be unique in the engine); takes ownership of value. */
export function newVariable(name: string, value: tf.Tensor, trainable: boolean): tf.Variable {
  const variable = tf.variable(value, trainable, `${name}_${nextVariableId++}`);
  value.dispose(); // the variable keeps the data
  return variable;
}

/** The parts every decoder-only architecture shares (parameters, forward pass, LoRA, cloning); subclasses supply the layers. */
export abstract class TransformerLM<C extends ModelConfig = ModelConfig> implements CausalLM {
  /** The model's config.json, parsed. */
  readonly config: C;
  /** Every parameter by its checkpoint name (without the architecture's prefix). */
  readonly params: Map<string, tf.Variable>;
  /** The LoRA configuration when adapters are attached, else null. */
  lora: LoraConfig | null = null;
  /** Where the model was loaded from (folder or Hub id), or null for a new one. */
  nameOrPath: string | null = null;
  /** Modules that carry adapters, in a fixed order (their index seeds their dropout mask). */
  private adapterModules: string[] = [];
  /** Parameters borrowed from another model (withFrozenAdapterCopy): never disposed here. */
  private borrowed = new Set<string>();
  private dropoutSeedBase = 0;
  private forwardCount = 0;

  /** Prefix of the base weights' names in the checkpoint ("transformer." for GPT-2, "model." for Llama). */
  protected abstract readonly checkpointPrefix: string;
  /** True when linear weights are stored [in, out] (GPT-2's Conv1D, PEFT's fan_in_fan_out); else [out, in]. */
  protected abstract readonly conv1dWeights: boolean;
  /** PEFT's default target modules for the architecture. */
  protected abstract readonly defaultLoraTargets: string[];

  protected constructor(config: C, params: Map<string, tf.Variable>) {
    this.config = config;
    this.params = params;
  }

  /** The linear layers LoRA adapters can attach to, in a fixed order. */
  abstract linearModules(): LinearModule[];
  /** The output projection [V, D] (the token embedding when tied). */
  abstract lmHeadWeight(): tf.Tensor2D;
  /** Embeddings → blocks → final norm; pushes each layer's keys/values into present when given. → [B, T, D] */
  protected abstract runLayers(inputIds: tf.Tensor2D, opts: HiddenStateOptions & ForwardOptions, ctx: LayerContext, present: KVCache | undefined): tf.Tensor3D;
  /** A model of the same class over these parameters. */
  protected abstract create(params: Map<string, tf.Variable>): TransformerLM<C>;

  protected p<R extends tf.Rank>(name: string): tf.Tensor<R> {
    const v = this.params.get(name);
    if (!v) throw new Error(`${this.config.modelType} parameter ${name} not found`);
    return v as unknown as tf.Tensor<R>;
  }

  /** The parameters that train (all, or only the adapters when LoRA is attached). */
  trainableVariables(): tf.Variable[] {
    return [...this.params.values()].filter((v) => v.trainable);
  }

  /** Number of parameters (tied embeddings counted once, adapters included). */
  numParameters(): number {
    let n = 0;
    this.params.forEach((v) => (n += v.size));
    return n;
  }

  /** The forward pass: token ids [B, T] → logits [B, T, V] (or [B, 1, V]), with the KV cache when useCache is set. */
  forward(inputIds: tf.Tensor2D, opts: ForwardOptions = {}): ForwardOutput {
    const [B, T] = inputIds.shape;
    const present: KVCache | undefined = opts.useCache ? [] : undefined;
    const ctx = this.context(opts);
    const logits = tf.tidy(() => {
      let hidden = this.runLayers(inputIds, opts, ctx, present); // [B, T, D]
      const positions = opts.lastPositionOnly ? 1 : T;
      if (positions < T) hidden = hidden.slice([0, T - 1, 0], [B, 1, -1]); // [B, 1, D]
      const head = this.lmHeadWeight(); // [V, D]
      const rows = hidden.reshape([B * positions, head.shape[1]]); // [B·T, D]
      const frozenHead = head instanceof tf.Variable && !head.trainable;
      const headT = frozenHead ? (ctx.transposedWeights?.transposeOf(head) ?? null) : null; // [D, V]
      return (headT ? matMul(rows, headT) : matMul(rows, head, false, true)).reshape([B, positions, head.shape[0]]) as tf.Tensor3D;
    });
    return present ? { logits, presentKeyValues: present } : { logits };
  }

  /** The final hidden states [B, T, D] (no output projection), for losses that project chunk by chunk. */
  hiddenStates(inputIds: tf.Tensor2D, opts: HiddenStateOptions = {}): tf.Tensor3D {
    const ctx = this.context(opts);
    return tf.tidy(() => this.runLayers(inputIds, opts, ctx, undefined));
  }

  /**
   * Adapters on unless disabled; dropout only while a gradient is being recorded (training), each forward pass with
   * its own seed drawn from the adapters' seed, so a run is reproducible and a checkpointed block's recomputation
   * sees the same masks (the seed travels in the context, not in the random state).
   */
  private context(opts: { disableAdapters?: boolean; transposedWeights?: TransposedWeights }): LayerContext {
    const adapters = this.lora !== null && !opts.disableAdapters;
    const training = (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
    const dropoutSeed = adapters && training && this.lora!.dropout > 0 ? this.dropoutSeedBase * 1_000_003 + ++this.forwardCount * 7919 : null;
    return { adapters, dropoutSeed, transposedWeights: opts.transposedWeights ?? null };
  }

  /**
   * One linear layer (weight and optional bias named module.weight / module.bias) plus its adapter's update when the
   * adapter takes part. x: [..., in] → [..., out]
   */
  protected project(module: string, x: tf.Tensor, get: WeightLookup, ctx: LayerContext): tf.Tensor {
    const weight = get(`${module}.weight`) as tf.Tensor2D;
    const bias = this.params.has(`${module}.bias`) ? (get(`${module}.bias`) as tf.Tensor1D) : undefined;
    // A frozen layer (the base under LoRA, a reference) needs only its input's gradient in a backward pass.
    const frozen = !this.params.get(`${module}.weight`)!.trainable && !this.params.get(`${module}.bias`)?.trainable;
    const withAdapter = ctx.adapters && this.params.has(`${module}.lora_A.weight`);
    const index = this.adapterModules.indexOf(module);
    const seed = ctx.dropoutSeed === null ? null : ctx.dropoutSeed + index;
    // A frozen [out, in] weight read from its variable (not a checkpointed block's input) may use a kept transpose.
    const kept = frozen && !this.conv1dWeights && weight === this.params.get(`${module}.weight`) ? (ctx.transposedWeights?.transposeOf(weight) ?? null) : null; // [in, out]
    if (kept && !withAdapter) return linear(x, kept, bias, { frozen });
    if (withAdapter && frozen) {
      return frozenLoraLinear(x, kept ?? weight, bias, get(`${module}.lora_A.weight`) as tf.Tensor2D, get(`${module}.lora_B.weight`) as tf.Tensor2D, {
        weightInOut: kept ? true : this.conv1dWeights,
        scaling: loraScaling(this.lora!),
        dropout: this.lora!.dropout,
        dropoutSeed: seed,
      });
    }
    const y = this.conv1dWeights ? linear(x, weight, bias, { frozen }) : linearT(x, weight, bias, { frozen });
    if (!withAdapter) return y;
    return y.add(
      loraDelta(
        x,
        get(`${module}.lora_A.weight`) as tf.Tensor2D,
        get(`${module}.lora_B.weight`) as tf.Tensor2D,
        loraScaling(this.lora!),
        this.lora!.dropout,
        seed,
      ),
    );
  }

  /**
   * Runs one block, checkpointed when asked (and not generating). Trainable parameters under `prefix` are the block's
   * differentiable inputs; frozen ones are read from their variables directly. Adapters are left out when disabled.
   * block(x, get, constants): x: [B, T, D] → [B, T, D]
   */
  protected runBlock(
    prefix: string,
    x: tf.Tensor3D,
    constants: tf.Tensor[],
    ctx: LayerContext,
    checkpoint: boolean,
    block: (x: tf.Tensor3D, get: WeightLookup, constants: tf.Tensor[]) => tf.Tensor3D,
  ): tf.Tensor3D {
    const direct: WeightLookup = (name) => this.p(name);
    // A block's intermediates are freed when it ends, not when the whole forward does: without a gradient tape nothing
    // of them is needed later (a reference or eval forward then holds one block's activations, not every layer's),
    // and under a tape the engine keeps its own copies of what the backward pass reads.
    if (!checkpoint) return tf.tidy(() => block(x, direct, constants));
    const names = [...this.params.keys()].filter((n) => n.startsWith(prefix) && this.params.get(n)!.trainable && (ctx.adapters || !n.includes(".lora_")));
    return checkpointed(
      (input: tf.Tensor3D, weights: tf.Tensor[], saved: tf.Tensor[]) => {
        const lookup: WeightLookup = (name) => {
          const i = names.indexOf(name);
          return i >= 0 ? weights[i] : this.p(name);
        };
        return block(input, lookup, saved);
      },
      x,
      names.map((n) => this.p(n)),
      constants,
    );
  }

  /** A checkpoint name (with the prefix transformers uses) for a parameter name. */
  checkpointName(name: string): string {
    return name === "lm_head.weight" ? name : this.checkpointPrefix + name;
  }

  /** A copy with its own variables (trainable or frozen), adapters kept or dropped. */
  clone(opts: { trainable?: boolean; withoutAdapters?: boolean } = {}): CausalLM {
    const params = new Map<string, tf.Variable>();
    const adapters = this.lora !== null && !opts.withoutAdapters;
    this.params.forEach((v, name) => {
      if (!adapters && name.includes(".lora_")) return;
      // A copy with its own storage (tf.variable(v) would share v's until v is next assigned).
      params.set(
        name,
        newVariable(
          name,
          tf.tidy(() => v.mul(1)),
          opts.trainable ?? (adapters ? v.trainable : true),
        ),
      );
    });
    const model = this.create(params);
    if (!adapters) {
      model.nameOrPath = this.nameOrPath;
      return model;
    }
    model.lora = { ...this.lora! };
    model.adapterModules = [...this.adapterModules];
    model.dropoutSeedBase = this.dropoutSeedBase;
    model.nameOrPath = this.nameOrPath;
    return model;
  }

  /** Every base parameter as a host tensor (adapters left out), for saving. */
  async toHost(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const [name, v] of this.params) {
      if (name.includes(".lora_")) continue;
      out.set(this.checkpointName(name), { shape: v.shape.slice(), data: (await v.data()) as Float32Array });
    }
    return out;
  }

  /** Attaches fresh LoRA adapters (A random, B zero) and freezes the base; throws when adapters are attached already or the config is invalid. */
  addAdapters(config: LoraConfig, seed = 0): void {
    if (this.lora) throw new Error("this model already has LoRA adapters");
    checkLoraConfig(config);
    const modules = targetedModules(config, this.linearModules(), this.defaultLoraTargets);
    modules.forEach((m, i) => {
      // PEFT: kaiming_uniform_(A, a=√5) → U(−1/√in, 1/√in); B = 0.
      const bound = 1 / Math.sqrt(m.inFeatures);
      const a = tf.randomUniform([config.r, m.inFeatures], -bound, bound, "float32", seed * 7919 + i);
      this.params.set(`${m.name}.lora_A.weight`, newVariable(`${m.name}.lora_A.weight`, a, true));
      this.params.set(`${m.name}.lora_B.weight`, newVariable(`${m.name}.lora_B.weight`, tf.zeros([m.outFeatures, config.r]), true));
    });
    this.attach(
      config,
      modules.map((m) => m.name),
      seed,
    );
  }

  /** Attaches the adapters of a peft folder read by readAdapter; throws naming `source` when a tensor is missing, unknown or of the wrong shape. */
  loadAdapter(adapter: AdapterFiles, source = "adapter"): void {
    if (this.lora) throw new Error("this model already has LoRA adapters");
    const modules = new Map(this.linearModules().map((m) => [m.name, m]));
    const byModule = new Map<string, { a?: HostTensor; b?: HostTensor }>();
    adapter.tensors.forEach((t, name) => {
      const match = /^(.*)\.lora_([AB])\.weight$/.exec(name);
      if (!match) throw new Error(`${source}: tensor "${name}" is not a LoRA matrix (…lora_A.weight / …lora_B.weight)`);
      const prefix = this.checkpointPrefix;
      const module = match[1].startsWith(prefix) ? match[1].slice(prefix.length) : match[1];
      if (!modules.has(module))
        throw new Error(`${source}: tensor "${name}" names layer "${match[1]}", which is not a linear layer of this ${this.config.modelType} model`);
      const entry = byModule.get(module) ?? {};
      entry[match[2] === "A" ? "a" : "b"] = t;
      byModule.set(module, entry);
    });
    if (!byModule.size) throw new Error(`${source}: no LoRA tensors`);
    const r = adapter.config.r;
    for (const [module, { a, b }] of byModule) {
      const m = modules.get(module)!;
      if (!a || !b) throw new Error(`${source}: layer "${module}" has lora_${a ? "B" : "A"}.weight missing`);
      if (a.shape.join() !== [r, m.inFeatures].join())
        throw new Error(`${source}: "${module}.lora_A.weight" has shape [${a.shape}], expected [${r},${m.inFeatures}] (r ${r})`);
      if (b.shape.join() !== [m.outFeatures, r].join())
        throw new Error(`${source}: "${module}.lora_B.weight" has shape [${b.shape}], expected [${m.outFeatures},${r}] (r ${r})`);
    }
    const names = this.linearModules()
      .map((m) => m.name)
      .filter((n) => byModule.has(n));
    for (const name of names) {
      const { a, b } = byModule.get(name)!;
      this.params.set(`${name}.lora_A.weight`, newVariable(`${name}.lora_A.weight`, tf.tensor(a!.data, a!.shape), true));
      this.params.set(`${name}.lora_B.weight`, newVariable(`${name}.lora_B.weight`, tf.tensor(b!.data, b!.shape), true));
    }
    this.attach(adapter.config, names, 0);
  }

  private attach(config: LoraConfig, modules: string[], seed: number): void {
    this.lora = { ...config };
    this.adapterModules = modules;
    this.dropoutSeedBase = seed;
    this.forwardCount = 0;
    // Only the adapters train: the base weights get no gradient and no optimizer state.
    this.params.forEach((v, name) => (v.trainable = name.includes(".lora_")));
  }

  /** Writes the adapters as a peft folder (adapter_config.json, adapter_model.safetensors); throws without adapters. */
  async saveAdapter(dir: string): Promise<void> {
    if (!this.lora) throw new Error("saveAdapter: this model has no LoRA adapters");
    const tensors = new Map<string, HostTensor>();
    for (const [name, v] of this.params) {
      if (name.includes(".lora_")) tensors.set(this.checkpointName(name), { shape: v.shape.slice(), data: (await v.data()) as Float32Array });
    }
    const targets = [...new Set(this.adapterModules.map((m) => m.split(".").pop()!))].sort();
    writeAdapter(dir, adapterConfigJson(this.lora, targets, { baseModel: this.nameOrPath ?? "", fanInFanOut: this.conv1dWeights }), tensors);
  }

  /** A view of this model that runs without its adapters (the reference of a LoRA run: the frozen base). */
  withAdaptersDisabled(): CausalLM {
    return new AdaptersDisabled(this);
  }

  /** A frozen model sharing the base's parameters with a copy of the adapters as they are now; throws without adapters. */
  withFrozenAdapterCopy(): CausalLM {
    if (!this.lora) throw new Error("withFrozenAdapterCopy: this model has no LoRA adapters");
    const params = new Map<string, tf.Variable>();
    const borrowed = new Set<string>();
    this.params.forEach((v, name) => {
      if (name.includes(".lora_"))
        params.set(
          name,
          newVariable(
            name,
            tf.tidy(() => v.mul(1)),
            false,
          ),
        );
      else {
        params.set(name, v);
        borrowed.add(name);
      }
    });
    const model = this.create(params);
    model.lora = { ...this.lora };
    model.adapterModules = [...this.adapterModules];
    model.borrowed = borrowed;
    model.nameOrPath = this.nameOrPath;
    return model;
  }

  /** A new model with each adapter's update folded into its base weight (no adapters left). */
  mergeAdapters(): CausalLM {
    const params = new Map<string, tf.Variable>();
    const scaling = this.lora ? loraScaling(this.lora) : 0;
    this.params.forEach((v, name) => {
      if (name.includes(".lora_")) return;
      const module = name.replace(/\.weight$/, "");
      const a = this.params.get(`${module}.lora_A.weight`);
      const merged = tf.tidy(() => {
        if (!a || !name.endsWith(".weight")) return v.mul(1);
        const delta = tf.matMul(this.p(`${module}.lora_B.weight`), a).mul(scaling); // [out, in]
        return v.add(this.conv1dWeights ? delta.transpose() : delta);
      });
      params.set(name, newVariable(name, merged, true));
    });
    const model = this.create(params);
    model.nameOrPath = this.nameOrPath;
    return model;
  }

  /** Disposes the model's own parameters (borrowed ones stay). */
  dispose(): void {
    this.params.forEach((v, name) => this.borrowed.has(name) || v.dispose());
    this.params.clear();
  }
}

/** A model's base network seen through its adapters switched off: the reference of DPO with LoRA. */
class AdaptersDisabled implements CausalLM {
  readonly lora = null;
  readonly params: Map<string, tf.Variable>;
  nameOrPath: string | null;

  constructor(private readonly model: CausalLM) {
    this.params = new Map([...model.params].filter(([name]) => !name.includes(".lora_")));
    this.nameOrPath = model.nameOrPath;
  }

  get config(): ModelConfig {
    return this.model.config;
  }
  trainableVariables(): tf.Variable[] {
    return [];
  }
  numParameters(): number {
    let n = 0;
    this.params.forEach((v) => (n += v.size));
    return n;
  }
  forward(inputIds: tf.Tensor2D, opts: ForwardOptions = {}): ForwardOutput {
    return this.model.forward(inputIds, { ...opts, disableAdapters: true });
  }
  hiddenStates(inputIds: tf.Tensor2D, opts: HiddenStateOptions = {}): tf.Tensor3D {
    return this.model.hiddenStates(inputIds, { ...opts, disableAdapters: true });
  }
  lmHeadWeight(): tf.Tensor2D {
    return this.model.lmHeadWeight();
  }
  clone(opts: { trainable?: boolean } = {}): CausalLM {
    return this.model.clone({ ...opts, withoutAdapters: true });
  }
  toHost(): Promise<Map<string, HostTensor>> {
    return this.model.toHost();
  }
  linearModules(): LinearModule[] {
    return this.model.linearModules();
  }
  addAdapters(): void {
    throw new Error("a model with its adapters disabled cannot take new adapters");
  }
  loadAdapter(): void {
    throw new Error("a model with its adapters disabled cannot take new adapters");
  }
  saveAdapter(): Promise<void> {
    throw new Error("a model with its adapters disabled has no adapters to save");
  }
  withAdaptersDisabled(): CausalLM {
    return this;
  }
  withFrozenAdapterCopy(): CausalLM {
    throw new Error("a model with its adapters disabled has no adapters to copy");
  }
  mergeAdapters(): CausalLM {
    return this.clone();
  }
  /** Owns nothing: the weights belong to the model it views. */
  dispose(): void {}
}
