/**
 * Plotly figure builders for a DPO dashboard: pure data in, `{ data, layout }` out (plotly.js JSON schema).
 *
 * Only trace types in the plotly.js *basic* bundle are used (`scatter`, `bar`), so the figures render with
 * `plotly.js-basic-dist-min`. Histograms are binned here and drawn as bars for the same reason.
 *
 * Input is a metric log as the trainer writes it (metrics.jsonl): `{ step, loss, "rewards/chosen", eval_loss, ... }`
 * with TRL metric names; `eval_`-prefixed keys are evaluation metrics. Train and eval series of the same metric
 * are drawn together (eval dashed, with markers).
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

// ---------------------------------------------------------------------------------------------------------------
// Series helpers

/** The points of `metric` in `log` (entries where it is a finite number), in log order. */
export function seriesFromLog(log: readonly MetricLogEntry[], metric: string, name: string = metric): Series {
  const x: number[] = [];
  const y: number[] = [];
  for (const e of log) {
    const v = e[metric];
    if (typeof v === "number" && Number.isFinite(v)) {
      x.push(e.step);
      y.push(v);
    }
  }
  return { name, x, y };
}

/**
 * Exponential moving average with TensorBoard's debiasing (weight 0 = no smoothing, 0.99 = heavy):
 * `last = w * last + (1 - w) * v; smoothed = last / (1 - w^n)`. Non-finite values pass through unchanged.
 */
export function ema(values: readonly number[], weight: number): number[] {
  if (!(weight >= 0 && weight < 1)) throw new Error(`ema: weight must be in [0, 1), got ${weight}`);
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return v;
    last = last * weight + (1 - weight) * v;
    n++;
    return last / (1 - Math.pow(weight, n));
  });
}

/** Last finite value of each metric in a log, split into train and eval (eval keys without the prefix). */
export function finalMetrics(log: readonly MetricLogEntry[]): {
  train: Record<string, number>;
  eval: Record<string, number>;
  step: number | null;
} {
  const train: Record<string, number> = {};
  const evalM: Record<string, number> = {};
  let step: number | null = null;
  for (const e of log) {
    if (typeof e.step === "number") step = step === null ? e.step : Math.max(step, e.step);
    for (const [k, v] of Object.entries(e)) {
      if (k === "step" || typeof v !== "number" || !Number.isFinite(v)) continue;
      if (k.startsWith("eval_")) evalM[k.slice(5)] = v;
      else train[k] = v;
    }
  }
  return { train, eval: evalM, step };
}

/** Metric names present in a log (without `step`), train first then `eval_` ones, in first-seen order. */
export function metricNames(log: readonly MetricLogEntry[]): string[] {
  const seen = new Set<string>();
  for (const e of log) for (const k of Object.keys(e)) if (k !== "step") seen.add(k);
  const all = [...seen];
  return [...all.filter((k) => !k.startsWith("eval_")), ...all.filter((k) => k.startsWith("eval_"))];
}

// ---------------------------------------------------------------------------------------------------------------
// Layout helpers

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

function hline(y: number, text: string): { shape: Record<string, unknown>; annotation: Record<string, unknown> } {
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

function line(s: Series, color: string, opts: { dash?: string; markers?: boolean; width?: number; opacity?: number; group?: string; showlegend?: boolean } = {}): PlotlyTrace {
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
function trainEvalTraces(
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

// ---------------------------------------------------------------------------------------------------------------
// DPO dashboard figures

/** DPO loss: raw train loss faint, EMA-smoothed on top, eval loss dashed; dotted line at ln 2 (the loss at step 0). */
export function lossFigure(log: readonly MetricLogEntry[], opts: CurveOptions = {}): PlotlyFigure {
  const data = trainEvalTraces(log, [{ key: "loss", label: "loss", color: COLORS.train, evalColor: COLORS.eval }], opts.smoothing ?? 0.6);
  const ln2 = hline(Math.LN2, "ln 2 (policy = reference)");
  return {
    data,
    layout: baseLayout(opts.title ?? "DPO loss", "loss", { shapes: [ln2.shape], annotations: [ln2.annotation] }),
  };
}

/** A metric of chosen vs rejected completions ("<metric>/chosen", "<metric>/rejected"), train and eval. */
function chosenRejectedFigure(log: readonly MetricLogEntry[], metric: string, labels: [string, string], smoothing: number, title: string, yTitle: string): PlotlyFigure {
  return {
    data: trainEvalTraces(
      log,
      [
        { key: `${metric}/chosen`, label: labels[0], color: COLORS.chosen },
        { key: `${metric}/rejected`, label: labels[1], color: COLORS.rejected },
      ],
      smoothing,
    ),
    layout: baseLayout(title, yTitle),
  };
}

/** Implicit rewards β·(log π − log π_ref) of chosen vs rejected completions, train and eval. */
export function rewardsFigure(log: readonly MetricLogEntry[], opts: CurveOptions = {}): PlotlyFigure {
  return chosenRejectedFigure(log, "rewards", ["chosen", "rejected"], opts.smoothing ?? 0.6, opts.title ?? "Implicit rewards: chosen vs rejected", "reward");
}

/** Reward margin (chosen − rejected), train and eval; dotted zero line. */
export function marginsFigure(log: readonly MetricLogEntry[], opts: CurveOptions = {}): PlotlyFigure {
  const zero = hline(0, "0");
  return {
    data: trainEvalTraces(log, [{ key: "rewards/margins", label: "margin", color: COLORS.train, evalColor: COLORS.eval }], opts.smoothing ?? 0.6),
    layout: baseLayout(opts.title ?? "Reward margin (chosen − rejected)", "margin", { shapes: [zero.shape], annotations: [zero.annotation] }),
  };
}

/** Preference accuracy (fraction of pairs with chosen reward > rejected reward), 0..1 axis, chance line at 0.5. */
export function accuracyFigure(log: readonly MetricLogEntry[], opts: CurveOptions = {}): PlotlyFigure {
  const chance = hline(0.5, "chance");
  const layout = baseLayout(opts.title ?? "Reward accuracy", "accuracy", { shapes: [chance.shape], annotations: [chance.annotation] });
  (layout.yaxis as Record<string, unknown>).range = [-0.02, 1.02];
  return {
    data: trainEvalTraces(log, [{ key: "rewards/accuracies", label: "accuracy", color: COLORS.train, evalColor: COLORS.eval }], opts.smoothing ?? 0.6),
    layout,
  };
}

/** Learning rate schedule. */
export function learningRateFigure(log: readonly MetricLogEntry[], opts: { title?: string } = {}): PlotlyFigure {
  const s = seriesFromLog(log, "learning_rate", "learning rate");
  const layout = baseLayout(opts.title ?? "Learning rate", "lr");
  (layout.yaxis as Record<string, unknown>).exponentformat = "e";
  return { data: s.x.length ? [line(s, COLORS.train)] : [], layout };
}

/** Gradient norm (smoothed, raw faint). */
export function gradNormFigure(log: readonly MetricLogEntry[], opts: CurveOptions = {}): PlotlyFigure {
  return {
    data: trainEvalTraces(log, [{ key: "grad_norm", label: "grad norm", color: COLORS.train }], opts.smoothing ?? 0.6),
    layout: baseLayout(opts.title ?? "Gradient norm", "‖g‖"),
  };
}

/** Log-probabilities of chosen and rejected completions under the policy, train and eval. */
export function logpsFigure(log: readonly MetricLogEntry[], opts: CurveOptions = {}): PlotlyFigure {
  return chosenRejectedFigure(log, "logps", ["log p(chosen)", "log p(rejected)"], opts.smoothing ?? 0, opts.title ?? "Policy log-probabilities", "log p (sum over completion)");
}

/**
 * Implicit KL to the reference model, from given series (e.g. mean log π − log π_ref of sampled completions per
 * step, or rewards/β). Pass a log plus metric keys, or explicit series.
 */
export function klFigure(
  input: readonly MetricLogEntry[] | readonly Series[],
  opts: { keys?: string[]; title?: string } = {},
): PlotlyFigure {
  let series: Series[];
  if (input.length > 0 && "x" in (input[0] as object) && "y" in (input[0] as object)) {
    series = input as Series[];
  } else {
    const log = input as readonly MetricLogEntry[];
    const keys = opts.keys ?? metricNames(log).filter((k) => /(^|[/_])kl($|[/_])/i.test(k));
    series = keys.map((k) => seriesFromLog(log, k, k.startsWith("eval_") ? `eval ${k.slice(5)}` : k)).filter((s) => s.x.length > 0);
  }
  const data = series.map((s, i) => line(s, COLORS.runs[i % COLORS.runs.length], { dash: s.name.startsWith("eval") ? "dash" : "solid", markers: s.name.startsWith("eval") }));
  const zero = hline(0, "0");
  return {
    data,
    layout: baseLayout(opts.title ?? "Implicit KL to reference", "KL (nats)", { shapes: [zero.shape], annotations: [zero.annotation] }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Histograms, bars, scatter

/** Shared histogram bins. `edges` has `counts[i].length + 1` entries. */
export interface Histogram {
  edges: number[];
  counts: number[][];
}

function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / p;
  const nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  return nice * p;
}

/**
 * Bin several samples with the same edges (nice widths; integer widths when all values are integers).
 * `bins` is the target bin count (default: Sturges' rule on the largest sample, clamped to [5, 40]).
 * Bins are [lo, hi) except the last, which includes its upper edge.
 */
export function histogram(samples: ReadonlyArray<readonly number[]>, opts: { bins?: number } = {}): Histogram {
  const all = samples.flatMap((s) => s.filter((v) => Number.isFinite(v)));
  if (all.length === 0) return { edges: [0, 1], counts: samples.map(() => [0]) };
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of all) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const maxN = samples.reduce((m, s) => Math.max(m, s.length), 0);
  const target = opts.bins ?? Math.min(40, Math.max(5, Math.ceil(Math.log2(maxN) + 1)));
  const ints = all.every((v) => Number.isInteger(v));
  let width = niceStep((hi - lo) / target || 1);
  if (ints) width = Math.max(1, Math.ceil(width));
  lo = Math.floor(lo / width) * width;
  const n = Math.max(1, Math.ceil((hi - lo) / width));
  const edges = Array.from({ length: n + 1 }, (_, i) => +(lo + i * width).toPrecision(12));
  const counts = samples.map((s) => {
    const c = new Array<number>(n).fill(0);
    for (const v of s) {
      if (!Number.isFinite(v)) continue;
      const i = Math.min(n - 1, Math.floor((v - lo) / width));
      c[i]++;
    }
    return c;
  });
  return { edges, counts };
}

/**
 * Completion-length histograms (tokens), e.g. `{ chosen: [...], rejected: [...] }` or policy vs reference samples.
 * Overlaid semi-transparent bars on shared bins.
 */
export function completionLengthFigure(
  groups: Record<string, readonly number[]>,
  opts: { bins?: number; title?: string; unit?: string } = {},
): PlotlyFigure {
  const names = Object.keys(groups);
  const h = histogram(names.map((n) => groups[n]), { bins: opts.bins });
  const width = h.edges[1] - h.edges[0];
  const centers = h.edges.slice(0, -1).map((e) => e + width / 2);
  const colorOf = (n: string, i: number) =>
    (COLORS as unknown as Record<string, string>)[n] ?? COLORS.runs[i % COLORS.runs.length];
  const data: PlotlyTrace[] = names.map((name, i) => ({
    type: "bar",
    name: `${name} (n=${groups[name].length}, mean ${mean(groups[name]).toFixed(1)})`,
    x: centers,
    y: h.counts[i],
    width,
    marker: { color: colorOf(name, i), line: { color: "white", width: 0.5 } },
    opacity: names.length > 1 ? 0.55 : 0.85,
    customdata: h.edges.slice(0, -1).map((e, j) => [e, h.edges[j + 1]]),
    hovertemplate: `${name}: %{y} in [%{customdata[0]}, %{customdata[1]})<extra></extra>`,
  }));
  return {
    data,
    layout: baseLayout(opts.title ?? "Completion length", "count", {
      barmode: "overlay",
      bargap: 0,
      hovermode: "closest",
      xaxis: { title: { text: opts.unit ?? "tokens" }, zeroline: false },
    }),
  };
}

function mean(v: readonly number[]): number {
  const f = v.filter((x) => Number.isFinite(x));
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
}

/** A pairwise comparison result (e.g. policy vs reference judged by a reward model or a judge). */
export interface WinRate {
  label: string;
  wins: number;
  losses: number;
  ties?: number;
}

/** Stacked horizontal win / tie / loss bars in percent, one row per comparison. */
export function winRateFigure(results: readonly WinRate[], opts: { title?: string; winLabel?: string; lossLabel?: string } = {}): PlotlyFigure {
  const labels = results.map((r) => r.label);
  const total = results.map((r) => r.wins + r.losses + (r.ties ?? 0));
  const pct = (k: "wins" | "losses" | "ties") => results.map((r, i) => (total[i] > 0 ? (100 * (r[k] ?? 0)) / total[i] : 0));
  const part = (k: "wins" | "losses" | "ties", name: string, color: string): PlotlyTrace => {
    const p = pct(k);
    return {
      type: "bar",
      orientation: "h",
      name,
      y: labels,
      x: p,
      text: p.map((v, i) => (v >= 6 ? `${v.toFixed(0)}%` : "")),
      textposition: "inside",
      insidetextanchor: "middle",
      customdata: results.map((r, i) => [r[k] ?? 0, total[i]]),
      hovertemplate: `${name}: %{x:.1f}% (%{customdata[0]}/%{customdata[1]})<extra>%{y}</extra>`,
      marker: { color },
    };
  };
  const data = [part("wins", opts.winLabel ?? "win", COLORS.chosen)];
  if (results.some((r) => (r.ties ?? 0) > 0)) data.push(part("ties", "tie", COLORS.tie));
  data.push(part("losses", opts.lossLabel ?? "loss", COLORS.rejected));
  return {
    data,
    layout: baseLayout(opts.title ?? "Win rate", "", {
      barmode: "stack",
      hovermode: "closest",
      height: 160 + 50 * results.length,
      legend: { orientation: "h", x: 0, xanchor: "left", y: 0, yref: "container", yanchor: "bottom", traceorder: "normal" },
      xaxis: { title: { text: "% of comparisons" }, range: [0, 100], ticksuffix: "%" },
      yaxis: { automargin: true, autorange: "reversed" },
      shapes: [{ type: "line", xref: "x", x0: 50, x1: 50, yref: "paper", y0: 0, y1: 1, line: { color: "#555", width: 1, dash: "dot" } }],
    }),
  };
}

/** Points for a reward-vs-KL scatter (one group per run or β; `text` labels each point, e.g. the step). */
export interface RewardKlGroup {
  name: string;
  kl: number[];
  reward: number[];
  text?: string[];
}

/** Reward vs KL-to-reference scatter: the reward/KL frontier of several runs or checkpoints. */
export function rewardKlFigure(groups: readonly RewardKlGroup[], opts: { title?: string; connect?: boolean } = {}): PlotlyFigure {
  const data: PlotlyTrace[] = groups.map((g, i) => {
    if (g.kl.length !== g.reward.length) throw new Error(`rewardKlFigure: group "${g.name}" has ${g.kl.length} kl values and ${g.reward.length} rewards`);
    const color = COLORS.runs[i % COLORS.runs.length];
    return {
      type: "scatter",
      mode: opts.connect ? "lines+markers" : "markers",
      name: g.name,
      x: g.kl,
      y: g.reward,
      marker: { color, size: 9, line: { color: "white", width: 1 } },
      line: { color, width: 1 },
      ...(g.text ? { text: g.text } : {}),
      hovertemplate: `${g.name}${g.text ? " %{text}" : ""}<br>KL %{x:.4g}<br>reward %{y:.4g}<extra></extra>`,
    };
  });
  return {
    data,
    layout: baseLayout(opts.title ?? "Reward vs KL to reference", "reward", {
      hovermode: "closest",
      xaxis: { title: { text: "KL(π ‖ π_ref) (nats)" }, zeroline: false },
    }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Comparing runs

/** A named run's metric log. */
/** One loss as a function of the implicit reward margin (from src/train/loss.ts lossCurves, which calls dpoLoss). */
export interface LossCurve {
  name: string;
  margin: readonly number[];
  loss: readonly number[];
}

/**
 * Every DPO loss against the implicit reward margin r_w − r_l: how hard each one pushes (its slope) and where it
 * stops pushing. The curves are data (lossCurves in src/train/loss.ts evaluates the real dpoLoss on a grid); this only
 * draws them. Losses above yMax are clipped from view (ipo and sppo_hard grow quadratically).
 */
export function lossShapesFigure(curves: readonly LossCurve[], opts: { title?: string; yMax?: number; beta?: number } = {}): PlotlyFigure {
  const data = curves.map((c, i) =>
    line({ name: c.name, x: [...c.margin], y: [...c.loss] }, COLORS.runs[i % COLORS.runs.length], { dash: i >= COLORS.runs.length ? "dash" : "solid", width: 1.8 }),
  );
  const ln2 = hline(Math.LN2, "ln 2");
  const title = opts.title ?? `Each loss vs the implicit reward margin${opts.beta !== undefined ? ` (β = ${opts.beta})` : ""}`;
  const layout = baseLayout(title, "loss", {
    xaxis: { title: { text: "implicit reward margin r_w − r_l" }, zeroline: true, zerolinecolor: "#bbb" },
    yaxis: { title: { text: "loss" }, range: [-0.5, opts.yMax ?? 3], zeroline: true, zerolinecolor: "#bbb" },
    hovermode: "closest",
    height: 460,
    margin: { l: 60, r: 20, t: 48, b: 150 },
    shapes: [ln2.shape],
    annotations: [ln2.annotation],
  });
  return { data, layout };
}

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

/** A table: column names and rows of cells. */
export interface Table {
  columns: string[];
  rows: Array<Array<string | number | null>>;
}

/**
 * Final metrics per run: one row per run, columns `run`, `step`, then the given metrics (default: loss,
 * rewards/margins, rewards/accuracies and their eval_ versions where any run has them). Missing values are null.
 */
export function compareTable(runs: readonly RunLog[], metrics?: string[]): Table {
  const finals = runs.map((r) => ({ name: r.name, f: finalMetrics(r.log) }));
  const get = (f: ReturnType<typeof finalMetrics>, m: string): number | undefined =>
    m.startsWith("eval_") ? f.eval[m.slice(5)] : f.train[m];
  const defaults = ["loss", "rewards/margins", "rewards/accuracies", "eval_loss", "eval_rewards/margins", "eval_rewards/accuracies"];
  const cols = metrics ?? defaults.filter((m) => finals.some(({ f }) => get(f, m) !== undefined));
  return {
    columns: ["run", "step", ...cols],
    rows: finals.map(({ name, f }) => [name, f.step, ...cols.map((m) => get(f, m) ?? null)]),
  };
}

/** Final train/eval table of one run: rows are metrics, columns `metric`, `train`, `eval`. */
export function finalMetricsTable(log: readonly MetricLogEntry[]): Table {
  const f = finalMetrics(log);
  const names = [...new Set([...Object.keys(f.train), ...Object.keys(f.eval)])];
  return {
    columns: ["metric", "train", "eval"],
    rows: names.map((n) => [n, f.train[n] ?? null, f.eval[n] ?? null]),
  };
}

/** A titled figure for dashboards and reports. */
export interface NamedFigure {
  id: string;
  title: string;
  figure: PlotlyFigure;
}

/**
 * The standard DPO dashboard for one run: loss, rewards, margins, accuracy, log-probs, KL (if logged), learning
 * rate, grad norm. Figures without data are left out.
 */
export function dpoDashboard(log: readonly MetricLogEntry[], opts: CurveOptions & { beta?: number } = {}): NamedFigure[] {
  // Without a logged KL metric, the implicit KL to the reference on chosen answers is rewards/chosen / β
  // (mean log π(y_w|x) − log π_ref(y_w|x)), train and eval.
  const logged = metricNames(log).some((k) => /(^|[/_])kl($|[/_])/i.test(k));
  const kl = logged || !opts.beta
    ? klFigure(log)
    : klFigure([
        seriesFromLog(log, "rewards/chosen", "KL on chosen (rewards/chosen ÷ β)"),
        seriesFromLog(log, "eval_rewards/chosen", "eval KL on chosen"),
      ].map((s) => ({ ...s, y: s.y.map((v) => v / opts.beta!) })).filter((s) => s.x.length > 0));
  const figs: NamedFigure[] = [
    { id: "loss", title: "Loss", figure: lossFigure(log, opts) },
    { id: "rewards", title: "Rewards", figure: rewardsFigure(log, opts) },
    { id: "margins", title: "Margins", figure: marginsFigure(log, opts) },
    { id: "accuracy", title: "Accuracy", figure: accuracyFigure(log, opts) },
    { id: "logps", title: "Log-probabilities", figure: logpsFigure(log) },
    { id: "kl", title: "KL", figure: kl },
    { id: "learning_rate", title: "Learning rate", figure: learningRateFigure(log) },
    { id: "grad_norm", title: "Gradient norm", figure: gradNormFigure(log, opts) },
  ];
  return figs.filter((f) => f.figure.data.length > 0);
}
