/**
 * `writeReport(runDir)`: a self-contained, offline HTML report of a training run, written to `runDir/report.html`.
 *
 * The trainer passes the run's log, config and samples in memory (ReportOptions.log/config/samples); what it does not
 * pass (`dpo-ts report RUN_DIR`) is read from the run directory:
 *   config.json     the run's configuration (optional; shown as a table)
 *   metrics.jsonl   one log entry per line: `{ "step": 10, "loss": 0.69, "rewards/chosen": 0.01, "eval_loss": ... }`
 *   samples.json    optional: `[{ "prompt", "policy", "reference" }]` generations of the trained policy and the
 *                   reference model for the same prompts
 */
import * as fs from "fs";
import * as path from "path";
import { MetricLogEntry, RunLog, compareRunsFigure, compareTable, completionLengthFigure, dpoDashboard, finalMetrics, finalMetricsTable, Table } from "./plots";
import { PageSection, escapeHtml, formatCell, htmlPage } from "./render";

/** A generation of the policy and of the reference model for one prompt. */
export interface SampleGeneration {
  prompt: string;
  policy: string;
  reference: string;
}

/** Read a metrics.jsonl file. Errors name the file, the 1-based line and the field. Blank lines are skipped. */
export function readMetricsLog(file: string): MetricLogEntry[] {
  const text = fs.readFileSync(file, "utf8");
  const out: MetricLogEntry[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: invalid JSON (${(e as Error).message})`);
    }
    if (!obj || typeof obj !== "object" || Array.isArray(obj)) throw new Error(`${file}:${i + 1}: expected a JSON object`);
    const rec = obj as Record<string, unknown>;
    if (typeof rec.step !== "number" || !Number.isFinite(rec.step)) {
      throw new Error(`${file}:${i + 1}: field "step" must be a number, got ${JSON.stringify(rec.step)}`);
    }
    const entry: MetricLogEntry = { step: rec.step };
    for (const [k, v] of Object.entries(rec)) {
      if (k === "step") continue;
      if (typeof v === "number") entry[k] = v;
      else if (v === null) entry[k] = NaN; // JSON has no NaN; writers emit null for it
      // strings and other values are not metrics; they are ignored here
    }
    out.push(entry);
  });
  return out;
}

/** Read samples.json. Errors name the file, the 1-based row and the field. */
export function readSamples(file: string): SampleGeneration[] {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(data)) throw new Error(`${file}: expected a JSON array of {prompt, policy, reference}`);
  return data.map((row, i) => {
    if (!row || typeof row !== "object") throw new Error(`${file}: row ${i + 1}: expected an object`);
    for (const f of ["prompt", "policy", "reference"]) {
      if (typeof (row as Record<string, unknown>)[f] !== "string") {
        throw new Error(`${file}: row ${i + 1}: field "${f}" must be a string`);
      }
    }
    const r = row as SampleGeneration;
    return { prompt: r.prompt, policy: r.policy, reference: r.reference };
  });
}

function configTable(config: Record<string, unknown>): Table {
  return {
    columns: ["parameter", "value"],
    rows: Object.keys(config)
      .sort()
      .map((k) => {
        const v = config[k];
        return [k, typeof v === "number" || typeof v === "string" ? v : (JSON.stringify(v) ?? String(v))];
      }),
  };
}

function samplesHtml(samples: readonly SampleGeneration[], max: number): string {
  const shown = samples.slice(0, max);
  const cards = shown.map(
    (s, i) =>
      `<div class="sample"><div class="prompt"><b>#${i + 1} prompt</b><pre>${escapeHtml(s.prompt)}</pre></div>` +
      `<div class="pair"><div class="gen policy"><b>policy</b><pre>${escapeHtml(s.policy)}</pre></div>` +
      `<div class="gen reference"><b>reference</b><pre>${escapeHtml(s.reference)}</pre></div></div></div>`,
  );
  const more = samples.length > max ? `<p class="intro">Showing ${max} of ${samples.length} samples.</p>` : "";
  return cards.join("\n") + more;
}

const REPORT_CSS = `
.sample { background: #fff; border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px 12px; margin: 12px 0; }
.sample pre { white-space: pre-wrap; word-break: break-word; margin: 4px 0; font-size: 13px; }
.sample .prompt pre { color: #374151; }
.sample .pair { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.sample .gen { border-left: 3px solid #ccc; padding-left: 8px; min-width: 0; }
.sample .policy { border-color: #1f77b4; }
.sample .reference { border-color: #7f7f7f; }
.kv td:first-child { font-family: ui-monospace, monospace; }
`;

/** Options for {@link writeReport} / {@link buildReport}. */
export interface ReportOptions {
  /** Page title (default: "DPO run: <dir name>"). */
  title?: string;
  /** EMA smoothing weight for train curves (default 0.6). */
  smoothing?: number;
  /** Most sample generations shown (default 50). */
  maxSamples?: number;
  /** Extra sections appended at the end. */
  extraSections?: PageSection[];
  /** The run's log entries (instead of reading metrics.jsonl). */
  log?: MetricLogEntry[];
  /** The run's configuration (instead of reading config.json); camelCase (DPOConfig) or snake_case (TRL) keys. */
  config?: Record<string, unknown>;
  /** Sample generations (instead of reading samples.json). */
  samples?: SampleGeneration[];
}

/** Build the report HTML for a run directory without writing it. */
export function buildReport(runDir: string, opts: ReportOptions = {}): string {
  const metricsFile = path.join(runDir, "metrics.jsonl");
  const configFile = path.join(runDir, "config.json");
  const samplesFile = path.join(runDir, "samples.json");
  if (!opts.log && !fs.existsSync(metricsFile)) throw new Error(`${metricsFile}: not found (writeReport needs the run's metric log)`);
  const log = opts.log ?? readMetricsLog(metricsFile);
  let config: Record<string, unknown> | null = opts.config ?? null;
  if (!config && fs.existsSync(configFile)) {
    try {
      config = JSON.parse(fs.readFileSync(configFile, "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`${configFile}: invalid JSON (${(e as Error).message})`);
    }
  }
  const samples = opts.samples ?? (fs.existsSync(samplesFile) ? readSamples(samplesFile) : null);

  const f = finalMetrics(log);
  const sections: PageSection[] = [];

  const summary: Table = { columns: ["", "value"], rows: [["last step", f.step]] };
  const pick: Array<[string, number | undefined]> = [
    ["train loss", f.train.loss],
    ["eval loss", f.eval.loss],
    ["train reward accuracy", f.train["rewards/accuracies"]],
    ["eval reward accuracy", f.eval["rewards/accuracies"]],
    ["train reward margin", f.train["rewards/margins"]],
    ["eval reward margin", f.eval["rewards/margins"]],
  ];
  for (const [k, v] of pick) if (v !== undefined) summary.rows.push([k, v]);
  // config.json holds DPOConfig's camelCase keys; a TRL config has snake_case ones: show either under TRL's name.
  if (config)
    for (const [k, camel] of [
      ["model_name_or_path", "modelNameOrPath"],
      ["model", "model"],
      ["beta", "beta"],
      ["loss_type", "lossType"],
      ["learning_rate", "learningRate"],
    ]) {
      const v = config[camel] ?? config[k];
      if (typeof v === "number" || typeof v === "string") summary.rows.push([k, v]);
      else if (Array.isArray(v) && v.length) summary.rows.push([k, v.join(", ")]);
    }
  sections.push({ id: "summary", title: "Summary", blocks: [{ kind: "table", table: summary }] });

  const beta = typeof config?.beta === "number" ? config.beta : undefined;
  const dash = dpoDashboard(log, { smoothing: opts.smoothing, beta });
  sections.push({
    id: "curves",
    title: "Training curves",
    intro:
      `${log.length} log entries from metrics.jsonl. Train curves are EMA-smoothed (raw values faint); ` +
      `eval points are dashed with markers. Rewards are the implicit DPO rewards β·(log π − log π_ref).`,
    blocks: dash.length ? dash.map((d) => ({ kind: "figure" as const, figure: d.figure })) : [{ kind: "text", text: "No metrics logged." }],
  });

  sections.push({
    id: "final-metrics",
    title: "Final metrics",
    intro: "Last logged value of each metric (eval columns from eval_-prefixed entries).",
    blocks: [{ kind: "table", table: finalMetricsTable(log), digits: 5 }],
  });

  if (samples) {
    const words = (s: string) => (s.trim() ? s.trim().split(/\s+/).length : 0);
    sections.push({
      id: "samples",
      title: "Sample generations",
      intro: `${samples.length} prompts, completions of the trained policy and of the reference model.`,
      blocks: [
        {
          kind: "figure",
          figure: completionLengthFigure(
            { policy: samples.map((s) => words(s.policy)), reference: samples.map((s) => words(s.reference)) },
            { title: "Completion length (words)", unit: "words" },
          ),
        },
        { kind: "html", html: samplesHtml(samples, opts.maxSamples ?? 50) },
      ],
    });
  }

  if (config) {
    sections.push({ id: "config", title: "Configuration", blocks: [{ kind: "html", html: configHtml(config) }] });
  }
  if (opts.extraSections) sections.push(...opts.extraSections);

  const name = path.basename(path.resolve(runDir));
  return htmlPage({
    title: opts.title ?? `DPO run: ${name}`,
    subtitle: `${path.resolve(runDir)} · ${f.step ?? 0} steps · report generated ${new Date().toISOString()}`,
    sections,
    footer: "Generated by dpo-ts. Self-contained: plotly.js is inlined, no network access needed.",
    extraCss: REPORT_CSS,
  });
}

function configHtml(config: Record<string, unknown>): string {
  const t = configTable(config);
  const rows = t.rows
    .map((r) => `<tr><td>${escapeHtml(String(r[0]))}</td><td${typeof r[1] === "number" ? ' class="num"' : ""}>${escapeHtml(formatCell(r[1], 6))}</td></tr>`)
    .join("\n");
  return `<table class="dpo-table kv"><thead><tr><th>parameter</th><th>value</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Write `runDir/report.html` (self-contained, offline) and return its path. */
export function writeReport(runDir: string, opts: ReportOptions = {}): string {
  const html = buildReport(runDir, opts);
  const out = path.join(runDir, "report.html");
  fs.writeFileSync(out, html);
  return out;
}

/**
 * A page that puts several runs side by side (e.g. a β sweep): one figure per metric with a curve per run, and a
 * table of each run's final values. Runs are folders with a metrics.jsonl; their names are the folder names.
 */
export function buildComparison(runDirs: string[], opts: { title?: string; metrics?: string[] } = {}): string {
  if (runDirs.length === 0) throw new Error("compare: give at least one run folder");
  const runs: RunLog[] = runDirs.map((dir) => ({ name: path.basename(path.resolve(dir)), log: readMetricsLog(path.join(dir, "metrics.jsonl")) }));
  const metrics = opts.metrics ?? ["loss", "rewards/margins", "rewards/accuracies", "rewards/chosen", "rewards/rejected", "logps/chosen"];
  const figures = metrics
    .map((metric) => compareRunsFigure(runs, metric))
    .filter((figure) => figure.data.length > 0)
    .map((figure) => ({ kind: "figure" as const, figure }));
  return htmlPage({
    title: opts.title ?? `DPO runs compared: ${runs.map((r) => r.name).join(", ")}`,
    sections: [
      { id: "curves", title: "Curves", intro: "One curve per run (train: solid; eval: dashed).", blocks: figures },
      { id: "final", title: "Final values", blocks: [{ kind: "table", table: compareTable(runs), digits: 5 }] },
    ],
  });
}

/** Writes {@link buildComparison} to `outFile` and returns its path. */
export function writeComparison(runDirs: string[], outFile: string, opts: { title?: string; metrics?: string[] } = {}): string {
  fs.writeFileSync(outFile, buildComparison(runDirs, opts));
  return outFile;
}
