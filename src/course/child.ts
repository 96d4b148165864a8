/**
 * Entry of the child process started by `runNotebookInChild` (compiled to dist/course/child.js).
 * Receives `{ type: "run", notebookPath, options }` over IPC, runs the notebook with `runNotebook`
 * (checkpointing the executed notebook after every cell) and reports progress and the outcome over IPC.
 */
import type { ChildMessage } from "./run-in-child";
import { NotebookCellError, RunNotebookOptions, runNotebook } from "./runner";

function send(m: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(m, undefined, {}, () => resolve());
  });
}

if (!process.send) {
  process.stderr.write("dist/course/child.js is started by runNotebookInChild (it needs an IPC channel)\n");
  process.exit(2);
}

process.once("message", async (msg: { type: string; notebookPath: string; options: RunNotebookOptions }) => {
  if (msg.type !== "run") return;
  let code = 0;
  try {
    const res = await runNotebook(msg.notebookPath, {
      ...msg.options,
      checkpoint: true,
      onCellStart: (event) => void send({ type: "cell-start", event }),
      onCell: (event) => void send({ type: "cell", event }),
    });
    await send({ type: "done", setupMs: res.setupMs, durationMs: res.durationMs, cells: res.cells });
  } catch (e) {
    code = 1;
    if (e instanceof NotebookCellError) {
      await send({
        type: "failed",
        message: e.message,
        cell: { index: e.cellIndex, executionCount: e.executionCount, ename: e.ename, evalue: e.evalue, traceback: e.traceback },
      });
    } else {
      await send({ type: "failed", message: e instanceof Error ? e.message : String(e) });
    }
  }
  // Notebook code may leave timers, servers or tfjs threads behind; the run is over either way.
  process.exit(code);
});
