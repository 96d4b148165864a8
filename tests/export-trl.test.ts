/**
 * `dpo-ts export-trl`: a dpo-ts job exported for TRL trains the same in TRL. `dpo-ts train --config job.yaml` runs a
 * 2-step job on the tiny GPT-2 fixture; `dpo-ts export-trl RUN_DIR` writes the TRL folder; TRL's dpo script
 * (trl/scripts/dpo.py through TrlParser, what `trl dpo --config` runs inside `accelerate launch`; launched directly to
 * spare the accelerate launcher's second Python start on a shared CI machine) trains it for the same 2 steps on CPU;
 * the logged losses agree within 1e-4 relative (step 1: initial weights; step 2: after one update on each side).
 * Exporting the config file itself gives the same folder; orca rows are exported as dpo-ts formats them (ChatML).
 */
import { describe, it, expect, beforeAll } from "vitest";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { main } from "../src/cli/index";
import { loadPreferenceDataset } from "../src/data/dataset";
import { readPreferenceFile } from "../src/data/preferences";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { toYaml } from "../src/train/export-trl";
import { useBackendForTests } from "./helpers/backend";
import { pythonWith } from "./helpers/python";
import { NEEDS, skipUnless } from "./helpers/skip";

const ROOT = path.join(__dirname, "..");
const FIX = path.join(__dirname, "fixtures/hf-tiny");
const python = pythonWith("trl", "torch", "datasets");
const trlCli = python ? path.join(path.dirname(python), "trl") : null;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-export-trl-"));

const quiet = async (argv: string[]) => {
  const log = console.log;
  console.log = () => undefined;
  try {
    await main(argv);
  } finally {
    console.log = log;
  }
};

beforeAll(async () => {
  await useBackendForTests();
});

describe("export-trl", () => {
  const runDir = path.join(tmp, "run");
  const jobFile = path.join(tmp, "job.yaml");

  it("a run folder and its --config file export the same TRL folder: config, data, model, accelerate configs", async () => {
    fs.writeFileSync(
      jobFile,
      toYaml({
        model_name_or_path: path.join(FIX, "gpt2-policy"),
        data: path.join(FIX, "prefs.jsonl"),
        output_dir: runDir,
        learning_rate: 1e-3,
        beta: 0.1,
        max_steps: 2,
        per_device_train_batch_size: 4,
        lr_scheduler_type: "constant",
        logging_steps: 1,
        report_to: "jsonl",
        num_sample_generations: 0,
        write_report: false,
        adam_epsilon: 1e-8,
      }),
    );
    await quiet(["train", "--config", jobFile, "--quiet"]);
    const job = JSON.parse(fs.readFileSync(path.join(runDir, "job.json"), "utf8"));
    expect(job.policy).toBe(path.join(FIX, "gpt2-policy"));
    await quiet(["export-trl", runDir, "--out", path.join(tmp, "from-run"), "--num-processes", "2"]);
    await quiet(["export-trl", jobFile, "--out", path.join(tmp, "from-config"), "--num-processes", "2"]);
    for (const f of [
      "dpo_config.yaml",
      "data/train.jsonl",
      "model/model.safetensors",
      "model/tokenizer.json",
      "accelerate/deepspeed_zero3.yaml",
      "accelerate/fsdp.yaml",
      "launch.sh",
    ]) {
      expect(fs.readFileSync(path.join(tmp, "from-run", f)), f).toEqual(fs.readFileSync(path.join(tmp, "from-config", f)));
    }
    const lines = fs
      .readFileSync(path.join(tmp, "from-run/data/train.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toEqual(readPreferenceFile(path.join(FIX, "prefs.jsonl")).map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected })));
    const yaml = fs.readFileSync(path.join(tmp, "from-run/dpo_config.yaml"), "utf8");
    for (const line of [
      'model_name_or_path: "./model"',
      'dataset_name: "./data"',
      "learning_rate: 0.001",
      'loss_type: ["sigmoid"]',
      "max_steps: 2",
      "per_device_train_batch_size: 4",
      "adam_epsilon: 1.0e-8",
      "bf16: false",
      'eval_strategy: "no"',
    ]) {
      expect(yaml, line).toContain(line + "\n");
    }
    const launch = fs.readFileSync(path.join(tmp, "from-run/launch.sh"), "utf8");
    expect(launch).toContain(
      'accelerate launch --config_file accelerate/deepspeed_zero3.yaml --num_processes "$NUM_PROCESSES" -m trl.scripts.dpo --config dpo_config.yaml --per_device_train_batch_size 2',
    );
    expect(fs.readFileSync(path.join(tmp, "from-run/accelerate/fsdp.yaml"), "utf8")).toContain('distributed_type: "FSDP"\n');
  }, 60_000);

  it.skipIf(skipUnless(python, "comparison with TRL 1.13 run in Python", NEEDS.venv))(
    `TRL trains the exported folder to dpo-ts's losses (1e-4 relative)${python ? "" : " — skipped: .venv lacks trl/torch/datasets"}`,
    () => {
      const dir = path.join(tmp, "from-run");
      const env = {
        ...process.env,
        OMP_NUM_THREADS: "1",
        HF_HUB_OFFLINE: "1",
        HF_DATASETS_OFFLINE: "1",
        CUDA_VISIBLE_DEVICES: "",
        TOKENIZERS_PARALLELISM: "false",
        TQDM_DISABLE: "1",
        HF_DATASETS_DISABLE_PROGRESS_BARS: "1",
      };
      // save_strategy steps: TRL's full-precision log history lands in checkpoint-2/trainer_state.json.
      const r = spawnSync(
        trlCli!,
        ["dpo", "--config", "dpo_config.yaml", "--use_cpu", "true", "--save_strategy", "steps", "--save_steps", "2", "--report_to", "none"],
        { cwd: dir, env, encoding: "utf8" },
      );
      expect(r.status, r.stderr.slice(-3000)).toBe(0);
      const theirs = (
        JSON.parse(fs.readFileSync(path.join(dir, "output/checkpoint-2/trainer_state.json"), "utf8")).log_history as Record<string, number>[]
      ).filter((e) => "loss" in e);
      const ours = fs
        .readFileSync(path.join(runDir, "metrics.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, number>)
        .filter((e) => "loss" in e && !("eval_loss" in e));
      expect(theirs.map((e) => e.step)).toEqual([1, 2]);
      expect(ours.map((e) => e.step)).toEqual([1, 2]);
      for (const i of [0, 1]) {
        expect(Math.abs(ours[i].loss - theirs[i].loss) / theirs[i].loss, `step ${i + 1} loss: dpo-ts ${ours[i].loss}, TRL ${theirs[i].loss}`).toBeLessThan(
          1e-4,
        );
        for (const key of ["logps/chosen", "logps/rejected", "grad_norm"]) {
          expect(Math.abs(ours[i][key] - theirs[i][key]) / Math.abs(theirs[i][key]), `step ${i + 1} ${key}`).toBeLessThan(1e-4);
        }
      }
    },
    240_000,
  );

  it("orca rows are exported in ChatML as dpo-ts trains on them; a separate reference model is refused", async () => {
    const orca = path.join(tmp, "orca.jsonl");
    fs.writeFileSync(orca, fs.readFileSync(path.join(ROOT, "data/orca_dpo_pairs.jsonl"), "utf8").split("\n").slice(0, 3).join("\n") + "\n");
    const tok = path.join(ROOT, "data/sft-model");
    await quiet(["export-trl", jobFile, "--data", orca, "--policy", tok, "--out", path.join(tmp, "orca-out"), "--link-model"]);
    const rows = fs
      .readFileSync(path.join(tmp, "orca-out/data/train.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { prompt: string });
    expect(rows).toEqual(
      (await loadPreferenceDataset(orca, await Tokenizer.fromDir(tok))).map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected })),
    );
    expect(rows[0].prompt).toContain("<|im_start|>user\n");
    expect(fs.readFileSync(path.join(tmp, "orca-out/dpo_config.yaml"), "utf8")).toContain(`model_name_or_path: ${JSON.stringify(tok)}\n`);
    const withLora = path.join(tmp, "lora.yaml");
    fs.writeFileSync(withLora, fs.readFileSync(jobFile, "utf8") + "use_peft: true\nlora_r: 16\nlora_alpha: 16\nlora_target_modules: c_attn,c_proj,c_fc\n");
    await quiet(["export-trl", withLora, "--out", path.join(tmp, "lora-out"), "--link-model"]);
    const loraYaml = fs.readFileSync(path.join(tmp, "lora-out/dpo_config.yaml"), "utf8");
    for (const line of ["use_peft: true", "lora_r: 16", "lora_alpha: 16", 'lora_target_modules: ["c_attn", "c_proj", "c_fc"]'])
      expect(loraYaml, line).toContain(line + "\n");
    const withRef = path.join(tmp, "ref.yaml");
    fs.writeFileSync(withRef, fs.readFileSync(jobFile, "utf8") + `ref: ${JSON.stringify(path.join(FIX, "gpt2-ref"))}\n`);
    await expect(main(["export-trl", withRef, "--out", path.join(tmp, "ref-out")])).rejects.toThrow(
      /reference model is .*gpt2-ref.*TRL's dpo script takes none/,
    );
  }, 60_000);
});
