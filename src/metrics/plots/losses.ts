/**
 * The shapes of the DPO losses: each loss as a function of the implicit reward margin, drawn from curves that
 * src/train/loss.ts `lossCurves` computes with the real `dpoLoss` (this file only draws them).
 */
import { COLORS, PlotlyFigure } from "./figure";
import { baseLayout, hline, line } from "./layout";

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
    line({ name: c.name, x: [...c.margin], y: [...c.loss] }, COLORS.runs[i % COLORS.runs.length], {
      dash: i >= COLORS.runs.length ? "dash" : "solid",
      width: 1.8,
    }),
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
