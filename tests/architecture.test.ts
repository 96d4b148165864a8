/**
 * The import rules of ARCHITECTURE.md, checked on every file under src/: data flows one way
 * (rows → tokenizer → collate → model → loss → metrics → writers), so a lower layer never imports a higher one,
 * the library never imports the command line, and no file imports itself back through a cycle.
 * Type-only imports count for the layer rules (a model that names a data-set type knows about data sets); the cycle
 * check follows the imports that remain at run time (type-only ones are erased, so they cannot cycle at load).
 */
import { describe, it, expect } from "vitest";
import * as fs from "fs";
import * as path from "path";

const SRC = path.join(__dirname, "..", "src");

/** Layer → the layers it must never import (a layer is a folder of src/, or a top-level file such as backend). */
const FORBIDDEN: Record<string, string[]> = {
  util: ["*"],
  backend: ["*-util"],
  embedded: ["*"],
  tokenizer: ["data", "train", "model", "metrics", "compile", "course", "serve", "cli", "index"],
  data: ["train", "model", "metrics", "compile", "course", "serve", "cli", "index"],
  compile: ["model", "data", "tokenizer", "train", "metrics", "course", "serve", "cli", "index"],
  model: ["data", "tokenizer", "train", "metrics", "course", "serve", "cli", "index"],
  metrics: ["train", "model", "data", "compile", "course", "serve", "cli", "index"],
  train: ["serve", "cli", "index"],
  serve: ["train", "course", "cli", "index"],
  course: ["serve", "cli", "index"],
  index: ["cli"],
};

/** The layer of a file (path relative to src/, with "/"): its first folder, or its name for a top-level file. */
function layerOf(rel: string): string {
  const parts = rel.split("/");
  return parts.length > 1 ? parts[0] : parts[0].replace(/\.ts$/, "");
}

function forbids(from: string, to: string): boolean {
  const rules = FORBIDDEN[from] ?? [];
  if (rules.includes("*")) return true;
  if (rules.includes("*-util")) return to !== "util";
  return rules.includes(to);
}

/**
 * Relative module specifiers a TypeScript source imports: import/export ... from, import("..."), require("...").
 * `typeOnly` marks `import type` / `export type` statements, which TypeScript erases from the JavaScript.
 */
function importsOf(source: string): { spec: string; typeOnly: boolean }[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const out: { spec: string; typeOnly: boolean }[] = [];
  for (const m of code.matchAll(/\b(import|export)(\s+type)?\s[^;]*?\bfrom\s*["']([^"']+)["']/g)) out.push({ spec: m[3], typeOnly: !!m[2] });
  for (const re of [/\bimport\s*["']([^"']+)["']/g, /\b(?:import|require)\s*\(\s*["']([^"']+)["']\s*\)/g]) {
    for (const m of code.matchAll(re)) out.push({ spec: m[1], typeOnly: false });
  }
  return out.filter((i) => i.spec.startsWith("."));
}

/** Resolves a relative specifier from file `rel` to a file under src/ (relative, with "/"), or null. */
function resolve(rel: string, spec: string, files: Set<string>): string | null {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec));
  for (const cand of [base, `${base}.ts`, `${base}/index.ts`]) if (files.has(cand)) return cand;
  return null;
}

interface Violation {
  file: string;
  imports: string;
  rule: string;
}

/** Every forbidden import and every import cycle among `sources` (path relative to src/ → source text). */
function violations(sources: Map<string, string>): { forbidden: Violation[]; cycles: string[][]; unresolved: Violation[] } {
  const files = new Set(sources.keys());
  const graph = new Map<string, string[]>();
  const forbidden: Violation[] = [];
  const unresolved: Violation[] = [];
  for (const [file, text] of sources) {
    const deps: string[] = [];
    for (const { spec, typeOnly } of importsOf(text)) {
      const target = resolve(file, spec, files);
      if (!target) {
        unresolved.push({ file, imports: spec, rule: "relative import that resolves to no file under src/" });
        continue;
      }
      // Cycles are checked among the imports that remain in the JavaScript (a type-only import loads nothing);
      // the layer rules hold for type imports too.
      if (!typeOnly) deps.push(target);
      const [from, to] = [layerOf(file), layerOf(target)];
      if (from !== to && forbids(from, to)) forbidden.push({ file, imports: target, rule: `${from} must not import ${to}` });
    }
    graph.set(file, deps);
  }
  // Cycles: depth-first search, reporting each back edge's cycle once.
  const cycles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, "open");
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === "open") cycles.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of [...files].sort()) if (!state.has(f)) visit(f);
  return { forbidden, cycles, unresolved };
}

function readSrc(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith(".ts")) out.set(path.relative(SRC, p).split(path.sep).join("/"), fs.readFileSync(p, "utf8"));
    }
  };
  walk(SRC);
  return out;
}

describe("architecture: import rules", () => {
  it("src/ has no forbidden import, no import cycle and no dangling relative import", () => {
    const src = readSrc();
    expect(src.size).toBeGreaterThan(30);
    const { forbidden, cycles, unresolved } = violations(src);
    expect(forbidden.map((v) => `${v.file} imports ${v.imports}: ${v.rule}`)).toEqual([]);
    expect(cycles.map((c) => c.join(" → "))).toEqual([]);
    expect(unresolved.map((v) => `${v.file}: "${v.imports}"`)).toEqual([]);
  });

  it("catches the imports it forbids (model → data, metrics → train, library → cli, data → train, tokenizer → data)", () => {
    const files = new Map<string, string>([
      ["model/gpt2.ts", 'import { Rng } from "../data/rng";\nimport type { X } from "../train/trainer";'],
      ["metrics/report.ts", 'export { y } from "../train/trainer";'],
      ["index.ts", 'export { installKernel } from "./cli/kernel";'],
      ["data/tokenize.ts", 'const t = require("../train/batch");'],
      ["tokenizer/tokenizer.ts", 'const d = await import("../data/format");'],
      ["serve/server.ts", '// import { a } from "../cli/index";\n/* import { b } from "../cli/index"; */\nimport { m } from "../model/gpt2";'],
      ["data/rng.ts", ""],
      ["train/trainer.ts", ""],
      ["train/batch.ts", ""],
      ["cli/kernel.ts", ""],
      ["cli/index.ts", ""],
      ["data/format.ts", ""],
    ]);
    const { forbidden } = violations(files);
    expect(forbidden.map((v) => v.rule).sort()).toEqual([
      "data must not import train",
      "index must not import cli",
      "metrics must not import train",
      "model must not import data",
      "model must not import train",
      "tokenizer must not import data",
    ]);
  });

  it("catches an import cycle", () => {
    const files = new Map([
      ["train/a.ts", 'import { b } from "./b";'],
      ["train/b.ts", 'import { c } from "./c";'],
      ["train/c.ts", 'import { a } from "./a";'],
    ]);
    expect(violations(files).cycles).toEqual([["train/a.ts", "train/b.ts", "train/c.ts", "train/a.ts"]]);
  });
});
