// The pure arithmetic of `dpo-ts bench`'s summary: medians, min–max, the spread warning and the ratio × TRL.
import { describe, expect, it } from "vitest";
import { SPREAD_WARNING, formatNumber, formatRatio, formatSummary, median, ratio, spreadWarning, summarize } from "../src/cli/bench-stats";

describe("bench summary", () => {
  it("takes the median of odd and even counts and ignores failed rounds (NaN)", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([5, NaN, 1, 3])).toBe(3);
    expect(median([])).toBeNaN();
    expect(median([NaN])).toBeNaN();
  });

  it("summarises rounds as median, min, max and spread, counting failures apart", () => {
    const s = summarize([100, 90, NaN, 110]);
    expect(s).toEqual({ n: 3, failed: 1, median: 100, min: 90, max: 110, spread: 0.2 });
    expect(summarize([7]).spread).toBe(0);
    const none = summarize([NaN, NaN]);
    expect(none.n).toBe(0);
    expect(none.failed).toBe(2);
    expect(none.median).toBeNaN();
  });

  it("warns only when rounds disagree by more than 15% of the median", () => {
    expect(SPREAD_WARNING).toBe(0.15);
    expect(spreadWarning("TRL", "tokens/s", summarize([100, 105, 114]))).toBeNull(); // 14%
    const w = spreadWarning("dpo-ts wasm", "tokens/s", summarize([100, 90, 110]));
    expect(w).toContain("dpo-ts wasm");
    expect(w).toContain("20%");
    expect(w).toContain("min 90.0, max 110");
    expect(spreadWarning("x", "y", summarize([1, 10]), 0.15)).not.toBeNull();
    expect(spreadWarning("x", "y", summarize([1]))).toBeNull(); // one round has no spread
    expect(spreadWarning("x", "y", summarize([NaN, NaN]))).toBeNull();
  });

  it("computes × TRL from medians, inverted for times, so that above 1 means faster than TRL", () => {
    const ours = summarize([200, 220, 180]); // median 200 tokens/s
    const trl = summarize([100, 400, 90]); // median 100: an outlier round does not move it
    expect(ratio(ours, trl)).toBe(2);
    expect(ratio(summarize([10, 12, 11]), summarize([22, 20, 25]), true)).toBe(2); // 22 s for TRL, 11 s for us
    expect(ratio(ours, summarize([NaN]))).toBeNaN();
    expect(formatRatio(1.1649)).toBe("1.16×");
    expect(formatRatio(NaN)).toBe("—");
  });

  it("formats figures with about three significant digits and median (min–max)", () => {
    expect(formatNumber(4856.4)).toBe("4,856");
    expect(formatNumber(18.64)).toBe("18.6");
    expect(formatNumber(1.234)).toBe("1.23");
    expect(formatNumber(0.0812)).toBe("0.081");
    expect(formatNumber(Infinity)).toBe("—");
    expect(formatSummary(summarize([4856, 4702, 4911]))).toBe("4,856 (4,702–4,911)");
    expect(formatSummary(summarize([0.081]))).toBe("0.081");
    expect(formatSummary(summarize([2, NaN, 3, 4]))).toBe("3.00 (2.00–4.00) [1 failed]");
    expect(formatSummary(summarize([]))).toBe("—");
  });
});
