/**
 * Comparing runs: one metric across several runs (shared axes or side-by-side panels) and a table of final metrics
 * per run.
 */
import { COLORS, MetricLogEntry, PlotlyFigure, PlotlyTrace, Table } from "./figure";
import { CurveOptions, baseLayout, line } from "./layout";
import { ema, finalMetrics, seriesFromLog } from "./series";

/** A named run's metric log. */
export interface RunLog {
  name: string;
  log: readonly MetricLogEntry[];
}

/** Options for {@link compareRunsFigure}. */
export interface CompareRunsOptions extends CurveOptions {
  /** One panel per run, side by side with a shared y axis, instead of all runs on one set of axes. */
  sideBySide?: boolean;
}

/**
 * One metric across several runs, one color per run: on shared axes (default) or in side-by-side panels with a
 * shared y axis (`sideBySide`). Train metrics are EMA-smoothed (raw faint); the matching `eval_` series is drawn
 * dashed in the same color. Pass `eval_<name>` to draw only the eval series.
 */
export function compareRunsFigure(runs: readonly RunLog[], metric: string, opts: CompareRunsOptions = {}): PlotlyFigure {
  const base = metric.startsWith("eval_") ? metric.slice(5) : metric;
  const smoothing = opts.smoothing ?? 0.6;
  const side = !!opts.sideBySide && runs.length > 1;
  const data: PlotlyTrace[] = [];
  runs.forEach((run, i) => {
    const color = COLORS.runs[i % COLORS.runs.length];
    const axes = side ? { xaxis: i === 0 ? "x" : `x${i + 1}`, yaxis: i === 0 ? "y" : `y${i + 1}` } : {};
    if (!metric.startsWith("eval_")) {
      const train = seriesFromLog(run.log, base, run.name);
      if (train.x.length) {
        if (smoothing > 0 && train.x.length > 2) {
          data.push({ ...line({ ...train, name: `${run.name} (raw)` }, color, { width: 1, opacity: 0.25, group: run.name, showlegend: false }), ...axes });
          data.push({ ...line({ ...train, y: ema(train.y, smoothing) }, color, { group: run.name }), ...axes });
        } else data.push({ ...line(train, color, { group: run.name }), ...axes });
      }
    }
    const ev = seriesFromLog(run.log, "eval_" + base, `${run.name} (eval)`);
    if (ev.x.length) data.push({ ...line(ev, color, { dash: "dash", markers: true, group: run.name }), ...axes });
  });
  const layout = baseLayout(opts.title ?? `${base} across runs`, base);
  if (side) {
    layout.grid = { rows: 1, columns: runs.length, pattern: "independent", xgap: 0.06 };
    layout.annotations = runs.map((r, i) => ({
      text: `<b>${escapeLabel(r.name)}</b>`,
      xref: `${i === 0 ? "x" : `x${i + 1}`} domain`,
      yref: `${i === 0 ? "y" : `y${i + 1}`} domain`,
      x: 0.5,
      y: 1,
      xanchor: "center",
      yanchor: "bottom",
      showarrow: false,
      font: { size: 12 },
    }));
    runs.forEach((_, i) => {
      if (i === 0) return;
      layout[`xaxis${i + 1}`] = { title: { text: "step" }, zeroline: false };
      layout[`yaxis${i + 1}`] = { matches: "y", showticklabels: false, zeroline: false };
    });
  }
  return { data, layout };
}

/** Plotly renders a small HTML subset in text; escape names used in annotations. */
function escapeLabel(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Final metrics per run: one row per run, columns `run`, `step`, then the given metrics (default: loss,
 * rewards/margins, rewards/accuracies and their eval_ versions where any run has them). Missing values are null.
 */
export function compareTable(runs: readonly RunLog[], metrics?: string[]): Table {
  const finals = runs.map((r) => ({ name: r.name, f: finalMetrics(r.log) }));
  const get = (f: ReturnType<typeof finalMetrics>, m: string): number | undefined => (m.startsWith("eval_") ? f.eval[m.slice(5)] : f.train[m]);
  const defaults = ["loss", "rewards/margins", "rewards/accuracies", "eval_loss", "eval_rewards/margins", "eval_rewards/accuracies"];
  const cols = metrics ?? defaults.filter((m) => finals.some(({ f }) => get(f, m) !== undefined));
  return {
    columns: ["run", "step", ...cols],
    rows: finals.map(({ name, f }) => [name, f.step, ...cols.map((m) => get(f, m) ?? null)]),
  };
}
