/**
 * Compiled updates (DPOConfig.compileStep, the analogue of transformers' torch_compile): the DPO update —
 * reference and policy forward, backward, clipping — runs as one TensorFlow graph per batch shape (with gradient
 * accumulation: a gradient graph per micro-batch shape and one graph that sums and clips) instead of thousands of
 * eager op dispatches; AdamW then updates the weights, one small graph per flat parameter group. The first update of a shape runs eagerly while it is traced (src/compile/trace.ts);
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
import { addGradients } from "./update";
import type { TokenizedPair } from "../data/tokenize";

/** The padding multiple of compiled batches when DPOConfig.padToMultipleOf is 0: few shapes, little padding. */
export const COMPILED_PAD_MULTIPLE = 32;

/** The key prefix of AdamW's graphs (compiledAdamW). */
const ADAMW_KEY = "adamw ";

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
  /** Updates that ran compiled graphs only (nothing traced). */
  graphRuns = 0;
  /** Updates during which a graph was traced (they ran eagerly, in whole or in part). */
  tracedUpdates = 0;
  /** Training forwards with LoRA dropout that each graph runs (counted while it was traced), by graph key. */
  readonly dropoutForwards = new Map<string, number>();

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-ts-graphs-"));
  }

  /** How many graphs have been traced (batch shapes, and AdamW's per parameter group). */
  get graphCount(): number {
    return this.graphs.size;
  }

  /** TensorFlow ops in each gradient graph (a batch shape's, or the summing graph; Placeholders and Consts not counted). */
  get opsPerGraph(): number[] {
    return [...this.graphs].filter(([key]) => !key.startsWith(ADAMW_KEY)).map(([, g]) => g.graph.stats.ops);
  }

  /** TensorFlow ops of AdamW's graphs together (one per parameter group): what every update runs after its gradients. */
  get optimizerOps(): number {
    return [...this.graphs].filter(([key]) => key.startsWith(ADAMW_KEY)).reduce((n, [, g]) => n + g.graph.stats.ops, 0);
  }

  /**
   * Runs the graph named `key` (an update, or part of one, of one shape): the compiled graph when there is one, else
   * eagerUpdate while tracing it.
   * inputs: every tensor the update reads that changes between updates (weights, optimizer state, batch, scalars).
   */
  async run(key: string, inputs: Record<string, tf.Tensor>, eagerUpdate: () => Record<string, tf.Tensor>): Promise<CompiledRun> {
    const compiled = this.graphs.get(key);
    if (compiled) {
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
 * One update as compiled graphs. Their inputs are everything that changes between updates — the batch, the policy's
 * weights, the reference's weights (or its cached log-probs, when given), and the seed of the LoRA dropout masks (so
 * each run draws new masks, the ones the eager update would draw). The graphs end at the clipped gradients, as the
 * optimizer's flat vectors: the non-finite guard reads the loss and the norm, then AdamW updates the variables one
 * flat group at a time, each group a small graph of its own (compiledAdamW; one graph returning every new weight and
 * moment would hold them all beside the old ones: 3 × the model's size more memory at GPT-2-small's scale). Returns
 * the metric sums and the gradient norm.
 *
 * An update of one micro-batch is one graph (eagerGradients(0) and clipping traced at the first update of a shape).
 * An update of several (gradient accumulation) is a gradient graph per micro-batch shape (eagerGradients traced), run
 * once per micro-batch, and one graph that sums and clips them, which does not depend on the batch shape: each graph
 * is half the size of a whole update's, so TensorFlow's graph optimiser — most of the compile time — has half as much
 * to do per shape, and the summing graph is compiled once for the whole run. Its cost: one session call more per
 * micro-batch.
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
  /** Micro-batch k's gradients (loss / number of micro-batches) by parameter name and its metric sums; disposes its reference log-probs. */
  eagerGradients: (k: number) => { grads: Map<string, tf.Tensor>; metrics: tf.Tensor1D };
  /** The non-finite guard: sees the update's metric sums and gradient norm before AdamW changes the weights; may throw. */
  guard: (metricSum: tf.Tensor1D, gradNorm: tf.Scalar) => void;
}): Promise<{ metricSum: tf.Tensor1D; gradNorm: tf.Scalar }> {
  const { compiled, model, refModel, optimizer, batches, cachedReference, scalars } = opts;
  const moments = optimizer.moments(model.params);
  const batchInputs = (batch: PairBatch, prefix: string): Record<string, tf.Tensor> => ({
    [`${prefix}/input_ids`]: batch.inputIds,
    [`${prefix}/attention_mask`]: batch.attentionMask,
    [`${prefix}/label_positions`]: batch.labelPositions,
    [`${prefix}/labels`]: batch.labels,
    [`${prefix}/label_rows`]: batch.labelRows,
  });
  const weights: Record<string, tf.Tensor> = {};
  // A LoRA reference shares the policy's base weights: each tensor is one graph input.
  const policyVariables = new Set<tf.Tensor>(model.params.values());
  if (!cachedReference) refModel!.params.forEach((v, name) => policyVariables.has(v) || (weights[`reference/${name}`] = v));
  model.params.forEach((v, name) => (weights[`policy/${name}`] = v));
  const reference = cachedReference ? "cached reference" : "reference model";
  // LoRA dropout: a graph that runs the policy draws its masks from a seed fed at each run — the seeds of the training
  // forwards it stands for, so the masks are the ones an eager update would draw, new at every update.
  const runWithDropoutSeed = async (key: string, inputs: Record<string, tf.Tensor>, eager: () => Record<string, tf.Tensor>): Promise<CompiledRun> => {
    const feed = model.feedDropoutSeeds();
    let run: CompiledRun;
    try {
      run = await compiled.run(key, feed ? { ...inputs, "dropout/seed": feed.seed } : inputs, eager);
    } catch (e) {
      feed?.end();
      throw e;
    }
    if (feed && run.traced) compiled.dropoutForwards.set(key, feed.end());
    else feed?.end(compiled.dropoutForwards.get(key));
    return run;
  };

  // The graphs' clipped flat gradients (grads/group<k>, absent for a group without gradients): the guard, then AdamW
  // in place. The gradients are disposed either way; the metric sums and norm go to the caller unless the guard throws.
  const applyClipped = async (outputs: Record<string, tf.Tensor>): Promise<{ metricSum: tf.Tensor1D; gradNorm: tf.Scalar }> => {
    const flat = Array.from({ length: moments.size }, (_, k) => (outputs[`grads/group${k}`] as tf.Tensor1D | undefined) ?? null);
    const metricSum = outputs.metrics as tf.Tensor1D;
    const gradNorm = outputs.grad_norm as tf.Scalar;
    try {
      opts.guard(metricSum, gradNorm);
      await compiledAdamW(compiled, optimizer, model.params, flat, scalars);
    } catch (e) {
      tf.dispose([metricSum, gradNorm]);
      throw e;
    } finally {
      tf.dispose(flat.filter((g): g is tf.Tensor1D => g !== null));
    }
    return { metricSum, gradNorm };
  };
  const clippedOutputs = (grads: Map<string, tf.Tensor>, metrics: tf.Tensor1D): Record<string, tf.Tensor> => {
    const { flat, norm } = clippedFlatGradients(optimizer, model.params, grads, opts.maxGradNorm);
    const out: Record<string, tf.Tensor> = { metrics, grad_norm: norm };
    flat.forEach((g, k) => g && (out[`grads/group${k}`] = g));
    return out;
  };

  if (batches.length === 1) {
    const inputs: Record<string, tf.Tensor> = { ...weights, ...batchInputs(batches[0], "batch0") };
    if (cachedReference) inputs["batch0/reference_logps"] = cachedReference[0];
    const key = `update ${batches[0].inputIds.shape}|${reference}`;
    const { outputs, traced } = await runWithDropoutSeed(key, inputs, () => {
      const { grads, metrics } = opts.eagerGradients(0);
      return clippedOutputs(grads, metrics);
    });
    if (traced) compiled.tracedUpdates++;
    else {
      compiled.graphRuns++;
      tf.dispose(cachedReference ?? []);
    }
    return await applyClipped(outputs);
  }

  // Each micro-batch's gradients and metrics stay separate tensors until the summing graph adds them (in the eager
  // update's order), so that no eager op runs between the session calls.
  const perMicroBatch: Record<string, tf.Tensor>[] = [];
  let anyTraced = false;
  // The summing graph reads only the micro-batches' outputs (flattening and clipping need no weight values).
  const sumFeed: Record<string, tf.Tensor> = {};
  try {
    for (let k = 0; k < batches.length; k++) {
      const inputs: Record<string, tf.Tensor> = { ...weights, ...batchInputs(batches[k], "batch") };
      if (cachedReference) inputs["batch/reference_logps"] = cachedReference[k];
      const key = `gradients ${batches[k].inputIds.shape}|${reference}|1/${batches.length}`;
      const { outputs, traced } = await runWithDropoutSeed(key, inputs, () => {
        const { grads, metrics } = opts.eagerGradients(k);
        const out: Record<string, tf.Tensor> = { metrics };
        grads.forEach((g, name) => (out[`grad/${name}`] = g));
        return out;
      });
      if (!traced) cachedReference?.[k].dispose();
      anyTraced ||= traced;
      perMicroBatch.push(outputs);
      for (const [name, t] of Object.entries(outputs)) sumFeed[`micro_batch${k}/${name}`] = t;
    }
  } catch (e) {
    perMicroBatch.forEach((outputs) => tf.dispose(Object.values(outputs)));
    throw e;
  }
  const gradNames = Object.keys(perMicroBatch[0]).filter((name) => name.startsWith("grad/"));
  let sum: CompiledRun;
  try {
    sum = await compiled.run(`sum ${batches.length} × ${gradNames.length} gradients`, sumFeed, () => {
      const gradsOf = (outputs: Record<string, tf.Tensor>) => new Map(gradNames.map((name) => [name.slice("grad/".length), outputs[name]]));
      let summed = gradsOf(perMicroBatch[0]);
      let metricSum = perMicroBatch[0].metrics as tf.Tensor1D;
      for (const outputs of perMicroBatch.slice(1)) {
        summed = addGradients(summed, gradsOf(outputs));
        const next = metricSum.add(outputs.metrics) as tf.Tensor1D;
        tf.dispose([metricSum, outputs.metrics]);
        metricSum = next;
      }
      return clippedOutputs(summed, metricSum);
    });
  } catch (e) {
    perMicroBatch.forEach((outputs) => tf.dispose(Object.values(outputs)));
    throw e;
  }
  if (anyTraced || sum.traced) compiled.tracedUpdates++;
  else compiled.graphRuns++;
  // A graph run returned new tensors; a traced run returned the eager ones (the micro-batches' outputs consumed).
  if (!sum.traced) perMicroBatch.forEach((outputs) => tf.dispose(Object.values(outputs)));
  return await applyClipped(sum.outputs);
}

/**
 * AdamW's update of each flat group as a compiled graph of its own (AdamW.groupStep, traced at the first update),
 * the new values then assigned: one session call per group instead of a few hundred eager dispatches (flattening the
 * weights, a dozen elementwise ops, splitting them back: ~2 ms of a 15 ms course-model update). Its own graph, not a
 * part of the gradient graph, so that the non-finite guard reads the loss and the norm before any weight changes, and
 * a big model's gradients, weights and moments are not all held at once (the same group-at-a-time memory as eager).
 */
async function compiledAdamW(
  compiled: CompiledUpdates,
  optimizer: AdamW,
  params: Map<string, tf.Variable>,
  flat: (tf.Tensor1D | null)[],
  scalars: AdamWScalars,
): Promise<void> {
  for (let k = 0; k < flat.length; k++) {
    const grad = flat[k];
    if (!grad) continue;
    const inputs = optimizer.groupInputs(k, params, grad, scalars);
    const { outputs } = await compiled.run(`${ADAMW_KEY}group${k} [${grad.shape}]`, inputs, () => optimizer.groupStep(k, inputs));
    optimizer.assignGroup(k, params, outputs);
  }
}
