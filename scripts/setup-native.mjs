#!/usr/bin/env node
/**
 * setup-native: build the native TensorFlow backend for TensorFlow.js
 * (@tensorflow/tfjs-node 4.22, or @tensorflow/tfjs-node-gpu with --gpu)
 * against a libtensorflow you already have access to, WITHOUT the download
 * from storage.googleapis.com that tfjs-node's own install script performs.
 *
 * Usage
 *   npm run setup:native                 CPU build. libtensorflow comes from the
 *                                        TensorFlow pip wheel `tensorflow-cpu==2.21.*`,
 *                                        fetched with YOUR pip configuration
 *                                        (`pip config list`; a configured
 *                                        extra-index-url is passed as --index-url when
 *                                        no index-url is set, so an offline mirror
 *                                        is asked first).
 *   npm run setup:native -- --gpu        GPU build (@tensorflow/tfjs-node-gpu) from the
 *                                        `tensorflow==2.21.*` wheel (CUDA-enabled on Linux
 *                                        x86_64). CUDA/cuDNN libraries must be loadable
 *                                        at run time: pip's nvidia-* packages
 *                                        (pip install 'tensorflow[and-cuda]==2.21.*', linked
 *                                        as deps/nvidia when the wheel's RUNPATH asks for
 *                                        them), system CUDA, or LD_LIBRARY_PATH. Untested
 *                                        on a GPU so far (no GPU wheel in the local index).
 *   npm run setup:native -- --force      rebuild even if a working binding is found.
 *   npm run setup:native -- --bench      afterwards, time a small GPT-like training
 *                                        step on tensorflow vs cpu vs wasm backends
 *                                        (scripts/setup-native.bench.mjs).
 *
 * Environment
 *   DPO_LIBTENSORFLOW=PATH|URL   use this libtensorflow instead of pip: a Google-style
 *                                tarball (lib/libtensorflow*.so*, include/tensorflow/c/...)
 *                                as a file, http(s):// or file:// URL, an already
 *                                unpacked directory with lib/ and include/, or a
 *                                TensorFlow wheel (.whl).
 *   DPO_TF_WHEEL=PATH            use this TensorFlow wheel (skips pip).
 *   DPO_TF_PIP_SPEC=SPEC         pip requirement to download (default
 *                                tensorflow-cpu==2.21.*; with --gpu, or on aarch64,
 *                                tensorflow==2.21.*).
 *   DPO_PIP_ARGS="..."           extra arguments for `pip download` (split on spaces).
 *   DPO_NATIVE_GPU=1             same as --gpu.
 *   DPO_NATIVE_VERBOSE=1         show node-gyp's full log.
 *
 * What it does (all inside node_modules/@tensorflow/tfjs-node[-gpu]/, nothing else):
 *   1. If `require('@tensorflow/tfjs-node')` already gives the 'tensorflow' backend and
 *      a correct matMul, print that and exit (idempotent; pass --force to rebuild).
 *   2. Make sure the npm package is in node_modules, without running its install script (which would
 *      download from Google): dpo-ts lists @tensorflow/tfjs-node(-gpu) under optionalDependencies, so
 *      `npm install --ignore-scripts` (lockfile versions, 4.22.0); otherwise
 *      `npm install --no-save --ignore-scripts @tensorflow/tfjs-node@4.22.0`. (On a fresh clone, a plain
 *      `npm install` fetches the optional package, its install script fails fast offline, and npm drops
 *      it silently: `npm install` keeps working; this script then brings it back and builds it. Once
 *      built, later `npm install`s leave it alone; `npm ci` or deleting node_modules needs a rerun.)
 *   3. Stage libtensorflow in tfjs-node's own layout, deps/lib + deps/include
 *      (see tfjs-node's binding.gyp and scripts/deps-constants.js). From a wheel:
 *      tensorflow/libtensorflow_cc.so.2 (it exports the TF_* and TFE_* C API) and
 *      tensorflow/libtensorflow_framework.so.2, plus the C API headers the binding
 *      includes (closure of #include from tensorflow/include/). Link names
 *      libtensorflow.so / libtensorflow_framework.so point at them; so do the
 *      libtensorflow*.so.2.9.1 names tfjs-node's install.js looks for, so that a later
 *      `npm rebuild @tensorflow/tfjs-node` rebuilds against these libraries instead of
 *      downloading.
 *   4. Build the addon with tfjs-node's supported hook:
 *      `node-pre-gyp install --build-from-source` (node-gyp; needs python3, make, g++
 *      and the Node.js headers, taken from npm_config_nodedir or /usr/include/node).
 *   5. Load it in a child process and check getBackend() === 'tensorflow'.
 *
 * Needs: Linux (x86_64 or aarch64), python3 + pip (for the wheel route), make, g++,
 * Node.js headers (Debian: `apt-get install g++ make python3 python3-pip libnode-dev`).
 * Disk: the CPU libtensorflow_cc.so.2 of TF 2.21 is ~790 MB unpacked (~850 MB in deps/).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const TFJS_NODE_VERSION = "4.22.0";
const DEFAULT_TF_VERSION = "2.21.*";
// tfjs-node's install.js (deps-constants.js) tests for deps/lib/libtensorflow.so.<this>.
const TFJS_NODE_LIBTF_VERSION = "2.9.1";

const argv = process.argv.slice(2);
for (const a of argv) {
  if (!["--gpu", "--force", "--bench", "--help", "-h"].includes(a)) fail(`unknown option ${a} (see --help)`);
}
if (argv.includes("--help") || argv.includes("-h")) {
  const src = fs.readFileSync(fileURLToPath(import.meta.url), "utf8");
  console.log(src.slice(src.indexOf("/**") + 4, src.indexOf("*/")).replace(/^ \* ?/gm, ""));
  process.exit(0);
}
const GPU = argv.includes("--gpu") || /^(1|true|yes)$/i.test(process.env.DPO_NATIVE_GPU ?? "");
const FORCE = argv.includes("--force");
const BENCH = argv.includes("--bench");
const PKG = GPU ? "@tensorflow/tfjs-node-gpu" : "@tensorflow/tfjs-node";
const PKG_DIR = path.join(ROOT, "node_modules", ...PKG.split("/"));
const t0 = Date.now();

function log(msg) {
  console.log(`[setup:native] ${msg}`);
}
function fail(msg) {
  console.error(`[setup:native] ERROR: ${msg}`);
  process.exit(1);
}
function secs(t) {
  return `${((Date.now() - t) / 1000).toFixed(1)} s`;
}
/** Run a command; returns {status, stdout, stderr}. `inherit` streams output to the terminal. */
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: opts.env ?? process.env,
    encoding: "utf8",
    stdio: opts.inherit ? "inherit" : "pipe",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error && r.error.code === "ENOENT") return { status: 127, stdout: "", stderr: `${cmd}: not found` };
  return { status: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}
function have(cmd, args = ["--version"]) {
  return run(cmd, args).status === 0;
}

// ---------------------------------------------------------------- 1. already working?
/** Loads the package in a fresh process; returns info or {error}. */
function probe() {
  const code = `
    const tf = require(${JSON.stringify(PKG)});
    const be = tf.getBackend();
    if (be !== 'tensorflow') throw new Error('backend is ' + be + ', not tensorflow');
    const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[1, 2], [3, 4]])).arraySync());
    if (JSON.stringify(y) !== '[[7,10],[15,22]]') throw new Error('matMul gave ' + JSON.stringify(y));
    console.log(JSON.stringify({ backend: be, tfjsNode: tf.version['tfjs-node'],
      libtensorflow: tf.backend().binding.TF_Version, gpu: tf.backend().isUsingGpuDevice }));`;
  const r = run(process.execPath, ["-e", code], { env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: "2" } });
  if (r.status !== 0) {
    const msg = (r.stderr.match(/^(Error|TypeError)[^\n]*$/m) ?? [r.stderr.trim().split("\n").slice(-1)[0]])[0];
    return { error: msg || `exit ${r.status}`, stderr: r.stderr };
  }
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

function bench() {
  if (!BENCH) return;
  const r = run(process.execPath, [path.join(ROOT, "scripts", "setup-native.bench.mjs"), ...(GPU ? ["--gpu"] : [])], {
    inherit: true,
  });
  if (r.status !== 0) fail("benchmark failed");
}

if (process.platform !== "linux") {
  fail(
    `this script builds from Linux TensorFlow wheels/tarballs; on ${process.platform} use tfjs-node's own ` +
      `install (npm rebuild ${PKG}) which downloads Google's build.`,
  );
}
const ARCH = { x64: "x86_64", arm64: "aarch64" }[process.arch];
if (!ARCH) fail(`unsupported CPU architecture ${process.arch} (TensorFlow wheels exist for x86_64 and aarch64)`);
// On aarch64 the plain `tensorflow` wheel is the CPU build; on x86_64 it carries CUDA (GPU) support.
const PIP_SPEC = process.env.DPO_TF_PIP_SPEC || `${GPU || ARCH === "aarch64" ? "tensorflow" : "tensorflow-cpu"}==${DEFAULT_TF_VERSION}`;

if (!FORCE && fs.existsSync(path.join(PKG_DIR, "package.json"))) {
  const p = probe();
  if (!p.error) {
    log(
      `${PKG} ${p.tfjsNode} already works: backend '${p.backend}', libtensorflow ${p.libtensorflow}` +
        `${p.gpu ? ", GPU device in use" : ""} (${PKG_DIR}). Nothing to do (--force rebuilds). [${secs(t0)}]`,
    );
    bench();
    process.exit(0);
  }
  log(`${PKG} is installed but does not load yet: ${p.error}`);
}

// ---------------------------------------------------------------- build tools (fail early)
const missing = [];
if (!have("python3")) missing.push(["python3", "python3"]);
if (!have("make")) missing.push(["make", "make"]);
const CXX = process.env.CXX || "g++";
if (!have(CXX)) missing.push([CXX, "g++"]);
let nodedir = process.env.npm_config_nodedir;
if (!nodedir) {
  for (const d of [path.resolve(path.dirname(process.execPath), ".."), "/usr", "/usr/local"]) {
    if (fs.existsSync(path.join(d, "include", "node", "node_api.h")) && fs.existsSync(path.join(d, "include", "node", "common.gypi"))) {
      nodedir = d;
      break;
    }
  }
}
if (!nodedir || !fs.existsSync(path.join(nodedir, "include", "node", "node_api.h"))) {
  missing.push([`Node.js headers (${nodedir ? nodedir + "/include/node/node_api.h" : "include/node/node_api.h"})`, "libnode-dev"]);
}
if (missing.length) {
  fail(
    `missing build tools: ${missing.map((m) => m[0]).join(", ")}.\n` +
      `  Debian/Ubuntu: apt-get install ${[...new Set(missing.map((m) => m[1]))].join(" ")}` +
      (missing.some((m) => m[1] === "libnode-dev")
        ? `\n  (or set npm_config_nodedir to a Node.js install or source tree that has include/node/; ` +
          `node-gyp would otherwise try to download the headers from nodejs.org)`
        : ""),
  );
}

// ---------------------------------------------------------------- 2. npm package present
const bindingBuilt = (dir) =>
  fs.existsSync(path.join(dir, "lib")) && fs.readdirSync(path.join(dir, "lib")).some((d) => fs.existsSync(path.join(dir, "lib", d, "tfjs_binding.node")));
if (!fs.existsSync(path.join(PKG_DIR, "binding.gyp"))) {
  const rootPkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
  const declared = { ...rootPkg.dependencies, ...rootPkg.optionalDependencies, ...rootPkg.devDependencies }[PKG];
  // Packages with install scripts that this npm run may add as a side effect (their scripts would download from Google).
  const natives = ["@tensorflow/tfjs-node", "@tensorflow/tfjs-node-gpu"].map((p) => path.join(ROOT, "node_modules", ...p.split("/")));
  const present = natives.map((d) => fs.existsSync(d));
  // Declared (dpo-ts lists it under optionalDependencies): sync node_modules with package.json + lockfile, so a
  // later `npm install` keeps it. Not declared: add it without touching package.json (a later npm install prunes it).
  const npmArgs = declared
    ? ["install", "--ignore-scripts", "--no-audit", "--no-fund"]
    : ["install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund", `${PKG}@${TFJS_NODE_VERSION}`];
  log(`installing ${PKG} into node_modules without its install script (no Google download): npm ${npmArgs.join(" ")}`);
  const t = Date.now();
  const r = run("npm", npmArgs, { inherit: true });
  if (r.status !== 0 || !fs.existsSync(path.join(PKG_DIR, "binding.gyp"))) fail(`npm ${npmArgs.join(" ")} did not install ${PKG}`);
  // npm itself drops an optional native package whose install script failed; do the same for one that this
  // npm run added unbuilt, so require() of it does not half-load (it registers its kernels, then throws).
  natives.forEach((d, i) => {
    if (!present[i] && d !== PKG_DIR && fs.existsSync(d) && !bindingBuilt(d)) {
      fs.rmSync(d, { recursive: true, force: true });
      log(`removed unbuilt ${path.relative(ROOT, d)} that npm added (build it with setup:native${d.endsWith("-gpu") ? " --gpu" : ""})`);
    }
  });
  if (!declared) log(`note: ${PKG} is not in package.json; a later \`npm install\` will remove it (add it to optionalDependencies)`);
  log(`npm install done [${secs(t)}]`);
}
const pkgRequire = createRequire(path.join(PKG_DIR, "package.json"));
const DEPS = path.join(PKG_DIR, "deps");
const DEPS_LIB = path.join(DEPS, "lib");
const MARKER = path.join(DEPS, "dpo-ts-source.json");

// ---------------------------------------------------------------- 3. libtensorflow into deps/
/** ELF e_machine check so a wrong-architecture library fails with a clear message. */
function checkElfArch(file) {
  const fd = fs.openSync(file, "r");
  const b = Buffer.alloc(20);
  fs.readSync(fd, b, 0, 20, 0);
  fs.closeSync(fd);
  if (b.readUInt32BE(0) !== 0x7f454c46) fail(`${file} is not an ELF shared library`);
  const m = b.readUInt16LE(18);
  const got = { 0x3e: "x86_64", 0xb7: "aarch64", 0x28: "arm", 0x03: "i386" }[m] ?? `e_machine 0x${m.toString(16)}`;
  if (got !== ARCH) fail(`${file} is built for ${got}, this machine is ${ARCH} (wrong architecture)`);
}

/** C API functions the binding calls (parsed from its sources), checked with nm -D when available. */
function checkSymbols(lib, frameworkLib) {
  if (!have("nm", ["--version"])) return;
  const used = new Set();
  for (const f of fs.readdirSync(path.join(PKG_DIR, "binding"))) {
    const src = fs.readFileSync(path.join(PKG_DIR, "binding", f), "utf8");
    for (const m of src.matchAll(/\b(TFE?_[A-Z][A-Za-z0-9]+)\s*\(/g)) used.add(m[1]);
  }
  const defined = new Set();
  for (const l of [lib, frameworkLib]) {
    const r = run("nm", ["-D", "--defined-only", l]);
    for (const line of r.stdout.split("\n")) {
      const name = line.split(" ").pop()?.replace(/@.*/, "");
      if (name && /^TFE?_/.test(name)) defined.add(name);
    }
  }
  // TF_TString_* are inline (tsl/platform/ctstring_internal.h); TF_Auto*/TFE_AutoOp are the binding's own classes.
  const absent = [...used].filter((s) => !defined.has(s) && !/^TF_TString_|^TFE?_Auto/.test(s));
  if (absent.length) {
    fail(`${path.basename(lib)} lacks C API functions the tfjs-node binding needs: ${absent.join(", ")}`);
  }
}

function stageFromDir(dir, source) {
  // A Google libtensorflow tarball layout: lib/libtensorflow.so.2.X.Y (+ symlinks), include/tensorflow/c/...
  const libDir = path.join(dir, "lib");
  const files = fs.existsSync(libDir) ? fs.readdirSync(libDir) : [];
  const pick = (re) => files.filter((f) => re.test(f)).sort((a, b) => b.length - a.length)[0];
  const tfLib = pick(/^libtensorflow\.so\.\d+(\.\d+)*$/) ?? pick(/^libtensorflow_cc\.so\.\d+(\.\d+)*$/);
  const fwLib = pick(/^libtensorflow_framework\.so\.\d+(\.\d+)*$/);
  if (!tfLib || !fwLib) {
    fail(`${source}: expected lib/libtensorflow.so.N and lib/libtensorflow_framework.so.N (found: ${files.join(", ") || "no lib/ folder"})`);
  }
  if (!fs.existsSync(path.join(dir, "include", "tensorflow", "c", "c_api.h"))) fail(`${source}: no include/tensorflow/c/c_api.h`);
  if (path.resolve(dir) !== path.resolve(DEPS)) {
    fs.rmSync(DEPS, { recursive: true, force: true });
    fs.mkdirSync(DEPS, { recursive: true });
    fs.cpSync(path.join(dir, "lib"), DEPS_LIB, { recursive: true, verbatimSymlinks: true });
    fs.cpSync(path.join(dir, "include"), path.join(DEPS, "include"), { recursive: true, verbatimSymlinks: true });
  }
  finishDeps(tfLib, fwLib);
}

/** Link names for -ltensorflow -ltensorflow_framework and for tfjs-node's install.js. */
function finishDeps(tfLib, fwLib) {
  const link = (target, name) => {
    const p = path.join(DEPS_LIB, name);
    if (name === target) return;
    fs.rmSync(p, { force: true });
    fs.symlinkSync(target, p);
  };
  checkElfArch(path.join(DEPS_LIB, tfLib));
  checkElfArch(path.join(DEPS_LIB, fwLib));
  checkSymbols(path.join(DEPS_LIB, tfLib), path.join(DEPS_LIB, fwLib));
  // The addon records each library's SONAME (e.g. libtensorflow_cc.so.2) and finds it at run time through
  // its rpath $ORIGIN/../../deps/lib: make sure a file by that name exists there.
  for (const lib of [tfLib, fwLib]) {
    const soname = run("readelf", ["-d", path.join(DEPS_LIB, lib)]).stdout.match(/\(SONAME\)[^[]*\[([^\]]+)\]/)?.[1];
    if (soname && !fs.existsSync(path.join(DEPS_LIB, soname))) link(lib, soname);
  }
  // GPU wheels find pip's CUDA libraries (tensorflow[and-cuda] -> site-packages/nvidia/*/lib) through a
  // RUNPATH $ORIGIN/../nvidia/...; from deps/lib that is deps/nvidia, so point it at the installed packages.
  if (GPU && /\$ORIGIN\/\.\.\/nvidia\//.test(run("readelf", ["-d", path.join(DEPS_LIB, tfLib)]).stdout)) {
    const r = run("python3", ["-c", "import nvidia, os; print(list(nvidia.__path__)[0])"]);
    const nv = r.status === 0 ? r.stdout.trim() : "";
    if (nv && fs.existsSync(nv)) {
      fs.rmSync(path.join(DEPS, "nvidia"), { recursive: true, force: true });
      fs.symlinkSync(nv, path.join(DEPS, "nvidia"));
      log(`linked ${path.join(DEPS, "nvidia")} -> ${nv} (CUDA libraries from pip's nvidia-* packages)`);
    } else {
      log(
        "note: this libtensorflow looks for CUDA in pip's nvidia-* packages (pip install 'tensorflow[and-cuda]'); none found for python3, so CUDA must come from the system or LD_LIBRARY_PATH",
      );
    }
  }
  for (const n of ["libtensorflow.so", "libtensorflow.so.2", `libtensorflow.so.${TFJS_NODE_LIBTF_VERSION}`]) {
    if (!fs.existsSync(path.join(DEPS_LIB, n)) || n.endsWith(TFJS_NODE_LIBTF_VERSION)) link(tfLib, n);
  }
  for (const n of ["libtensorflow_framework.so", "libtensorflow_framework.so.2", `libtensorflow_framework.so.${TFJS_NODE_LIBTF_VERSION}`]) {
    if (!fs.existsSync(path.join(DEPS_LIB, n)) || n.endsWith(TFJS_NODE_LIBTF_VERSION)) link(fwLib, n);
  }
}

// Python helper: copy the two shared libraries and the closure of C API headers out of a wheel.
const EXTRACT_PY = String.raw`
import json, os, re, shutil, sys, zipfile
whl, deps, binding_dir = sys.argv[1], sys.argv[2], sys.argv[3]
z = zipfile.ZipFile(whl)
names = set(z.namelist())
def pick(pat):
    c = sorted(n for n in names if re.fullmatch(pat, n))
    return c[0] if c else None
cc = pick(r"tensorflow/libtensorflow_cc\.so\.\d+")
fw = pick(r"tensorflow/libtensorflow_framework\.so\.\d+")
if not cc or not fw:
    sys.exit("wheel %s has no tensorflow/libtensorflow_cc.so.N / libtensorflow_framework.so.N "
             "(the TF C API ships there in TensorFlow >= 2.x Linux wheels)" % whl)
os.makedirs(os.path.join(deps, "lib"), exist_ok=True)
for n in (cc, fw):
    with z.open(n) as src, open(os.path.join(deps, "lib", os.path.basename(n)), "wb") as dst:
        shutil.copyfileobj(src, dst, 16 << 20)
# headers: the binding's '#include "tensorflow/..."' lines and everything they include, from tensorflow/include/
inc = "tensorflow/include/"
todo = []
for f in os.listdir(binding_dir):
    todo += re.findall(r'#include\s+"(tensorflow/[^"]+)"', open(os.path.join(binding_dir, f)).read())
todo += ["tensorflow/c/c_api.h", "tensorflow/c/eager/c_api.h"]
seen = set()
while todo:
    h = todo.pop()
    if h in seen or inc + h not in names:
        continue
    seen.add(h)
    data = z.read(inc + h)
    out = os.path.join(deps, "include", h)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    open(out, "wb").write(data)
    todo += [x.decode() for x in re.findall(rb'#\s*include\s+"([^"]+)"', data)]
if "tensorflow/c/c_api.h" not in seen:
    sys.exit("wheel %s has no tensorflow/include/tensorflow/c/c_api.h" % whl)
print(json.dumps({"lib": os.path.basename(cc), "framework": os.path.basename(fw), "headers": len(seen)}))
`;

function stageFromWheel(whl) {
  const base = path.basename(whl);
  const m = base.match(/-([^-]+)-([^-]+)-([^-]+)\.whl$/);
  const plat = m ? m[3] : "";
  if (plat && !plat.split(".").some((p) => p.endsWith(ARCH))) {
    fail(`${base} is for platform '${plat}', this machine is linux ${ARCH} (wrong architecture)`);
  }
  log(`extracting libtensorflow_cc / libtensorflow_framework and C API headers from ${whl}`);
  const t = Date.now();
  fs.rmSync(DEPS, { recursive: true, force: true });
  fs.mkdirSync(DEPS, { recursive: true });
  const r = run("python3", ["-c", EXTRACT_PY, whl, DEPS, path.join(PKG_DIR, "binding")]);
  if (r.status !== 0) fail(`extracting ${whl} failed:\n${r.stderr.trim()}`);
  const info = JSON.parse(r.stdout.trim());
  log(`staged ${info.lib}, ${info.framework}, ${info.headers} headers in ${DEPS} [${secs(t)}]`);
  finishDeps(info.lib, info.framework);
}

/** `pip config list` -> --index-url from a configured extra-index-url when no index-url is configured. */
function pipIndexArgs() {
  const r = run("python3", ["-m", "pip", "config", "list"]);
  const cfg = {};
  for (const line of r.stdout.split("\n")) {
    const mm = line.match(/^[^.]*\.([\w-]+)='(.*)'$/);
    if (mm) cfg[mm[1]] = mm[2];
  }
  if (process.env.PIP_INDEX_URL || cfg["index-url"]) return [];
  const extra = (process.env.PIP_EXTRA_INDEX_URL || cfg["extra-index-url"] || "").split(/\s+/).filter(Boolean);
  return extra.length ? ["--index-url", extra[0]] : [];
}

function pipDownload(tmp) {
  if (run("python3", ["-m", "pip", "--version"]).status !== 0) {
    fail(
      "pip is not available (python3 -m pip). Install it (Debian: apt-get install python3-pip), " +
        "or set DPO_TF_WHEEL=/path/to/tensorflow-*.whl or DPO_LIBTENSORFLOW=/path/or/url/libtensorflow.tar.gz",
    );
  }
  const spec = PIP_SPEC;
  const args = [
    "-m",
    "pip",
    "download",
    "--no-deps",
    "--only-binary=:all:",
    "--dest",
    tmp,
    ...pipIndexArgs(),
    ...(process.env.DPO_PIP_ARGS ? process.env.DPO_PIP_ARGS.split(/\s+/).filter(Boolean) : []),
    spec,
  ];
  log(`downloading the ${spec} wheel with your pip configuration: python3 ${args.join(" ")}`);
  const t = Date.now();
  const r = run("python3", args, { inherit: true });
  const whl = fs.readdirSync(tmp).find((f) => f.endsWith(".whl"));
  if (r.status !== 0 || !whl) {
    fail(
      `pip could not download a ${spec} wheel for this Python/platform (linux ${ARCH}). ` +
        `Check \`pip config list\` / your index, pick another version with DPO_TF_PIP_SPEC, ` +
        `or point DPO_TF_WHEEL / DPO_LIBTENSORFLOW at a file you have.`,
    );
  }
  log(`downloaded ${whl} (${(fs.statSync(path.join(tmp, whl)).size / 1e6).toFixed(0)} MB) [${secs(t)}]`);
  return { whl: path.join(tmp, whl), spec };
}

async function fetchToFile(url, file) {
  log(`downloading ${url}`);
  const t = Date.now();
  const res = await fetch(url).catch((e) => fail(`cannot download ${url}: ${e.cause?.message ?? e.message}`));
  if (!res.ok) fail(`cannot download ${url}: HTTP ${res.status}`);
  await pipeline(Readable.fromWeb(res.body), fs.createWriteStream(file));
  log(`downloaded ${(fs.statSync(file).size / 1e6).toFixed(0)} MB [${secs(t)}]`);
}

async function stage() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-ts-native-"));
  process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true })); // also after fail()
  try {
    const given = process.env.DPO_LIBTENSORFLOW || process.env.DPO_TF_WHEEL;
    let source;
    if (given) {
      source = given;
      let file = given;
      if (/^https?:\/\//i.test(given)) {
        const name = path.basename(new URL(given).pathname) || "libtensorflow.tar.gz";
        file = path.join(tmp, name);
        await fetchToFile(given, file);
      } else if (/^file:/i.test(given)) {
        file = fileURLToPath(given);
      }
      file = path.resolve(file);
      if (!fs.existsSync(file)) fail(`DPO_LIBTENSORFLOW / DPO_TF_WHEEL: ${file} does not exist`);
      if (fs.statSync(file).isDirectory()) {
        log(`using unpacked libtensorflow in ${file}`);
        stageFromDir(file, file);
      } else if (file.endsWith(".whl")) {
        stageFromWheel(file);
      } else if (/\.(tar\.gz|tgz|tar)$/.test(file)) {
        log(`unpacking ${file}`);
        const t = Date.now();
        const out = path.join(tmp, "libtensorflow");
        fs.mkdirSync(out);
        const r = run("tar", ["-xf", file, "-C", out]);
        if (r.status !== 0) fail(`tar -xf ${file} failed: ${r.stderr.trim()}`);
        log(`unpacked [${secs(t)}]`);
        stageFromDir(out, file);
      } else {
        fail(`DPO_LIBTENSORFLOW=${given}: expected a .tar.gz/.tgz tarball, a .whl, or a directory with lib/ and include/`);
      }
    } else {
      const d = pipDownload(tmp);
      source = `pip:${d.spec}:${path.basename(d.whl)}`;
      stageFromWheel(d.whl);
    }
    fs.writeFileSync(MARKER, JSON.stringify({ source, gpu: GPU, staged: new Date().toISOString() }, null, 2) + "\n");
    return source;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// Reuse deps/ staged by an earlier run of this script from the same kind of source (e.g. a build that
// failed for lack of g++), unless --force.
const wanted = process.env.DPO_LIBTENSORFLOW || process.env.DPO_TF_WHEEL || `pip:${PIP_SPEC}`;
let staged = null;
try {
  staged = JSON.parse(fs.readFileSync(MARKER, "utf8"));
} catch {}
const reuse =
  !FORCE &&
  staged &&
  (staged.source === wanted || staged.source.startsWith(wanted + ":")) &&
  fs.existsSync(path.join(DEPS_LIB, "libtensorflow.so")) &&
  fs.existsSync(path.join(DEPS, "include", "tensorflow", "c", "c_api.h"));
if (reuse) log(`reusing libtensorflow staged earlier in ${DEPS} (${staged.source})`);
const source = reuse ? staged.source : await stage();

// ---------------------------------------------------------------- 4. build the addon
let nodePreGyp;
try {
  nodePreGyp = path.join(path.dirname(pkgRequire.resolve("@mapbox/node-pre-gyp/package.json")), "bin", "node-pre-gyp");
} catch {
  fail(`@mapbox/node-pre-gyp (a dependency of ${PKG}) is not installed; run npm install`);
}
log(`building ${PKG} addon from source: node-pre-gyp install --build-from-source (nodedir=${nodedir}, jobs=${os.cpus().length})`);
const tb = Date.now();
const env = { ...process.env, npm_config_nodedir: nodedir, JOBS: String(os.cpus().length) };
const verbose = /^(1|true|yes)$/i.test(process.env.DPO_NATIVE_VERBOSE ?? "");
const r = run(process.execPath, [nodePreGyp, "install", "--build-from-source", ...(verbose ? [] : ["--loglevel=warn"])], {
  cwd: PKG_DIR,
  env,
  inherit: true,
});
if (r.status !== 0)
  fail(
    `the addon build failed (output above; DPO_NATIVE_VERBOSE=1 shows node-gyp's log). It needs python3, make, ` +
      `${CXX} and the Node.js headers in ${nodedir}/include/node.`,
  );
log(`addon built [${secs(tb)}]`);

// ---------------------------------------------------------------- 5. verify
const p = probe();
if (p.error) {
  console.error(p.stderr);
  fail(`${PKG} was built but does not load: ${p.error}`);
}
const size = fs.readdirSync(DEPS_LIB).reduce((s, f) => {
  const st = fs.lstatSync(path.join(DEPS_LIB, f));
  return s + (st.isFile() ? st.size : 0);
}, 0);
log(
  `OK: require('${PKG}') -> backend '${p.backend}', libtensorflow ${p.libtensorflow}${GPU ? (p.gpu ? ", GPU device in use" : ", NO GPU device visible (a CPU-only libtensorflow, or CUDA/cuDNN libraries not found: LD_LIBRARY_PATH?)") : ""}`,
);
log(`  libtensorflow from ${source}`);
log(`  libraries: ${DEPS_LIB} (${(size / 1e6).toFixed(0)} MB); addon: ${path.join(PKG_DIR, "lib")}`);
log(`  total ${secs(t0)}`);
bench();
