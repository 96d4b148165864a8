import { describe, it, expect, beforeAll } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { readPreferenceFile, readOrcaFile, readInstructionFile, splitTrainEval, writeJsonl, PreferenceRow } from "../src/data/preferences";
import { chatmlFormat, chatmlConversation, chatmlInstruction } from "../src/data/format";
import { tokenizePair, tokenizePairs } from "../src/data/tokenize";
import { generatePreferenceSet, generateInstructionSet, generateExample, badAnswer, REJECTION_KINDS } from "../src/data/synthetic";
import { Rng, mulberry32 } from "../src/util/rng";
import { NEEDS, skipUnless } from "./helpers/skip";

const ROOT = path.join(__dirname, "..");
const FIX = path.join(__dirname, "fixtures/hf-tiny");
const expected = JSON.parse(fs.readFileSync(path.join(FIX, "expected.json"), "utf8"));
let tok: Tokenizer;
let dir: string;

beforeAll(async () => {
  tok = await Tokenizer.fromDir(path.join(FIX, "gpt2-policy"));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-ts-data-"));
});

function write(name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

const good = { prompt: "p", chosen: "c", rejected: "r" };
const line = (o: unknown) => JSON.stringify(o);
/** Rows without their source (file, line), to compare texts. */
const texts = (rows: PreferenceRow[]) => rows.map(({ source: _s, ...r }) => r);

describe("readPreferenceFile", () => {
  it("reads the fixture (special tokens inside a prompt are kept as text)", () => {
    const rows = readPreferenceFile(path.join(FIX, "prefs.jsonl"));
    expect(rows.length).toBe(4);
    expect(rows[0].source).toEqual({ file: path.join(FIX, "prefs.jsonl"), line: 1 });
    expect(texts(rows)[0]).toEqual({ prompt: "Question: What colour is the sky?\nAnswer:", chosen: " The sky is blue.", rejected: " Green, obviously." });
    expect(rows[3].prompt.startsWith("<|im_start|>user\n")).toBe(true);
  });

  it("allows blank lines, CRLF and extra fields; counts lines 1-based including blanks", () => {
    const f = write("ok.jsonl", `${line(good)}\r\n\n   \n${line({ ...good, score: 3 })}\n`);
    expect(texts(readPreferenceFile(f))).toEqual([good, good]);
    expect(readPreferenceFile(f).map((r) => r.source!.line)).toEqual([1, 4]);
    const g = write("prefs.jsonl", `${line(good)}\n\n${line({ prompt: "p", rejected: "r" })}\n`);
    expect(() => readPreferenceFile(g)).toThrow(`${g}:3: field "chosen" must be a non-empty string (missing)`);
  });

  it("names file, line and field for each kind of bad row", () => {
    const cases: Array<[string, RegExp]> = [
      [`${line(good)}\n{"prompt": "p", "chosen": "c", "rejected": }`, /bad\.jsonl:2: invalid JSON at line 2/],
      [`${line({ ...good, chosen: "" })}`, /bad\.jsonl:1: field "chosen" must be a non-empty string \(got an empty string\)/],
      [`${line({ ...good, rejected: 5 })}`, /bad\.jsonl:1: field "rejected" must be a non-empty string \(got number\)/],
      [`${line({ ...good, prompt: null })}`, /bad\.jsonl:1: field "prompt" must be a non-empty string \(got null\)/],
      [
        `${line({ ...good, prompt: [{ role: "user", content: "x" }] })}`,
        /field "prompt" .*got an array; a list of messages here needs every text column conversational/,
      ],
      [`\n\n[1, 2]`, /bad\.jsonl:3: expected a JSON object/],
      [`\n  \n`, /bad\.jsonl: no rows/],
    ];
    for (const [text, re] of cases) {
      const f = write("bad.jsonl", text);
      expect(() => readPreferenceFile(f)).toThrow(re);
    }
    expect(() => readPreferenceFile(path.join(dir, "missing.jsonl"))).toThrow(/missing\.jsonl: file not found/);
  });

  it("reads a .json array, naming the row in errors", () => {
    const f = write("prefs.json", JSON.stringify([good, good]));
    expect(texts(readPreferenceFile(f))).toEqual([good, good]);
    const g = write("bad.json", JSON.stringify([good, { ...good, rejected: "" }], null, 1));
    expect(() => readPreferenceFile(g)).toThrow(`${g}:7: field "rejected" must be a non-empty string`); // the line the row starts on
    expect(() => readPreferenceFile(write("obj.json", "{}"))).toThrow(/obj\.json: expected a JSON array of objects or an object \{"data": \[\.\.\.\]\}/);
    expect(() => readPreferenceFile(write("broken.json", "[{"))).toThrow(/broken\.json: invalid JSON/);
  });
});

describe("readOrcaFile / readInstructionFile / writeJsonl", () => {
  it("accepts an empty system, rejects a missing one and an empty question", () => {
    const ok = { system: "", question: "q", chosen: "c", rejected: "r" };
    const f = path.join(dir, "orca.jsonl");
    writeJsonl(f, [ok, { ...ok, system: "S" }]);
    expect(readOrcaFile(f)).toEqual([ok, { ...ok, system: "S" }]);
    const { system: _s, ...noSystem } = ok;
    const g = write("orca_bad.jsonl", `${line(ok)}\n${line(noSystem)}`);
    expect(() => readOrcaFile(g)).toThrow(`${g}:2: field "system" must be a string (missing)`);
    const h = write("orca_bad2.jsonl", line({ ...ok, question: "" }));
    expect(() => readOrcaFile(h)).toThrow(`${h}:1: field "question" must be a non-empty string`);
  });

  it("reads instruction rows", () => {
    const f = write("sft.jsonl", line({ system: "", question: "q", answer: "a" }) + "\n" + line({ system: "", question: "q" }));
    expect(() => readInstructionFile(f)).toThrow(`${f}:2: field "answer" must be a non-empty string (missing)`);
  });
});

describe("splitTrainEval", () => {
  const rows = Array.from({ length: 100 }, (_, i) => i);

  it("is deterministic, disjoint, complete and keeps the original order", () => {
    const a = splitTrainEval(rows, 0.1, 7);
    const b = splitTrainEval(rows, 0.1, 7);
    expect(a).toEqual(b);
    expect(a.eval.length).toBe(10);
    expect(a.train.length).toBe(90);
    expect([...a.train, ...a.eval].sort((x, y) => x - y)).toEqual(rows);
    expect(a.train).toEqual([...a.train].sort((x, y) => x - y));
    expect(a.eval).toEqual([...a.eval].sort((x, y) => x - y));
    expect(splitTrainEval(rows, 0.1, 8).eval).not.toEqual(a.eval);
    expect(a.eval).not.toEqual(rows.slice(0, 10)); // shuffled, not the first rows
  });

  it("takes counts, fractions and zero; rejects impossible splits", () => {
    expect(splitTrainEval(rows, 25, 1).eval.length).toBe(25);
    expect(splitTrainEval(rows, 0, 1)).toEqual({ train: rows, eval: [] });
    expect(splitTrainEval([1, 2, 3], 0.01, 1).eval.length).toBe(1); // at least one
    expect(() => splitTrainEval(rows, 100, 1)).toThrow(/leaves no training rows/);
    expect(() => splitTrainEval(rows, 2.5, 1)).toThrow(/fraction in \[0, 1\) or an integer/);
    expect(() => splitTrainEval(rows, -1, 1)).toThrow(/must be >= 0/);
  });
});

describe("chatmlFormat (the Mistral-7B DPO article's formatting)", () => {
  it("formats system + question with the chat template and ends completions with <|im_end|>\\n", () => {
    const row = { system: "You are helpful.", question: "What is 2 plus 2?", chosen: "2 plus 2 is 4.", rejected: "Go away." };
    expect(chatmlFormat(row, tok)).toEqual({
      prompt: "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nWhat is 2 plus 2?<|im_end|>\n<|im_start|>assistant\n",
      chosen: "2 plus 2 is 4.<|im_end|>\n",
      rejected: "Go away.<|im_end|>\n",
    });
    expect(chatmlFormat({ ...row, system: "" }, tok).prompt).toBe("<|im_start|>user\nWhat is 2 plus 2?<|im_end|>\n<|im_start|>assistant\n");
    expect(chatmlInstruction({ system: "", question: "q", answer: "a" }, tok)).toEqual({
      prompt: "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n",
      completion: "a<|im_end|>\n",
    });
  });

  it("chatmlConversation renders the same text as the template", () => {
    const conv = chatmlConversation("S", "Q", "A");
    const viaTemplate = tok.applyChatTemplate([
      { role: "system", content: "S" },
      { role: "user", content: "Q" },
      { role: "assistant", content: "A" },
    ]);
    expect(conv).toBe(viaTemplate);
  });

  it("tokenizes the completion end as <|im_end|> \\n then the appended EOS (as TRL does)", () => {
    const p = tokenizePair(chatmlFormat({ system: "", question: "q", chosen: "Eight.", rejected: "No." }, tok), tok);
    const nl = tok.encode("\n");
    expect(p.chosenIds.slice(-3)).toEqual([2, ...nl, 2]);
    expect(p.promptIds[0]).toBe(1);
  });
});

describe("tokenizePair (TRL contract)", () => {
  it("reproduces expected.json ids for prefs.jsonl (gpt2 and llama folders)", async () => {
    const rows = readPreferenceFile(path.join(FIX, "prefs.jsonl"));
    for (const kind of ["gpt2-policy", "llama-policy"]) {
      const t = await Tokenizer.fromDir(path.join(FIX, kind));
      rows.forEach((row, i) => {
        const p = tokenizePair(row, t);
        expect(p).toEqual({ promptIds: expected.ids[i].prompt, chosenIds: expected.ids[i].chosen, rejectedIds: expected.ids[i].rejected });
        // TRL 1.13's joint tokenization gives the same ids on this data
        expect(tokenizePair(row, t, { mode: "joint" })).toEqual(p);
      });
    }
  });

  it("does not append EOS twice", () => {
    const p = tokenizePair({ prompt: "Hi", chosen: "Yes.<|im_end|>", rejected: "No." }, tok);
    expect(p.chosenIds.filter((i) => i === 2).length).toBe(1);
    expect(p.rejectedIds[p.rejectedIds.length - 1]).toBe(2);
  });

  it("truncates the prompt from the left and completions from the right", () => {
    const row: PreferenceRow = { prompt: "The quick brown fox jumps over the lazy dog.", chosen: " sleeps in the sun.", rejected: " Whatever." };
    const full = tokenizePair(row, tok, { maxLength: null });
    expect(full.promptIds.length).toBeGreaterThan(6);
    const t = tokenizePair(row, tok, { maxPromptLength: 4, maxLength: 7 });
    expect(t.promptIds).toEqual(full.promptIds.slice(-4));
    expect(t.chosenIds).toEqual(full.chosenIds.slice(0, 3));
    expect(t.rejectedIds).toEqual(full.rejectedIds.slice(0, 3));
    expect(t.chosenIds.includes(2)).toBe(false); // EOS cut off with the rest
    // without maxPromptLength the prompt is kept whole (TRL 1.13)
    const u = tokenizePair(row, tok, { maxLength: full.promptIds.length + 2 });
    expect(u.promptIds).toEqual(full.promptIds);
    expect(u.chosenIds).toEqual(full.chosenIds.slice(0, 2));
  });

  it("defaults to maxLength 1024 and no prompt limit", () => {
    const long = "word ".repeat(1500);
    const p = tokenizePair({ prompt: "Hi", chosen: long, rejected: "No." }, tok);
    expect(p.promptIds.length + p.chosenIds.length).toBe(1024);
    expect(p.rejectedIds[p.rejectedIds.length - 1]).toBe(2);
    const q = tokenizePair({ prompt: long, chosen: "a", rejected: "b" }, tok, { maxLength: null });
    expect(q.promptIds.length).toBeGreaterThan(1024);
  });

  it("tokenizePairs drops pairs whose prompt fills maxLength (like TRL 1.13) and says which", () => {
    const rows: PreferenceRow[] = [
      { prompt: "Hi", chosen: "a", rejected: "b" },
      { prompt: "word ".repeat(20), chosen: "a", rejected: "b" },
      { prompt: "Yo", chosen: "c", rejected: "d" },
    ];
    const r = tokenizePairs(rows, tok, { maxLength: 10 });
    expect(r.kept).toEqual([0, 2]);
    expect(r.dropped).toEqual([1]);
    expect(r.pairs.length).toBe(2);
    expect(tokenizePairs(rows, tok, { maxLength: 10, maxPromptLength: 5 }).dropped).toEqual([]);
  });

  it("rejects bad limits", () => {
    expect(() => tokenizePair(good, tok, { maxLength: 0 })).toThrow(/maxLength must be a positive integer/);
    expect(() => tokenizePair(good, tok, { maxPromptLength: 1.5 })).toThrow(/maxPromptLength must be a positive integer/);
  });
});

describe("seeded generator", () => {
  it("mulberry32 is deterministic and uniform-ish", () => {
    const a = mulberry32(1),
      b = mulberry32(1);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
    expect(new Rng(3).shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it("same seed, same rows; different seed, different rows", () => {
    expect(generatePreferenceSet(50, 9)).toEqual(generatePreferenceSet(50, 9));
    expect(generatePreferenceSet(50, 9)).not.toEqual(generatePreferenceSet(50, 10));
    expect(generateInstructionSet(50, 9)).toEqual(generateInstructionSet(50, 9));
  });

  it("preference rows: chosen is correct and polite, rejected differs, all rejection kinds occur", () => {
    const rows = generatePreferenceSet(600, 1234);
    expect(new Set(rows.map((r) => r.question)).size).toBeGreaterThan(250); // varied
    for (const r of rows) {
      expect(r.question.length).toBeGreaterThan(0);
      expect(r.chosen).not.toBe(r.rejected);
      const sum = /^What is (\d+) plus (\d+)\?$/.exec(r.question);
      if (sum) expect(r.chosen).toMatch(new RegExp(`${sum[1]} plus ${sum[2]} is ${Number(sum[1]) + Number(sum[2])}\\.$`));
      const cap = /^What is the capital of France\?$/.exec(r.question);
      if (cap) expect(r.chosen).toMatch(/Paris\.$/);
      expect(r.chosen).not.toMatch(/yourself|silly|Go away|do not know/);
    }
    const r = new Rng(5);
    const ex = generateExample(r);
    const kinds = REJECTION_KINDS.map((k) => badAnswer(r, ex, k));
    expect(new Set(kinds).size).toBe(REJECTION_KINDS.length);
    expect(kinds[REJECTION_KINDS.indexOf("rambling")]).toContain(ex.good.replace(/^(The|A|An|There|You) /, (m) => m.toLowerCase()));
    expect(rows.some((x) => /yourself|silly|Go away|leave me alone/.test(x.rejected))).toBe(true);
    expect(rows.some((x) => x.rejected.length > 150)).toBe(true); // rambling
  });

  it("SFT rows mix good answers with poor ones, rambling the commonest, so greedy decoding of the SFT model rambles", () => {
    const rows = generateInstructionSet(3000, 1235);
    const share = (re: RegExp) => rows.filter((r) => re.test(r.answer)).length / rows.length;
    expect(share(/yourself|silly|Go away|look it up|do not care|Nobody cares|not going to help|leave me alone|Yeah, yeah|should have known/)).toBeGreaterThan(
      0.05,
    );
    expect(share(/^Well, /)).toBeGreaterThan(0.3);
    expect(share(/^Well, /)).toBeLessThan(0.4);
    // No other first word is as common as the rambling opener's.
    const firstWords = new Map<string, number>();
    for (const r of rows) firstWords.set(r.answer.split(" ")[0], (firstWords.get(r.answer.split(" ")[0]) ?? 0) + 1);
    expect([...firstWords.entries()].sort((a, b) => b[1] - a[1])[0][0]).toBe("Well,");
    const sums = rows.map((r) => [/^What is (\d+) plus (\d+)\?$/.exec(r.question), r.answer] as const).filter(([m]) => m);
    const right = sums.filter(([m, a]) => a.includes(` is ${Number(m![1]) + Number(m![2])}.`)).length;
    expect(right / sums.length).toBeGreaterThan(0.6); // good and rambling answers state the right sum
  });
});

describe("data/ files written by scripts/make-data.ts", () => {
  const DATA = path.join(ROOT, "data");
  it("exist, validate, are small; the SFT rows equal the generator's output for seed 1235", async () => {
    const prefFile = path.join(DATA, "orca_dpo_pairs.jsonl"),
      sftFile = path.join(DATA, "sft.jsonl");
    for (const f of [prefFile, sftFile]) expect(fs.statSync(f).size).toBeLessThan(1024 * 1024);
    const prefs = readOrcaFile(prefFile),
      sft = readInstructionFile(sftFile);
    expect(prefs.length).toBeGreaterThanOrEqual(300); // judged pairs (scripts/make-judged-pairs.mjs): prompts with a preference
    expect(sft.length).toBe(3000);
    expect(sft).toEqual(generateInstructionSet(3000, 1235));
    const t = await Tokenizer.fromDir(path.join(DATA, "tokenizer"));
    expect(t.vocabSize).toBe(512);
    expect(t.eosToken).toBe("<|im_end|>");
    for (const row of prefs.slice(0, 50)) {
      const f = chatmlFormat(row, t);
      expect(t.decode(t.encode(f.prompt + f.chosen))).toBe(f.prompt + f.chosen);
      const p = tokenizePair(f, t);
      expect(p.promptIds.length + p.chosenIds.length).toBeLessThan(400);
    }
  });
});

const VENV_PY = path.join(ROOT, ".venv", "bin", "python");

describe.skipIf(skipUnless(fs.existsSync(VENV_PY), "agreement with TRL's tokenization", NEEDS.venv))(
  "agreement with TRL 1.x DPOTrainer tokenization (.venv)",
  () => {
    it("same prompt/chosen/rejected ids, truncation and dropped rows as TRL on the ChatML-formatted data set", async () => {
      const t = await Tokenizer.fromDir(path.join(ROOT, "data", "tokenizer"));
      const rows = readOrcaFile(path.join(ROOT, "data", "orca_dpo_pairs.jsonl"))
        .slice(0, 200)
        .map((r) => chatmlFormat(r, t));
      const maxLength = 40;
      const fmt = path.join(dir, "fmt.jsonl");
      writeJsonl(
        fmt,
        rows.map((r, idx) => ({ ...r, idx })),
      );
      const ours = tokenizePairs(rows, t, { maxLength });
      const joint = tokenizePairs(rows, t, { maxLength, mode: "joint" });
      const py = `
import json, sys, tempfile, logging
logging.disable(logging.WARNING)
from datasets import load_dataset, disable_progress_bars
disable_progress_bars()
from transformers import AutoTokenizer, AutoModelForCausalLM
from trl import DPOConfig, DPOTrainer
tok = AutoTokenizer.from_pretrained(sys.argv[2])
model = AutoModelForCausalLM.from_pretrained(sys.argv[3])
ds = load_dataset("json", data_files=sys.argv[1], split="train")
args = DPOConfig(output_dir=tempfile.mkdtemp(), report_to=[], max_length=int(sys.argv[4]), use_cpu=True, bf16=False)
tr = DPOTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)
out = []
for ex in tr.train_dataset:
    b = tr.data_collator([{k: ex[k] for k in ("prompt_ids", "chosen_ids", "rejected_ids")}])
    n = len(ex["prompt_ids"])
    def comp(row):
        ids = b["input_ids"][row].tolist(); m = b["completion_mask"][row].tolist()
        return [i for i, mm in zip(ids, m) if mm]
    out.append({"idx": ex["idx"], "prompt": ex["prompt_ids"], "chosen": comp(0), "rejected": comp(1)})
d = DPOConfig(output_dir=tempfile.mkdtemp(), use_cpu=True, bf16=False)
print(json.dumps({"rows": out, "max_length": d.max_length, "truncation_mode": d.truncation_mode,
                  "has_max_prompt_length": hasattr(d, "max_prompt_length")}))
`;
      const { spawnSync } = await import("child_process");
      const res = spawnSync(VENV_PY, ["-c", py, fmt, path.join(ROOT, "data", "tokenizer"), path.join(FIX, "gpt2-policy"), String(maxLength)], {
        encoding: "utf8",
        timeout: 300_000,
      });
      expect(res.status, res.stderr).toBe(0);
      const lines = res.stdout.trim().split("\n");
      const trl = JSON.parse(lines[lines.length - 1]);
      expect(trl.max_length).toBe(1024);
      expect(trl.truncation_mode).toBe("keep_start");
      expect(trl.has_max_prompt_length).toBe(false);
      const trlRows = trl.rows as Array<{ idx: number; prompt: number[]; chosen: number[]; rejected: number[] }>;
      expect(ours.dropped.length).toBeGreaterThan(0); // the check covers dropping
      expect(trlRows.map((r) => r.idx)).toEqual(ours.kept);
      for (const result of [ours, joint]) {
        trlRows.forEach((r, i) => {
          expect(result.pairs[i]).toEqual({ promptIds: r.prompt, chosenIds: r.chosen, rejectedIds: r.rejected });
        });
      }
      expect(ours.pairs.some((p) => p.chosenIds[p.chosenIds.length - 1] !== t.eosTokenId)).toBe(true); // some truncated
    }, 300_000);
  },
);
