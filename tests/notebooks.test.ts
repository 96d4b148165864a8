/**
 * The five course notebooks: committed clean (no outputs) and runnable headlessly, in order, with shrunk parameters
 * (4 training steps, a run folder of its own under runs/). Also the progress callbacks (src/course/progress.ts) and
 * the `dpo-ts course` command (src/cli/course.ts).
 *
 * The notebooks import "dpo-ts" like a user, which resolves to this repository's dist/ (node_modules/dpo-ts links
 * here), so dist/ is rebuilt first when src/ is newer.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { CellOutput, CodeCell, MarkdownCell, Notebook, TSLAB_LANGUAGE_INFO, cellTags, readNotebook } from "../src/course/notebook";
import { DEFAULT_KERNEL_NAME, kernelSpec } from "../src/course/kernel";
import { loadTslab } from "../src/course/tslab";
import { ChildRunResult, runNotebookInChild } from "../src/course/run-in-child";
import { formatDuration, liveTrainingFigure, notebookProgress, progressLine, progressSnapshot, terminalProgress, textBar } from "../src/course/progress";
import { courseNotebooks, notebookParameters } from "../src/cli/course";
import type { LogEntry, TrainerState } from "../src/train/trainer";
import { NEEDS, skipUnless } from "./helpers/skip";

const ROOT = path.resolve(__dirname, "..");
const NOTEBOOKS = path.join(ROOT, "notebooks");
const NAMES = ["01-install", "02-dataset", "03-trainer", "04-metrics", "05-serve"];
const CHROMIUM = process.env.DPO_CHROMIUM ?? "/usr/bin/chromium-headless-shell";
const NBCONVERT = path.join(ROOT, ".venv/bin/jupyter-nbconvert");
const SHOTS = process.env.DPO_SCREENSHOT_DIR ?? path.join(os.tmpdir(), "dpo-ts-screens");
const RUN_NAME = `test-notebooks-${process.pid}`;
const RUN_DIR = path.join(ROOT, "runs", RUN_NAME);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-ts-notebooks-test-"));
const MAX_EXECUTED_BYTES = 2 * 1024 * 1024;

function newestMtime(dir: string, ext: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p, ext));
    else if (entry.name.endsWith(ext)) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

beforeAll(() => {
  const built = fs.existsSync(path.join(ROOT, "dist", "index.js")) ? newestMtime(path.join(ROOT, "dist"), ".js") : 0;
  if (built < newestMtime(path.join(ROOT, "src"), ".ts")) {
    // Type errors elsewhere must not block this test: tsc still emits.
    spawnSync(process.execPath, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", path.join(ROOT, "tsconfig.json")], {
      cwd: ROOT,
      stdio: "ignore",
    });
  }
  expect(fs.existsSync(path.join(ROOT, "dist", "course", "child.js"))).toBe(true);
  fs.rmSync(RUN_DIR, { recursive: true, force: true });
}, 180_000);

afterAll(() => {
  fs.rmSync(RUN_DIR, { recursive: true, force: true });
  fs.rmSync(`${RUN_DIR}-full`, { recursive: true, force: true }); // notebook 03's full fine-tuning comparison
  fs.rmSync(tmp, { recursive: true, force: true });
});

const codeCells = (nb: Notebook) => nb.cells.filter((c): c is CodeCell => c.cell_type === "code");
const outputs = (nb: Notebook): CellOutput[] => codeCells(nb).flatMap((c) => c.outputs);
const stdout = (nb: Notebook) =>
  outputs(nb)
    .filter((o): o is Extract<CellOutput, { output_type: "stream" }> => o.output_type === "stream" && o.name === "stdout")
    .map((o) => o.text)
    .join("");
const displays = (nb: Notebook) => outputs(nb).filter((o): o is Extract<CellOutput, { output_type: "display_data" }> => o.output_type === "display_data");

/** A deep copy with object keys sorted (Python's json.dumps(sort_keys=True), as nbformat writes notebooks). */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}

describe("course notebooks as committed", () => {
  it("are five clean notebooks for the dpo-ts kernel, each with one parameters cell, lessons and exercises", () => {
    expect(courseNotebooks(NOTEBOOKS).map((p) => path.basename(p, ".ipynb"))).toEqual(NAMES);
    for (const name of NAMES) {
      const nb = readNotebook(path.join(NOTEBOOKS, `${name}.ipynb`));
      expect(nb.metadata.kernelspec, name).toEqual({ name: "dpo-ts", display_name: "TypeScript (dpo-ts)", language: "typescript" });
      for (const c of codeCells(nb)) {
        expect(c.outputs, `${name} cell ${c.id}`).toEqual([]);
        expect(c.execution_count, `${name} cell ${c.id}`).toBeNull();
      }
      const parameterCells = codeCells(nb).filter((c) => cellTags(c).includes("parameters"));
      expect(parameterCells.length, name).toBe(1);
      expect(parameterCells[0].source).toMatch(/^let /);
      expect(parameterCells[0].source).not.toMatch(/\bconst\b/);
      const markdown = nb.cells.filter((c): c is MarkdownCell => c.cell_type === "markdown").map((c) => c.source);
      expect(
        markdown.some((s) => s.includes("## What you'll learn")),
        name,
      ).toBe(true);
      expect(markdown[markdown.length - 1], name).toMatch(/^## Exercises/);
      // Notebooks call the library like a user; they carry no library code.
      const code = codeCells(nb)
        .map((c) => c.source)
        .join("\n");
      expect(code, name).not.toMatch(/from "\.\.\/src|from "\.\.\/dist|require\(/);
    }
  });

  it("store the kernelspec and language_info JupyterLab would write, so opening one does not mark it modified", () => {
    // JupyterLab copies the kernel's kernel_info language_info into metadata when the kernel starts (and the
    // kernelspec it started): anything else, and the notebook is "modified" before the learner touched it.
    const reported = new (loadTslab().jupyter.JupyterHandlerImpl)(null as never, false).handleKernel().language_info;
    expect(TSLAB_LANGUAGE_INFO).toEqual(reported);
    const spec = kernelSpec();
    for (const name of NAMES) {
      const text = fs.readFileSync(path.join(NOTEBOOKS, `${name}.ipynb`), "utf8");
      const nb = JSON.parse(text);
      expect(nb.metadata.language_info, name).toEqual(reported);
      expect(nb.metadata.kernelspec, name).toEqual({ name: DEFAULT_KERNEL_NAME, display_name: spec.display_name, language: spec.language });
      expect([nb.nbformat, nb.nbformat_minor], name).toEqual([4, 5]);
      for (const c of nb.cells) expect(c.id, `${name}: every cell has an nbformat 4.5 id`).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
      // Saved as JupyterLab saves (keys sorted, indent 1, trailing newline), so a save from JupyterLab changes nothing.
      expect(text, name).toBe(JSON.stringify(sortKeys(nb), null, 1) + "\n");
    }
  });

  it("declares the parameters the course runner passes", () => {
    const values = { runName: "x", maxSteps: 3, backend: "cpu", unknown: 1 };
    const declared = NAMES.map((n) => Object.keys(notebookParameters(path.join(NOTEBOOKS, `${n}.ipynb`), values)).sort());
    expect(declared).toEqual([["backend"], [], ["backend", "maxSteps", "runName"], ["runName"], ["backend", "runName"]]);
  });
});

describe("course notebooks run headlessly, in order", () => {
  const results = new Map<string, { res: ChildRunResult; nb: Notebook }>();
  async function run(name: string, parameters: Record<string, unknown>): Promise<{ res: ChildRunResult; nb: Notebook }> {
    const outPath = path.join(tmp, `${name}.ipynb`);
    const res = await runNotebookInChild(path.join(NOTEBOOKS, `${name}.ipynb`), { outPath, parameters, timeoutMs: 300_000 });
    const nb = fs.existsSync(outPath) ? readNotebook(outPath) : readNotebook(path.join(NOTEBOOKS, `${name}.ipynb`));
    if (!res.ok) throw new Error(`${name}: ${res.error?.message}\n${res.error?.traceback?.join("\n") ?? ""}\n${res.log.slice(-2000)}`);
    expect(fs.statSync(outPath).size, `${name}: executed notebook size`).toBeLessThan(MAX_EXECUTED_BYTES);
    results.set(name, { res, nb });
    return { res, nb };
  }

  it("01-install: reports Node, dpo-ts, the backend and TensorFlow.js", async () => {
    const { nb } = await run("01-install", {});
    const out = stdout(nb);
    expect(out).toMatch(/Node\.js \d+\.\d+\.\d+/);
    expect(out).toMatch(/dpo-ts \d+\.\d+\.\d+/);
    expect(out).toMatch(/dpo-ts backend: (tensorflow|webgpu|wasm|cpu) — .*; (GPU|no GPU); /);
    expect(out).toMatch(/TensorFlow\.js 4\.\d+\.\d+, backend "(tensorflow|webgpu|wasm|cpu)"/);
  });

  it("02-dataset: loads, formats to ChatML, tokenizes, plots lengths and splits", async () => {
    const { nb } = await run("02-dataset", {});
    const out = stdout(nb);
    expect(out).toContain("594 rows from ../data/orca_dpo_pairs.jsonl");
    expect(out).toContain("594 ChatML preference rows");
    expect(out).toContain("<|im_start|>assistant\n");
    expect(out).toContain("train: 535 pairs, eval: 59 pairs");
    const d = displays(nb);
    expect(d.some((o) => String(o.data["text/html"]).startsWith("<table"))).toBe(true);
    const histogram = d.find((o) => o.data["application/vnd.plotly.v1+json"]);
    expect(histogram).toBeDefined();
    expect(String(histogram!.data["text/plain"])).toContain('bar "chosen (n=594');
  });

  it("03-trainer: trains with one live progress display and chart, and writes the run folder", async () => {
    const { nb } = await run("03-trainer", { runName: RUN_NAME, maxSteps: 4, fullSteps: 2 });
    const out = stdout(nb);
    expect(out).toContain("eval loss 0.6931 (ln 2 = 0.6931)");
    expect(out).toMatch(/4 steps in [\d.]+ s/);
    // The main run is the article's LoRA on the Mistral miniature; its final/ is a peft adapter. The full fine-tuning
    // comparison (a frozen reference copy) starts at ln 2 too and saves a whole model.
    expect(out).toContain("MistralForCausalLM: 4 layers");
    expect(out).toContain("linear layers: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj");
    expect(out).toMatch(/LoRA adapters: [\d,]+ trainable parameters on 28 layers/);
    expect(out).toMatch(/final\/: adapter_config\.json, adapter_model\.safetensors/);
    expect(out).toContain("full fine-tuning eval loss at step 0: 0.6931 (ln 2 = 0.6931)");
    expect(out).toMatch(/saved: .*config\.json.*model\.safetensors/);
    // Section 6: every loss against the margin, from the trainer's own dpoLoss.
    expect(out).toContain("14 losses; sigmoid at margin 0: 0.6931 (ln 2 = 0.6931)");
    const d = displays(nb);
    // One status output per training run (the main run's first; the full fine-tuning and resume sections' trainers show theirs by
    // default; the resume section stops one run part-way), each one output updated in place.
    const progress = d.filter((o) => String(o.data["text/plain"]).startsWith("DPO training"));
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[0].data["text/plain"]).toMatch(/^DPO training 4\/4 \(100%\) \| [\d.]+ steps\/s \| \d+ tokens\/s \| took/);
    expect(String(progress[0].data["text/html"])).toContain("— done");
    const charts = d.filter((o) => String(o.data["text/plain"]).startsWith("Figure: Training (live)"));
    expect(charts.length).toBe(1);
    expect(charts[0].data["application/vnd.plotly.v1+json"]).toBeDefined();
    // The run folder steps 4 and 5 read.
    const log = fs
      .readFileSync(path.join(RUN_DIR, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as LogEntry);
    expect(log.filter((e) => "loss" in e).map((e) => e.step)).toEqual([4]);
    expect(log.filter((e) => "eval_loss" in e).map((e) => e.step)).toEqual([0, 4]); // evalOnStart: the baseline at step 0;
    expect(Number.isFinite(log.find((e) => "loss" in e)!.loss)).toBe(true);
    for (const f of ["adapter_config.json", "adapter_model.safetensors", "tokenizer.json"]) expect(fs.existsSync(path.join(RUN_DIR, "final", f))).toBe(true);
  });

  it("04-metrics: shows the dashboard (plotly + HTML, plotly.js inlined once) and the final table", async () => {
    expect(results.has("03-trainer")).toBe(true);
    const { nb } = await run("04-metrics", { runName: RUN_NAME });
    const d = displays(nb);
    const figures = d.filter((o) => o.data["application/vnd.plotly.v1+json"] && typeof o.data["text/html"] === "string");
    expect(figures.length).toBeGreaterThanOrEqual(6);
    expect(figures.map((o) => String(o.data["text/plain"]).split("\n")[0])).toContain("Figure: DPO loss");
    expect(figures.filter((o) => String(o.data["text/html"]).includes("plotly.js-basic-dist-min")).length).toBe(1);
    expect(d.some((o) => String(o.data["text/html"]).includes("<td>rewards/margins</td>"))).toBe(true);
    expect(stdout(nb)).toMatch(/TensorBoard event file|no TensorBoard event files/);
    // Every output carries the three MIME types: plotly JSON (JupyterLab's plotly renderer), HTML with plotly.js
    // (any front end, offline), and a text summary (terminals, tests).
    for (const o of figures) expect(Object.keys(o.data).sort()).toEqual(["application/vnd.plotly.v1+json", "text/html", "text/plain"]);
  });

  it.skipIf(
    skipUnless(fs.existsSync(CHROMIUM), "04-metrics charts in headless Chromium", NEEDS.chromium) ||
      skipUnless(fs.existsSync(NBCONVERT), "04-metrics charts in headless Chromium", NEEDS.jupyter),
  )(
    "04-metrics exported with nbconvert draws every chart in headless Chromium",
    async () => {
      expect(results.has("04-metrics")).toBe(true);
      const executed = results.get("04-metrics")!.res.outPath!;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-nb04-"));
      const html = path.join(dir, "04-metrics.html");
      const r = spawnSync(NBCONVERT, ["--to", "html", executed, "--output-dir", dir, "--output", "04-metrics"], { encoding: "utf8", timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      const { chromium } = await import("playwright-core");
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"], headless: true });
      const errors: string[] = [];
      try {
        const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
        page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
        page.on("pageerror", (e) => errors.push(e.message));
        await page.route(/^(?!file:|data:)/, (route) => route.abort()); // offline: only the template's CDN assets fail
        await page.goto("file://" + html);
        await page.waitForFunction(
          () => {
            const plots = Array.from(document.querySelectorAll(".plotly-graph-div"));
            return plots.length >= 6 && plots.every((p) => p.querySelector(".main-svg"));
          },
          undefined,
          { timeout: 60_000 },
        );
        const plots = await page.evaluate(() =>
          Array.from(document.querySelectorAll(".plotly-graph-div")).map((p) => ({
            title: p.querySelector(".gtitle")?.textContent ?? "",
            paths: Array.from(p.querySelectorAll(".scatterlayer path.js-line, .scatterlayer path.point, .barlayer path")).filter(
              (e) => (e.getAttribute("d") ?? "").length > 4,
            ).length,
          })),
        );
        for (const p of plots) expect(p.paths, `chart "${p.title}" has drawn traces`).toBeGreaterThan(0);
        fs.mkdirSync(SHOTS, { recursive: true });
        await page.screenshot({ path: path.join(SHOTS, "04-metrics-nbconvert.png"), fullPage: true });
        expect(errors.filter((e) => !/ERR_FAILED|Failed to load resource|net::/.test(e))).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    240_000,
  );

  it("05-serve: answers an OpenAI chat completion and compares with the reference", async () => {
    expect(results.has("03-trainer")).toBe(true);
    const { nb } = await run("05-serve", { runName: RUN_NAME, maxTokens: 16, judgeLimit: 6 });
    const out = stdout(nb);
    expect(out).toContain(`"id":"dpo-ts/${RUN_NAME}"`);
    expect(out).toContain("HTTP 200");
    expect(out).toMatch(/\nA: \S.*\n/);
    expect(out).toContain("server closed");
    expect(displays(nb).some((o) => String(o.data["text/plain"]).includes("SFT reference:"))).toBe(true);
    // The adapter merged as the article does, and the judged win rate on held-out prompts with its interval.
    expect(out).toMatch(/merged: .*config\.json.*model\.safetensors/);
    expect(out).toMatch(/judged 6 held-out prompts in [\d.]+ s/);
    expect(out).toMatch(/win rate of the DPO model over the SFT model: [\d.]+% \(95% interval [\d.]+%–[\d.]+%; \d+ wins, \d+ ties, \d+ losses\)/);
    expect(displays(nb).some((o) => String(o.data["text/plain"]).includes("\n  SFT ["))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Progress callbacks

function state(step: number, extra: Partial<TrainerState> = {}): TrainerState {
  return { step, totalSteps: 40, epoch: 0, tokensSeen: 800 * step, pairsSeen: 8 * step, elapsedSeconds: step / 2, lastLog: null, logHistory: [], ...extra };
}

class Sink {
  text = "";
  isTTY: boolean;
  columns = 100;
  constructor(tty: boolean) {
    this.isTTY = tty;
  }
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

describe("progress callbacks", () => {
  it("compute rate, ETA and the last train / eval metrics", () => {
    const s = progressSnapshot(state(10), {
      lastTrain: { step: 10, loss: 0.5, "rewards/accuracies": 0.75, "rewards/margins": 0.3 },
      lastEval: { step: 10, eval_loss: 0.6, "eval_rewards/accuracies": 0.7 },
    });
    expect(s).toMatchObject({ step: 10, total: 40, fraction: 0.25, stepsPerSecond: 2, tokensPerSecond: 1600, etaSeconds: 15 });
    expect(s).toMatchObject({ loss: 0.5, accuracy: 0.75, margin: 0.3, evalLoss: 0.6, evalAccuracy: 0.7 });
    expect(progressLine(s)).toBe(
      "DPO training 10/40 (25%) | 2.00 steps/s | 1600 tokens/s | elapsed 5s, ETA 15s | loss 0.5000 | reward acc 0.7500 | eval loss 0.6000 | eval acc 0.7000",
    );
    expect(progressSnapshot(state(0, { elapsedSeconds: 0 })).etaSeconds).toBeNull();
    expect([formatDuration(42), formatDuration(185), formatDuration(3720), formatDuration(null)]).toEqual(["42s", "3m05s", "1h02m", "?"]);
    expect(textBar(0.5, 10)).toBe("[=====>    ]");
    expect(textBar(1, 4)).toBe("[====]");
  });

  it("terminalProgress prints plain lines when not on a TTY", async () => {
    const sink = new Sink(false);
    const cb = terminalProgress({ stream: sink as unknown as NodeJS.WritableStream });
    await cb.onTrainBegin!(state(0), {} as never);
    await cb.onStepEnd!(state(1));
    await cb.onLog!({ step: 2, loss: 0.69, "rewards/accuracies": 0.5, learning_rate: 1e-4 }, state(2));
    await cb.onLog!({ step: 2, eval_loss: 0.68 }, state(2));
    await cb.onTrainEnd!(state(40));
    expect(sink.text.split("\n")).toEqual([
      "DPO training: 40 steps",
      "step 2 | loss 0.69 | acc 0.5 | lr 1e-4 | 2.00 steps/s | ETA 19s",
      "step 2 | eval loss 0.68",
      "DPO training 40/40 (100%) | 2.00 steps/s | 1600 tokens/s | took 20s | loss 0.6900 | reward acc 0.5000 | eval loss 0.6800",
      "",
    ]);
    expect(sink.text).not.toContain("\x1b");
  });

  it("terminalProgress redraws one bar line on a TTY, with log lines above it", async () => {
    const sink = new Sink(true);
    const cb = terminalProgress({ stream: sink as unknown as NodeJS.WritableStream, minIntervalMs: 0 });
    await cb.onTrainBegin!(state(0), {} as never);
    await cb.onStepEnd!(state(20));
    await cb.onLog!({ step: 20, loss: 0.5, "rewards/accuracies": 1 }, state(20));
    await cb.onTrainEnd!(state(40));
    const frames = sink.text.split("\r\x1b[2K").filter(Boolean);
    expect(frames[0]).toMatch(/^\[>\s+\] 0\/40 \? steps\/s/);
    expect(frames[1]).toMatch(/^\[=+>\s+\] 20\/40 2\.00 steps\/s 1600 tok\/s ETA 10s loss – acc –$/);
    expect(frames[2]).toBe("step 20 | loss 0.5 | acc 1\n");
    expect(frames[3]).toMatch(/ 20\/40 .* loss 0\.5000 acc 1\.0000$/);
    expect(frames[frames.length - 1]).toMatch(/^DPO training 40\/40 \(100%\) .*\n$/);
  });

  it("notebookProgress prints plain lines outside a kernel", async () => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => void lines.push(args.join(" "));
    try {
      const cb = notebookProgress({ chart: true });
      await cb.onTrainBegin!(state(0), {} as never);
      await cb.onLog!({ step: 5, loss: 0.6, "rewards/accuracies": 0.75 }, state(5));
      await cb.onTrainEnd!(state(40));
    } finally {
      console.log = log;
    }
    expect(lines).toEqual([
      "DPO training: 40 steps",
      "step 5 | loss 0.6 | acc 0.75 | 2.00 steps/s | 1600 tokens/s | elapsed 3s, ETA 18s",
      "DPO training 40/40 (100%) | 2.00 steps/s | 1600 tokens/s | took 20s | loss 0.6000 | reward acc 0.7500",
    ]);
  });

  it("the live chart draws loss on the left axis and accuracy on the right", () => {
    const fig = liveTrainingFigure([
      { step: 5, loss: 0.6, "rewards/accuracies": 0.5 },
      { step: 10, loss: 0.5, "rewards/accuracies": 0.75 },
      { step: 10, eval_loss: 0.55, "eval_rewards/accuracies": 0.7 },
    ]);
    expect(fig.data.map((t) => [t.name, t.yaxis, t.y])).toEqual([
      ["loss", "y", [0.6, 0.5]],
      ["eval loss", "y", [0.55]],
      ["reward accuracy", "y2", [0.5, 0.75]],
      ["eval reward accuracy", "y2", [0.7]],
    ]);
    expect((fig.layout.yaxis2 as { overlaying: string }).overlaying).toBe("y");
  });
});

// ---------------------------------------------------------------------------------------------------------------
// dpo-ts course

describe("dpo-ts course", () => {
  const cli = path.join(ROOT, "dist", "cli", "index.js");

  it("runs the notebooks it is given and prints a summary", () => {
    const name = `${RUN_NAME}-cli`;
    const r = spawnSync(process.execPath, [cli, "course", "--name", name, "--only", "01", "--quiet"], { cwd: ROOT, encoding: "utf8" });
    try {
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain("[1/1] 01-install.ipynb: ok in");
      expect(r.stdout).toMatch(new RegExp(`course "${name}" done in .*\\n  01-install\\.ipynb +[\\d.]+ s`));
      const executed = readNotebook(path.join(ROOT, "runs", name, "notebooks", "01-install.ipynb"));
      expect(stdout(executed)).toContain("dpo-ts backend:");
    } finally {
      fs.rmSync(path.join(ROOT, "runs", name), { recursive: true, force: true });
    }
  }, 120_000);

  it("exits non-zero naming the notebook and the failing cell", () => {
    const dir = path.join(tmp, "course-fail", "notebooks");
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(ROOT, "tests", "fixtures", "notebooks", "failing.ipynb"), path.join(dir, "01-failing.ipynb"));
    const r = spawnSync(process.execPath, [cli, "course", "--notebooks", dir, "--name", "x", "--quiet"], { cwd: ROOT, encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/dpo-ts course: course notebook 01-failing\.ipynb failed at cell \d+ \(execution_count \d+\): \w+/);
    expect(r.stderr).toContain(path.join(tmp, "course-fail", "runs", "x", "notebooks", "01-failing.ipynb"));
  }, 120_000);
});
