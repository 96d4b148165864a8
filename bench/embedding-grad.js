#!/usr/bin/env node
/**
 * How to compute the embedding gradient (the gradient of table[ids] w.r.t. table), per backend:
 *   scatter     tf.scatterND(ids, dy, [V, D]) (what src/model/layers.ts uses)
 *   one-hot     oneHot(ids, V)ᵀ · dy (a matMul)
 *   gather      tf.gather's own gradient (UnsortedSegmentSum; no wasm kernel)
 * usage: node bench/embedding-grad.js [--backends wasm,cpu,tensorflow] [--vocab 512] [--dim 64] [--tokens 1600]
 */
const { spawnSync } = require("child_process");
const args = Object.fromEntries(
  process.argv
    .slice(2)
    .join(" ")
    .split("--")
    .filter(Boolean)
    .map((a) => {
      const [k, ...v] = a.trim().split(/\s+/);
      return [k, v.join(" ")];
    }),
);
const V = Number(args.vocab ?? 512),
  D = Number(args.dim ?? 64),
  N = Number(args.tokens ?? 1600);

if (args.worker) {
  const tf = require("@tensorflow/tfjs");
  const { initBackend } = require("../dist/backend");
  (async () => {
    await initBackend({ backend: args.worker, quiet: true });
    const ids = tf.randomUniform([N], 0, V, "int32");
    const dy = tf.randomNormal([N, D]);
    const table = tf.randomNormal([V, D]);
    const ways = {
      scatter: () => tf.scatterND(ids.expandDims(1), dy, [V, D]),
      "one-hot": () => tf.matMul(tf.oneHot(ids, V), dy, true, false),
      gather: () => tf.grad((t) => tf.gather(t, ids).mul(dy).sum())(table),
    };
    const out = {};
    for (const [name, f] of Object.entries(ways)) {
      try {
        await tf.tidy(f).data();
        const t0 = performance.now();
        for (let i = 0; i < 5; i++) await tf.tidy(f).data();
        out[name] = (performance.now() - t0) / 5;
      } catch (e) {
        out[name] = `fails: ${String(e.message).split("\n")[0].slice(0, 80)}`;
      }
    }
    console.log(JSON.stringify(out));
  })();
} else {
  console.log(`embedding gradient, V=${V}, D=${D}, N=${N} tokens (ms per call, mean of 5)`);
  for (const backend of (args.backends ?? "tensorflow,wasm,cpu").split(",")) {
    const run = spawnSync(process.execPath, [__filename, "--worker", backend, "--vocab", String(V), "--dim", String(D), "--tokens", String(N)], {
      encoding: "utf8",
    });
    const line = run.stdout.trim().split("\n").pop();
    console.log(`  ${backend.padEnd(10)} ${run.status === 0 ? line : "does not load"}`);
  }
}
