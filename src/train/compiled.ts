/**
 * Compiled updates (DPOConfig.compileStep, the analogue of transformers' torch_compile): the whole DPO update —
 * reference and policy forward, backward, clipping, AdamW — runs as one TensorFlow graph per batch shape instead of
 * thousands of eager op dispatches. The first update of a shape runs eagerly while it is traced (src/compile/trace.ts);
 * the graph is then written as a SavedModel and loaded into a TensorFlow session, and every later update of that
 * shape is one session call. Native backend only.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { GraphFunction } from "../compile/graph-function";
import { traceGraph } from "../compile/trace";
import type { CausalLM } from "../model/io";
import type { CollateOptions, PairBatch } from "./batch";
import type { AdamW, AdamWScalars } from "./optimizer";
import type { TokenizedPair } from "../data/tokenize";

/** The padding multiple of compiled batches when DPOConfig.padToMultipleOf is 0: few shapes, little padding. */
export const COMPILED_PAD_MULTIPLE = 32;

/** One compiled update's outputs, and whether this call traced the graph (and so ran eagerly). */
export interface CompiledRun {
  outputs: Record<string, tf.Tensor>;
  /** True when this call traced: the update ran eagerly and its outputs are the eager results. */
  traced: boolean;
}

/** The graphs of compiled updates (DPOConfig.compileStep), one per batch shape, traced on first use; native backend only. */
export class CompiledUpdates {
  private readonly graphs = new Map<string, GraphFunction>();
  private readonly dir: string;
  /** Seconds spent tracing and loading graphs (not running them). */
  compileSeconds = 0;
  /** Updates that ran a compiled graph (not traced). */
  graphRuns = 0;
  /** Training forwards with LoRA dropout that each graph runs (counted while it was traced), by shape key. */
  readonly dropoutForwards = new Map<string, number>();

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-ts-graphs-"));
  }

  /** How many graphs (batch shapes) have been traced. */
  get graphCount(): number {
    return this.graphs.size;
  }

  /** TensorFlow ops in each graph (Placeholders and Consts not counted). */
  get opsPerGraph(): number[] {
    return [...this.graphs.values()].map((g) => g.graph.stats.ops);
  }

  /**
   * Runs the update of shape `key`: the compiled graph when there is one, else eagerUpdate while tracing it.
   * inputs: every tensor the update reads that changes between updates (weights, optimizer state, batch, scalars).
   */
  async run(key: string, inputs: Record<string, tf.Tensor>, eagerUpdate: () => Record<string, tf.Tensor>): Promise<CompiledRun> {
    const compiled = this.graphs.get(key);
    if (compiled) {
      this.graphRuns++;
      return { outputs: compiled.run(inputs), traced: false };
    }
    const started = performance.now();
    const { result, graph } = traceGraph(inputs, eagerUpdate);
    const folder = path.join(this.dir, `graph-${this.graphs.size}`);
    const loaded = await GraphFunction.load(graph, folder);
    fs.rmSync(folder, { recursive: true, force: true });
    warmUp(loaded, inputs);
    this.graphs.set(key, loaded);
    this.compileSeconds += (performance.now() - started) / 1000;
    return { outputs: result, traced: true };
  }

  /** Releases the graphs and deletes their SavedModel folder. */
  dispose(): void {
    this.graphs.forEach((g) => g.dispose());
    this.graphs.clear();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Runs a freshly loaded graph once and discards the result. TensorFlow optimises a graph (grappler) and sets up its
 * kernels at its first session call — about as long as tracing it — so that work is done here and counted as compile
 * time, not as the time of the first update that uses the graph. The graph is pure (new weights are outputs, not
 * assignments): nothing changes. Inputs the traced update has disposed (cached reference log-probs) are fed zeros.
 */
function warmUp(graph: GraphFunction, inputs: Record<string, tf.Tensor>): void {
  tf.tidy(() => {
    const fed: Record<string, tf.Tensor> = {};
    for (const [key, info] of Object.entries(graph.graph.inputs)) {
      fed[key] = inputs[key] && !inputs[key].isDisposed ? inputs[key] : tf.zeros(info.shape, info.dtype as tf.DataType);
    }
    tf.dispose(Object.values(graph.run(fed)));
  });
}

/**
 * How a compiled update collates its micro-batches: all padded to one length (the update's longest row, rounded up to
 * the padding multiple) with one label slot per position, so each update's shapes depend on (batch sizes, length) only.
 */
export function compiledCollateOptions(pairs: readonly TokenizedPair[], microBatches: readonly number[][], padToMultipleOf: number): CollateOptions {
  const longest = (indices: readonly number[]) =>
    Math.max(...indices.map((i) => pairs[i].promptIds.length + Math.max(pairs[i].chosenIds.length, pairs[i].rejectedIds.length)));
  return { padToMultipleOf: padToMultipleOf || COMPILED_PAD_MULTIPLE, padToLength: Math.max(...microBatches.map(longest)), labelsAtEveryPosition: true };
}

/**
 * One update as a compiled graph. Its inputs are everything that changes between updates — the batch, AdamW's
 * scalars, the policy's weights and moments, the reference's weights (or its cached log-probs, when given), and the
 * seed of the LoRA dropout masks (so each run draws new masks, the ones the eager update would draw).
 * eagerUpdate runs (and is traced) at the first update of a shape. The new weights and moments are moved into the
 * variables; returns the metric sums and the gradient norm.
 */
export async function compiledUpdate(opts: {
  compiled: CompiledUpdates;
  model: CausalLM;
  refModel: CausalLM | null;
  optimizer: AdamW;
  batches: PairBatch[];
  /** Cached reference log-probs of each micro-batch ([2B] each), or null to feed the reference's weights. */
  cachedReference: tf.Tensor1D[] | null;
  scalars: AdamWScalars;
  eagerUpdate: () => { metricSum: tf.Tensor1D; gradNorm: tf.Scalar };
}): Promise<{ metricSum: tf.Tensor1D; gradNorm: tf.Scalar }> {
  const { compiled, model, refModel, optimizer, batches, cachedReference, scalars } = opts;
  const moments = optimizer.moments(model.params);
  const inputs: Record<string, tf.Tensor> = {
    step_size: scalars.stepSize,
    bias_correction2_sqrt: scalars.biasCorrection2Sqrt,
    decay_factor: scalars.decayFactor,
  };
  batches.forEach((batch, k) => {
    Object.assign(inputs, {
      [`batch${k}/input_ids`]: batch.inputIds,
      [`batch${k}/attention_mask`]: batch.attentionMask,
      [`batch${k}/label_positions`]: batch.labelPositions,
      [`batch${k}/labels`]: batch.labels,
      [`batch${k}/label_rows`]: batch.labelRows,
    });
    if (cachedReference) inputs[`batch${k}/reference_logps`] = cachedReference[k];
  });
  // A LoRA reference shares the policy's base weights: each tensor is one graph input.
  const policyVariables = new Set<tf.Tensor>(model.params.values());
  if (!cachedReference) refModel!.params.forEach((v, name) => policyVariables.has(v) || (inputs[`reference/${name}`] = v));
  model.params.forEach((v, name) => (inputs[`policy/${name}`] = v));
  moments.forEach(({ m, v }, name) => {
    inputs[`adam_m/${name}`] = m;
    inputs[`adam_v/${name}`] = v;
  });
  const state = () => {
    const out: Record<string, tf.Tensor> = {};
    model.params.forEach((v, name) => v.trainable && (out[`policy/${name}`] = v));
    moments.forEach(({ m, v }, name) => {
      out[`adam_m/${name}`] = m;
      out[`adam_v/${name}`] = v;
    });
    return out;
  };
  const key = `${batches.map((batch) => batch.inputIds.shape).join(";")}|${cachedReference ? "cached reference" : "reference model"}`;
  // LoRA dropout: the masks are drawn in the graph from this seed, a new one each update.
  const feed = model.feedDropoutSeeds();
  if (feed) inputs["dropout/seed"] = feed.seed;
  let run: CompiledRun;
  try {
    run = await compiled.run(key, inputs, () => {
      const { metricSum, gradNorm } = opts.eagerUpdate();
      return { ...state(), metrics: metricSum, grad_norm: gradNorm };
    });
  } catch (e) {
    feed?.end();
    throw e;
  }
  const { outputs, traced } = run;
  if (feed && traced) compiled.dropoutForwards.set(key, feed.end());
  else feed?.end(compiled.dropoutForwards.get(key));
  if (!traced) {
    // The graph returned the new weights and moments as new tensors: move them into the variables.
    for (const [name, variable] of Object.entries(state())) {
      (variable as tf.Variable).assign(outputs[name]);
      outputs[name].dispose();
    }
    tf.dispose(cachedReference ?? []);
  }
  return { metricSum: outputs.metrics as tf.Tensor1D, gradNorm: outputs.grad_norm as tf.Scalar };
}
