/**
 * Training progress for people watching: trainer callbacks that show how far a DPOTrainer run is.
 *
 * - {@link notebookProgress}: in a Jupyter kernel (or the course runner), ONE output that updates in place
 *   (step/total, ETA, steps/s, tokens/s, last loss, reward accuracy), plus an optional live plotly chart of loss and
 *   reward accuracy, also updated in place. Outside a kernel (plain `node`), one plain line per log entry.
 * - {@link terminalProgress}: for the command line. On a TTY, a progress bar redrawn on one line with the log lines
 *   printed above it; otherwise (a pipe, a CI log) one plain line per log entry.
 *
 * Both read only the trainer's state: `state.step`, `state.totalSteps`, `state.elapsedSeconds`, `state.tokensSeen`
 * and the log entries ({@link LogEntry}, TRL metric names).
 */
import type { LogEntry, TrainerCallback, TrainerState } from "./callback";
import { formatLogLine } from "../../metrics/logger";
import { PlotlyFigure, PlotlyTrace, seriesFromLog, COLORS, baseLayout } from "../../metrics/plots";
import { escapeHtml, mimeBundle } from "../../metrics/render";
import { LiveDisplay } from "../../course/display";

/** What a progress display shows at one moment. */
export interface ProgressSnapshot {
  step: number;
  total: number;
  /** step / total, in [0, 1]. */
  fraction: number;
  elapsedSeconds: number;
  /** Remaining seconds at the average pace so far (null before the first step). */
  etaSeconds: number | null;
  stepsPerSecond: number | null;
  tokensPerSecond: number | null;
  /** Last logged training values (null before the first log). */
  loss: number | null;
  accuracy: number | null;
  margin: number | null;
  /** Last evaluation values (null before the first evaluation). */
  evalLoss: number | null;
  evalAccuracy: number | null;
  done: boolean;
}

/** Options shared by the progress callbacks. */
export interface ProgressOptions {
  /** Number of updates the bar counts to (default: the trainer's `state.totalSteps`). */
  total?: number;
  /** Minimum milliseconds between two redraws of the status (default 500 in notebooks, 100 on a TTY). */
  minIntervalMs?: number;
  /** Label before the bar (default "DPO training"). */
  title?: string;
}

/** Options of {@link notebookProgress}. */
export interface NotebookProgressOptions extends ProgressOptions {
  /**
   * Also show a live chart (loss and reward accuracy, train and eval) redrawn at every log entry. Each redraw carries
   * plotly.js (~1.2 MB, so the saved output works on its own); only the last one stays in the notebook. Default false.
   */
  chart?: boolean;
}

function num(entry: LogEntry | null, key: string): number | null {
  const v = entry?.[key];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** A snapshot of the run from the trainer state and the last train / eval log entries. */
export function progressSnapshot(
  state: TrainerState,
  opts: { total?: number; lastTrain?: LogEntry | null; lastEval?: LogEntry | null; done?: boolean } = {},
): ProgressSnapshot {
  const total = Math.max(1, opts.total ?? state.totalSteps);
  const step = state.step;
  const elapsed = state.elapsedSeconds;
  const rate = step > 0 && elapsed > 0 ? step / elapsed : null;
  return {
    step,
    total,
    fraction: Math.min(1, step / total),
    elapsedSeconds: elapsed,
    etaSeconds: rate ? Math.max(0, (total - step) / rate) : null,
    stepsPerSecond: rate,
    tokensPerSecond: elapsed > 0 ? state.tokensSeen / elapsed : null,
    loss: num(opts.lastTrain ?? null, "loss"),
    accuracy: num(opts.lastTrain ?? null, "rewards/accuracies"),
    margin: num(opts.lastTrain ?? null, "rewards/margins"),
    evalLoss: num(opts.lastEval ?? null, "eval_loss"),
    evalAccuracy: num(opts.lastEval ?? null, "eval_rewards/accuracies"),
    done: opts.done ?? false,
  };
}

/** Seconds as "42s", "3m05s", "1h02m". */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function fmtRate(v: number | null, digits = 2): string {
  if (v === null) return "?";
  return v >= 100 ? Math.round(v).toString() : v.toFixed(digits);
}

function fmtMetric(v: number | null): string {
  return v === null ? "–" : v.toFixed(4);
}

/** The status as one line: "DPO training 12/40 (30%) | 0.81 steps/s | 350 tokens/s | ETA 35s | loss 0.5612 | acc 0.7500". */
export function progressLine(s: ProgressSnapshot, title = "DPO training"): string {
  const parts = [
    `${title} ${s.step}/${s.total} (${Math.round(100 * s.fraction)}%)`,
    `${fmtRate(s.stepsPerSecond)} steps/s`,
    `${fmtRate(s.tokensPerSecond, 0)} tokens/s`,
    s.done ? `took ${formatDuration(s.elapsedSeconds)}` : `elapsed ${formatDuration(s.elapsedSeconds)}, ETA ${formatDuration(s.etaSeconds)}`,
    `loss ${fmtMetric(s.loss)}`,
    `reward acc ${fmtMetric(s.accuracy)}`,
  ];
  if (s.evalLoss !== null) parts.push(`eval loss ${fmtMetric(s.evalLoss)}`);
  if (s.evalAccuracy !== null) parts.push(`eval acc ${fmtMetric(s.evalAccuracy)}`);
  return parts.join(" | ");
}

/** The status as a small HTML panel (a bar and a row of numbers; inline styles only). */
export function progressHtml(s: ProgressSnapshot, title = "DPO training"): string {
  const pct = (100 * s.fraction).toFixed(1);
  const cell = (label: string, value: string) =>
    `<div style="display:inline-block;margin-right:18px"><div style="color:#666;font-size:11px">${escapeHtml(label)}</div>` +
    `<div style="font-variant-numeric:tabular-nums">${escapeHtml(value)}</div></div>`;
  const cells = [
    cell("step", `${s.step} / ${s.total}`),
    cell(
      s.done ? "took" : "elapsed / ETA",
      s.done ? formatDuration(s.elapsedSeconds) : `${formatDuration(s.elapsedSeconds)} / ${formatDuration(s.etaSeconds)}`,
    ),
    cell("steps/s", fmtRate(s.stepsPerSecond)),
    cell("tokens/s", fmtRate(s.tokensPerSecond, 0)),
    cell("loss", fmtMetric(s.loss)),
    cell("reward accuracy", fmtMetric(s.accuracy)),
    cell("reward margin", fmtMetric(s.margin)),
  ];
  if (s.evalLoss !== null) cells.push(cell("eval loss", fmtMetric(s.evalLoss)));
  if (s.evalAccuracy !== null) cells.push(cell("eval accuracy", fmtMetric(s.evalAccuracy)));
  const color = s.done ? "#2ca02c" : "#1f77b4";
  return (
    `<div class="dpo-progress" style="font:13px sans-serif;max-width:900px">` +
    `<div style="margin-bottom:4px"><b>${escapeHtml(title)}</b> ${pct}%${s.done ? " — done" : ""}</div>` +
    `<div style="background:#e5e7eb;height:10px;border-radius:5px;overflow:hidden;margin-bottom:6px">` +
    `<div style="background:${color};width:${pct}%;height:10px"></div></div>` +
    cells.join("") +
    `</div>`
  );
}

/**
 * The live chart: train loss and reward accuracy (solid), eval loss and eval accuracy (dashed, markers); loss on the
 * left axis, accuracy (0..1) on the right.
 */
export function liveTrainingFigure(log: readonly LogEntry[], opts: { title?: string } = {}): PlotlyFigure {
  const trace = (key: string, name: string, color: string, axis: "y" | "y2", isEval: boolean): PlotlyTrace | null => {
    const s = seriesFromLog(log, key, name);
    if (s.x.length === 0) return null;
    return {
      type: "scatter",
      mode: isEval || s.x.length === 1 ? "lines+markers" : "lines",
      name,
      x: s.x,
      y: s.y,
      yaxis: axis,
      line: { color, width: 2, dash: isEval ? "dash" : "solid" },
      marker: { color, size: 6 },
    };
  };
  const data = [
    trace("loss", "loss", COLORS.train, "y", false),
    trace("eval_loss", "eval loss", COLORS.eval, "y", true),
    trace("rewards/accuracies", "reward accuracy", COLORS.chosen, "y2", false),
    trace("eval_rewards/accuracies", "eval reward accuracy", COLORS.tie, "y2", true),
  ].filter((t): t is PlotlyTrace => t !== null);
  return {
    data,
    layout: baseLayout(opts.title ?? "Training (live): loss and reward accuracy", "loss", {
      // Own ticks (0, 0.25, ... 1) and no grid: plotly would otherwise sync them to the loss axis' grid.
      yaxis2: {
        title: { text: "reward accuracy" },
        overlaying: "y",
        side: "right",
        range: [-0.02, 1.02],
        zeroline: false,
        tickmode: "linear",
        tick0: 0,
        dtick: 0.25,
        showgrid: false,
      },
      margin: { l: 60, r: 60, t: 48, b: 96 },
    }),
  };
}

/** True inside a tslab kernel or the course runner (where rich displays reach a notebook). */
export function inNotebook(): boolean {
  try {
    // The same module instance display.ts writes through: tslab next to dpo-ts.
    return (require("tslab/dist/jupyter") as { lastWriteDisplayData: unknown }).lastWriteDisplayData != null;
  } catch {
    return false;
  }
}

/** Keeps the last train and eval entries and the whole log (for charts). */
class LogTracker {
  lastTrain: LogEntry | null = null;
  lastEval: LogEntry | null = null;
  readonly log: LogEntry[] = [];
  add(entry: LogEntry): void {
    this.log.push(entry);
    if (Object.keys(entry).some((k) => k.startsWith("eval_"))) this.lastEval = entry;
    else this.lastTrain = entry;
  }
}

/**
 * A trainer callback that shows progress in a notebook: one status output updated in place (and, with `chart`, one
 * live chart). Outside a kernel it prints one plain line per log entry instead.
 *
 * @example
 * ```ts
 * const trainer = new DPOTrainer({ ..., callbacks: [notebookProgress({ chart: true })] });
 * await trainer.train();
 * ```
 */
export function notebookProgress(opts: NotebookProgressOptions = {}): TrainerCallback {
  const title = opts.title ?? "DPO training";
  const minInterval = opts.minIntervalMs ?? 500;
  const tracker = new LogTracker();
  let rich = false;
  let status: LiveDisplay | null = null;
  let chart: LiveDisplay | null = null;
  let lastDraw = 0;
  const snapshot = (state: TrainerState, done = false) =>
    progressSnapshot(state, { total: opts.total, lastTrain: tracker.lastTrain, lastEval: tracker.lastEval, done });
  const drawStatus = (state: TrainerState, done = false) => {
    const s = snapshot(state, done);
    status!.update({ "text/html": progressHtml(s, title), "text/plain": progressLine(s, title) });
    lastDraw = Date.now();
  };
  const drawChart = () => {
    if (!chart || tracker.log.length === 0) return;
    chart.update(mimeBundle(liveTrainingFigure(tracker.log), { plotlyJs: "inline" }));
  };
  return {
    isProgress: true,
    onTrainBegin(state) {
      rich = inNotebook();
      if (rich) {
        status = new LiveDisplay();
        if (opts.chart) chart = new LiveDisplay();
        drawStatus(state);
      } else {
        console.log(`${title}: ${opts.total ?? state.totalSteps} steps`);
      }
    },
    onLog(entry, state) {
      tracker.add(entry);
      if (!rich) {
        console.log(`${formatLogLine(entry)} | ${progressLine(snapshot(state), title).split(" | ").slice(1, 4).join(" | ")}`);
        return;
      }
      drawChart();
    },
    onStepEnd(state) {
      if (rich && (Date.now() - lastDraw >= minInterval || state.step === (opts.total ?? state.totalSteps))) drawStatus(state);
    },
    onTrainEnd(state) {
      if (rich) {
        drawStatus(state, true);
        drawChart();
      } else {
        console.log(progressLine(snapshot(state, true), title));
      }
    },
  };
}

/** Options of {@link terminalProgress}. */
export interface TerminalProgressOptions extends ProgressOptions {
  /** Where to write (default process.stderr, so stdout stays for results). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Force the bar on (true) or plain lines (false); default: whether the stream is a TTY. */
  tty?: boolean;
}

/** A text bar: "[=========>          ]". */
export function textBar(fraction: number, width: number): string {
  const w = Math.max(1, width);
  const filled = Math.min(w, Math.floor(fraction * w));
  if (filled >= w) return `[${"=".repeat(w)}]`;
  return `[${"=".repeat(filled)}>${" ".repeat(w - filled - 1)}]`;
}

/**
 * A trainer callback for terminals: on a TTY, a progress bar on one line (step/total, steps/s, tokens/s, ETA, loss,
 * reward accuracy) with each log line printed above it; elsewhere one plain line per log entry and a summary.
 */
export function terminalProgress(opts: TerminalProgressOptions = {}): TrainerCallback {
  const out = opts.stream ?? process.stderr;
  const tty = opts.tty ?? Boolean(out.isTTY);
  const title = opts.title ?? "DPO training";
  const minInterval = opts.minIntervalMs ?? 100;
  const tracker = new LogTracker();
  let lastDraw = 0;
  let barShown = false;
  const snapshot = (state: TrainerState, done = false) =>
    progressSnapshot(state, { total: opts.total, lastTrain: tracker.lastTrain, lastEval: tracker.lastEval, done });
  const barLine = (state: TrainerState): string => {
    const s = snapshot(state);
    const columns = out.columns && out.columns > 40 ? out.columns : 100;
    const rest =
      ` ${s.step}/${s.total} ${fmtRate(s.stepsPerSecond)} steps/s ${fmtRate(s.tokensPerSecond, 0)} tok/s ` +
      `ETA ${formatDuration(s.etaSeconds)} loss ${fmtMetric(s.loss)} acc ${fmtMetric(s.accuracy)}`;
    const width = Math.max(10, Math.min(30, columns - rest.length - 2));
    return (textBar(s.fraction, width) + rest).slice(0, columns - 1);
  };
  const clear = () => {
    if (barShown) out.write("\r\x1b[2K");
    barShown = false;
  };
  const draw = (state: TrainerState) => {
    out.write("\r\x1b[2K" + barLine(state));
    barShown = true;
    lastDraw = Date.now();
  };
  return {
    isProgress: true,
    onTrainBegin(state) {
      if (tty) draw(state);
      else out.write(`${title}: ${opts.total ?? state.totalSteps} steps\n`);
    },
    onLog(entry, state) {
      tracker.add(entry);
      const line = formatLogLine(entry);
      if (tty) {
        clear();
        out.write(line + "\n");
        draw(state);
      } else {
        const s = snapshot(state);
        const isEval = Object.keys(entry).some((k) => k.startsWith("eval_"));
        out.write(isEval ? `${line}\n` : `${line} | ${fmtRate(s.stepsPerSecond)} steps/s | ETA ${formatDuration(s.etaSeconds)}\n`);
      }
    },
    onStepEnd(state) {
      if (tty && Date.now() - lastDraw >= minInterval) draw(state);
    },
    onTrainEnd(state) {
      if (tty) clear();
      out.write(progressLine(snapshot(state, true), title) + "\n");
    },
  };
}
