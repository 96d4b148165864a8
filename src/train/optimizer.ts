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

/** AdamW as torch.optim.AdamW computes it (decoupled weight decay, bias correction), with its state kept per variable name. */
export class AdamW {
  private readonly opts: AdamWOptions;
  private readonly state = new Map<string, { m: tf.Variable; v: tf.Variable }>();
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

  /** The moment estimates of each parameter, created (zeros) on first use. */
  moments(params: Map<string, tf.Variable>): Map<string, { m: tf.Variable; v: tf.Variable }> {
    params.forEach((param, name) => {
      if (param.trainable && !this.state.has(name))
        this.state.set(name, { m: tf.variable(tf.zerosLike(param), false), v: tf.variable(tf.zerosLike(param), false) });
    });
    return this.state;
  }

  /** Applies one update with the scalars of nextScalars. */
  applyWith(params: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>, scalars: AdamWScalars): void {
    const { beta1, beta2, epsilon, weightDecay } = this.opts;
    const moments = this.moments(params);
    for (const [name, grad] of grads) {
      const param = params.get(name);
      if (!param) throw new Error(`AdamW: no parameter named ${name}`);
      const { m, v } = moments.get(name)!;
      tf.tidy(() => {
        const decayed = weightDecay !== 0 && this.opts.decays!(name) ? param.mul(scalars.decayFactor) : param;
        const newM = m.mul(beta1).add(grad.mul(1 - beta1));
        const newV = v.mul(beta2).add(grad.square().mul(1 - beta2));
        const denominator = newV.sqrt().div(scalars.biasCorrection2Sqrt).add(epsilon);
        m.assign(newM);
        v.assign(newV);
        param.assign(decayed.sub(newM.div(denominator).mul(scalars.stepSize)));
      });
    }
  }

  /** The moments as host tensors, in torch's state names (`<param>.exp_avg`, `<param>.exp_avg_sq`), for checkpoints. */
  async toHost(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const [name, { m, v }] of this.state) {
      out.set(`${name}.exp_avg`, { shape: m.shape, data: (await m.data()) as Float32Array });
      out.set(`${name}.exp_avg_sq`, { shape: v.shape, data: (await v.data()) as Float32Array });
    }
    return out;
  }

  /** Restores moments written by toHost and the update count t (a checkpoint's optimizer state). */
  load(params: Map<string, tf.Variable>, moments: Map<string, HostTensor>, stepCount: number, source = "optimizer state"): void {
    const state = this.moments(params);
    for (const [name, { m, v }] of state) {
      const savedM = moments.get(`${name}.exp_avg`);
      const savedV = moments.get(`${name}.exp_avg_sq`);
      if (!savedM || !savedV) throw new Error(`${source}: no moments for parameter "${name}"`);
      m.assign(tf.tensor(savedM.data, savedM.shape, "float32"));
      v.assign(tf.tensor(savedV.data, savedV.shape, "float32"));
    }
    this.stepCount = stepCount;
  }

  /** Disposes the moment estimates. */
  dispose(): void {
    this.state.forEach(({ m, v }) => {
      m.dispose();
      v.dispose();
    });
    this.state.clear();
  }
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
  const { grads: clipped, norm } = clipGradNorm(grads, opts.maxGradNorm);
  try {
    opts.guard?.(norm);
    optimizer.applyWith(params, clipped, opts.scalars);
  } catch (e) {
    norm.dispose();
    throw e;
  } finally {
    clipped.forEach((g) => g.dispose());
  }
  return norm;
}
