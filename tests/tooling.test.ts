/**
 * The project's own tools, as `npm install` and `.ci/run` use them:
 * - the build runs the pinned TypeScript (devDependencies), not tslab's bundled 5.0.4 that node_modules/.bin/tsc
 *   points to;
 * - the linter runs clean on the tree (eslint + typescript-eslint, eslint.config.mjs);
 * - the formatter (prettier, printWidth 160) is configured and accepts files formatted by it;
 * - every skip in tests/ goes through tests/helpers/skip.ts, which prints what is skipped and how to enable it;
 * - npm 11 blocks dependencies' install scripts unless package.json's allowScripts covers them: every dependency
 *   with an install script has a decision there, and the Jupyter kernel's native part (zeromq) loads without one.
 */
import { describe, it, expect } from "vitest";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { skipUnless } from "./helpers/skip";

const ROOT = path.join(__dirname, "..");
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));

function npmRun(script: string, ...args: string[]) {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const extra = args.length ? ["--", ...args] : [];
  return spawnSync(npm, ["run", "--silent", "--ignore-scripts", script, ...extra], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
}

describe("tooling", () => {
  it("npm run build uses the pinned TypeScript, not tslab's bundled one", () => {
    const pinned = JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules/typescript/package.json"), "utf8")).version as string;
    const want = (pkg.devDependencies.typescript as string).replace(/^[~^]/, "").split(".").slice(0, 2).join("."); // "5.9"
    expect(pinned.startsWith(want + "."), `node_modules/typescript is ${pinned}, package.json pins ${pkg.devDependencies.typescript}`).toBe(true);
    for (const script of ["build", "make-data"]) {
      expect(pkg.scripts[script], script).toMatch(/^node \.\/node_modules\/typescript\/bin\/tsc /);
    }
    // npm install runs prepare; prebuild empties dist/ first, so no file of an earlier build (a module since split
    // into a folder, say) shadows the new output.
    expect(pkg.scripts.prepare).toBe("npm run build");
    expect(pkg.scripts.prebuild).toContain("rmSync('dist'");
    const run = npmRun("build", "--version"); // --ignore-scripts (below): prebuild would empty dist/ under other tests
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(`Version ${pinned}`);
  });

  it("npm run lint is clean", () => {
    const run = npmRun("lint");
    expect(run.status, run.stdout + run.stderr).toBe(0);
  }, 120_000);

  it("prettier is configured (printWidth 160) and the files written under it pass format:check", () => {
    expect(JSON.parse(fs.readFileSync(path.join(ROOT, ".prettierrc.json"), "utf8")).printWidth).toBe(160);
    const files = ["src/util/proto.ts", "src/util/rng.ts", "tests/architecture.test.ts", "eslint.config.mjs"];
    const run = spawnSync(process.execPath, [path.join(ROOT, "node_modules/prettier/bin/prettier.cjs"), "--check", ...files], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });

  it("every skipped test says why and how to enable it (skips go through tests/helpers/skip.ts)", () => {
    const dir = path.join(ROOT, "tests");
    const silent: string[] = [];
    for (const name of fs.readdirSync(dir).filter((f) => f.endsWith(".test.ts"))) {
      const text = fs.readFileSync(path.join(dir, name), "utf8");
      // skipIf(<condition>): the condition must call skipUnless (which prints the reason).
      for (const m of text.matchAll(/\.skipIf\(/g)) {
        let depth = 1;
        let i = m.index! + m[0].length;
        for (; i < text.length && depth > 0; i++) depth += text[i] === "(" ? 1 : text[i] === ")" ? -1 : 0;
        const condition = text.slice(m.index! + m[0].length, i - 1);
        if (!/\bskipUnless\(/.test(condition)) silent.push(`${name}: skipIf(${condition.trim()})`);
      }
      for (const m of text.matchAll(/\b(?:ctx|context)\.skip\(|\b(?:it|test|describe)\.skip\(/g)) silent.push(`${name}: ${m[0]} (use skipTest / skipUnless)`);
    }
    expect(silent).toEqual([]);
  });

  it("every dependency's install script has an allowScripts decision, and zeromq (the kernel's transport) loads", () => {
    expect(() => require("zeromq"), "tslab's Jupyter kernel needs zeromq's prebuilt addon").not.toThrow();
    const npmVersion = spawnSync("npm", ["--version"], { encoding: "utf8" }).stdout.trim();
    if (skipUnless(Number(npmVersion.split(".")[0]) >= 11, `allowScripts review (npm ${npmVersion})`, "needs npm >= 11 (npm install -g npm@11)")) return;
    const ls = spawnSync("npm", ["install-scripts", "ls"], { cwd: ROOT, encoding: "utf8" });
    expect(ls.status, ls.stderr).toBe(0);
    expect(ls.stdout.trim()).toBe("No packages with unreviewed install scripts.");
  });
});
