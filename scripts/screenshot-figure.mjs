// Takes a PNG of a dpo-ts plotly figure with headless Chromium (plotly.js inlined, no network): what
// scripts/render-loss-shapes.mjs and scripts/render-frontier.mjs use to draw course.md's figures.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Writes `fig` (a PlotlyFigure) drawn `width`×`height` pixels to the PNG file `out`; `dpo` is the built library. */
export function screenshotFigure(dpo, fig, out, { chromium, width = 900, height = 470 }) {
  fig.layout.width = width;
  fig.config = { displayModeBar: false };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-figure-"));
  const page = path.join(dir, "page.html");
  fs.writeFileSync(
    page,
    `<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0;background:white">${dpo.figureHtml(fig, { plotlyJs: "inline" })}</body></html>`,
  );
  const shot = spawnSync(
    chromium,
    ["--no-sandbox", "--hide-scrollbars", `--screenshot=${out}`, `--window-size=${width},${height}`, "--virtual-time-budget=8000", `file://${page}`],
    { encoding: "utf8" },
  );
  fs.rmSync(dir, { recursive: true, force: true });
  if (shot.status !== 0) throw new Error(`${chromium} failed to draw ${out}:\n${shot.stderr}`);
}
