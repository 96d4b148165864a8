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

/** The padding multiple of compiled batches when DPOConfig.padToMultipleOf is 0: few shapes, little padding. */
export const COMPILED_PAD_MULTIPLE = 32;

export interface CompiledRun {
  outputs: Record<string, tf.Tensor>;
  /** True when this call traced: the update ran eagerly and its outputs are the eager results. */
  traced: boolean;
}

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
    this.graphs.set(key, await GraphFunction.load(graph, folder));
    fs.rmSync(folder, { recursive: true, force: true });
    this.compileSeconds += (performance.now() - started) / 1000;
    return { outputs: result, traced: true };
  }

  dispose(): void {
    this.graphs.forEach((g) => g.dispose());
    this.graphs.clear();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
