/**
 * The arithmetic of `dpo-ts bench`'s summary, kept pure so that it is tested apart from any timing: the median and
 * min–max of a side's rounds, the spread that earns a warning, and the "× TRL" ratio computed from medians.
 */

/** A side's spread above this fraction of its median ((max − min) / median) is flagged in the output. */
export const SPREAD_WARNING = 0.15;

/** One side's rounds summarised. `n` counts the finite values; failed rounds (NaN) are left out and counted apart. */
export interface Summary {
  n: number;
  failed: number;
  median: number;
  min: number;
  max: number;
  /** (max − min) / median; 0 for a single round, NaN when nothing was measured. */
  spread: number;
}

/** The median of the finite values (mean of the two middle ones for an even count); NaN when there are none. */
export function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median, min, max and spread of a benchmark's rounds; non-finite values (failed rounds) are counted in `failed`, not averaged. */
export function summarize(values: readonly number[]): Summary {
  const finite = values.filter(Number.isFinite);
  if (!finite.length) return { n: 0, failed: values.length, median: NaN, min: NaN, max: NaN, spread: NaN };
  const m = median(finite);
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  return { n: finite.length, failed: values.length - finite.length, median: m, min, max, spread: m > 0 ? (max - min) / m : NaN };
}

/** The warning for a side whose rounds disagree by more than SPREAD_WARNING, or null. */
export function spreadWarning(label: string, what: string, s: Summary, limit = SPREAD_WARNING): string | null {
  if (!(s.n > 1) || !(s.spread > limit)) return null;
  return `warning: ${label}: ${what} varies by ${(s.spread * 100).toFixed(0)}% across ${s.n} rounds (min ${formatNumber(s.min)}, max ${formatNumber(s.max)}; over ${(limit * 100).toFixed(0)}%): the machine was probably busy, rerun it idle`;
}

/** How many times TRL's speed we reach, from medians: ours ÷ TRL's for a rate (tokens/s), TRL's ÷ ours for a time
 * (seconds, `lowerIsBetter`), so that above 1 always means faster than TRL. NaN when either side is missing. */
export function ratio(ours: Summary, trl: Summary, lowerIsBetter = false): number {
  if (!ours.n || !trl.n || !(ours.median > 0) || !(trl.median > 0)) return NaN;
  return lowerIsBetter ? trl.median / ours.median : ours.median / trl.median;
}

/** A figure with about three significant digits and thousands separators (4,856; 18.6; 0.081). */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return "—";
  const a = Math.abs(x);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** "4,856 (4,702–4,911)": median with min–max; only the median for a single round; "—" when nothing was measured. */
export function formatSummary(s: Summary): string {
  if (!s.n) return "—";
  const text = s.n > 1 ? `${formatNumber(s.median)} (${formatNumber(s.min)}–${formatNumber(s.max)})` : formatNumber(s.median);
  return s.failed ? `${text} [${s.failed} failed]` : text;
}

/** "1.16×" from a ratio; "—" when it cannot be computed. */
export function formatRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : "—";
}
