#!/usr/bin/env node
// Renders docs/frontier.png, the reward–KL frontier course.md shows, from the frontier.json a sweep wrote
// (`dpo-ts sweep` writes runs/sweep/frontier.json; notebook 04 writes runs/<runName>-sweep/frontier.json).
// Run after `npm run build`:
//   node scripts/render-frontier.mjs [--frontier runs/sweep/frontier.json] [--chromium /usr/bin/chromium-headless-shell]
import * as fs from "node:fs";
import * as path from "node:path";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { screenshotFigure } from "./screenshot-figure.mjs";

const root = path.join(path.dirname(new URL(import.meta.url).pathname), "..");
const { values } = parseArgs({
  options: {
    frontier: { type: "string", default: path.join(root, "runs/sweep/frontier.json") },
    chromium: { type: "string", default: process.env.DPO_CHROMIUM ?? "/usr/bin/chromium-headless-shell" },
  },
});
if (!fs.existsSync(values.frontier)) throw new Error(`render-frontier: ${values.frontier} not found: run \`npx dpo-ts sweep\` first`);
const dpo = createRequire(import.meta.url)(path.join(root, "dist/index.js"));
const sweep = JSON.parse(fs.readFileSync(values.frontier, "utf8"));
const { settings } = sweep;
const fig = dpo.frontierFigure(sweep, {
  title: `Mean judged reward vs KL(π ‖ π_ref): β ∈ {${settings.betas.join(", ")}}, ${settings.prompts} held-out prompts, ${settings.trainArgs.maxSteps} updates per β`,
});
const out = path.join(root, "docs/frontier.png");
screenshotFigure(dpo, fig, out, { chromium: values.chromium, height: 350 });
console.log(`wrote ${path.relative(root, out)} from ${values.frontier}`);
