/**
 * Graph-level clean-up of a traced op record before it becomes a GraphDef: fewer nodes for TensorFlow's graph
 * optimiser (grappler) to work through when a graph is loaded, which is most of a compiled update's compile time.
 *
 * Rewrites, each leaving every value the same (they only remove work):
 *   - Identity, a Reshape to the shape its input already has, a Cast to the dtype its input already has: the op's
 *     output is its input;
 *   - Reshape of a Reshape: reshapes the first one's input directly (a reshape depends only on the element count);
 *   - common subexpressions: an op with the same op name, attributes and (resolved) inputs as an earlier one is that
 *     one (random ops excepted). Ops traced under different tags (tracedAs) differ in their tag and are never merged.
 * Ops left without users are dropped afterwards by the trace's liveness walk.
 */

/** What simplify reads of one recorded op: its TF op name, attributes, inputs and outputs with their shapes and dtypes. */
export interface SimplifiableOp {
  op: string;
  tag: string | null;
  attrs: { name: string; value: unknown }[];
  /** Tensor identities (dataIds) of the inputs; rewritten in place to the tensors they resolve to. */
  inputs: object[];
  inputShapes: number[][];
  inputDtypes: string[];
  outputs: object[];
  outputShapes: number[][];
  outputDtypes: string[];
  /** Control dependencies (tensors whose producers must run first): ops that wait for different ones are never merged. */
  after?: object[];
}

/** How many ops each rewrite removed or rewired. */
export interface SimplifyStats {
  identities: number;
  reshapeChains: number;
  duplicates: number;
}

/** Ops whose two calls on the same inputs may give different values. */
const NOT_PURE = /Random|Multinomial|Shuffle|Dropout|Variable|Assign/;

const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Rewrites ops' inputs in place and returns the alias of each tensor an op no longer produces (tensor → the tensor
 * that holds its value). constKey names a tensor no op produced (a constant) by its content, so that ops reading
 * equal constants are recognised as duplicates; it returns undefined for the graph's inputs.
 */
export function simplifyOps(ops: SimplifiableOp[], constKey: (dataId: object) => string | undefined): { alias: Map<object, object>; stats: SimplifyStats } {
  const alias = new Map<object, object>();
  const resolve = (id: object) => alias.get(id) ?? id;
  const producer = new Map<object, SimplifiableOp>();
  const ids = new Map<object, number>();
  const idOf = (id: object) => {
    const key = constKey(id);
    if (key !== undefined) return key;
    let n = ids.get(id);
    if (n === undefined) ids.set(id, (n = ids.size));
    return `#${n}`;
  };
  const seen = new Map<string, SimplifiableOp>();
  const stats: SimplifyStats = { identities: 0, reshapeChains: 0, duplicates: 0 };
  const dstType = (op: SimplifiableOp) => op.attrs.find((a) => a.name === "DstT")?.value;

  for (const op of ops) {
    op.inputs = op.inputs.map(resolve);
    const single = op.outputs.length === 1;
    const isIdentity =
      single &&
      (op.op === "Identity" ||
        (op.op === "Reshape" && sameShape(op.inputShapes[0], op.outputShapes[0])) ||
        (op.op === "Cast" && op.inputDtypes[0] === op.outputDtypes[0] && dstType(op) !== undefined));
    if (isIdentity) {
      alias.set(op.outputs[0], op.inputs[0]);
      stats.identities++;
      continue;
    }
    if (op.op === "Reshape") {
      const inner = producer.get(op.inputs[0]);
      if (inner?.op === "Reshape") {
        op.inputs[0] = inner.inputs[0];
        op.inputShapes[0] = inner.inputShapes[0];
        stats.reshapeChains++;
        if (sameShape(op.inputShapes[0], op.outputShapes[0])) {
          alias.set(op.outputs[0], op.inputs[0]);
          stats.identities++;
          continue;
        }
      }
    }
    if (!NOT_PURE.test(op.op)) {
      const key = `${op.op}|${op.tag}|${op.inputs.map(idOf).join(",")}|${(op.after ?? []).map((id) => idOf(resolve(id))).join(",")}|${JSON.stringify(op.attrs)}`;
      const earlier = seen.get(key);
      if (earlier && earlier.outputs.length === op.outputs.length) {
        op.outputs.forEach((out, k) => alias.set(out, earlier.outputs[k]));
        stats.duplicates++;
        continue;
      }
      seen.set(key, op);
    }
    op.outputs.forEach((out) => producer.set(out, op));
  }
  return { alias, stats };
}
