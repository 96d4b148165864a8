/**
 * TensorFlow's thread pools on the native backend, sized for the model about to run: a small model gets one thread
 * per op and as many ops at once as there are cores (its ops are too small to split; the graph's independent ops keep
 * the cores busy), a wide or unknown one TensorFlow's defaults; a user's TF_NUM_* variables win. The rule is a pure
 * function; the native case runs the built library in a child process (TensorFlow reads its pools once, at start),
 * skipped with a message when the native backend is not built.
 */
import { describe, it, expect } from "vitest";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { nativeThreadsFor, ONE_THREAD_PER_OP_MAX_WIDTH } from "../src/backend";
import { NEEDS, skipUnless } from "./helpers/skip";

const ROOT = path.join(__dirname, "..");
const LIB = path.join(ROOT, "dist/index.js");
const COURSE_MODEL = path.join(ROOT, "data/sft-model");

describe("nativeThreadsFor", () => {
  it("gives a small model one thread per op and every core to ops at once", () => {
    expect(nativeThreadsFor(64, 2)).toMatchObject({ intraOp: 1, interOp: 2 });
    expect(nativeThreadsFor(ONE_THREAD_PER_OP_MAX_WIDTH, 8)).toMatchObject({ intraOp: 1, interOp: 8 });
    expect(nativeThreadsFor(64, 2).reason).toContain("64-wide");
  });

  it("gives a wide model, or one of unknown width, every core inside each op", () => {
    expect(nativeThreadsFor(256, 2)).toMatchObject({ intraOp: 2, interOp: 2 });
    expect(nativeThreadsFor(768, 2)).toMatchObject({ intraOp: 2, interOp: 2 });
    expect(nativeThreadsFor(ONE_THREAD_PER_OP_MAX_WIDTH + 1, 4)).toMatchObject({ intraOp: 4, interOp: 4 });
    expect(nativeThreadsFor(null, 2)).toMatchObject({ intraOp: 2, interOp: 2, reason: "model width unknown" });
  });
});

/** True when @tensorflow/tfjs-node's addon was built (`npm run setup:native`). */
function nativeBuilt(): boolean {
  try {
    const lib = path.join(path.dirname(require.resolve("@tensorflow/tfjs-node/package.json")), "lib");
    return fs.readdirSync(lib).some((d) => fs.existsSync(path.join(lib, d, "tfjs_binding.node")));
  } catch {
    return false;
  }
}

/** initBackend on the native backend in a fresh process: its choice's threads, the variables TensorFlow read, the printed line. */
function nativeChoice(options: object, env: Record<string, string> = {}) {
  const script =
    `const lib = require(${JSON.stringify(LIB)});` +
    `lib.initBackend(Object.assign({ backend: "tensorflow", quiet: true }, ${JSON.stringify(options)})).then((c) => console.log(JSON.stringify({` +
    ` threads: c.threads, intra: process.env.TF_NUM_INTRAOP_THREADS, inter: process.env.TF_NUM_INTEROP_THREADS, line: lib.describeBackend(c) })))`;
  const clean = { ...process.env, TF_CPP_MIN_LOG_LEVEL: "2" } as Record<string, string | undefined>;
  delete clean.TF_NUM_INTRAOP_THREADS;
  delete clean.TF_NUM_INTEROP_THREADS;
  const run = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", env: { ...clean, ...env }, timeout: 60_000 });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim().split("\n").pop()!);
}

describe.skipIf(skipUnless(nativeBuilt(), "TensorFlow thread pools chosen by initBackend", NEEDS.native))("initBackend on the native backend", () => {
  it("sizes the pools for the course model before TensorFlow starts, and says so", () => {
    const out = nativeChoice({ model: COURSE_MODEL, threads: 2 });
    expect(out.threads).toMatchObject({ intraOp: 1, interOp: 2 });
    expect([out.intra, out.inter]).toEqual(["1", "2"]);
    expect(out.line).toContain("TensorFlow threads: 1 per op, 2 ops at once (a 64-wide model");
  });

  it("keeps TF_NUM_INTRAOP_THREADS when the user set it", () => {
    const out = nativeChoice({ model: COURSE_MODEL, threads: 2 }, { TF_NUM_INTRAOP_THREADS: "2" });
    expect(out.threads.intraOp).toBe(2);
    expect(out.threads.reason).toContain("TF_NUM_INTRAOP_THREADS=2");
    expect(out.inter).toBeUndefined();
  });

  it("leaves TensorFlow's defaults for a model it cannot size", () => {
    const out = nativeChoice({ model: path.join(ROOT, "no-such-model"), threads: 2 });
    expect(out.threads).toMatchObject({ intraOp: 2, interOp: 2, reason: "model width unknown" });
  });
});
