#!/usr/bin/env node
/**
 * Benchmark (not a test): reading a preference data set of N rows as JSONL and as Parquet (snappy, row groups of
 * 10k rows, written by pyarrow), with dpo-ts (loadPreferenceDataset: all rows in memory; streamPreferenceRows: one
 * pass, constant memory) beside Python `datasets.load_dataset` on the same files (fresh cache each run, so the
 * JSON -> Arrow conversion is included, as on a first load). Each reader runs in its own process; we report wall
 * time and the process's peak RSS.
 *
 *   npm run build && node bench/read-data.js --rows 100000 [--dir /tmp/dpo-read-data]
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
  console.log(JSON.stringify({ rows: n, chars, seconds, peakRssMB: process.resourceUsage().maxRSS / 1024 }));
}

const PY_READER = `
import json, resource, sys, tempfile, time, logging
logging.disable(logging.WARNING)
t0 = time.perf_counter()
from datasets import load_dataset, disable_progress_bars
disable_progress_bars()
t_import = time.perf_counter() - t0
kind, path = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
ds = load_dataset(kind, data_files=path, split="train", cache_dir=tempfile.mkdtemp())
chars = 0
for row in ds.iter(batch_size=10000):
    chars += sum(len(p) + len(c) + len(r) for p, c, r in zip(row["prompt"], row["chosen"], row["rejected"]))
seconds = time.perf_counter() - t0
print(json.dumps({"rows": len(ds), "chars": chars, "seconds": seconds, "importSeconds": t_import,
                  "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
`;

function words(rng, n) {
  const vocab = ["the", "model", "answer", "question", "because", "preference", "data", "token", "train", "sky", "blue", "seven", "river", "light"];
  const out = [];
  for (let i = 0; i < n; i++) out.push(vocab[Math.floor(rng() * vocab.length)]);
  return out.join(" ");
}

function makeData(dir, rows) {
  fs.mkdirSync(dir, { recursive: true });
  const jsonl = path.join(dir, `prefs-${rows}.jsonl`),
    parquet = path.join(dir, `prefs-${rows}.parquet`);
  if (!fs.existsSync(jsonl)) {
    let s = 1;
    const rng = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
    const fd = fs.openSync(jsonl, "w");
    for (let i = 0; i < rows; i++) {
      fs.writeSync(fd, JSON.stringify({ prompt: `Q${i}: ${words(rng, 50)}?`, chosen: ` ${words(rng, 65)}.`, rejected: ` ${words(rng, 60)}!` }) + "\n");
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

async function main() {
  if (process.argv[2] === "--child") return child(process.argv[3], process.argv[4]);
  const rows = Number(arg("rows", "100000"));
  const dir = arg("dir", path.join(os.tmpdir(), "dpo-read-data"));
  const { jsonl, parquet } = makeData(dir, rows);
  console.log(`${rows} rows: ${jsonl} (${(fs.statSync(jsonl).size / 1e6).toFixed(1)} MB), ${parquet} (${(fs.statSync(parquet).size / 1e6).toFixed(1)} MB)`);
  const results = [];
  for (const [label, file, kind] of [
    ["JSONL", jsonl, "json"],
    ["Parquet", parquet, "parquet"],
  ]) {
    for (const mode of ["load", "stream"])
      results.push({
        reader: `dpo-ts ${mode === "load" ? "loadPreferenceDataset" : "streamPreferenceRows"}`,
        file: label,
        ...run(process.execPath, [__filename, "--child", mode, file]),
      });
    if (fs.existsSync(PY)) results.push({ reader: "datasets.load_dataset", file: label, ...run(PY, ["-c", PY_READER, kind, file]) });
  }
  console.log(`${"file".padEnd(8)} ${"reader".padEnd(34)} ${"rows".padStart(8)} ${"seconds".padStart(8)} ${"peak RSS MB".padStart(12)}`);
  for (const r of results)
    console.log(
      `${r.file.padEnd(8)} ${r.reader.padEnd(34)} ${String(r.rows).padStart(8)} ${r.seconds.toFixed(2).padStart(8)} ${r.peakRssMB.toFixed(0).padStart(12)}${r.importSeconds ? `   (+${r.importSeconds.toFixed(1)} s import)` : ""}`,
    );
  const chars = new Set(results.map((r) => r.chars));
  if (chars.size !== 1) throw new Error(`readers disagree on the text: ${[...chars].join(" vs ")} characters`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
