/**
 * Writes the course's synthetic data and tokenizer, step 1 of the course's data pipeline:
 *   data/held-out-prompts.jsonl  the held-out prompts {system, question}, reserved before anything else is generated
 *                                (src/data/world.ts heldOutReservation: no training file ever asks them)
 *   data/sft.jsonl               instruction rows {system, question, answer}, good and poor answers mixed
 *                                (SFT_ANSWER_MIX in src/data/synthetic.ts)
 *   data/tokenizer/              byte-level BPE (ChatML specials, vocab 512) trained on the SFT rows in ChatML form
 * Then scripts/make-sft-model.sh trains data/sft-model on data/sft.jsonl, and scripts/make-judged-pairs.mjs samples
 * that model and lets the judge choose, which writes data/orca_dpo_pairs.jsonl (on-policy preference pairs).
 *
 * Run: npm run make-data  [-- --out data --seed 1234 --sft-rows 3000 --vocab-size 512]
 */
import * as fs from "fs";
import * as path from "path";
import { generateInstructionSet } from "../src/data/synthetic";
import { heldOutReservation } from "../src/data/world";
import { chatmlConversation, chatmlInstruction } from "../src/data/format";
import { writeJsonl } from "../src/data/preferences";
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
  const known = new Set(["out", "seed", "sft-rows", "vocab-size"]);
  for (const k of Object.keys(args)) if (!known.has(k)) throw new Error(`make-data: unknown option --${k}`);
  const outDir = args.out ?? "data";
  const seed = intArg(args, "seed", 1234);
  const nSft = intArg(args, "sft-rows", 3000);
  const vocabSize = intArg(args, "vocab-size", 512);

  fs.mkdirSync(outDir, { recursive: true });
  const heldOut = heldOutReservation().prompts;
  const heldOutFile = path.join(outDir, "held-out-prompts.jsonl");
  writeJsonl(heldOutFile, heldOut);
  const sft = generateInstructionSet(nSft, seed + 1);
  const leaked = sft.filter((r) => heldOutReservation().questions.has(r.question));
  if (leaked.length) throw new Error(`make-data: ${leaked.length} SFT rows ask a held-out question, e.g. ${JSON.stringify(leaked[0].question)}`);
  const sftFile = path.join(outDir, "sft.jsonl");
  writeJsonl(sftFile, sft);

  const corpus = sft.map((r) => chatmlConversation(r.system, r.question, r.answer));
  const t0 = Date.now();
  const tok = trainChatMLTokenizer(corpus, vocabSize);
  const trainMs = Date.now() - t0;
  const tokDir = path.join(outDir, "tokenizer");
  await tok.save(tokDir);

  // summary: sizes and token lengths of the formatted SFT rows
  let maxLen = 0,
    sumLen = 0;
  for (const row of sft) {
    const r = chatmlInstruction(row, tok);
    const len = tok.encode(r.prompt + r.completion, { addSpecialTokens: false }).length;
    maxLen = Math.max(maxLen, len);
    sumLen += len;
  }
  const kb = (f: string) => (fs.statSync(f).size / 1024).toFixed(1);
  console.log(`${heldOutFile}: ${heldOut.length} prompts`);
  console.log(`${sftFile}: ${sft.length} rows, ${kb(sftFile)} KiB`);
  console.log(`${tokDir}: vocab ${tok.vocabSize}, trained in ${trainMs} ms on ${(corpus.join("").length / 1024).toFixed(0)} KiB`);
  console.log(`SFT rows in ChatML: mean ${(sumLen / sft.length).toFixed(1)} tokens, max ${maxLen}`);
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
