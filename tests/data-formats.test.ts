// Preference data in every format and file type TRL / the Hub use, every row-level error, truncation, `data inspect`,
// and conversational tokenization equal to TRL 1.13's own (tests/helpers/trl_tokenize.py).
import { describe, it, expect, beforeAll } from "vitest";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { loadPreferenceData, loadPreferenceDataset, streamPreferenceRows } from "../src/data/dataset";
import { readRawRows } from "../src/data/readers";
import { tokenizePair, tokenizePairs } from "../src/data/tokenize";
import { inspectPreferenceData } from "../src/data/inspect";
import type { PreferenceRow } from "../src/data/preferences";
import { pythonWith } from "./helpers/python";
import { NEEDS, skipUnless } from "./helpers/skip";

const ROOT = path.join(__dirname, "..");
const FIX = path.join(__dirname, "fixtures/hf-tiny");
const CLI = path.join(ROOT, "dist/cli/index.js");
let dir: string;
let chatml: Tokenizer;

const LLAMA3_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n\\n' + message['content'] | trim }}{{ eos_token }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n\\n' }}{% endif %}";

function tokenizerDir(name: string, from: string, template: string): string {
  const d = path.join(dir, name);
  fs.mkdirSync(d, { recursive: true });
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) fs.copyFileSync(path.join(FIX, from, f), path.join(d, f));
  fs.writeFileSync(path.join(d, "chat_template.jinja"), template);
  return d;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-ts-formats-"));
  chatml = await Tokenizer.fromDir(path.join(FIX, "gpt2-policy"));
});

function write(name: string, text: string | Buffer): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
const texts = (rows: PreferenceRow[]) => rows.map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected }));
const user = (content: string) => ({ role: "user", content });
const assistant = (content: string) => ({ role: "assistant", content });
const conv = [
  { prompt: [user("What colour is the sky?")], chosen: [assistant("Blue.")], rejected: [assistant("Green.")] },
  { prompt: [{ role: "system", content: "Be brief." }, user("2+2?")], chosen: [assistant("4")], rejected: [assistant("5")] },
];

describe("formats (TRL's data_utils)", () => {
  it("standard rows pass through with their source lines", async () => {
    const f = write("std.jsonl", `\n${jsonl([{ prompt: "p", chosen: "c", rejected: "r" }])}`);
    const rows = await loadPreferenceDataset(f, chatml);
    expect(rows).toEqual([{ prompt: "p", chosen: "c", rejected: "r", source: { file: f, line: 2 } }]);
  });

  it("conversational rows: prompt with the generation prompt, completions end with the template's own end of turn", async () => {
    const data = await loadPreferenceData(write("conv.jsonl", jsonl(conv)), chatml);
    expect(data.format).toBe("conversational");
    expect(texts(data.rows)[0]).toEqual({
      prompt: "<|im_start|>user\nWhat colour is the sky?<|im_end|>\n<|im_start|>assistant\n",
      chosen: "Blue.<|im_end|>\n",
      rejected: "Green.<|im_end|>\n",
    });
    expect(data.rows[0].chatTemplated).toBe(true);
    const p = tokenizePair(data.rows[0], chatml, { maxLength: null });
    const imEnd = chatml.tokenToId("<|im_end|>")!;
    expect(p.chosenIds.filter((id) => id === imEnd).length).toBe(1); // no EOS appended after the template's
  });

  it("implicit prompt: longest common prefix of strings (space kept with the completions) and of messages", async () => {
    const s = await loadPreferenceData(write("imp.jsonl", jsonl([{ chosen: "Sky is blue", rejected: "Sky is green" }])), chatml);
    expect(s.format).toBe("implicit");
    expect(texts(s.rows)).toEqual([{ prompt: "Sky is", chosen: " blue", rejected: " green" }]);
    const m = await loadPreferenceData(
      write("impc.jsonl", jsonl(conv.map((r) => ({ chosen: [...r.prompt, ...r.chosen], rejected: [...r.prompt, ...r.rejected] })))),
      chatml,
    );
    expect(m.format).toBe("implicit");
    expect(m.conversational).toBe(true);
    const explicit = await loadPreferenceDataset(write("conv2.jsonl", jsonl(conv)), chatml);
    expect(texts(m.rows)).toEqual(texts(explicit));
    // TRL's maybe_extract_prompt: a string prompt beside message lists is ignored
    const h = await loadPreferenceData(
      write("hh.jsonl", jsonl([{ prompt: "sky?", chosen: [...conv[0].prompt, ...conv[0].chosen], rejected: [...conv[0].prompt, ...conv[0].rejected] }])),
      chatml,
    );
    expect(h.promptIgnored).toBe(1);
    expect(texts(h.rows)).toEqual(texts(explicit).slice(0, 1));
  });

  it("orca columns (the article's ChatML formatting) and a columns mapping", async () => {
    const o = await loadPreferenceData(write("orca.jsonl", jsonl([{ system: "", question: "q", chosen: "c", rejected: "r" }])), chatml);
    expect(o.format).toBe("orca");
    expect(texts(o.rows)[0]).toEqual({ prompt: "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n", chosen: "c<|im_end|>\n", rejected: "r<|im_end|>\n" });
    const m = await loadPreferenceDataset(write("cols.jsonl", jsonl([{ instruction: "p", better: "c", worse: "r" }])), null, {
      columns: { prompt: "instruction", chosen: "better", rejected: "worse" },
    });
    expect(texts(m)).toEqual([{ prompt: "p", chosen: "c", rejected: "r" }]);
  });

  it("the format is decided over all rows: the odd row is named, with where the majority starts", async () => {
    const f = write("mixed.jsonl", jsonl([conv[0], { prompt: "p", chosen: "c", rejected: "r" }, conv[1]]));
    await expect(loadPreferenceDataset(f, chatml)).rejects.toThrow(`${f}:2: row is standard but the data set is conversational (2 of 3 rows, first at ${f}:1)`);
    await expect(loadPreferenceDataset(f, chatml, { format: "standard" })).rejects.toThrow(
      `${f}:1: row is conversational but the format asked for is standard`,
    );
  });
});

describe("readers", () => {
  const rows = [
    { prompt: 'Line one\nline "two", with comma', chosen: "c1", rejected: "r1" },
    { prompt: "p2", chosen: "é ünïcode ✓", rejected: "r2" },
  ];

  it("JSON array, {data: [...]}, CSV (RFC 4180) and gzip of each give the same rows", async () => {
    const csvField = (s: string) => `"${s.replace(/"/g, '""')}"`;
    const csv = "prompt,chosen,rejected\r\n" + rows.map((r) => [r.prompt, r.chosen, r.rejected].map(csvField).join(",")).join("\r\n") + "\r\n";
    const files = [
      write("a.json", JSON.stringify(rows, null, 2)),
      write("b.json", JSON.stringify({ data: rows })),
      write("c.csv", csv),
      write("d.jsonl.gz", zlib.gzipSync(jsonl(rows))),
      write("e.csv.gz", zlib.gzipSync(csv)),
      write("f.json.gz", zlib.gzipSync(JSON.stringify(rows))),
    ];
    for (const f of files) expect(texts(await loadPreferenceDataset(f)), f).toEqual(rows);
    expect((await loadPreferenceDataset(files[0])).map((r) => r.source!.line)).toEqual([2, 7]);
    expect((await loadPreferenceDataset(files[2])).map((r) => r.source!.line)).toEqual([2, 4]); // the line a record starts on
    // several files (e.g. the shards of one split) are one data set
    expect((await loadPreferenceDataset([files[0], files[2]])).length).toBe(4);
    // CSV errors
    const bad = write("bad.csv", 'prompt,chosen,rejected\n"p,"c",r\n');
    await expect(loadPreferenceDataset(bad)).rejects.toThrow(`${bad}:2: unexpected character "c" after a closing quote`);
    const open = write("open.csv", 'prompt,chosen,rejected\np,"c,r\n');
    await expect(loadPreferenceDataset(open)).rejects.toThrow(`${open}:2: quoted CSV field is never closed`);
    const short = write("short.csv", "prompt,chosen,rejected\np,c\n");
    await expect(loadPreferenceDataset(short)).rejects.toThrow(`${short}:2: CSV record has 2 fields, the header has 3`);
  });

  it("streams JSONL line by line (an async iterator) and names unknown file types and directories", async () => {
    const f = write("s.jsonl", jsonl(rows));
    const seen: number[] = [];
    for await (const item of readRawRows(f)) if (!(item instanceof Error)) seen.push(item.source.line);
    expect(seen).toEqual([1, 2]);
    const streamed: PreferenceRow[] = [];
    for await (const r of streamPreferenceRows(f)) streamed.push(r);
    expect(texts(streamed)).toEqual(rows);
    await expect(loadPreferenceDataset(write("x.txt", "hi"))).rejects.toThrow(/x\.txt: unknown data file type/);
    await expect(loadPreferenceDataset(dir)).rejects.toThrow(`${dir}: is a directory, not a data file; give a file (data files in it:`);
  });
});

describe("validation: one message naming file, line and field; skipInvalid reports every skipped row", () => {
  it("invalid UTF-8, lone surrogates, empty / whitespace-only text, identical completions, wrong types, missing columns", async () => {
    const good = JSON.stringify({ prompt: "p", chosen: "c", rejected: "r" });
    const badUtf8 = Buffer.concat([
      Buffer.from(good + "\n" + '{"prompt": "p", "chosen": "caf'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('", "rejected": "r"}\n'),
    ]);
    const cases: Array<[string, string | Buffer, string]> = [
      ["utf8.jsonl", badUtf8, ":2: invalid UTF-8 at byte 31"],
      [
        "surrogate.jsonl",
        good + '\n{"prompt": "p", "chosen": "a\\ud800b", "rejected": "r"}\n',
        ':2: field "chosen" contains a lone surrogate U+D800 at character 2',
      ],
      ["ws.jsonl", JSON.stringify({ prompt: " \n\t", chosen: "c", rejected: "r" }), ':1: field "prompt" must be a non-empty string (got whitespace only)'],
      ["same.jsonl", JSON.stringify({ prompt: "p", chosen: "same", rejected: "same" }), ':1: field "rejected" is identical to "chosen"'],
      ["type.jsonl", JSON.stringify({ prompt: "p", chosen: 3, rejected: "r" }), ':1: field "chosen" must be a non-empty string (got number)'],
      [
        "missing.jsonl",
        JSON.stringify({ prompt: "p", chosen: "c", answer: "r" }),
        ':1: field "rejected" is missing: a preference row needs "chosen" and "rejected" (plus "prompt", or "question" for orca rows); the row has columns: prompt, chosen, answer',
      ],
      [
        "msg.jsonl",
        JSON.stringify({ prompt: [user("q")], chosen: [{ role: "assistant" }], rejected: [assistant("r")] }),
        ':1: field "chosen[0].content" must be a non-empty string (missing)',
      ],
      ["json.jsonl", good + "\n{oops}\n", ":2: invalid JSON at line 2"],
      [
        "halfconv.jsonl",
        JSON.stringify({ prompt: [user("q")], chosen: "c", rejected: [assistant("r")] }),
        ':1: field "chosen" must be a non-empty list of {role, content} messages (got a string)',
      ],
    ];
    for (const [name, text, message] of cases) {
      const f = write(name, text);
      await expect(loadPreferenceDataset(f, chatml), name).rejects.toThrow(f + message);
    }
    // the text is never changed: U+FFFD is not invented
    const kept = await loadPreferenceData(write("utf8skip.jsonl", badUtf8), chatml, { skipInvalid: true });
    expect(kept.rows.length).toBe(1);
    expect(kept.skipped).toEqual([{ source: { file: path.join(dir, "utf8skip.jsonl"), line: 2 }, field: null, reason: "invalid UTF-8 at byte 31" }]);
  });

  it("skipInvalid keeps the good rows and lists every bad one in file order", async () => {
    const f = write(
      "mixbad.jsonl",
      jsonl([
        { prompt: "p", chosen: "c", rejected: "r" },
        { prompt: "p", chosen: "", rejected: "r" },
        { prompt: "p", chosen: "x", rejected: "x" },
        { prompt: "p2", chosen: "c", rejected: "r" },
      ]),
    );
    const d = await loadPreferenceData(f, null, { skipInvalid: true });
    expect(d.rows.map((r) => r.source!.line)).toEqual([1, 4]);
    expect(d.skipped.map((s) => [s.source.line, s.field])).toEqual([
      [2, "chosen"],
      [3, "rejected"],
    ]);
    expect(d.totalRows).toBe(4);
  });
});

describe("truncation as TRL has it", () => {
  const row: PreferenceRow = { prompt: "one two three four five six", chosen: " a b c d", rejected: " e", source: { file: "f.jsonl", line: 7 } };

  it("keep_start cuts completion ends; keep_end cuts prompt starts per sequence; legacy limits; counts and drops by line", () => {
    const full = tokenizePair(row, chatml, { maxLength: null });
    const P = full.promptIds.length,
      C = full.chosenIds.length,
      R = full.rejectedIds.length;
    const start = tokenizePair(row, chatml, { maxLength: P + 2 });
    expect(start).toEqual({ promptIds: full.promptIds, chosenIds: full.chosenIds.slice(0, 2), rejectedIds: full.rejectedIds.slice(0, 2) });
    const end = tokenizePair(row, chatml, { maxLength: C + 2, truncationMode: "keep_end" });
    expect(end.promptIds).toEqual(full.promptIds.slice(P - 2));
    expect(end.chosenIds).toEqual(full.chosenIds);
    expect(end.rejectedPromptIds).toEqual(full.promptIds.slice(P - (C + 2 - R))); // the shorter completion keeps more prompt
    const legacy = tokenizePair(row, chatml, { maxLength: null, maxPromptLength: 2, maxCompletionLength: 1 });
    expect(legacy).toEqual({ promptIds: full.promptIds.slice(P - 2), chosenIds: full.chosenIds.slice(0, 1), rejectedIds: full.rejectedIds.slice(0, 1) });
    const r = tokenizePairs([row, { ...row, prompt: "hi", source: { file: "f.jsonl", line: 9 } }], chatml, { maxLength: P });
    expect(r.droppedRows.map((d) => d.where)).toEqual(["f.jsonl:7"]);
    expect(r.droppedRows[0].reason).toMatch(/chosen completion would be empty \(prompt \d+ tokens, maxLength \d+\)/);
    const t = tokenizePairs([row], chatml, { maxLength: P + 2 });
    expect(C).toBeGreaterThan(2);
    expect(t.truncated).toEqual({ rows: 1, prompt: 0, chosen: 1, rejected: R > 2 ? 1 : 0 });
    expect(() => tokenizePair(row, chatml, { truncationMode: "middle" as never })).toThrow(/truncationMode must be "keep_start" or "keep_end"/);
  });
});

const py = pythonWith("pyarrow", "trl", "datasets");

describe.skipIf(skipUnless(py, "Parquet, data inspect and TRL's tokenization (.venv)", NEEDS.venv))(
  "Parquet (written by pyarrow), data inspect, and TRL's tokenization (.venv)",
  () => {
    it("reads snappy and zstd Parquet with a list<struct> column by row group; inspect counts; a corrupted copy names the row", async () => {
      const rows = Array.from({ length: 25 }, (_, i) => ({
        prompt: [user(`q${i}`)],
        chosen: [assistant(`good ${i}`)],
        rejected: [assistant(`bad ${i}`)],
        score: i,
      }));
      const json = write("pq.json", JSON.stringify(rows));
      const res = spawnSync(py!, [path.join(__dirname, "helpers/write_parquet.py"), json, path.join(dir, "conv"), "10"], { encoding: "utf8" });
      expect(res.status, res.stderr).toBe(0);
      expect(res.stdout).toContain("prompt: list<item: struct<role: string, content: string>>");
      const jsonlFile = write("conv-all.jsonl", jsonl(rows));
      const fromJsonl = texts(await loadPreferenceDataset(jsonlFile, chatml));
      for (const codec of ["snappy", "zstd"]) {
        const f = path.join(dir, `conv-${codec}.parquet`);
        const got = await loadPreferenceDataset(f, chatml);
        expect(texts(got)).toEqual(fromJsonl);
        expect(got[24].source).toEqual({ file: f, line: 25, unit: "row" });
      }
      // data inspect (CLI) on the Parquet file and on the conversational JSONL
      for (const f of [path.join(dir, "conv-zstd.parquet"), jsonlFile]) {
        const out = spawnSync("node", [CLI, "data", "inspect", f, "--json", "--tokenizer", path.join(FIX, "gpt2-policy"), "--max-length", "13"], {
          encoding: "utf8",
        });
        expect(out.status, out.stderr).toBe(0);
        const s = JSON.parse(out.stdout);
        expect([s.format, s.rows, s.skipped.length, s.unit]).toEqual(["conversational", 25, 0, "tokens"]);
        // prompts of q0..q9 are 12 tokens (kept, completions cut to 1 token), of q10..q24 13 tokens: dropped as TRL 1.13 does
        expect([s.kept, s.dropped.length, s.truncated.rows, s.lengths.prompt.min, s.lengths.prompt.max]).toEqual([10, 15, 10, 12, 13]);
        expect(s.dropped[0].where).toBe(f.endsWith(".parquet") ? `${f}: row 11` : `${f}:11`);
      }
      // corrupted copy: row 13 has identical completions, row 20 an empty prompt message
      const broken = rows.map((r, i) => (i === 12 ? { ...r, rejected: r.chosen } : i === 19 ? { ...r, prompt: [user("   ")] } : r));
      const res2 = spawnSync(
        py!,
        [path.join(__dirname, "helpers/write_parquet.py"), write("pq2.json", JSON.stringify(broken)), path.join(dir, "broken"), "10"],
        { encoding: "utf8" },
      );
      expect(res2.status, res2.stderr).toBe(0);
      const bf = path.join(dir, "broken-snappy.parquet");
      const out = spawnSync("node", [CLI, "data", "inspect", bf], { encoding: "utf8" });
      expect(out.status).toBe(1);
      expect(out.stdout).toContain(`rows       25 read, 23 kept, 2 invalid`);
      expect(out.stdout).toContain(`${bf}: row 13: field "rejected" is identical to "chosen"`);
      expect(out.stdout).toContain(`${bf}: row 20: field "prompt[0].content" must be a non-empty string (got whitespace only)`);
      expect(out.stderr).toContain(`dpo-ts data: 2 invalid row(s), first: ${bf}: row 13`);
      const summary = await inspectPreferenceData(bf);
      expect([summary.rows, summary.kept, summary.unit]).toEqual([25, 23, "characters"]);
      // a binary column with invalid UTF-8 is named by row and field, never decoded to U+FFFD
      const bin = path.join(dir, "binary.parquet");
      const w = spawnSync(
        py!,
        [
          "-c",
          `import sys, pyarrow as pa, pyarrow.parquet as pq
pq.write_table(pa.table({"prompt": ["p", "q"], "chosen": pa.array([b"ok", b"caf\\xc3("], pa.binary()), "rejected": ["r", "s"]}), sys.argv[1])`,
          bin,
        ],
        { encoding: "utf8" },
      );
      expect(w.status, w.stderr).toBe(0);
      await expect(loadPreferenceDataset(bin)).rejects.toThrow(`${bin}: row 2: field "chosen" invalid UTF-8 at byte 4`);
    }, 120_000);

    it("conversational and implicit rows give exactly TRL 1.13's token ids on a Llama-3-style (BOS in the template) and a ChatML template", async () => {
      const rows = [...conv, { chosen: [user("Hi there"), assistant("Hello!")], rejected: [user("Hi there"), assistant("Go away.")] }];
      const templates: Array<[string, string]> = [
        [tokenizerDir("llama3", "llama-policy", LLAMA3_TEMPLATE), "llama3"],
        [path.join(FIX, "gpt2-policy"), "chatml"],
      ];
      // one Python process for all four (template, file) cases: importing TRL is the slow part
      const cases: Array<{ tokDir: string; name: string; file: string }> = [];
      for (const [tokDir, name] of templates) {
        for (const [kind, subset] of [
          ["explicit", rows.slice(0, 2)],
          ["implicit", rows.slice(2)],
        ] as const) {
          cases.push({ tokDir, name: `${name} ${kind}`, file: write(`${name}-${kind}.jsonl`, jsonl(subset)) });
        }
      }
      // implicit-prompt standard rows: TRL's extract_prompt on strings, then its standard tokenization ("joint" mode)
      const stdImplicit = [
        { chosen: "The sky is blue today", rejected: "The sky is green today" },
        { chosen: "Two plus two is four.", rejected: "Two plus two is five." },
      ];
      cases.push({ tokDir: path.join(FIX, "llama-policy"), name: "standard implicit", file: write("std-implicit.jsonl", jsonl(stdImplicit)) });
      const res = spawnSync(py!, [path.join(__dirname, "helpers/trl_tokenize.py"), ...cases.flatMap((c) => [c.file, c.tokDir])], {
        encoding: "utf8",
        timeout: 120_000,
      });
      expect(res.status, res.stderr).toBe(0);
      const trlAll = JSON.parse(res.stdout.trim().split("\n").pop()!) as Array<Array<{ prompt: number[]; chosen: number[]; rejected: number[] }>>;
      for (const [i, c] of cases.entries()) {
        const tok = await Tokenizer.fromDir(c.tokDir);
        const ours = tokenizePairs(await loadPreferenceDataset(c.file, tok), tok, {
          maxLength: null,
          mode: c.name.startsWith("standard") ? "joint" : "separate",
        }).pairs;
        expect(
          ours.map((p) => ({ prompt: p.promptIds, chosen: p.chosenIds, rejected: p.rejectedIds })),
          c.name,
        ).toEqual(trlAll[i]);
        if (c.name.startsWith("standard")) continue;
        for (const p of ours) {
          if (c.name.startsWith("llama3")) {
            expect(p.promptIds[0]).toBe(tok.bosTokenId);
            expect(p.promptIds.filter((id) => id === tok.bosTokenId).length, "one BOS, not two").toBe(1);
          }
          for (const ids of [p.chosenIds, p.rejectedIds]) {
            expect(ids.filter((id) => id === tok.eosTokenId).length, `${c.name}: one end of turn per completion`).toBe(1);
            expect(ids[ids.length - 1] === tok.eosTokenId || tok.decode(ids.slice(-1)) === "\n").toBe(true);
          }
        }
      }
    }, 240_000);
  },
);

describe("DPOConfig's length knobs and the collator", () => {
  it("TRL 1.13 defaults, legacy limits nullable, bad values named; keep_end's rejected prompt reaches the batch", async () => {
    const { resolveConfig } = await import("../src/train/config");
    const c = resolveConfig({});
    // maxLength 0 = unset: the trainer resolves it to the model's context (tests/max-length.test.ts); TRL's 1024 is explicit.
    expect([c.maxLength, c.truncationMode, c.maxPromptLength, c.maxCompletionLength]).toEqual([0, "keep_start", null, null]);
    expect(resolveConfig({ maxLength: 1024 }).maxLength).toBe(1024);
    expect(() => resolveConfig({ maxLength: -1 })).toThrow(`DPOConfig: option "maxLength" must be a whole number ≥ 0 (0 = the model's context)`);
    expect(resolveConfig({ maxPromptLength: 128, truncationMode: "keep_end" }).maxPromptLength).toBe(128);
    expect(() => resolveConfig({ maxPromptLength: 0 })).toThrow(`DPOConfig: option "maxPromptLength" must be a positive integer or null (no limit), got 0`);
    expect(() => resolveConfig({ truncationMode: "middle" as never })).toThrow(/option "truncationMode" must be "keep_start" or "keep_end"/);
    const { collatePairs } = await import("../src/train/batch");
    const tf = await import("@tensorflow/tfjs");
    const batch = collatePairs([{ promptIds: [1, 2, 3], chosenIds: [4], rejectedIds: [5, 6, 7], rejectedPromptIds: [3] }], 0);
    expect(await batch.inputIds.array()).toEqual([
      [1, 2, 3, 4],
      [3, 5, 6, 7],
    ]);
    tf.dispose([batch.inputIds, batch.attentionMask, batch.labelPositions, batch.labels, batch.labelRows]);
  });
});
