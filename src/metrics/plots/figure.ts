/**
 * What a figure is in dpo-ts: plotly.js JSON (`{ data, layout }`), the metric-log entry figures are drawn from,
 * the colours every figure shares, and a table (what reports print beside figures).
 *
 * Only trace types in the plotly.js *basic* bundle are used (`scatter`, `bar`), so the figures render with
 * `plotly.js-basic-dist-min`.
 */

/** One logged point: TRL metric names (`loss`, `rewards/chosen`, `eval_loss`, ...) keyed by value. */
export interface MetricLogEntry {
  step: number;
  [metric: string]: number;
}

/** A plotly.js trace (`type` plus the trace's attributes). */
export interface PlotlyTrace {
  type: string;
  [attr: string]: unknown;
}

/** A plotly.js figure: what `Plotly.newPlot(div, fig.data, fig.layout, fig.config)` takes. */
export interface PlotlyFigure {
  data: PlotlyTrace[];
  layout: Record<string, unknown>;
  config?: Record<string, unknown>;
}

/** A named x/y series. */
export interface Series {
  name: string;
  x: number[];
  y: number[];
}

/** The colours of each series kind, the same in every figure. */
export const COLORS = {
  train: "#1f77b4",
  eval: "#ff7f0e",
  chosen: "#2ca02c",
  rejected: "#d62728",
  policy: "#1f77b4",
  reference: "#7f7f7f",
  tie: "#bcbd22",
  runs: ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"],
};

/** A table: column names and rows of cells. */
export interface Table {
  columns: string[];
  rows: Array<Array<string | number | null>>;
}
