/**
 * The fused ops of src/model/fused.ts (RMSNorm, SwiGLU, rotary embeddings with hand-written backward passes) against
 * the composites they replace, differentiated by tfjs: same values, same gradients (1e-5), on the test backend; the
 * same for layers.ts' matMul (explicit transposes on wasm) against tf.matMul. And
 * the wasm kernels of src/util/wasm-kernels.ts (batched matMul, slices, split, unstack, tile, gather, identity) against the
 * cpu backend's, when the test backend is wasm.
 */
import { describe, it, expect, beforeAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { fusedRmsNorm, fusedRotary, fusedSwiGlu } from "../src/model/fused";
import { matMul } from "../src/model/layers";
import { useBackendForTests } from "./helpers/backend";

let backend = "";
beforeAll(async () => {
  backend = await useBackendForTests();
});

/** Largest |a − b| over two tensors of the same shape. */
function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
}

/** Values and gradients (w.r.t. every input, for a random upstream gradient) of f and of reference agree. */
function expectSameOp(f: (...xs: tf.Tensor[]) => tf.Tensor, reference: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], tol = 1e-5): void {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const y = f(...inputs);
    const upstream = tf.randomNormal(y.shape, 0, 1, "float32", 7);
    expect(maxDiff(y, reference(...inputs))).toBeLessThan(tol);
    const grads = tf.grads((...xs: tf.Tensor[]) =>
      f(...xs)
        .mul(upstream)
        .sum(),
    )(inputs);
    const want = tf.grads((...xs: tf.Tensor[]) =>
      reference(...xs)
        .mul(upstream)
        .sum(),
    )(inputs);
    grads.forEach((g, i) => expect(maxDiff(g, want[i]), `gradient ${i}`).toBeLessThan(tol * Math.max(1, want[i].abs().max().dataSync()[0])));
  });
  expect(tf.memory().numTensors).toBe(before);
}

describe("fused ops", () => {
  it("RMSNorm: values and gradients of x and weight equal the composite's", () => {
    const x = tf.randomNormal([2, 5, 8], 0, 1, "float32", 1);
    const w = tf.randomNormal([8], 1, 0.1, "float32", 2);
    const composite = (a: tf.Tensor, b: tf.Tensor) => a.mul(tf.rsqrt(a.square().mean(-1, true).add(1e-5))).mul(b);
    expectSameOp((a, b) => fusedRmsNorm(a, b as tf.Tensor1D, 1e-5), composite, [x, w]);
    tf.dispose([x, w]);
  });

  it("SwiGLU: values and gradients of gate and up equal silu(gate)·up's", () => {
    const gate = tf.randomNormal([3, 4, 6], 0, 2, "float32", 3);
    const up = tf.randomNormal([3, 4, 6], 0, 1, "float32", 4);
    expectSameOp(fusedSwiGlu, (g, u) => g.mul(tf.sigmoid(g)).mul(u), [gate, up]);
    tf.dispose([gate, up]);
  });

  it("rotary embedding: values and gradient equal x·cos + rotate_half(x)·sin (slices and concat)", () => {
    const x = tf.randomNormal([2, 3, 5, 8], 0, 1, "float32", 5) as tf.Tensor4D;
    const angles = tf.randomUniform([1, 1, 5, 8], 0, 6, "float32", 6);
    const [cos, sin] = [tf.cos(angles), tf.sin(angles)];
    const composite = (t: tf.Tensor) => {
      const x1 = t.slice([0, 0, 0, 0], [2, 3, 5, 4]);
      const x2 = t.slice([0, 0, 0, 4], [2, 3, 5, 4]);
      return t.mul(cos).add(tf.concat([x2.neg(), x1], 3).mul(sin));
    };
    // rotate_half as a ±1/0 matrix is exact: the forward values are the same bits.
    tf.tidy(() => {
      expect(maxDiff(fusedRotary(x, cos, sin), composite(x))).toBe(0);
    });
    expectSameOp((t) => fusedRotary(t as tf.Tensor4D, cos, sin), composite, [x]);
    tf.dispose([x, angles, cos, sin]);
  });
});

describe("matMul with explicit transposes (wasm)", () => {
  it("values and gradients equal tf.matMul's for every transpose combination and operand shape", () => {
    // Shapes where the backward pass transposes the operand, and ones where it transposes the other side and the product.
    for (const [m, k, n] of [
      [30, 4, 7],
      [5, 40, 3],
      [6, 3, 50],
    ]) {
      for (const [transposeA, transposeB] of [
        [false, false],
        [false, true],
        [true, false],
        [true, true],
      ]) {
        const a = tf.randomNormal(transposeA ? [2, k, m] : [2, m, k], 0, 1, "float32", 8);
        const b = tf.randomNormal(transposeB ? [2, n, k] : [2, k, n], 0, 1, "float32", 9);
        expectSameOp(
          (x, y) => matMul(x, y, transposeA, transposeB),
          (x, y) => tf.matMul(x, y, transposeA, transposeB),
          [a, b],
        );
        tf.dispose([a, b]);
      }
    }
  });
});

describe("wasm kernels", () => {
  /** Runs f on the test backend and on cpu with the same inputs; the outputs must agree. */
  async function expectLikeCpu(name: string, shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[], tol = 0): Promise<void> {
    const run = () =>
      tf.tidy(() => {
        const xs = shapes.map((s, i) => tf.randomNormal(s, 0, 1, "float32", 10 + i));
        const ys = [f(...xs)].flat();
        return ys.map((y) => ({ shape: y.shape, values: Array.from(y.dataSync()) }));
      });
    const got = run();
    await tf.setBackend("cpu");
    const want = run();
    await tf.setBackend(backend);
    expect(got.length, name).toBe(want.length);
    got.forEach((g, i) => {
      expect(g.shape, name).toEqual(want[i].shape);
      const diff = Math.max(0, ...g.values.map((v, j) => Math.abs(v - want[i].values[j])));
      expect(diff, name).toBeLessThanOrEqual(tol);
    });
  }

  it("batched matMul, slices, split, unstack, tile, gather and identity equal the cpu backend's", async () => {
    if (backend !== "wasm") return; // the kernels are installed on wasm only
    // [name, shapes of a and b, transposeA and transposeB, tolerance]
    const matMuls: [string, number[][], boolean, number][] = [
      [
        "batched matMul",
        [
          [4, 2, 9, 16],
          [4, 2, 16, 7],
        ],
        false,
        1e-5,
      ],
      [
        "matMul with one shared weight",
        [
          [3, 5, 7],
          [1, 7, 4],
        ],
        false,
        1e-5,
      ],
      [
        "matMul of single rows",
        [
          [6, 1, 7],
          [6, 7, 4],
        ],
        false,
        1e-5,
      ],
      [
        "empty matMul (inner size 0)",
        [
          [2, 3, 0],
          [2, 0, 4],
        ],
        false,
        0,
      ],
      [
        "transposed batched matMul",
        [
          [3, 7, 5],
          [3, 4, 7],
        ],
        true,
        1e-5,
      ],
    ];
    for (const [name, shapes, transposed, tol] of matMuls) {
      await expectLikeCpu(name, shapes, (a, b) => tf.matMul(a, b, transposed, transposed), tol);
    }
    await expectLikeCpu("strided slice", [[8, 4, 11, 16]], (a) => a.slice([1, 0, 2, 8], [5, 4, 7, 8]));
    await expectLikeCpu("contiguous slice", [[8, 4, 11, 16]], (a) => a.slice([2, 1, 0, 0], [3, 2, 11, 16]));
    await expectLikeCpu("split", [[10, 6]], (a) => [...tf.split(a, [3, 3, 4], 0), ...tf.split(a, [1, 5], 1)]);
    await expectLikeCpu("unstack", [[4, 3, 5]], (a) => tf.unstack(a, 1));
    await expectLikeCpu("tile", [[2, 1, 3, 5]], (a) => a.tile([2, 3, 2, 2]));
    await expectLikeCpu("gather of rows", [[9, 4, 3]], (a) => tf.gather(a, tf.tensor2d([3, 0, 8, 3, 1, 7], [2, 3], "int32")));
    await expectLikeCpu("gather along axis 1", [[9, 4, 3]], (a) => tf.gather(a, tf.tensor1d([2, 0, 3], "int32"), 1));
    expect(() => tf.tidy(() => tf.gather(tf.zeros([3, 2]), tf.tensor1d([1, 3], "int32")))).toThrow(/index value 3 is not in \[0, 2\]/);
    await expectLikeCpu("identity", [[3, 4]], (a) => tf.clone(a).add(1));
  });
});
