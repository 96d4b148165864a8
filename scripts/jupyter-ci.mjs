#!/usr/bin/env node
// The course in Jupyter itself, as CI checks (called once from .ci/run; `node scripts/jupyter-ci.mjs [CHECK...]`):
//   nbclient    every notebooks/*.ipynb, in order, executed by nbclient with the kernel `dpo-ts kernel install`
//               registers; fails on any error output.
//   jupyterlab  JupyterLab 4 in headless Chromium (Debian's chromium-headless-shell, playwright-core): each committed
//               notebook opened must not be marked modified; each (shortened) copy is run with "Run All Cells" and
//               fails on an error output, a kernel dialog, an undrawn plotly chart or a "No active debugger
//               session" page error. Screenshots: runs/jupyterlab/; browser console: runs/jupyter/lab/console.json.
//   binder      binder/postBuild (npm ci + kernel registration) run in a copy of the working tree against a fresh
//               venv (python3 -m venv + pip install jupyterlab nbclient), then notebook 01 through that Jupyter.
//   colab       notebooks/colab/*.ipynb (Python kernel) executed by nbclient against this checkout.
// The course notebooks run shortened exactly as `dpo-ts course --steps N` runs them: the course runner's
// injectParameters (src/course/parameters.ts) writes copies with an "injected-parameters" cell (runName "jupyter",
// maxSteps DPO_JUPYTER_STEPS, default 4) into runs/jupyter/<check>/notebooks/, next to a data -> ../../../data link,
// so every "../data" and "../runs" path in the notebooks resolves as it does from notebooks/.
// Prints one line per check and "jupyter-ci: N passed, N failed"; writes runs/jupyter/report.json; exit 1 on failure.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const OUT = path.join(ROOT, "runs", "jupyter");
const SHOTS = path.join(ROOT, "runs", "jupyterlab");
const VENV = process.env.DPO_JUPYTER_VENV ?? path.join(ROOT, ".venv");
const PY = path.join(VENV, "bin", "python");
const CHROMIUM = process.env.DPO_CHROMIUM ?? "/usr/bin/chromium-headless-shell";
const STEPS = Number(process.env.DPO_JUPYTER_STEPS ?? 4);
const CHECKS = ["nbclient", "jupyterlab", "binder", "colab"];
const NBCLIENT = path.join(ROOT, "scripts", "nbclient-execute.py");

const results = []; // { check, ok, seconds, detail }

function log(msg) {
  process.stdout.write(`jupyter-ci: ${msg}\n`);
}

/** Runs a command, echoing its output; throws with the output's tail when it fails. */
function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
  // pip prints one "Location ... is ignored" warning per project missing from a file:// index: dropped
  const out = ((r.stdout ?? "") + (r.stderr ?? "")).replace(/^.*is ignored: it is neither a file nor a directory\.\n/gm, "");
  if (!opts.quiet) process.stdout.write(out.replace(/^/gm, "  | "));
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.join(" ")} exited ${r.status ?? r.signal}:\n${out.slice(-4000)}`);
  return out;
}

/** Jupyter folders of our own, so nothing of the user's (kernels, settings, workspaces) takes part. */
function jupyterEnv(dir, extra = {}) {
  for (const d of ["config", "data", "runtime"]) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const env = {
    ...process.env,
    JUPYTER_CONFIG_DIR: path.join(dir, "config"),
    JUPYTER_DATA_DIR: path.join(dir, "data"),
    JUPYTER_RUNTIME_DIR: path.join(dir, "runtime"),
    ...extra,
  };
  delete env.JUPYTER_PATH;
  return { ...env, ...extra };
}

/** The course notebooks, in order (the course's own list). */
function courseNotebooks() {
  return require(path.join(ROOT, "dist", "cli", "course.js")).courseNotebooks(path.join(ROOT, "notebooks"));
}

/** Shortened copies of the course notebooks under DIR/notebooks, with DIR/data linking to the repository's data. */
function stageNotebooks(dir) {
  const { readNotebook, writeNotebook } = require(path.join(ROOT, "dist", "course", "notebook.js"));
  const { injectParameters } = require(path.join(ROOT, "dist", "course", "parameters.js"));
  const { notebookParameters } = require(path.join(ROOT, "dist", "cli", "course.js"));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, "notebooks"), { recursive: true });
  fs.symlinkSync(path.relative(dir, path.join(ROOT, "data")), path.join(dir, "data"));
  return courseNotebooks().map((file) => {
    const params = notebookParameters(file, { runName: "jupyter", maxSteps: STEPS });
    const copy = path.join(dir, "notebooks", path.basename(file));
    writeNotebook(copy, injectParameters(readNotebook(file), params, { notebookPath: file }));
    return copy;
  });
}

/** Registers the dpo-ts kernel under PREFIX/share/jupyter/kernels as a user would (`dpo-ts kernel install --prefix`). */
function installKernel(prefix, cwd = ROOT) {
  sh(process.execPath, [path.join(cwd, "dist", "cli", "index.js"), "kernel", "install", "--prefix", prefix], { cwd });
}

async function check(name, fn) {
  const t0 = Date.now();
  log(`${name}: start`);
  let ok = true;
  let detail = "";
  try {
    detail = (await fn()) ?? "";
  } catch (e) {
    ok = false;
    detail = e instanceof Error ? e.message : String(e);
  }
  const seconds = +((Date.now() - t0) / 1000).toFixed(1);
  results.push({ check: name, ok, seconds, detail });
  log(`${name}: ${ok ? "passed" : "FAILED"} (${seconds} s)${detail ? "\n" + detail.replace(/^/gm, "    ") : ""}`);
}

// ---------------------------------------------------------------------------------------------------------------
// nbclient

async function nbclientCheck() {
  const dir = path.join(OUT, "nbclient");
  const copies = stageNotebooks(dir);
  const env = jupyterEnv(path.join(dir, "jupyter"), {});
  installKernel(path.join(dir, "prefix"));
  env.JUPYTER_PATH = path.join(dir, "prefix", "share", "jupyter");
  sh(PY, [NBCLIENT, "--out", path.join(dir, "executed"), "--json", path.join(dir, "results.json"), ...copies], { env });
  const res = JSON.parse(fs.readFileSync(path.join(dir, "results.json"), "utf8"));
  return res.map((r) => `${r.notebook}: ${r.executed_cells}/${r.code_cells} cells, ${r.seconds} s`).join("\n");
}

// ---------------------------------------------------------------------------------------------------------------
// JupyterLab in headless Chromium

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startJupyterLab(dir, env) {
  const port = await freePort();
  const settings = path.join(dir, "lab-settings");
  // No autosave (a notebook marked modified must not be written back), and every cell kept in the DOM so the
  // outputs can be inspected (JupyterLab 4 virtualizes long notebooks by default).
  fs.mkdirSync(path.join(settings, "@jupyterlab", "docmanager-extension"), { recursive: true });
  fs.mkdirSync(path.join(settings, "@jupyterlab", "notebook-extension"), { recursive: true });
  fs.writeFileSync(path.join(settings, "@jupyterlab", "docmanager-extension", "plugin.jupyterlab-settings"), JSON.stringify({ autosave: false }));
  fs.writeFileSync(path.join(settings, "@jupyterlab", "notebook-extension", "tracker.jupyterlab-settings"), JSON.stringify({ windowingMode: "none" }));
  const server = spawn(
    path.join(VENV, "bin", "jupyter"),
    [
      "lab",
      "--no-browser",
      `--port=${port}`,
      "--ServerApp.port_retries=0",
      "--ServerApp.ip=127.0.0.1",
      "--IdentityProvider.token=",
      "--ServerApp.password=",
      `--ServerApp.root_dir=${ROOT}`,
      "--allow-root",
      "--LabApp.expose_app_in_browser=True",
      // the checkpoint JupyterLab makes of each notebook it opens goes here, not into notebooks/.ipynb_checkpoints
      `--FileCheckpoints.checkpoint_dir=${path.join(dir, "checkpoints")}`,
    ],
    { env: { ...env, JUPYTERLAB_SETTINGS_DIR: settings, JUPYTERLAB_WORKSPACES_DIR: path.join(dir, "lab-workspaces") }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  server.stdout.on("data", (b) => (out += b));
  server.stderr.on("data", (b) => (out += b));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`jupyter lab exited (${server.exitCode}):\n${out.slice(-3000)}`);
    try {
      if ((await fetch(`${base}/api/status`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`jupyter lab did not answer on ${base}:\n${out.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return { base, server, log: () => out };
}

// Runs in the page: the open notebook panel for PATH, its kernel's status and what the dirty indicator shows.
const PANEL_STATE = (p) => {
  const app = window.jupyterapp;
  const w = [...app.shell.widgets("main")].find((x) => x.context?.path === p);
  if (!w) return { open: false };
  // the dock panel's tab showing this document (the dirty indicator is the jp-mod-dirty class on it)
  const tab = [...document.querySelectorAll(".jp-MainAreaWidget, .lm-DockPanel .lm-TabBar-tab")].find(
    (t) => t.classList.contains("lm-TabBar-tab") && t.querySelector(".lm-TabBar-tabLabel")?.textContent === w.title.label,
  );
  return {
    open: true,
    ready: w.context.isReady,
    kernel: w.sessionContext?.session?.kernel?.status ?? "none",
    kernelName: w.sessionContext?.session?.kernel?.name ?? null,
    modelDirty: w.context.model.dirty,
    tabDirty: Boolean(tab?.classList.contains("jp-mod-dirty")),
    dialogs: [...document.querySelectorAll(".jp-Dialog")].map((d) => d.innerText.replace(/\s+/g, " ").slice(0, 300)),
  };
};

async function waitFor(page, fn, arg, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await page.evaluate(fn, arg);
    if (last.done) return last;
    if (Date.now() > deadline) throw new Error(`${what}: timed out after ${timeoutMs / 1000} s (${JSON.stringify(last)})`);
    await page.waitForTimeout(500);
  }
}

async function openNotebook(page, rel) {
  await page.evaluate((p) => void window.jupyterapp.commands.execute("docmanager:open", { path: p }), rel);
  return waitFor(
    page,
    (p) => {
      const s = window.__panelState(p);
      return { ...s, done: (s.open && s.ready && s.kernel === "idle") || s.dialogs?.length > 0 };
    },
    rel,
    `${rel}: open with an idle kernel`,
    180_000,
  ).then((s) => {
    // e.g. "Select Kernel" when the dpo-ts kernel is not registered, or a kernel that died while starting
    if (s.dialogs.length) throw new Error(`${rel}: dialog on open: ${s.dialogs.join(" | ")}`);
    return s;
  });
}

async function jupyterlabCheck() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (apt-get install chromium-headless-shell, or set DPO_CHROMIUM)`);
  const dir = path.join(OUT, "lab");
  const copies = stageNotebooks(dir);
  fs.mkdirSync(SHOTS, { recursive: true });
  const env = jupyterEnv(path.join(dir, "jupyter"));
  installKernel(path.join(dir, "prefix"));
  env.JUPYTER_PATH = path.join(dir, "prefix", "share", "jupyter");
  const lab = await startJupyterLab(dir, env);
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"], headless: true });
  const problems = [];
  const lines = [];
  const consoleMessages = [];
  let current = "(start)";
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const consoleErrors = [];
    page.on("pageerror", (e) => {
      consoleErrors.push(e.message);
      consoleMessages.push({ notebook: current, type: "pageerror", text: e.message.slice(0, 500) });
    });
    // Every browser console message and uncaught page error, tagged with the notebook open at the time, kept in
    // console.json. JupyterLab 4's notebook debugger throws "No active debugger session" (uncaught) after every cell
    // of a kernel without debugger support, as tslab is (a user saw it 7-11 times per notebook); the venv's
    // JupyterLab runs without that plugin (scripts/setup-python.sh --jupyter, binder/postBuild), and a page error
    // of that kind fails this check.
    page.on("console", (m) => consoleMessages.push({ notebook: current, type: m.type(), text: m.text().slice(0, 500) }));
    await page.goto(`${lab.base}/lab/workspaces/ci?reset`);
    await page.waitForFunction(() => window.jupyterapp?.shell && document.querySelector(".jp-LabShell"), undefined, { timeout: 120_000 });
    await page.evaluate(() => window.jupyterapp.restored);
    await page.evaluate(`window.__panelState = ${PANEL_STATE.toString()}`);
    for (let i = 0; i < copies.length; i++) {
      const name = path.basename(copies[i], ".ipynb");
      // 1. The committed notebook, opened as a learner opens it: not modified once its kernel is up.
      const committed = path.relative(ROOT, courseNotebooks()[i]);
      current = committed;
      const s = await openNotebook(page, committed);
      await page.waitForTimeout(1500); // metadata updates from the kernel's info reply arrive just after "idle"
      const opened = await page.evaluate((p) => window.__panelState(p), committed);
      if (opened.modelDirty || opened.tabDirty) {
        const diff = await page.evaluate(async (p) => {
          const w = [...window.jupyterapp.shell.widgets("main")].find((x) => x.context?.path === p);
          const now = w.context.model.toJSON();
          const disk = (await window.jupyterapp.serviceManager.contents.get(p, { content: true })).content;
          // key order and multi-line strings as arrays do not count as changes
          const canon = (v) =>
            Array.isArray(v)
              ? `[${v.map(canon).join(",")}]`
              : v && typeof v === "object"
                ? `{${Object.keys(v)
                    .filter((k) => v[k] !== undefined)
                    .sort()
                    .map((k) => `${JSON.stringify(k)}:${canon(k === "source" && Array.isArray(v[k]) ? v[k].join("") : v[k])}`)
                    .join(",")}}`
                : JSON.stringify(v);
          const keys = new Set([...Object.keys(now.metadata), ...Object.keys(disk.metadata)]);
          const meta = [...keys]
            .filter((k) => canon(now.metadata[k]) !== canon(disk.metadata[k]))
            .map((k) => `metadata.${k}: ${canon(disk.metadata[k])} -> ${canon(now.metadata[k])}`);
          const cells = now.cells
            .map((c, j) => (canon(c) !== canon(disk.cells[j]) ? `cell ${j + 1}: ${canon(disk.cells[j]).slice(0, 200)} -> ${canon(c).slice(0, 200)}` : null))
            .filter(Boolean);
          return [
            ...meta,
            ...(now.nbformat_minor !== disk.nbformat_minor ? [`nbformat_minor ${disk.nbformat_minor} -> ${now.nbformat_minor}`] : []),
            ...(cells.length ? [`changed: ${cells.join(", ")}`] : []),
          ].join("; ");
        }, committed);
        problems.push(`${committed}: marked modified on open, without any edit (${diff || "no difference from the file found"})`);
      }
      await page.screenshot({ path: path.join(SHOTS, `${name}-opened.png`) });
      await closeNotebook(page, committed);

      // 2. The shortened copy: Run All Cells.
      const rel = path.relative(ROOT, copies[i]);
      current = rel;
      await openNotebook(page, rel);
      const t0 = Date.now();
      // Run All is started, not awaited in the page: a command that never settles must not hang the check (the wait
      // below has a deadline). It settles when the last cell replied; its outcome is read after the wait.
      await page.evaluate((p) => {
        const app = window.jupyterapp;
        const w = [...app.shell.widgets("main")].find((x) => x.context?.path === p);
        app.shell.activateById(w.id);
        window.__runAll = null;
        app.commands.execute("notebook:run-all-cells").then(
          () => (window.__runAll = { done: true }),
          (e) => (window.__runAll = { error: String(e) }),
        );
      }, rel);
      // wait for idle and the charts' drawing scripts
      const state = await waitFor(
        page,
        (p) => {
          const w = [...window.jupyterapp.shell.widgets("main")].find((x) => x.context?.path === p);
          const cells = w.content.model.toJSON().cells.filter((c) => c.cell_type === "code");
          const outputs = cells.flatMap((c) => c.outputs);
          const expected = outputs.filter(
            (o) => o.data && (o.data["application/vnd.plotly.v1+json"] || String(o.data["text/html"] ?? "").includes("plotly-graph-div")),
          ).length;
          const divs = [...w.node.querySelectorAll(".jp-OutputArea-output .plotly-graph-div")];
          const drawn = divs.filter((d) => d.querySelector(".main-svg")).length;
          const kernel = w.sessionContext.session?.kernel?.status;
          const pending = cells.filter((c) => c.execution_count === null).length;
          const errors = cells.flatMap((c, j) => c.outputs.filter((o) => o.output_type === "error").map((o) => `cell ${j + 1}: ${o.ename}: ${o.evalue}`));
          const dialogs = [...document.querySelectorAll(".jp-Dialog")].map((d) => d.innerText.replace(/\s+/g, " ").slice(0, 300));
          return {
            done: kernel === "idle" && (errors.length > 0 || dialogs.length > 0 || (pending === 0 && drawn >= expected)),
            kernel,
            pending,
            expected,
            drawn,
            errors,
            dialogs,
            cells: cells.length,
          };
        },
        rel,
        `${rel}: run all cells`,
        600_000,
      ).catch((e) => ({ timeout: e.message }));
      const seconds = ((Date.now() - t0) / 1000).toFixed(1);
      const ran = (await page.evaluate(() => window.__runAll)) ?? {}; // null: not settled yet, which the wait judged
      await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
      if (state.timeout) problems.push(state.timeout);
      else {
        if (ran.error) problems.push(`${rel}: Run All Cells failed: ${ran.error}`);
        for (const e of state.errors) problems.push(`${rel}: error output in ${e}`);
        for (const d of state.dialogs) problems.push(`${rel}: dialog: ${d}`);
        if (!state.errors.length && state.pending) problems.push(`${rel}: ${state.pending} code cells never ran`);
        if (state.drawn < state.expected) problems.push(`${rel}: ${state.expected - state.drawn} of ${state.expected} plotly charts not drawn`);
        lines.push(
          `${name}: opened clean: ${!(opened.modelDirty || opened.tabDirty)}; ran ${state.cells - state.pending}/${state.cells} cells in ${seconds} s; charts drawn ${state.drawn}/${state.expected}; kernel ${s.kernelName}`,
        );
      }
      await closeNotebook(page, rel);
      if (problems.length && problems.some((p) => p.startsWith(rel))) break; // later notebooks read what this one writes
    }
    const otherErrors = consoleErrors.filter((m) => !/No active debugger session/.test(m));
    if (otherErrors.length) lines.push(`page errors (not failing): ${otherErrors.slice(0, 5).join(" | ")}`);
    current = "(end)";
    const debuggerNoise = new Map();
    for (const m of consoleMessages) if (/No active debugger session/.test(m.text)) debuggerNoise.set(m.notebook, (debuggerNoise.get(m.notebook) ?? 0) + 1);
    for (const [nb, n] of debuggerNoise)
      problems.push(
        `${nb}: "No active debugger session" thrown ${n} times in the page (JupyterLab's notebook debugger on a kernel without one: run scripts/setup-python.sh --jupyter, which turns that plugin off in ${VENV})`,
      );
    const byType = {};
    for (const m of consoleMessages) byType[m.type] = (byType[m.type] ?? 0) + 1;
    lines.push(
      `browser console: ${consoleMessages.length} messages (${Object.entries(byType)
        .map(([t, n]) => `${t} ${n}`)
        .join(
          ", ",
        )}), "No active debugger session" ${[...debuggerNoise.values()].reduce((a, b) => a + b, 0)} times; all in ${path.relative(ROOT, dir)}/console.json`,
    );
  } finally {
    fs.writeFileSync(path.join(dir, "console.json"), JSON.stringify(consoleMessages, null, 1));
    await browser.close();
    lab.server.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 1000));
    if (lab.server.exitCode === null) lab.server.kill("SIGKILL");
  }
  if (problems.length) throw new Error([...problems, ...lines].join("\n"));
  return lines.join("\n") + `\nscreenshots: ${path.relative(ROOT, SHOTS)}/`;
}

/** Shuts the panel's kernel down and closes the panel without saving (autosave is off; nothing is written). */
async function closeNotebook(page, rel) {
  await page.evaluate(async (p) => {
    const w = [...window.jupyterapp.shell.widgets("main")].find((x) => x.context?.path === p);
    if (!w) return;
    await w.sessionContext.shutdown();
    w.context.model.dirty = false;
    w.dispose();
  }, rel);
}

/** As scripts/setup-python.sh: pip's first configured file:// extra index that exists becomes --index-url (offline). */
function localIndexArgs() {
  const r = spawnSync("python3", ["-m", "pip", "config", "list"], { encoding: "utf8" });
  for (const m of (r.stdout ?? "").matchAll(/extra-index-url='([^']*)'/g)) {
    for (const u of m[1].split(/\s+/)) if (u.startsWith("file://") && fs.existsSync(u.slice(7))) return ["--index-url", u];
  }
  return [];
}

// ---------------------------------------------------------------------------------------------------------------
// Binder: binder/postBuild in a copy of the working tree, against a fresh venv's Jupyter

async function binderCheck() {
  const dir = path.join(OUT, "binder");
  const venv = path.join(dir, "venv");
  const repo = path.join(dir, "repo");
  fs.rmSync(repo, { recursive: true, force: true });
  if (!fs.existsSync(path.join(venv, "bin", "jupyter-lab"))) {
    fs.rmSync(venv, { recursive: true, force: true });
    sh("python3", ["-m", "venv", venv]);
    sh(path.join(venv, "bin", "pip"), ["install", "-q", ...localIndexArgs(), "jupyterlab", "nbclient"]);
  }
  // What repo2docker copies: the repository's files (tracked and new, not ignored), without node_modules or dist.
  const files = spawnSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: ROOT, encoding: "utf8" }).stdout.split("\0").filter(Boolean);
  for (const f of files) {
    const src = path.join(ROOT, f);
    if (!fs.existsSync(src) || fs.lstatSync(src).isSymbolicLink() || fs.statSync(src).isDirectory()) continue;
    fs.mkdirSync(path.dirname(path.join(repo, f)), { recursive: true });
    fs.copyFileSync(src, path.join(repo, f));
    fs.chmodSync(path.join(repo, f), fs.statSync(src).mode);
  }
  // repo2docker runs postBuild from the repository root with the environment's bin first on PATH.
  const env = jupyterEnv(path.join(dir, "jupyter"), { PATH: `${path.join(venv, "bin")}:${process.env.PATH}` });
  sh("bash", [path.join(repo, "binder", "postBuild")], { cwd: repo, env });
  const specs = JSON.parse(sh(path.join(venv, "bin", "jupyter"), ["kernelspec", "list", "--json"], { env, quiet: true })).kernelspecs;
  const spec = specs["dpo-ts"];
  if (!spec) throw new Error(`postBuild registered no dpo-ts kernel in the venv's Jupyter: ${Object.keys(specs).join(", ")}`);
  if (!spec.resource_dir.startsWith(venv)) throw new Error(`dpo-ts kernel found at ${spec.resource_dir}, not under ${venv}`);
  const first = path.join(repo, "notebooks", path.basename(courseNotebooks()[0]));
  sh(path.join(venv, "bin", "python"), [path.join(repo, "scripts", "nbclient-execute.py"), "--out", path.join(dir, "executed"), first], { env });
  return `kernel "dpo-ts" registered at ${path.relative(ROOT, spec.resource_dir)}; ${path.basename(first)} executed by the venv's nbclient`;
}

// ---------------------------------------------------------------------------------------------------------------
// Colab edition: a Python-kernel notebook, executed against this checkout

async function colabCheck() {
  const dir = path.join(OUT, "colab");
  fs.rmSync(dir, { recursive: true, force: true });
  const notebooks = fs
    .readdirSync(path.join(ROOT, "notebooks", "colab"))
    .filter((f) => f.endsWith(".ipynb"))
    .map((f) => path.join(ROOT, "notebooks", "colab", f));
  if (!notebooks.length) throw new Error("no notebooks/colab/*.ipynb");
  const env = jupyterEnv(path.join(dir, "jupyter"), { DPO_TS_SOURCE: ROOT, DPO_TS_STEPS: String(STEPS), DPO_TS_WORKDIR: path.join(dir, "work") });
  sh(PY, [NBCLIENT, "--kernel", "python3", "--out", path.join(dir, "executed"), "--json", path.join(dir, "results.json"), ...notebooks], { env });
  const res = JSON.parse(fs.readFileSync(path.join(dir, "results.json"), "utf8"));
  // The plots must be in the executed notebook: the report (HTML with plotly) shown through IPython.display.
  for (const nb of notebooks) {
    const executed = JSON.parse(fs.readFileSync(path.join(dir, "executed", path.basename(nb)), "utf8"));
    const html = executed.cells
      .flatMap((c) => c.outputs ?? [])
      .map((o) => [].concat(o.data?.["text/html"] ?? []).join(""))
      .join("\n");
    if (!/plotly/.test(html)) throw new Error(`${path.basename(nb)}: no plotly output (the report's charts) in the executed notebook`);
  }
  return res.map((r) => `${r.notebook}: ${r.executed_cells}/${r.code_cells} cells, ${r.seconds} s`).join("\n");
}

// ---------------------------------------------------------------------------------------------------------------

const wanted = process.argv.slice(2);
for (const w of wanted)
  if (!CHECKS.includes(w)) {
    console.error(`jupyter-ci: unknown check ${w} (checks: ${CHECKS.join(", ")})`);
    process.exit(2);
  }
if (!fs.existsSync(path.join(ROOT, "dist", "cli", "index.js"))) sh("npm", ["run", "build"], { cwd: ROOT });
fs.mkdirSync(OUT, { recursive: true });
if (!fs.existsSync(PY)) {
  console.error(`jupyter-ci: ${PY} not found: run scripts/setup-python.sh --jupyter (or set DPO_JUPYTER_VENV)`);
  process.exit(1);
}
const t0 = Date.now();
const run = { nbclient: nbclientCheck, jupyterlab: jupyterlabCheck, binder: binderCheck, colab: colabCheck };
for (const name of wanted.length ? wanted : CHECKS) await check(name, run[name]);
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
fs.writeFileSync(path.join(OUT, "report.json"), JSON.stringify({ passed, failed, seconds: (Date.now() - t0) / 1000, results }, null, 1));
log(`${passed} passed, ${failed} failed (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
process.exit(failed ? 1 : 0);
