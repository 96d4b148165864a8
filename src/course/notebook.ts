/**
 * Jupyter notebooks (nbformat 4.5) as typed TypeScript values: read, validate, build and write `.ipynb` files.
 *
 * In memory every multi-line string (cell `source`, stream `text`, text-like MIME data) is one `string`;
 * on disk it is written the way Python's `nbformat` writes it (a list of lines, keys sorted, indent 1), so a
 * notebook written here diffs cleanly against one saved by Jupyter.
 */
import * as fs from "fs";
import * as path from "path";
import { randomBytes } from "crypto";

/** The kernelspec every course notebook names (installed by `dpo-ts kernel install`). */
export const DPO_TS_KERNELSPEC: KernelSpecMetadata = {
  name: "dpo-ts",
  display_name: "TypeScript (dpo-ts)",
  language: "typescript",
};

/**
 * `metadata.language_info` exactly as tslab's kernel reports it in its kernel_info reply (tslab/dist/jupyter.js,
 * `handleKernel`). JupyterLab copies the kernel's language_info into the notebook when the kernel starts: a notebook
 * that stores anything else is marked modified the moment it opens. tests/notebooks.test.ts compares this with tslab.
 */
export const TSLAB_LANGUAGE_INFO = {
  codemirror_mode: { mode: "typescript", name: "javascript", typescript: true },
  file_extension: ".ts",
  mimetype: "text/typescript",
  name: "typescript",
  version: "3.7.2",
};

/** A MIME bundle: MIME type -> data (string, base64 string for binary types, or JSON for `*json` types). */
export type MimeBundle = Record<string, unknown>;

/** An nbformat 4 stream output (stdout / stderr text). */
export interface StreamOutput {
  output_type: "stream";
  name: "stdout" | "stderr";
  text: string;
}

/** An nbformat 4 display_data output (a MIME bundle). */
export interface DisplayDataOutput {
  output_type: "display_data";
  data: MimeBundle;
  metadata: Record<string, unknown>;
}

/** An nbformat 4 execute_result output (the value of a cell's last expression). */
export interface ExecuteResultOutput {
  output_type: "execute_result";
  execution_count: number | null;
  data: MimeBundle;
  metadata: Record<string, unknown>;
}

/** An nbformat 4 error output (exception name, message and traceback). */
export interface ErrorOutput {
  output_type: "error";
  ename: string;
  evalue: string;
  traceback: string[];
}

/** Any nbformat 4 code-cell output. */
export type CellOutput = StreamOutput | DisplayDataOutput | ExecuteResultOutput | ErrorOutput;

/** A cell's metadata: tags and whatever else Jupyter keeps there. */
export interface CellMetadata {
  /** Papermill convention: a code cell tagged "parameters" holds the notebook's parameters (declared with `let`). */
  tags?: string[];
  [key: string]: unknown;
}

/** An nbformat 4 code cell (source as one string; outputs and execution count). */
export interface CodeCell {
  cell_type: "code";
  id: string;
  source: string;
  metadata: CellMetadata;
  outputs: CellOutput[];
  execution_count: number | null;
}

/** An nbformat 4 markdown cell. */
export interface MarkdownCell {
  cell_type: "markdown";
  id: string;
  source: string;
  metadata: CellMetadata;
  attachments?: Record<string, MimeBundle>;
}

/** An nbformat 4 raw cell. */
export interface RawCell {
  cell_type: "raw";
  id: string;
  source: string;
  metadata: CellMetadata;
  attachments?: Record<string, MimeBundle>;
}

/** Any nbformat 4 cell. */
export type Cell = CodeCell | MarkdownCell | RawCell;

/** metadata.kernelspec of a notebook: which kernel Jupyter starts for it. */
export interface KernelSpecMetadata {
  name: string;
  display_name: string;
  language?: string;
}

/** A notebook's metadata (kernelspec, language_info and whatever else Jupyter keeps there). */
export interface NotebookMetadata {
  kernelspec?: KernelSpecMetadata;
  language_info?: { name: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** An nbformat 4 notebook, with every cell's source joined into one string. */
export interface Notebook {
  nbformat: 4;
  nbformat_minor: number;
  metadata: NotebookMetadata;
  cells: Cell[];
}

/** A new random cell id (8 hex chars; nbformat 4.5 allows 1-64 chars of [a-zA-Z0-9-_]). */
export function newCellId(): string {
  return randomBytes(4).toString("hex");
}

/** A new code cell with a fresh id, no outputs and the given tags. */
export function codeCell(source: string, opts: { tags?: string[]; metadata?: CellMetadata; id?: string } = {}): CodeCell {
  return {
    cell_type: "code",
    id: opts.id ?? newCellId(),
    source,
    metadata: withTags(opts.metadata ?? {}, opts.tags),
    outputs: [],
    execution_count: null,
  };
}

/** A new markdown cell with a fresh id and the given tags. */
export function markdownCell(source: string, opts: { tags?: string[]; metadata?: CellMetadata; id?: string } = {}): MarkdownCell {
  return { cell_type: "markdown", id: opts.id ?? newCellId(), source, metadata: withTags(opts.metadata ?? {}, opts.tags) };
}

function withTags(metadata: CellMetadata, tags: string[] | undefined): CellMetadata {
  return tags && tags.length > 0 ? { ...metadata, tags: [...tags] } : { ...metadata };
}

/** A new notebook for the dpo-ts TypeScript kernel (nbformat 4.5). */
export function newNotebook(cells: Cell[] = [], metadata: NotebookMetadata = {}): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { ...DPO_TS_KERNELSPEC },
      language_info: structuredClone(TSLAB_LANGUAGE_INFO),
      ...metadata,
    },
    cells,
  };
}

/** A cell's tags (metadata.tags), non-string entries left out. */
export function cellTags(cell: Cell): string[] {
  const tags = cell.metadata.tags;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === "string") : [];
}

/** Index of the first code cell tagged "parameters", or -1. */
export function findParametersCell(nb: Notebook): number {
  return nb.cells.findIndex((c) => c.cell_type === "code" && cellTags(c).includes("parameters"));
}

/** Reads and validates an `.ipynb` file. Errors name the file and the offending field. */
export function readNotebook(file: string): Notebook {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`${file}: cannot read notebook: ${(e as Error).message}`);
  }
  return parseNotebook(text, file);
}

/** Parses and validates notebook JSON text (nbformat 4; 4.0-4.4 cells without ids get fresh ids). */
export function parseNotebook(text: string, file = "<notebook>"): Notebook {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    let where = "";
    if (m) {
      const pos = Number(m[1]);
      const before = text.slice(0, pos);
      const line = before.split("\n").length;
      const col = pos - before.lastIndexOf("\n");
      where = `:${line}:${col}`;
    }
    throw new Error(`${file}${where}: invalid notebook JSON: ${msg}`);
  }
  const fail = (field: string, what: string): never => {
    throw new Error(`${file}: ${field}: ${what}`);
  };
  if (!isObject(raw)) return fail("(root)", "expected a JSON object");
  if (raw.nbformat !== 4) return fail("nbformat", `expected 4, got ${JSON.stringify(raw.nbformat)}`);
  const minor = raw.nbformat_minor;
  if (typeof minor !== "number" || !Number.isInteger(minor) || minor < 0) {
    return fail("nbformat_minor", `expected a non-negative integer, got ${JSON.stringify(minor)}`);
  }
  const metadata = raw.metadata ?? {};
  if (!isObject(metadata)) return fail("metadata", "expected an object");
  if (!Array.isArray(raw.cells)) return fail("cells", "expected an array");
  const seen = new Set<string>();
  const cells = raw.cells.map((c: unknown, i: number): Cell => {
    const at = `cells[${i}]`;
    if (!isObject(c)) return fail(at, "expected an object");
    const source = joinMultiline(c.source, `${at}.source`, fail);
    const cellMeta = c.metadata ?? {};
    if (!isObject(cellMeta)) return fail(`${at}.metadata`, "expected an object");
    if (cellMeta.tags !== undefined && !(Array.isArray(cellMeta.tags) && cellMeta.tags.every((t) => typeof t === "string"))) {
      return fail(`${at}.metadata.tags`, "expected an array of strings");
    }
    let id: string;
    if (c.id === undefined) {
      id = newCellId();
    } else if (typeof c.id !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(c.id)) {
      return fail(`${at}.id`, `expected 1-64 characters of [a-zA-Z0-9-_], got ${JSON.stringify(c.id)}`);
    } else {
      id = c.id;
    }
    if (seen.has(id)) return fail(`${at}.id`, `duplicate cell id ${JSON.stringify(id)}`);
    seen.add(id);
    switch (c.cell_type) {
      case "code": {
        const ec = c.execution_count ?? null;
        if (ec !== null && (typeof ec !== "number" || !Number.isInteger(ec))) {
          return fail(`${at}.execution_count`, `expected an integer or null, got ${JSON.stringify(ec)}`);
        }
        const outs = c.outputs ?? [];
        if (!Array.isArray(outs)) return fail(`${at}.outputs`, "expected an array");
        const outputs = outs.map((o: unknown, j: number) => parseOutput(o, `${at}.outputs[${j}]`, fail));
        return { cell_type: "code", id, source, metadata: cellMeta as CellMetadata, outputs, execution_count: ec as number | null };
      }
      case "markdown":
      case "raw": {
        const cell: MarkdownCell | RawCell = { cell_type: c.cell_type, id, source, metadata: cellMeta as CellMetadata };
        if (c.attachments !== undefined) {
          if (!isObject(c.attachments)) return fail(`${at}.attachments`, "expected an object");
          const att: Record<string, MimeBundle> = {};
          for (const [k, v] of Object.entries(c.attachments)) {
            if (!isObject(v)) return fail(`${at}.attachments.${k}`, "expected a MIME bundle object");
            att[k] = joinBundle(v);
          }
          cell.attachments = att;
        }
        return cell;
      }
      default:
        return fail(`${at}.cell_type`, `expected "code", "markdown" or "raw", got ${JSON.stringify(c.cell_type)}`);
    }
  });
  return { nbformat: 4, nbformat_minor: Math.max(minor, 5), metadata: metadata as NotebookMetadata, cells };
}

function parseOutput(o: unknown, at: string, fail: (field: string, what: string) => never): CellOutput {
  if (!isObject(o)) return fail(at, "expected an object");
  switch (o.output_type) {
    case "stream":
      if (o.name !== "stdout" && o.name !== "stderr") return fail(`${at}.name`, `expected "stdout" or "stderr", got ${JSON.stringify(o.name)}`);
      return { output_type: "stream", name: o.name, text: joinMultiline(o.text, `${at}.text`, fail) };
    case "display_data":
    case "execute_result": {
      if (!isObject(o.data)) return fail(`${at}.data`, "expected a MIME bundle object");
      const metadata = o.metadata ?? {};
      if (!isObject(metadata)) return fail(`${at}.metadata`, "expected an object");
      if (o.output_type === "display_data") return { output_type: "display_data", data: joinBundle(o.data), metadata };
      const ec = o.execution_count ?? null;
      if (ec !== null && typeof ec !== "number") return fail(`${at}.execution_count`, "expected an integer or null");
      return { output_type: "execute_result", execution_count: ec as number | null, data: joinBundle(o.data), metadata };
    }
    case "error":
      if (typeof o.ename !== "string") return fail(`${at}.ename`, "expected a string");
      if (typeof o.evalue !== "string") return fail(`${at}.evalue`, "expected a string");
      if (!Array.isArray(o.traceback) || !o.traceback.every((t) => typeof t === "string")) {
        return fail(`${at}.traceback`, "expected an array of strings");
      }
      return { output_type: "error", ename: o.ename, evalue: o.evalue, traceback: o.traceback as string[] };
    default:
      return fail(`${at}.output_type`, `unknown output_type ${JSON.stringify(o.output_type)}`);
  }
}

function joinMultiline(v: unknown, field: string, fail: (field: string, what: string) => never): string {
  if (v === undefined) return "";
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.every((s) => typeof s === "string")) return v.join("");
  return fail(field, "expected a string or an array of strings");
}

/** MIME types whose string data nbformat stores as a list of lines. */
function isSplitMime(mime: string): boolean {
  return mime.startsWith("text/") || mime === "application/javascript" || mime === "image/svg+xml";
}

function joinBundle(bundle: Record<string, unknown>): MimeBundle {
  const out: MimeBundle = {};
  for (const [mime, v] of Object.entries(bundle)) {
    out[mime] = !isJsonMime(mime) && Array.isArray(v) && v.every((s) => typeof s === "string") ? v.join("") : v;
  }
  return out;
}

function isJsonMime(mime: string): boolean {
  return mime === "application/json" || mime.endsWith("+json");
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Splits like Python's `str.splitlines(True)` restricted to "\n" (what nbformat writes). */
export function splitLines(s: string): string[] {
  return s.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (isObject(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      if (v[k] !== undefined) out[k] = sortKeysDeep(v[k]);
    }
    return out;
  }
  return v;
}

/** The on-disk JSON text of a notebook, as Python's nbformat would write it. */
export function serializeNotebook(nb: Notebook): string {
  const splitBundle = (b: MimeBundle): MimeBundle => {
    const out: MimeBundle = {};
    for (const [mime, v] of Object.entries(b)) out[mime] = typeof v === "string" && isSplitMime(mime) ? splitLines(v) : v;
    return out;
  };
  const cells = nb.cells.map((c) => {
    const base: Record<string, unknown> = { cell_type: c.cell_type, id: c.id, metadata: c.metadata, source: splitLines(c.source) };
    if (c.cell_type === "code") {
      base.execution_count = c.execution_count;
      base.outputs = c.outputs.map((o) => {
        switch (o.output_type) {
          case "stream":
            return { ...o, text: splitLines(o.text) };
          case "display_data":
          case "execute_result":
            return { ...o, data: splitBundle(o.data) };
          default:
            return o;
        }
      });
    } else if (c.attachments) {
      const att: Record<string, MimeBundle> = {};
      for (const [k, v] of Object.entries(c.attachments)) att[k] = splitBundle(v);
      base.attachments = att;
    }
    return base;
  });
  const doc = { cells, metadata: nb.metadata, nbformat: nb.nbformat, nbformat_minor: nb.nbformat_minor };
  return JSON.stringify(sortKeysDeep(doc), null, 1) + "\n";
}

/** Writes a notebook (creating parent folders). */
export function writeNotebook(file: string, nb: Notebook): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, serializeNotebook(nb));
}
