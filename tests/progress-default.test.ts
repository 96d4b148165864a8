/**
 * The trainer's default progress display (transformers shows tqdm by default): one is added unless disableTqdm or a
 * progress callback of the caller's; off a terminal it is plain lines on stderr.
 */
import { describe, it, expect, beforeAll } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadModel } from "../src/model/io";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { readPreferenceFile } from "../src/data/preferences";
import { DPOTrainer } from "../src/train/trainer";
import { terminalProgress } from "../src/train/callbacks/progress";
import { TINY, tinyTokenizerOnTestBackend } from "./helpers/fixture";

const FIX = TINY;
const rows = readPreferenceFile(path.join(FIX, "prefs.jsonl"));
let tokenizer: Tokenizer;

beforeAll(async () => void (tokenizer = await tinyTokenizerOnTestBackend()));

/** Trains one step and returns what reached process.stderr meanwhile. */
async function stderrOfOneStep(args: Record<string, unknown>, callbacks = [] as ReturnType<typeof terminalProgress>[]): Promise<string> {
  const model = await loadModel(path.join(FIX, "gpt2-policy"));
  const outputDir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-progress-"));
  const trainer = new DPOTrainer({
    model,
    tokenizer,
    trainDataset: rows,
    callbacks,
    args: { outputDir, overwriteOutputDir: true, maxSteps: 1, loggingSteps: 1, reportTo: "none", writeReport: false, numSampleGenerations: 0, ...args },
  });
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    await trainer.train();
  } finally {
    process.stderr.write = write;
    trainer.dispose();
    model.dispose();
  }
  return written.join("");
}

describe("default progress display", () => {
  it("is shown by default (plain lines off a terminal), silent with disableTqdm, and not doubled when the caller passes one", async () => {
    const shown = await stderrOfOneStep({});
    expect(shown).toMatch(/^DPO training: 1 steps\n/m);
    expect(shown).toMatch(/^step 1 \|/m);
    expect(await stderrOfOneStep({ disableTqdm: true })).not.toMatch(/DPO training/);
    const lines: string[] = [];
    const stream = Object.assign(new (require("stream").Writable)({ write: (c: Buffer, _e: string, cb: () => void) => (lines.push(String(c)), cb()) }), {
      isTTY: false,
    });
    expect(await stderrOfOneStep({}, [terminalProgress({ stream })])).not.toMatch(/DPO training/);
    expect(lines.join("")).toMatch(/^DPO training: 1 steps\n/);
  });
});
