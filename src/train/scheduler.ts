/**
 * Learning-rate schedules as Hugging Face's get_scheduler defines them: a multiplier of the base rate for update k
 * (0-based), with linear warmup over the first warmupSteps updates.
 */
export type SchedulerType = "constant" | "constant_with_warmup" | "linear" | "cosine";
/** Every {@link SchedulerType}. */
export const SCHEDULER_TYPES: SchedulerType[] = ["constant", "constant_with_warmup", "linear", "cosine"];

/** The learning rate at `step` (0-based) as transformers' schedulers give it: constant, linear or cosine decay, with linear warmup. */
export function learningRateAt(step: number, opts: { learningRate: number; type: SchedulerType; warmupSteps: number; totalSteps: number }): number {
  const { learningRate, type, warmupSteps, totalSteps } = opts;
  if (type === "constant") return learningRate;
  if (step < warmupSteps) return (learningRate * step) / Math.max(1, warmupSteps);
  switch (type) {
    case "constant_with_warmup":
      return learningRate;
    case "linear":
      return learningRate * Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
    case "cosine": {
      const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
      return learningRate * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
    default:
      throw new Error(`unknown lrSchedulerType "${type}" (use one of ${SCHEDULER_TYPES.join(", ")})`);
  }
}
