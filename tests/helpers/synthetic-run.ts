/**
 * A synthetic DPO run directory (config.json, metrics.jsonl, samples.json) with TRL metric names, shaped like a
 * real run: loss falling from ln 2, chosen reward rising and rejected falling, accuracy climbing, warmup + linear
 * decay learning rate, eval every 10 steps. Deterministic (seeded LCG noise).
 */
import * as fs from "fs";
import * as path from "path";
import type { MetricLogEntry } from "../../src/metrics/plots";

export function syntheticLog(steps = 60, seed = 1): MetricLogEntry[] {
  let s = seed >>> 0;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5;
  const log: MetricLogEntry[] = [];
  for (let step = 1; step <= steps; step++) {
    const p = step / steps;
    const chosen = 0.8 * p + 0.08 * rand();
    const rejected = -1.1 * p + 0.08 * rand();
    const margin = chosen - rejected;
    const lr = 5e-6 * Math.min(step / 6, 1) * (step > 6 ? 1 - (step - 6) / (steps - 6 + 1) : 1);
    log.push({
      step,
      loss: Math.log1p(Math.exp(-margin)) + 0.05 * rand(),
      grad_norm: 4 * Math.exp(-2 * p) + 0.3 * Math.abs(rand()),
      learning_rate: lr,
      "rewards/chosen": chosen,
      "rewards/rejected": rejected,
      "rewards/margins": margin,
      "rewards/accuracies": Math.min(1, 0.5 + 0.5 * p + 0.1 * rand()),
      "logps/chosen": -150 + 8 * p + rand(),
      "logps/rejected": -155 - 11 * p + rand(),
      "logits/chosen": -1.5 + 0.1 * rand(),
      "logits/rejected": -1.4 + 0.1 * rand(),
      kl: 0.02 + 0.9 * p * p,
      epoch: p,
    });
    if (step % 10 === 0) {
      log.push({
        step,
        eval_loss: Math.log1p(Math.exp(-0.9 * margin)),
        "eval_rewards/chosen": 0.7 * p,
        "eval_rewards/rejected": -0.9 * p,
        "eval_rewards/margins": 1.6 * p,
        "eval_rewards/accuracies": 0.5 + 0.4 * p,
        "eval_logps/chosen": -149 + 7 * p,
        "eval_logps/rejected": -156 - 10 * p,
        eval_kl: 0.03 + 0.85 * p * p,
        eval_runtime: 2.5,
      });
    }
  }
  return log;
}

export const SYNTHETIC_CONFIG = {
  model_name_or_path: "tests/fixtures/hf-tiny/gpt2",
  beta: 0.1,
  loss_type: "sigmoid",
  learning_rate: 5e-6,
  lr_scheduler_type: "linear",
  warmup_steps: 6,
  per_device_train_batch_size: 4,
  max_length: 512,
  max_prompt_length: 256,
  seed: 42,
  nested: { a: [1, 2], b: "x<y>" },
};

export const SYNTHETIC_SAMPLES = [
  {
    prompt: "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    policy: "The capital of France is Paris.",
    reference: "France is a country in Europe. Its capital city, which is also its largest city, is Paris, on the Seine.",
  },
  {
    prompt: "Explain DPO in one sentence & mind <script>alert(1)</script> escaping.",
    policy:
      "DPO fine-tunes a policy directly on preference pairs by raising the likelihood of chosen answers relative to rejected ones, anchored to a reference model.",
    reference: "DPO is a method.",
  },
  {
    prompt: "Write a haiku about gradients.",
    policy: "Down the loss we slide\nsmall steps in a steep valley\nthe minimum waits",
    reference: "Gradients flow down\nthe hill",
  },
  ...Array.from({ length: 9 }, (_, i) => ({
    prompt: `Count to ${i + 3}.`,
    policy: Array.from({ length: i + 3 }, (_, k) => String(k + 1)).join(" "),
    reference: Array.from({ length: 2 * i + 4 }, (_, k) => String(k + 1)).join(", "),
  })),
];

/** Write a run directory with config.json, metrics.jsonl and samples.json; returns its path. */
export function writeSyntheticRun(dir: string, opts: { samples?: boolean; steps?: number } = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(SYNTHETIC_CONFIG, null, 2));
  fs.writeFileSync(
    path.join(dir, "metrics.jsonl"),
    syntheticLog(opts.steps ?? 60)
      .map((e) => JSON.stringify(e))
      .join("\n") + "\n",
  );
  if (opts.samples !== false) fs.writeFileSync(path.join(dir, "samples.json"), JSON.stringify(SYNTHETIC_SAMPLES, null, 2));
  return dir;
}
