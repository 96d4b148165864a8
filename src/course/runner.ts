/**
 * Headless notebook runner: executes a `.ipynb` top to bottom with tslab's own converter and executor
 * (the code path the tslab Jupyter kernel uses), capturing each cell's outputs in Jupyter's nbformat shape.
 *
 * What is captured, and how (mirroring tslab's kernel in node_modules/tslab/dist/jupyter.js):
 * - `process.stdout.write` / `process.stderr.write` are replaced while cells run (tslab does the same per
 *   execute_request), so `console.log`, `console.error` and direct writes become `stream` outputs. Consecutive
 *   writes to the same stream are merged into one output (what Jupyter front ends show).
 * - `require("tslab/dist/jupyter").lastWriteDisplayData` is set to a writer (the kernel sets it to a function that
 *   publishes `display_data` / `update_display_data`). `tslab.display.*`, `tslab.newDisplay()` and direct calls
 *   with a whole MIME bundle all land there. Content goes through a JSON round trip, as it would over ZMQ.
 * - A display with `transient.display_id` is registered; a later update (or a display_data with the same id)
 *   replaces `data`/`metadata` of every earlier output with that id in place (nbclient's rule), so a live chart
 *   stays one output.
 * - tslab prints the value of a cell's last expression with `console.log` (stdout stream, never an
 *   execute_result); compile errors and thrown values go to the executor's console.error, which this runner turns
 *   into an nbformat `error` output and stops.
 */
import * as fs from "fs";
import * as path from "path";
import * as util from "util";
import { createRequire } from "module";
import type * as TS from "typescript";
import {
  Cell,
  CellOutput,
  CodeCell,
  ErrorOutput,
  MimeBundle,
  Notebook,
  cellTags,
  codeCell,
  findParametersCell,
  readNotebook,
  writeNotebook,
} from "./notebook";

export interface CellStartEvent {
  /** Index in `notebook.cells` (0-based, counting markdown cells and the injected parameters cell). */
  index: number;
  executionCount: number;
  source: string;
}

export interface CellEvent extends CellStartEvent {
  ok: boolean;
  durationMs: number;
  outputs: CellOutput[];
}

export interface RunNotebookOptions {
  /** Values injected after the cell tagged "parameters" (Papermill convention); each must be JSON. */
  parameters?: Record<string, unknown>;
  /** Where to write the executed notebook (outputs + execution counts); also written when a cell fails. */
  outPath?: string;
  /** Per-cell time limit. Cells waiting on a promise are interrupted; a synchronous loop can only be stopped
   *  by running in a child process (`runNotebookInChild`). */
  timeoutMs?: number;
  /** Called before each code cell runs. */
  onCellStart?: (ev: CellStartEvent) => void;
  /** Called after each code cell ran (also for the failing cell). */
  onCell?: (ev: CellEvent) => void;
  /** Copy stream output to the real stdout/stderr as it is produced (progress for long notebooks). */
  echo?: boolean;
  /** Write `outPath` after every cell, so a killed run leaves its progress on disk. */
  checkpoint?: boolean;
  /** Inject parameters that the parameters cell does not declare (as `let NAME = value;`) instead of failing. */
  allowUnknownParameters?: boolean;
}

export interface CellTiming {
  index: number;
  executionCount: number;
  durationMs: number;
  ok: boolean;
}

export interface RunNotebookResult {
  notebookPath: string;
  outPath?: string;
  /** The executed notebook (also written to outPath when given). */
  notebook: Notebook;
  cells: CellTiming[];
  /** Time to create tslab's TypeScript converter (once per notebook, typically a few seconds). */
  setupMs: number;
  durationMs: number;
}

/** A notebook cell failed: names the notebook, the cell and the error; the partial notebook is at `outPath`. */
export class NotebookCellError extends Error {
  constructor(
    readonly notebookPath: string,
    readonly cellIndex: number,
    readonly executionCount: number,
    readonly ename: string,
    readonly evalue: string,
    readonly traceback: string[],
    readonly source: string,
    readonly outPath?: string,
  ) {
    const firstLine = source.split("\n").find((l) => l.trim() !== "") ?? "";
    super(
      `${notebookPath}: cell ${cellIndex} (execution_count ${executionCount}, "${truncate(firstLine.trim(), 60)}") failed: ` +
        `${ename}: ${evalue}` + (outPath ? ` (executed notebook: ${outPath})` : ""),
    );
    this.name = "NotebookCellError";
  }
}

function truncate(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}

// ---------------------------------------------------------------------------------------------------------------
// tslab internals (loaded from the tslab package this project depends on, so a notebook's `require("tslab")`,
// which tslab's executor hooks to its own package, and this runner share one `jupyter` module instance).

interface TslabDisplayData {
  data: MimeBundle;
  metadata?: Record<string, unknown>;
  transient?: { display_id?: string };
}
interface TslabConverter {
  close(): void;
}
interface TslabExecutor {
  execute(src: string): Promise<boolean>;
  interrupt(): void;
  close(): void;
}
interface TslabModules {
  dir: string;
  createConverter(opts: { isJS: boolean; isBrowser: boolean }): TslabConverter;
  createExecutor(
    rootDir: string,
    convs: { node: TslabConverter; browser: TslabConverter; close(): void },
    console: { log: (...args: unknown[]) => void; error: (...args: unknown[]) => void },
  ): TslabExecutor;
  jupyter: {
    lastWriteDisplayData: ((data: TslabDisplayData, update: boolean) => void) | null;
    JupyterHandlerImpl: new (executor: TslabExecutor, isJs: boolean) => {
      handleKernel(): { language_info: Record<string, unknown> };
    };
  };
  ts: typeof TS;
}

let tslabCache: TslabModules | null = null;

/** The tslab installation used by this runner and by the kernelspec (node_modules/tslab). */
export function tslabDir(): string {
  return path.dirname(require.resolve("tslab/package.json"));
}

function loadTslab(): TslabModules {
  if (tslabCache) return tslabCache;
  const dir = tslabDir();
  const req = createRequire(path.join(dir, "package.json"));
  const converter = req("./dist/converter.js");
  const executor = req("./dist/executor.js");
  const jupyter = req("./dist/jupyter.js");
  const ts = req("@tslab/typescript-for-tslab") as typeof TS;
  tslabCache = {
    dir,
    createConverter: converter.createConverter,
    createExecutor: executor.createExecutor,
    jupyter,
    ts,
  };
  return tslabCache;
}

// ---------------------------------------------------------------------------------------------------------------
// Parameters

/** How each top-level variable of a parameters cell is declared. */
export function parameterDeclarations(source: string): Map<string, "let" | "const" | "var"> {
  const { ts } = loadTslab();
  const sf = ts.createSourceFile("parameters.ts", source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out = new Map<string, "let" | "const" | "var">();
  const addNames = (name: TS.BindingName, kind: "let" | "const" | "var") => {
    if (ts.isIdentifier(name)) {
      out.set(name.text, kind);
      return;
    }
    for (const el of name.elements) {
      if (!ts.isOmittedExpression(el)) addNames(el.name, kind);
    }
  };
  for (const stmt of sf.statements) {
    if (!ts.isVariableStatement(stmt)) continue;
    const flags = stmt.declarationList.flags;
    const kind = flags & ts.NodeFlags.Const ? "const" : flags & ts.NodeFlags.Let ? "let" : "var";
    for (const decl of stmt.declarationList.declarations) addNames(decl.name, kind);
  }
  return out;
}

/** A TypeScript literal for a JSON value; rejects values JSON cannot carry faithfully. */
function jsonLiteral(value: unknown, where: string): string {
  const check = (v: unknown, at: string): void => {
    if (v === null || typeof v === "string" || typeof v === "boolean") return;
    if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new Error(`${at}: ${v} is not representable in JSON`);
      return;
    }
    if (Array.isArray(v)) {
      v.forEach((x, i) => check(x, `${at}[${i}]`));
      return;
    }
    if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) check(x, `${at}.${k}`);
      return;
    }
    throw new Error(`${at}: a ${typeof v === "object" ? (v as object).constructor?.name ?? "object" : typeof v} is not a JSON value`);
  };
  check(value, where);
  return JSON.stringify(value);
}

/**
 * Returns a copy of `nb` with a cell tagged "injected-parameters" inserted after the "parameters" cell
 * (an earlier injected cell is replaced). Each parameter becomes an assignment `NAME = <json>;`, which tslab
 * type-checks against the `let` declaration (so a wrong type fails with a compile error naming the variable).
 * The assignments sit in a block so the cell has no last-expression value to echo.
 */
export function injectParameters(
  nb: Notebook,
  parameters: Record<string, unknown>,
  opts: { notebookPath?: string; allowUnknown?: boolean } = {},
): Notebook {
  const file = opts.notebookPath ?? "<notebook>";
  const names = Object.keys(parameters);
  const cells: Cell[] = nb.cells.filter((c) => !cellTags(c).includes("injected-parameters"));
  const copy: Notebook = { ...nb, cells };
  if (names.length === 0) return copy;
  const pIndex = findParametersCell(copy);
  if (pIndex < 0) {
    throw new Error(`${file}: parameters given (${names.join(", ")}) but no code cell is tagged "parameters"`);
  }
  const decls = parameterDeclarations(cells[pIndex].source);
  const lines: string[] = [];
  const newDecls: string[] = [];
  for (const name of names) {
    if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name)) throw new Error(`${file}: parameter ${JSON.stringify(name)}: not an identifier`);
    const lit = jsonLiteral(parameters[name], `${file}: parameter ${name}`);
    const kind = decls.get(name);
    if (kind === undefined) {
      if (!opts.allowUnknown) {
        const known = [...decls.keys()];
        throw new Error(
          `${file}: parameter ${name}: not declared in the "parameters" cell (cell ${pIndex}); declared: ${known.length ? known.join(", ") : "(none)"}`,
        );
      }
      newDecls.push(`let ${name} = ${lit};`);
    } else if (kind === "const") {
      throw new Error(
        `${file}: parameter ${name}: declared with const in the "parameters" cell (cell ${pIndex}); declare parameters with let so they can be overridden`,
      );
    } else {
      lines.push(`  ${name} = ${lit};`);
    }
  }
  let source = "// Parameters injected by the dpo-ts notebook runner.\n";
  if (newDecls.length) source += newDecls.join("\n") + "\n";
  if (lines.length) source += "{\n" + lines.join("\n") + "\n}\n";
  const injected = codeCell(source.replace(/\n$/, ""), { tags: ["injected-parameters"] });
  cells.splice(pIndex + 1, 0, injected);
  return copy;
}

// ---------------------------------------------------------------------------------------------------------------
// Running

function errorOutputFromValue(e: unknown): ErrorOutput {
  if (e instanceof Error || (typeof e === "object" && e !== null && "stack" in e && "message" in e)) {
    const err = e as Error;
    const stack = typeof err.stack === "string" ? err.stack : `${err.name}: ${err.message}`;
    const lines = stack.split("\n");
    // Drop the frames of the machinery below the notebook code (vm, tslab's executor, this runner).
    const cut = lines.findIndex(
      (l) => /^\s+at /.test(l) && /node:vm|[\\/]tslab[\\/]dist[\\/]executor\.js|[\\/]course[\\/]runner\.[jt]s/.test(l),
    );
    return {
      output_type: "error",
      ename: err.name || err.constructor?.name || "Error",
      evalue: String(err.message),
      traceback: cut >= 0 ? lines.slice(0, cut) : lines,
    };
  }
  return { output_type: "error", ename: "Error", evalue: `Uncaught ${util.inspect(e)}`, traceback: [`Uncaught ${util.inspect(e)}`] };
}

/**
 * Executes a notebook headlessly in this process with tslab (chdir to the notebook's folder while it runs).
 * Throws `NotebookCellError` at the first failing cell, after writing the partial notebook to `outPath`.
 */
export async function runNotebook(notebookPath: string, opts: RunNotebookOptions = {}): Promise<RunNotebookResult> {
  const t0 = Date.now();
  const absPath = path.resolve(notebookPath);
  const outPath = opts.outPath ? path.resolve(opts.outPath) : undefined;
  const source = readNotebook(absPath);
  const nb = injectParameters(source, opts.parameters ?? {}, {
    notebookPath: notebookPath,
    allowUnknown: opts.allowUnknownParameters,
  });
  if (opts.parameters && Object.keys(opts.parameters).length) {
    nb.metadata = { ...nb.metadata, dpo_ts: { ...(nb.metadata.dpo_ts as object), parameters: opts.parameters } };
  }
  for (const c of nb.cells) {
    if (c.cell_type === "code") {
      c.outputs = [];
      c.execution_count = null;
    }
  }

  const tslab = loadTslab();
  const prevCwd = process.cwd();
  const stdout = process.stdout;
  const stderr = process.stderr;
  const origStdoutWrite = stdout.write;
  const origStderrWrite = stderr.write;
  const origDisplay = tslab.jupyter.lastWriteDisplayData;
  const ttyDescriptors = [stdout, stderr].map((s) => [s, Object.getOwnPropertyDescriptor(s, "isTTY")] as const);
  const timings: CellTiming[] = [];

  // Output routing state.
  let current: CellOutput[] | null = null;
  let currentIndex = -1;
  const displays = new Map<string, { cell: number; output: number }[]>();
  const cellOutputs = (i: number): CellOutput[] => (nb.cells[i] as CodeCell).outputs;

  const writeStream = (name: "stdout" | "stderr", text: string) => {
    if (opts.echo) (name === "stdout" ? origStdoutWrite : origStderrWrite).call(name === "stdout" ? stdout : stderr, text);
    if (!current || text === "") return;
    const last = current[current.length - 1];
    if (last && last.output_type === "stream" && last.name === name) last.text += text;
    else current.push({ output_type: "stream", name, text });
  };
  const makeWrite = (name: "stdout" | "stderr") =>
    function write(chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
      let text: string;
      if (typeof chunk === "string") text = chunk;
      else if (chunk instanceof Uint8Array) text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString(typeof encoding === "string" && encoding !== "buffer" ? (encoding as BufferEncoding) : "utf8");
      else text = String(chunk);
      writeStream(name, text);
      const done = typeof encoding === "function" ? encoding : cb;
      if (typeof done === "function") process.nextTick(done as () => void);
      return true;
    };

  const writeDisplayData = (content: TslabDisplayData, update: boolean) => {
    // Same wire shape as tslab's ZMQ path: JSON-serialized content.
    const msg = JSON.parse(JSON.stringify(content)) as TslabDisplayData;
    const data = msg.data ?? {};
    const metadata = msg.metadata ?? {};
    const id = msg.transient?.display_id;
    if (id && displays.has(id)) {
      for (const loc of displays.get(id)!) {
        const out = cellOutputs(loc.cell)[loc.output];
        if (out && (out.output_type === "display_data" || out.output_type === "execute_result")) {
          out.data = data;
          out.metadata = metadata;
        }
      }
    }
    if (update || !current) return; // update_display_data is never recorded as a new output
    if (id) {
      const locs = displays.get(id) ?? [];
      locs.push({ cell: currentIndex, output: current.length });
      displays.set(id, locs);
    }
    current.push({ output_type: "display_data", data, metadata });
  };

  // Errors reported by tslab's executor (it calls console.error with compile diagnostics or the thrown value).
  let diagnostics: string[] = [];
  let thrown: { value: unknown } | null = null;
  let asyncError: { value: unknown } | null = null;
  let timedOut = false;
  let executor: TslabExecutor | null = null;
  const onAsyncError = (value: unknown) => {
    if (!asyncError) asyncError = { value };
    executor?.interrupt();
  };

  const finishWrite = () => {
    if (outPath) writeNotebook(outPath, nb);
  };

  process.chdir(path.dirname(absPath));
  let converter: TslabConverter | null = null;
  try {
    const tSetup = Date.now();
    converter = tslab.createConverter({ isJS: false, isBrowser: false });
    const conv = converter;
    const convs = { node: conv, browser: conv, close: () => conv.close() };
    const setupMs = Date.now() - tSetup;
    executor = tslab.createExecutor(process.cwd(), convs, {
      log: (...args: unknown[]) => writeStream("stdout", util.format(...args) + "\n"),
      error: (...args: unknown[]) => {
        if (args[0] === "%s%d:%d - %s") diagnostics.push(util.format(...args));
        else if (!thrown) thrown = { value: args[0] };
      },
    });
    try {
      nb.metadata.language_info = new tslab.jupyter.JupyterHandlerImpl(executor, false).handleKernel()
        .language_info as Notebook["metadata"]["language_info"];
    } catch {
      // language_info is informational only
    }
    process.on("uncaughtException", onAsyncError);
    process.on("unhandledRejection", onAsyncError);
    stdout.write = makeWrite("stdout") as typeof stdout.write;
    stderr.write = makeWrite("stderr") as typeof stderr.write;
    // A kernel's stdout is a pipe: no ANSI colours from console.log/util.inspect, no TTY progress bars.
    for (const s of [stdout, stderr]) Object.defineProperty(s, "isTTY", { value: false, configurable: true, writable: true });
    tslab.jupyter.lastWriteDisplayData = writeDisplayData;

    if (opts.checkpoint) finishWrite();
    let count = 0;
    for (let i = 0; i < nb.cells.length; i++) {
      const cell = nb.cells[i];
      if (cell.cell_type !== "code" || cell.source.trim() === "") continue;
      count++;
      cell.execution_count = count;
      current = cell.outputs;
      currentIndex = i;
      diagnostics = [];
      thrown = null;
      timedOut = false;
      opts.onCellStart?.({ index: i, executionCount: count, source: cell.source });
      const tc = Date.now();
      let timer: NodeJS.Timeout | undefined;
      if (opts.timeoutMs && opts.timeoutMs > 0) {
        timer = setTimeout(() => {
          timedOut = true;
          executor?.interrupt();
        }, opts.timeoutMs);
      }
      let ok: boolean;
      try {
        ok = await executor.execute(cell.source);
      } catch (e) {
        ok = false;
        thrown = thrown ?? { value: e };
      } finally {
        if (timer) clearTimeout(timer);
      }
      // Let pending microtasks/timers of this cell flush their output before judging it.
      await new Promise((r) => setImmediate(r));
      let err: ErrorOutput | null = null;
      if (timedOut) {
        err = { output_type: "error", ename: "TimeoutError", evalue: `cell did not finish within ${opts.timeoutMs} ms`, traceback: [] };
      } else if (asyncError) {
        err = errorOutputFromValue((asyncError as { value: unknown }).value);
        err.evalue = `uncaught asynchronous error: ${err.evalue}`;
      } else if (!ok) {
        if (diagnostics.length) {
          err = {
            output_type: "error",
            ename: "TSError",
            evalue: diagnostics.map((d) => d.replace(/^\s+/, "")).join("; "),
            traceback: diagnostics.map((d) => `TypeScript: ${d.trim()}`),
          };
        } else if (thrown) {
          err = errorOutputFromValue((thrown as { value: unknown }).value);
        } else {
          err = { output_type: "error", ename: "Error", evalue: "tslab reported a failure without an error", traceback: [] };
        }
      }
      if (err) cell.outputs.push(err);
      const durationMs = Date.now() - tc;
      timings.push({ index: i, executionCount: count, durationMs, ok: !err });
      opts.onCell?.({ index: i, executionCount: count, source: cell.source, ok: !err, durationMs, outputs: cell.outputs });
      if (opts.checkpoint || err) finishWrite();
      if (err) {
        throw new NotebookCellError(notebookPath, i, count, err.ename, err.evalue, err.traceback, cell.source, outPath);
      }
    }
    finishWrite();
    return { notebookPath, outPath, notebook: nb, cells: timings, setupMs, durationMs: Date.now() - t0 };
  } finally {
    stdout.write = origStdoutWrite;
    stderr.write = origStderrWrite;
    for (const [s, d] of ttyDescriptors) {
      if (d) Object.defineProperty(s, "isTTY", d);
      else delete (s as { isTTY?: boolean }).isTTY;
    }
    tslab.jupyter.lastWriteDisplayData = origDisplay;
    process.off("uncaughtException", onAsyncError);
    process.off("unhandledRejection", onAsyncError);
    current = null;
    try {
      converter?.close();
    } catch {
      // closing file watchers is best effort
    }
    process.chdir(prevCwd);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Child-process runs

export interface ChildRunOptions extends Omit<RunNotebookOptions, "checkpoint"> {
  /** Node options for the child (default: --enable-source-maps --max-old-space-size=4096). */
  nodeOptions?: string[];
  /** Extra environment for the child. */
  env?: Record<string, string>;
  /** Kill the child when one cell runs longer than timeoutMs plus this grace (default 10 s), e.g. a sync loop. */
  killGraceMs?: number;
  /** The compiled child entry (default: dist/course/child.js of this package). */
  entry?: string;
}

export interface ChildRunResult {
  ok: boolean;
  notebookPath: string;
  /** The executed notebook (written after every cell, so it holds the progress even when the child died). */
  outPath: string;
  exitCode: number | null;
  signal: string | null;
  cells: CellTiming[];
  setupMs?: number;
  durationMs: number;
  error?: {
    kind: "cell" | "timeout" | "crash" | "setup";
    message: string;
    cellIndex?: number;
    executionCount?: number;
    ename?: string;
    evalue?: string;
    traceback?: string[];
  };
  /** The last 64 KiB the child wrote to its stdout/stderr: output outside cells, and cell output when `echo`. */
  log: string;
}

/** Messages from the child entry (dist/course/child.js). */
export type ChildMessage =
  | { type: "cell-start"; event: CellStartEvent }
  | { type: "cell"; event: CellEvent }
  | { type: "done"; setupMs: number; durationMs: number; cells: CellTiming[] }
  | {
      type: "failed";
      message: string;
      cell?: { index: number; executionCount: number; ename: string; evalue: string; traceback: string[] };
    };

export const DEFAULT_CHILD_NODE_OPTIONS = ["--enable-source-maps", "--max-old-space-size=4096"];

/** The compiled child entry: dist/course/child.js next to this file, or the repo's dist when running from src/. */
export function childEntry(): string {
  const candidates = [path.join(__dirname, "child.js"), path.resolve(__dirname, "..", "..", "dist", "course", "child.js")];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new Error(`notebook runner child entry not found (looked for ${candidates.join(", ")}); build with \`npx tsc -p tsconfig.json\``);
}

/**
 * Runs a notebook in a child `node` process (so a crash, OOM or hang cannot take down the caller) and
 * resolves with what happened; it never rejects for a failing notebook. The executed notebook is written
 * to `outPath` (default: a temporary file).
 */
export async function runNotebookInChild(notebookPath: string, opts: ChildRunOptions = {}): Promise<ChildRunResult> {
  const { spawn } = await import("child_process");
  const os = await import("os");
  const t0 = Date.now();
  const absPath = path.resolve(notebookPath);
  const outPath = path.resolve(
    opts.outPath ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dpo-ts-nb-")), path.basename(notebookPath)),
  );
  const entry = opts.entry ?? childEntry();
  const child = spawn(process.execPath, [...(opts.nodeOptions ?? DEFAULT_CHILD_NODE_OPTIONS), entry], {
    cwd: path.dirname(absPath),
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let log = "";
  const keep = (b: Buffer) => {
    log = (log + b.toString("utf8")).slice(-65536);
  };
  child.stdout?.on("data", (b: Buffer) => {
    keep(b);
    if (opts.echo) process.stdout.write(b);
  });
  child.stderr?.on("data", (b: Buffer) => {
    keep(b);
    if (opts.echo) process.stderr.write(b);
  });

  const cells: CellTiming[] = [];
  let done: Extract<ChildMessage, { type: "done" }> | null = null;
  let failed: Extract<ChildMessage, { type: "failed" }> | null = null;
  let running: CellStartEvent | null = null;
  let killedForTimeout: CellStartEvent | null = null;
  let timer: NodeJS.Timeout | undefined;
  const grace = opts.killGraceMs ?? 10_000;

  child.on("message", (m: ChildMessage) => {
    if (m.type === "cell-start") {
      running = m.event;
      if (timer) clearTimeout(timer);
      if (opts.timeoutMs && opts.timeoutMs > 0) {
        const ev = m.event;
        timer = setTimeout(() => {
          killedForTimeout = ev;
          child.kill("SIGKILL");
        }, opts.timeoutMs + grace);
      }
      opts.onCellStart?.(m.event);
    } else if (m.type === "cell") {
      if (timer) clearTimeout(timer);
      running = null;
      cells.push({ index: m.event.index, executionCount: m.event.executionCount, durationMs: m.event.durationMs, ok: m.event.ok });
      opts.onCell?.(m.event);
    } else if (m.type === "done") {
      done = m;
    } else if (m.type === "failed") {
      failed = m;
    }
  });

  const { onCell: _c, onCellStart: _s, nodeOptions: _n, env: _e, killGraceMs: _g, entry: _en, ...runOpts } = opts;
  child.send({ type: "run", notebookPath: absPath, options: { ...runOpts, outPath } });

  const [exitCode, signal] = await new Promise<[number | null, string | null]>((resolve) => {
    child.on("exit", (code, sig) => resolve([code, sig]));
    child.on("error", (e) => {
      keep(Buffer.from(`spawn error: ${e.message}\n`));
      resolve([null, null]);
    });
  });
  if (timer) clearTimeout(timer);
  // Give the stdio pipes a moment to drain.
  await new Promise((r) => setImmediate(r));

  const base = { notebookPath, outPath, exitCode, signal, cells, durationMs: Date.now() - t0, log };
  const d = done as Extract<ChildMessage, { type: "done" }> | null;
  const f = failed as Extract<ChildMessage, { type: "failed" }> | null;
  const k = killedForTimeout as CellStartEvent | null;
  const r = running as CellStartEvent | null;
  if (d && exitCode === 0) return { ...base, ok: true, setupMs: d.setupMs };
  if (k) {
    const message = `${notebookPath}: cell ${k.index} (execution_count ${k.executionCount}) did not finish within ${opts.timeoutMs} ms; child killed`;
    return {
      ...base,
      ok: false,
      error: { kind: "timeout", message, cellIndex: k.index, executionCount: k.executionCount, ename: "TimeoutError", evalue: message },
    };
  }
  if (f) {
    if (f.cell) {
      const { index, ...cell } = f.cell;
      const kind = cell.ename === "TimeoutError" ? "timeout" : "cell";
      return { ...base, ok: false, error: { kind, message: f.message, cellIndex: index, ...cell } };
    }
    return { ...base, ok: false, error: { kind: "setup", message: f.message } };
  }
  const where = r ? ` while running cell ${r.index} (execution_count ${r.executionCount})` : "";
  const message = `${notebookPath}: notebook child process exited with ${signal ? `signal ${signal}` : `code ${exitCode}`}${where}` + (log ? `\n${log.slice(-4000)}` : "");
  return { ...base, ok: false, error: { kind: "crash", message, cellIndex: r?.index, executionCount: r?.executionCount } };
}
