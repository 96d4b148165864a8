/**
 * Rich output from notebook code: whole MIME bundles, and displays that update in place.
 *
 * tslab's public `display.*` sends one MIME type per call. Its kernel keeps the function that publishes
 * `display_data` / `update_display_data` in `require("tslab/dist/jupyter").lastWriteDisplayData`, which takes
 * `{ data: bundle, metadata, transient: { display_id } }` and an `update` flag; these helpers call it directly,
 * so a front end can choose among several representations (e.g. a Plotly chart with a PNG and a text fallback).
 * Outside a kernel or the notebook runner (plain `node` scripts) they print the bundle's text/plain instead.
 */
import { randomBytes } from "crypto";
import type { MimeBundle } from "./notebook";
import { WriteDisplayData, tslabJupyter } from "./tslab";

/** The kernel's (or the runner's) display publisher, or null in a plain `node` script. */
function writer(): WriteDisplayData | null {
  return tslabJupyter()?.lastWriteDisplayData ?? null;
}

function fallback(data: MimeBundle): void {
  const text = data["text/plain"];
  if (typeof text === "string") process.stdout.write(text.endsWith("\n") ? text : text + "\n");
}

/** Binary values (PNG bytes, ...) become base64 strings, as Jupyter expects. */
function normalize(data: MimeBundle): MimeBundle {
  const out: MimeBundle = {};
  for (const [mime, v] of Object.entries(data)) out[mime] = v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v;
  return out;
}

/** Displays one output with several representations (`{ "text/html": ..., "text/plain": ... }`). */
export function displayBundle(data: MimeBundle, metadata: Record<string, unknown> = {}): void {
  const w = writer();
  if (!w) return fallback(data);
  w({ data: normalize(data), metadata }, false);
}

/** One output that later calls replace in place (`update_display_data`), e.g. a live training chart. */
export class LiveDisplay {
  /** The display_id Jupyter updates this display by. */
  readonly id: string;
  private shown = false;
  constructor(id?: string) {
    this.id = id ?? randomBytes(8).toString("hex");
  }
  /** Shows the bundle the first time, then replaces the earlier output. */
  update(data: MimeBundle, metadata: Record<string, unknown> = {}): void {
    const w = writer();
    if (!w) return fallback(data);
    w({ data: normalize(data), metadata, transient: { display_id: this.id } }, this.shown);
    this.shown = true;
  }
}
