/**
 * Trains a byte-level BPE tokenizer with ChatML special tokens and writes an HF tokenizer folder
 * (tokenizer.json, tokenizer_config.json, chat_template.jinja).
 *
 *   train-tokenizer --corpus FILE [--corpus FILE ...] --vocab-size N --out DIR [--min-frequency 2]
 *
 * A .jsonl/.json corpus file contributes every string field of every row; any other file is read as plain text.
 * Build and run like scripts/make-data.ts (see the "make-data" script in package.json).
 */
import * as fs from "fs";
import { readJsonObjects } from "../src/data/preferences";
import { trainChatMLTokenizer } from "../src/tokenizer/train-bpe";

function corpusOf(file: string): string[] {
  if (/\.jsonl?$/i.test(file)) {
    const out: string[] = [];
    for (const { value } of readJsonObjects(file)) {
      for (const v of Object.values(value)) if (typeof v === "string") out.push(v);
    }
    return out;
  }
  if (!fs.existsSync(file)) throw new Error(`${file}: file not found`);
  return [fs.readFileSync(file, "utf8")];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const corpusFiles: string[] = [];
  let vocabSize = NaN,
    out = "",
    minFrequency = 2;
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`train-tokenizer: ${k} needs a value`);
    if (k === "--corpus") corpusFiles.push(v);
    else if (k === "--vocab-size") vocabSize = Number(v);
    else if (k === "--out") out = v;
    else if (k === "--min-frequency") minFrequency = Number(v);
    else throw new Error(`train-tokenizer: unknown option ${k}`);
  }
  if (corpusFiles.length === 0 || !out || !Number.isInteger(vocabSize)) {
    throw new Error("usage: train-tokenizer --corpus FILE [--corpus FILE ...] --vocab-size N --out DIR [--min-frequency 2]");
  }
  const corpus = corpusFiles.flatMap(corpusOf);
  const t0 = Date.now();
  const tok = trainChatMLTokenizer(corpus, vocabSize, minFrequency);
  await tok.save(out);
  console.log(`${out}: vocab ${tok.vocabSize}, ${corpus.reduce((s, c) => s + c.length, 0)} characters, ${Date.now() - t0} ms`);
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
