/**
 * maxLength: unset, it is the model's context (n_positions); above it, a row longer than the context is refused with
 * its file and 1-based line; dropped and truncated rows are counted and named.
 */
import { describe, it, expect, beforeAll } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadModelFromDir } from "../src/model/io";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { readPreferenceFile } from "../src/data/preferences";
import { DPOTrainer } from "../src/train/trainer";
import { useBackendForTests } from "./helpers/backend";

const FIX = path.join(__dirname, "fixtures/hf-tiny");
let tokenizer: Tokenizer;
beforeAll(async () => {
  await useBackendForTests();
  tokenizer = await Tokenizer.fromDir(path.join(FIX, "gpt2-policy"));
});

describe("maxLength and the model's context", () => {
  it("defaults to n_positions; longer rows are named by file:line; truncated and dropped rows are counted", () => {
    const model = loadModelFromDir(path.join(FIX, "gpt2-policy"));
    const context = model.config.nPositions;
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dpo-maxlen-")), "prefs.jsonl");
    const long = Array.from({ length: context }, (_, i) => `word${i}`).join(" ");
    // Line 2 is blank (allowed): a prompt longer than the context on line 3, a long completion on line 4.
    fs.writeFileSync(
      file,
      [
        JSON.stringify({ prompt: "Hi", chosen: "yes", rejected: "no" }),
        "",
        JSON.stringify({ prompt: long, chosen: "yes", rejected: "no" }),
        JSON.stringify({ prompt: "Hi", chosen: long, rejected: "no" }),
      ].join("\n") + "\n",
    );
    const rows = readPreferenceFile(file);
    const defaults = new DPOTrainer({ model, tokenizer, trainDataset: rows, args: { outputDir: "unused" } });
    expect(defaults.config.maxLength).toBe(context);
    expect(defaults.dataReport.train).toEqual({ rows: 3, dropped: [`${file}:3`], truncated: { rows: 1, prompt: 0, chosen: 1, rejected: 0 } });
    defaults.dispose();
    expect(() => new DPOTrainer({ model, tokenizer, trainDataset: rows, args: { outputDir: "unused", maxLength: 100000 } })).toThrow(
      new RegExp(
        `2 row\\(s\\) longer than the model's context of ${context} positions at maxLength 100000: ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:3 \\(\\d+ tokens\\)`,
      ),
    );
    model.dispose();
  });
});
