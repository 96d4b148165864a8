import { describe, it, expect } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  ema,
  seriesFromLog,
  finalMetrics,
  histogram,
  lossFigure,
  rewardsFigure,
  marginsFigure,
  accuracyFigure,
  learningRateFigure,
  klFigure,
  completionLengthFigure,
  winRateFigure,
  rewardKlFigure,
  compareRunsFigure,
  compareTable,
  finalMetricsTable,
  dpoDashboard,
  MetricLogEntry,
  PlotlyTrace,
} from "../src/metrics/plots";
import { figureHtml, mimeBundle, figureSummary, htmlPage, tableHtml, plotlyBundle, jsonForScript, resetPlotlyInclusion } from "../src/metrics/render";
import { buildReport, writeReport, readMetricsLog, readSamples } from "../src/metrics/report";
import { syntheticLog, writeSyntheticRun } from "./helpers/synthetic-run";

const byName = (data: PlotlyTrace[], name: string) => data.find((t) => t.name === name)!;

describe("series helpers", () => {
  it("EMA matches TensorBoard's debiased smoothing", () => {
    const w = 0.6;
    const v = [1, 2, 4, NaN, 3];
    // by hand: last1 = 0.4, /0.4 -> 1; last2 = 0.24+0.8=1.04, /(1-0.36)=1.625; last3 = 0.624+1.6=2.224, /(1-0.216)
    const s = ema(v, w);
    expect(s[0]).toBeCloseTo(1, 12);
    expect(s[1]).toBeCloseTo(1.04 / 0.64, 12);
    expect(s[2]).toBeCloseTo(2.224 / 0.784, 12);
    expect(s[3]).toBeNaN();
    expect(s[4]).toBeCloseTo((2.224 * 0.6 + 0.4 * 3) / (1 - 0.6 ** 4), 12);
    expect(ema([5, 7], 0)).toEqual([5, 7]);
    expect(() => ema([1], 1)).toThrow(/weight/);
  });

  it("extracts series and final metrics, train vs eval", () => {
    const log: MetricLogEntry[] = [
      { step: 1, loss: 0.7, "rewards/chosen": 0.1 },
      { step: 2, loss: NaN, "rewards/chosen": 0.2 },
      { step: 2, eval_loss: 0.65 },
      { step: 3, loss: 0.6 },
    ];
    expect(seriesFromLog(log, "loss")).toEqual({ name: "loss", x: [1, 3], y: [0.7, 0.6] });
    expect(finalMetrics(log)).toEqual({ train: { loss: 0.6, "rewards/chosen": 0.2 }, eval: { loss: 0.65 }, step: 3 });
    expect(finalMetricsTable(log)).toEqual({
      columns: ["metric", "train", "eval"],
      rows: [
        ["loss", 0.6, 0.65],
        ["rewards/chosen", 0.2, null],
      ],
    });
  });

  it("bins histograms on shared nice edges with every value counted once", () => {
    const a = [1, 2, 2, 3, 10, 17, 20];
    const b = [5, 6, 7, 40];
    const h = histogram([a, b], { bins: 8 });
    expect(h.edges).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40]);
    expect(h.counts[0]).toEqual([4, 0, 1, 1, 1, 0, 0, 0]);
    expect(h.counts[1]).toEqual([0, 3, 0, 0, 0, 0, 0, 1]); // 40 lands in the last (closed) bin
    expect(h.counts[0].reduce((x, y) => x + y)).toBe(a.length);
    const f = histogram([[0.1, 0.15, 0.32]], { bins: 4 });
    expect(f.edges[1] - f.edges[0]).toBeCloseTo(0.1, 12);
    expect(f.counts[0].reduce((x, y) => x + y)).toBe(3);
    expect(histogram([[3, 3, 3]]).counts[0]).toEqual([3]);
  });
});

describe("figures", () => {
  const log = syntheticLog(60);

  it("loss: faint raw + EMA line + eval, ln2 reference", () => {
    const fig = lossFigure(log, { smoothing: 0.8 });
    const raw = fig.data[0];
    expect(raw.name).toBe("loss (raw)");
    expect(raw.opacity).toBe(0.3);
    expect(raw.showlegend).toBe(false);
    expect((raw.y as number[]).length).toBe(60);
    const sm = byName(fig.data, "loss");
    expect(sm.y).toEqual(ema(raw.y as number[], 0.8));
    const ev = byName(fig.data, "eval loss");
    expect(ev.x).toEqual([10, 20, 30, 40, 50, 60]);
    expect((ev.line as { dash: string }).dash).toBe("dash");
    expect((fig.layout.shapes as Array<{ y0: number }>)[0].y0).toBeCloseTo(Math.LN2, 12);
  });

  it("rewards, margins, accuracy, lr, kl have train and eval series", () => {
    const r = rewardsFigure(log, { smoothing: 0 });
    expect(r.data.map((t) => t.name)).toEqual(["chosen", "eval chosen", "rejected", "eval rejected"]);
    expect(byName(r.data, "chosen").y).toEqual(log.filter((e) => "rewards/chosen" in e).map((e) => e["rewards/chosen"]));
    expect(marginsFigure(log).data.map((t) => t.name)).toEqual(["margin (raw)", "margin", "eval margin"]);
    const acc = accuracyFigure(log);
    expect((acc.layout.yaxis as { range: number[] }).range).toEqual([-0.02, 1.02]);
    expect(learningRateFigure(log).data[0].y).toEqual(log.filter((e) => "learning_rate" in e).map((e) => e.learning_rate));
    const kl = klFigure(log);
    expect(kl.data.map((t) => t.name)).toEqual(["kl", "eval kl"]);
    const given = klFigure([{ name: "policy vs ref", x: [0, 1], y: [0, 0.5] }]);
    expect(given.data[0].y).toEqual([0, 0.5]);
    expect(dpoDashboard(log).map((d) => d.id)).toEqual(["loss", "rewards", "margins", "accuracy", "logps", "kl", "learning_rate", "grad_norm"]);
    expect(dpoDashboard([{ step: 1, loss: 0.69 }]).map((d) => d.id)).toEqual(["loss"]);
  });

  it("completion lengths: bar traces on shared bins", () => {
    const fig = completionLengthFigure({ chosen: [10, 12, 30, 31], rejected: [5, 50] }, { bins: 5 });
    expect(fig.data.every((t) => t.type === "bar")).toBe(true);
    expect(fig.data[0].x).toEqual(fig.data[1].x);
    expect((fig.data[0].y as number[]).reduce((a, b) => a + b)).toBe(4);
    expect((fig.data[1].y as number[]).reduce((a, b) => a + b)).toBe(2);
    expect(fig.data[0].name).toBe("chosen (n=4, mean 20.8)");
    expect((fig.data[0].marker as { color: string }).color).toBe("#2ca02c");
    expect(fig.layout.barmode).toBe("overlay");
  });

  it("win rate: stacked percentages", () => {
    const fig = winRateFigure([
      { label: "policy vs reference", wins: 30, losses: 10, ties: 10 },
      { label: "policy vs SFT", wins: 1, losses: 3 },
    ]);
    expect(fig.data.map((t) => t.name)).toEqual(["win", "tie", "loss"]);
    expect(fig.data[0].x).toEqual([60, 25]);
    expect(fig.data[1].x).toEqual([20, 0]);
    expect(fig.data[2].x).toEqual([20, 75]);
    expect(fig.layout.barmode).toBe("stack");
  });

  it("reward vs KL scatter and run comparison", () => {
    const s = rewardKlFigure([{ name: "β=0.1", kl: [0.1, 0.4], reward: [0.2, 0.5], text: ["step 10", "step 20"] }]);
    expect(s.data[0]).toMatchObject({ type: "scatter", mode: "markers", x: [0.1, 0.4], y: [0.2, 0.5] });
    expect(() => rewardKlFigure([{ name: "bad", kl: [1], reward: [] }])).toThrow(/bad/);
    const runs = [
      { name: "beta0.1", log: syntheticLog(30, 1) },
      { name: "beta0.5", log: syntheticLog(40, 2) },
    ];
    const c = compareRunsFigure(runs, "loss", { smoothing: 0.5 });
    expect(c.data.filter((t) => t.showlegend !== false).map((t) => t.name)).toEqual(["beta0.1", "beta0.1 (eval)", "beta0.5", "beta0.5 (eval)"]);
    expect((byName(c.data, "beta0.5").x as number[]).length).toBe(40);
    const sbs = compareRunsFigure(runs, "loss", { sideBySide: true });
    expect(sbs.data.filter((t) => t.name === "beta0.5")[0]).toMatchObject({ xaxis: "x2", yaxis: "y2" });
    expect(sbs.layout.grid).toMatchObject({ rows: 1, columns: 2 });
    expect(sbs.layout.yaxis2).toMatchObject({ matches: "y" });
    const ce = compareRunsFigure(runs, "eval_rewards/margins");
    expect(ce.data.map((t) => t.name)).toEqual(["beta0.1 (eval)", "beta0.5 (eval)"]);
    const t = compareTable(runs);
    expect(t.columns).toEqual(["run", "step", "loss", "rewards/margins", "rewards/accuracies", "eval_loss", "eval_rewards/margins", "eval_rewards/accuracies"]);
    expect(t.rows[1][0]).toBe("beta0.5");
    expect(t.rows[1][1]).toBe(40);
    expect(t.rows[1][2]).toBe(runs[1].log.filter((e) => "loss" in e).at(-1)!.loss);
    expect(compareTable(runs, ["nope"]).rows[0]).toEqual(["beta0.1", 30, null]);
  });
});

describe("rendering", () => {
  const fig = lossFigure(syntheticLog(20));

  it("embeds figure JSON safely and draws into its own div", () => {
    const evil = { data: [{ type: "scatter", name: "</script><b>x</b>", x: [1], y: [2] }], layout: { title: { text: "a<b" } } };
    const html = figureHtml(evil, { plotlyJs: "none", id: "fig1" });
    expect(html).not.toContain("</script><b>");
    expect(html).toContain('id="fig1"');
    expect(html).toContain("Interactive figure “a&lt;b”");
    expect(JSON.parse(jsonForScript(evil))).toEqual(evil);
    expect(jsonForScript({ s: "\u2028" })).toBe('{"s":"\\u2028"}');
  });

  it("inlines the plotly.js bundle guarded by window.Plotly; 'once' and 'none' modes", () => {
    const b = plotlyBundle();
    expect(b.js.length).toBeGreaterThan(500_000);
    expect(b.version).toMatch(/^\d+\.\d+\.\d+/);
    const inline = figureHtml(fig);
    expect(inline).toContain("if (!window.Plotly) {");
    expect(inline.length).toBeGreaterThan(b.js.length);
    expect(figureHtml(fig, { plotlyJs: "none" }).length).toBeLessThan(40_000);
    resetPlotlyInclusion();
    const first = figureHtml(fig, { plotlyJs: "once" });
    const second = figureHtml(fig, { plotlyJs: "once" });
    expect(first).toContain("if (!window.Plotly)");
    expect(second).not.toContain("if (!window.Plotly)");
    resetPlotlyInclusion();
  });

  it("MIME bundle has plotly JSON, HTML and a text summary", () => {
    const mb = mimeBundle(fig, { plotlyJs: "none" });
    expect(mb["application/vnd.plotly.v1+json"].data).toEqual(JSON.parse(JSON.stringify(fig.data)));
    expect(mb["text/html"]).toContain("Plotly.newPlot");
    expect(mb["text/plain"].split("\n")[0]).toBe("Figure: DPO loss");
    expect(figureSummary(fig)).toMatch(/scatter "loss \(raw\)": 20 points/);
  });

  it("tables and pages", () => {
    const t = tableHtml({
      columns: ["a", "b"],
      rows: [
        ["x<y", 0.000012345],
        [null, 3],
      ],
    });
    expect(t).toContain("<td>x&lt;y</td>");
    expect(t).toContain('<td class="num">1.234e-5</td>');
    expect(t).toContain("<td>–</td>");
    const page = htmlPage({
      title: "T & T",
      sections: [
        { title: "Curves", blocks: [{ kind: "figure", figure: fig }] },
        { title: "Notes", blocks: [{ kind: "text", text: "<hi>" }] },
      ],
    });
    expect(page.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(page.match(/if \(!window\.Plotly\)/g)).toHaveLength(1);
    expect(page).toContain("<title>T &amp; T</title>");
    expect(page).toContain('<a href="#curves">Curves</a>');
    expect(page).toContain("&lt;hi&gt;");
  });
});

describe("report", () => {
  it("writes a self-contained report with curves, tables, samples and config", () => {
    const dir = writeSyntheticRun(fs.mkdtempSync(path.join(os.tmpdir(), "dpo-report-")));
    const out = writeReport(dir);
    expect(out).toBe(path.join(dir, "report.html"));
    const html = fs.readFileSync(out, "utf8");
    expect(html).not.toMatch(/<script[^>]+src=/); // nothing loaded from elsewhere
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(html.match(/if \(!window\.Plotly\)/g)).toHaveLength(1);
    expect(html.match(/class="plotly-graph-div"/g)).toHaveLength(9); // 8 dashboard figures + completion lengths
    for (const id of ["summary", "curves", "final-metrics", "samples", "config"]) expect(html).toContain(`<section id="${id}">`);
    expect(html).toContain("Explain DPO in one sentence &amp; mind &lt;script&gt;alert(1)&lt;/script&gt; escaping.");
    expect(html).toContain("<td>lr_scheduler_type</td><td>linear</td>");
    expect(html).toContain("{&quot;a&quot;:[1,2],&quot;b&quot;:&quot;x&lt;y&gt;&quot;}");
    expect(buildReport(writeSyntheticRun(fs.mkdtempSync(path.join(os.tmpdir(), "dpo-report-")), { samples: false }))).not.toContain('id="samples"');
  });

  it("reports bad input with file, line and field", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-report-"));
    expect(() => writeReport(dir)).toThrow(/metrics\.jsonl: not found/);
    const m = path.join(dir, "metrics.jsonl");
    fs.writeFileSync(m, '{"step": 1, "loss": 0.7}\n\n{"loss": 0.6}\n');
    expect(() => readMetricsLog(m)).toThrow(`${m}:3: field "step" must be a number`);
    fs.writeFileSync(m, '{"step": 1, "loss": 0.7}\n{"step": 2, "loss": nope}\n');
    expect(() => readMetricsLog(m)).toThrow(`${m}:2: invalid JSON`);
    fs.writeFileSync(m, '{"step": 1, "loss": null, "note": "x"}\n');
    const log = readMetricsLog(m);
    expect(log[0].loss).toBeNaN();
    expect("note" in log[0]).toBe(false);
    const s = path.join(dir, "samples.json");
    fs.writeFileSync(
      s,
      JSON.stringify([
        { prompt: "p", policy: "a", reference: "b" },
        { prompt: "p", policy: 3, reference: "b" },
      ]),
    );
    expect(() => readSamples(s)).toThrow(`${s}: row 2: field "policy" must be a string`);
  });
});
