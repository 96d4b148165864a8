/**
 * MetricsLogger: one `log(entry)` call fans a trainer log entry out to
 *   - a JSONL file (one entry per line, appended synchronously; NaN/Infinity written as null),
 *   - TensorBoard event files (tags as transformers' TensorBoardCallback: train/loss, eval/loss, ...),
 *   - a compact console line ("step 10 | loss 0.6512 | margins 0.123 | acc 0.75 | lr 5e-7").
 *
 * Use it as the trainer's `onLog` callback, or on its own.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SummaryWriter } from "./tensorboard";

/** Options for {@link MetricsLogger}. */
export interface MetricsLoggerOptions {
  /** JSONL file to append to (relative to the output dir), or false. Default false (the trainer writes metrics.jsonl). */
  jsonl?: string | false;
  /**
   * TensorBoard: true writes to `<outDir>/runs/<Mon DD_HH-MM-SS>_<hostname>` (transformers' default logging dir),
   * a string is the log dir itself, false disables. Default true.
   */
  tensorboard?: boolean | string;
  /** Console output: true prints with console.log, a function receives each line, false is silent. Default false. */
  console?: boolean | ((line: string) => void);
}

/** transformers' default_logdir(): `runs/<%b%d_%H-%M-%S>_<hostname>`. */
export function defaultTensorboardDir(outDir: string, now: Date = new Date()): string {
  const mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][now.getMonth()];
  const p = (n: number) => String(n).padStart(2, "0");
  const stamp = `${mon}${p(now.getDate())}_${p(now.getHours())}-${p(now.getMinutes())}-${p(now.getSeconds())}`;
  return path.join(outDir, "runs", `${stamp}_${os.hostname()}`);
}

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

/** Fans log entries out to JSONL, TensorBoard and the console. Call `close()` at the end. */
export class MetricsLogger {
  readonly outDir: string;
  readonly jsonlPath: string | null;
  readonly tensorboardDir: string | null;
  private tb: SummaryWriter | null;
  private print: ((line: string) => void) | null;

  constructor(outDir: string, opts: MetricsLoggerOptions = {}) {
    this.outDir = outDir;
    fs.mkdirSync(outDir, { recursive: true });
    this.jsonlPath = opts.jsonl ? path.resolve(outDir, opts.jsonl) : null;
    const tbOpt = opts.tensorboard ?? true;
    this.tensorboardDir = tbOpt === false ? null : typeof tbOpt === "string" ? tbOpt : defaultTensorboardDir(outDir);
    this.tb = this.tensorboardDir ? new SummaryWriter(this.tensorboardDir) : null;
    this.print = opts.console === true ? (l) => console.log(l) : typeof opts.console === "function" ? opts.console : null;
  }

  /** Record one entry (`{ step, loss, "rewards/chosen", eval_loss, ... }`). */
  log(entry: { step: number; [k: string]: number }): void {
    if (this.jsonlPath) fs.appendFileSync(this.jsonlPath, JSON.stringify(entry) + "\n");
    this.tb?.addScalars(entry);
    this.print?.(formatLogLine(entry));
  }

  /** Hyperparameters as a markdown table in TensorBoard's Text tab (tag `args`, where transformers puts them). */
  logConfig(config: Record<string, unknown>): void {
    this.tb?.addHparams(config);
  }

  /** Arbitrary markdown note in TensorBoard's Text tab. */
  logText(tag: string, markdown: string, step = 0): void {
    this.tb?.addText(tag, markdown, step);
  }

  flush(): void {
    this.tb?.flush();
  }

  close(): void {
    this.tb?.close();
    this.tb = null;
  }
}
