/**
 * Render plotly figures to offline HTML: a fragment per figure (notebooks), a Jupyter MIME bundle, and full
 * standalone report pages. plotly.js comes from the installed `plotly.js-basic-dist-min` bundle and is inlined,
 * so nothing is fetched from the network.
 *
 * Where the HTML ends up and what happens there:
 * - Standalone page ({@link htmlPage}): the bundle is inlined once in `<head>`; figures only carry their data.
 * - JupyterLab / Notebook 7, output produced in the running session (trusted): `text/html` scripts run; the
 *   bundle script is guarded by `if (!window.Plotly)`, so it is evaluated once per page however many figures
 *   carry it. JupyterLab renders `application/vnd.plotly.v1+json` instead when the jupyterlab-plotly extension
 *   is installed (it is not part of a plain JupyterLab).
 * - JupyterLab, notebook opened from disk and not trusted (e.g. executed by a script and never signed): the
 *   sanitizer removes every `<script>` (and `data:` image sources), so no interactive plot can appear; the
 *   figure's placeholder text is shown instead ("run the cell or trust the notebook"), with the `text/plain`
 *   summary as the plain-text alternative. Re-running the cell, or File > Trust Notebook, draws it.
 * - Classic notebook: same trust model; scripts run via jQuery when trusted. The bundle's UMD header does not
 *   call `define`, so the require.js the classic notebook loads does not interfere (`window.Plotly` is set).
 * - nbconvert HTML export: `text/html` is copied verbatim (it ranks above other types in nbconvert's
 *   display_data_priority); scripts run when the exported page is opened, offline.
 *
 * Bundle inclusion in fragments (`plotlyJs` option):
 * - "inline" (default): every fragment carries the guarded bundle (~1.2 MB). Robust: each output works alone,
 *   whatever cells are cleared, re-run or reordered; the price is size.
 * - "once": only the first fragment rendered by this process carries the bundle; later ones wait (up to 10 s)
 *   for `window.Plotly`. Fine for notebooks executed top to bottom (nbconvert, the course runner), but a saved
 *   notebook whose first plotting cell was cleared or re-run out of order shows placeholders after a reload.
 * - "none": the caller provides plotly.js (pages from {@link htmlPage} do).
 */
import * as fs from "fs";
import * as path from "path";
import { createRequire } from "module";
import type { PlotlyFigure, Table } from "./plots";

// ---------------------------------------------------------------------------------------------------------------
// The plotly.js bundle

let bundleCache: { js: string; version: string; path: string } | null = null;

function localRequire(): NodeRequire {
  return typeof require === "function" ? require : createRequire(path.join(process.cwd(), "index.js"));
}

/** The installed plotly.js basic bundle: its source, version and path. Read once and cached. */
export function plotlyBundle(): { js: string; version: string; path: string } {
  if (bundleCache) return bundleCache;
  const req = localRequire();
  let file: string;
  try {
    file = req.resolve("plotly.js-basic-dist-min");
  } catch (e) {
    throw new Error(`plotly.js-basic-dist-min is not installed (needed to render figures offline): ${(e as Error).message}`);
  }
  const js = fs.readFileSync(file, "utf8");
  const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(file), "package.json"), "utf8")) as { version: string };
  bundleCache = { js, version: pkg.version, path: file };
  return bundleCache;
}

/** `<script>` that defines `window.Plotly` unless a previous one on the page already did. */
export function plotlyScriptTag(): string {
  const b = plotlyBundle();
  return (
    `<script type="text/javascript" charset="utf-8">/* plotly.js-basic-dist-min ${b.version} (MIT), inlined by dpo-ts */\n` +
    `if (!window.Plotly) {\n${scriptSafe(b.js)}\n}</script>`
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Escaping

/** Escape text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Make JavaScript source safe inside a `<script>` element (no `</script`, no `<!--`). */
function scriptSafe(js: string): string {
  return js.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
}

/** JSON that can be embedded in a `<script>` (and survives being parsed as HTML). NaN/Infinity become null. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

// ---------------------------------------------------------------------------------------------------------------
// Figures

/** Options for {@link figureHtml}. */
export interface FigureHtmlOptions {
  /** How plotly.js gets onto the page: "inline" (default), "once" (first figure of this process), "none". */
  plotlyJs?: "inline" | "once" | "none";
  /** Element id of the plot div (default: random). */
  id?: string;
  /** CSS height of the plot div (default: none when layout.height is set, else 450px). */
  height?: string;
}

let emittedOnce = false;

/** Forget that "once" mode already emitted the bundle (e.g. when starting a new notebook in the same process). */
export function resetPlotlyInclusion(): void {
  emittedOnce = false;
}

let idCounter = 0;
function newId(): string {
  return `dpo-plot-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}-${idCounter++}`;
}

function figureTitle(fig: PlotlyFigure): string {
  const t = fig.layout.title;
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && typeof (t as { text?: unknown }).text === "string") return (t as { text: string }).text;
  return "figure";
}

function fmt(v: unknown): string {
  if (typeof v !== "number") return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toPrecision(4).replace(/\.?0+$/, "");
}

/** Plain-text summary of a figure: title, then one line per trace (points, first → last value). */
export function figureSummary(fig: PlotlyFigure): string {
  const lines = [`Figure: ${figureTitle(fig)}`];
  for (const t of fig.data) {
    const name = typeof t.name === "string" ? t.name : t.type;
    const y = (t.orientation === "h" ? t.x : t.y) as unknown[] | undefined;
    const n = Array.isArray(y) ? y.length : 0;
    if (Array.isArray(y) && n > 0) {
      const ys = y.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
      const range = t.type === "bar" ? `sum ${fmt(ys.reduce((a, b) => a + b, 0))}` : `${fmt(y[0])} → ${fmt(y[n - 1])}`;
      lines.push(`  ${t.type} "${name}": ${n} points, ${range}`);
    } else lines.push(`  ${t.type} "${name}": empty`);
  }
  if (fig.data.length === 0) lines.push("  (no data)");
  return lines.join("\n");
}

/**
 * A self-contained HTML fragment that draws `fig` with plotly.js (offline). Before (or without) JavaScript the
 * plot div shows a placeholder with the figure's title, which the plot replaces.
 */
export function figureHtml(fig: PlotlyFigure, opts: FigureHtmlOptions = {}): string {
  const id = opts.id ?? newId();
  const mode = opts.plotlyJs ?? "inline";
  let includeBundle = mode === "inline";
  if (mode === "once" && !emittedOnce) {
    includeBundle = true;
    emittedOnce = true;
  }
  // With layout.height set, plotly sizes the plot itself and the div needs no height (so the placeholder of an
  // untrusted notebook stays compact); otherwise the div's height is what plotly fills.
  const height = opts.height ?? (typeof fig.layout.height === "number" ? null : "450px");
  const config = { responsive: true, displaylogo: false, ...(fig.config ?? {}) };
  const title = escapeHtml(figureTitle(fig));
  const placeholder =
    `<div class="dpo-plot-placeholder" style="padding:12px;color:#666;font:13px sans-serif;border:1px dashed #ccc;">` +
    `Interactive figure “${title}” (plotly.js). It is drawn by JavaScript: run the cell, or trust the notebook ` +
    `(File &gt; Trust Notebook), or open the HTML in a browser.</div>`;
  // The drawing script waits for both the div (JupyterLab may attach output after running scripts) and
  // window.Plotly ("once" mode: the bundle may be in an earlier output), for up to 10 s. In a page still being parsed
  // it waits for the whole document: a figure drawn while later cards are not parsed yet would take the width of a
  // full grid row, then overflow its card once the row fills. Plotly's `responsive` follows only window resizes,
  // so a ResizeObserver redraws the plot when its container changes width (grid reflow, JupyterLab panels).
  const draw =
    `<script type="text/javascript">(function () {\n` +
    `  var id = ${JSON.stringify(id)}, fig = ${jsonForScript({ data: fig.data, layout: fig.layout, config })}, tries = 0;\n` +
    `  function draw() {\n` +
    `    var gd = document.getElementById(id);\n` +
    `    if (!gd || !window.Plotly) {\n` +
    `      if (tries++ < 200) { setTimeout(draw, 50); return; }\n` +
    `      if (gd) gd.firstChild.textContent = "plotly.js is not loaded on this page, so this figure cannot be drawn: re-run the cell.";\n` +
    `      return;\n` +
    `    }\n` +
    `    gd.innerHTML = "";\n` +
    `    var width = gd.clientWidth;\n` +
    `    window.Plotly.newPlot(gd, fig.data, fig.layout, fig.config).then(function () {\n` +
    `      if (!window.ResizeObserver) return;\n` +
    `      new ResizeObserver(function () {\n` +
    `        if (gd.clientWidth > 0 && gd.clientWidth !== width) { width = gd.clientWidth; window.Plotly.Plots.resize(gd); }\n` +
    `      }).observe(gd);\n` +
    `    });\n` +
    `  }\n` +
    `  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();\n` +
    `})();</script>`;
  return (
    `<div class="dpo-figure">` +
    (includeBundle ? plotlyScriptTag() : "") +
    `<div id="${escapeHtml(id)}" class="plotly-graph-div" style="${height ? `height:${escapeHtml(height)};` : ""}width:100%;">${placeholder}</div>` +
    draw +
    `</div>`
  );
}

/** A Jupyter MIME bundle for `display_data`: plotly JSON, HTML (see {@link figureHtml}) and a text summary. */
export function mimeBundle(
  fig: PlotlyFigure,
  opts: FigureHtmlOptions = {},
): {
  "application/vnd.plotly.v1+json": PlotlyFigure;
  "text/html": string;
  "text/plain": string;
} {
  return {
    "application/vnd.plotly.v1+json": {
      data: JSON.parse(JSON.stringify(fig.data)) as PlotlyFigure["data"],
      layout: JSON.parse(JSON.stringify(fig.layout)) as PlotlyFigure["layout"],
      ...(fig.config ? { config: fig.config } : {}),
    },
    "text/html": figureHtml(fig, opts),
    "text/plain": figureSummary(fig),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Tables

/** Format a table cell: numbers with `digits` significant digits (small/large ones in exponent form). */
export function formatCell(v: string | number | null | undefined, digits = 4): string {
  if (v === null || v === undefined) return "–";
  if (typeof v === "string") return v;
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  // significant digits without trailing zeros: 0.92, 1.845, 5e-6, 1.234e-5
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(digits - 1).replace(/\.?0+e/, "e");
  const t = v.toPrecision(digits);
  return t.includes("e") ? t : t.replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}

/** An HTML `<table>` (numbers right-aligned, missing values as –). */
export function tableHtml(table: Table, opts: { digits?: number; caption?: string; className?: string } = {}): string {
  const head = table.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const body = table.rows
    .map((r) => "<tr>" + r.map((v) => `<td${typeof v === "number" ? ' class="num"' : ""}>${escapeHtml(formatCell(v, opts.digits))}</td>`).join("") + "</tr>")
    .join("\n");
  const caption = opts.caption ? `<caption>${escapeHtml(opts.caption)}</caption>` : "";
  return `<table class="${escapeHtml(opts.className ?? "dpo-table")}">${caption}<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
}

// ---------------------------------------------------------------------------------------------------------------
// Pages

/** A block of a report section. */
export type PageBlock =
  | { kind: "figure"; figure: PlotlyFigure; caption?: string }
  | { kind: "table"; table: Table; caption?: string; digits?: number }
  | { kind: "text"; text: string }
  | { kind: "html"; html: string };

/** A titled section of a report page; figures are laid out in a responsive grid. */
export interface PageSection {
  id?: string;
  title: string;
  intro?: string;
  blocks: PageBlock[];
}

const PAGE_CSS = `
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #222; background: #f6f7f9; }
header { background: #1f2937; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #cbd5e1; font-size: 14px; }
nav { padding: 8px 32px; background: #e5e7eb; font-size: 14px; }
nav a { margin-right: 16px; color: #1f2937; text-decoration: none; }
main { padding: 8px 32px 32px; max-width: 1400px; }
section { margin-top: 24px; }
section h2 { font-size: 18px; border-bottom: 1px solid #d1d5db; padding-bottom: 4px; }
.intro { color: #444; font-size: 14px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
.card { background: #fff; border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px; min-width: 0; }
.card .caption { font-size: 12px; color: #555; margin: 4px 8px; }
.dpo-table { border-collapse: collapse; background: #fff; font-size: 13px; margin: 8px 0; }
.dpo-table caption { text-align: left; font-weight: 600; padding: 4px 0; }
.dpo-table th, .dpo-table td { border: 1px solid #e5e7eb; padding: 4px 10px; text-align: left; vertical-align: top; }
.dpo-table th { background: #f3f4f6; }
.dpo-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre.text { background: #fff; border: 1px solid #e5e7eb; padding: 8px; white-space: pre-wrap; font-size: 13px; }
footer { color: #777; font-size: 12px; padding: 16px 32px; }
`;

function slug(s: string, used: Set<string>): string {
  const base =
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "") || "section";
  let id = base;
  for (let i = 2; used.has(id); i++) id = `${base}-${i}`;
  used.add(id);
  return id;
}

/**
 * A complete, self-contained HTML page (plotly.js inlined once in `<head>`, no network access needed):
 * header with title/subtitle, a table of contents, then sections of figures, tables, text and raw HTML.
 */
export function htmlPage(opts: { title: string; subtitle?: string; sections: PageSection[]; footer?: string; extraCss?: string }): string {
  const used = new Set<string>();
  const sections = opts.sections.map((s) => ({ ...s, id: s.id ?? slug(s.title, used) }));
  const hasFigures = sections.some((s) => s.blocks.some((b) => b.kind === "figure"));
  const nav = sections.map((s) => `<a href="#${escapeHtml(s.id)}">${escapeHtml(s.title)}</a>`).join("");
  const renderSection = (s: PageSection & { id: string }): string => {
    const parts: string[] = [];
    let figs: string[] = [];
    const flush = () => {
      if (figs.length) parts.push(`<div class="grid">${figs.join("\n")}</div>`);
      figs = [];
    };
    for (const b of s.blocks) {
      if (b.kind === "figure") {
        figs.push(
          `<div class="card">${figureHtml(b.figure, { plotlyJs: "none" })}` +
            (b.caption ? `<div class="caption">${escapeHtml(b.caption)}</div>` : "") +
            `</div>`,
        );
        continue;
      }
      flush();
      if (b.kind === "table") parts.push(tableHtml(b.table, { caption: b.caption, digits: b.digits }));
      else if (b.kind === "text") parts.push(`<pre class="text">${escapeHtml(b.text)}</pre>`);
      else parts.push(b.html);
    }
    flush();
    return (
      `<section id="${escapeHtml(s.id)}"><h2>${escapeHtml(s.title)}</h2>` +
      (s.intro ? `<p class="intro">${escapeHtml(s.intro)}</p>` : "") +
      parts.join("\n") +
      `</section>`
    );
  };
  return [
    "<!DOCTYPE html>",
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(opts.title)}</title>`,
    `<style>${PAGE_CSS}${opts.extraCss ?? ""}</style>`,
    hasFigures ? plotlyScriptTag() : "",
    "</head><body>",
    `<header><h1>${escapeHtml(opts.title)}</h1>${opts.subtitle ? `<p>${escapeHtml(opts.subtitle)}</p>` : ""}</header>`,
    sections.length > 1 ? `<nav>${nav}</nav>` : "",
    `<main>${sections.map(renderSection).join("\n")}</main>`,
    opts.footer ? `<footer>${escapeHtml(opts.footer)}</footer>` : "",
    "</body></html>",
  ].join("\n");
}
