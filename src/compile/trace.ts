/**
 * Eager → graph tracing on the native TensorFlow backend (@tensorflow/tfjs-node[-gpu]).
 *
 * Every tfjs-node kernel reaches libtensorflow through the backend's executeSingleOutput / executeMultipleOutputs
 * (TF op name, attrs, input tensors). While a function runs eagerly, those calls are recorded; the record becomes a
 * TensorFlow GraphDef in which
 *   - the declared inputs are Placeholders,
 *   - tensors no recorded op produced (scalars written from JS, shape vectors of Reshape, …) are Consts, their
 *     values copied when recorded,
 *   - the recorded ops are nodes, and the requested outputs are the signature's outputs (ops they do not need are
 *     left out).
 * The function's eager run is real: tracing is a by-product of one ordinary execution. What the graph cannot see is
 * JavaScript deciding something from a tensor's value mid-function (a data-dependent branch would be frozen):
 * traced functions must not do that, and the tests compare graph and eager runs.
 */
import * as tf from "@tensorflow/tfjs";
import { createHash } from "crypto";
import { AttrValue, NodeDef, TensorInfo, TensorValue } from "./proto";
import { SimplifiableOp, simplifyOps, SimplifyStats } from "./simplify";

/** tfjs-node's op attribute: { name, type: binding.TF_ATTR_*, value }. */
interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

interface TensorRef {
  dataId: object;
  shape: number[];
  dtype: string;
}

/** One recorded op: what simplify reads (src/compile/simplify.ts), with tfjs-node's typed attributes. */
interface RecordedOp extends SimplifiableOp {
  attrs: OpAttr[];
  /** Tensors whose producing ops must run before this op (control dependencies, "^node" inputs). */
  after: object[];
}

/** The scope of tracedAs: its tag, the tensor its roots wait for, and the index of its first recorded op. */
interface TagScope {
  tag: string;
  after: object | null;
  firstOp: number;
}

interface NativeBackend {
  binding: Record<string, number>;
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: TensorRef[]): TensorRef;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: TensorRef[], numOutputs: number): TensorRef[];
  readSync(dataId: object): ArrayLike<number>;
}

/**
 * Type attrs that eager TensorFlow infers from the inputs but a GraphDef node must state; tfjs-node leaves them out.
 * attr name → index of the input whose dtype it is.
 */
const INFERRED_TYPE_ATTRS: Record<string, Record<string, number>> = {
  ExpandDims: { T: 0, Tdim: 1 },
  Where: { T: 0 },
};

/** A constant over this size is reported: weights belong in the inputs, not baked into the graph. */
const LARGE_CONSTANT_BYTES = 1 << 20;

let active: Tracer | null = null;
const patched = new WeakSet<object>();

/** Wraps the native backend's two execute methods (once per backend class) so an active Tracer sees every op. */
function patchBackend(backend: NativeBackend): void {
  const proto = Object.getPrototypeOf(backend);
  if (patched.has(proto)) return;
  patched.add(proto);
  const single = proto.executeSingleOutput;
  const multiple = proto.executeMultipleOutputs;
  proto.executeSingleOutput = function (this: NativeBackend, name: string, attrs: OpAttr[], inputs: TensorRef[]) {
    const out = single.call(this, name, attrs, inputs);
    active?.record(this, name, attrs, inputs, [out]);
    return out;
  };
  proto.executeMultipleOutputs = function (this: NativeBackend, name: string, attrs: OpAttr[], inputs: TensorRef[], numOutputs: number) {
    const outs = multiple.call(this, name, attrs, inputs, numOutputs);
    active?.record(this, name, attrs, inputs, outs);
    return outs;
  };
}

/** The backend a tracer can record: the native TensorFlow one. */
export function nativeBackend(): NativeBackend {
  const backend = tf.backend() as unknown as Partial<NativeBackend>;
  if (tf.getBackend() !== "tensorflow" || typeof backend.executeSingleOutput !== "function" || !backend.binding) {
    throw new Error(`graph tracing needs the native "tensorflow" backend (@tensorflow/tfjs-node); the active backend is "${tf.getBackend()}"`);
  }
  return backend as NativeBackend;
}

/** A graph traced from eager tfjs code: its nodes, named inputs and outputs, and counts of what it holds (ops, constants, placeholders). */
export interface TracedGraph {
  nodes: NodeDef[];
  inputs: Record<string, TensorInfo>;
  outputs: Record<string, TensorInfo>;
  stats: { recordedOps: number; ops: number; consts: number; constBytes: number; placeholders: number; simplified: SimplifyStats };
}

class Tracer {
  private ops: RecordedOp[] = [];
  /** dataId → where it comes from. */
  private producer = new Map<object, { kind: "input"; key: string } | { kind: "op"; index: number; output: number }>();
  private consts = new Map<object, TensorValue>();
  private inputs: { key: string; ref: TensorRef }[] = [];
  private binding: Record<string, number> | null = null;
  /** The innermost tracedAs scope, or null outside one. */
  private scope: TagScope | null = null;

  addInput(key: string, t: tf.Tensor): void {
    if (this.producer.has(t.dataId))
      throw new Error(`trace: input "${key}" is the same tensor as input "${(this.producer.get(t.dataId) as { key: string }).key}"`);
    this.producer.set(t.dataId, { kind: "input", key });
    this.inputs.push({ key, ref: { dataId: t.dataId, shape: t.shape.slice(), dtype: t.dtype } });
  }

  record(backend: NativeBackend, op: string, attrs: OpAttr[], inputs: TensorRef[], outputs: TensorRef[]): void {
    this.binding = backend.binding;
    const inputIds = inputs.map((t) => {
      if (!this.producer.has(t.dataId) && !this.consts.has(t.dataId)) {
        // Kernels dispose their helper tensors (shapes, axes) right after the op: copy the value now.
        const values = backend.readSync(t.dataId) as Float32Array | Int32Array | Uint8Array;
        this.consts.set(t.dataId, { dtype: t.dtype, shape: t.shape.slice(), values: values.slice() });
      }
      return t.dataId;
    });
    // A root of a scope with `after` (an op that reads nothing the scope computed) waits for `after`'s producer.
    const scope = this.scope;
    const isRoot =
      scope?.after &&
      inputs.every((t) => {
        const source = this.producer.get(t.dataId);
        return source?.kind !== "op" || source.index < scope.firstOp;
      });
    outputs.forEach((o, k) => this.producer.set(o.dataId, { kind: "op", index: this.ops.length, output: k }));
    this.ops.push({
      op,
      tag: scope?.tag ?? null,
      after: isRoot ? [scope!.after!] : [],
      attrs: attrs.map((a) => ({ ...a, value: Array.isArray(a.value) ? a.value.slice() : a.value })),
      inputs: inputIds,
      inputShapes: inputs.map((t) => t.shape.slice()),
      inputDtypes: inputs.map((t) => t.dtype),
      outputs: outputs.map((o) => o.dataId),
      outputShapes: outputs.map((o) => o.shape.slice()),
      outputDtypes: outputs.map((o) => o.dtype),
    });
  }

  /** Runs fn with the ops it records in a tracedAs scope. */
  inScope<R>(tag: string, after: tf.Tensor | null, fn: () => R): R {
    const outer = this.scope;
    this.scope = { tag, after: after ? after.dataId : null, firstOp: this.ops.length };
    try {
      return fn();
    } finally {
      this.scope = outer;
    }
  }

  private attrValue(a: OpAttr): AttrValue {
    const b = this.binding!;
    const list = Array.isArray(a.value);
    switch (a.type) {
      case b.TF_ATTR_STRING:
        return { s: String(a.value) };
      case b.TF_ATTR_INT:
        return list ? { list: { i: a.value as number[] } } : { i: a.value as number };
      case b.TF_ATTR_FLOAT:
        return list ? { list: { f: a.value as number[] } } : { f: a.value as number };
      case b.TF_ATTR_BOOL:
        return list ? { list: { b: a.value as boolean[] } } : { b: Boolean(a.value) };
      case b.TF_ATTR_TYPE:
        return { type: a.value as number };
      case b.TF_ATTR_SHAPE:
        return { shape: a.value as number[] };
      default:
        throw new Error(`trace: attr ${a.name} has a type (${a.type}) a GraphDef node cannot carry here`);
    }
  }

  build(outputs: Record<string, tf.Tensor>): TracedGraph {
    const nodes: NodeDef[] = [];
    const used = new Set<string>();
    const uniqueName = (base: string) => {
      let name = base.replace(/[^A-Za-z0-9_.\-/]/g, "_");
      if (!/^[A-Za-z0-9.]/.test(name)) name = `n${name}`;
      for (let i = 1; used.has(name); i++) name = `${base.replace(/[^A-Za-z0-9_.\-/]/g, "_")}_${i}`;
      used.add(name);
      return name;
    };
    const add = (op: string, input: string[], attr: Record<string, AttrValue>, base = op) => {
      const name = uniqueName(base);
      nodes.push({ name, op, input, attr });
      return name;
    };
    const contentKey = (c: TensorValue) => {
      const values = c.values!;
      const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      return `${c.dtype}|${c.shape}|${createHash("sha1").update(bytes).digest("hex")}`;
    };
    const constKeys = new Map<object, string>();
    const constKey = (dataId: object) => {
      const c = this.consts.get(dataId);
      if (!c) return undefined;
      let key = constKeys.get(dataId);
      if (key === undefined) constKeys.set(dataId, (key = `const ${contentKey(c)}`));
      return key;
    };
    const { alias, stats: simplified } = simplifyOps(this.ops, constKey);
    const resolve = (dataId: object) => alias.get(dataId) ?? dataId;
    const stats = { recordedOps: this.ops.length, ops: 0, consts: 0, constBytes: 0, placeholders: 0, simplified };

    // Ops the outputs need, walking back from them.
    const live = new Uint8Array(this.ops.length);
    const stack: number[] = [];
    const need = (dataId: object) => {
      const source = this.producer.get(dataId);
      if (source?.kind === "op" && !live[source.index]) {
        live[source.index] = 1;
        stack.push(source.index);
      }
    };
    Object.values(outputs).forEach((t) => need(resolve(t.dataId)));
    while (stack.length) {
      const r = this.ops[stack.pop()!];
      r.inputs.forEach(need);
      r.after.forEach((id) => need(resolve(id)));
    }

    const tensorName = new Map<object, string>();
    const signatureInputs: Record<string, TensorInfo> = {};
    for (const { key, ref } of this.inputs) {
      const name = add("Placeholder", [], { dtype: { type: ref.dtype }, shape: { shape: ref.shape } }, `in/${key}`);
      tensorName.set(ref.dataId, `${name}:0`);
      signatureInputs[key] = { name: `${name}:0`, dtype: ref.dtype, shape: ref.shape };
      stats.placeholders++;
    }

    const constByContent = new Map<string, string>();
    const constant = (c: TensorValue) => {
      const values = c.values!;
      const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      const key = contentKey(c);
      let name = constByContent.get(key);
      if (!name) {
        const uniform = values.length > 1 && values.every((v) => v === values[0]);
        name = add("Const", [], { dtype: { type: c.dtype }, value: { tensor: uniform ? { dtype: c.dtype, shape: c.shape, splat: values[0] } : c } }, "const");
        constByContent.set(key, name);
        stats.consts++;
        if (!uniform) {
          stats.constBytes += bytes.length;
          if (bytes.length > LARGE_CONSTANT_BYTES)
            throw new Error(`trace: a ${c.dtype}[${c.shape}] constant (${bytes.length} bytes) would be baked into the graph; pass it as an input`);
        }
      }
      return `${name}:0`;
    };
    const ref = (dataId: object) => {
      let name = tensorName.get(dataId);
      if (!name) {
        const c = this.consts.get(dataId);
        if (!c) throw new Error("trace: a tensor was produced outside the trace and is not an input");
        name = constant(c);
        tensorName.set(dataId, name);
      }
      return name;
    };

    this.ops.forEach((r, i) => {
      if (!live[i]) return;
      const attr: Record<string, AttrValue> = {};
      r.attrs.forEach((a) => (attr[a.name] = this.attrValue(a)));
      if (r.tag) attr._dpo_ts_tag = { s: r.tag };
      Object.entries(INFERRED_TYPE_ATTRS[r.op] ?? {}).forEach(([name, index]) => {
        if (!(name in attr)) attr[name] = { type: r.inputDtypes[index] };
      });
      const control = r.after.map((id) => `^${ref(resolve(id)).replace(/:\d+$/, "")}`);
      const name = add(r.op, [...r.inputs.map(ref), ...control], attr);
      r.outputs.forEach((id, k) => tensorName.set(id, `${name}:${k}`));
      stats.ops++;
    });

    const signatureOutputs: Record<string, TensorInfo> = {};
    for (const [key, t] of Object.entries(outputs)) {
      const source = resolve(t.dataId);
      let name = ref(source);
      // A fetched Placeholder or Const gets an Identity node of its own.
      if (this.producer.get(source)?.kind !== "op") name = `${add("Identity", [name], { T: { type: t.dtype } }, `out/${key}`)}:0`;
      signatureOutputs[key] = { name, dtype: t.dtype, shape: t.shape.slice() };
    }
    return { nodes, inputs: signatureInputs, outputs: signatureOutputs, stats };
  }
}

/**
 * Runs fn with its recorded ops marked by an internal attribute (_dpo_ts_tag). Gradient checkpointing marks its
 * recomputation: ops identical to the forward pass's would otherwise be merged with them by TensorFlow's graph
 * optimiser (common-subexpression elimination), and the activations checkpointing frees would be kept after all.
 * When `after` is given (checkpointing passes the incoming gradient), fn's ops that read nothing fn computed wait for
 * the op that produced `after`: a graph runs an op as soon as its inputs exist, so without that edge the
 * recomputation would run during the forward pass and every block's activations would be live at once.
 * Outside a trace it only runs fn.
 */
export function tracedAs<R>(tag: string, fn: () => R, after?: tf.Tensor): R {
  if (!active) return fn();
  return active.inScope(tag, after ?? null, fn);
}

/**
 * Runs fn eagerly while recording its TensorFlow ops, and returns fn's result with the graph that computes the
 * result's tensors from the given inputs. Tracing is not re-entrant.
 */
export function traceGraph<R extends Record<string, tf.Tensor>>(inputs: Record<string, tf.Tensor>, fn: () => R): { result: R; graph: TracedGraph } {
  const backend = nativeBackend();
  patchBackend(backend);
  if (active) throw new Error("trace: already tracing");
  const tracer = new Tracer();
  Object.entries(inputs).forEach(([key, t]) => tracer.addInput(key, t));
  active = tracer;
  let result: R;
  try {
    result = fn();
  } finally {
    active = null;
  }
  return { result, graph: tracer.build(result) };
}
