#!/usr/bin/env node
/**
 * Where a DPO update's time goes on one backend, course config (data/sft-model, 4 pairs a step, the first 64 pairs of
 * data/orca_dpo_pairs.jsonl): ops per update, µs per op, and the share of the time spent in matmuls.
 *
 * usage: npm run build && node bench/profile-step.js [tensorflow|wasm|cpu] [--compiled] [--cpu-time] [--json FILE]
 *
 * Eager: tf.profile around a 1-update and a 3-update train() (fresh trainers, after a warm-up one), and their
 * difference halved, so that one update is measured without the trainer's setup and final save. Reported: kernel
 * calls per update, wall µs per kernel call, the kernels that take the most time, and matmuls' share (BatchMatMul,
 * _FusedMatMul, MatMul) of the kernel time and of the wall time, with their fp32 FLOPs per update.
 * On the native backend a kernel's time includes its own dispatch (N-API, eager op creation).
 *
 * --cpu-time: also the process CPU time of 8 updates (after 4), split into each kernel's (by name and input shapes,
 * every kernel of the backend wrapped with process.cpuUsage) and the rest (tfjs's engine, the trainer): on a machine
 * other processes share, CPU time is what a single-threaded backend (wasm, cpu) spends, where wall time also counts
 * the time it waited for a core. On the native backend CPU time adds up its threads.
 *
 * --compiled (native backend): 48 updates (3 epochs) with compileStep; the last epoch runs graphs only. Reported: the
 * graphs' TensorFlow op counts, ms per update, µs per op, and the matmuls' share of a compiled update. A session call
 * cannot be profiled per op from tfjs, so that share is given as bounds: at least the matmul FLOPs at the machine's
 * matmul roof (measured here on a 3072² matmul), at most the eager matmul kernels' time (dispatch included).
 */
const tf = require("@tensorflow/tfjs");
const path = require("path");
const os = require("os");
const fs = require("fs");
const { initBackend } = require("../dist/backend");
const { loadModelFromDir } = require("../dist/model/io");
const { Tokenizer } = require("../dist/tokenizer/tokenizer");
const { loadPreferenceDataset } = require("../dist/data/dataset");
const { DPOTrainer } = require("../dist/train/trainer");
const { matmulRoofGflops } = require("../dist/cli/bench-worker");

const MATMULS = new Set(["BatchMatMul", "_FusedMatMul", "MatMul"]);
const root = path.join(__dirname, "..");
const argv = process.argv.slice(2);
const backend = argv.find((a) => !a.startsWith("--") && argv[argv.indexOf(a) - 1] !== "--json") || "wasm";
const jsonFile = argv.includes("--json") ? argv[argv.indexOf("--json") + 1] : null;

/** fp32 FLOPs of one matmul kernel call: 2·M·N·K per batch element, K read off the first input. */
function matmulFlops(k) {
  const out = k.outputShapes[0];
  const a = k.inputShapes[0];
  if (!out || !a || out.length < 2 || a.length < 2) return 0;
  const m = out[out.length - 2];
  const kDim = (a[a.length - 1] * a[a.length - 2]) / m; // a is [M, K] or [K, M]
  return 2 * out.reduce((x, y) => x * y, 1) * kDim;
}

/** Kernel calls, kernel ms, matmul ms and matmul FLOPs of one tf.profile. */
function tally(prof) {
  // tf.profile also lists custom-gradient and op scopes (fusedMatMul__op, "unnamed scope") around the kernels they
  // run: only registered kernels count, or their time would be counted twice.
  const kernels = prof.kernels.filter((k) => tf.getKernel(k.name, tf.getBackend()) !== undefined);
  const t = { calls: kernels.length, ms: 0, matmulMs: 0, matmulFlops: 0, byName: {} };
  for (const k of kernels) {
    const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
    t.ms += ms;
    (t.byName[k.name] = t.byName[k.name] || { ms: 0, calls: 0 }).ms += ms;
    t.byName[k.name].calls += 1;
    if (MATMULS.has(k.name)) {
      t.matmulMs += ms;
      t.matmulFlops += matmulFlops(k);
    }
  }
  return t;
}

function trainerFor(model, tokenizer, rows, args, callbacks) {
  return new DPOTrainer({
    model,
    tokenizer,
    trainDataset: rows,
    callbacks,
    args: {
      outputDir: fs.mkdtempSync(path.join(os.tmpdir(), "prof-")),
      perDeviceTrainBatchSize: 4,
      reportTo: "none",
      numSampleGenerations: 0,
      writeReport: false,
      learningRate: 1e-6,
      overwriteOutputDir: true,
      ...args,
    },
  });
}

/** CPU ms of the process since it started. */
function cpuMs() {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/**
 * CPU time of updates 5–12 of a fresh trainer, in kernels (each of the backend's kernels wrapped) and outside them.
 * Prints and returns the per-update figures and the kernels (name + input shapes) that take the most.
 */
async function cpuTimeProfile(model, tokenizer, rows) {
  const name = tf.getBackend();
  const byKernel = new Map();
  let measuring = false;
  let depth = 0; // a kernel that runs another (wasm's BatchMatMul runs Reshape) is counted once, at the outside
  const originals = tf.getKernelsForBackend(name);
  for (const k of originals) {
    tf.unregisterKernel(k.kernelName, name);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        if (!measuring || depth) return k.kernelFunc(args);
        depth++;
        const t0 = cpuMs();
        try {
          return k.kernelFunc(args);
        } finally {
          depth--;
          const key = `${k.kernelName} ${JSON.stringify(Object.values(args.inputs).map((t) => t.shape))}`;
          const entry = byKernel.get(key) ?? { ms: 0, calls: 0 };
          entry.ms += cpuMs() - t0;
          entry.calls += 1;
          byKernel.set(key, entry);
        }
      },
    });
  }
  const [first, last] = [4, 12];
  let steps = 0;
  let start = 0;
  let end = 0;
  const trainer = trainerFor(model, tokenizer, rows, { maxSteps: last, loggingSteps: last }, [
    {
      onStepEnd: () => {
        steps++;
        if (steps === first) [measuring, start] = [true, cpuMs()];
        if (steps === last) [measuring, end] = [false, cpuMs()];
      },
    },
  ]);
  await trainer.train();
  trainer.dispose();
  for (const k of originals) {
    tf.unregisterKernel(k.kernelName, name);
    tf.registerKernel(k);
  }
  const n = last - first;
  const kernels = [...byKernel.entries()].map(([key, v]) => ({ kernel: key, ms: v.ms / n, calls: v.calls / n })).sort((a, b) => b.ms - a.ms);
  const kernelMs = kernels.reduce((a, k) => a + k.ms, 0);
  const calls = kernels.reduce((a, k) => a + k.calls, 0);
  const out = { cpu_ms: (end - start) / n, kernel_ms: kernelMs, kernel_calls: calls };
  out.outside_ms = out.cpu_ms - kernelMs;
  out.outside_us_per_call = (out.outside_ms * 1000) / calls;
  out.top_kernels = kernels.slice(0, 12);
  console.log(`${name} CPU time per update (updates ${first + 1}–${last}):`);
  console.log(
    `  ${out.cpu_ms.toFixed(1)} ms, ${calls.toFixed(0)} kernel calls: ${kernelMs.toFixed(1)} ms inside kernels, ` +
      `${out.outside_ms.toFixed(1)} ms outside (${out.outside_us_per_call.toFixed(1)} µs per call)`,
  );
  for (const k of out.top_kernels) console.log(`  ${k.ms.toFixed(2).padStart(7)} ms ${k.calls.toFixed(1).padStart(6)}×  ${k.kernel}`);
  return out;
}

(async () => {
  // TensorFlow's thread pools sized for the course model, as the notebooks and the CLI size them.
  const choice = await initBackend({ backend, quiet: true, model: path.join(root, "data/sft-model") });
  if (choice.threads) console.log(`TensorFlow threads: ${choice.threads.intraOp} per op, ${choice.threads.interOp} ops at once (${choice.threads.reason})`);
  const tokenizer = await Tokenizer.fromDir(path.join(root, "data/sft-model"));
  const rows = (await loadPreferenceDataset(path.join(root, "data/orca_dpo_pairs.jsonl"), tokenizer)).slice(0, 64);
  const model = loadModelFromDir(path.join(root, "data/sft-model"));
  const profiled = async (steps) => {
    const trainer = trainerFor(model, tokenizer, rows, { maxSteps: steps, loggingSteps: steps });
    const t0 = performance.now();
    const prof = await tf.profile(() => trainer.train());
    const wall = performance.now() - t0;
    trainer.dispose();
    return { wall, ...tally(prof) };
  };
  const warm = trainerFor(model, tokenizer, rows, { maxSteps: 1 });
  await warm.train();
  warm.dispose();
  const one = await profiled(1);
  const three = await profiled(3);
  const per = (k) => (three[k] - one[k]) / 2;
  const eager = { ops: per("calls"), wall_ms: per("wall"), kernel_ms: per("ms"), matmul_ms: per("matmulMs"), matmul_gflop: per("matmulFlops") / 1e9 };
  eager.us_per_op = (eager.wall_ms * 1000) / eager.ops;
  eager.matmul_share_of_kernels = eager.matmul_ms / eager.kernel_ms;
  eager.matmul_share_of_wall = eager.matmul_ms / eager.wall_ms;
  const top = Object.keys(three.byName)
    .map((name) => ({
      name,
      ms: (three.byName[name].ms - (one.byName[name]?.ms ?? 0)) / 2,
      calls: (three.byName[name].calls - (one.byName[name]?.calls ?? 0)) / 2,
    }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 12);
  const pct = (x) => `${(100 * x).toFixed(0)}%`;
  console.log(`${tf.getBackend()} eager, one update (difference of 3-update and 1-update runs, halved):`);
  console.log(
    `  ${eager.ops.toFixed(0)} kernel calls, ${eager.wall_ms.toFixed(1)} ms wall, ${eager.us_per_op.toFixed(1)} µs per op; ` +
      `${eager.kernel_ms.toFixed(1)} ms inside kernels, matmuls ${eager.matmul_ms.toFixed(1)} ms = ${pct(eager.matmul_share_of_kernels)} of kernel time, ${pct(eager.matmul_share_of_wall)} of wall ` +
      `(${eager.matmul_gflop.toFixed(3)} GFLOP)`,
  );
  console.log("  " + top.map((k) => `${k.name} ${k.ms.toFixed(1)}ms/${k.calls}`).join("  "));
  const result = { backend: tf.getBackend(), eager, top_kernels: top };

  if (argv.includes("--cpu-time")) result.cpu_time = await cpuTimeProfile(model, tokenizer, rows);

  if (argv.includes("--compiled")) {
    if (tf.getBackend() !== "tensorflow") throw new Error("--compiled needs the native backend: node bench/profile-step.js tensorflow --compiled");
    // 48 updates (3 epochs) with compileStep: the last epoch runs graphs only (every batch shape seen before).
    const marks = [];
    const compiled = trainerFor(model, tokenizer, rows, { maxSteps: 48, loggingSteps: 48, compileStep: true }, [
      { onStepEnd: () => void marks.push(performance.now()) },
    ]);
    await compiled.train();
    const stats = compiled.compileStats();
    compiled.dispose();
    const msPerUpdate = (marks[47] - marks[31]) / 16;
    // an update runs one gradient graph (course: one micro-batch) and AdamW's graphs
    const ops = stats.opsPerGraph.reduce((a, b) => a + b, 0) / stats.opsPerGraph.length + stats.optimizerOps;
    const roof = matmulRoofGflops(3072);
    const atRoofMs = (eager.matmul_gflop / roof) * 1000;
    result.compiled = {
      graphs: stats.graphs,
      ops_per_graph: stats.opsPerGraph,
      optimizer_ops: stats.optimizerOps,
      ops_per_update: ops,
      compile_s: stats.compileSeconds,
      ms_per_update: msPerUpdate,
      us_per_op: (msPerUpdate * 1000) / ops,
      matmul_roof_gflops: roof,
      matmul_share_min: Math.min(1, atRoofMs / msPerUpdate),
      matmul_share_max: Math.min(1, eager.matmul_ms / msPerUpdate),
    };
    const c = result.compiled;
    console.log(
      `tensorflow compileStep: ${c.graphs} graphs: gradients ${c.ops_per_graph.join("/")}, AdamW ${c.optimizer_ops} TensorFlow ops (${c.compile_s.toFixed(1)} s tracing + loading)`,
    );
    console.log(
      `  last epoch ${c.ms_per_update.toFixed(1)} ms/update, ${c.ops_per_update.toFixed(0)} ops per update, ${c.us_per_op.toFixed(1)} µs per op (eager: ${eager.us_per_op.toFixed(1)}); ` +
        `matmuls ${pct(c.matmul_share_min)}–${pct(c.matmul_share_max)} of an update (${eager.matmul_gflop.toFixed(3)} GFLOP at the ${roof.toFixed(0)} GFLOP/s roof … the eager matmul kernels' time)`,
    );
  }
  model.dispose();
  if (jsonFile) fs.writeFileSync(jsonFile, JSON.stringify(result, null, 2) + "\n");
})().catch((e) => {
  console.error(`profile-step: ${e.message}`);
  process.exit(1);
});
