/**
 * The DPO loss (Rafailov et al., 2023) and every variant TRL 1.13's DPOTrainer offers, with TRL's names and formulas
 * (trl/trainer/dpo_trainer.py, _compute_loss). All inputs are per pair, [B]; the loss of a batch is
 * Σ_k lossWeights[k] · mean_B(per-pair loss of lossType[k]).
 *
 * Log-ratios and scores:
 *   ρ_w = log π(y_w|x) − log π_ref(y_w|x),  ρ_l likewise                     (chosen / rejected log-ratios)
 *   s = f′-score of ρ, by fDivergenceType (f-DPO, Wang et al. 2023):
 *     reverse_kl        s = ρ                                               (standard DPO)
 *     forward_kl        s = 1 − e^(−ρ)
 *     js_divergence     s = log 2 + log σ(ρ)
 *     alpha_divergence  s = (e^((α−1)ρ) − 1)/(α−1), (α−1)ρ clamped at 80; α = fAlphaDivergenceCoef (α = 1: reverse_kl)
 *   Δ = s_w − s_l
 *
 * Per-pair losses (ε = labelSmoothing, β = beta):
 *   sigmoid       −(1−ε)·log σ(βΔ) − ε·log σ(−βΔ)                 (DPO; with ε > 0 the conservative cDPO — see below)
 *   hinge         max(0, 1 − βΔ)                                   (SLiC)
 *   ipo           (s_w/|y_w| − s_l/|y_l| − 1/(2β))²               (IPO, log-ratios averaged per completion token)
 *   exo_pair      q_w(log q_w − log(1−ε)) + q_l(log q_l − log ε),  q_w = σ(βΔ), q_l = σ(−βΔ)   (EXO; needs ε > 0)
 *   nca_pair      −log σ(βρ_w) − ½ log σ(−βρ_w) − ½ log σ(−βρ_l)  (NCA)
 *   robust        (−(1−ε)·log σ(βΔ) + ε·log σ(−βΔ)) / (1−2ε)       (robust DPO; ε < 0.5)
 *   bco_pair      −log σ(βρ_w) − log σ(−βρ_l)                       (BCO, pairwise)
 *   sppo_hard     (ρ_w − 1/(2β))² + (ρ_l + 1/(2β))²                  (SPPO, hard labels)
 *   aot           sigmoid-with-ε on sort_B(log π_w − log π_l) − sort_B(log π_ref,w − log π_ref,l)   (AOT paired)
 *   aot_unpaired  sigmoid-with-ε on sort_B(ρ_w) − sort_B(ρ_l)                                       (AOT unpaired)
 *   apo_zero      (1 − σ(βρ_w)) + σ(βρ_l)                           (APO-zero)
 *   apo_down      σ(βρ_w) + (1 − σ(β(ρ_w − ρ_l)))                   (APO-down)
 *   discopop      −log σ(βΔ)·(1 − m) + e^(−βΔ)·m,  m = σ(βΔ/τ), τ = discopopTau                   (DiscoPOP)
 *   sigmoid_norm  −log σ(β(s_w/|y_w| − s_l/|y_l|))                  (length-normalised DPO)
 *   sft           mean NLL of the chosen completion tokens of the batch (the same value for every pair)
 * useWeighting (WPO) multiplies every per-pair loss by w_w·w_l, the policy's length-normalised sequence
 * probabilities computed by the caller (see logps.ts, wpoWeights). ldAlpha (LD-DPO) changes log π itself (logps.ts).
 * (TRL 1.13 multiplies in place, which autograd rejects after a relu or an expand: its useWeighting fails at the
 * first step with "hinge" and "sft". dpo-ts computes the same product for every loss.)
 * Implicit rewards r_w = β·ρ_w, r_l = β·ρ_l: metrics only (never differentiated), as in TRL.
 *
 * Where the paper, older TRL and TRL 1.13 differ (dpo-ts follows TRL 1.13 except for sigmoid's ε):
 * - sigmoid's label smoothing: TRL ≤ 0.x (and the cDPO note of the DPO authors) smooths the sigmoid loss as above;
 *   TRL 1.13 ignores labelSmoothing for "sigmoid". dpo-ts keeps cDPO and resolveConfig warns that TRL 1.13 would
 *   not apply it; with ε = 0 (the default) the two are identical.
 * - ipo: the IPO paper (and TRL before 0.12) squares the difference of *summed* log-ratios; TRL 1.x divides each
 *   log-ratio by its completion length first ("confirmed with the IPO authors"), so β means something else per form.
 * - rpo_alpha (RPO: DPO + α·NLL of the chosen completion) is gone from TRL 1.x; RPO is lossType ["sigmoid", "sft"]
 *   with lossWeights [1, α]. TRL 0.x normalised that NLL per token too, so the two agree.
 * - reference_free (TRL 0.x: π_ref ≡ 1, i.e. reference log-probs 0) is gone from TRL 1.x; pass zero reference
 *   log-probs to dpoLoss to get it.
 * - bco_pair: TRL 0.x subtracted a running mean of the rewards (RunningMoments) before the sigmoids; TRL 1.13 does
 *   not, so this loss carries no state across batches.
 * - Completion lengths for ipo / sigmoid_norm: TRL counts the unshifted completion mask (clamped at 1); dpo-ts counts
 *   the completion tokens that have a predicting position. They differ only for a completion with an empty prompt.
 */
import * as tf from "@tensorflow/tfjs";

/** Every DPO loss TRL 1.13 offers (DPOConfig.loss_type), by TRL's names. */
export const LOSS_TYPES = [
  "sigmoid",
  "hinge",
  "ipo",
  "exo_pair",
  "nca_pair",
  "robust",
  "bco_pair",
  "sppo_hard",
  "aot",
  "aot_unpaired",
  "apo_zero",
  "apo_down",
  "discopop",
  "sft",
  "sigmoid_norm",
] as const;
/** One DPO loss type (see {@link LOSS_TYPES}). */
export type LossType = (typeof LOSS_TYPES)[number];

/** The f-divergences of f-DPO (DPOConfig.f_divergence_type). */
export const F_DIVERGENCE_TYPES = ["reverse_kl", "forward_kl", "js_divergence", "alpha_divergence"] as const;
/** One f-divergence type (see {@link F_DIVERGENCE_TYPES}). */
export type FDivergenceType = (typeof F_DIVERGENCE_TYPES)[number];

/** The losses built on the score difference Δ: the only ones TRL allows with a non-default fDivergenceType. */
export const F_DIVERGENCE_LOSS_TYPES: readonly LossType[] = ["sigmoid", "sigmoid_norm", "hinge", "ipo", "exo_pair", "robust", "discopop", "sft"];

/** The log-probabilities the loss compares: policy and reference, chosen and rejected, [B] each. */
export interface PreferenceLogps {
  policyChosenLogps: tf.Tensor1D; // [B]
  policyRejectedLogps: tf.Tensor1D; // [B]
  referenceChosenLogps: tf.Tensor1D; // [B]
  referenceRejectedLogps: tf.Tensor1D; // [B]
  /** Completion token counts, needed by "ipo" and "sigmoid_norm" (clamped at 1). */
  chosenLengths?: tf.Tensor1D; // [B]
  rejectedLengths?: tf.Tensor1D; // [B]
  /** Mean negative log-likelihood per chosen completion token over the batch, needed by "sft": scalar. */
  chosenNll?: tf.Scalar;
  /** WPO weights of each completion (no gradient), needed by useWeighting. */
  chosenWeights?: tf.Tensor1D; // [B]
  rejectedWeights?: tf.Tensor1D; // [B]
}

/** Options of {@link dpoLoss}: beta, the loss type(s) and their parameters, as TRL's DPOConfig. */
export interface DPOLossOptions {
  beta: number;
  /** One loss or several (summed with lossWeights; e.g. MPO, or RPO = ["sigmoid", "sft"]). */
  lossType: LossType | readonly LossType[];
  labelSmoothing: number;
  /** One weight per loss type; default 1 each. */
  lossWeights?: readonly number[] | null;
  fDivergenceType?: FDivergenceType;
  fAlphaDivergenceCoef?: number;
  discopopTau?: number;
  /** WPO: multiply each per-pair loss by chosenWeights·rejectedWeights. */
  useWeighting?: boolean;
}

/** What {@link dpoLoss} returns: per-pair losses and the implicit rewards, [B] each; the caller disposes them. */
export interface DPOLossOutput {
  losses: tf.Tensor1D; // [B], Σ_k weight_k · per-pair loss_k; the batch loss is its mean
  chosenRewards: tf.Tensor1D; // [B], a metric
  rejectedRewards: tf.Tensor1D; // [B], a metric
}

/** lossType as a list (TRL's DPOConfig turns a single string into a one-element list). */
export function lossTypeList(lossType: LossType | readonly LossType[]): LossType[] {
  return typeof lossType === "string" ? [lossType] : [...lossType];
}

/**
 * TRL's refusals for invalid combinations (DPOTrainer.__init__ and DPOConfig.__post_init__), raised as errors with
 * the knob names of DPOConfig. Also refuses what TRL only warns about or lets fail later (unknown names, robust's ε).
 */
export function checkLossOptions(opts: DPOLossOptions, source = "DPOConfig"): void {
  const types = lossTypeList(opts.lossType);
  if (types.length === 0) throw new Error(`${source}: option "lossType" is an empty list`);
  for (const t of types) {
    if (!(LOSS_TYPES as readonly string[]).includes(t)) throw new Error(`${source}: option "lossType" must be one of ${LOSS_TYPES.join(", ")}, got "${t}"`);
  }
  if (opts.lossWeights != null) {
    if (opts.lossWeights.length !== types.length) {
      throw new Error(
        `${source}: "lossWeights" must have the same length as "lossType" when combining multiple losses. Got ${opts.lossWeights.length} weights for ${types.length} loss types.`,
      );
    }
    opts.lossWeights.forEach((w, i) => {
      if (typeof w !== "number" || !Number.isFinite(w)) throw new Error(`${source}: "lossWeights"[${i}] must be a finite number, got ${JSON.stringify(w)}`);
    });
  }
  const f = opts.fDivergenceType ?? "reverse_kl";
  if (!(F_DIVERGENCE_TYPES as readonly string[]).includes(f))
    throw new Error(`${source}: option "fDivergenceType" must be one of ${F_DIVERGENCE_TYPES.join(", ")}, got "${f}"`);
  if (f !== "reverse_kl" && !types.every((t) => F_DIVERGENCE_LOSS_TYPES.includes(t))) {
    throw new Error(
      `${source}: fDivergenceType "${f}" is only supported for the loss types ${[...F_DIVERGENCE_LOSS_TYPES].sort().join(", ")}; got lossType ${JSON.stringify(types)}. The other losses have no valid f-divergence generalization: use fDivergenceType "reverse_kl" with them.`,
    );
  }
  if (opts.useWeighting && types.some((t) => t === "aot" || t === "aot_unpaired")) {
    throw new Error(
      `${source}: useWeighting (WPO) is not implemented for "aot" or "aot_unpaired": those losses sort the pairs of a batch, which would misalign the per-pair weights (TRL refuses it too).`,
    );
  }
  const eps = opts.labelSmoothing;
  if (types.includes("robust") && !(eps >= 0 && eps < 0.5))
    throw new Error(`${source}: "labelSmoothing" must lie in [0, 0.5) for the "robust" loss, got ${eps}`);
  if (types.includes("exo_pair") && eps === 0)
    throw new Error(`${source}: "labelSmoothing" must be greater than 0 with the "exo_pair" loss (the EXO paper recommends 1e-3)`);
  if (types.includes("exo_pair") && !(eps > 0 && eps < 1))
    throw new Error(`${source}: "labelSmoothing" must lie in (0, 1) for the "exo_pair" loss, got ${eps}`);
  if (opts.discopopTau !== undefined && types.includes("discopop") && !(opts.discopopTau > 0))
    throw new Error(`${source}: "discopopTau" must be > 0, got ${opts.discopopTau}`);
}

/**
 * log σ(z) = −softplus(−z). (tf.logSigmoid's gradient reads its input from a closure, which a surrounding
 * tf.tidy has already disposed by the time the backward pass runs.)
 */
function logSigmoid(z: tf.Tensor): tf.Tensor {
  return tf.neg(tf.softplus(tf.neg(z)));
}

/** The f′-score of log-ratios ρ for an f-divergence (TRL's chosen_scores / rejected_scores). ρ: [B] → [B] */
function fScore(logRatios: tf.Tensor, f: FDivergenceType, alpha: number): tf.Tensor {
  switch (f) {
    case "reverse_kl":
      return logRatios;
    case "forward_kl": // f′(t) = 1 − 1/t
      return tf.scalar(1).sub(tf.exp(tf.neg(logRatios)));
    case "js_divergence": // f′(t) = log(2t/(t+1)) = log 2 + log σ(log t)
      return logSigmoid(logRatios).add(Math.LN2);
    case "alpha_divergence": {
      // f′(t) = (t^(α−1) − 1)/(α−1); α → 1 is reverse KL. The exponent is clamped at 80 as TRL does for float32.
      if (Math.abs(alpha - 1) < 1e-6) return logRatios;
      const t = tf.minimum(logRatios.mul(alpha - 1), 80);
      return tf
        .exp(t)
        .sub(1)
        .mul(1 / (alpha - 1));
    }
  }
}

/** −(1−ε)·log σ(βx) − ε·log σ(−βx): the (label-smoothed) sigmoid loss. */
function smoothedSigmoidLoss(x: tf.Tensor, beta: number, eps: number): tf.Tensor {
  const clean = logSigmoid(x.mul(beta)).mul(-(1 - eps));
  return eps === 0 ? clean : clean.sub(logSigmoid(x.mul(-beta)).mul(eps));
}

/**
 * x sorted ascending over the batch (torch.sort(x, dim=0).values), differentiable: the sort order is a constant
 * permutation P (TopK has no gradient in tfjs), sorted = P·x and the gradient is Pᵀ·dy (a matMul, not a gather,
 * whose gradient is slow on cpu and missing on wasm). x: [B] → [B]
 */
const sortByPermutation = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor1D;
  const save = args[1] as tf.GradSaveFunc;
  const B = x.shape[0];
  const order = tf.topk(tf.neg(x), B, true).indices; // [B] int32, indices of x from smallest to largest
  const permutation = tf.oneHot(order, B).cast("float32") as tf.Tensor2D; // [B, B], row i picks the i-th smallest
  save([permutation]);
  return {
    value: permutation.matMul(x.expandDims(1)).reshape([B]),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => saved[0].matMul(dy.expandDims(1), true, false).reshape([B]),
  };
}) as (x: tf.Tensor1D) => tf.Tensor1D;

/** A batch of one is sorted already (and tf.oneHot needs a depth of at least 2). */
const sortAscending = (x: tf.Tensor1D): tf.Tensor1D => (x.shape[0] < 2 ? x : sortByPermutation(x));

/**
 * The DPO loss of a batch with TRL 1.13's formulas for every {@link LossType} (summed with weights when several); throws
 * on invalid options. Tensors in, tensors out (the caller disposes the outputs).
 */
export function dpoLoss(inputs: PreferenceLogps, opts: DPOLossOptions): DPOLossOutput {
  checkLossOptions(opts, "dpoLoss");
  const { beta, labelSmoothing: eps } = opts;
  const types = lossTypeList(opts.lossType);
  const weights = opts.lossWeights ?? types.map(() => 1);
  const f = opts.fDivergenceType ?? "reverse_kl";
  const alpha = opts.fAlphaDivergenceCoef ?? 0.5;
  const tau = opts.discopopTau ?? 0.05;
  const need = <T>(value: T | undefined, what: string, loss: string): T => {
    if (value === undefined) throw new Error(`dpoLoss: loss "${loss}" needs ${what}`);
    return value;
  };
  return tf.tidy(() => {
    const chosenLogRatios = inputs.policyChosenLogps.sub(inputs.referenceChosenLogps); // ρ_w [B]
    const rejectedLogRatios = inputs.policyRejectedLogps.sub(inputs.referenceRejectedLogps); // ρ_l [B]
    const chosenScores = fScore(chosenLogRatios, f, alpha); // s_w [B]
    const rejectedScores = fScore(rejectedLogRatios, f, alpha); // s_l [B]
    const delta = chosenScores.sub(rejectedScores); // Δ [B]
    const lengthNormalisedDelta = (loss: string) => {
      const chosenLengths = tf.maximum(need(inputs.chosenLengths, "completion lengths", loss), 1);
      const rejectedLengths = tf.maximum(need(inputs.rejectedLengths, "completion lengths", loss), 1);
      return chosenScores.div(chosenLengths).sub(rejectedScores.div(rejectedLengths)); // [B]
    };
    let total: tf.Tensor | null = null;
    types.forEach((lossType, k) => {
      let perPair: tf.Tensor; // [B]
      switch (lossType) {
        case "sigmoid":
          perPair = smoothedSigmoidLoss(delta, beta, eps);
          break;
        case "hinge":
          perPair = tf.relu(tf.scalar(1).sub(delta.mul(beta)));
          break;
        case "ipo":
          perPair = lengthNormalisedDelta(lossType)
            .sub(1 / (2 * beta))
            .square();
          break;
        case "exo_pair": {
          const z = delta.mul(beta);
          const qChosen = tf.sigmoid(z);
          const qRejected = tf.sigmoid(tf.neg(z));
          perPair = qChosen.mul(logSigmoid(z).sub(Math.log1p(-eps))).add(qRejected.mul(logSigmoid(tf.neg(z)).sub(Math.log(eps))));
          break;
        }
        case "nca_pair": {
          const rChosen = chosenLogRatios.mul(beta);
          const rRejected = rejectedLogRatios.mul(beta);
          perPair = tf
            .neg(logSigmoid(rChosen))
            .sub(logSigmoid(tf.neg(rChosen)).mul(0.5))
            .sub(logSigmoid(tf.neg(rRejected)).mul(0.5));
          break;
        }
        case "robust":
          perPair = logSigmoid(delta.mul(beta))
            .mul(-(1 - eps))
            .add(logSigmoid(delta.mul(-beta)).mul(eps))
            .div(1 - 2 * eps);
          break;
        case "bco_pair":
          perPair = tf.neg(logSigmoid(chosenLogRatios.mul(beta))).sub(logSigmoid(rejectedLogRatios.mul(-beta)));
          break;
        case "sppo_hard":
          perPair = chosenLogRatios
            .sub(0.5 / beta)
            .square()
            .add(rejectedLogRatios.add(0.5 / beta).square());
          break;
        case "aot": {
          const policyLogRatios = inputs.policyChosenLogps.sub(inputs.policyRejectedLogps) as tf.Tensor1D; // [B]
          const referenceLogRatios = inputs.referenceChosenLogps.sub(inputs.referenceRejectedLogps) as tf.Tensor1D; // [B]
          perPair = smoothedSigmoidLoss(sortAscending(policyLogRatios).sub(sortAscending(referenceLogRatios)), beta, eps);
          break;
        }
        case "aot_unpaired":
          perPair = smoothedSigmoidLoss(sortAscending(chosenLogRatios as tf.Tensor1D).sub(sortAscending(rejectedLogRatios as tf.Tensor1D)), beta, eps);
          break;
        case "apo_zero":
          perPair = tf
            .scalar(1)
            .sub(tf.sigmoid(chosenLogRatios.mul(beta)))
            .add(tf.sigmoid(rejectedLogRatios.mul(beta)));
          break;
        case "apo_down":
          perPair = tf.sigmoid(chosenLogRatios.mul(beta)).add(tf.scalar(1).sub(tf.sigmoid(chosenLogRatios.sub(rejectedLogRatios).mul(beta))));
          break;
        case "discopop": {
          const logits = delta.mul(beta);
          const modulation = tf.sigmoid(logits.div(tau));
          perPair = tf
            .neg(logSigmoid(logits))
            .mul(tf.scalar(1).sub(modulation))
            .add(tf.exp(tf.neg(logits)).mul(modulation));
          break;
        }
        case "sft":
          perPair = tf.zerosLike(delta).add(need(inputs.chosenNll, "the chosen completions' mean token NLL (chosenNll)", lossType));
          break;
        case "sigmoid_norm":
          perPair = tf.neg(logSigmoid(lengthNormalisedDelta(lossType).mul(beta)));
          break;
      }
      if (opts.useWeighting) {
        perPair = perPair
          .mul(need(inputs.chosenWeights, "WPO weights (chosenWeights)", "useWeighting"))
          .mul(need(inputs.rejectedWeights, "WPO weights (rejectedWeights)", "useWeighting"));
      }
      const weighted = weights[k] === 1 ? perPair : perPair.mul(weights[k]);
      total = total ? total.add(weighted) : weighted;
    });
    const chosenRewards = chosenLogRatios.mul(beta) as tf.Tensor1D;
    const rejectedRewards = rejectedLogRatios.mul(beta) as tf.Tensor1D;
    return { losses: total! as tf.Tensor1D, chosenRewards, rejectedRewards };
  });
}

/**
 * Every loss as a function of the implicit reward margin m = r_w − r_l = β·(ρ_w − ρ_l), computed by dpoLoss itself
 * on a grid (for plots: metrics/plots.ts lossShapesFigure). The margin is split symmetrically, ρ_w = m/(2β) and
 * ρ_l = −m/(2β), for the losses that see ρ_w and ρ_l separately; completions have length 1 (ipo, sigmoid_norm);
 * "sft" is left out (it does not depend on the margin).
 */
export function lossCurves(
  margins: number[],
  opts: { beta?: number; labelSmoothing?: number; discopopTau?: number; lossTypes?: readonly LossType[] } = {},
): { name: LossType; margin: number[]; loss: number[] }[] {
  const beta = opts.beta ?? 0.1;
  const types = opts.lossTypes ?? LOSS_TYPES.filter((t) => t !== "sft");
  return types.map((lossType) => {
    const eps = lossType === "exo_pair" && !opts.labelSmoothing ? 1e-3 : (opts.labelSmoothing ?? 0);
    // Each margin is its own batch of one pair (aot sorts within a batch; a batch of one keeps its pair intact).
    const loss = margins.map((m) =>
      tf.tidy(() => {
        const half = m / (2 * beta);
        const out = dpoLoss(
          {
            policyChosenLogps: tf.tensor1d([half]),
            policyRejectedLogps: tf.tensor1d([-half]),
            referenceChosenLogps: tf.zeros([1]) as tf.Tensor1D,
            referenceRejectedLogps: tf.zeros([1]) as tf.Tensor1D,
            chosenLengths: tf.ones([1]) as tf.Tensor1D,
            rejectedLengths: tf.ones([1]) as tf.Tensor1D,
          },
          { beta, lossType, labelSmoothing: eps, discopopTau: opts.discopopTau },
        );
        return out.losses.dataSync()[0];
      }),
    );
    return { name: lossType, margin: margins, loss };
  });
}
