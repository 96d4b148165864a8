import { expect } from "vitest";
import type { LogEntry } from "../../src/train/trainer";

/**
 * dpo-ts's logged steps against TRL's (bench/trl_dpo.py's "logs"): same steps, and loss, rewards, log-probs,
 * grad_norm and learning_rate within 1e-3 relative (rewards relative to at least 1e-2, they start at 0).
 */
export function compareToTrl(ours: LogEntry[], theirs: Record<string, number>[], source: string): void {
  expect(ours.map((l) => l.step)).toEqual(theirs.map((l) => l.step));
  ours.forEach((entry, i) => {
    for (const key of ["loss", "rewards/margins", "grad_norm", "rewards/chosen", "rewards/rejected", "logps/chosen", "logps/rejected", "learning_rate"]) {
      const want = theirs[i][key];
      const scale = key.startsWith("rewards/") ? Math.max(Math.abs(want), 1e-2) : Math.abs(want);
      expect(Math.abs(entry[key] - want) / scale, `step ${entry.step} ${key}: dpo-ts ${entry[key]}, TRL (${source}) ${want}`).toBeLessThan(1e-3);
    }
  });
}
