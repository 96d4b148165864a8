/**
 * AdamW with exactly torch.optim.AdamW's update (decoupled weight decay, bias-corrected moments):
 *   p ← p − lr·λ·p
 *   m ← β1·m + (1−β1)·g;   v ← β2·v + (1−β2)·g²
 *   p ← p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε)
 * and global-norm gradient clipping as torch.nn.utils.clip_grad_norm_.
 */
import * as tf from "@tensorflow/tfjs";

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

export class AdamW {
  private readonly opts: AdamWOptions;
  private readonly moments = new Map<string, { m: tf.Variable; v: tf.Variable }>();
  /** Updates applied so far (t in the bias corrections). */
  stepCount = 0;

  constructor(opts: Partial<AdamWOptions> = {}) {
    this.opts = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decays: defaultDecays, ...opts };
  }

  /** Applies one update. params and grads are keyed by parameter name. */
  apply(params: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>, learningRate: number): void {
    this.stepCount += 1;
    const { beta1, beta2, epsilon, weightDecay } = this.opts;
    const biasCorrection1 = 1 - beta1 ** this.stepCount;
    const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** this.stepCount);
    const stepSize = learningRate / biasCorrection1;
    for (const [name, grad] of grads) {
      const param = params.get(name);
      if (!param) throw new Error(`AdamW: no parameter named ${name}`);
      let state = this.moments.get(name);
      if (!state) {
        state = { m: tf.variable(tf.zerosLike(param), false), v: tf.variable(tf.zerosLike(param), false) };
        this.moments.set(name, state);
      }
      const { m, v } = state;
      tf.tidy(() => {
        const decayed = weightDecay !== 0 && this.opts.decays!(name) ? param.mul(1 - learningRate * weightDecay) : param;
        const newM = m.mul(beta1).add(grad.mul(1 - beta1));
        const newV = v.mul(beta2).add(grad.square().mul(1 - beta2));
        const denominator = newV.sqrt().div(biasCorrection2Sqrt).add(epsilon);
        m.assign(newM);
        v.assign(newV);
        param.assign(decayed.sub(newM.div(denominator).mul(stepSize)));
      });
    }
  }

  dispose(): void {
    this.moments.forEach(({ m, v }) => {
      m.dispose();
      v.dispose();
    });
    this.moments.clear();
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
