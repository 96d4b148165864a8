/**
 * The package's two entry points, as a user resolves them (node_modules/dpo-ts is this repository, built to dist/):
 * `dpo-ts` is the library; `dpo-ts/course` holds the notebook runner and the kernel install, which only the course
 * tooling needs. Internals (tensor helpers, CLI code) are in neither.
 */
import { describe, it, expect } from "vitest";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.join(__dirname, "..");

describe("public API", () => {
  it("dpo-ts is the library, dpo-ts/course the notebook runner and kernel install; VERSION is package.json's", () => {
    expect(fs.existsSync(path.join(ROOT, "dist/course/index.js")), "build first: npm run build").toBe(true);
    const lib = require("dpo-ts");
    const course = require("dpo-ts/course");
    for (const name of [
      "DPOTrainer",
      "resolveConfig",
      "loadModel",
      "Tokenizer",
      "loadPreferenceDataset",
      "evaluate",
      "serve",
      "initBackend",
      "EMBEDDED",
      "betaSweep",
      "frontierPoint",
      "klEstimate",
      "frontierFigure",
      "TransposedWeights",
    ]) {
      expect(lib[name], `dpo-ts exports ${name}`).toBeDefined();
    }
    for (const name of ["runNotebook", "runNotebookInChild", "installKernel", "injectParameters", "TSLAB_LANGUAGE_INFO"]) {
      expect(course[name], `dpo-ts/course exports ${name}`).toBeDefined();
    }
    for (const name of ["runNotebook", "runNotebookInChild", "installKernel", "kernelCommand", "pickToken", "tensorboardTag", "disposeCache"]) {
      expect(lib[name], `dpo-ts does not export ${name}`).toBeUndefined();
    }
    expect(lib.VERSION).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version);
  });
});
