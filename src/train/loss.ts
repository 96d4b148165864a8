/**
 * The DPO loss (Rafailov et al., 2023) and its variants, with TRL's names and formulas.
 *
 *   h = (log π(y_w|x) − log π_ref(y_w|x)) − (log π(y_l|x) − log π_ref(y_l|x))
 *   sigmoid: −(1−ε)·log σ(βh) − ε·log σ(−βh)          (ε = label smoothing, cDPO)
 *   hinge:   max(0, 1 − βh)                           (SLiC)
 *   ipo:     (h − 1/(2β))²  with log-probs averaged over completion tokens first (TRL 1.x)
 *   robust:  (−(1−ε)·log σ(βh) + ε·log σ(−βh)) / (1−2ε)
 * Implicit rewards: r_w = β·(log π(y_w|x) − log π_ref(y_w|x)), r_l likewise; metrics only (never differentiated).
 */
import * as tf from "@tensorflow/tfjs";

export type LossType = "sigmoid" | "hinge" | "ipo" | "robust";
export const LOSS_TYPES: LossType[] = ["sigmoid", "hinge", "ipo", "robust"];

export interface PreferenceLogps {
  policyChosenLogps: tf.Tensor1D; // [B]
  policyRejectedLogps: tf.Tensor1D; // [B]
  referenceChosenLogps: tf.Tensor1D; // [B]
  referenceRejectedLogps: tf.Tensor1D; // [B]
  /** Completion lengths, needed by "ipo". */
  chosenLengths?: tf.Tensor1D; // [B]
  rejectedLengths?: tf.Tensor1D; // [B]
}

export interface DPOLossOptions {
  beta: number;
  lossType: LossType;
  labelSmoothing: number;
}

export interface DPOLossOutput {
  losses: tf.Tensor1D; // [B]
  chosenRewards: tf.Tensor1D; // [B], a metric
  rejectedRewards: tf.Tensor1D; // [B], a metric
}

/**
 * log σ(z) = −softplus(−z). (tf.logSigmoid's gradient reads its input from a closure, which a surrounding
 * tf.tidy has already disposed by the time the backward pass runs.)
 */
function logSigmoid(z: tf.Tensor): tf.Tensor {
  return tf.neg(tf.softplus(tf.neg(z)));
}

export function dpoLoss(inputs: PreferenceLogps, opts: DPOLossOptions): DPOLossOutput {
  const { beta, labelSmoothing: eps, lossType } = opts;
  return tf.tidy(() => {
    let chosenLogRatios = inputs.policyChosenLogps.sub(inputs.referenceChosenLogps); // [B]
    let rejectedLogRatios = inputs.policyRejectedLogps.sub(inputs.referenceRejectedLogps); // [B]
    if (lossType === "ipo") {
      if (!inputs.chosenLengths || !inputs.rejectedLengths) throw new Error('loss "ipo" needs completion lengths');
      chosenLogRatios = chosenLogRatios.div(inputs.chosenLengths);
      rejectedLogRatios = rejectedLogRatios.div(inputs.rejectedLengths);
    }
    const h = chosenLogRatios.sub(rejectedLogRatios); // [B]
    let losses: tf.Tensor;
    switch (lossType) {
      case "sigmoid":
        losses = logSigmoid(h.mul(beta)).mul(-(1 - eps)).sub(logSigmoid(h.mul(-beta)).mul(eps));
        break;
      case "hinge":
        losses = tf.relu(tf.scalar(1).sub(h.mul(beta)));
        break;
      case "ipo":
        losses = h.sub(1 / (2 * beta)).square();
        break;
      case "robust":
        if (eps >= 0.5) throw new Error('loss "robust" needs labelSmoothing < 0.5');
        losses = logSigmoid(h.mul(beta)).mul(-(1 - eps)).add(logSigmoid(h.mul(-beta)).mul(eps)).div(1 - 2 * eps);
        break;
      default:
        throw new Error(`unknown loss type "${lossType}" (use one of ${LOSS_TYPES.join(", ")})`);
    }
    const chosenRewards = inputs.policyChosenLogps.sub(inputs.referenceChosenLogps).mul(beta) as tf.Tensor1D;
    const rejectedRewards = inputs.policyRejectedLogps.sub(inputs.referenceRejectedLogps).mul(beta) as tf.Tensor1D;
    return { losses: losses as tf.Tensor1D, chosenRewards, rejectedRewards };
  });
}
