/**
 * Headless notebook runner, in this process: executes a `.ipynb` top to bottom with tslab's own converter and executor
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
 *
 * src/course/run-in-child.ts runs the same in a child process; src/course/parameters.ts injects parameters.
 */
import * as path from "path";
import * as util from "util";
import { CellOutput, CodeCell, ErrorOutput, Notebook, readNotebook, writeNotebook } from "./notebook";
import { injectParameters } from "./parameters";
import { TslabConverter, TslabDisplayData, TslabExecutor, loadTslab } from "./tslab";

/** A code cell about to run (onCellStart). */
export interface CellStartEvent {
  /** Index in `notebook.cells` (0-based, counting markdown cells and the injected parameters cell). */
  index: number;
  executionCount: number;
  source: string;
}

/** A code cell that ran (onCell): whether it succeeded, how long it took and its outputs. */
export interface CellEvent extends CellStartEvent {
  ok: boolean;
  durationMs: number;
  outputs: CellOutput[];
}

/** Options of {@link runNotebook}: injected parameters, output path, working folder, cell callbacks. */
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

/** How long one code cell took. */
export interface CellTiming {
  index: number;
  executionCount: number;
  durationMs: number;
  ok: boolean;
}

/** What {@link runNotebook} gave: the executed notebook, where it was written and the cell timings. */
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
        `${ename}: ${evalue}` +
        (outPath ? ` (executed notebook: ${outPath})` : ""),
    );
    this.name = "NotebookCellError";
  }
}

function truncate(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}

function errorOutputFromValue(e: unknown): ErrorOutput {
  if (e instanceof Error || (typeof e === "object" && e !== null && "stack" in e && "message" in e)) {
    const err = e as Error;
    const stack = typeof err.stack === "string" ? err.stack : `${err.name}: ${err.message}`;
    const lines = stack.split("\n");
    // Drop the frames of the machinery below the notebook code (vm, tslab's executor, this runner).
    const cut = lines.findIndex((l) => /^\s+at /.test(l) && /node:vm|[\\/]tslab[\\/]dist[\\/]executor\.js|[\\/]course[\\/]runner\.[jt]s/.test(l));
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
      else if (chunk instanceof Uint8Array)
        text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString(
          typeof encoding === "string" && encoding !== "buffer" ? (encoding as BufferEncoding) : "utf8",
        );
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
      nb.metadata.language_info = new tslab.jupyter.JupyterHandlerImpl(executor, false).handleKernel().language_info as Notebook["metadata"]["language_info"];
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
