/**
 * The serving shortcuts of the forward pass: kept transposes of frozen weights (TransposedWeights) and logits of the
 * last position only give the same logits as the plain forward pass, on the Llama fixture (q/k/v/o and MLP
 * projections, GQA) and GPT-2 (Conv1D weights, tied head); the transposes are kept only where they help (wasm), made
 * again after a variable is assigned, and freed by dispose().
 */
import { describe, it, expect, beforeAll } from "vitest";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { loadModelFromDir, CausalLM } from "../src/model/io";
import { TransposedWeights } from "../src/model/transposed-weights";
import { useBackendForTests } from "./helpers/backend";

const FIX = path.join(__dirname, "fixtures/hf-tiny");

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
}

/** Prefill then one decode step (with the cache), as the server runs them. → [prefill logits, step logits] */
function prefillAndStep(model: CausalLM, ids: number[][], opts: { transposedWeights?: TransposedWeights; lastPositionOnly?: boolean }): tf.Tensor[] {
  const B = ids.length;
  const T = ids[0].length;
  const input = tf.tensor2d(ids, [B, T], "int32");
  const first = model.forward(input, { useCache: true, ...opts });
  const next = tf.tensor2d(
    ids.map((row) => [row[0]]),
    [B, 1],
    "int32",
  );
  const second = model.forward(next, { pastKeyValues: first.presentKeyValues, useCache: true, transposedWeights: opts.transposedWeights });
  tf.dispose([input, next]);
  first.presentKeyValues!.forEach(({ key, value }) => tf.dispose([key, value]));
  second.presentKeyValues!.forEach(({ key, value }) => tf.dispose([key, value]));
  return [first.logits, second.logits];
}

describe("serving shortcuts of the forward pass", () => {
  let backend: string;
  beforeAll(async () => {
    backend = await useBackendForTests();
  });

  for (const fixture of ["llama-policy", "gpt2-policy"]) {
    it(`${fixture}: kept transposes and last-position logits give the plain forward pass's logits`, () => {
      const model = loadModelFromDir(path.join(FIX, fixture), { trainable: false });
      const ids = [
        [5, 17, 3, 40, 9, 11],
        [7, 7, 21, 2, 30, 4],
      ];
      const before = tf.memory().numTensors;
      const [plainPrefill, plainStep] = prefillAndStep(model, ids, {});
      expect(plainPrefill.shape).toEqual([2, 6, model.config.vocabSize]);
      const kept = new TransposedWeights();
      const [lastPrefill, keptStep] = prefillAndStep(model, ids, { transposedWeights: kept, lastPositionOnly: true });
      expect(lastPrefill.shape).toEqual([2, 1, model.config.vocabSize]);
      const plainLast = plainPrefill.slice([0, 5, 0], [2, 1, -1]);
      expect(maxAbsDiff(lastPrefill, plainLast)).toBeLessThan(1e-4);
      expect(maxAbsDiff(keptStep, plainStep)).toBeLessThan(1e-4);
      // wasm keeps one transpose per [out, in] weight it met (Llama: 7 per layer + the tied head; GPT-2: the head only).
      const expectedKept = backend !== "wasm" ? 0 : fixture === "gpt2-policy" ? 1 : 7 * (model.config as { numHiddenLayers: number }).numHiddenLayers + 1;
      expect(kept.size).toBe(expectedKept);
      tf.dispose([plainPrefill, plainStep, lastPrefill, keptStep, plainLast]);
      expect(tf.memory().numTensors).toBe(before + expectedKept);
      kept.dispose();
      expect(kept.size).toBe(0);
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    });
  }

  it("a weight assigned since its transpose was kept is transposed again; a trainable model keeps nothing", () => {
    const frozen = loadModelFromDir(path.join(FIX, "llama-policy"), { trainable: false });
    const kept = new TransposedWeights();
    const weight = frozen.params.get("layers.0.mlp.up_proj.weight")!;
    const first = kept.transposeOf(weight);
    if (first === null) {
      expect(TransposedWeights.useful()).toBe(false); // a backend that reads transposed operands directly
    } else {
      expect(first.shape).toEqual([weight.shape[1], weight.shape[0]]);
      expect(kept.transposeOf(weight)).toBe(first);
      weight.assign(tf.tidy(() => weight.mul(2)));
      const again = kept.transposeOf(weight)!;
      expect(again).not.toBe(first);
      expect(first.isDisposed).toBe(true);
      expect(
        maxAbsDiff(
          again,
          tf.tidy(() => weight.transpose()),
        ),
      ).toBe(0);
    }
    kept.dispose();
    // Beyond maxBytes nothing more is kept: the caller falls back to the transposing matMul.
    const small = new TransposedWeights({ maxBytes: weight.size * 4 });
    if (TransposedWeights.useful()) {
      expect(small.transposeOf(weight)).not.toBeNull();
      expect(small.transposeOf(frozen.params.get("layers.0.mlp.gate_proj.weight") as tf.Tensor2D)).toBeNull();
      expect(small.size).toBe(1);
    }
    small.dispose();
    frozen.dispose();

    const trainable = loadModelFromDir(path.join(FIX, "llama-policy"));
    const forTrainable = new TransposedWeights();
    const out = trainable.forward(tf.tensor2d([[5, 17, 3]], [1, 3], "int32"), { transposedWeights: forTrainable });
    expect(forTrainable.size).toBe(0); // weights that train change every step: nothing is kept for them
    out.logits.dispose();
    trainable.dispose();
  });
});
