/**
 * TensorBoard event-file writer in pure TypeScript (no TensorFlow, no protobuf library).
 *
 * An event file is a sequence of TFRecords; each record holds one serialized `tensorboard.Event` protobuf:
 *
 *   uint64 length (little-endian) | uint32 masked_crc32c(length bytes) | data[length] | uint32 masked_crc32c(data)
 *
 * Protobuf messages written here (field numbers from tensorboard/compat/proto/{event,summary,tensor}.proto):
 *
 *   Event           { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *   Summary         { repeated Value value = 1; }
 *   Summary.Value   { string tag = 1; float simple_value = 2; TensorProto tensor = 8; SummaryMetadata metadata = 9; }
 *   SummaryMetadata { PluginData plugin_data = 1; }   PluginData { string plugin_name = 1; bytes content = 2; }
 *   TensorProto     { DataType dtype = 1; TensorShapeProto tensor_shape = 2; repeated bytes string_val = 8; }
 *   TensorShapeProto{ repeated Dim dim = 2; }         Dim { int64 size = 1; }
 *
 * Scalars are written as `simple_value` (what torch.utils.tensorboard / tensorboardX write, and what
 * `EventAccumulator.Scalars()` reads) with `plugin_name: "scalars"` metadata. Text is written the way
 * `torch.utils.tensorboard.SummaryWriter.add_text` does: tag `<tag>/text_summary`, a DT_STRING tensor of shape [1],
 * `plugin_name: "text"`. Tag names for trainer logs follow transformers' `TensorBoardCallback` (`rewrite_logs`):
 * `eval_x` -> `eval/x`, `test_x` -> `test/x`, anything else -> `train/x`.
 *
 * Every record is appended with a synchronous write, so a crash after `addScalar` returns loses nothing
 * that the OS has accepted; `flush()` additionally fsyncs.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ProtoWriter, encodeMessage } from "../util/proto";

// ---------------------------------------------------------------------------------------------------------------
// CRC32C (Castagnoli, reflected polynomial 0x82F63B78) and TFRecord masking.

const CRC32C_TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC32C of `data` (uint32). crc32c("123456789") === 0xE3069283. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC32C_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The masked CRC used by TFRecord: rotate right by 15 bits and add 0xa282ead8 (mod 2^32). */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** Frame one record: length, masked CRC of the length, data, masked CRC of the data. */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(8 + 4 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

const DT_STRING = 7; // tensorboard.DataType.DT_STRING

/** SummaryMetadata { plugin_data: { plugin_name } }. The plugins' own `content` protos (ScalarPluginData,
 *  TextPluginData) are version 0 and serialize to zero bytes, so `content` is omitted. */
function pluginMetadata(w: ProtoWriter, pluginName: string): void {
  w.message(1, (data) => data.string(1, pluginName));
}

/** Writes a `Summary.Value` into w. */
type SummaryValue = (w: ProtoWriter) => void;

/** `Summary.Value` for a scalar. */
function scalarValue(tag: string, value: number): SummaryValue {
  return (w) =>
    w
      .string(1, tag)
      .float(2, value)
      .message(9, (m) => pluginMetadata(m, "scalars"));
}

/** `Summary.Value` for text (a DT_STRING tensor of shape [1], text plugin). */
function textValue(tag: string, text: string): SummaryValue {
  return (w) =>
    w
      .string(1, tag)
      .message(8, (tensor) =>
        tensor
          .int(1, DT_STRING)
          .message(2, (shape) => shape.message(2, (dim) => dim.int(1, 1))) // dim { size: 1 }
          .string(8, text),
      )
      .message(9, (m) => pluginMetadata(m, "text"));
}

function encodeEvent(e: { wallTime: number; step?: number; fileVersion?: string; values?: SummaryValue[] }): Uint8Array {
  return encodeMessage((w) => {
    w.double(1, e.wallTime);
    if (e.step !== undefined) w.int(2, e.step);
    if (e.fileVersion !== undefined) w.string(3, e.fileVersion);
    const values = e.values;
    if (values) w.message(5, (summary) => values.forEach((v) => summary.message(1, v)));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Tag naming, as transformers' TensorBoardCallback (integrations/integration_utils.py: rewrite_logs).

/** Map a Trainer log key to its TensorBoard tag: `eval_loss` -> `eval/loss`, `loss` -> `train/loss`. */
export function tensorboardTag(key: string): string {
  if (key.startsWith("eval_")) return "eval/" + key.slice(5);
  if (key.startsWith("test_")) return "test/" + key.slice(5);
  return "train/" + key;
}

let fileCounter = 0;

/** Options for {@link SummaryWriter}. */
export interface SummaryWriterOptions {
  /** Appended to the file name (like tensorboardX's `filename_suffix`). */
  filenameSuffix?: string;
}

/**
 * Writes TensorBoard event files: `new SummaryWriter("runs/dpo")`, then `addScalar`, `addScalars(logEntry)`,
 * `addText`, `addHparams`, and `close()`. Each instance creates its own file
 * `events.out.tfevents.<secs>.<hostname>.<pid>.<n>` in `logdir`.
 */
export class SummaryWriter {
  /** The folder the event file is in. */
  readonly logdir: string;
  /** The event file (events.out.tfevents.…). */
  readonly filePath: string;
  private fd: number | null;

  constructor(logdir: string, opts: SummaryWriterOptions = {}) {
    this.logdir = logdir;
    fs.mkdirSync(logdir, { recursive: true });
    const secs = Math.floor(Date.now() / 1000);
    const name = `events.out.tfevents.${String(secs).padStart(10, "0")}.${os.hostname()}.${process.pid}.${fileCounter++}`;
    this.filePath = path.join(logdir, name + (opts.filenameSuffix ?? ""));
    this.fd = fs.openSync(this.filePath, "a");
    // The first record of every event file names the format version.
    this.writeEvent(encodeEvent({ wallTime: Date.now() / 1000, fileVersion: "brain.Event:2" }));
  }

  private writeEvent(event: Uint8Array): void {
    if (this.fd === null) throw new Error(`SummaryWriter(${this.logdir}): write after close()`);
    const rec = tfRecord(event);
    let off = 0;
    while (off < rec.length) off += fs.writeSync(this.fd, rec, off, rec.length - off);
  }

  private checkStep(step: number, what: string): void {
    if (!Number.isSafeInteger(step)) throw new Error(`SummaryWriter.${what}: step must be an integer, got ${step}`);
  }

  /** One scalar (stored as float32, as TensorBoard does). `wallTime` in seconds, default now. */
  addScalar(tag: string, value: number, step: number, wallTime: number = Date.now() / 1000): void {
    this.checkStep(step, "addScalar");
    if (typeof value !== "number") throw new Error(`SummaryWriter.addScalar(${tag}): value must be a number`);
    this.writeEvent(encodeEvent({ wallTime, step, values: [scalarValue(tag, value)] }));
  }

  /**
   * A trainer log entry (`{ step, loss, "rewards/chosen", eval_loss, ... }`), tagged like transformers'
   * TensorBoardCallback: `train/loss`, `train/rewards/chosen`, `eval/loss`. Numbers become scalars, strings
   * become text (as the callback does); `step` itself is the x axis. All values go in one event.
   */
  addScalars(entry: { step: number; [key: string]: unknown }, wallTime: number = Date.now() / 1000): void {
    this.checkStep(entry.step, "addScalars");
    const values: SummaryValue[] = [];
    for (const [k, v] of Object.entries(entry)) {
      if (k === "step") continue;
      if (typeof v === "number") values.push(scalarValue(tensorboardTag(k), v));
      else if (typeof v === "string") values.push(textValue(tensorboardTag(k) + "/text_summary", v));
    }
    if (values.length > 0) this.writeEvent(encodeEvent({ wallTime, step: entry.step, values }));
  }

  /** Markdown text for TensorBoard's Text tab, under tag `<tag>/text_summary` (as torch's add_text). */
  addText(tag: string, markdown: string, step = 0, wallTime: number = Date.now() / 1000): void {
    this.checkStep(step, "addText");
    this.writeEvent(encodeEvent({ wallTime, step, values: [textValue(tag + "/text_summary", markdown)] }));
  }

  /**
   * Hyperparameters as a markdown table in the Text tab (tag `<tag>/text_summary`, default tag `args`, where
   * transformers' TensorBoardCallback puts `TrainingArguments`). Nested values are shown as JSON.
   */
  addHparams(config: Record<string, unknown>, tag = "args", step = 0): void {
    this.addText(tag, hparamsMarkdown(config), step);
  }

  /** Flush to disk (fsync). Records are already written synchronously; this guards against OS crashes. */
  flush(): void {
    if (this.fd !== null) fs.fsyncSync(this.fd);
  }

  /** Flushes the event file to disk and closes it; later calls do nothing. */
  close(): void {
    if (this.fd === null) return;
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** `| key | value |` markdown table of a config object (values JSON-encoded; `|` escaped). */
export function hparamsMarkdown(config: Record<string, unknown>): string {
  const cell = (s: string) => s.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
  const rows = Object.keys(config)
    .sort()
    .map((k) => {
      const v = config[k];
      const s = typeof v === "string" ? v : (JSON.stringify(v) ?? String(v));
      return `| ${cell(k)} | ${cell(s)} |`;
    });
  return ["| parameter | value |", "|---|---|", ...rows].join("\n");
}
