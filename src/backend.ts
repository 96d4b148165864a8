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
import * as os from "os";
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
  /** Native backend only: the thread pools TensorFlow was started with, and why. */
  threads?: NativeThreads;
}

/** How many threads TensorFlow (native backend) gives one op, and how many ops of a graph it runs at once. */
export interface NativeThreads {
  /** Threads one op may split its work over (TensorFlow's intra-op pool, TF_NUM_INTRAOP_THREADS). */
  intraOp: number;
  /** Ops of a graph that run at the same time (the inter-op pool, TF_NUM_INTEROP_THREADS). */
  interOp: number;
  /** Why these numbers. */
  reason: string;
}

/** How {@link initBackend} chooses: a forced backend, quiet output, WebGPU on request. */
export interface BackendOptions {
  /** Force a backend; default process.env.DPO_BACKEND, else the best that loads. */
  backend?: BackendName | string;
  /** Do not print the choice. */
  quiet?: boolean;
  /**
   * The model folder (Hugging Face format) about to be trained or run. On the native backend its width sizes
   * TensorFlow's thread pools ({@link nativeThreadsFor}); TensorFlow reads them once, when it starts, so they are
   * chosen here, before any model is loaded. Default: none (TensorFlow's own defaults).
   */
  model?: string;
  /** CPU cores TensorFlow may keep busy (native backend). Default: every core of the machine. */
  threads?: number;
}

/**
 * Widest hidden size given one thread per op (native backend). Measured on 2 cores, idle, interleaved (`npm run bench`,
 * TF_NUM_INTRAOP_THREADS 1 vs 2 with 2 ops at once): the 64-wide course model's compiled update 1.4× faster (21 → 15
 * ms) and its eager update 1.4× (71 → 52 ms); at 256 wide (the 4x256 config) the compiled update 1.05× faster but the
 * eager one 1.3× slower (its matmuls need both cores, eager ops run one at a time), so 256 keeps TensorFlow's defaults;
 * 128 is between the two and was not measured. Below this width an op's work is smaller than the cost of handing half
 * of it to another thread, and the graph's independent ops (policy and reference, a matmul's two gradients) keep the
 * cores busy instead.
 */
export const ONE_THREAD_PER_OP_MAX_WIDTH = 128;

/**
 * The hidden size in a model folder's config.json (hidden_size, n_embd or d_model), or null when it has none. Read
 * here, not through the model's config parser: the backend imports nothing from src/model (ARCHITECTURE.md), and
 * only this one number is needed before TensorFlow starts.
 */
function modelWidth(dir: string): number | null {
  try {
    const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")) as Record<string, unknown>;
    const width = config.hidden_size ?? config.n_embd ?? config.d_model;
    return typeof width === "number" && width > 0 ? width : null;
  } catch {
    return null;
  }
}

/**
 * TensorFlow's thread pools for a model `width` wide on `cores` cores: small models (≤
 * {@link ONE_THREAD_PER_OP_MAX_WIDTH}) get one thread per op and `cores` ops at once; wider or unknown ones `cores`
 * threads per op and `cores` ops at once (TensorFlow's defaults when cores = every core).
 */
export function nativeThreadsFor(width: number | null, cores: number = os.cpus().length): NativeThreads {
  if (width !== null && width <= ONE_THREAD_PER_OP_MAX_WIDTH) {
    return { intraOp: 1, interOp: cores, reason: `a ${width}-wide model: its ops are too small to split` };
  }
  return { intraOp: cores, interOp: cores, reason: width === null ? "model width unknown" : `a ${width}-wide model` };
}

/**
 * Sets TensorFlow's thread variables before the native library starts, unless the user set either of them (then
 * those are reported as they are).
 */
function applyThreadChoice(opts: BackendOptions): NativeThreads {
  const intra = process.env.TF_NUM_INTRAOP_THREADS;
  const inter = process.env.TF_NUM_INTEROP_THREADS;
  const cores = opts.threads ?? os.cpus().length;
  if (intra || inter) {
    const fallback = nativeThreadsFor(null, os.cpus().length);
    return {
      intraOp: Number(intra) || fallback.intraOp,
      interOp: Number(inter) || fallback.interOp,
      reason: `set in the environment (${[intra && `TF_NUM_INTRAOP_THREADS=${intra}`, inter && `TF_NUM_INTEROP_THREADS=${inter}`].filter(Boolean).join(", ")})`,
    };
  }
  const threads = nativeThreadsFor(opts.model ? modelWidth(opts.model) : null, cores);
  process.env.TF_NUM_INTRAOP_THREADS = String(threads.intraOp);
  process.env.TF_NUM_INTEROP_THREADS = String(threads.interOp);
  return threads;
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
function loadNative(opts: BackendOptions): { detail: string; gpu: boolean; threads: NativeThreads } {
  applyXlaChoice();
  const threads = applyThreadChoice(opts);
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
      return { detail: `${pkg}@${version}`, gpu: pkg.endsWith("-gpu"), threads };
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

async function tryBackend(name: BackendName, opts: BackendOptions): Promise<{ detail: string; gpu: boolean; threads?: NativeThreads }> {
  switch (name) {
    case "tensorflow": {
      const native = loadNative(opts);
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
      const { detail, gpu, threads } = await tryBackend(asked as BackendName, opts);
      choice = { name: asked as BackendName, reason: `asked for ${asked}${opts.backend ? "" : " (DPO_BACKEND)"}`, gpu, detail, threads };
    } catch (e) {
      const hint = asked === "tensorflow" ? " (install @tensorflow/tfjs-node-gpu, or run `npm run setup:native`)" : "";
      throw new Error(`backend "${asked}" was asked for but does not load: ${firstLine(e)}${hint}`);
    }
  } else {
    const skipped: string[] = [];
    let found: BackendChoice | null = null;
    for (const name of AUTO_ORDER) {
      try {
        const { detail, gpu, threads } = await tryBackend(name, opts);
        found = { name, reason: skipped.length ? `best that loads; skipped ${skipped.join("; ")}` : "best available", gpu, detail, threads };
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
  const threads = choice.threads ? `; ${describeThreads(choice.threads)}` : "";
  return `dpo-ts backend: ${choice.name} — ${choice.detail}; ${choice.gpu ? "GPU" : "no GPU"}; ${choice.reason}${threads}`;
}

/** "TensorFlow threads: 1 per op, 2 ops at once (a 64-wide model: …)". */
export function describeThreads(threads: NativeThreads): string {
  return `TensorFlow threads: ${threads.intraOp} per op, ${threads.interOp} ops at once (${threads.reason})`;
}

/** The current choice, or null before initBackend. */
export function currentBackend(): BackendChoice | null {
  return current;
}
