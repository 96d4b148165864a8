/**
 * What a user sees on the terminal from the backend alone: nothing but their own output.
 * - no native warning (Dawn's "Couldn't load Vulkan") unless WebGPU is asked for;
 * - an uncaught error in the user's script after the wasm backend loaded prints as Node prints it, exit code 1
 *   (emscripten's rethrowing handlers used to print the wasm module's source and exit with 7).
 * Each case runs the built library (dist/) in a child Node process, as a user's script would.
 */
import { describe, it, expect } from "vitest";
import { spawnSync } from "child_process";
import * as path from "path";

const LIB = path.join(__dirname, "..", "dist/index.js");

function node(script: string, env: Record<string, string | undefined> = {}) {
  const run = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe("backend output", () => {
  for (const backend of [undefined, "wasm", "cpu"]) {
    it(`initBackend({ quiet: true }) prints nothing (DPO_BACKEND=${backend ?? "unset"})`, () => {
      const run = node(`require(${JSON.stringify(LIB)}).initBackend({ quiet: true }).then((c) => process.stdout.write(c.name))`, {
        DPO_BACKEND: backend,
      });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr).toBe("");
      expect(run.stdout).toBe(backend ?? run.stdout);
      expect(run.stdout).not.toBe("webgpu");
    });
  }

  it("an uncaught error after the wasm backend loaded prints as Node prints it and exits with 1", () => {
    const run = node(`require(${JSON.stringify(LIB)}).initBackend({ quiet: true }).then(() => { throw new Error("user boom"); })`, {
      DPO_BACKEND: "wasm",
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("Error: user boom");
    expect(run.stderr).not.toContain("tf-backend-wasm");
    expect(run.stderr.length).toBeLessThan(2000);
  });

  it("an unhandled rejection after the wasm backend loaded prints as Node prints it and exits with 1", () => {
    const run = node(`require(${JSON.stringify(LIB)}).initBackend({ quiet: true }).then(() => { Promise.reject(new Error("user reject")); })`, {
      DPO_BACKEND: "wasm",
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("Error: user reject");
    expect(run.stderr).not.toContain("tf-backend-wasm");
  });

  it("a user's own uncaughtException handler still runs", () => {
    const run = node(
      `process.on("uncaughtException", (e) => { console.log("handled " + e.message); process.exit(3); });
       require(${JSON.stringify(LIB)}).initBackend({ quiet: true }).then(() => { throw new Error("x"); })`,
      { DPO_BACKEND: "wasm" },
    );
    expect(run.stdout.trim()).toBe("handled x");
    expect(run.status).toBe(3);
  });
});
