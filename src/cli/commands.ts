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
import { evaluate } from "../train/evaluate";
import { DEFAULT_DPO_CONFIG } from "../train/config";
import { tokenizePairs } from "../data/tokenize";
import { rowLocation } from "../data/preferences";
import { terminalProgress } from "../course/progress";
import { need, numberOption, ParsedArgs } from "./args";
import { configFromOptions, readConfigFile } from "./options";

async function setup(options: ParsedArgs["options"]): Promise<void> {
  await initBackend({ backend: options.backend as string | undefined, quiet: Boolean(options.json) || Boolean(options.quiet) });
}

/**
 * dpo-ts eval: the DPO metrics of a policy against a reference over every row, scored in batches of
 * --eval-batch-size (or --batch-size; DPOConfig.perDeviceEvalBatchSize, default 8) and aggregated as TRL's evaluation.
 * No trainer, no optimizer: memory is one batch's, whatever the number of rows.
 */
export async function evalCommand({ options }: ParsedArgs): Promise<void> {
  await setup(options);
  const policyDir = need(options, "policy", "eval");
  const dataFile = need(options, "data", "eval");
  const tokenizer = await Tokenizer.fromDir((options.tokenizer as string) ?? policyDir);
  const rows = loadPreferenceDataset(dataFile, tokenizer);
  const { batchSize, ...rest } = options;
  const args = configFromOptions({ ...rest, policy: undefined }, "dpo-ts eval");
  if (batchSize !== undefined) args.perDeviceEvalBatchSize = numberOption(options, "batchSize");
  const model = loadModel(policyDir, { trainable: false });
  const refModel = options.ref ? loadModel(need(options, "ref", "eval"), { trainable: false }) : model;
  const maxLength = (args.maxLength as number | undefined) || model.config.nPositions;
  const { pairs, dropped, truncated } = tokenizePairs(rows, tokenizer, { maxLength, maxPromptLength: (args.maxPromptLength as number | undefined) ?? DEFAULT_DPO_CONFIG.maxPromptLength });
  const where = (i: number) => rowLocation(rows[i], `${dataFile}: row ${i + 1}`);
  if (dropped.length) console.warn(`${dataFile}: ${dropped.length} row(s) dropped (the prompt leaves no room for a completion within maxLength ${maxLength}): ${dropped.slice(0, 10).map(where).join(", ")}`);
  if (truncated.length && !options.json) console.warn(`${dataFile}: ${truncated.length} row(s) truncated to maxLength ${maxLength}`);
  if (!pairs.length) throw new Error(`dpo-ts eval: ${dataFile}: no rows left to score`);
  const metrics = await evaluate(model, refModel, pairs, { ...args, padTokenId: tokenizer.padTokenId });
  const result = { ...metrics, pairs: pairs.length, rows_dropped: dropped.length, rows_truncated: truncated.length };
  if (options.json) console.log(JSON.stringify(result));
  else for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(20)} ${v}`);
  if (refModel !== model) refModel.dispose();
  model.dispose();
}

/** dpo-ts train: DPO training of --policy on --data, writing OUT/metrics.jsonl and OUT/final/. */
export async function trainCommand({ options: cliOptions, positional }: ParsedArgs): Promise<void> {
  // --resume alone continues the newest checkpoint; --resume OUT/checkpoint-N that one.
  if (cliOptions.resume === true && positional.length) cliOptions = { ...cliOptions, resume: positional[0] };
  const fileOptions = cliOptions.config ? readConfigFile(cliOptions.config as string) : {};
  const options = { ...fileOptions, ...cliOptions } as ParsedArgs["options"];
  await setup(options);
  const policyDir = need(options, "policy", "train");
  const dataFile = need(options, "data", "train");
  const args = configFromOptions(options, cliOptions.config ? `${cliOptions.config} / command line` : "dpo-ts train");
  const tokenizer = await Tokenizer.fromDir((options.tokenizer as string) ?? policyDir);
  let trainRows = loadPreferenceDataset(dataFile, tokenizer);
  let evalRows = options.evalData ? loadPreferenceDataset(options.evalData as string, tokenizer) : [];
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
