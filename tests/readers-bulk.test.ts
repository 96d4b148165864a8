// The bulk paths of the data readers (src/data/readers.ts): JSONL decoded ~1 MB at a time with its strings as slices of
// the block, Parquet strings decoded a page at a time. Each must give exactly what a line-by-line JSON.parse / a
// strict per-value decode gives, with the same line / row numbers and the same errors.
import { describe, it, expect, beforeAll } from "vitest";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { loadPreferenceData, loadPreferenceDataset, streamPreferenceRows } from "../src/data/dataset";
import { planFlatColumns } from "../src/data/parquet";
import { readRawRows, readRawRowsSync, RawItem, RawRow, RowError } from "../src/data/readers";
import { classifyRow, convertRow } from "../src/data/rows";
import { InPlaceSnappy } from "../src/data/snappy";
import { decodeUtf8Block } from "../src/data/utf8";
import { pythonWith } from "./helpers/python";
import { NEEDS, skipUnless } from "./helpers/skip";

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-ts-readers-bulk-"));
});

function write(name: string, text: string | Buffer): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

/** What a line-by-line reader gives: each non-blank line's JSON.parse, with its 1-based line. */
function expected(lines: string[]): Array<{ line: number; value: unknown }> {
  return lines.flatMap((l, i) => {
    const text = (i === 0 ? l.replace(/^\uFEFF/, "") : l).replace(/\r$/, "");
    return text.trim() === "" ? [] : [{ line: i + 1, value: JSON.parse(text) }];
  });
}

const got = (items: RawItem[]) => items.map((it) => (it instanceof RowError ? it : { line: it.source.line, value: it.value }));

async function collect(file: string): Promise<RawItem[]> {
  const out: RawItem[] = [];
  for await (const item of readRawRows(file)) out.push(item);
  return out;
}

describe("strict UTF-8 blocks (utf8.ts)", () => {
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const reference = (b: Uint8Array): string | null => {
    try {
      return strict.decode(b);
    } catch {
      return null;
    }
  };

  it("gives exactly TextDecoder's (fatal) text, or null where it throws: every kind of valid and invalid sequence", () => {
    const cases = [
      "",
      "plain ASCII",
      "\uFEFFbyte-order mark kept",
      "Latin-1 only: café naïve Größe ÿ",
      "Cyrillic данные, CJK 日本語, emoji 🙂 𝄞",
      "NULs \0 inside \0\0\0\0 too",
      "\u0080 \u07FF \u0800 \uFFFF \u{10000} \u{10FFFF} \u2028",
    ].map((t) => Buffer.from(t));
    const invalid = ["ff", "80", "c0af", "c1bf", "e080af", "eda080", "edbfbf", "e282", "f4908080", "f880808080", "41c3", "f09f99"].map((h) =>
      Buffer.from(h, "hex"),
    );
    for (const b of [...cases, ...invalid, ...invalid.map((i) => Buffer.concat([Buffer.from("日本 ok "), i, Buffer.from(" tail")]))]) {
      expect(decodeUtf8Block(b), b.toString("hex")).toBe(reference(b));
    }
    expect(invalid.every((b) => decodeUtf8Block(b) === null)).toBe(true);
  });

  it("matches TextDecoder on random text and random damage (views into larger buffers too)", () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
    const pool = [0x41, 0x20, 0x0, 0xe9, 0xff, 0x100, 0x430, 0x65e5, 0xfeff, 0xfffd, 0x1f642, 0x10ffff];
    for (let trial = 0; trial < 300; trial++) {
      let text = "";
      for (let i = rand(400); i > 0; i--) text += String.fromCodePoint(rand(3) ? pool[rand(pool.length)] : rand(0xd7ff));
      const bytes = Buffer.concat([Buffer.from("xx"), Buffer.from(text), Buffer.from("yy")]);
      if (trial % 3 === 0 && bytes.length > 4) bytes[2 + rand(bytes.length - 4)] = rand(256); // maybe invalid now
      const view = new Uint8Array(bytes.buffer, bytes.byteOffset + 2, bytes.length - 4);
      expect(decodeUtf8Block(view), `trial ${trial}`).toBe(reference(view));
    }
  });
});

describe("JSONL read a block at a time", () => {
  it("gives JSON.parse's values and the file's lines across blocks: flat rows, escapes, nesting, duplicate keys, CRLF, BOM, blank lines, non-ASCII", async () => {
    const word = (i: number) => `word${i % 97} `.repeat(1 + (i % 13));
    const lines: string[] = [];
    for (let i = 0; i < 16000; i++) {
      const prompt = `Q${i}: ${word(i)}`;
      if (i % 500 === 7) lines.push("");
      if (i % 411 === 3) lines.push(`{"prompt": "${prompt}", "chosen": "first ${word(i)}", "chosen": "second ${word(i)}", "rejected": "r ${word(i + 1)}"}`);
      else if (i % 377 === 5) lines.push(`{ "prompt" : "${prompt}\\n\\"quoted\\" \\u00e9" , "chosen":"c ${word(i)}" , "rejected" :"r ${word(i)}x" }\r`);
      else if (i % 373 === 9) lines.push(`  {"prompt":"${prompt}","chosen" : "" ,  "rejected":"r ${word(i)}", "prompt": "again ${prompt}"}  \r`);
      else if (i % 367 === 1) lines.push(`{}`);
      else if (i % 301 === 11)
        lines.push(
          JSON.stringify({
            prompt: [{ role: "user", content: prompt }],
            chosen: [{ role: "assistant", content: `c ${word(i)}` }],
            rejected: [{ role: "assistant", content: `r ${word(i)}` }],
            n: i,
            ok: true,
            none: null,
            xs: [1.5e3, -2, []],
          }),
        );
      else if (i >= 9000 && i < 9600 && i % 7 === 0)
        lines.push(JSON.stringify({ prompt: `${prompt} café ☕ 𝄞`, chosen: `c ${word(i)} naïve`, rejected: `r ${word(i)}` }));
      else if (i % 199 === 17) lines.push(`{"__proto__": "${word(i)}", "prompt": "${prompt}", "chosen": "${word(i)}a", "rejected": "${word(i)}b"}`);
      else lines.push(JSON.stringify({ prompt, chosen: `c ${word(i)}`, rejected: `r ${word(i)}`, empty: "", short: "ab" }));
    }
    const text = lines.join("\n") + "\n";
    expect(Buffer.byteLength(text)).toBeGreaterThan(3 << 20); // several blocks and stream chunks
    const want = expected(lines);
    const f = write("many.jsonl", text);
    expect(got(readRawRowsSync(f))).toEqual(want);
    expect(got(await collect(f))).toEqual(want);
    // gzipped: other chunk boundaries
    const gz = write("many.jsonl.gz", zlib.gzipSync(text));
    expect(got(await collect(gz))).toEqual(want.map((w) => w));
    // a raw tab (JSON whitespace) sends a block to JSON.parse: same values
    const tabs = lines.map((l, i) => (i % 1000 === 500 ? l.replace('{"prompt": ', '{"prompt":\t') : l));
    expect(got(readRawRowsSync(write("tabs.jsonl", tabs.join("\n") + "\n")))).toEqual(expected(tabs));
    // a byte-order mark before line 1 is not part of the row
    const bom = ["\uFEFF" + lines[0], ...lines.slice(1, 20)];
    expect(got(readRawRowsSync(write("bom.jsonl", bom.join("\n"))))).toEqual(expected(bom));
    // no final newline: the last line still read
    const noNl = write("no-newline.jsonl", text.slice(0, -1));
    expect(got(readRawRowsSync(noNl))).toEqual(want);
  });

  it("non-ASCII blocks take the same in-place path: non-ASCII keys and values, raw U+2028, emoji, escapes, bad lines named", async () => {
    const lines: string[] = [];
    for (let i = 0; i < 12000; i++) {
      if (i % 97 === 3) lines.push(`{"prómpt": "Frage ${i}: Größe \u2028 ${"ü".repeat(i % 5)}", "chosen": "好 ${i}", "rejected": "坏 ${i} 🙂"}`);
      else if (i % 89 === 4) lines.push(`{"prompt": "q ${i} \\u00e9 \\"x\\"", "chosen": "c ${i} é", "rejected": "r ${i}"}`);
      else if (i % 83 === 5) lines.push(JSON.stringify({ prompt: `p ${i} ☕`, chosen: [{ role: "assistant", content: `ответ ${i}` }], rejected: null, n: i }));
      else
        lines.push(
          JSON.stringify({ prompt: `вопрос ${i}: ${"données ".repeat(1 + (i % 7))}`, chosen: `c ${i} naïve 𝄞`, rejected: `r ${i} ${"x".repeat(i % 20)}` }),
        );
    }
    // raw U+2028 / U+2029 inside strings are valid JSON (only escaped in JavaScript source)
    lines[10] = '{"prompt": "line\u2028sep\u2029para", "chosen": "c", "rejected": "r"}';
    const text = lines.join("\n") + "\n";
    expect(Buffer.byteLength(text)).toBeGreaterThan(1 << 20); // several blocks
    const f = write("unicode.jsonl", text);
    expect(got(readRawRowsSync(f))).toEqual(expected(lines));
    expect(got(await collect(f))).toEqual(expected(lines));
    // almost flat lines in a non-ASCII block: JSON.parse's error, named by line
    for (const bad of [
      '{"prompt": "ü", "chosen": "c" "rejected": "r"}',
      '{"prompt": "ü", "chosen": "c", "rejected": "r",}',
      '{"prompt": "ü"\u0001, "chosen": "c", "rejected": "r"}',
    ]) {
      const rows = [...lines];
      rows[4000] = bad;
      const g = write("unicode-bad.jsonl", rows.join("\n") + "\n");
      await expect(loadPreferenceDataset(g)).rejects.toThrow(`${g}:4001: invalid JSON at line 4001`);
    }
  });

  it("invalid UTF-8 in a later block names its line; skipInvalid skips only that line", async () => {
    const rows = Array.from({ length: 5000 }, (_, i) =>
      JSON.stringify({ prompt: `question ${i} `.repeat(20), chosen: `good answer ${i}`, rejected: `bad answer ${i}` }),
    );
    const before = Buffer.from(rows.slice(0, 4320).join("\n") + "\n");
    const bad = Buffer.concat([Buffer.from('{"prompt": "caf'), Buffer.from([0xc3, 0x28]), Buffer.from('", "chosen": "x", "rejected": "y"}\n')]);
    const after = Buffer.from(rows.slice(4321).join("\n") + "\n");
    const f = write("bad-late.jsonl", Buffer.concat([before, bad, after]));
    await expect(loadPreferenceDataset(f)).rejects.toThrow(`${f}:4321: invalid UTF-8 at byte 16`);
    const data = await loadPreferenceData(f, null, { skipInvalid: true });
    expect([data.totalRows, data.rows.length, data.skipped.map((s) => [s.source.line, s.reason])]).toEqual([5000, 4999, [[4321, "invalid UTF-8 at byte 16"]]]);
    expect(data.rows[4320].source).toEqual({ file: f, line: 4322 });
    expect(data.rows[4320].prompt).toBe(`question 4321 `.repeat(20));
  });

  it("a lone surrogate escape and an invalid JSON line in a big file are named by line", async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ prompt: `p${i} `.repeat(100), chosen: `c${i}`, rejected: `r${i}` }));
    rows[2500] = '{"prompt": "lone \\ud800 here", "chosen": "c", "rejected": "r"}';
    const f = write("surrogate.jsonl", rows.join("\n") + "\n");
    await expect(loadPreferenceDataset(f)).rejects.toThrow(`${f}:2501: field "prompt" contains a lone surrogate U+D800 at character 6`);
    // only rows without escapes are vouched well-formed (textField then skips the surrogate scan)
    const raw = (await collect(f)) as RawRow[];
    expect([raw[0].wellFormed, raw[2500].wellFormed]).toEqual([true, false]);
    // almost flat lines: each is JSON.parse's error, named by line
    for (const bad of [
      '{"prompt": "p", "chosen": "c" "rejected": "r"}',
      '{"prompt": "p", "chosen": "c", "rejected": "r",}',
      '{"prompt": "p", "chosen": "c", "rejected": "r"} x',
      '{"prompt": "p"\u0001, "chosen": "c", "rejected": "r"}',
      '{"prompt": "p", "chosen": "c", "rejected": "r"',
    ]) {
      rows[2500] = bad;
      const g = write("badjson.jsonl", rows.join("\n") + "\n");
      await expect(loadPreferenceDataset(g)).rejects.toThrow(`${g}:2501: invalid JSON at line 2501`);
    }
  });
});

const py = pythonWith("pyarrow");

describe("snappy pages decompressed in place (snappy.ts)", () => {
  it("gives hysnappy's bytes as a view of its memory; a wrong length or a damaged block is an error", async () => {
    const { snappyCompress, snappyUncompress } = await import("hysnappy");
    const snappy = InPlaceSnappy.create();
    expect(snappy).not.toBeNull();
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
    // text-like (compressible) and random bytes, small to larger than the module's initial memory
    for (const size of [0, 1, 100, 70_000, 300_000, 3_000_000]) {
      const words = ["the ", "model ", "answer ", "é ", "\0\0\0\0"];
      const input =
        size > 100_000 && size < 1_000_000
          ? Uint8Array.from({ length: size }, () => Math.floor(random() * 256))
          : Buffer.from(Array.from({ length: size }, () => words[Math.floor(random() * words.length)]).join("")).subarray(0, size);
      const compressed = snappyCompress(input);
      const out = snappy!.decompress(compressed, input.length);
      expect(Buffer.from(out).equals(Buffer.from(input)), `${size}`).toBe(true);
      expect(Buffer.from(out).equals(Buffer.from(snappyUncompress(compressed, input.length)))).toBe(true);
      if (size > 0)
        expect(() => snappy!.decompress(compressed, input.length - 1)).toThrow(
          `SNAPPY page decompresses to ${input.length} bytes, the page header says ${input.length - 1}`,
        );
    }
    const compressed = snappyCompress(Buffer.from("the model answer ".repeat(1000)));
    expect(() => snappy!.decompress(compressed.subarray(0, compressed.length - 10), 17_000)).toThrow("SNAPPY page cannot be decompressed");
    expect(() => snappy!.decompress(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 5)).toThrow("SNAPPY page has a malformed length header");
  });
});

describe.skipIf(skipUnless(py, "Parquet bulk string decoding (.venv pyarrow)", NEEDS.venv))("Parquet strings decoded a page at a time (pyarrow files)", () => {
  function pyarrow(script: string, ...args: string[]): void {
    const r = spawnSync(py!, ["-c", `import sys, pyarrow as pa, pyarrow.parquet as pq\n${script}`, ...args], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
  }

  it("ASCII and non-ASCII pages give the same text as JSONL; invalid UTF-8 in a string column is named, never U+FFFD", async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ({
      prompt: i % 7 === 0 ? `Frage ${i}: Größe? ☕ 𝄞 ` : `question ${i} `.repeat(1 + (i % 5)),
      chosen: `good ${i}`,
      rejected: i % 11 === 0 ? `mauvais ${i} — non` : `bad ${i}`,
      score: i / 2,
    }));
    const json = write("rows.json", JSON.stringify(rows));
    const f = path.join(dir, "mixed.parquet");
    pyarrow("import json\npq.write_table(pa.Table.from_pylist(json.load(open(sys.argv[1]))), sys.argv[2], row_group_size=1000, data_page_size=4096)", json, f);
    const fromParquet = await loadPreferenceDataset(f);
    expect(fromParquet.map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected }))).toEqual(
      rows.map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected })),
    );
    expect(fromParquet[2999].source).toEqual({ file: f, line: 3000, unit: "row" });
    // a string column (not binary) holding invalid UTF-8 (pyarrow writes it unchecked from raw buffers)
    const bad = path.join(dir, "bad-string.parquet");
    pyarrow(
      `b = pa.array([b"ok fine", b"caf\\xc3(", b"also fine"], pa.binary())
s = pa.Array.from_buffers(pa.string(), len(b), b.buffers())
pq.write_table(pa.table({"prompt": ["p", "q", "r"], "chosen": s, "rejected": ["x", "y", "z"]}), sys.argv[1])`,
      bad,
    );
    await expect(loadPreferenceDataset(bad)).rejects.toThrow(`${bad}: row 2: field "chosen" invalid UTF-8 at byte 4`);
    const data = await loadPreferenceData(bad, null, { skipInvalid: true });
    expect([data.rows.map((r) => r.chosen), data.skipped.map((s) => [s.source.line, s.field])]).toEqual([["ok fine", "also fine"], [[2, "chosen"]]]);
  });

  it("the direct decoder (parquet.ts) reads every codec, page version, dictionary and null layout as pyarrow wrote them", async () => {
    // values: ASCII, non-ASCII (short and over 64 bytes), empty, repeated (dictionary runs) and nulls
    const script = `import json
n = 2600
words = ["the", "model", "Größe", "日本語", "🙂", "x" * 70, "naïve" + "é" * 40, ""]
def text(i, k): return " ".join(words[(i * 7 + j * k) % len(words)] for j in range(i % 9))
prompt = [f"Q{i}: " + text(i, 3) for i in range(n)]
chosen = ["same"] * 300 + [text(i, 5) for i in range(300, n)]
rejected = [None if i % 11 == 0 else text(i, 2) + "!" for i in range(n)]
table = pa.table({"prompt": pa.array(prompt, pa.string()), "chosen": pa.array(chosen, pa.large_string()), "rejected": pa.array(rejected, pa.string()), "blob": pa.array([p.encode() for p in prompt], pa.binary())})
required = pa.table({"prompt": prompt, "chosen": chosen}, schema=pa.schema([pa.field("prompt", pa.string(), nullable=False), pa.field("chosen", pa.string(), nullable=False)]))
json.dump({"prompt": prompt, "chosen": chosen, "rejected": rejected}, open(sys.argv[1] + "/expected.json", "w"))
for codec in ["snappy", "zstd", "gzip", "none", "brotli", "lz4"]:
    for version in ["1.0", "2.0"]:
        for dictionary in [True, False]:
            pq.write_table(table, f"{sys.argv[1]}/{codec}-{version}-{dictionary}.parquet", compression=codec, data_page_version=version, use_dictionary=dictionary, row_group_size=1000, data_page_size=2048)
pq.write_table(required, sys.argv[1] + "/required.parquet", row_group_size=700)
pq.write_table(table, sys.argv[1] + "/delta.parquet", use_dictionary=False, column_encoding={"prompt": "DELTA_BYTE_ARRAY", "chosen": "DELTA_LENGTH_BYTE_ARRAY", "rejected": "PLAIN", "blob": "PLAIN"})`;
    const sub = fs.mkdtempSync(path.join(dir, "codecs-"));
    pyarrow(script, sub);
    const want = JSON.parse(fs.readFileSync(path.join(sub, "expected.json"), "utf8")) as Record<"prompt" | "chosen" | "rejected", (string | null)[]>;
    const hp = await import("hyparquet");
    const { compressors } = await import("hyparquet-compressors");
    const files = fs.readdirSync(sub).filter((f) => f.endsWith(".parquet"));
    expect(files.length).toBe(26);
    for (const name of files) {
      const file = path.join(sub, name);
      const bytes = fs.readFileSync(file);
      const metadata = hp.parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
      const columns = name === "required.parquet" ? ["prompt", "chosen"] : ["prompt", "chosen", "rejected", "blob"];
      // the direct decoder takes every file but the DELTA-encoded one (read by hyparquet instead)
      expect(planFlatColumns(hp.parquetSchema(metadata), metadata.row_groups, columns, compressors) === null, name).toBe(name === "delta.parquet");
      const raw: RawItem[] = [];
      for await (const item of readRawRows(file)) raw.push(item);
      expect(raw.length, name).toBe(2600);
      const rowsOf = (k: "prompt" | "chosen" | "rejected") => raw.map((r) => (r as { value: Record<string, unknown> }).value[k]);
      expect(rowsOf("prompt"), name).toEqual(want.prompt);
      expect(rowsOf("chosen"), name).toEqual(want.chosen);
      if (name !== "required.parquet") {
        expect(rowsOf("rejected"), name).toEqual(want.rejected);
        // a binary column stays bytes
        expect(Buffer.from((raw[2599] as { value: { blob: Uint8Array } }).value.blob).toString(), name).toBe(want.prompt[2599]);
      }
      expect(raw[1234].source, name).toEqual({ file, line: 1235, unit: "row" });
      // the loader builds standard rows straight from the columns: the same rows and skipped rows (null rejected,
      // empty chosen) as converting each raw row, under auto and forced formats and a column mapping (a binary column)
      for (const opts of name === "required.parquet"
        ? []
        : [{}, { format: "standard" as const }, { format: "implicit" as const }, { columns: { prompt: "blob" } }]) {
        const loaded = await loadPreferenceData(file, null, { ...opts, skipInvalid: true });
        const byRow = { rows: [] as unknown[], skipped: [] as unknown[] };
        for (const item of raw as RawRow[]) {
          try {
            const kind =
              opts.format === "implicit" ? { format: "implicit" as const, conversational: false, promptIgnored: true } : classifyRow(item, opts.columns);
            byRow.rows.push(convertRow(item, kind, { columns: opts.columns }));
          } catch (e) {
            if (!(e instanceof RowError)) throw e;
            byRow.skipped.push({ source: e.source, field: e.field, reason: e.reason });
          }
        }
        expect({ rows: loaded.rows, skipped: loaded.skipped }, `${name} ${JSON.stringify(opts)}`).toEqual(byRow);
        expect(loaded.skipped.length, name).toBeGreaterThan(0);
        const streamed = { rows: [] as unknown[], skipped: [] as unknown[] };
        for await (const row of streamPreferenceRows(file, null, { ...opts, skipInvalid: true, onSkip: (s) => streamed.skipped.push(s) }))
          streamed.rows.push(row);
        expect(streamed, `${name} ${JSON.stringify(opts)} streamed`).toEqual(byRow);
      }
    }
    // a corrupt page (snappy stream damaged inside row group 2) names its rows, never yields garbage
    const good = fs.readFileSync(path.join(sub, "snappy-1.0-False.parquet"));
    const meta = hp.parquetMetadata(good.buffer.slice(good.byteOffset, good.byteOffset + good.length));
    const chunk = meta.row_groups[1].columns[0].meta_data!;
    const broken = Buffer.from(good);
    broken.fill(0xff, Number(chunk.data_page_offset) + 40, Number(chunk.data_page_offset) + 80);
    const bad = write("corrupt.parquet", broken);
    await expect(loadPreferenceDataset(bad)).rejects.toThrow(`${bad}: rows 1001-2000: cannot decode Parquet row group`);
    // invalid UTF-8 in a page of mostly non-ASCII values (the one-call decode fails): still named, the rest intact
    const invalid = path.join(sub, "mostly-non-ascii.parquet");
    pyarrow(
      `b = pa.array(["é one".encode(), "日本 two".encode(), b"caf\\xc3(", "ü four".encode(), b"five"], pa.binary())
s = pa.Array.from_buffers(pa.string(), len(b), b.buffers())
pq.write_table(pa.table({"prompt": ["p"] * 5, "chosen": s, "rejected": ["r"] * 5}), sys.argv[1])`,
      invalid,
    );
    await expect(loadPreferenceDataset(invalid)).rejects.toThrow(`${invalid}: row 3: field "chosen" invalid UTF-8 at byte 4`);
    const kept = await loadPreferenceData(invalid, null, { skipInvalid: true });
    expect(kept.rows.map((r) => r.chosen)).toEqual(["é one", "日本 two", "ü four", "five"]);
    // pages of mostly non-ASCII values are split at their length words' NULs: values that hold NULs themselves (read
    // by counting instead), empty values and nulls land where pyarrow put them; the rows are vouched well-formed
    const nuls = path.join(sub, "nuls.parquet");
    const withNul = ["é\0", "\0\0\0\0日本", "a\0\0\0\0", "", "ü\0ü", "🙂"];
    const noNul = ["é", "", "日本 two", null, "ü", "🙂 x"];
    pyarrow(
      `import json
a, b = json.loads(sys.argv[2]), json.loads(sys.argv[3])
c = ["é\\0\\0\\0\\0ü"] * 300  # a length word's four NULs inside every value
pq.write_table(pa.table({"a": pa.array(a * 50, pa.string()), "b": pa.array(b * 50, pa.string()), "c": c}), sys.argv[1], use_dictionary=False, data_page_size=1024)`,
      nuls,
      JSON.stringify(withNul),
      JSON.stringify(noNul),
    );
    const nulRows = (await collect(nuls)) as RawRow[];
    expect(nulRows.map((r) => r.value.a)).toEqual(Array.from({ length: 50 }, () => withNul).flat());
    expect(nulRows.map((r) => r.value.b)).toEqual(Array.from({ length: 50 }, () => noNul).flat());
    expect(nulRows.map((r) => r.value.c)).toEqual(Array(300).fill("é\0\0\0\0ü"));
    expect(nulRows.every((r) => r.wellFormed)).toBe(true);
  });

  it("reads only the columns a preference row uses; a missing column still lists all of the file's columns", async () => {
    const f = path.join(dir, "extra.parquet");
    pyarrow(
      `n = 50
pq.write_table(pa.table({"prompt": [f"p{i}" for i in range(n)], "messages": [[{"role": "user", "content": "x" * 100}]] * n, "chosen": [f"c{i}" for i in range(n)], "score": list(range(n)), "rejected": [f"r{i}" for i in range(n)]}), sys.argv[1])`,
      f,
    );
    const rows = await loadPreferenceDataset(f);
    expect(rows[49]).toEqual({ prompt: "p49", chosen: "c49", rejected: "r49", source: { file: f, line: 50, unit: "row" } });
    // every raw column is still there for readRawRows without options
    const raw: RawItem[] = [];
    for await (const item of readRawRows(f)) raw.push(item);
    expect(Object.keys((raw[0] as { value: object }).value)).toEqual(["prompt", "messages", "chosen", "score", "rejected"]);
    const g = path.join(dir, "no-rejected.parquet");
    pyarrow(`pq.write_table(pa.table({"prompt": ["p"], "messages": [[{"role": "user", "content": "x"}]], "chosen": ["c"], "score": [1]}), sys.argv[1])`, g);
    await expect(loadPreferenceDataset(g)).rejects.toThrow(
      `${g}: row 1: field "rejected" is missing: a preference row needs "chosen" and "rejected" (plus "prompt", or "question" for orca rows); the row has columns: prompt, messages, chosen, score`,
    );
  });
});
