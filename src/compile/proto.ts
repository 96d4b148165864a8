/**
 * A protobuf encoder for the TensorFlow messages of a SavedModel (saved_model.pb): SavedModel → MetaGraphDef →
 * GraphDef → NodeDef / AttrValue / TensorProto / TensorShapeProto, and SignatureDef. Encoding only; tfjs-node's
 * own decoder reads what this writes (tests/compile.test.ts).
 *
 * Field numbers, from tensorflow/core/framework/{graph,node_def,attr_value,tensor,tensor_shape,versions}.proto and
 * tensorflow/core/protobuf/{meta_graph,saved_model}.proto:
 *   SavedModel       1 saved_model_schema_version, 2 meta_graphs
 *   MetaGraphDef     1 meta_info_def, 2 graph_def, 5 signature_def (map)
 *   MetaInfoDef      4 tags, 5 tensorflow_version
 *   SignatureDef     1 inputs (map), 2 outputs (map), 3 method_name
 *   TensorInfo       1 name, 2 dtype, 3 tensor_shape
 *   GraphDef         1 node, 4 versions;   VersionDef 1 producer
 *   NodeDef          1 name, 2 op, 3 input, 4 device, 5 attr (map)
 *   AttrValue        1 list, 2 s, 3 i, 4 f, 5 b, 6 type, 7 shape, 8 tensor
 *   ListValue        2 s, 3 i (packed), 4 f (packed), 5 b (packed), 6 type (packed), 7 shape
 *   TensorProto      1 dtype, 2 tensor_shape, 4 tensor_content, 5 float_val, 7 int_val, 11 bool_val
 *   TensorShapeProto 2 dim (Dim: 1 size), 3 unknown_rank
 *   map entries      1 key, 2 value
 */
import { ProtoWriter, encodeMessage } from "../util/proto";

/** TensorFlow's DataType enum (types.proto), which is also TF_DataType in the C API. */
export const DATA_TYPE: Record<string, number> = { float32: 1, int32: 3, uint8: 4, string: 7, complex64: 8, int64: 9, bool: 10 };

/** TensorFlow's DataType code of a tfjs dtype name (numbers pass through); throws on a dtype SavedModel cannot hold here. */
export function dataType(dtype: string | number): number {
  if (typeof dtype === "number") return dtype;
  const code = DATA_TYPE[dtype];
  if (code === undefined) throw new Error(`saved_model: unsupported dtype ${dtype}`);
  return code;
}

/** A tensor value: its elements, or one value repeated over the shape (TF repeats the last listed value). */
export interface TensorValue {
  dtype: string;
  shape: number[];
  values?: Float32Array | Int32Array | Uint8Array;
  splat?: number;
}

/** A NodeDef attribute value, one field of TensorFlow's AttrValue proto. */
export type AttrValue =
  | { s: string }
  | { i: number }
  | { f: number }
  | { b: boolean }
  | { type: string | number }
  | { shape: number[] }
  | { tensor: TensorValue }
  | { list: { i?: number[]; f?: number[]; b?: boolean[]; type?: (string | number)[] } };

/** One node of a TensorFlow GraphDef: its name, op, inputs ("node:index") and attributes. */
export interface NodeDef {
  name: string;
  op: string;
  input: string[];
  attr: Record<string, AttrValue>;
}

/** A signature input or output of a SavedModel: tensor name, dtype and shape. */
export interface TensorInfo {
  /** "node:outputIndex" */
  name: string;
  dtype: string;
  shape: number[];
}

function writeShape(w: ProtoWriter, shape: number[]): void {
  for (const size of shape) w.message(2, (dim) => (size !== 0 ? dim.int(1, size) : dim));
}

function writeTensor(w: ProtoWriter, t: TensorValue): void {
  const code = dataType(t.dtype);
  w.int(1, code);
  w.message(2, (s) => writeShape(s, t.shape));
  if (t.splat !== undefined) {
    if (code === DATA_TYPE.float32) w.packedFloats(5, [t.splat]);
    else if (code === DATA_TYPE.int32 || code === DATA_TYPE.uint8) w.packedVarints(7, [t.splat]);
    else if (code === DATA_TYPE.bool) w.packedVarints(11, [t.splat ? 1 : 0]);
    else throw new Error(`saved_model: no repeated-value form for dtype ${t.dtype}`);
    return;
  }
  const values = t.values!;
  // tensor_content is little-endian raw bytes, which is what x86 and arm64 typed arrays hold.
  w.bytes(4, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

// The value of the AttrValue oneof is always written, defaults (0, false) included: its presence tells TF the kind.
function writeAttr(w: ProtoWriter, a: AttrValue): void {
  if ("list" in a) {
    w.message(1, (l) => {
      if (a.list.i) l.packedVarints(3, a.list.i);
      if (a.list.f) l.packedFloats(4, a.list.f);
      if (a.list.b)
        l.packedVarints(
          5,
          a.list.b.map((x) => (x ? 1 : 0)),
        );
      if (a.list.type) l.packedVarints(6, a.list.type.map(dataType));
    });
  } else if ("s" in a) w.string(2, a.s);
  else if ("i" in a) w.int(3, a.i);
  else if ("f" in a) w.float(4, a.f);
  else if ("b" in a) w.bool(5, a.b);
  else if ("type" in a) w.int(6, dataType(a.type));
  else if ("shape" in a) w.message(7, (s) => writeShape(s, a.shape));
  else w.message(8, (t) => writeTensor(t, a.tensor));
}

function writeNode(w: ProtoWriter, node: NodeDef): void {
  w.string(1, node.name).string(2, node.op);
  node.input.forEach((input) => w.string(3, input));
  w.map(5, node.attr, writeAttr);
}

function writeTensorInfo(w: ProtoWriter, info: TensorInfo): void {
  w.string(1, info.name).int(2, dataType(info.dtype));
  // tfjs-node's loader reads tensor_shape unconditionally.
  w.message(3, (s) => writeShape(s, info.shape));
}

/** GraphDef versions.producer: any version libtensorflow 2.x accepts without deprecation errors. */
const GRAPH_PRODUCER = 1994;

/** saved_model.pb with one MetaGraphDef tagged "serve" and one signature. */
export function encodeSavedModel(opts: {
  nodes: NodeDef[];
  inputs: Record<string, TensorInfo>;
  outputs: Record<string, TensorInfo>;
  signatureKey: string;
}): Uint8Array {
  return encodeMessage((savedModel) => {
    savedModel.int(1, 1);
    savedModel.message(2, (meta) => {
      meta.message(1, (info) => info.string(4, "serve"));
      meta.message(2, (graph) => {
        opts.nodes.forEach((node) => graph.message(1, (n) => writeNode(n, node)));
        graph.message(4, (versions) => versions.int(1, GRAPH_PRODUCER));
      });
      meta.map(5, { [opts.signatureKey]: null }, (signature) => {
        signature.map(1, opts.inputs, writeTensorInfo);
        signature.map(2, opts.outputs, writeTensorInfo);
        signature.string(3, "tensorflow/serving/predict");
      });
    });
  });
}
