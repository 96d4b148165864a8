/**
 * Compiled updates (DPOConfig.compileStep, the analogue of transformers' torch_compile): the DPO update's gradients —
 * reference and policy forward, backward, clipping — run as one TensorFlow graph per batch shape instead of thousands
 * of eager op dispatches; AdamW then updates the weights in place (a dozen eager ops per flat group of parameters). The first update of a shape runs eagerly while it is traced (src/compile/trace.ts);
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
import { clippedFlatGradients, type AdamW, type AdamWScalars } from "./optimizer";
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
 * One update with its gradients from a compiled graph. The graph's inputs are everything that changes between
 * updates — the batch, the policy's weights, and the reference's weights (or its cached log-probs, when given); its
 * outputs are the metric sums, the gradient norm and the clipped gradients as the optimizer's flat vectors.
 * eagerGradients runs (and is traced) at the first update of a shape. AdamW then updates the variables in place,
 * eagerly, one flat group at a time: a pure graph would return every new weight and moment at once, beside the old
 * ones it reads (3 × the model's size more memory). `guard` sees the metrics and norm before the weights change and
 * may throw (the trainer's non-finite guard). Returns the metric sums and the gradient norm.
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
  maxGradNorm: number;
  eagerGradients: () => { metricSum: tf.Tensor1D; grads: Map<string, tf.Tensor> };
  guard?: (metricSum: tf.Tensor1D, gradNorm: tf.Scalar) => void;
}): Promise<{ metricSum: tf.Tensor1D; gradNorm: tf.Scalar }> {
  const { compiled, model, refModel, optimizer, batches, cachedReference } = opts;
  const inputs: Record<string, tf.Tensor> = {};
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
  const groups = optimizer.moments(model.params).size;
  const key = `${batches.map((batch) => batch.inputIds.shape).join(";")}|${cachedReference ? "cached reference" : "reference model"}`;
  const { outputs, traced } = await compiled.run(key, inputs, () => {
    const { metricSum, grads } = opts.eagerGradients();
    const { flat, norm } = clippedFlatGradients(optimizer, model.params, grads, opts.maxGradNorm);
    const out: Record<string, tf.Tensor> = { metrics: metricSum, grad_norm: norm };
    flat.forEach((g, k) => g && (out[`grads/group${k}`] = g));
    return out;
  });
  if (!traced) tf.dispose(cachedReference ?? []);
  const metricSum = outputs.metrics as tf.Tensor1D;
  const gradNorm = outputs.grad_norm as tf.Scalar;
  const flat = Array.from({ length: groups }, (_, k) => (outputs[`grads/group${k}`] as tf.Tensor1D | undefined) ?? null);
  try {
    opts.guard?.(metricSum, gradNorm);
    optimizer.applyFlat(model.params, flat, opts.scalars);
  } catch (e) {
    tf.dispose([metricSum, gradNorm]);
    throw e;
  } finally {
    tf.dispose(flat.filter((g): g is tf.Tensor1D => g !== null));
  }
  return { metricSum, gradNorm };
}
