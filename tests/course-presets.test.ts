/**
 * Course presets (src/course/presets.ts, `dpo-ts course --preset NAME`): every preset parameter is declared by a course
 * notebook and reaches it; flags given on the command line win; unknown presets and parameters no notebook declares
 * are refused; --help lists the presets; and a run with --preset workshop injects the values into the executed
 * notebook. (No timing here: the workshop's run time is measured by running it, see course.md.)
 */
import { describe, it, expect, vi } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { COURSE_PRESETS, DEFAULT_PRESET, presetParameters } from "../src/course/presets";
import { courseCommand, courseNotebooks, courseOptions, declaredParameters, notebookParameters } from "../src/cli/course";
import { formatHelp } from "../src/cli/framework";
import { readNotebook, cellTags } from "../src/course/notebook";

const ROOT = path.join(__dirname, "..");

describe("course presets", () => {
  const notebooks = courseNotebooks(path.join(ROOT, "notebooks"));
  const declared = notebooks.map(declaredParameters);

  it("full is the default and changes nothing; workshop's every parameter reaches a notebook that declares it", () => {
    expect(DEFAULT_PRESET).toBe("full");
    expect(presetParameters("full", { runName: "course", maxSteps: undefined }, declared)).toEqual({ runName: "course" });
    const workshop = presetParameters("workshop", { runName: "ws" }, declared);
    expect(Object.keys(COURSE_PRESETS.workshop.parameters).length).toBeGreaterThan(0);
    for (const [name, value] of Object.entries(COURSE_PRESETS.workshop.parameters)) {
      const receiving = notebooks.filter((nb) => name in notebookParameters(nb, workshop));
      expect(receiving.length, `${name} is injected somewhere`).toBeGreaterThan(0);
      for (const nb of receiving) expect(notebookParameters(nb, workshop)[name]).toEqual(value);
    }
  });

  it("lets command-line flags win, and refuses unknown presets and parameters no notebook declares", () => {
    const name = Object.keys(COURSE_PRESETS.workshop.parameters)[0];
    expect(presetParameters("workshop", { [name]: 7 }, declared)[name]).toBe(7);
    expect(() => presetParameters("nope", {}, declared)).toThrow(/no course preset "nope" \(presets: full, workshop\)/);
    expect(() => presetParameters("workshop", {}, [new Set(["runName"])])).toThrow(`parameter ${name} is declared by no notebook`);
    expect(formatHelp({ name: "course", summary: "", options: courseOptions, run: () => {} })).toMatch(/--preset NAME[\s\S]*full \(default\)[\s\S]*workshop/);
  });

  it("dpo-ts course --preset workshop injects the preset into the executed notebook", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-presets-"));
    const nbDir = path.join(dir, "notebooks");
    fs.mkdirSync(nbDir);
    const params = Object.entries(COURSE_PRESETS.workshop.parameters);
    const notebook = {
      cells: [
        {
          cell_type: "code",
          execution_count: null,
          id: "p",
          metadata: { tags: ["parameters"] },
          outputs: [],
          source: params.map(([k]) => `let ${k}: any = null;`).join("\n"),
        },
        {
          cell_type: "code",
          execution_count: null,
          id: "c",
          metadata: {},
          outputs: [],
          source: `console.log(JSON.stringify({ ${params.map(([k]) => `${k}: ${k}`).join(", ")} }));`,
        },
      ],
      metadata: {},
      nbformat: 4,
      nbformat_minor: 5,
    };
    fs.writeFileSync(path.join(nbDir, "01-preset.ipynb"), JSON.stringify(notebook));
    const spy = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      await courseCommand({ preset: "workshop", notebooks: nbDir, name: "preset-test", quiet: true });
      await expect(courseCommand({ preset: "nope", notebooks: nbDir })).rejects.toThrow(/--preset nope: no such preset/);
    } finally {
      spy.mockRestore();
    }
    const executed = readNotebook(path.join(dir, "runs", "preset-test", "notebooks", "01-preset.ipynb"));
    expect(cellTags(executed.cells[1])).toContain("injected-parameters");
    const printed = executed.cells[2].cell_type === "code" ? executed.cells[2].outputs.map((o) => ("text" in o ? o.text : "")).join("") : "";
    expect(JSON.parse(printed)).toEqual(COURSE_PRESETS.workshop.parameters);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});
