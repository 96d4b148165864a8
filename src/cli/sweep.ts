/**
 * `dpo-ts sweep`: the DPO paper's reward–KL frontier (its Fig. 2) in miniature. For each --betas value DPO trains the
 * SFT model on the same pairs for the same steps; each trained policy samples answers to the held-out prompts at
 * temperature 1, the judge scores them, and KL(policy ‖ SFT) is estimated from the samples' sequence log-probs.
 * Writes OUT/frontier.json (every point, the settings, a few judged samples), OUT/frontier.html (the figure and the
 * table) and each β's run to OUT/beta-<β>/ (metrics.jsonl, final/). See src/judge/beta-sweep.ts.
 */
import * as fs from "fs";
import * as path from "path";
import { initBackend } from "../backend";
import { loadPreferenceDataset } from "../data/dataset";
import { SweepPoint, betaSweep, frontierFigure, frontierTable } from "../judge/beta-sweep";
import { htmlPage } from "../metrics/render";
import { Tokenizer } from "../tokenizer/tokenizer";
import { PROMPTS_OPTION, readPrompts } from "./judge";
import { EMBEDDED } from "../embedded";
import { BACKEND_OPTION, CliError, OptionsTable, integerValue, listValue, numberValue, parseNumber, stringValue } from "./framework";

/** `dpo-ts sweep`'s options (--help is generated from them). */
export const sweepOptions: OptionsTable = {
  betas: { type: "string", valueName: "B1,B2,...", description: "the βs to train, one policy each (default 0.05,0.1,0.5,1)" },
  model: { type: "string", valueName: "DIR|ID", description: "the SFT model every policy starts from and the reference (default data/sft-model)" },
  data: { type: "string", valueName: "FILE|ID", description: "preference pairs every β trains on (default data/orca_dpo_pairs.jsonl)" },
  steps: { type: "string", valueName: "N", description: "optimizer updates per β (default 40, as notebook 03)" },
  lr: { type: "string", valueName: "LR", description: "learning rate (default 2e-3, as notebook 03's LoRA run)" },
  prompts: PROMPTS_OPTION,
  limit: { type: "string", valueName: "N", description: "measure on the first N prompts only" },
  samples: { type: "string", valueName: "N", description: "answers sampled per prompt and model (default 1)" },
  "max-new-tokens": { type: "string", valueName: "N", description: "tokens per sampled answer at most (default 48)" },
  seed: { type: "string", valueName: "N", description: "sampling seed, the same for every β (default 0)" },
  out: { type: "string", valueName: "DIR", description: "where the frontier and the runs go (default runs/sweep)" },
  "overwrite-output-dir": { type: "boolean", description: "replace a sweep already in --out (else it is refused)" },
  backend: BACKEND_OPTION,
  json: { type: "boolean", description: "print frontier.json's points as one JSON object instead of progress" },
};

function describePoint(p: SweepPoint): string {
  const name = p.beta === null ? "SFT (reference)" : `β=${p.beta}`;
  const train = p.beta === null ? "" : `; trained ${p.trainSeconds.toFixed(1)} s, final loss ${p.trainLoss?.toFixed(4)}`;
  return (
    `${name.padEnd(16)} KL ${p.kl.toFixed(4)} ± ${p.klStdErr.toFixed(4)} nats, mean judged reward ${p.meanReward.toFixed(3)} ± ${p.rewardStdErr.toFixed(3)} ` +
    `(n ${p.n}${train}; measured in ${p.measureSeconds.toFixed(1)} s)`
  );
}

/** Runs `dpo-ts sweep`: trains one policy per β, measures the frontier, writes frontier.json and frontier.html. Throws CliError for bad options or an --out that already holds a sweep. */
export async function sweepCommand(values: Record<string, unknown>): Promise<void> {
  const betas = (listValue(values, "betas") ?? ["0.05", "0.1", "0.5", "1"]).map((b) => parseNumber(b, "--betas", { positive: true }));
  if (new Set(betas).size !== betas.length) throw new CliError(`--betas repeats a value: ${betas.join(",")}`);
  const modelDir = stringValue(values, "model") ?? EMBEDDED.sftModel;
  const dataFile = stringValue(values, "data") ?? EMBEDDED.orcaDpoPairs;
  const steps = integerValue(values, "steps", { positive: true });
  const lr = numberValue(values, "lr", { positive: true });
  const limit = integerValue(values, "limit", { positive: true });
  const samplesPerPrompt = integerValue(values, "samples", { positive: true }) ?? 1;
  const maxNewTokens = integerValue(values, "max-new-tokens", { positive: true }) ?? 48;
  const seed = integerValue(values, "seed") ?? 0;
  const outDir = path.resolve(stringValue(values, "out") ?? "runs/sweep");
  const overwrite = Boolean(values["overwrite-output-dir"]);
  const json = Boolean(values.json);
  const prompts = readPrompts(stringValue(values, "prompts") ?? "held-out").slice(0, limit);
  if (prompts.length === 0) throw new CliError("--prompts: no prompts");
  const frontierFile = path.join(outDir, "frontier.json");
  // A sweep never overwrites another: its runs and its frontier are replaced only when asked.
  if (fs.existsSync(frontierFile) && !overwrite)
    throw new CliError(`--out ${outDir} already holds a sweep (frontier.json); pick another --out or pass --overwrite-output-dir`);
  const log = (line: string) => {
    if (!json) console.log(line);
  };

  await initBackend({ backend: stringValue(values, "backend"), quiet: json, model: modelDir });
  const tokenizer = await Tokenizer.fromDir(modelDir);
  const trainRows = await loadPreferenceDataset(dataFile, tokenizer);
  log(
    `dpo-ts sweep: β ∈ {${betas.join(", ")}}, ${trainRows.length} pairs from ${dataFile}, ${steps ?? 40} updates each; ` +
      `${prompts.length} prompts × ${samplesPerPrompt} answers at temperature 1 per model; runs in ${outDir}`,
  );
  fs.mkdirSync(outDir, { recursive: true });
  fs.rmSync(frontierFile, { force: true }); // an overwritten sweep leaves no stale frontier behind if this one fails
  const result = await betaSweep({
    modelDir,
    tokenizer,
    trainRows,
    betas,
    prompts,
    outputDir: outDir,
    trainArgs: {
      ...(steps !== undefined ? { maxSteps: steps, warmupSteps: Math.min(4, Math.floor(steps / 10)) } : {}),
      ...(lr !== undefined ? { learningRate: lr } : {}),
      overwriteOutputDir: overwrite,
      disableTqdm: true,
    },
    samplesPerPrompt,
    maxNewTokens,
    seed,
    onPoint: (p) => log(describePoint(p)),
  });
  fs.writeFileSync(frontierFile, JSON.stringify(result, null, 2) + "\n");
  const page = htmlPage({
    title: "DPO reward–KL frontier",
    subtitle: `β ∈ {${betas.join(", ")}}; ${prompts.length} held-out prompts × ${samplesPerPrompt} answers at temperature 1; ${result.seconds.toFixed(0)} s`,
    sections: [
      {
        title: "Frontier",
        intro:
          "Each DPO policy's mean judged reward against its KL divergence from the SFT model, estimated from the sampled answers' " +
          "log-probabilities (mean of log π(y|x) − log π_ref(y|x)); bars are ± one standard error.",
        blocks: [
          { kind: "figure", figure: frontierFigure(result) },
          { kind: "table", table: frontierTable(result), digits: 4 },
        ],
      },
    ],
  });
  const pageFile = path.join(outDir, "frontier.html");
  fs.writeFileSync(pageFile, page);
  if (json) {
    const { reference, points, seconds } = result;
    const strip = ({ examples: _examples, ...p }: SweepPoint) => p;
    console.log(JSON.stringify({ reference: strip(reference), points: points.map(strip), seconds, frontier: frontierFile, page: pageFile }));
  } else console.log(`\nsweep done in ${result.seconds.toFixed(1)} s: ${frontierFile}, ${pageFile}`);
}
