/**
 * AdamW with exactly torch.optim.AdamW's update (decoupled weight decay, bias-corrected moments):
 *   p ← p − lr·λ·p
 *   m ← β1·m + (1−β1)·g;   v ← β2·v + (1−β2)·g²
 *   p ← p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε)
 * and global-norm gradient clipping as torch.nn.utils.clip_grad_norm_.
 */
import * as tf from "@tensorflow/tfjs";
import type { HostTensor } from "../model/safetensors";

/** AdamW's hyperparameters (torch.optim.AdamW's names, in camelCase). */
export interface AdamWOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** Which parameters get weight decay; Hugging Face's Trainer exempts biases and LayerNorm weights. */
  decays?: (name: string) => boolean;
}

/** Hugging Face Trainer's rule: no weight decay on biases and normalisation layers. */
export function defaultDecays(name: string): boolean {
  return !name.endsWith("bias") && !/(^|\.)(ln_\w+|ln_f|norm|layernorm|layer_norm)\./i.test(name);
}

/** The per-update scalars: lr/(1−β1^t), √(1−β2^t), and 1 − lr·λ. */
export interface AdamWScalars {
  stepSize: tf.Scalar;
  biasCorrection2Sqrt: tf.Scalar;
  decayFactor: tf.Scalar;
}

/**
 * Most elements in one flat AdamW group: the update's temporaries (flat gradient, weights and new moments) are a few
 * copies of a group, so a cap keeps a big model's extra memory to a few × 64 MB, while a small model is one group.
 */
export const FLAT_GROUP_ELEMENTS = 1 << 24;

/**
 * Parameters updated together as one flat vector: their moments live in two flat variables, and an update is a dozen
 * elementwise ops on the whole group instead of a dozen per parameter (each op is one dispatch, eager or in a graph).
 * Elementwise, the arithmetic is the per-parameter update's, so the results are the same bits.
 */
interface FlatGroup {
  names: string[];
  shapes: number[][];
  /** Elements of each parameter, in names' order. */
  sizes: number[];
  /** Whether weight decay applies (a group holds only decayed or only non-decayed parameters). */
  decays: boolean;
  m: tf.Variable; // [sum of sizes]
  v: tf.Variable; // [sum of sizes]
}

/** AdamW as torch.optim.AdamW computes it (decoupled weight decay, bias correction), its state in flat groups of parameters. */
export class AdamW {
  private readonly opts: AdamWOptions;
  private readonly groups: FlatGroup[] = [];
  /** Parameter name → its group. */
  private readonly groupOf = new Map<string, FlatGroup>();
  /** Updates applied so far (t in the bias corrections). */
  stepCount = 0;

  constructor(opts: Partial<AdamWOptions> = {}) {
    this.opts = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decays: defaultDecays, ...opts };
  }

  /** Applies one update. params and grads are keyed by parameter name. */
  apply(params: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>, learningRate: number): void {
    const scalars = this.nextScalars(learningRate);
    this.applyWith(params, grads, scalars);
    tf.dispose(Object.values(scalars));
  }

  /**
   * The scalars of the next update (and t ← t+1), as tensors, so that a compiled step takes them as inputs instead
   * of freezing one step's values into its graph.
   */
  nextScalars(learningRate: number): AdamWScalars {
    this.stepCount += 1;
    return {
      stepSize: tf.scalar(learningRate / (1 - this.opts.beta1 ** this.stepCount)),
      biasCorrection2Sqrt: tf.scalar(Math.sqrt(1 - this.opts.beta2 ** this.stepCount)),
      decayFactor: tf.scalar(1 - learningRate * this.opts.weightDecay),
    };
  }

  /** Names of the parameters that have optimizer state (the trainable ones seen so far), in update order. */
  get parameterNames(): string[] {
    return this.groups.flatMap((g) => g.names);
  }

  /**
   * The flat moment variables of every group (`group<k>` → m and v, [elements of the group]), created (zeros) for
   * trainable parameters not seen before: what a compiled update reads and writes.
   */
  moments(params: Map<string, tf.Variable>): Map<string, { m: tf.Variable; v: tf.Variable }> {
    const fresh: [string, tf.Variable][] = [];
    params.forEach((param, name) => param.trainable && !this.groupOf.has(name) && fresh.push([name, param]));
    // Decayed and non-decayed parameters go to separate groups; a group closes at FLAT_GROUP_ELEMENTS.
    for (const decays of [true, false]) {
      let group: Omit<FlatGroup, "m" | "v"> | null = null;
      const close = () => {
        if (!group) return;
        const size = group.sizes.reduce((a, b) => a + b, 0);
        const full: FlatGroup = { ...group, m: tf.variable(tf.zeros([size]), false), v: tf.variable(tf.zeros([size]), false) };
        this.groups.push(full);
        full.names.forEach((name) => this.groupOf.set(name, full));
        group = null;
      };
      for (const [name, param] of fresh) {
        if ((this.opts.weightDecay !== 0 && this.opts.decays!(name)) !== decays) continue;
        if (group && group.sizes.reduce((a, b) => a + b, 0) + param.size > FLAT_GROUP_ELEMENTS) close();
        group ??= { names: [], shapes: [], sizes: [], decays };
        group.names.push(name);
        group.shapes.push(param.shape.slice());
        group.sizes.push(param.size);
      }
      close();
    }
    return new Map(this.groups.map((g, k) => [`group${k}`, { m: g.m, v: g.v }]));
  }

  /**
   * The gradients as one flat vector per group ([elements of the group]; null for a group without gradients), in
   * the order of moments(). A group's parameters are updated together, so a group gets all its gradients or none.
   */
  flatGradients(params: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>): (tf.Tensor1D | null)[] {
    this.moments(params);
    for (const name of grads.keys()) {
      if (!params.has(name)) throw new Error(`AdamW: no parameter named ${name}`);
      if (!this.groupOf.has(name)) throw new Error(`AdamW: parameter ${name} has a gradient but is not trainable`);
    }
    return this.groups.map((group) => {
      const present = group.names.filter((name) => grads.has(name));
      if (present.length === 0) return null;
      if (present.length !== group.names.length) {
        const missing = group.names.find((name) => !grads.has(name));
        throw new Error(`AdamW: no gradient for parameter ${missing} (its group's other parameters have one)`);
      }
      return tf.tidy(() => flatten(group.names.map((name) => grads.get(name)!)));
    });
  }

  /** Applies one update with the scalars of nextScalars. */
  applyWith(params: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>, scalars: AdamWScalars): void {
    const flat = this.flatGradients(params, grads);
    try {
      this.applyFlat(params, flat, scalars);
    } finally {
      tf.dispose(flat.filter((g): g is tf.Tensor1D => g !== null));
    }
  }

  /** Applies one update from flatGradients' vectors (not disposed here). */
  applyFlat(params: Map<string, tf.Variable>, flatGrads: (tf.Tensor1D | null)[], scalars: AdamWScalars): void {
    flatGrads.forEach((grad, k) => {
      if (!grad) return;
      const next = this.groupStep(k, this.groupInputs(k, params, grad, scalars));
      this.assignGroup(k, params, next);
    });
  }

  /**
   * What group k's update reads, by name: its parameters (`param/<name>`), moments (`m`, `v`, [N]), flat gradient
   * (`grad`, [N]) and the update's scalars — the inputs of {@link groupStep}, eager or as a compiled graph.
   */
  groupInputs(k: number, params: Map<string, tf.Variable>, grad: tf.Tensor1D, scalars: AdamWScalars): Record<string, tf.Tensor> {
    const group = this.groups[k];
    const inputs: Record<string, tf.Tensor> = { m: group.m, v: group.v, grad, ...scalars };
    group.names.forEach((name) => (inputs[`param/${name}`] = params.get(name)!));
    return inputs;
  }

  /**
   * Group k's AdamW arithmetic, pure (nothing is assigned): {@link groupInputs} in → the new parameters
   * (`param/<name>`, each in its shape) and moments (`m`, `v`) out. A compiled update traces it once and runs it as
   * one graph; applyFlat runs it eagerly. Either way {@link assignGroup} then takes the new values.
   */
  groupStep(k: number, inputs: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
    const { beta1, beta2, epsilon } = this.opts;
    const group = this.groups[k];
    return tf.tidy(() => {
      const { m, v, grad, stepSize, biasCorrection2Sqrt, decayFactor } = inputs; // m, v, grad: [N]
      const param = flatten(group.names.map((name) => inputs[`param/${name}`])); // [N]
      const decayed = group.decays ? param.mul(decayFactor) : param;
      const newM = m.mul(beta1).add(grad.mul(1 - beta1));
      const newV = v.mul(beta2).add(grad.square().mul(1 - beta2));
      const denominator = newV.sqrt().div(biasCorrection2Sqrt).add(epsilon);
      const updated = decayed.sub(newM.div(denominator).mul(stepSize));
      const pieces = group.names.length === 1 ? [updated] : tf.split(updated, group.sizes);
      const out: Record<string, tf.Tensor> = { m: newM, v: newV };
      group.names.forEach((name, i) => (out[`param/${name}`] = pieces[i].reshape(group.shapes[i])));
      return out;
    });
  }

  /** Takes group k's new values from {@link groupStep} into the parameters and moments, and disposes `next`. */
  assignGroup(k: number, params: Map<string, tf.Variable>, next: Record<string, tf.Tensor>): void {
    const group = this.groups[k];
    group.m.assign(next.m);
    group.v.assign(next.v);
    group.names.forEach((name) => params.get(name)!.assign(next[`param/${name}`]));
    tf.dispose(Object.values(next));
  }

  /** The moments as host tensors, in torch's state names (`<param>.exp_avg`, `<param>.exp_avg_sq`), for checkpoints. */
  async toHost(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const group of this.groups) {
      const m = (await group.m.data()) as Float32Array;
      const v = (await group.v.data()) as Float32Array;
      let offset = 0;
      group.names.forEach((name, i) => {
        const end = offset + group.sizes[i];
        out.set(`${name}.exp_avg`, { shape: group.shapes[i], data: m.slice(offset, end) });
        out.set(`${name}.exp_avg_sq`, { shape: group.shapes[i], data: v.slice(offset, end) });
        offset = end;
      });
    }
    return out;
  }

  /** Restores moments written by toHost and the update count t (a checkpoint's optimizer state). */
  load(params: Map<string, tf.Variable>, moments: Map<string, HostTensor>, stepCount: number, source = "optimizer state"): void {
    this.moments(params);
    for (const group of this.groups) {
      const size = group.sizes.reduce((a, b) => a + b, 0);
      const m = new Float32Array(size);
      const v = new Float32Array(size);
      let offset = 0;
      group.names.forEach((name, i) => {
        const savedM = moments.get(`${name}.exp_avg`);
        const savedV = moments.get(`${name}.exp_avg_sq`);
        if (!savedM || !savedV) throw new Error(`${source}: no moments for parameter "${name}"`);
        for (const saved of [savedM, savedV]) {
          if (saved.data.length !== group.sizes[i])
            throw new Error(
              `${source}: moments of "${name}" have ${saved.data.length} values, the parameter has ${group.sizes[i]} (shape [${group.shapes[i]}])`,
            );
        }
        m.set(savedM.data, offset);
        v.set(savedV.data, offset);
        offset += group.sizes[i];
      });
      group.m.assign(tf.tensor1d(m, "float32"));
      group.v.assign(tf.tensor1d(v, "float32"));
    }
    this.stepCount = stepCount;
  }

  /** Disposes the moment estimates. */
  dispose(): void {
    this.groups.forEach(({ m, v }) => {
      m.dispose();
      v.dispose();
    });
    this.groups.length = 0;
    this.groupOf.clear();
  }
}

/** Tensors as one flat vector, in order: [sum of sizes]. */
function flatten(tensors: tf.Tensor[]): tf.Tensor1D {
  const flat = tensors.map((t) => t.reshape([-1]) as tf.Tensor1D);
  return flat.length === 1 ? flat[0] : tf.concat(flat);
}

/**
 * Scales gradients so their global L2 norm is at most maxNorm (torch's clip_grad_norm_: coef = maxNorm/(norm+1e-6),
 * applied only when below 1). Returns the new gradients and the norm before clipping, as a scalar tensor.
 * maxNorm ≤ 0 or Infinity computes the norm without clipping.
 */
export function clipGradNorm(grads: Map<string, tf.Tensor>, maxNorm: number): { grads: Map<string, tf.Tensor>; norm: tf.Scalar } {
  const norm = tf.tidy(() => tf.sqrt(tf.addN([...grads.values()].map((g) => g.square().sum()))) as tf.Scalar);
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) return { grads, norm };
  const coefficient = tf.tidy(() => tf.minimum(tf.scalar(maxNorm).div(norm.add(1e-6)), 1));
  const clipped = new Map<string, tf.Tensor>();
  grads.forEach((g, name) => {
    clipped.set(name, g.mul(coefficient));
    g.dispose();
  });
  coefficient.dispose();
  return { grads: clipped, norm };
}

/** Gradients keyed by parameter name (tf.variableGrads keys them by the variables' internal names). */
export function gradientsByName(params: Map<string, tf.Variable>, grads: tf.NamedTensorMap): Map<string, tf.Tensor> {
  const nameOf = new Map<string, string>();
  params.forEach((v, name) => nameOf.set(v.name, name));
  const named = new Map<string, tf.Tensor>();
  for (const [variableName, grad] of Object.entries(grads)) {
    const name = nameOf.get(variableName);
    if (!name) throw new Error(`gradient of an unknown variable ${variableName}`);
    named.set(name, grad);
  }
  return named;
}

/**
 * The gradients as the optimizer's flat vectors (one per group, in the order of AdamW.moments; null for a group
 * without gradients), scaled to a global L2 norm of at most maxGradNorm as torch's clip_grad_norm_ does, and the norm
 * before clipping. Disposes the gradients. The part of optimizerStep that a compiled update runs inside its graph.
 */
export function clippedFlatGradients(
  optimizer: AdamW,
  params: Map<string, tf.Variable>,
  grads: Map<string, tf.Tensor>,
  maxGradNorm: number,
): { flat: (tf.Tensor1D | null)[]; norm: tf.Scalar } {
  // Clipping works on the optimizer's flat gradient vectors: one square-sum and one scale per group.
  let flat: (tf.Tensor1D | null)[];
  try {
    flat = optimizer.flatGradients(params, grads);
  } finally {
    grads.forEach((g) => g.dispose());
  }
  const present = flat.filter((g): g is tf.Tensor1D => g !== null);
  const norm = tf.tidy(() => (present.length ? tf.sqrt(tf.addN(present.map((g) => g.square().sum()))) : tf.scalar(0)) as tf.Scalar);
  if (maxGradNorm > 0 && Number.isFinite(maxGradNorm)) {
    const coefficient = tf.tidy(() => tf.minimum(tf.scalar(maxGradNorm).div(norm.add(1e-6)), 1));
    flat = flat.map((g) => {
      if (!g) return null;
      const scaled = g.mul(coefficient) as tf.Tensor1D;
      g.dispose();
      return scaled;
    });
    coefficient.dispose();
  }
  return { flat, norm };
}

/**
 * The optimizer step DPO and SFT share: clip the gradients to maxGradNorm (global L2 norm), then one AdamW update
 * with the given scalars. Disposes the gradients; returns the norm before clipping ([], the caller owns it).
 * `guard` sees the norm before the weights change and may throw to refuse the update (the trainer's non-finite
 * guard); the gradients are disposed either way.
 */
export function optimizerStep(
  optimizer: AdamW,
  params: Map<string, tf.Variable>,
  grads: Map<string, tf.Tensor>,
  opts: { maxGradNorm: number; scalars: AdamWScalars; guard?: (norm: tf.Scalar) => void },
): tf.Scalar {
  const { flat, norm } = clippedFlatGradients(optimizer, params, grads, opts.maxGradNorm);
  try {
    opts.guard?.(norm);
    optimizer.applyFlat(params, flat, opts.scalars);
  } catch (e) {
    norm.dispose();
    throw e;
  } finally {
    tf.dispose(flat.filter((g): g is tf.Tensor1D => g !== null));
  }
  return norm;
}
