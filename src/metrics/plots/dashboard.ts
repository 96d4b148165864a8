/**
 * The DPO dashboard: one figure per training signal TRL logs (loss, rewards, margins, accuracy, log-probs, KL,
 * learning rate, gradient norm), train and eval together, and the final-metrics table of one run.
 */
import { COLORS, MetricLogEntry, PlotlyFigure, Series, Table } from "./figure";
import { CurveOptions, baseLayout, hline, line, trainEvalTraces } from "./layout";
import { finalMetrics, metricNames, seriesFromLog } from "./series";

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
function chosenRejectedFigure(
  log: readonly MetricLogEntry[],
  metric: string,
  labels: [string, string],
  smoothing: number,
  title: string,
  yTitle: string,
): PlotlyFigure {
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
  return chosenRejectedFigure(
    log,
    "logps",
    ["log p(chosen)", "log p(rejected)"],
    opts.smoothing ?? 0,
    opts.title ?? "Policy log-probabilities",
    "log p (sum over completion)",
  );
}

/**
 * Implicit KL to the reference model, from given series (e.g. mean log π − log π_ref of sampled completions per
 * step, or rewards/β). Pass a log plus metric keys, or explicit series.
 */
export function klFigure(input: readonly MetricLogEntry[] | readonly Series[], opts: { keys?: string[]; title?: string } = {}): PlotlyFigure {
  let series: Series[];
  if (input.length > 0 && "x" in (input[0] as object) && "y" in (input[0] as object)) {
    series = input as Series[];
  } else {
    const log = input as readonly MetricLogEntry[];
    const keys = opts.keys ?? metricNames(log).filter((k) => /(^|[/_])kl($|[/_])/i.test(k));
    series = keys.map((k) => seriesFromLog(log, k, k.startsWith("eval_") ? `eval ${k.slice(5)}` : k)).filter((s) => s.x.length > 0);
  }
  const data = series.map((s, i) =>
    line(s, COLORS.runs[i % COLORS.runs.length], { dash: s.name.startsWith("eval") ? "dash" : "solid", markers: s.name.startsWith("eval") }),
  );
  const zero = hline(0, "0");
  return {
    data,
    layout: baseLayout(opts.title ?? "Implicit KL to reference", "KL (nats)", { shapes: [zero.shape], annotations: [zero.annotation] }),
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
  const kl =
    logged || !opts.beta
      ? klFigure(log)
      : klFigure(
          [seriesFromLog(log, "rewards/chosen", "KL on chosen (rewards/chosen ÷ β)"), seriesFromLog(log, "eval_rewards/chosen", "eval KL on chosen")]
            .map((s) => ({ ...s, y: s.y.map((v) => v / opts.beta!) }))
            .filter((s) => s.x.length > 0),
        );
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
