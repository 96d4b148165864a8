/**
 * The `dpo-ts` subcommands: eval, train, generate, sft. Each prints human-readable lines, or one JSON object with --json.
 */
import * as path from "path";
import { initBackend } from "../backend";
import { loadModel } from "../model/io";
import { generate } from "../model/generate";
import { Tokenizer } from "../tokenizer/tokenizer";
import { loadPreferenceDataset } from "../data/dataset";
import { splitTrainEval } from "../data/preferences";
import { DPOTrainer } from "../train/trainer";
import { terminalProgress } from "../course/progress";
import { need, numberOption, ParsedArgs } from "./args";
import { configFromOptions, readConfigFile } from "./options";

async function setup(options: ParsedArgs["options"]): Promise<void> {
  await initBackend({ backend: options.backend as string | undefined, quiet: Boolean(options.json) || Boolean(options.quiet) });
}

/** dpo-ts eval: the DPO metrics of a policy against a reference over every row, as one batch (TRL's first logged step). */
export async function evalCommand({ options }: ParsedArgs): Promise<void> {
  await setup(options);
  const policyDir = need(options, "policy", "eval");
  const dataFile = need(options, "data", "eval");
  const tokenizer = await Tokenizer.fromDir((options.tokenizer as string) ?? policyDir);
  const rows = await loadPreferenceDataset(dataFile, tokenizer, { skipInvalid: Boolean(options.skipInvalid) });
  const model = loadModel(policyDir, { trainable: false });
  const refModel = options.ref ? loadModel(need(options, "ref", "eval"), { trainable: false }) : undefined;
  const args = configFromOptions({ ...options, policy: undefined }, "dpo-ts eval");
  const trainer = new DPOTrainer({ model, refModel, tokenizer, trainDataset: rows, args, datasetName: dataFile });
  const batchSize = numberOption(options, "batchSize") ?? trainer.trainPairs.length;
  const metrics = await trainer.computeMetrics(trainer.trainPairs, batchSize);
  const result = { ...metrics, pairs: trainer.trainPairs.length };
  if (options.json) console.log(JSON.stringify(result));
  else for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(20)} ${v}`);
  trainer.dispose();
  model.dispose();
  refModel?.dispose();
}

/** dpo-ts train: DPO training of --policy on --data, writing OUT/metrics.jsonl and OUT/final/. */
export async function trainCommand({ options: cliOptions }: ParsedArgs): Promise<void> {
  const fileOptions = cliOptions.config ? readConfigFile(cliOptions.config as string) : {};
  const options = { ...fileOptions, ...cliOptions } as ParsedArgs["options"];
  await setup(options);
  const policyDir = need(options, "policy", "train");
  const dataFile = need(options, "data", "train");
  const args = configFromOptions(options, cliOptions.config ? `${cliOptions.config} / command line` : "dpo-ts train");
  const tokenizer = await Tokenizer.fromDir((options.tokenizer as string) ?? policyDir);
  let trainRows = await loadPreferenceDataset(dataFile, tokenizer, { skipInvalid: Boolean(options.skipInvalid) });
  let evalRows = options.evalData ? await loadPreferenceDataset(options.evalData as string, tokenizer, { skipInvalid: Boolean(options.skipInvalid) }) : [];
  const evalFraction = numberOption(options, "evalFraction", 0)!;
  if (evalFraction > 0) {
    const split = splitTrainEval(trainRows, Math.max(1, Math.round(evalFraction * trainRows.length)), (args.seed as number) ?? 42);
    trainRows = split.train;
    evalRows = split.eval;
  }
  if (evalRows.length && !args.evalStrategy) args.evalStrategy = "steps";
  const model = loadModel(policyDir);
  const refModel = options.ref ? loadModel(options.ref as string, { trainable: false }) : undefined;
  const trainer = new DPOTrainer({
    model, refModel, tokenizer, trainDataset: trainRows, evalDataset: evalRows, args, datasetName: dataFile,
    callbacks: options.json ? [] : [terminalProgress()],
  });
  const result = await trainer.train();
  const final = path.join(trainer.config.outputDir, "final");
  if (options.json) console.log(JSON.stringify({ ...result.metrics, global_step: result.globalStep, output_dir: trainer.config.outputDir, final }));
  else console.log(`trained ${result.globalStep} steps in ${result.metrics.train_runtime.toFixed(1)} s; model saved to ${final}`);
  trainer.dispose();
  model.dispose();
  refModel?.dispose();
}

/** dpo-ts generate: a continuation of --prompt (with --chat, the prompt is a user message in the chat template). */
export async function generateCommand({ options }: ParsedArgs): Promise<void> {
  await setup(options);
  const modelDir = need(options, "model", "generate");
  const prompt = need(options, "prompt", "generate");
  const tokenizer = await Tokenizer.fromDir(modelDir);
  const model = loadModel(modelDir, { trainable: false });
  const text = options.chat ? tokenizer.applyChatTemplate([{ role: "user", content: prompt }], { addGenerationPrompt: true }) : prompt;
  const out = await generate(model, tokenizer.encode(text, { addSpecialTokens: false }), {
    maxNewTokens: numberOption(options, "maxNewTokens", 32),
    temperature: numberOption(options, "temperature", 0),
    topK: numberOption(options, "topK", 0),
    topP: numberOption(options, "topP", 1),
    seed: numberOption(options, "seed", 0),
    eosTokenId: tokenizer.eosTokenId,
  });
  const completion = tokenizer.decode(out.tokens, { skipSpecialTokens: false });
  if (options.json) console.log(JSON.stringify({ text: completion, tokens: out.tokens, finish_reason: out.finishReason }));
  else console.log(completion);
  model.dispose();
}
