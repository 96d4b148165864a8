/**
 * Runs are never lost (the built CLI, dist/cli/index.js, in child processes, on the tiny fixture model):
 * - a run killed with SIGKILL at a random step and continued with --resume ends with the metrics.jsonl and final
 *   weights of an uninterrupted run (bitwise on cpu / wasm; within float tolerance on the native backend);
 * - a NaN run exits non-zero naming the step and the metric, with no final/ and only finite checkpoints;
 * - an existing run folder is refused unless --overwrite-output-dir, which leaves none of the old run's files.
 */
import { describe, it, expect } from "vitest";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readSafetensors } from "../src/model/safetensors";
import { CLI, ROOT, dpoTs, tinyTrainArgs } from "./helpers/cli";

const NATIVE = process.env.DPO_BACKEND === "tensorflow";

const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));
const STEPS = 12;
/** Accumulation over 2 micro-batches of 1 pair, a log every 5 steps (so a checkpoint falls inside a logging window). */
const trainArgs = (out: string) =>
  tinyTrainArgs({
    out,
    steps: STEPS,
    "batch-size": 1,
    "grad-accum": 2,
    lr: "1e-3",
    "logging-steps": 5,
    "save-steps": 1,
    "save-total-limit": 3,
    "num-sample-generations": 0,
    "no-write-report": true,
    seed: 7,
    json: true,
  });

function weights(dir: string): Map<string, Float32Array> {
  return new Map([...readSafetensors(path.join(dir, "model.safetensors")).tensors].map(([k, t]) => [k, t.data]));
}

describe("exact resume", () => {
  it("kill -9 at a random step, --resume: same metrics and final weights as an uninterrupted run", async () => {
    const whole = tmp("dpo-resume-whole-");
    const straight = dpoTs(...trainArgs(whole));
    expect(straight.status, straight.stderr).toBe(0);

    const out = tmp("dpo-resume-killed-");
    const killAt = 2 + Math.floor(Math.random() * (STEPS - 4)); // a checkpoint in [2, STEPS-3]
    const child = spawn(process.execPath, [CLI, ...trainArgs(out)], { cwd: ROOT, stdio: "ignore" });
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on("exit", (code, signal) => resolve({ code, signal })),
    );
    let done = false;
    void exit.then(() => (done = true));
    while (!done && !fs.existsSync(path.join(out, `checkpoint-${killAt}`))) await new Promise((r) => setTimeout(r, 5));
    child.kill("SIGKILL");
    const { signal } = await exit;
    expect(signal, `the run finished before step ${killAt} could be interrupted`).toBe("SIGKILL");
    expect(fs.existsSync(path.join(out, "final"))).toBe(false);

    const resumed = dpoTs(...trainArgs(out), "--resume");
    expect(resumed.status, resumed.stderr).toBe(0);
    const log = (dir: string) => fs.readFileSync(path.join(dir, "metrics.jsonl"), "utf8");
    const [a, b] = [weights(path.join(whole, "final")), weights(path.join(out, "final"))];
    if (!NATIVE) {
      expect(log(out)).toBe(log(whole));
      for (const [name, w] of a) expect(Buffer.from(b.get(name)!.buffer).equals(Buffer.from(w.buffer)), name).toBe(true);
    } else {
      const [la, lb] = [log(whole), log(out)].map((t) =>
        t
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l)),
      );
      expect(lb.map((e: { step: number }) => e.step)).toEqual(la.map((e: { step: number }) => e.step));
      la.forEach((e: Record<string, number>, i: number) => {
        for (const k of Object.keys(e)) expect(lb[i][k]).toBeCloseTo(e[k], 4);
      });
      for (const [name, w] of a) w.forEach((v, i) => expect(Math.abs(b.get(name)![i] - v)).toBeLessThan(1e-4));
    }
    // transformers' layout, saveTotalLimit 3 kept the newest three, no temp folders left.
    const names = fs.readdirSync(out).filter((n) => n.startsWith("checkpoint-") || n.startsWith("."));
    expect(names.sort()).toEqual([`checkpoint-${STEPS - 2}`, `checkpoint-${STEPS - 1}`, `checkpoint-${STEPS}`].sort());
    const state = JSON.parse(fs.readFileSync(path.join(out, `checkpoint-${STEPS}`, "trainer_state.json"), "utf8"));
    expect(state).toMatchObject({ global_step: STEPS, max_steps: STEPS, logging_steps: 5, save_steps: 1, train_batch_size: 1, best_metric: null });
    expect(state.log_history.map((e: { step: number }) => e.step)).toEqual([5, 10, 12]);
    for (const f of ["model.safetensors", "config.json", "optimizer.safetensors", "scheduler.json", "rng_state.json", "tokenizer.json"]) {
      expect(fs.existsSync(path.join(out, `checkpoint-${STEPS}`, f)), f).toBe(true);
    }
  });

  it("LoRA (--use-peft): a run resumed from an adapter checkpoint ends with the uninterrupted run's metrics and adapter", () => {
    const loraArgs = (out: string) =>
      tinyTrainArgs({
        out,
        steps: 4,
        "batch-size": 2,
        lr: "1e-2",
        "logging-steps": 1,
        "save-steps": 1,
        "use-peft": true,
        "lora-r": 2,
        "num-sample-generations": 0,
        "no-write-report": true,
        seed: 7,
        json: true,
      });
    const whole = tmp("dpo-resume-lora-whole-");
    const straight = dpoTs(...loraArgs(whole));
    expect(straight.status, straight.stderr).toBe(0);
    // A crash right after checkpoint-2: later checkpoints and final/ never written.
    const out = tmp("dpo-resume-lora-");
    fs.cpSync(whole, out, { recursive: true });
    for (const f of ["final", "checkpoint-3", "checkpoint-4"]) fs.rmSync(path.join(out, f), { recursive: true });
    const resumed = dpoTs(...loraArgs(out), "--resume");
    expect(resumed.status, resumed.stderr).toBe(0);
    const adapter = (dir: string) => new Map([...readSafetensors(path.join(dir, "final", "adapter_model.safetensors")).tensors].map(([k, t]) => [k, t.data]));
    const [a, b] = [adapter(whole), adapter(out)];
    expect(a.size).toBeGreaterThan(0);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    const steps = (dir: string) =>
      fs
        .readFileSync(path.join(dir, "metrics.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
    const [la, lb] = [steps(whole), steps(out)];
    expect(lb.map((e: { step: number }) => e.step)).toEqual(la.map((e: { step: number }) => e.step));
    if (!NATIVE) {
      expect(lb).toEqual(la);
      for (const [name, w] of a) expect(Buffer.from(b.get(name)!.buffer).equals(Buffer.from(w.buffer)), name).toBe(true);
    } else {
      la.forEach((e: Record<string, number>, i: number) => {
        for (const k of Object.keys(e)) expect(lb[i][k]).toBeCloseTo(e[k], 4);
      });
      for (const [name, w] of a) w.forEach((v, i) => expect(Math.abs(b.get(name)![i] - v)).toBeLessThan(1e-4));
    }
  });

  // On the native backend also compiled, with and without accumulation: the graphs end at the clipped gradients and
  // the guard runs before AdamW.
  const nanRuns =
    process.env.DPO_BACKEND === "tensorflow" ? [{ compiled: false }, { compiled: true }, { compiled: true, accumulation: 2 }] : [{ compiled: false }];
  it.for(nanRuns)("a NaN run stops with an error naming the step and metric; no final/, checkpoints finite (%o)", ({ compiled, accumulation }) => {
    const out = tmp("dpo-nan-");
    const extra = { ...(compiled ? { "compile-step": true } : {}), ...(accumulation ? { "gradient-accumulation-steps": accumulation } : {}) };
    const run = dpoTs(
      ...tinyTrainArgs({ out, steps: 5, "batch-size": 2, lr: "1e30", "max-grad-norm": 0, "save-steps": 1, "num-sample-generations": 0, json: true, ...extra }),
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/step (\d+): (loss|grad_norm) is (NaN|-?Infinity)/);
    const failedStep = Number(/step (\d+):/.exec(run.stderr)![1]);
    expect(fs.existsSync(path.join(out, "final"))).toBe(false);
    const checkpoints = fs.readdirSync(out).filter((n) => n.startsWith("checkpoint-"));
    expect(checkpoints.length).toBe(failedStep - 1);
    for (const c of checkpoints) for (const [name, w] of weights(path.join(out, c))) expect(w.every(Number.isFinite), `${c}/${name}`).toBe(true);
  });

  it("refuses an existing run folder; --overwrite-output-dir replaces it without leftovers", () => {
    const out = tmp("dpo-overwrite-");
    const args = (steps: number, ...extra: string[]) => [
      ...tinyTrainArgs({ out, steps, "batch-size": 2, lr: "1e-4", "logging-steps": 1, "num-sample-generations": 0, json: true }),
      ...extra,
    ];
    expect(dpoTs(...args(3, "--save-steps", "1")).status).toBe(0);
    const before = fs.readFileSync(path.join(out, "metrics.jsonl"), "utf8");
    const refused = dpoTs(...args(1));
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`outputDir ${out} already holds a run`);
    expect(fs.readFileSync(path.join(out, "metrics.jsonl"), "utf8")).toBe(before);
    const again = dpoTs(...args(1, "--overwrite-output-dir"));
    expect(again.status, again.stderr).toBe(0);
    expect(fs.readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").length).toBe(1);
    expect(fs.readdirSync(out).filter((n) => n.startsWith("checkpoint-"))).toEqual([]);
    expect(fs.readdirSync(out).filter((n) => n.startsWith("events.out.tfevents.")).length).toBe(1);
  });
});
