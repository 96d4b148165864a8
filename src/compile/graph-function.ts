/**
 * A traced graph as a callable: written as a SavedModel folder, loaded into a TensorFlow session by tfjs-node, and
 * run with one session call per invocation instead of one eager dispatch per op.
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { loadedNativeModule } from "../backend";
import { encodeSavedModel } from "./proto";
import { TracedGraph } from "./trace";

const SIGNATURE = "serving_default";

/** A traced graph loaded as a SavedModel on the native backend, run by name-keyed inputs. */
export class GraphFunction {
  /** The graph this function runs. */
  readonly graph: TracedGraph;
  private model: { predict(inputs: Record<string, unknown>): unknown; dispose(): void };

  private constructor(graph: TracedGraph, model: GraphFunction["model"]) {
    this.graph = graph;
    this.model = model;
  }

  /** Writes dir/saved_model.pb and loads it. */
  static async load(graph: TracedGraph, dir: string): Promise<GraphFunction> {
    const native = loadedNativeModule();
    if (!native) throw new Error("graph functions need the native TensorFlow backend (@tensorflow/tfjs-node)");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, "saved_model.pb"),
      encodeSavedModel({ nodes: graph.nodes, inputs: graph.inputs, outputs: graph.outputs, signatureKey: SIGNATURE }),
    );
    const model = await native.node.loadSavedModel(dir, ["serve"], SIGNATURE);
    return new GraphFunction(graph, model);
  }

  /** Runs the graph. inputs: one tensor per traced input, same shapes and dtypes → one tensor per traced output. */
  run(inputs: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
    for (const [key, info] of Object.entries(this.graph.inputs)) {
      const t = inputs[key];
      if (!t) throw new Error(`graph function: input "${key}" missing`);
      if (t.dtype !== info.dtype || t.shape.join(",") !== info.shape.join(",")) {
        throw new Error(`graph function: input "${key}" is ${t.dtype}[${t.shape}], the graph was traced with ${info.dtype}[${info.shape}]`);
      }
    }
    const keys = Object.keys(this.graph.outputs);
    const out = this.model.predict(inputs) as tf.Tensor | tf.Tensor[] | Record<string, tf.Tensor>;
    // tfjs-node returns a bare tensor for a single output.
    if (out instanceof tf.Tensor) return { [keys[0]]: out };
    return out as Record<string, tf.Tensor>;
  }

  /** Releases the loaded SavedModel. */
  dispose(): void {
    this.model.dispose();
  }
}
