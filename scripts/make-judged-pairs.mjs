#!/usr/bin/env node
// Step 3 of the course's data pipeline (after scripts/make-data.ts and scripts/make-sft-model.sh): builds the
// preference pairs by sampling the SFT model and letting the world's judge choose (best sample = chosen, worst =
// rejected), as the DPO paper builds its IMDb pairs; see src/judge/judged-pairs.ts. Writes Intel/orca_dpo_pairs
// columns {system, question, chosen, rejected} to --out (default data/orca_dpo_pairs.jsonl, the shipped pairs).
// The prompts are the distinct {system, question} of --data's SFT rows, in file order (training prompts only: the
// held-out prompts were reserved before the SFT rows were generated and stay unseen). Run after `npm run build`:
//   node scripts/make-judged-pairs.mjs [--model data/sft-model] [--data data/sft.jsonl] [--out data/orca_dpo_pairs.jsonl]
//     [--samples 4] [--temperature 1] [--max-new-tokens 64] [--limit 700] [--seed 0]
import * as fs from "node:fs";
import * as path from "node:path";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";

const root = path.join(path.dirname(new URL(import.meta.url).pathname), "..");
const { values } = parseArgs({
  options: {
    model: { type: "string", default: path.join(root, "data/sft-model") },
    data: { type: "string", default: path.join(root, "data/sft.jsonl") },
    out: { type: "string", default: path.join(root, "data/orca_dpo_pairs.jsonl") },
    samples: { type: "string", default: "4" },
    temperature: { type: "string", default: "1" },
    "max-new-tokens": { type: "string", default: "64" },
    limit: { type: "string", default: "700" },
    seed: { type: "string", default: "0" },
  },
});
const int = (name, min) => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < min) throw new Error(`make-judged-pairs: --${name} must be an integer ≥ ${min}, got ${values[name]}`);
  return v;
};
const temperature = Number(values.temperature);
if (!(temperature > 0)) throw new Error(`make-judged-pairs: --temperature must be > 0 (sampling), got ${values.temperature}`);
const dpo = createRequire(import.meta.url)(path.join(root, "dist/index.js"));
await dpo.initBackend({ quiet: true });
const seen = new Set();
const prompts = [];
for (const r of dpo.readInstructionFile(values.data)) {
  const key = JSON.stringify([r.system ?? "", r.question]);
  if (seen.has(key)) continue;
  seen.add(key);
  if (dpo.isHeldOut(r.question)) throw new Error(`make-judged-pairs: ${values.data} asks the held-out question ${JSON.stringify(r.question)}`);
  prompts.push({ system: r.system ?? "", question: r.question });
}
prompts.splice(int("limit", 1));
const tokenizer = await dpo.Tokenizer.fromDir(values.model);
const model = await dpo.loadModel(values.model, { trainable: false });
const t0 = Date.now();
const { pairs, noPreference } = await dpo.buildJudgedPairs({
  model,
  tokenizer,
  prompts,
  samples: int("samples", 2),
  temperature,
  maxNewTokens: int("max-new-tokens", 1),
  seed: int("seed", 0),
});
model.dispose();
fs.mkdirSync(path.dirname(values.out), { recursive: true });
const orca = pairs.map(({ system, question, chosen, rejected }) => JSON.stringify({ system, question, chosen, rejected }));
fs.writeFileSync(values.out, orca.join("\n") + (pairs.length ? "\n" : ""));
const mean = (xs) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
console.log(`${pairs.length} pairs from ${prompts.length} prompts in ${((Date.now() - t0) / 1000).toFixed(1)} s → ${values.out}`);
console.log(`mean judged score: chosen ${mean(pairs.map((p) => p.score_chosen)).toFixed(3)}, rejected ${mean(pairs.map((p) => p.score_rejected)).toFixed(3)}`);
console.log(
  `${noPreference.length} prompts without a preference (all samples scored alike), e.g. ${noPreference
    .slice(0, 3)
    .map((p) => `#${p.index} (${p.score})`)
    .join(", ")}`,
);
