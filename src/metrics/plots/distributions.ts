/**
 * Figures of distributions and outcomes rather than curves over steps: histograms (binned here and drawn as bars,
 * since the basic plotly bundle has no histogram trace), completion lengths, win rates, reward against KL.
 */
import { COLORS, PlotlyFigure, PlotlyTrace } from "./figure";
import { baseLayout } from "./layout";

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
export function completionLengthFigure(groups: Record<string, readonly number[]>, opts: { bins?: number; title?: string; unit?: string } = {}): PlotlyFigure {
  const names = Object.keys(groups);
  const h = histogram(
    names.map((n) => groups[n]),
    { bins: opts.bins },
  );
  const width = h.edges[1] - h.edges[0];
  const centers = h.edges.slice(0, -1).map((e) => e + width / 2);
  const colorOf = (n: string, i: number) => (COLORS as unknown as Record<string, string>)[n] ?? COLORS.runs[i % COLORS.runs.length];
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
      text: p.map((v) => (v >= 6 ? `${v.toFixed(0)}%` : "")),
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
  /** Error bars (e.g. standard errors), one per point. */
  klErr?: number[];
  rewardErr?: number[];
}

/** Options for {@link rewardKlFigure}. */
export interface RewardKlOptions {
  title?: string;
  /** Join each group's points with a line, in the given order. */
  connect?: boolean;
  /** Write each point's `text` beside it (not only on hover). */
  labels?: boolean;
  /** The y axis title (default "reward"). */
  yTitle?: string;
}

/** Reward vs KL-to-reference scatter: the reward/KL frontier of several runs, checkpoints or βs. */
export function rewardKlFigure(groups: readonly RewardKlGroup[], opts: RewardKlOptions = {}): PlotlyFigure {
  const data: PlotlyTrace[] = groups.map((g, i) => {
    for (const [what, values] of [
      ["kl", g.kl],
      ["reward", g.reward],
      ["text", g.text],
      ["klErr", g.klErr],
      ["rewardErr", g.rewardErr],
    ] as const)
      if (values && values.length !== g.kl.length)
        throw new Error(`rewardKlFigure: group "${g.name}" has ${g.kl.length} kl values and ${values.length} ${what} values`);
    const color = COLORS.runs[i % COLORS.runs.length];
    const errorBar = (values: number[]) => ({ type: "data", array: values, visible: true, color, thickness: 1, width: 3 });
    return {
      type: "scatter",
      mode: (opts.connect ? "lines+markers" : "markers") + (opts.labels && g.text ? "+text" : ""),
      name: g.name,
      x: g.kl,
      y: g.reward,
      marker: { color, size: 9, line: { color: "white", width: 1 } },
      line: { color, width: 1 },
      ...(g.text ? { text: g.text } : {}),
      ...(opts.labels && g.text ? { textposition: "top center" } : {}),
      ...(g.klErr ? { error_x: errorBar(g.klErr) } : {}),
      ...(g.rewardErr ? { error_y: errorBar(g.rewardErr) } : {}),
      hovertemplate: `${g.name}${g.text ? " %{text}" : ""}<br>KL %{x:.4g}<br>reward %{y:.4g}<extra></extra>`,
    };
  });
  return {
    data,
    layout: baseLayout(opts.title ?? "Reward vs KL to reference", opts.yTitle ?? "reward", {
      hovermode: "closest",
      xaxis: { title: { text: "KL(π ‖ π_ref) (nats)" }, zeroline: false },
    }),
  };
}
