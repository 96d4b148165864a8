/**
 * Renders the report and notebook-style figure fragments in headless Chromium (Debian's chromium-headless-shell,
 * driven by playwright-core; no browser download) and checks that every plot is drawn, without console errors.
 * Screenshots go to $DPO_SCREENSHOT_DIR (default: <tmp>/dpo-ts-screens).
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pathToFileURL } from "url";
import type { Browser, Page } from "playwright-core";
import {
  lossFigure,
  rewardsFigure,
  marginsFigure,
  accuracyFigure,
  learningRateFigure,
  klFigure,
  logpsFigure,
  gradNormFigure,
  completionLengthFigure,
  winRateFigure,
  rewardKlFigure,
  compareRunsFigure,
  PlotlyFigure,
} from "../src/metrics/plots";
import { figureHtml, mimeBundle, plotlyScriptTag, resetPlotlyInclusion } from "../src/metrics/render";
import { spawn, spawnSync } from "child_process";
import { writeReport } from "../src/metrics/report";
import { installKernel } from "../src/course/kernel";
import { syntheticLog, writeSyntheticRun } from "./helpers/synthetic-run";
import { NEEDS, skipUnless } from "./helpers/skip";

const CHROMIUM = process.env.DPO_CHROMIUM ?? "/usr/bin/chromium-headless-shell";
const hasChromium = fs.existsSync(CHROMIUM);
const SHOTS = process.env.DPO_SCREENSHOT_DIR ?? path.join(os.tmpdir(), "dpo-ts-screens");
const NBCONVERT = path.resolve(__dirname, "../.venv/bin/jupyter-nbconvert");
const JUPYTER = path.resolve(__dirname, "../.venv/bin/jupyter");
// The JupyterLab check takes about a minute (server start, two page loads); DPO_SKIP_JUPYTERLAB=1 skips it.
const hasJupyterLab = fs.existsSync(path.resolve(__dirname, "../.venv/bin/jupyter-lab")) && !process.env.DPO_SKIP_JUPYTERLAB;

/** A notebook whose three code cells have figure outputs: inline bundle, first "once" (bundle), second "once". */
function figureNotebook(): object {
  const log = syntheticLog(30);
  resetPlotlyInclusion();
  const outputs = [mimeBundle(lossFigure(log)), mimeBundle(rewardsFigure(log), { plotlyJs: "once" }), mimeBundle(marginsFigure(log), { plotlyJs: "once" })];
  resetPlotlyInclusion();
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { language_info: { name: "typescript" } },
    cells: outputs.map((data, i) => ({
      id: `c${i}`,
      cell_type: "code",
      execution_count: i + 1,
      metadata: {},
      source: [`display(fig${i})`],
      outputs: [{ output_type: "display_data", data, metadata: {} }],
    })),
  };
}

/** Per plot div: drawn (has .main-svg), number of trace paths with geometry, and count of non-white pixels. */
async function inspectPlots(page: Page) {
  return page.evaluate(() => {
    const divs = Array.from(document.querySelectorAll<HTMLElement>(".plotly-graph-div"));
    return divs.map((gd) => {
      const svg = gd.querySelector(".main-svg");
      const tracePaths = Array.from(gd.querySelectorAll(".scatterlayer path.js-line, .scatterlayer path.point, .barlayer path"))
        .map((p) => p.getAttribute("d") ?? "")
        .filter((d) => d.length > 4 && d !== "M0,0Z");
      const r = gd.getBoundingClientRect();
      return {
        id: gd.id,
        drawn: !!svg,
        placeholder: !!gd.querySelector(".dpo-plot-placeholder"),
        tracePaths: tracePaths.length,
        width: r.width,
        height: r.height,
        title: gd.querySelector(".gtitle")?.textContent ?? "",
      };
    });
  });
}

/** Fraction of non-white pixels in a PNG, decoded by the browser. */
async function inkFraction(page: Page, png: Buffer): Promise<number> {
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = "data:image/png;base64," + b64;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext("2d")!;
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 235 || d[i + 1] < 235 || d[i + 2] < 235) ink++;
    return ink / (d.length / 4);
  }, png.toString("base64"));
}

async function waitDrawn(page: Page, n: number) {
  await page.waitForFunction(
    (count) => Array.from(document.querySelectorAll(".plotly-graph-div")).filter((d) => d.querySelector(".main-svg")).length >= count,
    n,
    { timeout: 30_000 },
  );
}

describe.skipIf(skipUnless(hasChromium, "report and figures in headless Chromium", NEEDS.chromium))("report and figures in headless Chromium", () => {
  let browser: Browser;
  const errors: string[] = [];

  beforeAll(async () => {
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"], headless: true });
    fs.mkdirSync(SHOTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  async function newPage(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    page.on("request", (r) => {
      if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) errors.push(`network request: ${r.url()}`);
    });
    return page;
  }

  it("report.html: every plot drawn, non-blank, no console errors, no network", async () => {
    errors.length = 0;
    const dir = writeSyntheticRun(fs.mkdtempSync(path.join(os.tmpdir(), "dpo-report-browser-")));
    const file = writeReport(dir);
    const page = await newPage();
    await page.goto(pathToFileURL(file).href);
    await waitDrawn(page, 9);
    const plots = await inspectPlots(page);
    expect(plots).toHaveLength(9);
    for (const p of plots) {
      expect(p.drawn, p.id).toBe(true);
      expect(p.placeholder, p.id).toBe(false);
      expect(p.tracePaths, `${p.title}: trace paths`).toBeGreaterThan(0);
      expect(p.width).toBeGreaterThan(300);
      expect(p.height).toBeGreaterThan(200);
    }
    expect(plots.map((p) => p.title)).toEqual([
      "DPO loss",
      "Implicit rewards: chosen vs rejected",
      "Reward margin (chosen − rejected)",
      "Reward accuracy",
      "Policy log-probabilities",
      "Implicit KL to reference",
      "Learning rate",
      "Gradient norm",
      "Completion length (words)",
    ]);
    // each plot has ink (lines, axes, text) and is not just a grey box
    const divs = await page.$$(".plotly-graph-div");
    for (const [i, d] of divs.entries()) {
      const frac = await inkFraction(page, await d.screenshot());
      expect(frac, plots[i].title).toBeGreaterThan(0.01);
      expect(frac, plots[i].title).toBeLessThan(0.6);
    }
    await page.screenshot({ path: path.join(SHOTS, "report-full.png"), fullPage: true });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(SHOTS, "report-top.png") });
    await (await page.$("#samples"))!.screenshot({ path: path.join(SHOTS, "report-samples.png") });
    // the sample text was escaped, not executed
    expect(await page.evaluate(() => document.querySelectorAll(".sample script").length)).toBe(0);
    expect((await page.$$eval(".sample .prompt pre", (els) => els.map((e) => e.textContent)))[1]).toBe(
      "Explain DPO in one sentence & mind <script>alert(1)</script> escaping.",
    );
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  /** Per figure card: how far the drawn plot (its SVG) reaches past the card's content box, in CSS pixels. */
  async function overflowPerCard(page: Page) {
    return page.evaluate(() =>
      Array.from(document.querySelectorAll<HTMLElement>(".card")).map((card) => {
        const c = card.getBoundingClientRect();
        const style = getComputedStyle(card);
        const left = c.left + parseFloat(style.paddingLeft) + parseFloat(style.borderLeftWidth);
        const right = c.right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth);
        const svg = card.querySelector(".plotly-graph-div .main-svg")?.getBoundingClientRect();
        return {
          title: card.querySelector(".gtitle")?.textContent ?? "",
          cardWidth: right - left,
          svgWidth: svg?.width ?? 0,
          overflow: svg ? Math.max(0, svg.right - right, left - svg.left) : Infinity,
        };
      }),
    );
  }

  it("report.html: every figure fits its card at 1000, 1300 and 1600 px, also after the window is resized", async () => {
    errors.length = 0;
    const dir = writeSyntheticRun(fs.mkdtempSync(path.join(os.tmpdir(), "dpo-report-fit-")));
    const file = writeReport(dir);
    const check = async (page: Page, label: string) => {
      // Plotly redraws on resize asynchronously: wait until every SVG fits (or time out and report the sizes).
      await page
        .waitForFunction(
          () =>
            Array.from(document.querySelectorAll<HTMLElement>(".card")).every((card) => {
              const svg = card.querySelector(".main-svg");
              return svg && svg.getBoundingClientRect().width <= card.clientWidth;
            }),
          undefined,
          { timeout: 5_000 },
        )
        .catch(() => undefined);
      const cards = await overflowPerCard(page);
      expect(cards.length, label).toBe(9);
      for (const c of cards) {
        expect(c.overflow, `${label}: "${c.title}" is ${c.svgWidth}px wide in a ${c.cardWidth}px card`).toBeLessThanOrEqual(1);
        expect(c.svgWidth, `${label}: "${c.title}" fills its card`).toBeGreaterThan(c.cardWidth - 2);
      }
    };
    for (const width of [1000, 1300, 1600]) {
      const page = await newPage();
      await page.setViewportSize({ width, height: 900 });
      await page.goto(pathToFileURL(file).href);
      await waitDrawn(page, 9);
      await check(page, `${width}px`);
      await page.screenshot({ path: path.join(SHOTS, `report-${width}.png`) });
      if (width === 1600) {
        for (const resized of [1000, 1300]) {
          await page.setViewportSize({ width: resized, height: 900 });
          await check(page, `1600px resized to ${resized}px`);
        }
      }
      await page.close();
    }
    expect(errors).toEqual([]);
  }, 120_000);

  it("every figure builder produces figures valid under Plotly.validate", async () => {
    errors.length = 0;
    const log = syntheticLog(40);
    const runs = [
      { name: "β=0.1", log: syntheticLog(40, 3) },
      { name: "β=0.5", log: syntheticLog(30, 4) },
    ];
    const figs: Record<string, PlotlyFigure> = {
      loss: lossFigure(log),
      rewards: rewardsFigure(log),
      margins: marginsFigure(log),
      accuracy: accuracyFigure(log),
      lr: learningRateFigure(log),
      kl: klFigure(log),
      logps: logpsFigure(log),
      grad: gradNormFigure(log),
      lengths: completionLengthFigure({ chosen: [3, 8, 9, 20, 21, 22], rejected: [1, 2, 40] }),
      winrate: winRateFigure([
        { label: "policy vs reference", wins: 31, losses: 12, ties: 7 },
        { label: "policy vs SFT", wins: 20, losses: 25 },
      ]),
      scatter: rewardKlFigure(
        [
          { name: "β=0.1", kl: [0.1, 0.3, 0.8], reward: [0.2, 0.5, 0.7], text: ["10", "20", "30"] },
          { name: "β=0.5", kl: [0.05, 0.1, 0.2], reward: [0.1, 0.2, 0.3] },
        ],
        { connect: true },
      ),
      compare: compareRunsFigure(runs, "rewards/margins"),
      compareSideBySide: compareRunsFigure([...runs, { name: "<β=1>", log: syntheticLog(20, 5) }], "loss", { sideBySide: true }),
    };
    const page = await newPage();
    await page.setContent(`<!DOCTYPE html><html><head><meta charset="utf-8">${plotlyScriptTag()}</head><body></body></html>`);
    const problems = await page.evaluate((fs_) => {
      const out: Record<string, unknown> = {};
      const P = (window as any).Plotly;
      const legendSchema = P.PlotSchema.get().layout.layoutAttributes.legend;
      for (const [k, f] of Object.entries(fs_)) {
        // plotly.js 4.1.1's Plotly.validate throws on any layout.legend object ("reading 'validateFunction'"),
        // so the legend is checked against the schema by hand and the rest by Plotly.validate.
        const { legend, ...layout } = f.layout as Record<string, any>;
        const r = P.validate(f.data, layout);
        const msgs: string[] = r && r.length ? r.map((e: any) => e.msg) : [];
        for (const [lk, lv] of Object.entries(legend ?? {})) {
          const a = legendSchema[lk];
          if (!a || !a.valType) msgs.push(`layout.legend.${lk} is not a legend attribute`);
          else if (a.valType === "enumerated" && !a.values.includes(lv)) msgs.push(`layout.legend.${lk}=${lv} not in ${a.values}`);
          else if (a.valType === "number" && (typeof lv !== "number" || (a.min !== undefined && lv < a.min) || (a.max !== undefined && lv > a.max)))
            msgs.push(`layout.legend.${lk}=${lv} out of range`);
        }
        if (msgs.length) out[k] = msgs;
      }
      return out;
    }, figs);
    expect(problems).toEqual({});
    // and draw them all (notebook-style fragments, bundle already on the page)
    const html = Object.values(figs)
      .map((f) => figureHtml(f, { plotlyJs: "none" }))
      .join("\n");
    await page.evaluate((h) => {
      const host = document.createElement("div");
      host.innerHTML = h;
      document.body.appendChild(host);
      for (const s of Array.from(host.querySelectorAll("script"))) {
        const c = document.createElement("script");
        c.textContent = s.textContent;
        s.replaceWith(c);
      }
    }, html);
    await waitDrawn(page, Object.keys(figs).length);
    const plots = await inspectPlots(page);
    for (const [i, p] of plots.entries()) expect(p.tracePaths, Object.keys(figs)[i]).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(SHOTS, "all-figures.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it("notebook outputs: guarded bundle, detached hosts (JupyterLab), 'once' mode, stripped scripts", async () => {
    errors.length = 0;
    const log = syntheticLog(30);
    const page = await newPage();
    await page.setContent(`<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><div id="nb"></div></body></html>`);
    // Like JupyterLab's RenderedHTML: set innerHTML on a host, re-create the <script> elements so they run
    // (here: while the host is still detached, then attach it after a delay), one output per "cell".
    const addOutput = (html: string, attachDelayMs: number) =>
      page.evaluate(
        ([h, delay]) => {
          const host = document.createElement("div");
          host.className = "jp-OutputArea-output";
          host.innerHTML = h as string;
          const holder = document.createElement("div");
          holder.appendChild(host);
          document.body.appendChild(holder); // scripts only run when connected
          for (const s of Array.from(host.querySelectorAll("script"))) {
            const c = document.createElement("script");
            c.textContent = s.textContent;
            s.replaceWith(c);
          }
          holder.remove(); // detach right after scripts ran, re-attach later
          setTimeout(() => document.getElementById("nb")!.appendChild(holder), delay as number);
        },
        [html, attachDelayMs] as const,
      );
    // two inline fragments: the second's bundle is skipped by the guard, so the first plot keeps its Plotly
    await addOutput(figureHtml(lossFigure(log)), 0);
    await page.evaluate(() => ((window as any).Plotly.__first = true));
    await addOutput(figureHtml(rewardsFigure(log)), 300);
    resetPlotlyInclusion();
    await addOutput(figureHtml(marginsFigure(log), { plotlyJs: "once" }), 0); // guard skips: Plotly exists
    await addOutput(figureHtml(accuracyFigure(log), { plotlyJs: "once" }), 100); // no bundle at all
    await waitDrawn(page, 4);
    expect(await page.evaluate(() => (window as any).Plotly.__first)).toBe(true);
    const plots = await inspectPlots(page);
    expect(plots.map((p) => [p.drawn, p.tracePaths > 0])).toEqual(Array(4).fill([true, true]));
    await page.screenshot({ path: path.join(SHOTS, "notebook-outputs.png"), fullPage: true });

    // untrusted JupyterLab: the sanitizer strips scripts; the placeholder explains what to do
    const page2 = await newPage();
    const stripped = figureHtml(lossFigure(log), { plotlyJs: "inline" }).replace(/<script[\s\S]*?<\/script>/g, "");
    expect(stripped.length).toBeLessThan(1000);
    await page2.setContent(`<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>${stripped}</body></html>`);
    expect(await page2.textContent(".dpo-plot-placeholder")).toMatch(/trust the notebook/);
    // "once" output whose bundle-carrying cell is gone: after the wait, a clear message instead of an error
    resetPlotlyInclusion();
    figureHtml(lossFigure(log), { plotlyJs: "once" });
    await page2.setContent(`<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>${figureHtml(lossFigure(log), { plotlyJs: "once" })}</body></html>`);
    await page2.waitForFunction(() => /plotly\.js is not loaded/.test(document.body.textContent ?? ""), null, { timeout: 20_000 });
    resetPlotlyInclusion();
    expect(errors).toEqual([]);
    await page.close();
    await page2.close();
  }, 120_000);

  it.skipIf(!hasChromium || skipUnless(fs.existsSync(NBCONVERT), "nbconvert HTML export in Chromium", NEEDS.jupyter))(
    "nbconvert HTML export of notebook outputs draws every figure",
    async () => {
      errors.length = 0;
      const nb = figureNotebook();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-nbconvert-"));
      const ipynb = path.join(dir, "figs.ipynb");
      fs.writeFileSync(ipynb, JSON.stringify(nb));
      const r = spawnSync(NBCONVERT, ["--to", "html", ipynb], { encoding: "utf8", timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      const page = await newPage();
      await page.route(/^(?!file:|data:)/, (route) => route.abort()); // offline: CDN assets of the template fail
      await page.goto(pathToFileURL(path.join(dir, "figs.html")).href);
      await waitDrawn(page, 3);
      const plots = await inspectPlots(page);
      expect(plots.map((p) => [p.drawn, p.tracePaths > 0, p.title])).toEqual([
        [true, true, "DPO loss"],
        [true, true, "Implicit rewards: chosen vs rejected"],
        [true, true, "Reward margin (chosen − rejected)"],
      ]);
      await page.screenshot({ path: path.join(SHOTS, "nbconvert.png"), fullPage: true });
      // only the template's own CDN requests (require.js, MathJax) may have failed; nothing from the figures
      expect(errors.filter((e) => !/network request|ERR_FAILED|Failed to load resource/.test(e))).toEqual([]);
      await page.close();
    },
    180_000,
  );

  it.skipIf(
    !hasChromium ||
      skipUnless(hasJupyterLab, "JupyterLab in Chromium", process.env.DPO_SKIP_JUPYTERLAB ? "DPO_SKIP_JUPYTERLAB is set: unset it" : NEEDS.jupyter),
  )(
    "JupyterLab: trusted notebook draws every figure; untrusted shows the placeholders",
    async () => {
      errors.length = 0;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-jlab-"));
      const env = {
        ...process.env,
        JUPYTER_CONFIG_DIR: path.join(dir, "cfg"),
        JUPYTER_DATA_DIR: path.join(dir, "data"),
        JUPYTER_RUNTIME_DIR: path.join(dir, "rt"),
      };
      // Signatures are content digests, so the two notebooks must differ for one to stay untrusted.
      fs.mkdirSync(path.join(dir, "nb"));
      for (const name of ["trusted", "untrusted"]) {
        const nb = figureNotebook() as { metadata: Record<string, unknown> };
        nb.metadata.title = name;
        fs.writeFileSync(path.join(dir, "nb", `${name}.ipynb`), JSON.stringify(nb));
      }
      // a course notebook, with the dpo-ts kernel registered in this Jupyter's data dir: opening it must not mark it
      // modified (JupyterLab rewrites metadata.language_info from the kernel's reply when it differs)
      fs.copyFileSync(path.join(__dirname, "..", "notebooks", "02-dataset.ipynb"), path.join(dir, "nb", "course.ipynb"));
      installKernel({ prefix: path.join(dir, "prefix") });
      Object.assign(env, { JUPYTER_PATH: path.join(dir, "prefix", "share", "jupyter") });
      // sign one notebook, as JupyterLab does for notebooks it saved itself
      const t = spawnSync(JUPYTER, ["trust", path.join(dir, "nb", "trusted.ipynb")], { env, encoding: "utf8" });
      expect(t.status, t.stderr).toBe(0);
      const token = "dpo-ts-test";
      const port = 20000 + Math.floor(Math.random() * 20000);
      const server = spawn(
        JUPYTER,
        [
          "lab",
          "--no-browser",
          `--port=${port}`,
          "--ServerApp.port_retries=50",
          `--IdentityProvider.token=${token}`,
          `--ServerApp.root_dir=${path.join(dir, "nb")}`,
          "--allow-root",
          "--ServerApp.ip=127.0.0.1",
        ],
        { env, stdio: ["ignore", "pipe", "pipe"] },
      );
      try {
        let log = "";
        const base = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`jupyter lab did not start:\n${log}`)), 60_000);
          const onData = (b: Buffer) => {
            log += b.toString();
            const m = log.match(/http:\/\/127\.0\.0\.1:(\d+)\/lab/);
            if (m) {
              clearTimeout(timer);
              resolve(`http://127.0.0.1:${m[1]}`);
            }
          };
          server.stdout!.on("data", onData);
          server.stderr!.on("data", onData);
          server.on("exit", (code) => reject(new Error(`jupyter lab exited (${code}):\n${log}`)));
        });
        const results: Record<string, { drawn: number; placeholders: number }> = {};
        for (const name of ["trusted", "untrusted"]) {
          const page = await newPage();
          page.removeAllListeners("request"); // JupyterLab talks to its server over http/ws
          await page.goto(`${base}/lab/workspaces/ws-${name}/tree/${name}.ipynb?reset&token=${token}`);
          await page.waitForSelector(".jp-OutputArea-output .plotly-graph-div", { timeout: 60_000 });
          if (name === "trusted") await waitDrawn(page, 3);
          else await page.waitForTimeout(3000); // would the scripts run? (they must not)
          results[name] = await page.evaluate(() => ({
            drawn: Array.from(document.querySelectorAll(".jp-OutputArea-output .plotly-graph-div")).filter(
              (d) => d.querySelector(".main-svg") && d.querySelector(".scatterlayer path.js-line"),
            ).length,
            placeholders: document.querySelectorAll(".jp-OutputArea-output .dpo-plot-placeholder").length,
          }));
          await page.screenshot({ path: path.join(SHOTS, `jupyterlab-${name}.png`) });
          await page.close();
        }
        expect(results).toEqual({ trusted: { drawn: 3, placeholders: 0 }, untrusted: { drawn: 0, placeholders: 3 } });
        {
          const page = await newPage();
          page.removeAllListeners("request");
          const original = fs.readFileSync(path.join(dir, "nb", "course.ipynb"), "utf8");
          await page.goto(`${base}/lab/workspaces/ws-course/tree/course.ipynb?reset&token=${token}`);
          // the kernel started and answered kernel_info (JupyterLab has applied its language_info by now)
          await page.waitForFunction(() => /\(dpo-ts\) \| Idle/.test(document.body.innerText), undefined, { timeout: 120_000 });
          await page.waitForTimeout(1000);
          const dirty = await page.evaluate(() => document.querySelectorAll(".lm-TabBar-tab.jp-mod-dirty").length);
          await page.screenshot({ path: path.join(SHOTS, "jupyterlab-course.png") });
          await page.close();
          expect(dirty, "a course notebook is marked modified as soon as it opens").toBe(0);
          expect(fs.readFileSync(path.join(dir, "nb", "course.ipynb"), "utf8")).toBe(original);
        }
        expect(errors.filter((e) => !/Failed to load resource|favicon|404/.test(e))).toEqual([]);
      } finally {
        server.kill("SIGTERM");
        await new Promise((r) => setTimeout(r, 500));
        if (server.exitCode === null) server.kill("SIGKILL");
      }
    },
    240_000,
  );
});
