#!/usr/bin/env node
// Renders docs/loss-shapes.png, the figure of every DPO loss against the implicit reward margin that course.md shows
// (notebook 03, section 6, draws the same figure live): lossCurves evaluates the trainer's own dpoLoss on a grid,
// lossShapesFigure draws it, headless Chromium takes the picture. Run after `npm run build`:
//   node scripts/render-loss-shapes.mjs [--beta 0.1] [--chromium /usr/bin/chromium-headless-shell]
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";

const root = path.join(path.dirname(new URL(import.meta.url).pathname), "..");
const { values } = parseArgs({
  options: { beta: { type: "string", default: "0.1" }, chromium: { type: "string", default: process.env.DPO_CHROMIUM ?? "/usr/bin/chromium-headless-shell" } },
});
const beta = Number(values.beta);
if (!(beta > 0)) throw new Error(`render-loss-shapes: --beta must be > 0, got ${values.beta}`);
const dpo = createRequire(import.meta.url)(path.join(root, "dist/index.js"));
await dpo.initBackend({ quiet: true });
const margins = Array.from({ length: 61 }, (_, i) => -6 + i * 0.2);
const fig = dpo.lossShapesFigure(dpo.lossCurves(margins, { beta }), { beta });
fig.layout.width = 900;
fig.config = { displayModeBar: false };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-loss-shapes-"));
const page = path.join(dir, "page.html");
fs.writeFileSync(
  page,
  `<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0;background:white">${dpo.figureHtml(fig, { plotlyJs: "inline" })}</body></html>`,
);
const out = path.join(root, "docs/loss-shapes.png");
const shot = spawnSync(
  values.chromium,
  ["--no-sandbox", "--hide-scrollbars", `--screenshot=${out}`, "--window-size=900,470", "--virtual-time-budget=8000", `file://${page}`],
  { encoding: "utf8" },
);
fs.rmSync(dir, { recursive: true, force: true });
if (shot.status !== 0) throw new Error(`render-loss-shapes: ${values.chromium} failed:\n${shot.stderr}`);
console.log(`wrote ${path.relative(root, out)}`);
