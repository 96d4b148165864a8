/**
 * dpo-ts sft: supervised fine-tuning on {system, question, answer} rows formatted to ChatML. This is how the
 * embedded data/sft-model was made (see scripts/make-sft-model.sh):
 *   dpo-ts sft --data data/sft.jsonl --tokenizer data/tokenizer --out data/sft-model --n-layer 4 --n-embd 64 --n-head 4
 */
import { initBackend } from "../backend";
import { gpt2Config } from "../model/config";
import { GPT2LMHeadModel } from "../model/gpt2";
import { loadModel } from "../model/io";
import { Tokenizer } from "../tokenizer/tokenizer";
import { readInstructionFile } from "../data/preferences";
import { chatmlInstruction } from "../data/format";
import { trainSFT } from "../train/sft";
import { need, numberOption, ParsedArgs } from "./args";

export async function sftCommand({ options }: ParsedArgs): Promise<void> {
  await initBackend({ backend: options.backend as string | undefined });
  const dataFile = need(options, "data", "sft");
  const out = need(options, "out", "sft");
  const tokenizer = await Tokenizer.fromDir((options.tokenizer as string) ?? need(options, "model", "sft"));
  const model = options.model
    ? await loadModel(options.model as string)
    : GPT2LMHeadModel.init(
        gpt2Config({
          vocabSize: tokenizer.vocabSize,
          nPositions: numberOption(options, "nPositions", 256),
          nEmbd: numberOption(options, "nEmbd", 64),
          nLayer: numberOption(options, "nLayer", 4),
          nHead: numberOption(options, "nHead", 4),
          bosTokenId: tokenizer.bosTokenId,
          eosTokenId: tokenizer.eosTokenId,
        }),
        numberOption(options, "seed", 0),
      );
  const rows = readInstructionFile(dataFile).map((row) => chatmlInstruction(row, tokenizer));
  console.log(`sft: ${rows.length} rows, ${model.numParameters()} parameters`);
  const result = await trainSFT(
    model,
    tokenizer,
    rows,
    {
      outputDir: out,
      maxSteps: numberOption(options, "steps", 1000),
      perDeviceTrainBatchSize: numberOption(options, "batchSize", 16),
      learningRate: numberOption(options, "lr", 1e-3),
      lrSchedulerType: ((options.scheduler as string) ?? "cosine") as "cosine",
      warmupSteps: numberOption(options, "warmupSteps", 50),
      maxLength: numberOption(options, "maxLength", model.config.nPositions),
      seed: numberOption(options, "seed", 0),
      loggingSteps: numberOption(options, "loggingSteps", 50),
    },
    (entry) => console.log(JSON.stringify(entry)),
  );
  console.log(`sft: ${result.steps} steps in ${result.seconds.toFixed(1)} s, final loss ${result.loss.toFixed(4)}; saved to ${out}`);
  model.dispose();
}
