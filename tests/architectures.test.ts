/**
 * Llama, Mistral and Qwen2 against transformers: the committed tiny Llama fixture (tests/fixtures/hf-tiny/llama-*,
 * expected.json by transformers) and random tiny Mistral (sliding window shorter than the sequences), Qwen2
 * (q/k/v biases, tied head, sliding layers) and Llama variants (llama3 / linear rope, old-style rope_theta +
 * rope_scaling, attention and MLP biases, tied head) that tests/helpers/make_tiny_models.py makes with
 * transformers in the venv: logits, per-pair log-probs, greedy generation with the KV cache, metrics, and the
 * 5-step DPO curve of TRL.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { spawnSync } from "child_process";
import * as tf from "@tensorflow/tfjs";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadModelFromDir, CausalLM } from "../src/model/io";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { readPreferenceFile } from "../src/data/preferences";
import { DPOTrainer, LogEntry } from "../src/train/trainer";
import type { DPOConfigInput } from "../src/train/config";
import { collatePairs, disposeBatch } from "../src/train/batch";
import { completionLogps } from "../src/train/logps";
import { generate } from "../src/model/generate";
import { ContinuousBatcher } from "../src/serve/batcher";
import { useBackendForTests } from "./helpers/backend";
import { pythonWith } from "./helpers/python";
import { compareToTrl, curveTrainerArgs, trlCurveArgs } from "./helpers/trl-compare";
import { NEEDS, skipUnless } from "./helpers/skip";
import { expectPerPairLogps } from "./helpers/fixture";

const ROOT = path.join(__dirname, "..");
const FIX = path.join(__dirname, "fixtures/hf-tiny");
const expected = JSON.parse(fs.readFileSync(path.join(FIX, "expected.json"), "utf8"));
const rows = readPreferenceFile(path.join(FIX, "prefs.jsonl"));
const pythonTransformers = pythonWith("torch", "transformers");
const pythonTrl = pythonWith("torch", "transformers", "trl");

function relClose(got: number, want: number, tol = 1e-4, what = ""): void {
  expect(Math.abs(got - want) / Math.max(1, Math.abs(want)), `${what} got ${got}, want ${want}`).toBeLessThan(tol);
}

beforeAll(async () => {
  await useBackendForTests();
});

/** Summed completion log-probs of every pair under a model: [chosen…, rejected…]. */
async function pairLogps(model: CausalLM, tokenizer: Tokenizer): Promise<number[]> {
  const trainer = new DPOTrainer({ model, refModel: model, tokenizer, trainDataset: rows });
  const batch = collatePairs(trainer.trainPairs, tokenizer.padTokenId);
  const logps = tf.tidy(() => completionLogps(model, batch).logps.arraySync() as number[]);
  disposeBatch(batch);
  trainer.dispose();
  return logps;
}

/** dpo-ts's 5 logged steps of DPO (full batch, constant LR 1e-3, clipping at 1) on a policy folder. */
async function ourCurve(policyDir: string, refDir: string | null, extra: DPOConfigInput = {}): Promise<LogEntry[]> {
  const tokenizer = await Tokenizer.fromDir(FIX + "/llama-policy");
  const model = loadModelFromDir(policyDir);
  const refModel = refDir ? loadModelFromDir(refDir, { trainable: false }) : undefined;
  const trainer = new DPOTrainer({
    model,
    refModel,
    tokenizer,
    trainDataset: rows,
    args: curveTrainerArgs(fs.mkdtempSync(path.join(os.tmpdir(), "dpo-arch-")), rows.length, extra),
  });
  await trainer.train();
  const logs = trainer.state.logHistory;
  trainer.dispose();
  model.dispose();
  refModel?.dispose();
  return logs;
}

describe("Llama fixture (transformers' LlamaForCausalLM, GQA 4/2 heads)", () => {
  it("first logits of prompt 0 within 1e-4", () => {
    const model = loadModelFromDir(path.join(FIX, "llama-policy"));
    const ids: number[] = expected.ids[0].prompt;
    const got = tf.tidy(
      () =>
        model
          .forward(tf.tensor2d([ids], [1, ids.length], "int32"))
          .logits.slice([0, 0, 0], [1, 3, 8])
          .arraySync() as number[][][],
    )[0];
    const want: number[][] = expected.models.llama.first_logits_prompt0_pos0to2_vocab0to7;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 8; j++) expect(Math.abs(got[i][j] - want[i][j])).toBeLessThan(1e-4);
    model.dispose();
  });

  it("per-pair log-probs of policy and reference within 1e-4, and every metric", async () => {
    const tokenizer = await Tokenizer.fromDir(path.join(FIX, "llama-policy"));
    const policy = loadModelFromDir(path.join(FIX, "llama-policy"));
    const reference = loadModelFromDir(path.join(FIX, "llama-ref"), { trainable: false });
    const [pol, ref] = [await pairLogps(policy, tokenizer), await pairLogps(reference, tokenizer)];
    expectPerPairLogps(pol, ref, expected.models.llama.metrics["sigmoid_beta0.1_ls0.0"].per_pair);
    for (const key of ["sigmoid_beta0.1_ls0.0", "hinge_beta0.1_ls0.0", "sigmoid_beta0.1_ls0.1"]) {
      const [, lossType, beta, ls] = /^(\w+)_beta([\d.]+)_ls([\d.]+)$/.exec(key)!;
      const trainer = new DPOTrainer({
        model: policy,
        refModel: reference,
        tokenizer,
        trainDataset: rows,
        args: { lossType: lossType as "sigmoid", beta: Number(beta), labelSmoothing: Number(ls) },
      });
      const got = await trainer.computeMetrics(trainer.trainPairs, rows.length);
      for (const name of Object.keys(got)) relClose(got[name], expected.models.llama.metrics[key][name], 1e-4, `${key} ${name}`);
      trainer.dispose();
    }
    policy.dispose();
    reference.dispose();
  });

  it("greedy 12 tokens equal transformers' generate (GQA KV cache)", async () => {
    const model = loadModelFromDir(path.join(FIX, "llama-policy"));
    const before = tf.memory().numTensors;
    const out = await generate(model, expected.ids[0].prompt, { maxNewTokens: 12, eosTokenId: null });
    expect(out.tokens).toEqual(expected.models.llama.greedy_policy_prompt0_12_tokens);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it("the server's continuous batching (left padding, position ids, GQA caches joined) gives generate()'s tokens", async () => {
    const model = loadModelFromDir(path.join(FIX, "llama-policy"), { trainable: false });
    const prompts: number[][] = expected.ids.map((p: { prompt: number[] }) => p.prompt);
    const before = tf.memory().numTensors;
    const batcher = new ContinuousBatcher(model, { contextLength: model.config.nPositions, maxBatchSize: 3 });
    const base = { temperature: 0, topP: 1, topK: 0, seed: 0, stopIds: [] };
    const lengths = [12, 5, 9, 7];
    const results = await Promise.all(prompts.map((p, i) => batcher.submit({ ...base, promptIds: p, maxNewTokens: lengths[i] }).result));
    for (let i = 0; i < prompts.length; i++) {
      expect(results[i].tokens).toEqual((await generate(model, prompts[i], { maxNewTokens: lengths[i], eosTokenId: null })).tokens);
    }
    await batcher.close(); // frees the weight transposes it keeps across requests (wasm)
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it("gradient checkpointing gives the same gradients", () => {
    const model = loadModelFromDir(path.join(FIX, "llama-policy"));
    const ids = tf.tensor2d([expected.ids[0].prompt], undefined, "int32");
    const grads = (checkpoint: boolean) => {
      const { grads } = tf.variableGrads(
        () => model.hiddenStates(ids, { gradientCheckpointing: checkpoint }).square().mean() as tf.Scalar,
        model.trainableVariables(),
      );
      const out = Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, g.dataSync().slice()]));
      tf.dispose(Object.values(grads));
      return out;
    };
    const plain = grads(false);
    const checkpointed = grads(true);
    expect(Object.keys(checkpointed).sort()).toEqual(Object.keys(plain).sort());
    for (const key of Object.keys(plain)) {
      const a = plain[key],
        b = checkpointed[key];
      let diff = 0;
      for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
      expect(diff, key).toBeLessThan(1e-6);
    }
    ids.dispose();
    model.dispose();
  });

  it("5-step DPO curve within 1e-3 of TRL's (recorded: bench/reference/trl_llama_tiny_lr1e-3.json)", async () => {
    const trl = JSON.parse(fs.readFileSync(path.join(ROOT, "bench/reference/trl_llama_tiny_lr1e-3.json"), "utf8"));
    compareToTrl(await ourCurve(path.join(FIX, "llama-policy"), path.join(FIX, "llama-ref"), { beta: 0.1 }), trl.logs, "recorded");
  });

  it("refuses an unsupported model_type, naming it and the supported ones", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-arch-bad-"));
    const config = JSON.parse(fs.readFileSync(path.join(FIX, "llama-policy/config.json"), "utf8"));
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...config, model_type: "falcon" }));
    expect(() => loadModelFromDir(dir)).toThrow(
      /config\.json: field "model_type" is "falcon"; dpo-ts supports "gpt2" \(GPT2LMHeadModel\), "llama" \(LlamaForCausalLM\), "mistral" \(MistralForCausalLM\), "qwen2" \(Qwen2ForCausalLM\)/,
    );
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...config, rope_parameters: { rope_type: "yarn", rope_theta: 1e4, factor: 2 } }));
    expect(() => loadModelFromDir(dir)).toThrow(/rope type "yarn" is not supported \(supported: default, linear, llama3\)/);
  });
});

describe.skipIf(skipUnless(pythonTransformers, "tiny Mistral, Qwen2, Llama variants made by transformers", NEEDS.torch))(
  `random tiny Mistral, Qwen2, Llama variants made by transformers${pythonTransformers ? "" : " (skipped: the venv lacks torch/transformers)"}`,
  () => {
    let dir = "";
    let made: Record<
      string,
      { logits_prompt0: number[][]; per_pair: { chosen: number; rejected: number }[]; greedy_prompt0_12_tokens: number[]; sequence_lengths: number[] }
    >;
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-tiny-models-"));
      const run = spawnSync(pythonTransformers!, [path.join(__dirname, "helpers/make_tiny_models.py"), dir], { encoding: "utf8" });
      if (run.status !== 0) throw new Error(`make_tiny_models.py failed:\n${run.stderr.slice(-3000)}`);
      made = JSON.parse(fs.readFileSync(path.join(dir, "expected.json"), "utf8")).models;
    }, 120_000);

    for (const name of ["mistral", "qwen2", "llama-llama3", "llama-linear"]) {
      it(`${name}: logits at every position within 1e-4, per-pair log-probs within 1e-4, greedy tokens identical`, async () => {
        const model = loadModelFromDir(path.join(dir, name));
        const want = made[name];
        if (name === "mistral") expect(Math.min(...want.sequence_lengths)).toBeGreaterThan(5); // the window is shorter than every sequence
        const ids: number[] = expected.ids[0].prompt;
        const logits = tf.tidy(() => model.forward(tf.tensor2d([ids], undefined, "int32")).logits.arraySync() as number[][][])[0];
        let worst = 0;
        logits.forEach((row, t) => row.forEach((x, v) => (worst = Math.max(worst, Math.abs(x - want.logits_prompt0[t][v])))));
        expect(worst).toBeLessThan(1e-4);
        const logps = await pairLogps(model, await Tokenizer.fromDir(path.join(dir, name)));
        want.per_pair.forEach((pair, i) => {
          relClose(logps[i], pair.chosen, 1e-4, `${name} pair ${i} chosen`);
          relClose(logps[rows.length + i], pair.rejected, 1e-4, `${name} pair ${i} rejected`);
        });
        const before = tf.memory().numTensors;
        const out = await generate(model, ids, { maxNewTokens: 12, eosTokenId: null });
        expect(out.tokens).toEqual(want.greedy_prompt0_12_tokens);
        expect(tf.memory().numTensors).toBe(before);
        model.dispose();
      });
    }

    for (const name of ["mistral", "qwen2"]) {
      it.skipIf(skipUnless(pythonTrl, "DPO curves of each architecture against live TRL", NEEDS.venv))(
        `${name}: 5-step DPO curve within 1e-3 of live TRL (reference = a copy of the policy)${pythonTrl ? "" : " (skipped: no trl in the venv)"}`,
        async () => {
          const run = spawnSync(
            pythonTrl!,
            [path.join(ROOT, "bench/trl_dpo.py"), ...trlCurveArgs(path.join(dir, name), path.join(FIX, "prefs.jsonl")), "--loss-type", "sigmoid"],
            { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 26 },
          );
          if (run.status !== 0) throw new Error(`bench/trl_dpo.py failed:\n${run.stderr.slice(-3000)}`);
          compareToTrl(await ourCurve(path.join(dir, name), null, { beta: 0.1 }), JSON.parse(run.stdout).logs, "live TRL");
        },
        120_000,
      );
    }
  },
);

describe.skipIf(skipUnless(pythonTransformers, "the embedded SFT model in transformers", NEEDS.torch))(
  `the embedded SFT model data/sft-model in transformers${pythonTransformers ? "" : " (skipped: the venv lacks torch/transformers)"}`,
  () => {
    it("is a MistralForCausalLM that AutoModelForCausalLM loads, with the same logits within 1e-4 on a ChatML prompt", async () => {
      const dir = path.join(ROOT, "data/sft-model");
      const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
      expect([config.model_type, config.architectures]).toEqual(["mistral", ["MistralForCausalLM"]]);
      const tokenizer = await Tokenizer.fromDir(dir);
      const ids = tokenizer.encode(tokenizer.applyChatTemplate([{ role: "user", content: "What is the capital of Peru?" }], { addGenerationPrompt: true }));
      const script = [
        "import json, sys, torch",
        "from transformers import AutoModelForCausalLM",
        "m = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32, attn_implementation='eager').eval()",
        "ids = json.loads(sys.argv[2])",
        "with torch.no_grad(): logits = m(torch.tensor([ids])).logits[0]",
        "print(json.dumps({'cls': type(m).__name__, 'logits': logits.tolist()}))",
      ].join("\n");
      const run = spawnSync(pythonTransformers!, ["-c", script, dir, JSON.stringify(ids)], { encoding: "utf8", maxBuffer: 1 << 26 });
      if (run.status !== 0) throw new Error(`transformers failed:\n${run.stderr.slice(-3000)}`);
      const want = JSON.parse(run.stdout) as { cls: string; logits: number[][] };
      expect(want.cls).toBe("MistralForCausalLM");
      const model = loadModelFromDir(dir, { trainable: false });
      const logits = tf.tidy(() => model.forward(tf.tensor2d([ids], undefined, "int32")).logits.arraySync() as number[][][])[0];
      model.dispose();
      expect(logits.length).toBe(want.logits.length);
      let worst = 0;
      logits.forEach((row, t) => row.forEach((x, v) => (worst = Math.max(worst, Math.abs(x - want.logits[t][v])))));
      expect(worst).toBeLessThan(1e-4);
    }, 60_000);
  },
);

describe("BOS from a tokenizer's post-processor and from a chat template", () => {
  it("adds the post-processor's BOS once, and none more when the (templated) text already starts with it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dpo-bos-"));
    for (const f of ["tokenizer_config.json", "chat_template.jinja"]) fs.copyFileSync(path.join(FIX, "llama-policy", f), path.join(dir, f));
    const tj = JSON.parse(fs.readFileSync(path.join(FIX, "llama-policy/tokenizer.json"), "utf8"));
    // A Llama-style post-processor: BOS before every sequence (the fixture's bos_token is <|endoftext|>, id 0).
    const bos = { SpecialToken: { id: "<|endoftext|>", type_id: 0 } };
    tj.post_processor = {
      type: "TemplateProcessing",
      single: [bos, { Sequence: { id: "A", type_id: 0 } }],
      pair: [bos, { Sequence: { id: "A", type_id: 0 } }, bos, { Sequence: { id: "B", type_id: 1 } }],
      special_tokens: { "<|endoftext|>": { id: "<|endoftext|>", ids: [0], tokens: ["<|endoftext|>"] } },
    };
    fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(tj));
    const tokenizer = await Tokenizer.fromDir(dir);
    const plain = tokenizer.encode("Say something kind.", { addSpecialTokens: false });
    expect(tokenizer.encode("Say something kind.", { addSpecialTokens: true })).toEqual([0, ...plain]);
    expect(tokenizer.encode("<|endoftext|>Say something kind.", { addSpecialTokens: true })).toEqual([0, ...plain]);
  });
});
