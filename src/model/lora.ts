/**
 * LoRA (Hu et al. 2021) as Hugging Face PEFT defines it: a frozen linear layer W plus a trainable low-rank update,
 *   y = W x + b + scaling · B(A(dropout(x))),   A: [r, in], B: [out, r], scaling = alpha / r (or alpha / √r, rsLoRA).
 * A starts Kaiming-uniform (PEFT's init_lora_weights=True), B at zero, so fresh adapters change nothing.
 * This file holds the configuration, the PEFT file format (adapter_config.json + adapter_model.safetensors with PEFT's
 * weight names) and the adapter update itself; the models call loraDelta on the projections that carry adapters.
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { affine, matMul } from "./layers";
import { dropoutMask, MaskSeed } from "./dropout-mask";
import { HostTensor, readSafetensors, writeSafetensors } from "./safetensors";

/** A LoRA configuration, with peft's names and meanings. */
export interface LoraConfig {
  /** Rank r of the update. PEFT: 8 (TRL's ModelConfig --lora_r: 16). */
  r: number;
  /** alpha; the update is scaled by alpha / r. PEFT: 8 (TRL's ModelConfig: 32). */
  alpha: number;
  /** Dropout on the adapter's input, in training only. PEFT: 0 (TRL's ModelConfig: 0.05). */
  dropout: number;
  /** Module names (matched as the last part(s) of a layer's name, like PEFT) or "all-linear" (every linear layer but
   * the output head). Empty: PEFT's default for the architecture (Llama family: q_proj, v_proj; GPT-2: c_attn). */
  targetModules: string[] | "all-linear";
  /** rsLoRA: scale by alpha / √r instead of alpha / r. PEFT: false. */
  useRslora: boolean;
}

/** peft's LoraConfig defaults (r 8, alpha 8, no dropout); targetModules empty means the architecture's default. */
export const DEFAULT_LORA_CONFIG: LoraConfig = { r: 8, alpha: 8, dropout: 0, targetModules: [], useRslora: false };

/** A linear layer adapters can attach to: its name in the model (without the checkpoint's prefix) and its sizes. */
export interface LinearModule {
  name: string;
  inFeatures: number;
  outFeatures: number;
}

/** The factor a LoRA update B·A is scaled by: alpha / r, or alpha / √r with rsLoRA. */
export function loraScaling(config: LoraConfig): number {
  return config.useRslora ? config.alpha / Math.sqrt(config.r) : config.alpha / config.r;
}

/** Checks a LoRA configuration, naming the offending field. */
export function checkLoraConfig(config: LoraConfig, source = "LoRA config"): void {
  if (!Number.isInteger(config.r) || config.r <= 0) throw new Error(`${source}: r must be a whole number > 0, got ${config.r}`);
  if (!(config.alpha > 0)) throw new Error(`${source}: alpha must be > 0, got ${config.alpha}`);
  if (!(config.dropout >= 0 && config.dropout < 1)) throw new Error(`${source}: dropout must be in [0, 1), got ${config.dropout}`);
}

/**
 * The modules a configuration targets, PEFT's way: a name matches a module when it equals the module's full name
 * or its last dot-separated parts; "all-linear" takes every linear layer (the output head is never among them).
 */
export function targetedModules(config: LoraConfig, modules: LinearModule[], defaults: string[]): LinearModule[] {
  if (config.targetModules === "all-linear") return modules;
  const names = config.targetModules.length ? config.targetModules : defaults;
  const chosen = modules.filter((m) => names.some((n) => m.name === n || m.name.endsWith(`.${n}`)));
  if (!chosen.length) {
    const kinds = [...new Set(modules.map((m) => m.name.split(".").pop()))];
    throw new Error(`LoRA target modules ${JSON.stringify(names)} match no linear layer of this model (its linear layers: ${kinds.join(", ")})`);
  }
  return chosen;
}

/**
 * The adapter update scaling · B(A(x)), with x passed through dropout first when dropoutSeed is given (training;
 * a number or, on the native backend, an int32 [2] seed tensor: see dropout-mask.ts).
 * x: [..., in], a: [r, in], b: [out, r] → [..., out]
 */
export function loraDelta(x: tf.Tensor, a: tf.Tensor2D, b: tf.Tensor2D, scaling: number, dropout: number, dropoutSeed: MaskSeed | null): tf.Tensor {
  const inDim = a.shape[1];
  const leading = x.shape.slice(0, -1);
  let x2d = x.reshape([-1, inDim]) as tf.Tensor2D; // [N, in]
  if (dropout > 0 && dropoutSeed !== null) x2d = x2d.mul(dropoutMask(x.shape, dropout, dropoutSeed));
  const low = matMul(x2d, a, false, true); // [N, r]
  return matMul(low, b, false, true)
    .mul(scaling)
    .reshape([...leading, b.shape[0]]);
}

/**
 * A frozen linear layer with its adapter, as one op: y = x·op(W) + b + scaling · B(A(dropout(x))), with op(W) = Wᵀ
 * for nn.Linear's [out, in] weights and W for GPT-2's Conv1D [in, out] (weightInOut). The backward pass computes
 * dx, dA and dB only (no dW: the base is frozen) from what it kept: x, the [N, r] low-rank activations and the
 * dropout mask; the composite of separate ops would also compute dW and keep y, the update and their sum.
 * Same values and masks as linearT(x, W, b) + loraDelta(x, a, b, …) (the mask comes from the same seed and shape).
 * x: [..., in], a: [r, in], b: [out, r] → [..., out]
 */
export function frozenLoraLinear(
  x: tf.Tensor,
  weight: tf.Tensor2D,
  bias: tf.Tensor1D | undefined,
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  opts: { weightInOut: boolean; scaling: number; dropout: number; dropoutSeed: MaskSeed | null },
): tf.Tensor {
  const inDim = a.shape[1];
  const outDim = b.shape[0];
  const leading = x.shape.slice(0, -1);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, loraA, loraB] = args as tf.Tensor2D[];
    const save = args[3] as tf.GradSaveFunc;
    const x2d = input.reshape([-1, inDim]) as tf.Tensor2D; // [N, in]
    // The mask depends only on the shape and the seed: the one loraDelta applies, 1/(1−p) scaled.
    const mask = opts.dropout > 0 && opts.dropoutSeed !== null ? dropoutMask(input.shape, opts.dropout, opts.dropoutSeed) : null; // [N, in]
    const lowScaled = matMul(mask ? x2d.mul(mask) : x2d, loraA, false, true).mul(opts.scaling) as tf.Tensor2D; // [N, r]
    save(mask ? [x2d, lowScaled, mask] : [x2d, lowScaled]);
    const y = affine(x2d, weight, bias, !opts.weightInOut).add(matMul(lowScaled, loraB, false, true)); // [N, out]
    return {
      value: y.reshape([...leading, outDim]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sLowScaled, sMask] = saved as tf.Tensor2D[];
        const dy2d = dy.reshape([-1, outDim]) as tf.Tensor2D; // [N, out]
        const dB = matMul(dy2d, sLowScaled, true, false); // [out, r]
        const dLow = matMul(dy2d, loraB).mul(opts.scaling) as tf.Tensor2D; // [N, r]
        const dA = matMul(dLow, sMask ? sx.mul(sMask) : sx, true, false); // [r, in]
        const dxLora = matMul(dLow, loraA); // [N, in]
        const dxBase = matMul(dy2d, weight, false, opts.weightInOut); // [N, in]
        const dx = dxBase.add(sMask ? dxLora.mul(sMask) : dxLora).reshape(input.shape);
        return [dx, dA, dB];
      },
    };
  });
  return op(x, a, b);
}

/** PEFT's adapter_config.json for a configuration. */
export function adapterConfigJson(config: LoraConfig, targets: string[], opts: { baseModel: string; fanInFanOut: boolean }): Record<string, unknown> {
  return {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: opts.baseModel,
    r: config.r,
    lora_alpha: config.alpha,
    lora_dropout: config.dropout,
    target_modules: targets,
    use_rslora: config.useRslora,
    fan_in_fan_out: opts.fanInFanOut,
    bias: "none",
    modules_to_save: null,
    init_lora_weights: true,
    inference_mode: true,
    use_dora: false,
    revision: null,
  };
}

/** The prefix PEFT puts before a model's own weight names in adapter_model.safetensors. */
export const PEFT_PREFIX = "base_model.model.";

/** Writes adapter_config.json and adapter_model.safetensors. tensors: named as in the checkpoint (e.g. "model.layers.0.self_attn.q_proj.lora_A.weight"). */
export function writeAdapter(dir: string, configJson: Record<string, unknown>, tensors: Map<string, HostTensor>): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "adapter_config.json"), JSON.stringify(configJson, null, 2) + "\n");
  const prefixed = new Map<string, HostTensor>();
  tensors.forEach((t, name) => prefixed.set(PEFT_PREFIX + name, t));
  writeSafetensors(path.join(dir, "adapter_model.safetensors"), prefixed);
}

/** A peft adapter folder read into memory: its config, base model name and weights. */
export interface AdapterFiles {
  config: LoraConfig;
  /** base_model_name_or_path of adapter_config.json. */
  baseModel: string | null;
  /** Adapter tensors by checkpoint name without PEFT's prefix ("…q_proj.lora_A.weight"). */
  tensors: Map<string, HostTensor>;
}

/** Reads a PEFT LoRA adapter folder, with errors naming the file and field. */
export function readAdapter(dir: string): AdapterFiles {
  const configFile = path.join(dir, "adapter_config.json");
  if (!fs.existsSync(configFile)) throw new Error(`${configFile}: not found (a PEFT adapter folder has adapter_config.json and adapter_model.safetensors)`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(configFile, "utf8"));
  } catch (e) {
    throw new Error(`${configFile}: not valid JSON (${(e as Error).message})`);
  }
  if (raw.peft_type !== "LORA") throw new Error(`${configFile}: field "peft_type" is ${JSON.stringify(raw.peft_type)}; dpo-ts reads "LORA" adapters`);
  for (const [key, unsupported] of [
    ["use_dora", true],
    ["lora_bias", true],
    ["bias", "all"],
    ["bias", "lora_only"],
  ] as const) {
    if (raw[key] === unsupported) throw new Error(`${configFile}: field "${key}" = ${JSON.stringify(unsupported)} is not supported`);
  }
  if (raw.modules_to_save) throw new Error(`${configFile}: field "modules_to_save" is not supported (only LoRA matrices are read)`);
  const number = (key: string, fallback: number): number => {
    const value = raw[key] ?? fallback;
    if (typeof value !== "number") throw new Error(`${configFile}: field "${key}" must be a number, got ${JSON.stringify(value)}`);
    return value;
  };
  const targets = raw.target_modules;
  const config: LoraConfig = {
    r: number("r", 8),
    alpha: number("lora_alpha", 8),
    dropout: number("lora_dropout", 0),
    targetModules: targets === "all-linear" ? "all-linear" : typeof targets === "string" ? [targets] : Array.isArray(targets) ? (targets as string[]) : [],
    useRslora: raw.use_rslora === true,
  };
  if (raw.rank_pattern && Object.keys(raw.rank_pattern as object).length) throw new Error(`${configFile}: field "rank_pattern" is not supported`);
  if (raw.alpha_pattern && Object.keys(raw.alpha_pattern as object).length) throw new Error(`${configFile}: field "alpha_pattern" is not supported`);
  checkLoraConfig(config, configFile);
  const weightsFile = path.join(dir, "adapter_model.safetensors");
  if (!fs.existsSync(weightsFile)) {
    const bin = fs.existsSync(path.join(dir, "adapter_model.bin")) ? " (only adapter_model.bin found; dpo-ts reads safetensors)" : "";
    throw new Error(`${weightsFile}: not found${bin}`);
  }
  const tensors = new Map<string, HostTensor>();
  readSafetensors(weightsFile).tensors.forEach((t, name) => {
    // PEFT saves without the adapter name; accept ".default." too (state dicts taken from a live PeftModel).
    const bare = (name.startsWith(PEFT_PREFIX) ? name.slice(PEFT_PREFIX.length) : name).replace(/\.lora_([AB])\.default\.weight$/, ".lora_$1.weight");
    tensors.set(bare, t);
  });
  return { config, baseModel: typeof raw.base_model_name_or_path === "string" ? raw.base_model_name_or_path : null, tensors };
}
