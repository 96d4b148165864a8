import { defineConfig } from "vitest/config";
import * as path from "path";

export default defineConfig({
  test: {
    root: path.resolve(path.dirname(new URL(import.meta.url).pathname), ".."),
    include: ["tests/**/*.test.ts"],
    // Model tests train real (tiny) networks: give them time, and run files in separate processes.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: "forks",
    fileParallelism: true,
    maxWorkers: 2,
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ["default", "json"],
    outputFile: { json: "runs/test-report.json" },
  },
});
