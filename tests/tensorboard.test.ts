import { describe, it, expect, beforeAll } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { SummaryWriter, crc32c, maskedCrc32c, tensorboardTag, hparamsMarkdown } from "../src/metrics/tensorboard";
import { formatLogLine } from "../src/metrics/logger";
import { NEEDS, skipUnless } from "./helpers/skip";

const PY = path.resolve(__dirname, "../.venv/bin/python");
const READER = path.resolve(__dirname, "helpers/read_tb.py");
const hasTensorboard = fs.existsSync(PY) && spawnSync(PY, ["-c", "import tensorboard"], { encoding: "utf8" }).status === 0;

/** Synthetic DPO log: train metrics every step, eval every 4 steps (TRL names). */
function syntheticLog(): Array<{ step: number; [k: string]: number }> {
  const log: Array<{ step: number; [k: string]: number }> = [];
  for (let step = 1; step <= 12; step++) {
    const c = 0.05 * step + 0.001 * Math.sin(step);
    const r = -0.03 * step;
    log.push({
      step,
      loss: 0.6931 - 0.02 * step,
      grad_norm: 3.25 / step,
      learning_rate: 5e-7 * Math.min(1, step / 3),
      "rewards/chosen": c,
      "rewards/rejected": r,
      "rewards/margins": c - r,
      "rewards/accuracies": Math.min(1, step / 10),
      "logps/chosen": -120.5 - step,
      "logps/rejected": -130.25 - 2 * step,
      "logits/chosen": -2.1e-3 * step,
      epoch: step / 12,
    });
    if (step % 4 === 0) {
      log.push({
        step,
        eval_loss: 0.69 - 0.015 * step,
        "eval_rewards/chosen": 0.04 * step,
        "eval_rewards/margins": 0.07 * step,
        eval_runtime: 1.5,
      });
    }
  }
  return log;
}

describe("CRC32C / TFRecord framing", () => {
  it("matches the standard CRC32C check value and TensorFlow's mask", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    // masked = rotr15(crc) + 0xa282ead8 (mod 2^32)
    const c = 0xe3069283;
    expect(maskedCrc32c(Buffer.from("123456789"))).toBe((((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0);
  });

  it("names tags like transformers' TensorBoardCallback", () => {
    expect(tensorboardTag("loss")).toBe("train/loss");
    expect(tensorboardTag("rewards/chosen")).toBe("train/rewards/chosen");
    expect(tensorboardTag("eval_loss")).toBe("eval/loss");
    expect(tensorboardTag("eval_rewards/margins")).toBe("eval/rewards/margins");
    expect(tensorboardTag("test_loss")).toBe("test/loss");
  });

  it("renders hyperparameters as a markdown table", () => {
    expect(hparamsMarkdown({ beta: 0.1, a: "x|y", n: { k: 1 } })).toBe('| parameter | value |\n|---|---|\n| a | x\\|y |\n| beta | 0.1 |\n| n | {"k":1} |');
  });
});

describe.skipIf(skipUnless(hasTensorboard, "SummaryWriter read back by TensorBoard", NEEDS.tensorboard))(
  "SummaryWriter read back by TensorBoard's EventAccumulator",
  () => {
    let dir: string;
    let out: any;
    const log = syntheticLog();
    const config = { beta: 0.1, learning_rate: 5e-7, loss_type: "sigmoid", model: "tiny-gpt2", max_length: 512 };
    const note = "# Run notes\n\nDPO on **orca** pairs, β = 0.1 — ünïcödé ✓";

    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-tb-"));
      const w = new SummaryWriter(dir);
      expect(path.basename(w.filePath)).toMatch(
        new RegExp(`^events\\.out\\.tfevents\\.\\d{10}\\.${os.hostname().replace(/[.]/g, "\\.")}\\.${process.pid}\\.\\d+$`),
      );
      w.addHparams(config);
      w.addText("notes", note, 3);
      for (const e of log) w.addScalars(e);
      w.addScalar("custom/kl", -0.125, 7);
      w.addScalar("custom/kl", 1e-8, 8);
      w.flush();
      w.close();
      const r = spawnSync(PY, [READER, dir], { encoding: "utf8", maxBuffer: 64 << 20 });
      if (r.status !== 0) throw new Error(`read_tb.py failed: ${r.stderr}`);
      out = JSON.parse(r.stdout);
    }, 120_000);

    it("writes valid TFRecords (CRCs checked independently)", () => {
      expect(out.records).toHaveLength(1);
      expect(out.records[0].crc_ok).toBe(true);
      expect(out.records[0].trailing_ok).toBe(true);
      // file_version + hparams + notes + one event per log entry + 2 custom scalars
      expect(out.records[0].count).toBe(1 + 2 + log.length + 2);
      expect(out.file_version).toBe(2); // EventAccumulator parses "brain.Event:2" to 2.0
    });

    it("every tag, step and value round-trips (float32)", () => {
      const expected = new Map<string, Array<[number, number]>>();
      for (const e of log) {
        for (const [k, v] of Object.entries(e)) {
          if (k === "step") continue;
          const tag = tensorboardTag(k);
          if (!expected.has(tag)) expected.set(tag, []);
          expected.get(tag)!.push([e.step, v]);
        }
      }
      expected.set("custom/kl", [
        [7, -0.125],
        [8, 1e-8],
      ]);
      expect(Object.keys(out.scalars).sort()).toEqual([...expected.keys()].sort());
      expect(Object.keys(out.scalars)).toContain("train/rewards/chosen");
      expect(Object.keys(out.scalars)).toContain("eval/loss");
      for (const [tag, pts] of expected) {
        const got: Array<[number, number, number]> = out.scalars[tag];
        expect(
          got.map((p) => p[0]),
          tag,
        ).toEqual(pts.map((p) => p[0]));
        for (let i = 0; i < pts.length; i++) {
          expect(got[i][2], `${tag}@${pts[i][0]}`).toBe(Math.fround(pts[i][1]));
          expect(Math.abs(got[i][1] - Date.now() / 1000)).toBeLessThan(600); // wall_time in seconds
        }
      }
      // TensorBoard's server-side loader (data_compat) sees the same points under the scalars plugin.
      expect(out.plugins.scalars.sort()).toEqual([...expected.keys()].sort());
      for (const [tag, pts] of expected) {
        expect(out.plugin_scalars[tag]).toEqual(pts.map(([s, v]) => [s, Math.fround(v)]));
      }
    });

    it("text summaries (hparams and notes) are readable by the text plugin", () => {
      expect(Object.keys(out.texts).sort()).toEqual(["args/text_summary", "notes/text_summary"]);
      expect(out.texts["args/text_summary"]).toEqual([[0, hparamsMarkdown(config)]]);
      expect(out.texts["notes/text_summary"]).toEqual([[3, note]]);
      expect(out.plugins.text.sort()).toEqual(["args/text_summary", "notes/text_summary"]);
    });
  },
);

describe("SummaryWriter file handling", () => {
  it("appends synchronously (records are on disk before close) and refuses writes after close", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-tb-"));
    const w = new SummaryWriter(dir);
    const size0 = fs.statSync(w.filePath).size;
    w.addScalar("train/loss", 0.5, 1);
    const size1 = fs.statSync(w.filePath).size;
    expect(size1).toBeGreaterThan(size0);
    w.close();
    expect(() => w.addScalar("train/loss", 0.4, 2)).toThrow(/after close/);
    const w2 = new SummaryWriter(dir);
    expect(w2.filePath).not.toBe(w.filePath);
    w2.close();
    expect(() => new SummaryWriter(dir).addScalar("x", 1, 1.5)).toThrow(/integer/);
  });
});

describe("formatLogLine", () => {
  it("formats a compact console line", () => {
    expect(formatLogLine({ step: 10, loss: 0.651234, "rewards/margins": 0.1234, "rewards/accuracies": 0.75, learning_rate: 5e-7, epoch: 0.5 })).toBe(
      "step 10 | loss 0.6512 | margins 0.1234 | acc 0.75 | lr 5e-7",
    );
    expect(formatLogLine({ step: 20, eval_loss: 0.6, "eval_rewards/accuracies": 1 })).toBe("step 20 | eval loss 0.6 | eval acc 1");
  });
});
