/**
 * The chat page at "/" in headless Chromium (Debian's chromium-headless-shell, driven by playwright-core): a question
 * typed, the answer shown token by token as it streams, two models side by side. Screenshot: runs/serve-chat.png.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as fs from "fs";
import * as path from "path";
import type { Browser } from "playwright-core";
import { serve, RunningServer } from "../src/serve/server";
import { useBackendForTests } from "./helpers/backend";
import { NEEDS, skipUnless } from "./helpers/skip";

const CHROMIUM = process.env.DPO_CHROMIUM ?? "/usr/bin/chromium-headless-shell";
const hasChromium = fs.existsSync(CHROMIUM);
const SHOT = path.resolve(__dirname, "../runs/serve-chat.png");

describe.skipIf(skipUnless(hasChromium, "chat page in headless Chromium", NEEDS.chromium))("chat page in headless Chromium", () => {
  let browser: Browser, server: RunningServer;

  beforeAll(async () => {
    await useBackendForTests();
    server = await serve({
      models: [
        { name: "sft", path: path.resolve(__dirname, "../data/sft-model") },
        { name: "tiny-random", path: path.join(__dirname, "fixtures/hf-tiny/gpt2-policy") },
      ],
      port: 0,
      log: false,
    });
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"], headless: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("streams two models' answers to a typed question side by side", async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 600 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => document.querySelectorAll(".column").length === 2);
    expect(await page.$$eval(".column h2", (hs) => hs.map((h) => h.textContent))).toEqual(["sft", "tiny-random"]);
    // Record every text the answers show while they stream.
    await page.evaluate(() => {
      const seen: Record<string, string[]> = {};
      (window as unknown as { seen: typeof seen }).seen = seen;
      new MutationObserver(() => {
        document.querySelectorAll<HTMLElement>(".column").forEach((col) => {
          const msg = col.querySelector<HTMLElement>(".msg.assistant");
          if (!msg || msg.dataset.done) return;
          const list = (seen[col.dataset.model!] ??= []);
          if (list[list.length - 1] !== msg.textContent) list.push(msg.textContent ?? "");
        });
      }).observe(document.getElementById("columns")!, { subtree: true, childList: true, characterData: true });
    });
    await page.fill("#maxTokens", "48");
    await page.fill("#temperature", "0.8");
    await page.click("#question");
    await page.keyboard.type("Which city is the capital of Spain?");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelectorAll(".msg.assistant[data-done]").length === 2, null, { timeout: 30_000 });
    const seen = await page.evaluate(() => (window as unknown as { seen: Record<string, string[]> }).seen);
    const final = await page.$$eval(".msg.assistant", (ms) =>
      ms.map((m) => ({
        text: m.firstChild?.textContent ?? "",
        meta: m.querySelector(".meta")?.textContent ?? "",
        chunks: Number((m as HTMLElement).dataset.chunks),
      })),
    );
    for (const name of ["sft", "tiny-random"]) {
      const steps = seen[name] ?? [];
      expect(steps.length, `${name}: streamed texts ${JSON.stringify(steps)}`).toBeGreaterThanOrEqual(3); // shown piece by piece
      for (let i = 1; i < steps.length; i++) expect(steps[i].startsWith(steps[i - 1])).toBe(true); // each a continuation
    }
    for (const answer of final) {
      expect(answer.text.length).toBeGreaterThan(0);
      expect(answer.chunks).toBeGreaterThanOrEqual(3);
      expect(answer.meta).toMatch(/\d+ tokens, first token \d+ ms/);
    }
    expect(await page.$$eval(".msg.user", (ms) => ms.map((m) => m.textContent))).toEqual([
      "Which city is the capital of Spain?",
      "Which city is the capital of Spain?",
    ]);
    fs.mkdirSync(path.dirname(SHOT), { recursive: true });
    await page.screenshot({ path: SHOT });
    expect(errors).toEqual([]);
    await page.close();
  });
});
