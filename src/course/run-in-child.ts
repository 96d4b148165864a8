/**
 * Runs a notebook in a child `node` process (dist/course/child.js), so a crash, an out-of-memory or a synchronous
 * hang in notebook code cannot take down the caller: progress comes back over IPC, the executed notebook is
 * checkpointed after every cell, and a cell past its time limit gets the child killed.
 */
import * as fs from "fs";
import * as path from "path";
import { KERNEL_NODE_OPTIONS } from "./kernel";
import type { CellEvent, CellStartEvent, CellTiming, RunNotebookOptions } from "./runner";

/** Options of {@link runNotebookInChild}: those of runNotebook, plus the child's Node options, environment and time limit. */
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

/** What a notebook run in a child process gave: whether every cell ran, the executed notebook, timings and the child's exit. */
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

/** The child runs with the Jupyter kernel's Node options, so a notebook behaves the same in both. */
export const DEFAULT_CHILD_NODE_OPTIONS = KERNEL_NODE_OPTIONS;

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
  const outPath = path.resolve(opts.outPath ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dpo-ts-nb-")), path.basename(notebookPath)));
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
  const message =
    `${notebookPath}: notebook child process exited with ${signal ? `signal ${signal}` : `code ${exitCode}`}${where}` + (log ? `\n${log.slice(-4000)}` : "");
  return { ...base, ok: false, error: { kind: "crash", message, cellIndex: r?.index, executionCount: r?.executionCount } };
}
