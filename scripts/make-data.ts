/**
 * Writes the course's synthetic data sets and tokenizer:
 *   data/orca_dpo_pairs.jsonl   preference pairs {system, question, chosen, rejected} (Intel/orca_dpo_pairs columns)
 *   data/sft.jsonl              instruction rows {system, question, answer} (imperfect on purpose, see src/data/synthetic.ts)
 *   data/tokenizer/             byte-level BPE (ChatML specials, vocab 512) trained on both sets in ChatML form
 *
 * Run: npm run make-data  [-- --out data --seed 1234 --pref-rows 600 --sft-rows 2000 --vocab-size 512]
 */
import * as fs from "fs";
import * as path from "path";
import { generateInstructionSet, generatePreferenceSet } from "../src/data/synthetic";
import { chatmlConversation, chatmlFormat } from "../src/data/format";
import { writeJsonl } from "../src/data/preferences";
import { tokenizePair } from "../src/data/tokenize";
import { trainChatMLTokenizer } from "../src/tokenizer/train-bpe";

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--") || i + 1 >= argv.length) throw new Error(`make-data: bad argument "${a}" (use --name value)`);
    out[a.slice(2)] = argv[++i];
  }
  return out;
}

function intArg(args: Record<string, string>, name: string, def: number): number {
  if (args[name] === undefined) return def;
  const v = Number(args[name]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`make-data: --${name} must be a non-negative integer (got ${args[name]})`);
  return v;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const known = new Set(["out", "seed", "pref-rows", "sft-rows", "vocab-size"]);
  for (const k of Object.keys(args)) if (!known.has(k)) throw new Error(`make-data: unknown option --${k}`);
  const outDir = args.out ?? "data";
  const seed = intArg(args, "seed", 1234);
  const nPref = intArg(args, "pref-rows", 600);
  const nSft = intArg(args, "sft-rows", 2000);
  const vocabSize = intArg(args, "vocab-size", 512);

  fs.mkdirSync(outDir, { recursive: true });
  const prefs = generatePreferenceSet(nPref, seed);
  const sft = generateInstructionSet(nSft, seed + 1);
  const prefFile = path.join(outDir, "orca_dpo_pairs.jsonl");
  const sftFile = path.join(outDir, "sft.jsonl");
  writeJsonl(prefFile, prefs);
  writeJsonl(sftFile, sft);

  const corpus = [
    ...sft.map((r) => chatmlConversation(r.system, r.question, r.answer)),
    ...prefs.map((r) => chatmlConversation(r.system, r.question, r.chosen)),
    ...prefs.map((r) => chatmlConversation(r.system, r.question, r.rejected)),
  ];
  const t0 = Date.now();
  const tok = trainChatMLTokenizer(corpus, vocabSize);
  const trainMs = Date.now() - t0;
  const tokDir = path.join(outDir, "tokenizer");
  await tok.save(tokDir);

  // summary: sizes and token lengths of the formatted preference pairs
  let maxLen = 0,
    sumLen = 0;
  for (const row of prefs) {
    const p = tokenizePair(chatmlFormat(row, tok), tok, { maxLength: null });
    const len = p.promptIds.length + Math.max(p.chosenIds.length, p.rejectedIds.length);
    maxLen = Math.max(maxLen, len);
    sumLen += len;
  }
  const kb = (f: string) => (fs.statSync(f).size / 1024).toFixed(1);
  console.log(`${prefFile}: ${prefs.length} rows, ${kb(prefFile)} KiB`);
  console.log(`${sftFile}: ${sft.length} rows, ${kb(sftFile)} KiB`);
  console.log(`${tokDir}: vocab ${tok.vocabSize}, trained in ${trainMs} ms on ${(corpus.join("").length / 1024).toFixed(0)} KiB`);
  console.log(`preference pairs in ChatML: mean ${(sumLen / prefs.length).toFixed(1)} tokens (prompt + longer completion), max ${maxLen}`);
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
