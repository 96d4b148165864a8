// The Hub client against a stand-in Hub on 127.0.0.1: model, tokenizer and data set downloads into the Hugging Face
// cache, shared both ways with Python's huggingface_hub, offline reuse, the token kept out of every output, and each
// error a user can meet (401/403/404, no safetensors, unknown split, offline with nothing cached).
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { HubServer } from "./helpers/hub-server";
import { pythonWith } from "./helpers/python";
import { loadModel, loadModelFromDir, readModelWeights } from "../src/model/io";
import { readSafetensors, writeSafetensors, HostTensor } from "../src/model/safetensors";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { snapshotDownload } from "../src/hub/snapshot";
import { resolveHubDataset } from "../src/hub/dataset-files";
import { resolvePretrained } from "../src/hub/model-files";
import { HubError } from "../src/hub/errors";
import { readmeConfigs } from "../src/hub/readme-configs";
import { loadPreferenceDataset, resolvePreferenceSource } from "../src/data/dataset";
import { useBackendForTests } from "./helpers/backend";
import { skipUnless } from "./helpers/skip";

const FIX = path.join(__dirname, "fixtures/hf-tiny");
const GPT2 = path.join(FIX, "gpt2-policy");
const TOKEN = "hf_SecretTestToken0123456789abcdef";
const python = pythonWith("huggingface_hub", "pyarrow");

let hub: HubServer;
let tmp: string;
let gpt2Commit: string;
/** Every message and output the tests saw: none may contain the token. */
const outputs: string[] = [];

function tmpDir(name: string): string {
  return fs.mkdtempSync(path.join(tmp, `${name}-`));
}

/** Runs Python with the given env; returns stdout (test fails with stderr on a non-zero exit). */
function py(code: string, env: Record<string, string>): string {
  const run = spawnSync(python!, ["-c", code], { encoding: "utf8", env: { ...process.env, ...env } });
  outputs.push(run.stdout, run.stderr);
  if (run.status !== 0) throw new Error(`python failed:\n${run.stderr}`);
  return run.stdout;
}

/** Python that talks to the stand-in server, which runs in this process: spawned asynchronously so it can answer. */
function pyAsync(code: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python!, ["-c", code], { env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (status) => {
      outputs.push(stdout, stderr);
      if (status === 0) resolve(stdout);
      else reject(new Error(`python failed:\n${stderr}`));
    });
  });
}

async function errorOf(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (err) {
    outputs.push((err as Error).message, String((err as Error).stack));
    return err as HubError;
  }
  throw new Error("expected an error");
}

/** The folder's files as written by transformers, split into two safetensors shards + index. */
function shardedCopy(dir: string): string {
  const out = tmpDir("sharded");
  for (const f of fs.readdirSync(dir)) if (f !== "model.safetensors") fs.copyFileSync(path.join(dir, f), path.join(out, f));
  const tensors = readSafetensors(path.join(dir, "model.safetensors")).tensors;
  const names = [...tensors.keys()].sort();
  const shards = [names.slice(0, names.length / 2), names.slice(names.length / 2)];
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    writeSafetensors(path.join(out, file), new Map(shard.map((n) => [n, tensors.get(n) as HostTensor])));
    for (const n of shard) weightMap[n] = file;
  });
  fs.writeFileSync(path.join(out, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return out;
}

beforeAll(async () => {
  await useBackendForTests();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-hub-"));
  delete process.env.HF_TOKEN;
  delete process.env.HF_HUB_OFFLINE;
  process.env.HF_HOME = path.join(tmp, "no-home"); // no token file unless a test writes one
  hub = await HubServer.start();
  gpt2Commit = hub.addRepo({ id: "tiny/gpt2", dir: GPT2, files: { "README.md": "# tiny\n", "pytorch_model.bin": "not read" } });
  hub.addRepo({ id: "tiny/llama", dir: path.join(FIX, "llama-policy") });
  hub.addRepo({ id: "tiny/sharded", dir: shardedCopy(GPT2) });
  hub.addRepo({ id: "tiny/bin-only", files: { "config.json": fs.readFileSync(path.join(GPT2, "config.json")), "pytorch_model.bin": "weights" } });
  hub.addRepo({ id: "org/private", dir: GPT2, token: TOKEN });
  hub.addRepo({ id: "org/gated", dir: GPT2, token: "hf_OnlyTheGrantedUserHasThis000000", gated: true });
  hub.addRepo({ id: "tiny/gpt2", dir: path.join(FIX, "gpt2-ref"), branch: "v2" });

  // Data sets: Parquet written by pyarrow (push_to_hub layout), JSONL named after nothing, README configs, script only.
  const data = tmpDir("data");
  if (python) {
    py(
      `import pyarrow as pa, pyarrow.parquet as pq, json, sys
rows = [json.loads(l) for l in open(sys.argv[1] if len(sys.argv) > 1 else ${JSON.stringify(path.join(FIX, "prefs.jsonl"))})]
def write(path, rs):
    pq.write_table(pa.table({k: [r[k] for r in rs] for k in ["prompt", "chosen", "rejected"]}), path)
write(${JSON.stringify(path.join(data, "train.parquet"))}, rows[:3])
write(${JSON.stringify(path.join(data, "test.parquet"))}, rows[3:5])`,
      {},
    );
    const parquet = (f: string) => fs.readFileSync(path.join(data, f));
    hub.addRepo({
      type: "dataset",
      id: "tiny/prefs",
      files: {
        "README.md": "# prefs\n",
        "data/train-00000-of-00001.parquet": parquet("train.parquet"),
        "data/test-00000-of-00001.parquet": parquet("test.parquet"),
      },
    });
    hub.addRepo({ type: "dataset", id: "tiny/scripted", files: { "scripted.py": "# a loading script\n", "README.md": "# scripted\n" } });
    hub.addRepo({
      type: "dataset",
      id: "tiny/scripted",
      branch: "refs/convert/parquet",
      files: { "default/train/0000.parquet": parquet("train.parquet"), "default/validation/0000.parquet": parquet("test.parquet") },
    });
    hub.addRepo({ type: "dataset", id: "org/private-prefs", token: TOKEN, files: { "data/train-00000-of-00001.parquet": parquet("train.parquet") } });
  }
  const jsonl = fs.readFileSync(path.join(FIX, "prefs.jsonl"));
  hub.addRepo({ type: "dataset", id: "tiny/orca-like", files: { "orca_rlhf.jsonl": jsonl, "README.md": "---\nlicense: mit\n---\n" } });
  hub.addRepo({
    type: "dataset",
    id: "tiny/configs",
    files: {
      "README.md":
        '---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train_prefs\n    path: prefs/train_prefs-*\n  - split: test_prefs\n    path: "prefs/test_prefs-*"\n---\n# x\n',
      "prefs/train_prefs-00000.jsonl": jsonl,
      "prefs/test_prefs-00000.jsonl": jsonl,
      "other/ignored.jsonl": jsonl,
    },
  });
});

afterAll(async () => {
  await hub?.close();
});

describe("models from the Hub", () => {
  it("downloads config, tokenizer and safetensors into the Hugging Face cache layout, and loads them", async () => {
    const cacheDir = tmpDir("cache");
    const progress: number[] = [];
    const model = await loadModel("tiny/gpt2", { hubUrl: hub.url, cacheDir, trainable: false, progress: (p) => progress.push(p.doneBytes) });
    const storage = path.join(cacheDir, "models--tiny--gpt2");
    expect(fs.readFileSync(path.join(storage, "refs/main"), "utf8")).toBe(gpt2Commit);
    const snap = path.join(storage, "snapshots", gpt2Commit);
    expect(fs.readdirSync(snap).sort()).toEqual([
      "chat_template.jinja",
      "config.json",
      "generation_config.json",
      "model.safetensors",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
    // Relative symlinks into blobs/, named by git sha1 (regular files) or sha256 (LFS), as huggingface_hub names them.
    const cfgLink = fs.readlinkSync(path.join(snap, "config.json"));
    expect(cfgLink).toMatch(/^\.\.\/\.\.\/blobs\/[0-9a-f]{40}$/);
    expect(fs.readlinkSync(path.join(snap, "model.safetensors"))).toMatch(/^\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/);
    expect(fs.readdirSync(path.join(storage, "blobs")).filter((b) => b.includes("incomplete") || b.includes("tmp"))).toEqual([]);
    expect(progress.length).toBeGreaterThan(0);
    // Same weights as the folder it came from.
    const local = readModelWeights(GPT2);
    const cached = readModelWeights(snap);
    expect([...cached.keys()].sort()).toEqual([...local.keys()].sort());
    for (const [name, t] of local) expect(Buffer.from(cached.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
    expect(model.config.nLayer).toBe(loadModelFromDir(GPT2).config.nLayer);
    model.dispose();
    // Tokenizer by id: only tokenizer files are needed, all already cached.
    const before = hub.requests.length;
    const tok = await Tokenizer.fromDir("tiny/gpt2", { hubUrl: hub.url, cacheDir });
    expect(hub.requests.slice(before).some((r) => r.url.includes("/resolve/"))).toBe(false);
    const ref = await Tokenizer.fromDir(GPT2);
    expect(tok.encode("The lazy dog sleeps")).toEqual(ref.encode("The lazy dog sleeps"));
  });

  it("fetches only the shards model.safetensors.index.json names, and a revision's own commit", async () => {
    const cacheDir = tmpDir("cache");
    const dir = await resolvePretrained("tiny/sharded", "model", { hubUrl: hub.url, cacheDir });
    expect(
      fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".safetensors"))
        .sort(),
    ).toEqual(["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]);
    const a = readModelWeights(dir);
    const b = readModelWeights(GPT2);
    expect(a.size).toBe(b.size);
    const v2 = await resolvePretrained("tiny/gpt2", "model", { hubUrl: hub.url, cacheDir, revision: "v2" });
    const v2Sha = fs.readFileSync(path.join(cacheDir, "models--tiny--gpt2/refs/v2"), "utf8");
    expect(v2).toBe(path.join(cacheDir, "models--tiny--gpt2/snapshots", v2Sha));
    expect(v2Sha).not.toBe(gpt2Commit);
    expect(fs.readFileSync(path.join(v2, "model.safetensors")).equals(fs.readFileSync(path.join(FIX, "gpt2-ref/model.safetensors")))).toBe(true);
    // The llama checkpoint downloads the same way (loading it is the model loader's job).
    const llama = await resolvePretrained("tiny/llama", "model", { hubUrl: hub.url, cacheDir });
    expect(fs.existsSync(path.join(llama, "model.safetensors"))).toBe(true);
  });

  it("reuses the cache offline (HF_HUB_OFFLINE=1, or the Hub unreachable) and says what is missing when it cannot", async () => {
    const cacheDir = tmpDir("cache");
    await resolvePretrained("tiny/gpt2", "model", { hubUrl: hub.url, cacheDir });
    const seen = hub.requests.length;
    process.env.HF_HUB_OFFLINE = "1";
    try {
      const m = await loadModel("tiny/gpt2", { hubUrl: hub.url, cacheDir });
      m.dispose();
      expect((await Tokenizer.fromDir("tiny/gpt2", { hubUrl: hub.url, cacheDir })).vocabSize).toBeGreaterThan(0);
      const e = await errorOf(loadModel("tiny/sharded", { hubUrl: hub.url, cacheDir }));
      expect(e.kind).toBe("offline-mode");
      expect(e.message).toMatch(/model repo "tiny\/sharded": HF_HUB_OFFLINE=1 and revision "main" .* is not in the cache/);
    } finally {
      delete process.env.HF_HUB_OFFLINE;
    }
    expect(hub.requests.length).toBe(seen); // not one request offline
    // Network down: a port nobody listens on.
    const down = await HubServer.start();
    const deadUrl = down.url;
    await down.close();
    const m = await loadModel("tiny/gpt2", { hubUrl: deadUrl, cacheDir, timeoutMs: 2000 });
    m.dispose();
    const e = await errorOf(loadModel("tiny/llama", { hubUrl: deadUrl, cacheDir, timeoutMs: 2000 }));
    expect(e.kind).toBe("offline");
    expect(e.message).toMatch(/offline — the Hub at http:\/\/127\.0\.0\.1:\d+ cannot be reached \(ECONNREFUSED\) and revision "main"/);
    // Cached metadata but not the weights: the message names the file.
    const partial = tmpDir("cache");
    await snapshotDownload("tiny/llama", { hubUrl: hub.url, cacheDir: partial, allowPatterns: ["config.json"] });
    const e2 = await errorOf(
      snapshotDownload("tiny/llama", { hubUrl: deadUrl, cacheDir: partial, timeoutMs: 2000, required: ["config.json", "model.safetensors"] }),
    );
    expect(e2.message).toMatch(/file model\.safetensors of main \(commit [0-9a-f]{40}\) is not in the cache/);
  });

  it("an interrupted download leaves no complete-looking file, and the next call finishes it", async () => {
    const cacheDir = tmpDir("cache");
    const sha256 = crypto
      .createHash("sha256")
      .update(fs.readFileSync(path.join(GPT2, "model.safetensors")))
      .digest("hex");
    hub.cutNext.add(sha256);
    const e = await errorOf(resolvePretrained("tiny/gpt2", "model", { hubUrl: hub.url, cacheDir }));
    expect(e.message).toMatch(/model repo "tiny\/gpt2"@[0-9a-f]{40}: download of model\.safetensors interrupted \(.*\); nothing partial was kept/);
    const storage = path.join(cacheDir, "models--tiny--gpt2");
    expect(fs.readdirSync(path.join(storage, "blobs")).filter((b) => b.startsWith(sha256))).toEqual([]);
    expect(fs.existsSync(path.join(storage, "snapshots", gpt2Commit, "model.safetensors"))).toBe(false);
    const dir = await resolvePretrained("tiny/gpt2", "model", { hubUrl: hub.url, cacheDir });
    expect(fs.readFileSync(path.join(dir, "model.safetensors")).equals(fs.readFileSync(path.join(GPT2, "model.safetensors")))).toBe(true);
  });

  it("names each Hub error and how to fix it", async () => {
    const cacheDir = tmpDir("cache");
    const opts = { hubUrl: hub.url, cacheDir };
    const e401 = await errorOf(loadModel("org/private", opts));
    expect([e401.kind, e401.status]).toEqual(["unauthorized", 401]);
    expect(e401.message).toMatch(/model repo "org\/private": unauthorized \(HTTP 401\).*private or gated.*HF_TOKEN.*`token` option/);
    const e403 = await errorOf(loadModel("org/gated", { ...opts, token: TOKEN }));
    expect(e403.kind).toBe("forbidden");
    expect(e403.message).toMatch(/access denied \(HTTP 403\): it is gated: accept its conditions on the Hub page/);
    const e404 = await errorOf(loadModel("nobody/nothing", { ...opts, token: TOKEN }));
    expect(e404.kind).toBe("repo-not-found");
    expect(e404.message).toMatch(/model repo "nobody\/nothing" not found \(HTTP 404\)/);
    const eRev = await errorOf(loadModel("tiny/gpt2", { ...opts, revision: "no-such-branch" }));
    expect(eRev.kind).toBe("revision-not-found");
    expect(eRev.message).toMatch(/revision "no-such-branch" not found \(HTTP 404\)/);
    const eBin = await errorOf(loadModel("tiny/bin-only", opts));
    expect(eBin.kind).toBe("no-safetensors");
    expect(eBin.message).toMatch(
      /has only pytorch_model\.bin weights: dpo-ts reads safetensors only, not pytorch_model\.bin; convert .*save_pretrained\(dir, safe_serialization=True\)/,
    );
    expect(fs.existsSync(path.join(cacheDir, "models--tiny--bin-only/blobs"))).toBe(true); // config only
    expect(fs.readdirSync(path.join(cacheDir, "models--tiny--bin-only/blobs")).length).toBe(1);
    const eNotId = await errorOf(loadModel("./no/such/folder", opts));
    expect(eNotId.message).toBe("./no/such/folder: model folder not found");
  });

  it("takes the token from HF_TOKEN or the token file, and it never appears in outputs, errors or the cache", async () => {
    const cacheDir = tmpDir("cache");
    const firstRequest = hub.requests.length;
    process.env.HF_TOKEN = TOKEN;
    try {
      const m = await loadModel("org/private", { hubUrl: hub.url, cacheDir });
      m.dispose();
      const e = await errorOf(snapshotDownload("org/private", { hubUrl: hub.url, cacheDir, revision: "nope" }));
      expect(e.kind).toBe("revision-not-found");
    } finally {
      delete process.env.HF_TOKEN;
    }
    const tokenFile = path.join(tmpDir("home"), "token");
    fs.writeFileSync(tokenFile, TOKEN + "\n");
    process.env.HF_TOKEN_PATH = tokenFile;
    try {
      expect((await Tokenizer.fromDir("org/private", { hubUrl: hub.url, cacheDir: tmpDir("cache") })).vocabSize).toBeGreaterThan(0);
    } finally {
      delete process.env.HF_TOKEN_PATH;
    }
    // The token travelled in Authorization headers only.
    const sent = hub.requests.slice(firstRequest).filter((r) => r.url.includes("org/private"));
    expect(sent.length).toBeGreaterThan(5);
    expect(sent.every((r) => r.authorized)).toBe(true);
    // ...and only to the Hub: not to the CDN its LFS redirects point to.
    const cdn = hub.requests.slice(firstRequest).filter((r) => r.url.startsWith("/cdn/"));
    expect(cdn.length).toBeGreaterThan(0);
    expect(cdn.some((r) => r.authorized)).toBe(false);
    expect(hub.requests.some((r) => r.url.includes(TOKEN))).toBe(false);
    const cacheText = spawnSync("grep", ["-r", "-l", TOKEN, cacheDir], { encoding: "utf8" });
    expect(cacheText.stdout).toBe("");
  });
});

describe.skipIf(
  skipUnless(
    python,
    "data sets from the Hub (stand-in server, Python's reference reader)",
    "needs huggingface_hub and pyarrow in .venv: run `scripts/setup-python.sh`",
  ),
)("data sets from the Hub", () => {
  it("picks a split's Parquet files by Hub conventions and downloads only those", async () => {
    const cacheDir = tmpDir("cache");
    const train = await resolveHubDataset("tiny/prefs", { hubUrl: hub.url, cacheDir });
    expect(train.splits).toEqual(["test", "train"]);
    expect(train.files.map((f) => path.relative(path.join(cacheDir, "datasets--tiny--prefs/snapshots", train.commit), f))).toEqual([
      "data/train-00000-of-00001.parquet",
    ]);
    expect(fs.existsSync(path.join(cacheDir, "datasets--tiny--prefs/snapshots", train.commit, "data/test-00000-of-00001.parquet"))).toBe(false);
    const rows = py(`import pyarrow.parquet as pq; print(pq.read_table(${JSON.stringify(train.files[0])}).num_rows)`, {});
    expect(rows.trim()).toBe("3");
    const test = await resolveHubDataset("tiny/prefs", { hubUrl: hub.url, cacheDir, split: "test" });
    expect(test.files[0]).toMatch(/data\/test-00000-of-00001\.parquet$/);
    const e = await errorOf(resolveHubDataset("tiny/prefs", { hubUrl: hub.url, cacheDir, split: "validation" }));
    expect(e.kind).toBe("unknown-split");
    expect(e.message).toBe('dataset repo "tiny/prefs" (config "default"): no split "validation"; splits: test, train');
  });

  it("README configs, files named after nothing (all train), and a script-only repo's refs/convert/parquet branch", async () => {
    const cacheDir = tmpDir("cache");
    const opts = { hubUrl: hub.url, cacheDir };
    const cfg = await resolveHubDataset("tiny/configs", { ...opts, split: "test_prefs" });
    expect(cfg.splits).toEqual(["test_prefs", "train_prefs"]);
    expect(cfg.files.map((f) => path.basename(f))).toEqual(["test_prefs-00000.jsonl"]);
    const orca = await resolveHubDataset("tiny/orca-like", opts);
    expect(orca.files.map((f) => path.basename(f))).toEqual(["orca_rlhf.jsonl"]);
    const scripted = await resolveHubDataset("tiny/scripted", { ...opts, split: "validation" });
    expect(scripted.revision).toBe("refs/convert/parquet");
    expect(scripted.files[0]).toMatch(/default\/validation\/0000\.parquet$/);
    expect(fs.readFileSync(path.join(cacheDir, "datasets--tiny--scripted/refs/refs/convert/parquet"), "utf8")).toBe(scripted.commit);
    // Offline, the conversion found in the cache is used.
    const offline = await resolveHubDataset("tiny/scripted", { ...opts, split: "validation", offline: true });
    expect(offline.files).toEqual(scripted.files);
    // loadPreferenceDataset reads what a Hub id resolves to.
    const [file] = await resolvePreferenceSource("tiny/orca-like", opts);
    const tok = await Tokenizer.fromDir(GPT2);
    expect((await loadPreferenceDataset("tiny/orca-like", tok, opts)).length).toBe((await loadPreferenceDataset(file, tok)).length);
    expect((await loadPreferenceDataset(file, tok)).length).toBe(fs.readFileSync(path.join(FIX, "prefs.jsonl"), "utf8").trim().split("\n").length);
  });

  it("data set errors: 404, unauthorized, offline with nothing cached", async () => {
    const cacheDir = tmpDir("cache");
    const opts = { hubUrl: hub.url, cacheDir };
    const e404 = await errorOf(resolveHubDataset("nobody/nothing", { ...opts, token: TOKEN }));
    expect(e404.message).toMatch(/dataset repo "nobody\/nothing" not found \(HTTP 404\)/);
    const e401 = await errorOf(resolveHubDataset("org/private-prefs", opts));
    expect(e401.message).toMatch(/dataset repo "org\/private-prefs": unauthorized \(HTTP 401\)/);
    const ok = await resolveHubDataset("org/private-prefs", { ...opts, token: TOKEN });
    expect(ok.files.length).toBe(1);
    const eOff = await errorOf(resolveHubDataset("tiny/prefs", { ...opts, offline: true }));
    expect(eOff.kind).toBe("offline-mode");
    expect(eOff.message).toMatch(/dataset repo "tiny\/prefs": HF_HUB_OFFLINE=1 and revision "main"/);
  });
});

describe.skipIf(
  skipUnless(python, "one cache shared with Python's huggingface_hub", "needs huggingface_hub and pyarrow in .venv: run `scripts/setup-python.sh`"),
)("one cache shared with Python's huggingface_hub", () => {
  it("Python finds, offline, what dpo-ts downloaded", async () => {
    const home = tmpDir("hf-home");
    const cacheDir = path.join(home, "hub");
    const dir = await resolvePretrained("tiny/gpt2", "model", { hubUrl: hub.url, cacheDir });
    const data = await resolveHubDataset("tiny/prefs", { hubUrl: hub.url, cacheDir });
    const out = py(
      `import json
from huggingface_hub import hf_hub_download, snapshot_download, scan_cache_dir
r = {}
r["config"] = hf_hub_download("tiny/gpt2", "config.json", local_files_only=True)
r["weights"] = hf_hub_download("tiny/gpt2", "model.safetensors", local_files_only=True)
r["snapshot"] = snapshot_download("tiny/gpt2", local_files_only=True)
r["data"] = hf_hub_download("tiny/prefs", "data/train-00000-of-00001.parquet", repo_type="dataset", local_files_only=True)
info = scan_cache_dir()
r["repos"] = sorted((x.repo_type, x.repo_id, x.nb_files) for x in info.repos)
r["warnings"] = [str(w) for w in info.warnings]
print(json.dumps(r))`,
      { HF_HOME: home, HF_HUB_OFFLINE: "1", HF_ENDPOINT: hub.url },
    );
    const r = JSON.parse(out);
    expect(r.config).toBe(path.join(dir, "config.json"));
    expect(r.weights).toBe(path.join(dir, "model.safetensors"));
    expect(r.snapshot).toBe(dir);
    expect(r.data).toBe(data.files[0]);
    expect(r.warnings).toEqual([]);
    expect(r.repos).toEqual([
      ["dataset", "tiny/prefs", 2],
      ["model", "tiny/gpt2", 6],
    ]);
  });

  it("dpo-ts reads offline what Python's huggingface_hub downloaded from the same server (HF_ENDPOINT)", async () => {
    const home = tmpDir("hf-home");
    const out = await pyAsync(
      `import json
from huggingface_hub import snapshot_download, hf_hub_download
m = snapshot_download("tiny/gpt2", allow_patterns=["*.json", "*.jinja", "*.safetensors"])
d = hf_hub_download("tiny/prefs", "data/train-00000-of-00001.parquet", repo_type="dataset")
print(json.dumps({"model": m, "data": d}))`,
      { HF_HOME: home, HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN },
    );
    const py1 = JSON.parse(out);
    const seen = hub.requests.length;
    process.env.HF_HOME = home;
    process.env.HF_HUB_OFFLINE = "1";
    try {
      const model = await loadModel("tiny/gpt2", { trainable: false });
      model.dispose();
      const dir = await resolvePretrained("tiny/gpt2", "model");
      expect(dir).toBe(py1.model);
      const data = await resolveHubDataset("tiny/prefs");
      expect(data.files).toEqual([py1.data]);
    } finally {
      process.env.HF_HOME = path.join(tmp, "no-home");
      delete process.env.HF_HUB_OFFLINE;
    }
    expect(hub.requests.length).toBe(seen);
    // Both sides name blobs alike: dpo-ts downloading into Python's cache adds no blob for files Python has.
    const blobs = fs.readdirSync(path.join(home, "hub/models--tiny--gpt2/blobs")).sort();
    await resolvePretrained("tiny/gpt2", "model", { hubUrl: hub.url, cacheDir: path.join(home, "hub") });
    expect(fs.readdirSync(path.join(home, "hub/models--tiny--gpt2/blobs")).sort()).toEqual(blobs);
    // And the token Python sent never reached a file in the cache.
    expect(spawnSync("grep", ["-r", "-l", TOKEN, home], { encoding: "utf8" }).stdout).toBe("");
  });
});

describe("where the Hub is", () => {
  it("HF_ENDPOINT is honoured (trailing slash stripped, as huggingface_hub does) and HF_HUB_CACHE picks the cache", async () => {
    const cacheDir = tmpDir("cache");
    process.env.HF_ENDPOINT = hub.url + "/";
    process.env.HF_HUB_CACHE = cacheDir;
    try {
      const tok = await Tokenizer.fromDir("tiny/gpt2");
      expect(tok.vocabSize).toBeGreaterThan(0);
    } finally {
      delete process.env.HF_ENDPOINT;
      delete process.env.HF_HUB_CACHE;
    }
    expect(fs.readFileSync(path.join(cacheDir, "models--tiny--gpt2/refs/main"), "utf8")).toBe(gpt2Commit);
  });

  it("README configs: split lists, one pattern, split -> patterns maps, the default config", () => {
    const readme = [
      "---",
      "license: mit",
      "configs:",
      "- config_name: a",
      "  data_files:",
      "  - split: train_prefs",
      "    path: data/train_prefs-*",
      "  - split: test",
      "    path: [t1.csv, t2.csv]",
      "- config_name: b",
      "  default: true",
      '  data_files: "b/*.jsonl"',
      "- config_name: c",
      "  data_files:",
      "    train: c/train.csv",
      "    validation: [c/v1.csv]",
      "---",
      "# card",
    ].join("\n");
    const configs = readmeConfigs(readme)!;
    expect(configs.map((c) => [c.name, c.isDefault, [...c.splits]])).toEqual([
      [
        "a",
        false,
        [
          ["train_prefs", ["data/train_prefs-*"]],
          ["test", ["t1.csv", "t2.csv"]],
        ],
      ],
      ["b", true, [["train", ["b/*.jsonl"]]]],
      [
        "c",
        false,
        [
          ["train", ["c/train.csv"]],
          ["validation", ["c/v1.csv"]],
        ],
      ],
    ]);
    expect(readmeConfigs("# no header")).toBeNull();
    expect(readmeConfigs("---\nlicense: mit\n---\n")).toBeNull();
    expect(() => readmeConfigs("---\nconfigs: 3\n---\n", "x/README.md")).toThrow('x/README.md: "configs" must be a list');
  });
});

describe("the token in outputs", () => {
  it("appears in no error message, stack or Python output seen above", () => {
    expect(outputs.length).toBeGreaterThan(5);
    for (const text of outputs) expect(text.includes(TOKEN)).toBe(false);
  });
});
