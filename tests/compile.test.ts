/**
 * Compiled updates (DPOConfig.compileStep): eager tfjs-node ops traced into a TensorFlow GraphDef, written as a
 * SavedModel, loaded into a session and run. The graph must compute what eager execution computes, on inputs it
 * has not seen, and a compiled training run must follow the eager run step for step.
 * Needs the native backend; on the others only the clear refusal is tested.
 */
import { describe, it, expect, beforeAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { createRequire } from "module";
import { useBackendForTests } from "./helpers/backend";
import { traceGraph } from "../src/compile/trace";
import { GraphFunction } from "../src/compile/graph-function";
import { encodeSavedModel } from "../src/compile/proto";
import { checkpointed } from "../src/model/layers";
import { headLogProbs } from "../src/train/logps";
import { loadModel } from "../src/model/io";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { readPreferenceFile } from "../src/data/preferences";
import { DPOTrainer } from "../src/train/trainer";
import { NEEDS, skipTest } from "./helpers/skip";

const FIX = path.join(__dirname, "fixtures/hf-tiny");
const rows = readPreferenceFile(path.join(FIX, "prefs.jsonl"));
let backend = "";

beforeAll(async () => {
  backend = await useBackendForTests();
});

const native = () => backend === "tensorflow";
const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

describe("graph tracing (native backend)", () => {
  it("writes a saved_model.pb that tfjs-node's own protobuf decoder reads back", (ctx) => {
    if (!native()) return skipTest(ctx, "graph tracing and compiled training steps", NEEDS.native);
    const bytes = encodeSavedModel({
      nodes: [
        { name: "x", op: "Placeholder", input: [], attr: { dtype: { type: "float32" }, shape: { shape: [2, 3] } } },
        { name: "two", op: "Const", input: [], attr: { dtype: { type: "float32" }, value: { tensor: { dtype: "float32", shape: [], splat: 2 } } } },
        { name: "y", op: "Mul", input: ["x:0", "two:0"], attr: { T: { type: "float32" } } },
      ],
      inputs: { x: { name: "x:0", dtype: "float32", shape: [2, 3] } },
      outputs: { y: { name: "y:0", dtype: "float32", shape: [2, 3] } },
      signatureKey: "serving_default",
    });
    const messages = createRequire(__filename)("@tensorflow/tfjs-node/dist/proto/api_pb");
    const decoded = messages.SavedModel.deserializeBinary(bytes).toObject();
    const meta = decoded.metaGraphsList[0];
    expect(meta.metaInfoDef.tagsList).toEqual(["serve"]);
    expect(meta.graphDef.nodeList.map((n: { op: string }) => n.op)).toEqual(["Placeholder", "Const", "Mul"]);
    expect(meta.graphDef.nodeList[2].inputList).toEqual(["x:0", "two:0"]);
    const signature = meta.signatureDefMap.find(([key]: [string]) => key === "serving_default")[1];
    expect(signature.inputsMap[0][1].tensorShape.dimList.map((d: { size: number }) => d.size)).toEqual([2, 3]);
  });

  it("a traced function (matMul, softmax, reshape, gradients) gives eager's results on new inputs", async (ctx) => {
    if (!native()) return skipTest(ctx, "graph tracing and compiled training steps", NEEDS.native);
    const fn = (x: tf.Tensor2D, w: tf.Tensor2D, lr: tf.Scalar) =>
      tf.tidy(() => {
        const loss = (weights: tf.Tensor) =>
          tf
            .softmax(x.matMul(weights as tf.Tensor2D))
            .reshape([-1])
            .square()
            .sum() as tf.Scalar;
        const { value, grad } = tf.valueAndGrad(loss)(w);
        return { loss: value, w: w.sub(grad.mul(lr)) };
      });
    const inputs = { x: tf.randomNormal([4, 3], 0, 1, "float32", 1), w: tf.randomNormal([3, 5], 0, 1, "float32", 2), lr: tf.scalar(0.1) };
    const { result, graph } = traceGraph(inputs, () => fn(inputs.x as tf.Tensor2D, inputs.w as tf.Tensor2D, inputs.lr as tf.Scalar));
    expect(graph.stats.placeholders).toBe(3);
    expect(graph.stats.ops).toBeGreaterThan(5);
    const compiled = await GraphFunction.load(graph, tmp("dpo-graph-"));
    // Fresh inputs: the graph must not have frozen the traced values.
    const fresh = { x: tf.randomNormal([4, 3], 0, 1, "float32", 3), w: tf.randomNormal([3, 5], 0, 1, "float32", 4), lr: tf.scalar(0.5) };
    const eager = fn(fresh.x as tf.Tensor2D, fresh.w as tf.Tensor2D, fresh.lr as tf.Scalar);
    const out = compiled.run(fresh);
    expect(out.loss.dataSync()[0]).toBeCloseTo(eager.loss.dataSync()[0], 5);
    Array.from(out.w.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(eager.w.dataSync()[i], 5));
    // The traced (eager) run itself is real.
    expect(result.loss.dataSync()[0]).toBeCloseTo(fn(inputs.x as tf.Tensor2D, inputs.w as tf.Tensor2D, inputs.lr as tf.Scalar).loss.dataSync()[0], 6);
    expect(() => compiled.run({ ...fresh, x: tf.zeros([5, 3]) })).toThrow(/input "x" is float32\[5,3\], the graph was traced with float32\[4,3\]/);
    compiled.dispose();
  });

  it("a checkpointed block's recomputation waits for its incoming gradient (else the graph runs it in the forward pass)", async (ctx) => {
    if (!native()) return skipTest(ctx, "graph tracing and compiled training steps", NEEDS.native);
    // Two checkpointed blocks: y = tanh(tanh(x·w1)·w2); loss = Σ y².
    const block = (x: tf.Tensor2D, weights: tf.Tensor[]) => tf.tanh(x.matMul(weights[0] as tf.Tensor2D)) as tf.Tensor2D;
    const fn = (x: tf.Tensor2D, w1: tf.Tensor2D, w2: tf.Tensor2D) =>
      tf.tidy(() => {
        const loss = (a: tf.Tensor, b: tf.Tensor) =>
          checkpointed(block, checkpointed(block, x, [a], []), [b], [])
            .square()
            .sum() as tf.Scalar;
        const [g1, g2] = tf.grads(loss)([w1, w2]);
        return { g1, g2 };
      });
    const inputs = {
      x: tf.randomNormal([4, 3], 0, 1, "float32", 5),
      w1: tf.randomNormal([3, 3], 0, 1, "float32", 6),
      w2: tf.randomNormal([3, 3], 0, 1, "float32", 7),
    };
    const { graph } = traceGraph(inputs, () => fn(inputs.x as tf.Tensor2D, inputs.w1 as tf.Tensor2D, inputs.w2 as tf.Tensor2D));
    const recomputed = new Set(graph.nodes.filter((n) => "s" in (n.attr._dpo_ts_tag ?? {})).map((n) => n.name));
    // The recomputation's roots: recomputed ops that read nothing recomputed (each block's MatMul of x and w).
    const roots = graph.nodes.filter((n) => recomputed.has(n.name) && n.input.every((i) => i.startsWith("^") || !recomputed.has(i.split(":")[0])));
    expect(roots.filter((n) => /MatMul/.test(n.op) && n.input.some((i) => i.startsWith("in/w"))).length, roots.map((n) => n.op).join()).toBe(2);
    roots.forEach((n) =>
      expect(
        n.input.some((i) => i.startsWith("^")),
        `${n.op} ${n.name} inputs ${n.input}`,
      ).toBe(true),
    );
    const compiled = await GraphFunction.load(graph, tmp("dpo-graph-"));
    const fresh = {
      x: tf.randomNormal([4, 3], 0, 1, "float32", 8),
      w1: tf.randomNormal([3, 3], 0, 1, "float32", 9),
      w2: tf.randomNormal([3, 3], 0, 1, "float32", 10),
    };
    const eager = fn(fresh.x as tf.Tensor2D, fresh.w1 as tf.Tensor2D, fresh.w2 as tf.Tensor2D);
    const out = compiled.run(fresh);
    for (const key of ["g1", "g2"] as const) Array.from(out[key].dataSync()).forEach((v, i) => expect(v).toBeCloseTo(eager[key].dataSync()[i], 5));
    tf.dispose([...Object.values(out), ...Object.values(eager), ...Object.values(inputs), ...Object.values(fresh)]);
    compiled.dispose();
  });

  it("the LM head's chunks run one after another in a graph, forward and backward, with eager's values and gradients", async (ctx) => {
    if (!native()) return skipTest(ctx, "graph tracing and compiled training steps", NEEDS.native);
    // 10 rows in chunks of 4 rows: 3 chunks.
    const fn = (hidden: tf.Tensor2D, head: tf.Tensor2D, labels: tf.Tensor1D) =>
      tf.tidy(() => {
        const loss = (h: tf.Tensor, w: tf.Tensor) =>
          headLogProbs(h as tf.Tensor2D, w as tf.Tensor2D, labels, 4)
            .square()
            .sum() as tf.Scalar;
        const { value, grads } = tf.valueAndGrads(loss)([hidden, head]);
        return { value, dHidden: grads[0], dHead: grads[1] };
      });
    const make = (seed: number) => ({
      hidden: tf.randomNormal([10, 6], 0, 1, "float32", seed) as tf.Tensor2D,
      head: tf.randomNormal([7, 6], 0, 1, "float32", seed + 1) as tf.Tensor2D,
      labels: tf.tensor1d([0, 3, 6, 1, 2, 5, 4, 0, 6, 2], "int32"),
    });
    const inputs = make(11);
    const { graph } = traceGraph(inputs, () => fn(inputs.hidden, inputs.head, inputs.labels));
    const tagged = (tag: string) => graph.nodes.filter((n) => (n.attr._dpo_ts_tag as { s?: string } | undefined)?.s === tag);
    // Chunks 2 and 3 of the forward wait for the one before; all 3 of the backward wait (the first for dy).
    const controlled = (tag: string) => new Set(tagged(tag).flatMap((n) => n.input.filter((i) => i.startsWith("^"))));
    expect(controlled("head-chunk").size).toBe(2);
    expect(controlled("head-chunk-backward").size).toBe(3);
    const compiled = await GraphFunction.load(graph, tmp("dpo-graph-"));
    const fresh = make(21);
    const eager = fn(fresh.hidden, fresh.head, fresh.labels);
    const out = compiled.run(fresh);
    for (const key of ["value", "dHidden", "dHead"] as const)
      Array.from(out[key].dataSync()).forEach((v, i) => expect(v).toBeCloseTo(eager[key].dataSync()[i], 4));
    tf.dispose([...Object.values(out), ...Object.values(eager), ...Object.values(inputs), ...Object.values(fresh)]);
    compiled.dispose();
  });
});

describe("DPOTrainer with compileStep", () => {
  it.for([
    { perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 1 },
    { perDeviceTrainBatchSize: 1, gradientAccumulationSteps: 2 },
    { perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 1, gradientCheckpointing: true },
    // Losses with batch-level parts: a sort over the batch (aot), the batch's token NLL (sft), per-token LD-DPO
    // weights built from labelRows, WPO weights from the full logits, an f-divergence.
    { perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 1, lossType: ["aot", "sft"], lossWeights: [1, 0.5], ldAlpha: 0.5 },
    { perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 1, lossType: "sigmoid_norm", useWeighting: true, fDivergenceType: "js_divergence" },
    { arch: "llama", perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 1, gradientCheckpointing: true },
    // LoRA with the adapters-off policy as the reference (one set of base weights feeds both sides of the graph).
    {
      arch: "llama",
      lora: true,
      perDeviceTrainBatchSize: 2,
      gradientAccumulationSteps: 1,
      usePeft: true,
      loraR: 4,
      loraAlpha: 8,
      loraTargetModules: "all-linear",
    },
    // GPT-2 Conv1D targets, two micro-batches per update: one gradient graph per micro-batch shape and a summing graph.
    { lora: true, perDeviceTrainBatchSize: 1, gradientAccumulationSteps: 2, usePeft: true, loraR: 4, loraAlpha: 8, loraTargetModules: "all-linear" },
    // LoRA dropout: the masks are drawn in the graph from a seed fed each update; accumulation (two policy forwards
    // per update) and checkpointing (a block recomputed in the backward pass) must see the eager masks too.
    {
      arch: "llama",
      lora: true,
      perDeviceTrainBatchSize: 1,
      gradientAccumulationSteps: 2,
      gradientCheckpointing: true,
      usePeft: true,
      loraR: 4,
      loraAlpha: 8,
      loraDropout: 0.1,
      loraTargetModules: "all-linear",
    },
  ] as Record<string, unknown>[])(
    "follows the eager run step for step, with the weights updated and no tensors left behind (%o)",
    async (item, ctx) => {
      if (!native()) return skipTest(ctx, "graph tracing and compiled training steps", NEEDS.native);
      const { arch = "gpt2", lora = false, ...batching } = item;
      const tokenizer = await Tokenizer.fromDir(path.join(FIX, `${arch}-policy`));
      const watched = `${arch === "gpt2" ? "h.1.mlp.c_fc" : "layers.1.mlp.up_proj"}${lora ? ".lora_B" : ""}.weight`;
      const run = async (compileStep: boolean) => {
        const policy = await loadModel(path.join(FIX, `${arch}-policy`));
        const reference = await loadModel(path.join(FIX, `${arch}-ref`), { trainable: false });
        const counts: number[] = [];
        const trainer = new DPOTrainer({
          model: policy,
          refModel: lora ? undefined : reference,
          tokenizer,
          trainDataset: rows,
          args: {
            outputDir: tmp("dpo-compiled-"),
            maxSteps: 8,
            ...batching,
            loggingSteps: 1,
            learningRate: 1e-3,
            lrSchedulerType: "cosine",
            warmupSteps: 2,
            weightDecay: 0.01,
            reportTo: "none",
            numSampleGenerations: 0,
            writeReport: false,
            compileStep,
            padToMultipleOf: 8,
          },
          callbacks: [{ onStepEnd: () => void counts.push(tf.memory().numTensors) }],
        });
        await trainer.train();
        const weights = Array.from(policy.params.get(watched)!.dataSync());
        const logs = trainer.state.logHistory;
        const stats = trainer.compileStats();
        trainer.dispose();
        policy.dispose();
        reference.dispose();
        return { logs, weights, counts, stats };
      };
      const eager = await run(false);
      const compiled = await run(true);
      expect(compiled.logs).toHaveLength(8);
      // Some updates traced (a graph per batch shape; with gradient accumulation, per micro-batch shape and one
      // summing graph), the others ran graphs only.
      expect(compiled.stats!.graphs).toBeGreaterThanOrEqual(1);
      expect(compiled.stats!.tracedUpdates).toBeGreaterThanOrEqual(1);
      expect(compiled.stats!.tracedUpdates).toBeLessThanOrEqual(compiled.stats!.graphs);
      expect(compiled.stats!.graphRuns).toBe(8 - compiled.stats!.tracedUpdates);
      expect(compiled.stats!.graphRuns).toBeGreaterThanOrEqual(4);
      compiled.logs.forEach((entry, i) => {
        for (const key of [
          "loss",
          "rewards/chosen",
          "rewards/margins",
          "rewards/accuracies",
          "logps/rejected",
          "logits/chosen",
          "grad_norm",
          "learning_rate",
        ]) {
          // Fresh adapters (B = 0) give margins of exactly 0 eagerly and within float noise (~4e-7) in a fused graph:
          // an accuracy over such ties is the sign of that noise, not a difference between the two runs.
          if (key === "rewards/accuracies" && Math.abs(eager.logs[i]["rewards/margins"]) < 1e-5) continue;
          expect(Math.abs(entry[key] - eager.logs[i][key]), `step ${i + 1} ${key}: compiled ${entry[key]}, eager ${eager.logs[i][key]}`).toBeLessThan(
            1e-4 * (1 + Math.abs(eager.logs[i][key])),
          );
        }
      });
      compiled.weights.forEach((w, i) => expect(Math.abs(w - eager.weights[i])).toBeLessThan(1e-4));
      // Steps that ran the graph (not the traces) leave the tensor count where it was.
      expect(new Set(compiled.counts.slice(-4)).size, `numTensors per step: ${compiled.counts}`).toBe(1);
    },
    120_000,
  );

  it("draws new LoRA dropout masks at every compiled update, the eager run's masks", async (ctx) => {
    if (!native()) return skipTest(ctx, "compileStep with LoRA dropout", NEEDS.native);
    const tokenizer = await Tokenizer.fromDir(path.join(FIX, "llama-policy"));
    // One pair, learning rate 0 and non-zero adapters: every update sees the same weights and the same batch, so its
    // loss changes from update to update only through the dropout masks (a frozen mask would repeat one loss).
    const run = async (compileStep: boolean, loraDropout: number) => {
      const policy = await loadModel(path.join(FIX, "llama-policy"));
      policy.addAdapters({ r: 4, alpha: 8, dropout: loraDropout, targetModules: "all-linear", useRslora: false }, 5);
      policy.params.forEach((v, name) => name.endsWith(".lora_B.weight") && v.assign(tf.randomNormal(v.shape, 0, 0.5, "float32", name.length)));
      const trainer = new DPOTrainer({
        model: policy,
        tokenizer,
        trainDataset: rows.slice(0, 1),
        args: {
          outputDir: tmp("dpo-compiled-"),
          maxSteps: 4,
          perDeviceTrainBatchSize: 1,
          learningRate: 0,
          loggingSteps: 1,
          compileStep,
          reportTo: "none",
          numSampleGenerations: 0,
          writeReport: false,
        },
      });
      await trainer.train();
      const losses = trainer.state.logHistory.filter((e) => "loss" in e).map((e) => e.loss);
      const stats = trainer.compileStats();
      trainer.dispose();
      policy.dispose();
      return { losses, stats };
    };
    const compiled = await run(true, 0.3);
    const eager = await run(false, 0.3);
    const noDropout = await run(true, 0);
    // one batch shape: the update's graph and AdamW's (one parameter group)
    expect(compiled.stats).toMatchObject({ graphs: 2, graphRuns: 3 });
    expect(compiled.losses).toHaveLength(4);
    compiled.losses.forEach((loss, i) =>
      expect(Math.abs(loss - eager.losses[i]), `step ${i + 1}: compiled ${loss}, eager ${eager.losses[i]}`).toBeLessThan(1e-5),
    );
    // Four updates, four masks: the losses of consecutive updates differ (the graph's runs included) …
    for (let i = 1; i < 4; i++) expect(Math.abs(compiled.losses[i] - compiled.losses[i - 1]), `steps ${i} and ${i + 1}`).toBeGreaterThan(1e-6);
    // … where without dropout the same weights and batch give one loss.
    noDropout.losses.forEach((loss) => expect(loss).toBeCloseTo(noDropout.losses[0], 6));
  });

  it("is refused clearly off the native backend", async (ctx) => {
    if (native()) return skipTest(ctx, "compileStep refused off the native backend", "runs with DPO_BACKEND=wasm or cpu");
    const tokenizer = await Tokenizer.fromDir(path.join(FIX, "gpt2-policy"));
    const policy = await loadModel(path.join(FIX, "gpt2-policy"));
    const trainer = new DPOTrainer({
      model: policy,
      tokenizer,
      trainDataset: rows,
      args: { outputDir: tmp("dpo-compiled-"), maxSteps: 1, compileStep: true, reportTo: "none" },
    });
    await expect(trainer.train()).rejects.toThrow(/"compileStep" needs the native "tensorflow" backend; the active backend is/);
    trainer.dispose();
    policy.dispose();
  });
});
