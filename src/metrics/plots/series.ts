/**
 * Series from a metric log (metrics.jsonl as the trainer writes it: `{ step, loss, "rewards/chosen", eval_loss, ... }`
 * with TRL metric names; `eval_`-prefixed keys are evaluation metrics): points of one metric, TensorBoard's EMA
 * smoothing, the last value of each metric.
 */
import type { MetricLogEntry, Series } from "./figure";

/** The points of `metric` in `log` (entries where it is a finite number), in log order. */
export function seriesFromLog(log: readonly MetricLogEntry[], metric: string, name: string = metric): Series {
  const x: number[] = [];
  const y: number[] = [];
  for (const e of log) {
    const v = e[metric];
    if (typeof v === "number" && Number.isFinite(v)) {
      x.push(e.step);
      y.push(v);
    }
  }
  return { name, x, y };
}

/**
 * Exponential moving average with TensorBoard's debiasing (weight 0 = no smoothing, 0.99 = heavy):
 * `last = w * last + (1 - w) * v; smoothed = last / (1 - w^n)`. Non-finite values pass through unchanged.
 */
export function ema(values: readonly number[], weight: number): number[] {
  if (!(weight >= 0 && weight < 1)) throw new Error(`ema: weight must be in [0, 1), got ${weight}`);
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return v;
    last = last * weight + (1 - weight) * v;
    n++;
    return last / (1 - Math.pow(weight, n));
  });
}

/** Last finite value of each metric in a log, split into train and eval (eval keys without the prefix). */
export function finalMetrics(log: readonly MetricLogEntry[]): {
  train: Record<string, number>;
  eval: Record<string, number>;
  step: number | null;
} {
  const train: Record<string, number> = {};
  const evalM: Record<string, number> = {};
  let step: number | null = null;
  for (const e of log) {
    if (typeof e.step === "number") step = step === null ? e.step : Math.max(step, e.step);
    for (const [k, v] of Object.entries(e)) {
      if (k === "step" || typeof v !== "number" || !Number.isFinite(v)) continue;
      if (k.startsWith("eval_")) evalM[k.slice(5)] = v;
      else train[k] = v;
    }
  }
  return { train, eval: evalM, step };
}

/** Metric names present in a log (without `step`), train first then `eval_` ones, in first-seen order. */
export function metricNames(log: readonly MetricLogEntry[]): string[] {
  const seen = new Set<string>();
  for (const e of log) for (const k of Object.keys(e)) if (k !== "step") seen.add(k);
  const all = [...seen];
  return [...all.filter((k) => !k.startsWith("eval_")), ...all.filter((k) => k.startsWith("eval_"))];
}
