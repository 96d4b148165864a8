/**
 * The compact console line for one trainer log entry ("step 10 | loss 0.6512 | margins 0.123 | acc 0.75 | lr 5e-7"),
 * printed by the progress callbacks. (metrics.jsonl and TensorBoard event files are written by the trainer.)
 */
const SHORT: Record<string, string> = {
  "rewards/margins": "margins",
  "rewards/accuracies": "acc",
  "rewards/chosen": "chosen",
  "rewards/rejected": "rejected",
  learning_rate: "lr",
  grad_norm: "|g|",
};

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2).replace(/\.?0+e/, "e");
  return String(+v.toPrecision(4));
}

/** One-line summary of a log entry (loss, margins, accuracy, rewards, lr, grad norm, then eval ones). */
export function formatLogLine(entry: { step: number; [k: string]: number }): string {
  const order = ["loss", "rewards/margins", "rewards/accuracies", "rewards/chosen", "rewards/rejected", "learning_rate", "grad_norm"];
  const parts = [`step ${entry.step}`];
  for (const k of order) if (typeof entry[k] === "number") parts.push(`${SHORT[k] ?? k} ${fmt(entry[k])}`);
  for (const k of order) if (typeof entry["eval_" + k] === "number") parts.push(`eval ${SHORT[k] ?? k} ${fmt(entry["eval_" + k])}`);
  return parts.join(" | ");
}
