/**
 * The dpo-ts command line, as a user runs it (the built dist/cli/index.js in a child process).
 * `dpo-ts eval` is checked against transformers on checkpoints made fresh by the fixture script with another seed
 * (so not only the shipped fixture), when the venv has torch + transformers.
 */
import { describe, it, expect } from "vitest";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pythonWith } from "./helpers/python";
import { NEEDS, skipUnless } from "./helpers/skip";
import { CLI, ROOT, cliFlags, dpoTs, lastJson, tinyTrainArgs } from "./helpers/cli";
import { TINY as FIX } from "./helpers/fixture";
import { dpoConfigFrom, mergeValues, readConfigFile } from "../src/cli/dpo-options";
import { parseCommandLine } from "../src/cli/framework";
import { DEFAULT_DPO_CONFIG } from "../src/train/config";
import { trainOptions } from "../src/cli/train";
import { METRIC_NAMES } from "../src/train/step";

function expectMetrics(got: Record<string, number>, want: Record<string, number>): void {
  for (const key of METRIC_NAMES) {
    expect(Math.abs(got[key] - want[key]) / Math.max(1, Math.abs(want[key])), `${key}: ${got[key]} vs ${want[key]}`).toBeLessThan(1e-4);
  }
}

/** --policy, --ref and --data of a fixture folder (the shipped one, or one made fresh by make_fixtures.py). */
function fixtureFolders(dir: string): string[] {
  return cliFlags({ policy: path.join(dir, "gpt2-policy"), ref: path.join(dir, "gpt2-ref"), data: path.join(dir, "prefs.jsonl") });
}

describe("dpo-ts CLI", () => {
  it("eval --json prints transformers' metrics for the shipped fixture", () => {
    const expected = JSON.parse(fs.readFileSync(path.join(FIX, "expected.json"), "utf8"));
    const run = dpoTs("eval", ...fixtureFolders(FIX), "--beta", "0.5", "--json");
    expect(run.status, run.stderr).toBe(0);
    expectMetrics(lastJson(run.stdout), expected.models.gpt2.metrics["sigmoid_beta0.5_ls0.0"]);
  });

  const python = pythonWith("torch", "transformers", "tokenizers");
  it.skipIf(skipUnless(python, "dpo-ts eval against transformers on fresh checkpoints", NEEDS.torch))(
    "eval matches transformers on GPT-2 checkpoints made fresh with another seed",
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-fresh-fixture-"));
      const made = spawnSync(python!, [path.join(FIX, "../make_fixtures.py"), dir], { encoding: "utf8", env: { ...process.env, FIXTURE_SEED: "2024" } });
      expect(made.status, made.stderr).toBe(0);
      const expected = JSON.parse(fs.readFileSync(path.join(dir, "expected.json"), "utf8"));
      for (const [key, flags] of [
        ["sigmoid_beta0.1_ls0.0", []],
        ["hinge_beta0.1_ls0.0", ["--loss", "hinge"]],
        ["robust_beta0.1_ls0.1", ["--loss", "robust", "--label-smoothing", "0.1"]],
      ] as [string, string[]][]) {
        const run = dpoTs("eval", ...fixtureFolders(dir), ...flags, "--json");
        expect(run.status, run.stderr).toBe(0);
        expectMetrics(lastJson(run.stdout), expected.models.gpt2.metrics[key]);
      }
      const gen = dpoTs(
        "generate",
        "--model",
        path.join(dir, "gpt2-policy"),
        "--prompt",
        JSON.parse(fs.readFileSync(path.join(dir, "prefs.jsonl"), "utf8").split("\n")[0]).prompt,
        "--max-new-tokens",
        "12",
        "--json",
      );
      expect(gen.status, gen.stderr).toBe(0);
      // transformers generated without an EOS stop; ours stops at EOS, so compare up to the first EOS.
      const want: number[] = expected.models.gpt2.greedy_policy_prompt0_12_tokens;
      const eos = want.indexOf(expected.eos_id);
      expect(lastJson(gen.stdout).tokens).toEqual(eos >= 0 ? want.slice(0, eos + 1) : want);
    },
  );

  it("train writes metrics.jsonl with TRL names and a final/ folder that eval and generate load", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-cli-train-"));
    const run = dpoTs(
      ...tinyTrainArgs({ ref: path.join(FIX, "gpt2-ref"), out, steps: 3, "batch-size": 4, lr: "1e-3", scheduler: "constant", "logging-steps": 1, json: true }),
    );
    expect(run.status, run.stderr).toBe(0);
    const logs = fs
      .readFileSync(path.join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(logs.map((l) => l.step)).toEqual([1, 2, 3]);
    expect(Object.keys(logs[0])).toEqual(
      expect.arrayContaining(["loss", "rewards/chosen", "rewards/margins", "rewards/accuracies", "grad_norm", "learning_rate"]),
    );
    expect(logs[2].loss).toBeLessThan(logs[0].loss);
    const gen = dpoTs("generate", "--model", path.join(out, "final"), "--prompt", "The lazy dog", "--max-new-tokens", "5", "--json");
    expect(gen.status, gen.stderr).toBe(0);
    const result = lastJson(gen.stdout);
    expect(typeof result.text).toBe("string");
    expect(result.tokens.length).toBeGreaterThan(0);
  });

  it("generate prints text without special tokens unless --keep-special-tokens", () => {
    const args = [
      "generate",
      "--model",
      path.join(ROOT, "data/sft-model"),
      "--prompt",
      "What is the capital of France?",
      "--chat",
      "--max-new-tokens",
      "96", // room for the SFT model's habit of rambling to its end of turn
      "--json",
    ];
    const plain = lastJson(dpoTs(...args).stdout);
    const kept = lastJson(dpoTs(...args, "--keep-special-tokens").stdout);
    expect(plain.finish_reason).toBe("stop");
    expect(kept.tokens).toEqual(plain.tokens);
    expect(plain.text).not.toContain("<|im_end|>");
    expect(kept.text).toBe(plain.text + "<|im_end|>");
  });

  it("train --compile-step follows the eager run on the native backend, and is refused clearly elsewhere", () => {
    const args = (out: string) =>
      tinyTrainArgs({ ref: path.join(FIX, "gpt2-ref"), out, steps: 4, "batch-size": 2, lr: "1e-3", "logging-steps": 1, json: true });
    const compiledOut = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-cli-compiled-"));
    const compiled = dpoTs(...args(compiledOut), "--compile-step", "--pad-to-multiple-of", "16");
    if (compiled.status !== 0) {
      expect(compiled.stderr).toMatch(/option "compileStep" needs the native "tensorflow" backend; the active backend is "(wasm|cpu|webgpu)"/);
      return;
    }
    const eagerOut = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-cli-eager-"));
    const eager = dpoTs(...args(eagerOut), "--pad-to-multiple-of", "16");
    expect(eager.status, eager.stderr).toBe(0);
    const read = (dir: string) =>
      fs
        .readFileSync(path.join(dir, "metrics.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
    const [c, e] = [read(compiledOut), read(eagerOut)];
    expect(c.map((l) => l.step)).toEqual([1, 2, 3, 4]);
    c.forEach((entry, i) => expectMetrics(entry, e[i]));
    const results = JSON.parse(fs.readFileSync(path.join(compiledOut, "train_results.json"), "utf8"));
    expect(results.compiled_graphs).toBeGreaterThanOrEqual(1);
    expect(results.compiled_graphs).toBeLessThan(4);
  });

  it("train --config FILE.json takes the same keys; bad input names the file, row and field", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-cli-config-"));
    const config = path.join(out, "config.json");
    fs.writeFileSync(
      config,
      JSON.stringify({
        policy: path.join(FIX, "gpt2-policy"),
        data: path.join(FIX, "prefs.jsonl"),
        out,
        steps: 1,
        "batch-size": 2,
        lr: 1e-4,
        "logging-steps": 1,
      }),
    );
    const ok = dpoTs("train", "--config", config, "--json");
    expect(ok.status, ok.stderr).toBe(0);
    expect(fs.existsSync(path.join(out, "final/model.safetensors"))).toBe(true);
    const bad = path.join(out, "bad.jsonl");
    fs.writeFileSync(bad, '{"prompt": "a", "chosen": "b", "rejected": "c"}\n{"prompt": "a", "chosen": 3, "rejected": "c"}\n');
    const failed = dpoTs("eval", "--policy", path.join(FIX, "gpt2-policy"), "--data", bad, "--json");
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/bad\.jsonl:2: field "chosen"/);
    const unknown = dpoTs("train", "--policy", path.join(FIX, "gpt2-policy"), "--data", path.join(FIX, "prefs.jsonl"), "--out", out, "--bogus", "1");
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/^dpo-ts train: unknown option "--bogus"/m);
  });

  it("train without --out makes runs/<name> the run folder; report and compare rebuild their pages", () => {
    const name = `cli-test-${process.pid}`;
    const runDir = path.join(ROOT, "runs", name);
    const other = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-cli-compare-"));
    try {
      const run = dpoTs(...tinyTrainArgs({ name, steps: 2, "batch-size": 4, "logging-steps": 1, json: true }));
      expect(run.status, run.stderr).toBe(0);
      for (const f of ["metrics.jsonl", "config.json", "report.html", "samples.json", "final/model.safetensors"])
        expect(fs.existsSync(path.join(runDir, f)), f).toBe(true);
      expect(fs.readdirSync(runDir).some((f) => f.startsWith("events.out.tfevents."))).toBe(true);
      fs.rmSync(path.join(runDir, "report.html"));
      const report = dpoTs("report", runDir);
      expect(report.status, report.stderr).toBe(0);
      expect(fs.readFileSync(path.join(runDir, "report.html"), "utf8")).toContain("Implicit KL to reference");
      const second = dpoTs(...tinyTrainArgs({ out: other, beta: 0.5, steps: 2, "batch-size": 4, "logging-steps": 1, json: true }));
      expect(second.status, second.stderr).toBe(0);
      const page = path.join(other, "compare.html");
      const compare = dpoTs("compare", runDir, other, "--out", page);
      expect(compare.status, compare.stderr).toBe(0);
      const html = fs.readFileSync(page, "utf8");
      expect(html).toContain(name);
      expect(html).toContain(path.basename(other));
      expect(html).toContain("rewards/margins");
    } finally {
      fs.rmSync(runDir, { recursive: true, force: true });
    }
  });
});

/** Cheap invocations only: help, version and validation errors never load a model or train. */
describe("dpo-ts CLI is strict", () => {
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version;
  const COMMANDS = ["train", "eval", "generate", "sft", "serve", "course", "kernel", "bench", "judge", "report", "compare"];

  it("--version prints package.json's version, at the top and on every command", () => {
    for (const args of [["--version"], ["train", "--version"], ["serve", "--version"]]) {
      const run = dpoTs(...args);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout.trim()).toBe(`dpo-ts ${version}`);
    }
  });

  it("every command's --help prints its generated usage and does nothing else", () => {
    const top = dpoTs("--help");
    expect(top.status).toBe(0);
    for (const c of COMMANDS) expect(top.stdout).toMatch(new RegExp(`^  ${c} `, "m"));
    const runsBefore = fs.existsSync(path.join(ROOT, "runs/course")) ? fs.statSync(path.join(ROOT, "runs/course")).mtimeMs : null;
    for (const c of COMMANDS) {
      const started = Date.now();
      const run = dpoTs(c, "--help");
      expect(run.status, `${c}: ${run.stderr}`).toBe(0);
      expect(run.stderr, c).toBe("");
      expect(run.stdout, c).toMatch(new RegExp(`^usage: dpo-ts ${c}`));
      expect(run.stdout, c).toContain("--help");
      expect(Date.now() - started, `${c} --help must not start work`).toBeLessThan(10_000);
    }
    // course --help did not run the course
    const runsAfter = fs.existsSync(path.join(ROOT, "runs/course")) ? fs.statSync(path.join(ROOT, "runs/course")).mtimeMs : null;
    expect(runsAfter).toBe(runsBefore);
    const helpAfterMistake = dpoTs("train", "--steps", "2.5", "--bogus", "--help");
    expect(helpAfterMistake.status, helpAfterMistake.stderr).toBe(0);
    expect(helpAfterMistake.stdout).toMatch(/^usage: dpo-ts train/);
    expect(dpoTs("help", "serve").stdout).toMatch(/^usage: dpo-ts serve/);
    const train = dpoTs("train", "--help").stdout;
    // Every DPOConfig knob is a kebab-case option, the short names are aliases beside it.
    for (const flag of [
      "--learning-rate, --lr X",
      "--max-steps, --steps N",
      "--per-device-train-batch-size, --batch-size N",
      "--loss-type, --loss",
      "--label-smoothing X",
      "--save-steps N",
      "--precompute-ref-log-probs, --precompute-ref",
      "--no-write-report",
      "--config FILE",
    ]) {
      expect(train).toContain(flag);
    }
    const { DEFAULT_DPO_CONFIG } = require("../dist/train/config");
    for (const knob of Object.keys(DEFAULT_DPO_CONFIG)) expect(train).toContain(`--${knob.replace(/[A-Z]/g, (c: string) => "-" + c.toLowerCase())}`);
  });

  it("refuses bad values naming the option: exit 1, `dpo-ts <command>: …`, no stack trace", () => {
    const cases: [string[], RegExp][] = [
      [["train", "--steps", "2.5"], /^dpo-ts train: --steps must be a positive whole number, got "2\.5"$/],
      [["train", "--steps", "-1"], /^dpo-ts train: --steps must be a positive whole number \(> 0\), got "-1"$/],
      [["train", "--steps", "0"], /^dpo-ts train: --steps must be a positive whole number \(> 0\), got "0"$/],
      [["train", "--batch-size", "1.5"], /^dpo-ts train: --batch-size must be a positive whole number, got "1\.5"$/],
      [["train", "--lr", "fast"], /^dpo-ts train: --lr must be a number, got "fast"$/],
      [["train", "--lr", "-1"], /^dpo-ts train: --lr must be ≥ 0$/],
      [["train", "--loss", "nope"], /^dpo-ts train: --loss must be one of sigmoid, .*got "nope"$/],
      [["train", "--lr", "1e-5", "--learning-rate", "1e-6"], /^dpo-ts train: --lr and --learning-rate are the same option; give one$/],
      [["train", "--json=yes"], /^dpo-ts train: --json is a flag and takes no value$/],
      [["train", "--precompute-ref-log-probs", "true"], /^dpo-ts train: --precompute-ref-log-probs is a flag and takes no value \(got "true"\)$/],
      [["train", "--steps"], /^dpo-ts train: --steps needs a value$/],
      [["train"], /^dpo-ts train: --policy is required/],
      [
        ["generate", "--model", "m", "--prompt", "p", "--max-new-tokens", "1.5"],
        /^dpo-ts generate: --max-new-tokens must be a positive whole number, got "1\.5"$/,
      ],
      [["generate", "--tempreature", "1"], /^dpo-ts generate: unknown option "--tempreature"/],
      [["serve", "--prot", "8000"], /^dpo-ts serve: unknown option "--prot"/],
      [["serve", "--model", "m", "--host", "0.0.0.0"], /^dpo-ts serve: refusing to listen on 0\.0\.0\.0 without an API key: .*--allow-unauthenticated/],
      [["serve", "--model", "m", "--port", "80.5"], /^dpo-ts serve: --port must be a whole number, got "80\.5"$/],
      [["course", "--steps", "0"], /^dpo-ts course: --steps must be a positive whole number \(> 0\), got "0"$/],
      [["bench", "--batch-size", "2.5"], /^dpo-ts bench: --batch-size must be a positive whole number, got "2\.5"$/],
      [["sft", "--data", "d", "--out", "o", "--model", "m", "--steps", "-3"], /^dpo-ts sft: --steps must be a positive whole number \(> 0\), got "-3"$/],
      [["kernel", "remove"], /^dpo-ts kernel: unknown subcommand "remove"/],
      [["report"], /^dpo-ts report: give one run folder/],
      [["eval", "--policy", "p", "--data", "d", "stray"], /^dpo-ts eval: unexpected argument "stray"/],
      [["frobnicate"], /^dpo-ts: unknown command "frobnicate"/],
    ];
    for (const [args, want] of cases) {
      const run = dpoTs(...args);
      expect(run.status, args.join(" ")).toBe(1);
      expect(run.stderr.trim(), args.join(" ")).toMatch(want);
      expect(run.stderr, args.join(" ")).not.toMatch(/\n\s+at /);
    }
    const debug = spawnSync(process.execPath, [CLI, "train", "--steps", "0"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, DPO_DEBUG: "1" } });
    expect(debug.status).toBe(1);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it("--config reads a TRL DPOConfig YAML unchanged: snake_case names, infra keys noted, unknown keys refused by line", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-cli-yaml-"));
    const yaml = path.join(dir, "dpo.yaml");
    fs.writeFileSync(
      yaml,
      [
        "# a TRL user's config",
        "model_name_or_path: m",
        "learning_rate: 5.0e-7",
        "per_device_train_batch_size: 2",
        "max_steps: -1",
        "lr_scheduler_type: cosine",
        "bf16: true",
        "report_to:",
        "  - wandb",
        "  - tensorboard",
        "num_train_epochs: 1.5",
        "",
      ].join("\n"),
    );
    // The command line wins over the file: --batch-size 1.5 is refused although the file's value is fine.
    const run = dpoTs("train", "--config", yaml, "--batch-size", "1.5");
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`dpo-ts train: ${yaml}:7: ignoring TRL option "bf16"`);
    expect(run.stderr).toContain(`dpo-ts train: ${yaml}:8: ignoring report_to wandb`);
    expect(run.stderr).toMatch(/dpo-ts train: --batch-size must be a positive whole number, got "1\.5"/);
    // File values are checked too, named by file, line and key.
    const noData = dpoTs("train", "--config", yaml);
    expect(noData.stderr.trim().split("\n").pop()).toBe("dpo-ts train: --data is required (see --help)");
    fs.writeFileSync(yaml, "learning_rate: 1e-6\nlerning_rate: 0.5\n");
    const unknown = dpoTs("train", "--config", yaml);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(new RegExp(`^dpo-ts train: ${yaml.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:2: lerning_rate: unknown option`));
    fs.writeFileSync(yaml, "rpo_alpha: 1\n");
    expect(dpoTs("train", "--config", yaml).stderr).toMatch(/dpo\.yaml:1: rpo_alpha: RPO is loss_type \[sigmoid, sft\]/);
    fs.writeFileSync(yaml, "optim: adamw_torch\ndeepspeed: ds.json\n");
    expect(dpoTs("train", "--config", yaml).stderr).toMatch(
      /dpo\.yaml:1: optim "adamw_torch": dpo-ts runs its own AdamW[^]*dpo\.yaml:2: deepspeed: dpo-ts trains on one device: no DeepSpeed/,
    );
    fs.writeFileSync(yaml, "per_device_train_batch_size: 2.5\n");
    expect(dpoTs("train", "--config", yaml).stderr).toMatch(/dpo\.yaml:1: per_device_train_batch_size must be a positive whole number, got 2\.5/);
    const json = path.join(dir, "dpo.json");
    fs.writeFileSync(json, '{\n  "beta": 0.1,\n  "max_steps": "many"\n}\n');
    expect(dpoTs("train", "--config", json).stderr).toMatch(/dpo\.json:3: max_steps must be a (positive )?whole number, got "many"/);
  });

  it("maps options to DPOConfig: aliases, lists, --no-<knob>, and --resume with or without a folder", () => {
    const config = (...argv: string[]) => {
      const { values } = parseCommandLine({ options: trainOptions }, argv);
      return dpoConfigFrom(mergeValues(values, trainOptions), trainOptions) as Record<string, unknown>;
    };
    expect(config("--lr", "3e-4", "--steps", "7", "--batch-size", "2", "--precompute-ref", "--no-write-report", "--loss", "hinge")).toEqual({
      learningRate: 3e-4,
      maxSteps: 7,
      perDeviceTrainBatchSize: 2,
      precomputeRefLogProbs: true,
      writeReport: false,
      lossType: ["hinge"],
    });
    expect(config("--loss", "sigmoid,sft").lossType).toEqual(["sigmoid", "sft"]);
    expect(() => config("--loss", "sigmoid,,sft")).toThrow('--loss must be a comma-separated list without empty items, got "sigmoid,,sft"');
    expect(() => config("--write-report", "--no-write-report")).toThrow("--no-write-report contradicts --write-report");
    if ("lossWeights" in DEFAULT_DPO_CONFIG) expect(config("--loss-weights", "1,0.5").lossWeights).toEqual([1, 0.5]);
    // A command file may key its table in camelCase: the flag is kebab-case, the value keeps the table's key.
    const camelTable = { maxLength: { type: "string" as const, description: "" }, dryRun: { type: "boolean" as const, description: "" } };
    expect(parseCommandLine({ options: camelTable }, ["--max-length", "9", "--dry-run"]).values).toMatchObject({ maxLength: "9", dryRun: true });
    expect(() => parseCommandLine({ options: camelTable }, ["--maxLength", "9"])).toThrow('unknown option "--maxLength"');
    // util.parseArgs has no optional values: `--resume` alone is the newest checkpoint, `--resume DIR` that one.
    const table = { resume: { type: "string" as const, impliedValue: "true", description: "" }, json: { type: "boolean" as const, description: "" } };
    expect(parseCommandLine({ options: table }, ["--resume"]).values.resume).toBe("true");
    expect(parseCommandLine({ options: table }, ["--resume", "--json"]).values).toMatchObject({ resume: "true", json: true });
    expect(parseCommandLine({ options: table }, ["--resume", "runs/x/checkpoint-20"]).values.resume).toBe("runs/x/checkpoint-20");
    if ("resumeFromCheckpoint" in DEFAULT_DPO_CONFIG) {
      expect(config("--resume").resumeFromCheckpoint).toBe(true);
      expect(config("--resume", "runs/x/checkpoint-20", "--json").resumeFromCheckpoint).toBe("runs/x/checkpoint-20");
    }
  });

  const trl = pythonWith("trl");
  it.skipIf(skipUnless(trl, "TRL YAML parsed by TRL and by dpo-ts", NEEDS.venv))(
    "a YAML that `trl dpo --config` accepts gives dpo-ts the same settings (TRL's own parser as the reference)",
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-cli-trl-yaml-"));
      const yaml = path.join(dir, "dpo.yaml");
      fs.writeFileSync(
        yaml,
        [
          "model_name_or_path: models/policy",
          "dataset_name: data/prefs.jsonl",
          "output_dir: runs/from-trl",
          "learning_rate: 5.0e-7",
          "per_device_train_batch_size: 2",
          "per_device_eval_batch_size: 3",
          "gradient_accumulation_steps: 4",
          "max_steps: -1",
          "num_train_epochs: 2",
          "beta: 0.25",
          "loss_type: ipo",
          "label_smoothing: 0",
          "lr_scheduler_type: cosine",
          "warmup_steps: 3",
          "logging_steps: 5",
          "seed: 7",
          "max_length: 200",
          "max_grad_norm: 0.5",
          "weight_decay: 0.01",
          "gradient_checkpointing: true",
          "precompute_ref_log_probs: true",
          "bf16: true",
          "use_cpu: true",
          "report_to:",
          "  - wandb",
          "  - tensorboard",
          "push_to_hub: false",
          "",
        ].join("\n"),
      );
      const script = [
        "import json, sys",
        "from trl import DPOConfig, ModelConfig, ScriptArguments, TrlParser",
        "s, c, m = TrlParser((ScriptArguments, DPOConfig, ModelConfig)).parse_args_and_config(['--config', sys.argv[1]])",
        "keys = ['output_dir', 'learning_rate', 'per_device_train_batch_size', 'per_device_eval_batch_size', 'gradient_accumulation_steps', 'max_steps', 'num_train_epochs', 'beta', 'loss_type', 'label_smoothing', 'lr_scheduler_type', 'warmup_steps', 'logging_steps', 'seed', 'max_length', 'max_grad_norm', 'weight_decay', 'gradient_checkpointing', 'precompute_ref_log_probs', 'report_to']",
        "out = {k: getattr(c, k) for k in keys}",
        "out['lr_scheduler_type'] = str(getattr(c.lr_scheduler_type, 'value', c.lr_scheduler_type))",
        "print(json.dumps({'config': out, 'model': m.model_name_or_path, 'data': s.dataset_name}))",
      ].join("\n");
      const ran = spawnSync(trl!, ["-c", script, yaml], { encoding: "utf8", cwd: dir });
      expect(ran.status, ran.stderr).toBe(0);
      const want = JSON.parse(ran.stdout.trim().split("\n").pop()!);
      const notes: string[] = [];
      const entries = readConfigFile(yaml, trainOptions, (n) => notes.push(n));
      expect(notes.join("\n")).toMatch(
        /ignoring TRL option "bf16"[^]*ignoring TRL option "use_cpu"[^]*ignoring report_to wandb[^]*ignoring TRL option "push_to_hub"/,
      );
      const merged = mergeValues({}, trainOptions, entries);
      expect(merged.get("policy")?.value).toBe(want.model);
      expect(merged.get("data")?.value).toBe(want.data);
      const got = dpoConfigFrom(merged, trainOptions) as Record<string, unknown>;
      const asList = (v: unknown) => ([] as unknown[]).concat(v);
      for (const [trlKey, value] of Object.entries(want.config as Record<string, unknown>)) {
        const knob = trlKey.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
        if (trlKey === "report_to") expect(asList(got[knob]), trlKey).toEqual(asList(value).filter((x) => x !== "wandb"));
        else if (trlKey === "loss_type") expect(asList(got[knob]), trlKey).toEqual(asList(value));
        else expect(got[knob], trlKey).toEqual(value);
      }
    },
    60_000,
  );
});
