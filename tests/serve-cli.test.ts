/**
 * `dpo-ts serve` (serveCommand with parsed option values, as the CLI calls it): several models by name, an API key,
 * refusal of a network address without a key, clear option errors; stopped by SIGTERM.
 */
import { describe, it, expect, vi } from "vitest";
import * as path from "path";
import { serveCommand, serveOptions } from "../src/cli/serve";

const FIX = path.join(__dirname, "fixtures/hf-tiny");
const defaults = Object.fromEntries(
  Object.entries(serveOptions)
    .filter(([, o]) => "default" in o)
    .map(([k, o]) => [k, (o as { default: unknown }).default]),
);

describe("dpo-ts serve", () => {
  it("serves several models by name behind an API key until SIGTERM", async () => {
    const printed: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((line: string) => void printed.push(line));
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const running = serveCommand(
        { ...defaults, backend: process.env.DPO_BACKEND, port: "0", "api-key": "k-123", model: [`policy=${FIX}/gpt2-policy`, `${FIX}/gpt2-ref`] },
        [],
      );
      while (!printed.some((l) => l.startsWith("serving"))) await new Promise((r) => setTimeout(r, 10));
      const url = /at (http:\/\/\S+)\/v1/.exec(printed.find((l) => l.startsWith("serving"))!)![1];
      expect((await fetch(`${url}/v1/models`)).status).toBe(401);
      const models = await (await fetch(`${url}/v1/models`, { headers: { authorization: "Bearer k-123" } })).json();
      expect(models.data.map((m: { id: string }) => m.id)).toEqual(["policy", "gpt2-ref"]);
      process.emit("SIGTERM");
      await running;
      await expect(fetch(`${url}/health`)).rejects.toThrow();
      const logged = stderr.mock.calls.map((c) => String(c[0])).join("");
      expect(logged).toMatch(/GET \/v1\/models 401 0 tokens/);
      expect(logged).not.toContain("k-123");
    } finally {
      spy.mockRestore();
      stderr.mockRestore();
    }
  });

  it("refuses a network address without a key, saying why; rejects bad options clearly", async () => {
    const base = { ...defaults, port: "0", model: [`${FIX}/gpt2-policy`] };
    const saved = process.env.DPO_API_KEY;
    delete process.env.DPO_API_KEY;
    try {
      await expect(serveCommand({ ...base, host: "0.0.0.0" }, [])).rejects.toThrow(
        /refusing to listen on 0\.0\.0\.0 without an API key.*--allow-unauthenticated/,
      );
    } finally {
      if (saved !== undefined) process.env.DPO_API_KEY = saved;
    }
    await expect(serveCommand({ ...base, port: "80a" }, [])).rejects.toThrow(/--port must be a whole number/);
    await expect(serveCommand({ ...base, "max-batch-size": "0" }, [])).rejects.toThrow(/--max-batch-size must be a positive whole number/);
    await expect(serveCommand({ ...defaults }, [])).rejects.toThrow(/--model is required/);
    await expect(serveCommand(base, ["extra"])).rejects.toThrow(/unexpected argument "extra"/);
  });
});
