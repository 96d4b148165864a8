#!/usr/bin/env node
// Renders docs/loss-shapes.png, the figure of every DPO loss against the implicit reward margin that course.md shows
// (notebook 03, section 6, draws the same figure live): lossCurves evaluates the trainer's own dpoLoss on a grid,
// lossShapesFigure draws it, headless Chromium takes the picture. Run after `npm run build`:
//   node scripts/render-loss-shapes.mjs [--beta 0.1] [--chromium /usr/bin/chromium-headless-shell]
import * as path from "node:path";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { screenshotFigure } from "./screenshot-figure.mjs";

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
const out = path.join(root, "docs/loss-shapes.png");
screenshotFigure(dpo, fig, out, { chromium: values.chromium });
console.log(`wrote ${path.relative(root, out)}`);
