/**
 * `dpo-ts course`: runs the five course notebooks (notebooks/0N-*.ipynb) headlessly, in order, each in its own
 * Node.js process (the tslab code path the Jupyter kernel uses), and writes the executed notebooks with their outputs
 * to runs/<name>/notebooks/. Stops at the first failing cell and exits non-zero, naming the notebook and the cell.
 *
 *   dpo-ts course [--name course] [--steps N] [--backend wasm] [--model DIR] [--only 03,04] [--cell-timeout SECONDS]
 *                 [--notebooks DIR] [--quiet]       (courseOptions below; `dpo-ts course --help`)
 *
 * Parameters given to every notebook that declares them in its "parameters" cell: runName (--name), maxSteps
 * (--steps; default: the notebook's own), backend (--backend; default: the notebook's own, i.e. DPO_BACKEND or the
 * best that loads), modelDir (--model, made absolute; default: the notebooks' data/sft-model).
 */
import * as fs from "fs";
import * as path from "path";
import { CliError, OptionsTable, integerValue, numberValue, stringValue } from "./framework";
import { findParametersCell, readNotebook } from "../course/notebook";
import { parameterDeclarations } from "../course/parameters";
import { ChildRunResult, runNotebookInChild } from "../course/run-in-child";
import { formatDuration } from "../course/progress";

/** The course notebooks shipped with this package: <package root>/notebooks. */
export function courseDir(): string {
  return path.resolve(__dirname, "..", "..", "notebooks");
}

/** The course notebooks in order (files named like 01-install.ipynb). */
export function courseNotebooks(dir: string = courseDir()): string[] {
  if (!fs.existsSync(dir)) throw new Error(`${dir}: no notebooks folder`);
  const files = fs
    .readdirSync(dir)
    .filter((f) => /^\d\d-.+\.ipynb$/.test(f))
    .sort();
  if (files.length === 0) throw new Error(`${dir}: no course notebooks (0N-name.ipynb)`);
  return files.map((f) => path.join(dir, f));
}

/** The subset of `values` that the notebook's "parameters" cell declares (undefined values are left out). */
export function notebookParameters(notebookPath: string, values: Record<string, unknown>): Record<string, unknown> {
  const nb = readNotebook(notebookPath);
  const index = findParametersCell(nb);
  if (index < 0) return {};
  const declared = parameterDeclarations(nb.cells[index].source);
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) if (value !== undefined && declared.has(name)) out[name] = value;
  return out;
}

/** One notebook of a course run: the notebook, where its executed copy goes and the parameters injected into it. */
export interface CourseRun {
  notebook: string;
  outPath: string;
  parameters: Record<string, unknown>;
  result: ChildRunResult;
}

function firstLine(source: string): string {
  const line = source.split("\n").find((l) => l.trim() !== "") ?? "";
  return line.length > 60 ? line.slice(0, 59) + "…" : line;
}

function kib(file: string): string {
  return fs.existsSync(file) ? `${(fs.statSync(file).size / 1024).toFixed(0)} KiB` : "–";
}

/** Options of `dpo-ts course`. */
export const courseOptions: OptionsTable = {
  name: { type: "string", valueName: "NAME", description: "run name: executed notebooks go to runs/NAME/notebooks (default course)" },
  steps: { type: "string", valueName: "N", description: "maxSteps for the notebooks that train (default: each notebook's own)" },
  backend: { type: "string", valueName: "NAME", description: "backend for every notebook (default: DPO_BACKEND, else the best that loads)" },
  model: { type: "string", valueName: "DIR", description: "model folder the notebooks start from (default data/sft-model)" },
  only: { type: "string", valueName: "01,03", description: "run only the notebooks whose names start with these" },
  "cell-timeout": { type: "string", valueName: "SECONDS", description: "fail a cell that runs longer than this" },
  notebooks: { type: "string", valueName: "DIR", description: "notebooks folder (default: the package's notebooks/)" },
  quiet: { type: "boolean", description: "do not echo cell output" },
};

/** `dpo-ts course`: runs the five notebooks in order, headless, writing executed copies under runs/NAME/notebooks; throws CliError on bad options. */
export async function courseCommand(values: Record<string, unknown>): Promise<void> {
  const name = stringValue(values, "name") ?? "course";
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new CliError(`--name must be a folder name (letters, digits, . _ -), got "${name}"`);
  const steps = integerValue(values, "steps", { positive: true });
  const backend = stringValue(values, "backend");
  const cellTimeout = numberValue(values, "cell-timeout", { positive: true });
  const quiet = Boolean(values.quiet);
  const notebooksDir = stringValue(values, "notebooks");
  const dir = notebooksDir ? path.resolve(notebooksDir) : courseDir();
  let notebooks = courseNotebooks(dir);
  const only = stringValue(values, "only");
  if (only !== undefined) {
    const wanted = only
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    notebooks = notebooks.filter((nb) => wanted.some((w) => path.basename(nb).startsWith(w)));
    if (notebooks.length === 0) throw new CliError(`--only ${only} matches no notebook in ${dir}`);
  }
  const modelOption = stringValue(values, "model");
  const modelDir = modelOption ? path.resolve(modelOption) : undefined;
  if (modelDir && !fs.existsSync(path.join(modelDir, "config.json"))) throw new CliError(`--model ${modelDir}: no config.json there`);
  const outDir = path.resolve(dir, "..", "runs", name, "notebooks");
  fs.mkdirSync(outDir, { recursive: true });
  const given = { runName: name, maxSteps: steps, backend, modelDir };

  console.log(`dpo-ts course: ${notebooks.length} notebooks from ${dir}`);
  console.log(
    `run "${name}": executed notebooks go to ${outDir}` +
      (steps ? `, maxSteps ${steps}` : "") +
      (backend ? `, backend ${backend}` : "") +
      (modelDir ? `, model ${modelDir}` : ""),
  );
  const runs: CourseRun[] = [];
  const started = Date.now();
  for (const [i, notebook] of notebooks.entries()) {
    const base = path.basename(notebook);
    const outPath = path.join(outDir, base);
    const parameters = notebookParameters(notebook, given);
    const codeCells = readNotebook(notebook).cells.filter((c) => c.cell_type === "code" && c.source.trim() !== "").length;
    console.log(`\n[${i + 1}/${notebooks.length}] ${base} (${codeCells} code cells; parameters ${JSON.stringify(parameters)})`);
    let heartbeat: NodeJS.Timeout | undefined;
    const result = await runNotebookInChild(notebook, {
      outPath,
      parameters,
      echo: !quiet,
      timeoutMs: cellTimeout ? cellTimeout * 1000 : undefined,
      // tslab prints nothing while a long cell (training) runs: say it is still going.
      onCellStart: (ev) => {
        if (heartbeat) clearInterval(heartbeat);
        const t0 = Date.now();
        heartbeat = setInterval(() => {
          console.log(`  … ${base} cell ${ev.executionCount}/${codeCells} ("${firstLine(ev.source)}") running for ${formatDuration((Date.now() - t0) / 1000)}`);
        }, 15_000);
      },
      onCell: (ev) => {
        if (heartbeat) clearInterval(heartbeat);
        heartbeat = undefined;
        if (ev.durationMs >= 5_000 || !ev.ok) {
          console.log(`  ${ev.ok ? "✓" : "✗"} cell ${ev.executionCount}/${codeCells} ("${firstLine(ev.source)}"): ${(ev.durationMs / 1000).toFixed(1)} s`);
        }
      },
    });
    if (heartbeat) clearInterval(heartbeat);
    runs.push({ notebook: base, outPath, parameters, result });
    if (!result.ok) {
      const e = result.error!;
      const where = e.cellIndex !== undefined ? `cell ${e.cellIndex} (execution_count ${e.executionCount})` : "setup";
      const detail = e.ename ? `${e.ename}: ${e.evalue}` : e.message;
      const traceback = (e.traceback ?? []).slice(0, 12).join("\n");
      if (!quiet && e.kind === "crash" && result.log) console.error(result.log.slice(-4000));
      throw new Error(
        `course notebook ${base} failed at ${where}: ${detail}` + (traceback ? `\n${traceback}` : "") + `\nexecuted notebook (outputs so far): ${outPath}`,
      );
    }
    console.log(`[${i + 1}/${notebooks.length}] ${base}: ok in ${(result.durationMs / 1000).toFixed(1)} s`);
  }
  const total = (Date.now() - started) / 1000;
  console.log(`\ncourse "${name}" done in ${formatDuration(total)} (${total.toFixed(1)} s):`);
  for (const r of runs) {
    console.log(`  ${r.notebook.padEnd(20)} ${(r.result.durationMs / 1000).toFixed(1).padStart(7)} s   ${kib(r.outPath).padStart(9)}   ${r.outPath}`);
  }
}
