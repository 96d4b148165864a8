/**
 * Peer parity with Hugging Face TRL: TRL's DPOTrainer (bench/trl_dpo.py, run live in the project's venv) and
 * dpo-ts's DPOTrainer train the same GPT-2 fixture with the same settings (full batch, fp32, constant LR 1e-3,
 * no warmup, clipping at 1); per-step loss, rewards and grad_norm agree within 1e-3 relative, for every loss type,
 * every f-divergence, LD-DPO, WPO and loss mixes. Step 1 of each run is TRL's loss code on exactly the inputs dpo-ts
 * sees (initial weights, same batch); steps 2-5 check the gradients through the updates they cause.
 * All TRL runs happen in one Python process (bench/trl_dpo.py --sweep: one model load, a fresh copy per run), started
 * first and running while dpo-ts trains. Its output is cached in runs/trl-cache/ under a hash of everything it depends
 * on (the script, its arguments, the fixture files, the venv's trl/torch/transformers/accelerate/datasets versions), so
 * a second run of the suite (CI runs it once per backend) recomputes the dpo-ts side only; DPO_TRL_CACHE=0 forces a
 * live TRL run. Without python+trl the test compares against TRL's output recorded in bench/reference/ (same script,
 * same args).
 * (bench/reference/trl_gpt2_tiny_lr1e-3.json and _noref_ are the earlier single-run recordings of the sigmoid runs.)
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadModel } from "../src/model/io";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { readPreferenceFile } from "../src/data/preferences";
import { DPOTrainer, LogEntry } from "../src/train/trainer";
import type { DPOConfig } from "../src/train/config";
import { useBackendForTests } from "./helpers/backend";
import { pythonWith } from "./helpers/python";
import { compareToTrl, curveTrainerArgs, trlCurveArgs } from "./helpers/trl-compare";

const ROOT = path.join(__dirname, "..");
const FIX = path.join(__dirname, "fixtures/hf-tiny");
const python = pythonWith("trl", "torch");
const COMMON = ["--threads", "1", ...trlCurveArgs("tests/fixtures/hf-tiny/gpt2-policy", "tests/fixtures/hf-tiny/prefs.jsonl")];
const REF = ["--ref", "tests/fixtures/hf-tiny/gpt2-ref"];

/** One parity run: TRL's option names (bench/trl_dpo.py's argparse names) and the same knobs in DPOConfig. */
interface SweepRun {
  name: string;
  /** "ref": null in trl = no reference model given (TRL reloads the policy; dpo-ts copies it). */
  trl: Record<string, unknown>;
  ours: Partial<DPOConfig>;
}

const loss = (lossType: string, labelSmoothing = 0): SweepRun => ({
  name: lossType,
  trl: { loss_type: lossType, label_smoothing: labelSmoothing },
  ours: { lossType: lossType as DPOConfig["lossType"], labelSmoothing },
});

/** Every TRL 1.13 loss type (ε where the loss reads it), the f-divergences, LD-DPO, WPO, loss mixes, and TRL's
 * default reference (none given). Rerun with DPO_RECORD_REFERENCE=1 to rewrite the recorded file from live TRL. */
const SWEEP: SweepRun[] = [
  loss("sigmoid"),
  loss("hinge"),
  loss("ipo"),
  loss("exo_pair", 1e-3),
  loss("nca_pair"),
  loss("robust", 0.1),
  loss("bco_pair"),
  loss("sppo_hard"),
  { ...loss("aot", 0.1), name: "aot eps 0.1" },
  loss("aot_unpaired"),
  loss("apo_zero"),
  loss("apo_down"),
  loss("discopop"),
  loss("sft"),
  loss("sigmoid_norm"),
  {
    name: "discopop tau 0.5, reference = frozen copy of the policy",
    trl: { loss_type: "discopop", discopop_tau: 0.5, ref: null },
    ours: { lossType: "discopop", discopopTau: 0.5 },
  },
  { name: "forward_kl", trl: { f_divergence_type: "forward_kl" }, ours: { fDivergenceType: "forward_kl" } },
  { name: "js_divergence", trl: { f_divergence_type: "js_divergence" }, ours: { fDivergenceType: "js_divergence" } },
  {
    name: "alpha_divergence 0.3 + ipo",
    trl: { loss_type: "ipo", f_divergence_type: "alpha_divergence", f_alpha_divergence_coef: 0.3 },
    ours: { lossType: "ipo", fDivergenceType: "alpha_divergence", fAlphaDivergenceCoef: 0.3 },
  },
  { name: "ldAlpha 0.5", trl: { ld_alpha: 0.5 }, ours: { ldAlpha: 0.5 } },
  // (TRL 1.13's useWeighting fails with hinge and sft: an in-place product autograd rejects; see loss.ts.)
  {
    name: "useWeighting (WPO) + sigmoid_norm",
    trl: { use_weighting: true, loss_type: "sigmoid_norm" },
    ours: { useWeighting: true, lossType: "sigmoid_norm" },
  },
  { name: "RPO: sigmoid + 0.5 sft", trl: { loss_type: "sigmoid,sft", loss_weights: "1,0.5" }, ours: { lossType: ["sigmoid", "sft"], lossWeights: [1, 0.5] } },
  {
    name: "MPO: sigmoid 0.8 + bco_pair 0.2 + sft 1",
    trl: { loss_type: "sigmoid,bco_pair,sft", loss_weights: "0.8,0.2,1.0" },
    ours: { lossType: ["sigmoid", "bco_pair", "sft"], lossWeights: [0.8, 0.2, 1] },
  },
];
const SWEEP_REFERENCE = "bench/reference/trl_gpt2_tiny_losses_lr1e-3.json";

type Logs = Record<string, number>[];

/** Key of the live sweep's output: a hash of the script, its arguments and every file and package it reads. */
function sweepCacheKey(args: string[]): string {
  const h = createHash("sha256");
  h.update(fs.readFileSync(path.join(ROOT, "bench/trl_dpo.py")));
  h.update(JSON.stringify(args));
  for (const dir of ["gpt2-policy", "gpt2-ref"]) {
    for (const f of fs.readdirSync(path.join(FIX, dir)).sort()) h.update(f).update(fs.readFileSync(path.join(FIX, dir, f)));
  }
  h.update(fs.readFileSync(path.join(FIX, "prefs.jsonl")));
  // The venv's packages, by their installed versions (dist-info folder names), and the interpreter.
  const lib = path.join(path.dirname(path.dirname(python!)), "lib");
  for (const py of fs.existsSync(lib) ? fs.readdirSync(lib).sort() : []) {
    const site = path.join(lib, py, "site-packages");
    if (fs.existsSync(site))
      h.update(
        fs
          .readdirSync(site)
          .filter((d) => /^(trl|torch|transformers|accelerate|datasets|tokenizers|safetensors)-.*\.dist-info$/.test(d))
          .sort()
          .join(","),
      );
  }
  h.update(fs.realpathSync(python!));
  return h.digest("hex").slice(0, 16);
}

/** The sweep's TRL logs by run name: cached output of an identical live run, one live Python process (started now,
 * awaited later), else the recorded file. */
function trlSweep(): Promise<{ runs: Map<string, Logs>; source: string }> {
  const fromJson = (text: string, source: string) => ({
    runs: new Map((JSON.parse(text).runs as { name: string; logs: Logs }[]).map((r) => [r.name, r.logs])),
    source,
  });
  if (!python) return Promise.resolve(fromJson(fs.readFileSync(path.join(ROOT, SWEEP_REFERENCE), "utf8"), SWEEP_REFERENCE));
  const spec = JSON.stringify(SWEEP.map((r) => ({ name: r.name, ...r.trl })));
  const args = [...COMMON, ...REF, "--sweep", spec];
  const cacheFile = path.join(ROOT, "runs/trl-cache", `trl-parity-${sweepCacheKey(args)}.json`);
  const useCache = process.env.DPO_TRL_CACHE !== "0" && process.env.DPO_RECORD_REFERENCE !== "1";
  if (useCache && fs.existsSync(cacheFile))
    return Promise.resolve(fromJson(fs.readFileSync(cacheFile, "utf8"), `live TRL, cached in ${path.relative(ROOT, cacheFile)}`));
  const child = spawn(python, [path.join(ROOT, "bench/trl_dpo.py"), ...args], { cwd: ROOT });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`bench/trl_dpo.py --sweep failed (${code}):\n${stderr.slice(-3000)}`));
      if (process.env.DPO_RECORD_REFERENCE === "1") fs.writeFileSync(path.join(ROOT, SWEEP_REFERENCE), stdout);
      const result = fromJson(stdout, "live TRL");
      // Written whole under a temporary name, then renamed: a parallel reader never sees half a file.
      fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
      fs.writeFileSync(cacheFile + `.${process.pid}.tmp`, stdout);
      fs.renameSync(cacheFile + `.${process.pid}.tmp`, cacheFile);
      resolve(result);
    });
  });
}

/** The fixture, read and tokenized once; each run trains a fresh copy of the policy (the reference is never
 * updated, so one frozen copy serves every run). */
let fixture: {
  tokenizer: Tokenizer;
  policy: Awaited<ReturnType<typeof loadModel>>;
  ref: Awaited<ReturnType<typeof loadModel>>;
  rows: ReturnType<typeof readPreferenceFile>;
} | null = null;

async function ourLogs(args: Partial<DPOConfig>, withRef: boolean): Promise<LogEntry[]> {
  fixture ??= {
    tokenizer: await Tokenizer.fromDir(path.join(FIX, "gpt2-policy")),
    policy: await loadModel(path.join(FIX, "gpt2-policy"), { trainable: false }),
    ref: await loadModel(path.join(FIX, "gpt2-ref"), { trainable: false }),
    rows: readPreferenceFile(path.join(FIX, "prefs.jsonl")),
  };
  const { tokenizer, rows } = fixture;
  const model = fixture.policy.clone({ trainable: true });
  const refModel = withRef ? fixture.ref : undefined;
  const outputDir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-parity-"));
  const trainer = new DPOTrainer({
    model,
    refModel,
    tokenizer,
    trainDataset: rows,
    args: curveTrainerArgs(outputDir, rows.length, args),
  });
  await trainer.train();
  const logs = trainer.state.logHistory;
  trainer.dispose();
  model.dispose();
  fs.rmSync(outputDir, { recursive: true, force: true });
  return logs;
}

let sweep: ReturnType<typeof trlSweep>;
beforeAll(async () => {
  await useBackendForTests();
  sweep = trlSweep();
  sweep.catch(() => undefined); // reported by the test that awaits it
});
afterAll(async () => {
  await sweep?.catch(() => undefined); // never leave the Python process behind
  fixture?.policy.dispose();
  fixture?.ref.dispose();
});

describe(`TRL parity (${python ? "live TRL in " + python : "recorded TRL output"})`, () => {
  it(`every loss type, f-divergence, ldAlpha, useWeighting and loss mix: ${SWEEP.length} five-step curves`, async () => {
    const ours = new Map<string, LogEntry[]>();
    for (const run of SWEEP) ours.set(run.name, await ourLogs(run.ours, run.trl.ref !== null));
    const { runs, source } = await sweep;
    for (const run of SWEEP) {
      const theirs = runs.get(run.name);
      expect(theirs, `${source} has no run "${run.name}"`).toBeDefined();
      compareToTrl(ours.get(run.name)!, theirs!, source, run.name);
    }
  }, 240_000);
});
