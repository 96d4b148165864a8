/**
 * tslab's internals that dpo-ts drives: the TypeScript converter and executor (the headless runner executes cells
 * with them, exactly as the Jupyter kernel does) and the `jupyter` module whose `lastWriteDisplayData` is the
 * function that publishes `display_data` (src/course/display.ts calls it; the runner sets it while cells run).
 *
 * Everything is loaded from the tslab package this project depends on, so a notebook's `require("tslab")` (which
 * tslab's executor hooks to its own package), the runner and the display helpers share one `jupyter` module instance.
 */
import * as path from "path";
import { createRequire } from "module";
import type * as TS from "typescript";
import type { MimeBundle } from "./notebook";

/** What tslab's kernel publishes as display_data / update_display_data. */
export interface TslabDisplayData {
  data: MimeBundle;
  metadata?: Record<string, unknown>;
  transient?: { display_id?: string };
}
/** The function in tslab's jupyter module that publishes display data (null outside a kernel or a run). */
export type WriteDisplayData = (data: TslabDisplayData, update: boolean) => void;

/** tslab's TypeScript-to-JavaScript converter (an internal of tslab, typed here for the runner). */
export interface TslabConverter {
  close(): void;
}
/** tslab's cell executor: runs one cell's source in the kernel's context (an internal of tslab). */
export interface TslabExecutor {
  execute(src: string): Promise<boolean>;
  interrupt(): void;
  close(): void;
}
/** tslab's `dist/jupyter.js`, as far as dpo-ts uses it. */
export interface TslabJupyter {
  lastWriteDisplayData: WriteDisplayData | null;
  JupyterHandlerImpl: new (
    executor: TslabExecutor,
    isJs: boolean,
  ) => {
    handleKernel(): { language_info: Record<string, unknown> };
  };
}
/** The tslab modules the runner loads from tslab's installation folder. */
export interface TslabModules {
  dir: string;
  createConverter(opts: { isJS: boolean; isBrowser: boolean }): TslabConverter;
  createExecutor(
    rootDir: string,
    convs: { node: TslabConverter; browser: TslabConverter; close(): void },
    console: { log: (...args: unknown[]) => void; error: (...args: unknown[]) => void },
  ): TslabExecutor;
  jupyter: TslabJupyter;
  ts: typeof TS;
}

let tslabCache: TslabModules | null = null;

/** The tslab installation used by the runner and by the kernelspec (node_modules/tslab). */
export function tslabDir(): string {
  return path.dirname(require.resolve("tslab/package.json"));
}

function tslabRequire(): NodeJS.Require {
  return createRequire(path.join(tslabDir(), "package.json"));
}

/** tslab's jupyter module alone (light: no TypeScript compiler), or null when tslab is not installed. */
export function tslabJupyter(): TslabJupyter | null {
  if (tslabCache) return tslabCache.jupyter;
  try {
    return tslabRequire()("./dist/jupyter.js") as TslabJupyter;
  } catch {
    return null;
  }
}

/** tslab's converter, executor, jupyter module and bundled TypeScript (loaded once). */
export function loadTslab(): TslabModules {
  if (tslabCache) return tslabCache;
  const req = tslabRequire();
  const converter = req("./dist/converter.js");
  const executor = req("./dist/executor.js");
  const jupyter = req("./dist/jupyter.js");
  const ts = req("@tslab/typescript-for-tslab") as typeof TS;
  tslabCache = {
    dir: tslabDir(),
    createConverter: converter.createConverter,
    createExecutor: executor.createExecutor,
    jupyter,
    ts,
  };
  return tslabCache;
}
