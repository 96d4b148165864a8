#!/usr/bin/env node
/**
 * Benchmark (not a test): reading a preference data set of N rows as JSONL and as Parquet (snappy, row groups of
 * 10k rows, written by pyarrow), with dpo-ts (loadPreferenceDataset: all rows in memory, validated, as JS strings;
 * streamPreferenceRows: one pass, constant memory) beside Python `datasets.load_dataset` on the same files. Two data
 * sets: ASCII words, and the same shape with half the words non-ASCII (accents, Cyrillic, CJK, an emoji).
 *
 * Each reader runs in its own process; wall time excludes the process start and imports on both sides (Python's
 * `import datasets`, printed apart; dpo-ts's lazily loaded hyparquet). datasets is timed two ways, cold and warm:
 *   cold  a fresh cache dir: load_dataset converts the file to an Arrow cache file (what a first load costs);
 *   warm  the cache dir of an earlier load: load_dataset only memory-maps that Arrow file.
 * and for each, `load` = load_dataset alone (the rows stay in Arrow, not yet Python strings) and `+str` = load plus
 * reading every prompt/chosen/rejected into Python strings (what dpo-ts's load returns: strings in memory).
 * Timings on a shared machine are noisy: every reader runs --repeats times, interleaved; the table gives the median
 * and (min-max) of each figure.
 *
 *   npm run build && node bench/read-data.js --rows 100000 [--repeats 3] [--dir /tmp/dpo-read-data]
 *
 * Needs .venv (pyarrow, datasets). Rows: standard format, ~1.1 kB each (prompt ~300, completions ~400 characters).
 */
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const ROOT = path.join(__dirname, "..");
const PY = process.env.DPO_VENV ? path.join(process.env.DPO_VENV, "bin/python") : path.join(ROOT, ".venv/bin/python");
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};

async function child(mode, file) {
  const { loadPreferenceDataset, streamPreferenceRows } = require("../dist/data/dataset");
  // imports are left out on both sides (Python's `import datasets` loads pyarrow): hyparquet loads lazily, so here
  if (file.endsWith(".parquet")) await Promise.all([import("hyparquet"), import("hyparquet-compressors")]);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0,
    chars = 0;
  if (mode === "load") {
    const rows = await loadPreferenceDataset(file);
    n = rows.length;
    chars = rows.reduce((s, r) => s + r.prompt.length + r.chosen.length + r.rejected.length, 0);
  } else {
    for await (const r of streamPreferenceRows(file)) (n++, (chars += r.prompt.length + r.chosen.length + r.rejected.length));
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ rows: n, chars, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMB: process.resourceUsage().maxRSS / 1024 }));
}

const PY_READER = `
import json, resource, sys, time, logging
logging.disable(logging.WARNING)
t0 = time.perf_counter()
from datasets import load_dataset, disable_progress_bars
disable_progress_bars()
t_import = time.perf_counter() - t0
kind, path, cache = sys.argv[1], sys.argv[2], sys.argv[3]
c0 = time.process_time()
t0 = time.perf_counter()
ds = load_dataset(kind, data_files=path, split="train", cache_dir=cache)
t_load = time.perf_counter() - t0
chars = 0
for row in ds.iter(batch_size=10000):
    chars += sum(len(p) + len(c) + len(r) for p, c, r in zip(row["prompt"], row["chosen"], row["rejected"]))
seconds = time.perf_counter() - t0
cpu = time.process_time() - c0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
# the cross-check total in UTF-16 code units, as JavaScript's .length counts (untimed: emoji are 2 there, 1 in len)
chars = 0
for row in ds.iter(batch_size=10000):
    chars += sum(len(s.encode("utf-16-le")) // 2 for k in ("prompt", "chosen", "rejected") for s in row[k])
print(json.dumps({"rows": len(ds), "chars": chars, "loadSeconds": t_load, "seconds": seconds, "cpuSeconds": cpu,
                  "importSeconds": t_import, "peakRssMB": peak}))
`;

const ASCII_WORDS = ["the", "model", "answer", "question", "because", "preference", "data", "token", "train", "sky", "blue", "seven", "river", "light"];
// half the words non-ASCII (Latin accents, Cyrillic, CJK, an emoji): every row and most values have some
const UNICODE_WORDS = ["the", "modèle", "réponse", "question", "weil", "préférence", "данные", "токен", "train", "空", "蓝色", "seven", "río", "🙂"];

function words(rng, n, vocab = ASCII_WORDS) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(vocab[Math.floor(rng() * vocab.length)]);
  return out.join(" ");
}

/** The JSONL file of `rows` rows (words from `vocab`) and the same rows as Parquet (pyarrow, snappy, row groups of 10k). */
function makeData(dir, rows, name, vocab) {
  fs.mkdirSync(dir, { recursive: true });
  const jsonl = path.join(dir, `${name}.jsonl`),
    parquet = path.join(dir, `${name}.parquet`);
  if (!fs.existsSync(jsonl)) {
    let s = 1;
    const rng = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
    const fd = fs.openSync(jsonl, "w");
    for (let i = 0; i < rows; i++) {
      fs.writeSync(
        fd,
        JSON.stringify({ prompt: `Q${i}: ${words(rng, 50, vocab)}?`, chosen: ` ${words(rng, 65, vocab)}.`, rejected: ` ${words(rng, 60, vocab)}!` }) + "\n",
      );
    }
    fs.closeSync(fd);
  }
  if (!fs.existsSync(parquet)) {
    const py = `import sys, pyarrow.json as pj, pyarrow.parquet as pq\npq.write_table(pj.read_json(sys.argv[1]), sys.argv[2], compression="snappy", row_group_size=10000)`;
    const r = spawnSync(PY, ["-c", py, jsonl, parquet], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`writing Parquet failed: ${r.stderr}`);
  }
  return { jsonl, parquet };
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  if (process.argv[2] === "--child") return child(process.argv[3], process.argv[4]);
  const rows = Number(arg("rows", "100000"));
  const repeats = Number(arg("repeats", "3"));
  const dir = arg("dir", path.join(os.tmpdir(), "dpo-read-data"));
  const ascii = makeData(dir, rows, `prefs-${rows}`, ASCII_WORDS);
  const unicode = makeData(dir, rows, `prefs-${rows}-unicode`, UNICODE_WORDS);
  const files = [
    ["JSONL", ascii.jsonl, "json"],
    ["Parquet", ascii.parquet, "parquet"],
    ["JSONL non-ASCII", unicode.jsonl, "json"],
    ["Parquet non-ASCII", unicode.parquet, "parquet"],
  ];
  for (const [label, file] of files) console.log(`${label}: ${file} (${(fs.statSync(file).size / 1e6).toFixed(1)} MB, ${rows} rows)`);
  const havePy = fs.existsSync(PY);
  const warmCache = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-read-data-warm-"));
  if (havePy) for (const [, file, kind] of files) run(PY, ["-c", PY_READER, kind, file, warmCache]); // fills the warm cache
  const results = new Map(); // "file|reader" -> runs
  const add = (file, reader, r) =>
    (results.has(`${file}|${reader}`) ? results.get(`${file}|${reader}`) : results.set(`${file}|${reader}`, []).get(`${file}|${reader}`)).push(r);
  for (let rep = 0; rep < repeats; rep++) {
    for (const [label, file, kind] of files) {
      add(label, "dpo-ts loadPreferenceDataset", run(process.execPath, [__filename, "--child", "load", file]));
      if (havePy) {
        const cold = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-read-data-cold-"));
        add(label, "datasets.load_dataset cold", run(PY, ["-c", PY_READER, kind, file, cold]));
        fs.rmSync(cold, { recursive: true, force: true });
      }
      add(label, "dpo-ts streamPreferenceRows", run(process.execPath, [__filename, "--child", "stream", file]));
      if (havePy) add(label, "datasets.load_dataset warm", run(PY, ["-c", PY_READER, kind, file, warmCache]));
    }
  }
  fs.rmSync(warmCache, { recursive: true, force: true });
  const f = (x) => (x === undefined ? "" : x.toFixed(2));
  // median (min-max) of the runs, or "" when the reader has no such figure
  const spread = (runs, k) =>
    runs[0][k] === undefined ? "" : `${f(median(runs.map((r) => r[k])))} (${f(Math.min(...runs.map((r) => r[k])))}-${f(Math.max(...runs.map((r) => r[k])))})`;
  console.log(`medians (min-max) of ${repeats} interleaved runs; seconds exclude process start and imports; datasets cold = a fresh cache dir per run`);
  console.log(
    `${"file".padEnd(17)} ${"reader".padEnd(30)} ${"rows".padStart(7)} ${"load s".padStart(17)} ${"+str s".padStart(17)} ${"cpu s".padStart(17)} ${"peak RSS MB".padStart(12)}`,
  );
  const chars = new Map(); // file -> distinct character totals
  for (const [key, runs] of results) {
    const [file, reader] = key.split("|");
    const py = reader.startsWith("datasets");
    if (!chars.has(file)) chars.set(file, new Set());
    for (const r of runs) chars.get(file).add(r.chars);
    // dpo-ts's load already gives strings: its one time goes in the "+str" column, like datasets' load + strings
    console.log(
      `${file.padEnd(17)} ${reader.padEnd(30)} ${String(runs[0].rows).padStart(7)} ${(py ? spread(runs, "loadSeconds") : "").padStart(17)} ${spread(runs, "seconds").padStart(17)} ${spread(runs, "cpuSeconds").padStart(17)} ${median(
        runs.map((r) => r.peakRssMB),
      )
        .toFixed(0)
        .padStart(12)}${py ? `   (import ${f(median(runs.map((r) => r.importSeconds)))} s)` : ""}`,
    );
  }
  for (const [file, totals] of chars) if (totals.size !== 1) throw new Error(`${file}: readers disagree on the text: ${[...totals].join(" vs ")} characters`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
