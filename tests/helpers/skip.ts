/**
 * Skipping tests that need something outside Node (Python references, TensorBoard, Jupyter, Chromium, the native
 * backend) — never silently: each skipped group prints one line saying what was skipped, why, and how to enable it.
 *
 *   describe.skipIf(skipUnless(python, "agreement with TRL", NEEDS.venv))("agreement with TRL", () => ...)
 */

/** How to get each outside dependency (shown in the skip line). */
export const NEEDS = {
  venv: "needs the Python venv .venv with TRL, torch, transformers, TensorBoard: run `scripts/setup-python.sh`",
  torch: "needs torch + transformers in .venv: run `scripts/setup-python.sh`",
  tensorboard: "needs TensorBoard in .venv: run `scripts/setup-python.sh`",
  jupyter: "needs Jupyter in .venv: run `scripts/setup-python.sh --jupyter` (or `--jupyter-only`)",
  chromium:
    "needs Chromium's headless shell at /usr/bin/chromium-headless-shell: `apt-get install chromium-headless-shell` (Debian), " +
    "or point DPO_CHROMIUM at a Chromium binary",
  native: "needs the native TensorFlow backend: run `npm run setup:native`, then DPO_BACKEND=tensorflow npm test",
} as const;

/** True (skip) when `available` is falsy, after printing `skipped: <what> — <how to enable>`. */
export function skipUnless(available: unknown, what: string, howToEnable: string): boolean {
  if (available) return false;
  console.log(`skipped: ${what} — ${howToEnable}`);
  return true;
}

const announced = new Set<string>();

/**
 * Skips the running test from inside it (when the condition is known only at run time, e.g. the backend chosen in
 * beforeAll). The line is printed once per group `what`, however many of its tests skip.
 */
export function skipTest(ctx: { skip: (note?: string) => void }, what: string, howToEnable: string): void {
  if (!announced.has(what)) console.log(`skipped: ${what} — ${howToEnable}`);
  announced.add(what);
  ctx.skip(howToEnable);
}
