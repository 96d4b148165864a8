/**
 * `dpo-ts eval`: the DPO metrics of --policy against --ref over every row of --data (TRL's metric names). Takes the
 * DPOConfig knobs that change the scores (beta, loss, lengths, …); training-only knobs are not offered.
 * Scores with evaluate() (src/train/evaluate.ts) in batches of --batch-size (DPOConfig.perDeviceEvalBatchSize, default
 * 8), aggregated as TRL's evaluation: no trainer, no optimizer, memory one batch's whatever the number of rows.
 */
import { initBackend } from "../backend";
import { loadModel } from "../model/io";
import { Tokenizer } from "../tokenizer/tokenizer";
import { loadPreferenceDataset } from "../data/dataset";
import { tokenizePairs } from "../data/tokenize";
import { rowLocation } from "../data/preferences";
import { evaluate } from "../train/evaluate";
import { DEFAULT_DPO_CONFIG } from "../train/config";
import { BACKEND_OPTION, CliError, OptionsTable, integerValue, requiredString, stringValue } from "./framework";
import { dpoConfigFrom, dpoConfigOptions, mergeValues } from "./dpo-options";

/** DPOConfig knobs that only matter while training (left out of eval's options; its --batch-size is the scoring batch). */
const TRAINING_ONLY_KNOBS = [
  "perDeviceEvalBatchSize",
  "outputDir",
  "learningRate",
  "lrSchedulerType",
  "warmupSteps",
  "warmupRatio",
  "perDeviceTrainBatchSize",
  "gradientAccumulationSteps",
  "numTrainEpochs",
  "maxSteps",
  "weightDecay",
  "adamBeta1",
  "adamBeta2",
  "adamEpsilon",
  "maxGradNorm",
  "seed",
  "loggingSteps",
  "evalStrategy",
  "evalSteps",
  "evalOnStart",
  "saveSteps",
  "saveTotalLimit",
  "gradientCheckpointing",
  "compileStep",
  "runName",
  "reportTo",
  "loggingDir",
  "numSampleGenerations",
  "sampleMaxNewTokens",
  "writeReport",
  "resumeFromCheckpoint",
  "overwriteOutputDir",
  "syncRefModel",
  "refModelMixupAlpha",
  "refModelSyncSteps",
  "precomputeRefLogProbs",
  "refLogpsCacheDir",
  "precomputeRefBatchSize",
  "usePeft",
  "loraR",
  "loraAlpha",
  "loraDropout",
  "loraTargetModules",
  "useRslora",
];

/** Options of `dpo-ts eval`. */
export const evalOptions: OptionsTable = {
  policy: { type: "string", valueName: "DIR|ID", description: "model folder or Hub repo id to score (Hugging Face format)" },
  adapter: {
    type: "string",
    valueName: "DIR",
    description: "a PEFT LoRA adapter folder to attach to the model (adapter_config.json + adapter_model.safetensors)",
  },
  ref: { type: "string", valueName: "DIR|ID", description: "reference model folder or Hub repo id (default: --policy itself)" },
  data: { type: "string", valueName: "FILE|ID", description: "preference pairs: .jsonl, .json, .csv, .parquet (optionally .gz), or a Hub data set id" },
  "skip-invalid": { type: "boolean", description: "skip invalid data rows (each listed with file, line and reason) instead of stopping" },
  tokenizer: { type: "string", valueName: "DIR|ID", description: "tokenizer folder or Hub repo id (default: --policy)" },
  "batch-size": {
    type: "string",
    valueName: "N",
    description: `pairs scored at once, as TRL's per_device_eval_batch_size (default ${DEFAULT_DPO_CONFIG.perDeviceEvalBatchSize})`,
  },
  backend: BACKEND_OPTION,
  json: { type: "boolean", description: "print one JSON object" },
  quiet: { type: "boolean", description: "no backend banner" },
  ...dpoConfigOptions(TRAINING_ONLY_KNOBS),
};

/** `dpo-ts eval`: DPO metrics (rewards, accuracies, margins, loss) of --policy against --ref on --data, printed as JSON; throws CliError on bad options. */
export async function evalCommand(values: Record<string, unknown>): Promise<void> {
  const policyDir = requiredString(values, "policy");
  const dataFile = requiredString(values, "data");
  const batchSizeOption = integerValue(values, "batch-size", { positive: true });
  const args = dpoConfigFrom(mergeValues(values, evalOptions), evalOptions);
  await initBackend({ backend: stringValue(values, "backend"), quiet: Boolean(values.json) || Boolean(values.quiet), model: policyDir });
  const tokenizer = await Tokenizer.fromDir(stringValue(values, "tokenizer") ?? policyDir);
  const rows = await loadPreferenceDataset(dataFile, tokenizer, { skipInvalid: values["skip-invalid"] === true });
  const model = await loadModel(policyDir, { trainable: false, adapter: stringValue(values, "adapter") });
  const refDir = stringValue(values, "ref");
  const refModel = refDir ? await loadModel(refDir, { trainable: false }) : model;
  // maxLength unset: the model's context, as in training.
  const maxLength = (args.maxLength as number | undefined) || model.config.nPositions;
  const lengths = {
    maxLength,
    truncationMode: args.truncationMode ?? DEFAULT_DPO_CONFIG.truncationMode,
    maxPromptLength: args.maxPromptLength ?? DEFAULT_DPO_CONFIG.maxPromptLength,
    maxCompletionLength: args.maxCompletionLength ?? DEFAULT_DPO_CONFIG.maxCompletionLength,
  };
  const { pairs, droppedRows, truncated } = tokenizePairs(rows, tokenizer, lengths);
  const where = (i: number) => rowLocation(rows[i], `${dataFile}: row ${i + 1}`);
  if (droppedRows.length)
    console.error(
      `dpo-ts eval: ${droppedRows.length} row(s) dropped (TRL drops them too):\n${droppedRows
        .slice(0, 10)
        .map((d) => `  ${where(d.index)}: ${d.reason}`)
        .join("\n")}${droppedRows.length > 10 ? `\n  … (${droppedRows.length - 10} more)` : ""}`,
    );
  if (truncated.rows)
    console.error(`dpo-ts eval: ${truncated.rows} row(s) truncated: prompt ${truncated.prompt}, chosen ${truncated.chosen}, rejected ${truncated.rejected}`);
  if (!pairs.length) throw new CliError(`${dataFile}: no rows left to score at maxLength ${maxLength}`);
  const metrics = await evaluate(model, refModel, pairs, {
    ...args,
    perDeviceEvalBatchSize: batchSizeOption ?? DEFAULT_DPO_CONFIG.perDeviceEvalBatchSize,
    padTokenId: tokenizer.padTokenId,
  });
  const result = { ...metrics, pairs: pairs.length, rows_dropped: droppedRows.length, rows_truncated: truncated.rows };
  if (values.json) console.log(JSON.stringify(result));
  else for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(20)} ${v}`);
  if (refModel !== model) refModel.dispose();
  model.dispose();
}
