/**
 * README.md's library example, run as a user would run it: outside this repository, in a fresh project that installs
 * the packed package (`npm pack`), once as an ES module (main.mjs, top-level await) and once as CommonJS (main.cjs).
 * The code blocks are extracted from README.md and run verbatim except for the step counts (`maxSteps: 60` → 2,
 * `evalSteps: 20` → 2) so the test takes seconds.
 *
 * How the package is installed: the tarball `npm pack` makes is unpacked into node_modules/dpo-ts (what npm does with
 * it), and each dependency the packed package.json declares is linked from this repo's node_modules (so an
 * undeclared dependency still fails, as it would for a user). A full `npm install ./dpo-ts-*.tgz` fetches ~170
 * packages (about 20 s with a warm cache, minutes without): set DPO_README_NPM_INSTALL=1 to run that instead.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { withoutNativeLoadBanner } from "./helpers/native-banner";

const ROOT = path.join(__dirname, "..");
const README = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");

/** The ```js block of README.md whose first line is `// <name>`. */
function readmeBlock(name: string): string {
  const m = README.match(new RegExp("```js\\n(// " + name.replace(".", "\\.") + "\\n[\\s\\S]*?)```"));
  if (!m) throw new Error(`README.md has no \`\`\`js block starting with "// ${name}"`);
  return m[1];
}

/** The example with its step counts made small (the only change). */
function withFewSteps(code: string): string {
  const small = code.replace(/maxSteps: 60\b/g, "maxSteps: 2").replace(/evalSteps: 20\b/g, "evalSteps: 2");
  expect(small, "the example's maxSteps changed: update this test").toContain("maxSteps: 2");
  return small;
}

let project = "";

/** A fresh project with the packed package installed. */
function makeProject(): string {
  expect(fs.existsSync(path.join(ROOT, "dist/index.js")), "build first: npm run build").toBe(true);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-ts-readme-"));
  const pack = spawnSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: ROOT, encoding: "utf8" });
  expect(pack.status, pack.stderr).toBe(0);
  const tarball = path.join(dir, JSON.parse(pack.stdout)[0].filename as string);
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "readme-example", version: "1.0.0", private: true }, null, 2));
  if (process.env.DPO_README_NPM_INSTALL) {
    const install = spawnSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], { cwd: dir, encoding: "utf8" });
    expect(install.status, install.stderr).toBe(0);
    return dir;
  }
  const pkgDir = path.join(dir, "node_modules", "dpo-ts");
  fs.mkdirSync(pkgDir, { recursive: true });
  const untar = spawnSync("tar", ["-xzf", tarball, "-C", pkgDir, "--strip-components=1"], { encoding: "utf8" });
  expect(untar.status, untar.stderr).toBe(0);
  const manifest = JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8"));
  const declared: Array<[string, boolean]> = [
    ...Object.keys(manifest.dependencies ?? {}).map((n): [string, boolean] => [n, false]),
    ...Object.keys(manifest.optionalDependencies ?? {}).map((n): [string, boolean] => [n, true]),
  ];
  for (const [name, optional] of declared) {
    if (name === manifest.name) continue;
    const from = path.join(ROOT, "node_modules", name);
    if (!fs.existsSync(from)) {
      expect(optional, `dependency ${name} is not installed in this repo`).toBe(true);
      continue;
    }
    const to = path.join(dir, "node_modules", name);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.symlinkSync(from, to, "dir");
  }
  return dir;
}

function run(file: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { cwd: project, env: { ...process.env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b) => (stdout += b));
    child.stderr.on("data", (b) => (stderr += b));
    child.on("exit", (status) => resolve({ status, stdout, stderr }));
  });
}

describe("README's library example in a fresh project", () => {
  beforeAll(() => {
    project = makeProject();
    fs.writeFileSync(path.join(project, "main.mjs"), withFewSteps(readmeBlock("main.mjs")));
    fs.writeFileSync(path.join(project, "main.cjs"), withFewSteps(readmeBlock("main.cjs")).replace(/runs\/my-run/g, "runs/my-run-cjs"));
  }, 120_000);

  it("resolves dpo-ts and its embedded data inside the installed package", () => {
    const probe = spawnSync(
      process.execPath,
      ["-e", 'const d = require("dpo-ts"); console.log(JSON.stringify({ main: require.resolve("dpo-ts"), embedded: d.EMBEDDED }))'],
      {
        cwd: project,
        encoding: "utf8",
      },
    );
    expect(probe.status, probe.stderr).toBe(0);
    const { main, embedded } = JSON.parse(probe.stdout);
    const installed = fs.realpathSync(path.join(project, "node_modules", "dpo-ts"));
    expect(fs.realpathSync(main).startsWith(installed + path.sep)).toBe(true);
    for (const p of [embedded.sftModel, embedded.tokenizer, embedded.orcaDpoPairs, embedded.sft]) {
      expect(path.isAbsolute(p)).toBe(true);
      expect(fs.realpathSync(p).startsWith(installed + path.sep), p).toBe(true);
    }
    expect(fs.existsSync(path.join(embedded.sftModel, "model.safetensors"))).toBe(true);
  });

  it("runs as an ES module and as CommonJS: the backend line on stdout, only progress lines on stderr", async () => {
    // Both at once: each is mostly waiting on one core.
    const [esm, cjs] = await Promise.all([run("main.mjs"), run("main.cjs")]);
    for (const [name, r, out] of [
      ["main.mjs", esm, "runs/my-run"],
      ["main.cjs", cjs, "runs/my-run-cjs"],
    ] as const) {
      expect(r.status, `${name}:\n${r.stderr}`).toBe(0);
      // stderr holds only the trainer's default progress display (plain lines off a terminal, as tqdm's would be)
      const progress = withoutNativeLoadBanner(r.stderr).split("\n");
      expect(progress[0], name).toMatch(/^DPO training: \d+ steps$/);
      for (const line of progress) expect(line, name).toMatch(/^(DPO training\b|step \d+ \|)/);
      expect(r.stdout.split("\n")[0], name).toMatch(/^dpo-ts backend: /);
      const logged = fs
        .readFileSync(path.join(project, out, "metrics.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(
        logged.filter((e) => typeof e.loss === "number").map((e) => e.step),
        name,
      ).toContain(2);
      expect(fs.existsSync(path.join(project, out, "final", "model.safetensors")), name).toBe(true);
    }
  }, 180_000);
});
