/**
 * Plotly figure builders for a DPO dashboard: pure data in, `{ data, layout }` out (plotly.js JSON schema).
 * Input is a metric log as the trainer writes it (metrics.jsonl). One file per kind of figure:
 *
 * - figure.ts: the types (figure, trace, log entry, table) and shared colours;
 * - series.ts: series, EMA smoothing and final values from a log;
 * - layout.ts: the shared layout, reference lines, train/eval curve traces;
 * - dashboard.ts: the per-signal DPO figures and `dpoDashboard`;
 * - distributions.ts: histograms, completion lengths, win rates, reward vs KL;
 * - losses.ts: every DPO loss against the implicit reward margin;
 * - compare.ts: several runs side by side.
 */
export * from "./figure";
export * from "./series";
export * from "./layout";
export * from "./dashboard";
export * from "./distributions";
export * from "./losses";
export * from "./compare";
