/**
 * `dpo-ts judge`: the judged win rate of --model over --ref (default: the course's SFT model) on the held-out world
 * prompts or a JSONL file of {system?, question} rows, with a 95% Wilson interval (ties count half) and the mean
 * judged reward of each (see src/judge/judge.ts for how answers are scored).
 */
import * as path from "path";
import { initBackend } from "../backend";
import { readJsonObjects } from "../data/preferences";
import { formatSource } from "../data/readers";
import { lookUpQuestion } from "../data/world";
import type { Prompt } from "../judge/held-out";
import { judgeModels } from "../judge/win-rate";
import { loadModel } from "../model/io";
import { Tokenizer } from "../tokenizer/tokenizer";
import { BACKEND_OPTION, CliError, OptionSpec, OptionsTable, integerValue, numberValue, requiredString, stringValue } from "./framework";

/** `--prompts held-out|FILE`: the world prompts a command answers (see {@link readPrompts}). */
export const PROMPTS_OPTION: OptionSpec = {
  type: "string",
  valueName: "held-out|FILE",
  description: "held-out (data/held-out-prompts.jsonl) or a .jsonl of {system?, question} world prompts (default held-out)",
};

/** Options of `dpo-ts judge`. */
export const judgeOptions: OptionsTable = {
  model: { type: "string", valueName: "DIR|ID", description: "the model to judge (Hugging Face format)" },
  ref: { type: "string", valueName: "DIR|ID", description: "the reference it is compared with (default data/sft-model)" },
  prompts: PROMPTS_OPTION,
  limit: { type: "string", valueName: "N", description: "judge only the first N prompts" },
  "max-new-tokens": { type: "string", valueName: "N", description: "tokens per answer at most (default 48)" },
  temperature: { type: "string", valueName: "T", description: "0 = greedy (default 0)" },
  seed: { type: "string", valueName: "N", description: "sampling seed (default 0)" },
  examples: { type: "string", valueName: "N", description: "print this many judged answer pairs (default 5; not with --json)" },
  backend: BACKEND_OPTION,
  json: { type: "boolean", description: "print {win_rate, ci_low, ci_high, n, mean_reward, mean_reward_ref, wins, ties, losses} as JSON" },
};

const PACKAGE_ROOT = path.resolve(__dirname, "..", "..");

/** The prompts of `spec`: "held-out" or a JSONL file; every row must be a question of the world. */
export function readPrompts(spec: string): Prompt[] {
  const file = spec === "held-out" ? path.join(PACKAGE_ROOT, "data", "held-out-prompts.jsonl") : spec;
  return readJsonObjects(file).map(({ value, source }) => {
    const where = formatSource(source);
    const { system = "", question } = value as { system?: unknown; question?: unknown };
    if (typeof question !== "string") throw new CliError(`${where}: field "question" must be a string`);
    if (typeof system !== "string") throw new CliError(`${where}: field "system" must be a string`);
    if (!lookUpQuestion(question)) throw new CliError(`${where}: field "question" is not a question of the course's world: ${JSON.stringify(question)}`);
    return { system, question };
  });
}

/** `dpo-ts judge`: the win rate of --model against --ref on held-out prompts, scored by the rule-based judge; throws CliError on bad options. */
export async function judgeCommand(values: Record<string, unknown>): Promise<void> {
  const modelDir = requiredString(values, "model");
  const refDir = stringValue(values, "ref") ?? path.join(PACKAGE_ROOT, "data", "sft-model");
  const limit = integerValue(values, "limit", { positive: true });
  const maxNewTokens = integerValue(values, "max-new-tokens", { positive: true }) ?? 48;
  const temperature = numberValue(values, "temperature", { min: 0 }) ?? 0;
  const seed = integerValue(values, "seed") ?? 0;
  const examples = integerValue(values, "examples", { min: 0 }) ?? 5;
  const prompts = readPrompts(stringValue(values, "prompts") ?? "held-out").slice(0, limit);
  if (prompts.length === 0) throw new CliError("--prompts: no prompts");
  await initBackend({ backend: stringValue(values, "backend"), quiet: Boolean(values.json), model: modelDir });
  const tokenizer = await Tokenizer.fromDir(modelDir);
  const model = await loadModel(modelDir, { trainable: false });
  const reference = await loadModel(refDir, { trainable: false });
  try {
    const { judged, ...result } = await judgeModels({ model, reference, prompts, tokenizer, maxNewTokens, temperature, seed });
    if (values.json) return console.log(JSON.stringify(result));
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    console.log(
      `win rate of ${modelDir} over ${refDir}: ${pct(result.win_rate)} (95% Wilson interval ${pct(result.ci_low)}–${pct(result.ci_high)}; ` +
        `n ${result.n}: ${result.wins} wins, ${result.ties} ties, ${result.losses} losses)`,
    );
    console.log(`mean judged reward: model ${result.mean_reward.toFixed(3)}, reference ${result.mean_reward_ref.toFixed(3)}`);
    for (const j of judged.slice(0, examples))
      console.log(
        `\n${j.question}\n  model     [${j.judgement.score}] ${j.answer}  (${j.judgement.reason})\n  reference [${j.judgementRef.score}] ${j.answerRef}  (${j.judgementRef.reason})`,
      );
  } finally {
    model.dispose();
    reference.dispose();
  }
}
