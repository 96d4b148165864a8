/**
 * The headless notebook runner (tslab converter + executor in a child node process), the nbformat reader/writer,
 * and the Jupyter kernelspec (plus, when the project's Python venv has Jupyter, a real `jupyter nbconvert --execute`
 * through the installed kernelspec, compared output for output with the runner).
 */
import { describe, it, expect, beforeAll, vi } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { CellOutput, CodeCell, Notebook, codeCell, markdownCell, newNotebook, parseNotebook, readNotebook, serializeNotebook } from "../src/course/notebook";
import { injectParameters, parameterDeclarations } from "../src/course/parameters";
import { ChildRunResult, runNotebookInChild } from "../src/course/run-in-child";
import { LiveDisplay, displayBundle } from "../src/course/display";
import { installKernel, jupyterUserDataDir, kernelDir, kernelSpec } from "../src/course/kernel";
import { kernelCommand, kernelOptions } from "../src/cli/kernel";
import { runCommand } from "../src/cli/framework";
import { NEEDS, skipUnless } from "./helpers/skip";

const ROOT = path.resolve(__dirname, "..");
const FIX = path.join(ROOT, "tests", "fixtures", "notebooks");
const JUPYTER = path.join(ROOT, ".venv", "bin", "jupyter");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-ts-course-test-"));

/** runNotebookInChild runs dist/course/child.js: rebuild when src/course is newer than dist/course. */
beforeAll(() => {
  const srcDir = path.join(ROOT, "src", "course");
  const newest = Math.max(...fs.readdirSync(srcDir).map((f) => fs.statSync(path.join(srcDir, f)).mtimeMs));
  const built = (f: string) => {
    const p = path.join(ROOT, "dist", "course", f);
    return fs.existsSync(p) ? fs.statSync(p).mtimeMs : 0;
  };
  if (Math.min(built("child.js"), built("runner.js"), built("notebook.js"), built("display.js")) < newest) {
    // Other modules' type errors must not block this test: tsc still emits.
    spawnSync(process.execPath, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", path.join(ROOT, "tsconfig.json")], {
      cwd: ROOT,
      stdio: "ignore",
    });
  }
  expect(fs.existsSync(path.join(ROOT, "dist", "course", "child.js"))).toBe(true);
}, 120_000);

const codeCells = (nb: Notebook) => nb.cells.filter((c): c is CodeCell => c.cell_type === "code");
const stream = (name: "stdout" | "stderr", text: string): CellOutput => ({ output_type: "stream", name, text });

// At most this many notebook children at once (each one compiles TypeScript: CPU-bound).
const MAX_CHILDREN = Math.max(1, Math.min(3, os.cpus().length));
let active = 0;
const waiting: (() => void)[] = [];
async function slot<T>(fn: () => Promise<T>): Promise<T> {
  while (active >= MAX_CHILDREN) await new Promise<void>((r) => waiting.push(r));
  active++;
  try {
    return await fn();
  } finally {
    active--;
    waiting.shift()?.();
  }
}

let runs = 0;
async function run(name: string, opts: Parameters<typeof runNotebookInChild>[1] = {}): Promise<{ res: ChildRunResult; nb: Notebook }> {
  const outPath = path.join(tmp, `${name}-${++runs}.ipynb`);
  const res = await slot(() => runNotebookInChild(path.join(FIX, `${name}.ipynb`), { outPath, ...opts }));
  // The executed notebook is checkpointed before the first cell; it is missing only when setup failed.
  return { res, nb: fs.existsSync(res.outPath) ? readNotebook(res.outPath) : newNotebook() };
}

describe("notebook format", () => {
  it("round-trips through nbformat's on-disk layout", () => {
    const nb = newNotebook([markdownCell("# Title\nline two", { id: "md" }), codeCell("let a = 1;\nlet b = 2;", { id: "code", tags: ["parameters"] })]);
    const c = nb.cells[1] as CodeCell;
    c.execution_count = 4;
    c.outputs = [
      stream("stdout", "x\ny\n"),
      {
        output_type: "display_data",
        data: { "text/html": "<b>1</b>\n<i>2</i>", "application/vnd.plotly.v1+json": { data: [{ y: [1, 2] }] }, "image/png": "AAAA" },
        metadata: {},
      },
      { output_type: "error", ename: "Error", evalue: "boom", traceback: ["Error: boom", "    at x"] },
    ];
    const text = serializeNotebook(nb);
    const raw = JSON.parse(text);
    expect(Object.keys(raw)).toEqual(["cells", "metadata", "nbformat", "nbformat_minor"]);
    expect(raw.nbformat_minor).toBe(5);
    expect(raw.metadata.kernelspec).toEqual({ display_name: "TypeScript (dpo-ts)", language: "typescript", name: "dpo-ts" });
    expect(raw.cells[0].source).toEqual(["# Title\n", "line two"]);
    expect(raw.cells[1].outputs[0].text).toEqual(["x\n", "y\n"]);
    expect(raw.cells[1].outputs[1].data["text/html"]).toEqual(["<b>1</b>\n", "<i>2</i>"]);
    expect(raw.cells[1].outputs[1].data["image/png"]).toBe("AAAA");
    expect(raw.cells[1].outputs[1].data["application/vnd.plotly.v1+json"]).toEqual({ data: [{ y: [1, 2] }] });
    expect(text.startsWith('{\n "cells": [\n  {\n   "cell_type": "markdown",')).toBe(true);
    expect(parseNotebook(text)).toEqual(nb);
  });

  it("names the file and the field for invalid notebooks", () => {
    expect(() => parseNotebook('{"nbformat": 3, "nbformat_minor": 0, "cells": []}', "old.ipynb")).toThrow("old.ipynb: nbformat: expected 4, got 3");
    expect(() =>
      parseNotebook('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "id": "a", "source": 3}]}', "x.ipynb"),
    ).toThrow("x.ipynb: cells[0].source: expected a string or an array of strings");
    expect(() =>
      parseNotebook(
        '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "id": "a", "source": "", "outputs": [{"output_type": "nope"}]}]}',
        "y.ipynb",
      ),
    ).toThrow('y.ipynb: cells[0].outputs[0].output_type: unknown output_type "nope"');
    expect(() => parseNotebook('{"nbformat": 4,\n "cells": [}', "z.ipynb")).toThrow(/^z\.ipynb(:2:\d+)?: invalid notebook JSON/);
  });
});

describe("parameters", () => {
  const nb = newNotebook([
    codeCell("import * as fs from 'fs';", { id: "imports" }),
    codeCell("let steps = 3;\nconst fixed = 1;\nvar legacy = 'a';\nlet { lr, beta } = { lr: 0.1, beta: 0.1 };", { id: "params", tags: ["parameters"] }),
    codeCell("console.log(steps);", { id: "use" }),
  ]);

  it("finds let/const/var declarations of the parameters cell", () => {
    expect(Object.fromEntries(parameterDeclarations((nb.cells[1] as CodeCell).source))).toEqual({
      steps: "let",
      fixed: "const",
      legacy: "var",
      lr: "let",
      beta: "let",
    });
  });

  it("injects assignments in a block after the parameters cell, replacing an earlier injection", () => {
    const once = injectParameters(nb, { steps: 10, lr: 5e-7, legacy: "b\n" });
    const twice = injectParameters(once, { beta: 0.5 });
    expect(once.cells.map((c) => c.id).slice(0, 2)).toEqual(["imports", "params"]);
    expect(once.cells[2].metadata.tags).toEqual(["injected-parameters"]);
    expect(once.cells[2].source).toBe('// Parameters injected by the dpo-ts notebook runner.\n{\n  steps = 10;\n  lr = 5e-7;\n  legacy = "b\\n";\n}');
    expect(twice.cells.length).toBe(4);
    expect(twice.cells[2].source).toContain("beta = 0.5;");
    expect(twice.cells[2].source).not.toContain("steps");
    expect(nb.cells.length).toBe(3); // the input is not modified
  });

  it("rejects const, undeclared and non-JSON parameters with the notebook's name", () => {
    expect(() => injectParameters(nb, { fixed: 2 }, { notebookPath: "n.ipynb" })).toThrow(
      'n.ipynb: parameter fixed: declared with const in the "parameters" cell (cell 1); declare parameters with let',
    );
    expect(() => injectParameters(nb, { stepz: 2 }, { notebookPath: "n.ipynb" })).toThrow(
      'n.ipynb: parameter stepz: not declared in the "parameters" cell (cell 1); declared: steps, fixed, legacy, lr, beta',
    );
    expect(injectParameters(nb, { extra: [1] }, { allowUnknown: true }).cells[2].source).toContain("let extra = [1];");
    expect(() => injectParameters(nb, { steps: NaN }, { notebookPath: "n.ipynb" })).toThrow("n.ipynb: parameter steps: NaN is not representable in JSON");
    expect(() => injectParameters(nb, { steps: new Date(0) }, { notebookPath: "n.ipynb" })).toThrow("a Date is not a JSON value");
    const noParams = newNotebook([codeCell("let a = 1;")]);
    expect(() => injectParameters(noParams, { a: 2 }, { notebookPath: "p.ipynb" })).toThrow(
      'p.ipynb: parameters given (a) but no code cell is tagged "parameters"',
    );
  });
});

/** The display notebook's run, shared with the nbconvert comparison. */
let displayRun: Promise<{ res: ChildRunResult; nb: Notebook }> | null = null;

// Each test starts its own child process; they run side by side.
describe.concurrent("runNotebookInChild", () => {
  it("captures stdout, stderr, last-expression values and execution counts", async () => {
    const { res, nb } = await run("printing");
    expect(res.error).toBeUndefined();
    expect(res.ok).toBe(true);
    expect(res.exitCode).toBe(0);
    const cells = codeCells(nb);
    expect(cells.map((c) => c.execution_count)).toEqual([1, null, 2, 3, 4, 5]);
    expect(cells[0].outputs).toEqual([
      stream("stdout", "hello 2\n{ a: [ 1, 2 ], b: 'x' }\n"),
      stream("stderr", "to stderr\n"),
      // tslab echoes a cell's last expression value (here write()'s `true`) with console.log
      stream("stdout", "raw write\ntrue\n"),
    ]);
    expect(cells[1].outputs).toEqual([]);
    expect(cells[2].outputs).toEqual([]);
    expect(cells[3].outputs).toEqual([stream("stdout", "5\n")]); // interface + const from the previous cell
    expect(cells[4].outputs).toEqual([stream("stdout", "awaited\n")]); // top-level await
    // the package's self-link resolves "dpo-ts/..."; cells run in the notebook's folder
    expect(cells[5].outputs).toEqual([stream("stdout", '["a\\n","b\\n"] notebooks\n')]);
    expect(nb.cells[0]).toEqual(readNotebook(path.join(FIX, "printing.ipynb")).cells[0]);
    expect(nb.metadata.language_info?.name).toBe("typescript");
    expect(res.cells.map((c) => c.index)).toEqual([1, 3, 4, 5, 6]);
    expect(res.setupMs).toBeGreaterThan(0);
  }, 180_000);

  it("captures MIME bundles and replaces updated displays in place", async () => {
    const events: number[] = [];
    displayRun = run("display", { onCell: (ev) => events.push(ev.index) });
    const { res, nb } = await displayRun;
    expect(res.error).toBeUndefined();
    expect(events).toEqual([1, 2, 3, 4, 5, 6]);
    const cells = codeCells(nb);
    expect(cells[0].outputs).toEqual([]);
    expect(cells[1].outputs).toEqual([
      {
        output_type: "display_data",
        data: {
          "text/plain": "a line chart",
          "text/html": "<b>chart</b>\n<i>two lines</i>",
          "image/png": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
          "application/vnd.plotly.v1+json": { data: [{ x: [1, 2, 3], y: [2, 1, 3], type: "scatter" }], layout: { title: { text: "loss" } } },
        },
        metadata: { "image/png": { width: 1, height: 1 } },
      },
      { output_type: "display_data", data: { "text/html": "<p>one type</p>" }, metadata: {} },
    ]);
    // Five updates in the loop and one from a later cell: still one output, holding the last data.
    expect(cells[2].outputs).toEqual([
      { output_type: "display_data", data: { "text/plain": "updated from a later cell" }, metadata: {} },
      stream("stdout", "step 1\nstep 2\nstep 3\nstep 4\nstep 5\n"),
    ]);
    expect(cells[3].outputs).toEqual([{ output_type: "display_data", data: { "text/markdown": "**third**" }, metadata: {} }]);
    expect(cells[4].outputs).toEqual([
      { output_type: "display_data", data: { "text/plain": "bundle helper", "text/markdown": "*bundle helper*", "image/png": "AQID" }, metadata: {} },
      { output_type: "display_data", data: { "text/plain": "helper 2", "text/html": "<b>2</b>" }, metadata: {} },
    ]);
    expect(cells[5].outputs).toEqual([stream("stdout", "cell after update\n")]);
  }, 180_000);

  it("runs with the defaults of the parameters cell and with injected overrides", async () => {
    const plain = await run("parameters");
    expect(plain.res.ok).toBe(true);
    expect(plain.nb.cells.some((c) => (c.metadata.tags ?? []).includes("injected-parameters"))).toBe(false);
    expect(codeCells(plain.nb)[1].outputs).toEqual([stream("stdout", '{"steps":3,"name":"default","cfg":{"lr":0.1,"tags":["a"]},"quick":false}\ndoubled 6\n')]);

    const parameters = { steps: 10, cfg: { lr: 0.5, tags: [] }, quick: true };
    const { res, nb } = await run("parameters", { parameters });
    expect(res.error).toBeUndefined();
    expect(nb.cells[2].metadata.tags).toEqual(["injected-parameters"]);
    expect(nb.cells[2].source).toContain('cfg = {"lr":0.5,"tags":[]};');
    expect(nb.metadata.dpo_ts).toEqual({ parameters });
    const cells = codeCells(nb);
    expect(cells.map((c) => c.execution_count)).toEqual([1, 2, 3]);
    expect(cells[1].outputs).toEqual([]); // the injected cell echoes nothing
    expect(cells[2].outputs).toEqual([stream("stdout", '{"steps":10,"name":"default","cfg":{"lr":0.5,"tags":[]},"quick":true}\ndoubled 20\n')]);
  }, 180_000);

  it("type-checks injected parameters against their let declarations", async () => {
    const { res } = await run("parameters", { parameters: { steps: "ten" } });
    expect(res.ok).toBe(false);
    expect(res.error?.kind).toBe("cell");
    expect(res.error?.cellIndex).toBe(2);
    expect(res.error?.ename).toBe("TSError");
    expect(res.error?.evalue).toBe("3:3 - Type 'string' is not assignable to type 'number'.");
  }, 180_000);

  it("reports an unknown parameter before running anything", async () => {
    const { res, nb } = await run("parameters", { parameters: { stepz: 1 } });
    expect(res.ok).toBe(false);
    expect(res.error?.kind).toBe("setup");
    expect(res.error?.message).toContain('parameters.ipynb: parameter stepz: not declared in the "parameters" cell (cell 1)');
    expect(res.exitCode).toBe(1);
    expect(nb.cells).toEqual([]);
    expect(fs.existsSync(res.outPath)).toBe(false);
  }, 180_000);

  it("stops at a failing assert with an error output naming the cell", async () => {
    const { res, nb } = await run("failing");
    expect(res.ok).toBe(false);
    expect(res.exitCode).toBe(1);
    expect(res.error?.kind).toBe("cell");
    expect(res.error?.cellIndex).toBe(2);
    expect(res.error?.executionCount).toBe(2);
    expect(res.error?.ename).toBe("AssertionError");
    expect(res.error?.message).toMatch(/failing\.ipynb: cell 2 \(execution_count 2, "const total = \[1, 2, 3\]\.reduce/);
    expect(res.error?.message).toContain("AssertionError: sum of 1..3 should be 7");
    expect(codeCells(nb)[0].outputs).toEqual([stream("stdout", "before the failure\n")]);
    const failed = nb.cells[2] as CodeCell;
    expect(failed.execution_count).toBe(2);
    expect(failed.outputs[0]).toEqual(stream("stdout", "total 6\n"));
    const err = failed.outputs[1];
    expect(err.output_type).toBe("error");
    if (err.output_type !== "error") throw new Error("unreachable");
    expect(err.ename).toBe("AssertionError");
    expect(err.evalue).toBe("sum of 1..3 should be 7\n\n6 !== 7\n");
    expect(err.traceback.some((l) => l.includes("AssertionError [ERR_ASSERTION]: sum of 1..3 should be 7"))).toBe(true);
    expect(err.traceback.some((l) => l.includes("node:vm") || l.includes("tslab/dist"))).toBe(false);
    const never = nb.cells[3] as CodeCell;
    expect(never.execution_count).toBeNull();
    expect(never.outputs).toEqual([]);
  }, 180_000);

  it("reports TypeScript compile errors as TSError", async () => {
    const { res, nb } = await run("compile-error");
    expect(res.error).toMatchObject({ kind: "cell", cellIndex: 1, ename: "TSError", evalue: "1:1 - Type 'string' is not assignable to type 'number'." });
    expect((nb.cells[1] as CodeCell).outputs).toEqual([
      {
        output_type: "error",
        ename: "TSError",
        evalue: "1:1 - Type 'string' is not assignable to type 'number'.",
        traceback: ["TypeScript: 1:1 - Type 'string' is not assignable to type 'number'."],
      },
    ]);
  }, 180_000);

  it("interrupts a cell awaiting past the timeout", async () => {
    const { res, nb } = await run("async-timeout", { timeoutMs: 1500 });
    expect(res.error).toMatchObject({ kind: "timeout", cellIndex: 0, ename: "TimeoutError", evalue: "cell did not finish within 1500 ms" });
    expect((nb.cells[0] as CodeCell).outputs[0]).toEqual(stream("stdout", "waiting\n"));
    expect((nb.cells[1] as CodeCell).execution_count).toBeNull();
  }, 180_000);

  it("kills a child stuck in a synchronous loop", async () => {
    const { res } = await run("busy-loop", { timeoutMs: 500, killGraceMs: 500 });
    expect(res.ok).toBe(false);
    expect(res.signal).toBe("SIGKILL");
    expect(res.error?.kind).toBe("timeout");
    expect(res.error?.cellIndex).toBe(0);
    expect(res.error?.message).toContain("busy-loop.ipynb: cell 0 (execution_count 1) did not finish within 500 ms");
  }, 180_000);

  it("reports a child that exits in the middle of a cell", async () => {
    // echo copies the child's output to this process's stdout: catch it here rather than print it among the test results.
    const echoed: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      echoed.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      return true;
    });
    let ran: Awaited<ReturnType<typeof run>>;
    try {
      ran = await run("crash", { echo: true });
    } finally {
      spy.mockRestore();
    }
    const { res, nb } = ran;
    expect(echoed.join("")).toBe("about to exit\n");
    expect(res.ok).toBe(false);
    expect(res.exitCode).toBe(7);
    expect(res.error?.kind).toBe("crash");
    expect(res.error?.cellIndex).toBe(1);
    expect(res.error?.message).toContain("crash.ipynb: notebook child process exited with code 7 while running cell 1");
    expect((nb.cells[0] as CodeCell).outputs).toEqual([stream("stdout", "about to exit\n")]); // checkpoint
    expect(res.log).toBe("about to exit\n"); // echo: cell output also went to the child's stdout
  }, 180_000);
});

describe("display helpers outside a kernel", () => {
  it("print the bundle's text/plain", () => {
    const spy = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      displayBundle({ "text/plain": "plain fallback", "text/html": "<b>x</b>" });
      new LiveDisplay().update({ "text/plain": "live fallback\n" });
      displayBundle({ "text/html": "<b>no text</b>" });
      expect(spy.mock.calls.map((c) => c[0])).toEqual(["plain fallback\n", "live fallback\n"]);
    } finally {
      spy.mockRestore();
    }
  });
});

describe("kernelspec", () => {
  it("writes kernel.json starting this project's tslab", () => {
    const prefix = path.join(tmp, "prefix");
    const k = installKernel({ prefix });
    expect(k.dir).toBe(path.join(prefix, "share", "jupyter", "kernels", "dpo-ts"));
    const spec = JSON.parse(fs.readFileSync(path.join(k.dir, "kernel.json"), "utf8"));
    const tslabBin = path.join(ROOT, "node_modules", "tslab", "bin", "tslab");
    expect(spec).toEqual({
      argv: [process.execPath, "--enable-source-maps", "--max-old-space-size=4096", tslabBin, "kernel", "--config-path", "{connection_file}"],
      display_name: "TypeScript (dpo-ts)",
      language: "typescript",
      interrupt_mode: "signal",
      metadata: {},
    });
    expect(fs.existsSync(spec.argv[3])).toBe(true);
    expect(kernelSpec({ node: "/opt/node", nodeOptions: [] }).argv).toEqual(["/opt/node", tslabBin, "kernel", "--config-path", "{connection_file}"]);
  });

  it("picks Jupyter's folders per platform", () => {
    expect(jupyterUserDataDir({ HOME: "/home/u" }, "linux")).toBe("/home/u/.local/share/jupyter");
    expect(jupyterUserDataDir({ HOME: "/home/u", XDG_DATA_HOME: "/xdg" }, "linux")).toBe("/xdg/jupyter");
    expect(jupyterUserDataDir({ HOME: "/Users/u" }, "darwin")).toBe("/Users/u/Library/Jupyter");
    expect(jupyterUserDataDir({ APPDATA: "C:\\Users\\u\\AppData\\Roaming" }, "win32")).toBe("C:\\Users\\u\\AppData\\Roaming\\jupyter");
    expect(jupyterUserDataDir({ JUPYTER_DATA_DIR: "/j", HOME: "/home/u" }, "linux")).toBe("/j");
    expect(kernelDir({ prefix: "/opt/venv", name: "x" })).toBe("/opt/venv/share/jupyter/kernels/x");
    if (process.platform === "linux") expect(kernelDir({})).toBe("/usr/local/share/jupyter/kernels/dpo-ts");
    expect(() => kernelDir({ user: true, prefix: "/p" })).toThrow("mutually exclusive");
  });

  it("parses `dpo-ts kernel install` arguments strictly, from its options table", async () => {
    const spec = { name: "kernel", summary: "kernel install", positionals: "install", options: kernelOptions, run: kernelCommand };
    const out: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((s: string) => void out.push(s));
    try {
      const prefix = path.join(tmp, "cli-prefix");
      await runCommand(spec, ["install", `--prefix=${prefix}`, "--name", "dpo-ts-test", "--display-name", "TS parsed"]);
      expect(out[0]).toBe(`Installed kernelspec dpo-ts-test in ${path.join(prefix, "share", "jupyter", "kernels", "dpo-ts-test")}`);
      const kernelJson = path.join(prefix, "share", "jupyter", "kernels", "dpo-ts-test", "kernel.json");
      expect(JSON.parse(fs.readFileSync(kernelJson, "utf8")).display_name).toBe("TS parsed");
      await expect(runCommand(spec, ["install", "--bogus"])).rejects.toThrow('unknown option "--bogus"');
      await expect(runCommand(spec, ["install", "--color=red"])).rejects.toThrow('unknown option "--color=red"');
      await expect(runCommand(spec, ["install", "--name", "bad name", "--prefix", prefix])).rejects.toThrow('invalid kernel name "bad name"');
      await expect(runCommand(spec, ["install", "--prefix"])).rejects.toThrow("--prefix needs a value");
      await expect(runCommand(spec, ["install", "--user", "--prefix", prefix])).rejects.toThrow("--user and --prefix are mutually exclusive");
      await expect(runCommand(spec, ["remove"])).rejects.toThrow('unknown subcommand "remove"');
      await expect(runCommand(spec, [])).rejects.toThrow("dpo-ts kernel install");
      out.length = 0;
      await runCommand(spec, ["install", "--help"]);
      expect(out[0]).toMatch(/^usage: dpo-ts kernel install/);
      expect(out[0]).toContain("--display-name TEXT");
    } finally {
      log.mockRestore();
    }
  });

  it.skipIf(skipUnless(fs.existsSync(JUPYTER), "the kernelspec through `jupyter nbconvert --execute`", NEEDS.jupyter))(
    "is found by Jupyter and executes a notebook through `jupyter nbconvert` like the runner",
    async () => {
      const prefix = path.join(tmp, "jupyter-prefix");
      installKernel({ prefix });
      const env = { ...process.env, JUPYTER_PATH: path.join(prefix, "share", "jupyter"), JUPYTER_PLATFORM_DIRS: "1" };
      const list = spawnSync(JUPYTER, ["kernelspec", "list", "--json"], { env, encoding: "utf8" });
      expect(list.status).toBe(0);
      const specs = JSON.parse(list.stdout).kernelspecs;
      expect(specs["dpo-ts"].resource_dir).toBe(path.join(prefix, "share", "jupyter", "kernels", "dpo-ts"));
      expect(specs["dpo-ts"].spec.display_name).toBe("TypeScript (dpo-ts)");

      const outDir = path.join(tmp, "nbconvert");
      const conv = spawnSync(
        JUPYTER,
        [
          "nbconvert",
          "--to",
          "notebook",
          "--execute",
          "--ExecutePreprocessor.kernel_name=dpo-ts",
          "--ExecutePreprocessor.timeout=120",
          "--output-dir",
          outDir,
          path.join(FIX, "display.ipynb"),
        ],
        { env, encoding: "utf8", timeout: 240_000 },
      );
      expect(conv.status, conv.stderr).toBe(0);
      const viaJupyter = readNotebook(path.join(outDir, "display.ipynb"));
      expect(viaJupyter.metadata.language_info?.name).toBe("typescript");
      const viaRunner = (await (displayRun ?? run("display"))).nb;
      // nbclient keeps one stream output per message; the runner merges consecutive writes to the same stream.
      const merged = (outs: CellOutput[]) =>
        outs.reduce<CellOutput[]>((acc, o) => {
          const last = acc[acc.length - 1];
          if (o.output_type === "stream" && last?.output_type === "stream" && last.name === o.name) acc[acc.length - 1] = { ...last, text: last.text + o.text };
          else acc.push(o);
          return acc;
        }, []);
      expect(codeCells(viaJupyter).map((c) => merged(c.outputs))).toEqual(codeCells(viaRunner).map((c) => c.outputs));
    },
    300_000,
  );
});
