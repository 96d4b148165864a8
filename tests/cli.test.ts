/**
 * The dpo-ts command line, as a user runs it (the built dist/cli/index.js in a child process).
 * `dpo-ts eval` is checked against transformers on checkpoints made fresh by the fixture script with another seed
 * (so not only the shipped fixture), when the venv has torch + transformers.
 */
import { describe, it, expect } from "vitest";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pythonWith } from "./helpers/python";
import { NEEDS, skipUnless } from "./helpers/skip";

const ROOT = path.join(__dirname, "..");
const FIX = path.join(__dirname, "fixtures/hf-tiny");
const CLI = path.join(ROOT, "dist/cli/index.js");

function dpoTs(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 26, env: { ...process.env } });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function lastJson(stdout: string): Record<string, any> {
  const line = stdout.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (!line) throw new Error(`no JSON in output:\n${stdout}`);
  return JSON.parse(line);
}

function expectMetrics(got: Record<string, number>, want: Record<string, number>): void {
  for (const key of ["loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected", "logits/chosen", "logits/rejected"]) {
    expect(Math.abs(got[key] - want[key]) / Math.max(1, Math.abs(want[key])), `${key}: ${got[key]} vs ${want[key]}`).toBeLessThan(1e-4);
  }
}

describe("dpo-ts CLI", () => {
  it("eval --json prints transformers' metrics for the shipped fixture", () => {
    const expected = JSON.parse(fs.readFileSync(path.join(FIX, "expected.json"), "utf8"));
    const run = dpoTs("eval", "--policy", path.join(FIX, "gpt2-policy"), "--ref", path.join(FIX, "gpt2-ref"), "--data", path.join(FIX, "prefs.jsonl"), "--beta", "0.5", "--json");
    expect(run.status, run.stderr).toBe(0);
    expectMetrics(lastJson(run.stdout), expected.models.gpt2.metrics["sigmoid_beta0.5_ls0.0"]);
  });

  const python = pythonWith("torch", "transformers", "tokenizers");
  it.skipIf(skipUnless(python, "dpo-ts eval against transformers on fresh checkpoints", NEEDS.torch))("eval matches transformers on GPT-2 checkpoints made fresh with another seed", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-fresh-fixture-"));
    const made = spawnSync(python!, [path.join(FIX, "../make_fixtures.py"), dir], { encoding: "utf8", env: { ...process.env, FIXTURE_SEED: "2024" } });
    expect(made.status, made.stderr).toBe(0);
    const expected = JSON.parse(fs.readFileSync(path.join(dir, "expected.json"), "utf8"));
    for (const [key, flags] of [["sigmoid_beta0.1_ls0.0", []], ["hinge_beta0.1_ls0.0", ["--loss", "hinge"]], ["robust_beta0.1_ls0.1", ["--loss", "robust", "--label-smoothing", "0.1"]]] as [string, string[]][]) {
      const run = dpoTs("eval", "--policy", path.join(dir, "gpt2-policy"), "--ref", path.join(dir, "gpt2-ref"), "--data", path.join(dir, "prefs.jsonl"), ...flags, "--json");
      expect(run.status, run.stderr).toBe(0);
      expectMetrics(lastJson(run.stdout), expected.models.gpt2.metrics[key]);
    }
    const gen = dpoTs("generate", "--model", path.join(dir, "gpt2-policy"), "--prompt", JSON.parse(fs.readFileSync(path.join(dir, "prefs.jsonl"), "utf8").split("\n")[0]).prompt, "--max-new-tokens", "12", "--json");
    expect(gen.status, gen.stderr).toBe(0);
    // transformers generated without an EOS stop; ours stops at EOS, so compare up to the first EOS.
    const want: number[] = expected.models.gpt2.greedy_policy_prompt0_12_tokens;
    const eos = want.indexOf(expected.eos_id);
    expect(lastJson(gen.stdout).tokens).toEqual(eos >= 0 ? want.slice(0, eos + 1) : want);
  });

  it("train writes metrics.jsonl with TRL names and a final/ folder that eval and generate load", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-cli-train-"));
    const run = dpoTs("train", "--policy", path.join(FIX, "gpt2-policy"), "--ref", path.join(FIX, "gpt2-ref"), "--data", path.join(FIX, "prefs.jsonl"), "--out", out, "--steps", "3", "--batch-size", "4", "--lr", "1e-3", "--scheduler", "constant", "--logging-steps", "1", "--json");
    expect(run.status, run.stderr).toBe(0);
    const logs = fs.readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(logs.map((l) => l.step)).toEqual([1, 2, 3]);
    expect(Object.keys(logs[0])).toEqual(expect.arrayContaining(["loss", "rewards/chosen", "rewards/margins", "rewards/accuracies", "grad_norm", "learning_rate"]));
    expect(logs[2].loss).toBeLessThan(logs[0].loss);
    const gen = dpoTs("generate", "--model", path.join(out, "final"), "--prompt", "The lazy dog", "--max-new-tokens", "5", "--json");
    expect(gen.status, gen.stderr).toBe(0);
    const result = lastJson(gen.stdout);
    expect(typeof result.text).toBe("string");
    expect(result.tokens.length).toBeGreaterThan(0);
  });

  it("train --compile-step follows the eager run on the native backend, and is refused clearly elsewhere", () => {
    const args = (out: string) => ["train", "--policy", path.join(FIX, "gpt2-policy"), "--ref", path.join(FIX, "gpt2-ref"), "--data", path.join(FIX, "prefs.jsonl"), "--out", out, "--steps", "4", "--batch-size", "2", "--lr", "1e-3", "--logging-steps", "1", "--json"];
    const compiledOut = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-cli-compiled-"));
    const compiled = dpoTs(...args(compiledOut), "--compile-step", "--pad-to-multiple-of", "16");
    if (compiled.status !== 0) {
      expect(compiled.stderr).toMatch(/option "compileStep" needs the native "tensorflow" backend; the active backend is "(wasm|cpu|webgpu)"/);
      return;
    }
    const eagerOut = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-cli-eager-"));
    const eager = dpoTs(...args(eagerOut), "--pad-to-multiple-of", "16");
    expect(eager.status, eager.stderr).toBe(0);
    const read = (dir: string) => fs.readFileSync(path.join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const [c, e] = [read(compiledOut), read(eagerOut)];
    expect(c.map((l) => l.step)).toEqual([1, 2, 3, 4]);
    c.forEach((entry, i) => expectMetrics(entry, e[i]));
    const results = JSON.parse(fs.readFileSync(path.join(compiledOut, "train_results.json"), "utf8"));
    expect(results.compiled_graphs).toBeGreaterThanOrEqual(1);
    expect(results.compiled_graphs).toBeLessThan(4);
  });

  it("train --config FILE.json takes the same keys; bad input names the file, row and field", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-cli-config-"));
    const config = path.join(out, "config.json");
    fs.writeFileSync(config, JSON.stringify({ policy: path.join(FIX, "gpt2-policy"), data: path.join(FIX, "prefs.jsonl"), out, steps: 1, "batch-size": 2, lr: 1e-4, "logging-steps": 1 }));
    const ok = dpoTs("train", "--config", config, "--json");
    expect(ok.status, ok.stderr).toBe(0);
    expect(fs.existsSync(path.join(out, "final/model.safetensors"))).toBe(true);
    const bad = path.join(out, "bad.jsonl");
    fs.writeFileSync(bad, '{"prompt": "a", "chosen": "b", "rejected": "c"}\n{"prompt": "a", "chosen": 3, "rejected": "c"}\n');
    const failed = dpoTs("eval", "--policy", path.join(FIX, "gpt2-policy"), "--data", bad, "--json");
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/bad\.jsonl:2: field "chosen"/);
    const unknown = dpoTs("train", "--policy", path.join(FIX, "gpt2-policy"), "--data", path.join(FIX, "prefs.jsonl"), "--out", out, "--bogus", "1");
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/unknown option "bogus"/);
  });

  it("train without --out makes runs/<name> the run folder; report and compare rebuild their pages", () => {
    const name = `cli-test-${process.pid}`;
    const runDir = path.join(ROOT, "runs", name);
    const other = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-cli-compare-"));
    try {
      const run = dpoTs("train", "--policy", path.join(FIX, "gpt2-policy"), "--data", path.join(FIX, "prefs.jsonl"), "--name", name, "--steps", "2", "--batch-size", "4", "--logging-steps", "1", "--json");
      expect(run.status, run.stderr).toBe(0);
      for (const f of ["metrics.jsonl", "config.json", "report.html", "samples.json", "final/model.safetensors"]) expect(fs.existsSync(path.join(runDir, f)), f).toBe(true);
      expect(fs.readdirSync(runDir).some((f) => f.startsWith("events.out.tfevents."))).toBe(true);
      fs.rmSync(path.join(runDir, "report.html"));
      const report = dpoTs("report", runDir);
      expect(report.status, report.stderr).toBe(0);
      expect(fs.readFileSync(path.join(runDir, "report.html"), "utf8")).toContain("Implicit KL to reference");
      const second = dpoTs("train", "--policy", path.join(FIX, "gpt2-policy"), "--data", path.join(FIX, "prefs.jsonl"), "--out", other, "--beta", "0.5", "--steps", "2", "--batch-size", "4", "--logging-steps", "1", "--json");
      expect(second.status, second.stderr).toBe(0);
      const page = path.join(other, "compare.html");
      const compare = dpoTs("compare", runDir, other, "--out", page);
      expect(compare.status, compare.stderr).toBe(0);
      const html = fs.readFileSync(page, "utf8");
      expect(html).toContain(name);
      expect(html).toContain(path.basename(other));
      expect(html).toContain("rewards/margins");
    } finally {
      fs.rmSync(runDir, { recursive: true, force: true });
    }
  });
});
