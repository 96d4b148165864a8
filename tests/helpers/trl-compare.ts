/**
 * The 5-step DPO curve the tests compare with TRL: its two sides' arguments (bench/trl_dpo.py's and DPOConfig's) and
 * the comparison of their logged steps.
 */
import { expect } from "vitest";
import type { LogEntry } from "../../src/train/trainer";
import type { DPOConfigInput } from "../../src/train/config";

/**
 * bench/trl_dpo.py's arguments for the curve: `model` on the pairs of `prefs`, 5 steps, lr 1e-3, beta 0.1, constant
 * schedule (the loss type and the rest follow in the caller's arguments).
 */
export function trlCurveArgs(model: string, prefs: string): string[] {
  return ["--model", model, "--prefs", prefs, "--lr", "1e-3", "--beta", "0.1", "--steps", "5", "--lr-scheduler", "constant"];
}

/**
 * DPOConfig of the same curve on dpo-ts's side: the whole data set (`pairs`) as one batch, 5 steps, lr 1e-3, constant
 * schedule, clipping at 1, a log every step, nothing written but the run folder; `extra` overrides.
 */
export function curveTrainerArgs(outputDir: string, pairs: number, extra: DPOConfigInput = {}): DPOConfigInput {
  return {
    outputDir,
    perDeviceTrainBatchSize: pairs,
    maxSteps: 5,
    learningRate: 1e-3,
    lrSchedulerType: "constant",
    loggingSteps: 1,
    maxGradNorm: 1,
    reportTo: "none",
    numSampleGenerations: 0,
    writeReport: false,
    ...extra,
  };
}

/**
 * dpo-ts's logged steps against TRL's (bench/trl_dpo.py's "logs"): same steps, and loss, rewards, log-probs,
 * grad_norm and learning_rate within 1e-3 relative (rewards relative to at least 1e-2, they start at 0). `what`
 * names the run in failure messages.
 */
export function compareToTrl(ours: LogEntry[], theirs: Record<string, number>[], source: string, what = ""): void {
  expect(
    ours.map((l) => l.step),
    `${what} steps`,
  ).toEqual(theirs.map((l) => l.step));
  ours.forEach((entry, i) => {
    for (const key of ["loss", "rewards/margins", "grad_norm", "rewards/chosen", "rewards/rejected", "logps/chosen", "logps/rejected", "learning_rate"]) {
      const want = theirs[i][key];
      const scale = key.startsWith("rewards/") ? Math.max(Math.abs(want), 1e-2) : Math.max(Math.abs(want), 1e-6);
      expect(Math.abs(entry[key] - want) / scale, `${what} step ${entry.step} ${key}: dpo-ts ${entry[key]}, TRL (${source}) ${want}`).toBeLessThan(1e-3);
    }
  });
}
