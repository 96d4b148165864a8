/**
 * Which TensorFlow.js backend runs the math, and why.
 *
 * Order when nothing is asked for: native TensorFlow (@tensorflow/tfjs-node-gpu, or @tensorflow/tfjs-node built by
 * `npm run setup:native`), then WebAssembly, then plain JavaScript. `DPO_BACKEND=tensorflow|webgpu|wasm|cpu` or the
 * `backend` option forces one. WebGPU (Dawn, npm `webgpu`) is tried only when asked for: loading Dawn prints native
 * warnings to stderr (e.g. "Couldn't load Vulkan" on a machine without a GPU driver) that no option silences, and a
 * user who did not ask for WebGPU should not see them.
 *
 * The wasm backend is emscripten-built: on load it installs process-wide `uncaughtException`/`unhandledRejection`
 * handlers that rethrow, so an error in the user's own script would print the whole minified module source and exit
 * with code 7. {@link removeEmscriptenHandlers} takes those handlers off again, so errors print as Node prints them.
 */
import * as tf from "@tensorflow/tfjs";
import * as fs from "fs";
import * as path from "path";
import { installKernelShortcuts } from "./util/kernel-shortcuts";
import { installWasmKernels } from "./util/wasm-kernels";

/** A TensorFlow.js backend dpo-ts can run on: native TensorFlow, WebGPU, WebAssembly or plain JavaScript. */
export type BackendName = "tensorflow" | "webgpu" | "wasm" | "cpu";

/** The backend {@link initBackend} settled on, and why. */
export interface BackendChoice {
  /** tf.getBackend() after the choice. */
  name: BackendName;
  /** Why this one: what was asked for and what was tried. */
  reason: string;
  /** True when the math runs on a GPU. */
  gpu: boolean;
  /** Where the backend came from (package and version). */
  detail: string;
}

/** How {@link initBackend} chooses: a forced backend, quiet output, WebGPU on request. */
export interface BackendOptions {
  /** Force a backend; default process.env.DPO_BACKEND, else the best that loads. */
  backend?: BackendName | string;
  /** Do not print the choice. */
  quiet?: boolean;
}

/** Every backend a user may ask for. */
const ORDER: BackendName[] = ["tensorflow", "webgpu", "wasm", "cpu"];
/** What is tried, in order, when nothing is asked for (WebGPU only on request: see the file comment). */
const AUTO_ORDER: BackendName[] = ["tensorflow", "wasm", "cpu"];
let current: BackendChoice | null = null;

/** True when the package's native addon was built (an unbuilt one registers kernels, then throws on load). */
function addonBuilt(pkg: string): boolean {
  try {
    const dir = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), "lib");
    return fs.readdirSync(dir).some((sub) => sub.startsWith("napi-v") && fs.existsSync(path.join(dir, sub, "tfjs_binding.node")));
  } catch {
    return false;
  }
}

/** What dpo-ts uses of @tensorflow/tfjs-node's own API (beyond the backend): SavedModel execution. */
export interface NativeModule {
  node: {
    loadSavedModel(
      path: string,
      tags: string[],
      signature: string,
    ): Promise<{
      predict(inputs: Record<string, unknown>): unknown;
      dispose(): void;
    }>;
  };
}

let nativeModule: NativeModule | null = null;

/** The loaded @tensorflow/tfjs-node(-gpu) module, when the native backend was loaded. */
export function loadedNativeModule(): NativeModule | null {
  return nativeModule;
}

/**
 * TF_XLA_FLAGS for DPO_XLA=1: XLA auto-clustering of graphs run in a session (compiled updates), CPU included. The
 * flags are read once, when libtensorflow loads, so they are set before the binding is required.
 *
 * Off by default, measured on the course model (2 cores): XLA puts 2,666 of a compiled update's 2,670 ops in one
 * cluster and an update runs ~1.4× faster, but compiling a cluster takes ~10 s per batch shape, so it only pays
 * after several hundred updates of each shape — far more than the course trains.
 */
const XLA_FLAGS = "--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit";

/** Sets TF_XLA_FLAGS when DPO_XLA=1 asks for XLA and the user has not set TF_XLA_FLAGS themselves. */
function applyXlaChoice(): void {
  const asked = (process.env.DPO_XLA ?? "").trim();
  if (asked === "" || asked === "0") return;
  if (asked !== "1") throw new Error(`DPO_XLA is "${asked}": use 1 (XLA auto-clustering of compiled updates) or 0`);
  process.env.TF_XLA_FLAGS ??= XLA_FLAGS;
}

/** Loads the native TensorFlow binding: the GPU build first, then the CPU build. */
function loadNative(): { detail: string; gpu: boolean } {
  applyXlaChoice();
  const errors: string[] = [];
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    if (!addonBuilt(pkg)) {
      errors.push(`${pkg}: not installed or not built`);
      continue;
    }
    try {
      // TensorFlow's C++ INFO lines (oneDNN banner, one per loaded graph) are noise here; warnings and errors stay.
      process.env.TF_CPP_MIN_LOG_LEVEL ??= "1";
      nativeModule = require(pkg) as NativeModule;
      const version = require(`${pkg}/package.json`).version as string;
      return { detail: `${pkg}@${version}`, gpu: pkg.endsWith("-gpu") };
    } catch (e) {
      errors.push(`${pkg}: ${firstLine(e)}`);
    }
  }
  throw new Error(errors.join("; "));
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0];
}

/** Installs navigator.gpu from Dawn (npm `webgpu`) and checks that a hardware adapter exists. */
async function loadWebGPU(): Promise<{ detail: string }> {
  // navigator.gpu and the WebGPU globals are installed at run time; their types are not part of this build.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const g = globalThis as any;
  if (!g.navigator?.gpu) {
    const webgpu = require("webgpu");
    Object.assign(g, webgpu.globals);
    const gpu = webgpu.create([]);
    if (!g.navigator) g.navigator = {};
    Object.defineProperty(g.navigator, "gpu", { value: gpu, configurable: true });
  }
  const adapter = await g.navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new Error("no WebGPU adapter (no GPU, or no Vulkan/Metal/D3D12 driver)");
  const info = adapter.info ?? {};
  if (adapter.isFallbackAdapter || /cpu|swiftshader|llvmpipe|lavapipe/i.test(`${info.adapterType ?? ""} ${info.description ?? ""} ${info.device ?? ""}`)) {
    throw new Error(`only a software adapter (${info.description || info.device || "fallback"}): slower than wasm`);
  }
  // The WebGPU backend reads navigator.gpu when it is imported, so import it only now.
  require("@tensorflow/tfjs-backend-webgpu");
  return { detail: `WebGPU on ${info.vendor ?? "?"} ${info.description || info.device || info.architecture || ""}`.trim() };
}

async function tryBackend(name: BackendName): Promise<{ detail: string; gpu: boolean }> {
  switch (name) {
    case "tensorflow": {
      const native = loadNative();
      if (!(await tf.setBackend("tensorflow"))) throw new Error("tf.setBackend('tensorflow') failed");
      return native;
    }
    case "webgpu": {
      const { detail } = await loadWebGPU();
      if (!(await tf.setBackend("webgpu"))) throw new Error("tf.setBackend('webgpu') failed");
      return { detail, gpu: true };
    }
    case "wasm": {
      const before = processHandlers();
      require("@tensorflow/tfjs-backend-wasm");
      try {
        if (!(await tf.setBackend("wasm"))) throw new Error("tf.setBackend('wasm') failed");
      } finally {
        removeEmscriptenHandlers(before);
      }
      return { detail: `@tensorflow/tfjs-backend-wasm@${require("@tensorflow/tfjs-backend-wasm/package.json").version} (SIMD, 1 thread in Node)`, gpu: false };
    }
    case "cpu":
      if (!(await tf.setBackend("cpu"))) throw new Error("tf.setBackend('cpu') failed");
      return { detail: `@tensorflow/tfjs-backend-cpu@${tf.version_core} (plain JavaScript)`, gpu: false };
  }
}

type Listener = (...args: unknown[]) => void;
const EMSCRIPTEN_EVENTS = ["uncaughtException", "unhandledRejection"] as const;

/** The process's current listeners for the events emscripten hooks. */
function processHandlers(): Map<string, Listener[]> {
  return new Map(EMSCRIPTEN_EVENTS.map((event) => [event, process.listeners(event as "uncaughtException") as Listener[]]));
}

/**
 * Removes the `uncaughtException` / `unhandledRejection` listeners added since `before` (emscripten's, installed when
 * the wasm module instantiates: they rethrow from inside the module, so Node prints the module's minified source
 * around the user's error and exits with 7). Node's own printing and exit code 1 come back.
 */
function removeEmscriptenHandlers(before: Map<string, Listener[]>): void {
  for (const event of EMSCRIPTEN_EVENTS) {
    const had = new Set(before.get(event));
    for (const listener of process.listeners(event as "uncaughtException") as Listener[]) {
      if (!had.has(listener)) process.removeListener(event as "uncaughtException", listener);
    }
  }
}

/**
 * Chooses and initialises the backend. Idempotent: a second call returns the first choice unless another backend
 * is asked for explicitly.
 */
export async function initBackend(opts: BackendOptions = {}): Promise<BackendChoice> {
  const asked = (opts.backend ?? process.env.DPO_BACKEND ?? "").trim().toLowerCase();
  if (current && (!asked || asked === current.name)) return current;
  if (asked && !ORDER.includes(asked as BackendName)) {
    throw new Error(`unknown backend "${asked}" (DPO_BACKEND or --backend): use one of ${ORDER.join(", ")}`);
  }
  let choice: BackendChoice;
  if (asked) {
    try {
      const { detail, gpu } = await tryBackend(asked as BackendName);
      choice = { name: asked as BackendName, reason: `asked for ${asked}${opts.backend ? "" : " (DPO_BACKEND)"}`, gpu, detail };
    } catch (e) {
      const hint = asked === "tensorflow" ? " (install @tensorflow/tfjs-node-gpu, or run `npm run setup:native`)" : "";
      throw new Error(`backend "${asked}" was asked for but does not load: ${firstLine(e)}${hint}`);
    }
  } else {
    const skipped: string[] = [];
    let found: BackendChoice | null = null;
    for (const name of AUTO_ORDER) {
      try {
        const { detail, gpu } = await tryBackend(name);
        found = { name, reason: skipped.length ? `best that loads; skipped ${skipped.join("; ")}` : "best available", gpu, detail };
        break;
      } catch (e) {
        skipped.push(`${name} (${firstLine(e)})`);
      }
    }
    if (!found) throw new Error(`no TensorFlow.js backend loads: ${skipped.join("; ")}`);
    choice = found;
  }
  await tf.ready();
  // Same-dtype Casts and same-shape Reshapes are real ops (native) or copies (wasm) in tfjs 4.22: make them free.
  if (choice.name === "tensorflow" || choice.name === "wasm") installKernelShortcuts(choice.name);
  // The wasm backend's batched matMul, slices, Tile and Identity are slow where they need not be (util/wasm-kernels.ts).
  if (choice.name === "wasm") installWasmKernels();
  current = choice;
  if (!opts.quiet) console.log(describeBackend(choice));
  return choice;
}

/** One line a learner can read: which backend, on what, and why. */
export function describeBackend(choice: BackendChoice): string {
  return `dpo-ts backend: ${choice.name} — ${choice.detail}; ${choice.gpu ? "GPU" : "no GPU"}; ${choice.reason}`;
}

/** The current choice, or null before initBackend. */
export function currentBackend(): BackendChoice | null {
  return current;
}
