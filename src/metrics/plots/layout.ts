/**
 * Building blocks every figure shares: the common layout, reference lines, line traces, and train/eval curve pairs
 * (train EMA-smoothed over its faint raw values, eval dashed with markers).
 */
import { MetricLogEntry, PlotlyTrace, Series } from "./figure";
import { ema, seriesFromLog } from "./series";

/** The layout every dpo-ts figure shares: title top left, "step" on x, legend below, white background. */
export function baseLayout(title: string, yTitle: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: { text: title, x: 0.02, xanchor: "left" },
    xaxis: { title: { text: "step" }, zeroline: false },
    yaxis: { title: { text: yTitle }, zeroline: false },
    hovermode: "x unified",
    // legend at the bottom edge of the figure (container coordinates), below the x axis title
    legend: { orientation: "h", x: 0, xanchor: "left", y: 0, yref: "container", yanchor: "bottom" },
    margin: { l: 60, r: 20, t: 48, b: 96 },
    height: 340,
    paper_bgcolor: "white",
    plot_bgcolor: "white",
    ...extra,
  };
}

/** A dotted horizontal reference line with a label at its right end. */
export function hline(y: number, text: string): { shape: Record<string, unknown>; annotation: Record<string, unknown> } {
  return {
    shape: {
      type: "line",
      xref: "paper",
      x0: 0,
      x1: 1,
      yref: "y",
      y0: y,
      y1: y,
      line: { color: "#999", width: 1, dash: "dot" },
    },
    annotation: {
      xref: "paper",
      x: 1,
      xanchor: "right",
      yref: "y",
      y,
      yanchor: "bottom",
      text,
      showarrow: false,
      font: { size: 10, color: "#777" },
    },
  };
}

/** A scatter trace drawing one series as a line (dashed, with markers, faint or legend-less on request). */
export function line(
  s: Series,
  color: string,
  opts: { dash?: string; markers?: boolean; width?: number; opacity?: number; group?: string; showlegend?: boolean } = {},
): PlotlyTrace {
  return {
    type: "scatter",
    mode: opts.markers ? "lines+markers" : "lines",
    name: s.name,
    x: s.x,
    y: s.y,
    line: { color, width: opts.width ?? 2, dash: opts.dash ?? "solid" },
    ...(opts.markers ? { marker: { color, size: 6 } } : {}),
    ...(opts.opacity !== undefined ? { opacity: opts.opacity } : {}),
    ...(opts.group ? { legendgroup: opts.group } : {}),
    ...(opts.showlegend === false ? { showlegend: false } : {}),
  };
}

/** Options shared by the time-series figures. */
export interface CurveOptions {
  /** EMA weight for train curves (TensorBoard-style, 0 = off). Raw values are drawn faint behind. Default 0.6. */
  smoothing?: number;
  title?: string;
}

/**
 * Train (smoothed, with faint raw) and eval (dashed, markers) curves for each metric in `metrics`.
 * `metrics` are train names; the eval series is `eval_<name>`. Returns traces only for series with data.
 */
export function trainEvalTraces(
  log: readonly MetricLogEntry[],
  metrics: Array<{ key: string; label: string; color: string; evalColor?: string }>,
  smoothing: number,
): PlotlyTrace[] {
  const traces: PlotlyTrace[] = [];
  for (const m of metrics) {
    const train = seriesFromLog(log, m.key, m.label);
    if (train.x.length > 0) {
      if (smoothing > 0 && train.x.length > 2) {
        traces.push(line({ ...train, name: `${m.label} (raw)` }, m.color, { width: 1, opacity: 0.3, group: m.key, showlegend: false }));
        traces.push({ ...line({ ...train, y: ema(train.y, smoothing) }, m.color, { group: m.key }), hovertemplate: "%{y:.4g}" });
      } else {
        traces.push(line(train, m.color, { group: m.key }));
      }
    }
    const ev = seriesFromLog(log, "eval_" + m.key, `eval ${m.label}`);
    if (ev.x.length > 0) traces.push(line(ev, m.evalColor ?? m.color, { dash: "dash", markers: true, group: "eval_" + m.key }));
  }
  return traces;
}
