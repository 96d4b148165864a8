/**
 * dpo-ts sft: supervised fine-tuning on {system, question, answer} rows formatted to ChatML. This is how the
 * embedded data/sft-model was made (see scripts/make-sft-model.sh):
 *   dpo-ts sft --data data/sft.jsonl --tokenizer data/tokenizer --out data/sft-model --arch mistral --n-layer 4 --n-embd 64 ...
 * A new model is GPT-2 (GPT2LMHeadModel) or a Mistral miniature (MistralForCausalLM: RMSNorm, rotary grouped-query
 * attention, SwiGLU MLP, tied embeddings).
 */
import { initBackend } from "../backend";
import { initModel, parseConfig } from "../model/architectures";
import { gpt2Config } from "../model/config";
import { GPT2LMHeadModel } from "../model/gpt2";
import { CausalLM, loadModel } from "../model/io";
import { Tokenizer } from "../tokenizer/tokenizer";
import { readInstructionFile } from "../data/preferences";
import { chatmlInstruction } from "../data/format";
import { trainSFT } from "../train/sft";
import { BACKEND_OPTION, CliError, OptionsTable, integerValue, numberValue, requiredString, stringValue } from "./framework";

/** Options of `dpo-ts sft`. */
export const sftOptions: OptionsTable = {
  data: { type: "string", valueName: "FILE", description: "{system, question, answer} rows (.jsonl)" },
  out: { type: "string", valueName: "DIR", description: "where the trained model folder goes" },
  model: { type: "string", valueName: "DIR|ID", description: "model folder or Hub repo id to fine-tune (else a new model of the size below)" },
  tokenizer: { type: "string", valueName: "DIR|ID", description: "tokenizer folder or Hub repo id (default: --model)" },
  arch: {
    type: "string",
    valueName: "NAME",
    description: "new model: gpt2 (GPT2LMHeadModel) or mistral (MistralForCausalLM) (default gpt2)",
    group: "new model",
  },
  "n-layer": { type: "string", valueName: "N", description: "new model: transformer blocks (default 4)", group: "new model" },
  "n-embd": { type: "string", valueName: "N", description: "new model: width (default 64)", group: "new model" },
  "n-head": { type: "string", valueName: "N", description: "new model: attention heads (default 4)", group: "new model" },
  "n-positions": { type: "string", valueName: "N", description: "new model: context length (default 256)", group: "new model" },
  "n-kv-head": { type: "string", valueName: "N", description: "new mistral: key/value heads (grouped-query attention; default --n-head)", group: "new model" },
  "intermediate-size": { type: "string", valueName: "N", description: "new mistral: SwiGLU MLP width (default 3 × --n-embd)", group: "new model" },
  steps: { type: "string", valueName: "N", description: "optimizer steps (default 1000)", group: "training" },
  "batch-size": { type: "string", valueName: "N", description: "rows per step (default 16)", group: "training" },
  lr: { type: "string", valueName: "X", description: "peak learning rate (default 1e-3)", group: "training" },
  scheduler: { type: "string", valueName: "NAME", description: "constant, constant_with_warmup, linear or cosine (default cosine)", group: "training" },
  "warmup-steps": { type: "string", valueName: "N", description: "linear warm-up steps (default 50)", group: "training" },
  "max-length": { type: "string", valueName: "N", description: "tokens per row at most (default: the model's context)", group: "training" },
  seed: { type: "string", valueName: "N", description: "initialisation and data-order seed (default 0)", group: "training" },
  "logging-steps": { type: "string", valueName: "N", description: "log every N steps (default 50)", group: "training" },
  backend: BACKEND_OPTION,
};

/** `dpo-ts sft`: supervised fine-tuning of a model (or a new GPT-2) on instruction rows, saved to --out; throws CliError on bad options. */
export async function sftCommand(values: Record<string, unknown>): Promise<void> {
  const dataFile = requiredString(values, "data");
  const out = requiredString(values, "out");
  const modelDir = stringValue(values, "model");
  const tokenizerDir = stringValue(values, "tokenizer") ?? modelDir;
  if (!tokenizerDir) throw new CliError("--tokenizer or --model is required (see --help)");
  const positive = { positive: true };
  const shape = {
    nPositions: integerValue(values, "n-positions", positive) ?? 256,
    nEmbd: integerValue(values, "n-embd", positive) ?? 64,
    nLayer: integerValue(values, "n-layer", positive) ?? 4,
    nHead: integerValue(values, "n-head", positive) ?? 4,
  };
  const seed = integerValue(values, "seed") ?? 0;
  const arch = stringValue(values, "arch") ?? "gpt2";
  if (arch !== "gpt2" && arch !== "mistral") throw new CliError(`--arch: "${arch}" is not gpt2 or mistral`);
  if (modelDir && values.arch !== undefined) throw new CliError("--arch describes a new model; --model fine-tunes an existing one (give one of them)");
  const settings = {
    maxSteps: integerValue(values, "steps", positive) ?? 1000,
    perDeviceTrainBatchSize: integerValue(values, "batch-size", positive) ?? 16,
    learningRate: numberValue(values, "lr", { min: 0 }) ?? 1e-3,
    lrSchedulerType: (stringValue(values, "scheduler") ?? "cosine") as "cosine",
    warmupSteps: integerValue(values, "warmup-steps", { min: 0 }) ?? 50,
    maxLength: integerValue(values, "max-length", positive),
    seed,
    loggingSteps: integerValue(values, "logging-steps", positive) ?? 50,
  };
  await initBackend({ backend: stringValue(values, "backend"), model: modelDir });
  const tokenizer = await Tokenizer.fromDir(tokenizerDir);
  const model = modelDir ? await loadModel(modelDir) : newModel(values, shape, tokenizer, seed);
  const rows = readInstructionFile(dataFile).map((row) => chatmlInstruction(row, tokenizer));
  console.log(`sft: ${rows.length} rows, ${model.numParameters()} parameters`);
  const result = await trainSFT(model, tokenizer, rows, { ...settings, outputDir: out, maxLength: settings.maxLength ?? model.config.nPositions }, (entry) =>
    console.log(JSON.stringify(entry)),
  );
  console.log(`sft: ${result.steps} steps in ${result.seconds.toFixed(1)} s, final loss ${result.loss.toFixed(4)}; saved to ${out}`);
  model.dispose();
}

/** A freshly initialised model of --arch and the size the options give (seeded). */
function newModel(
  values: Record<string, unknown>,
  shape: { nPositions: number; nEmbd: number; nLayer: number; nHead: number },
  tokenizer: Tokenizer,
  seed: number,
): CausalLM {
  const special = { bosTokenId: tokenizer.bosTokenId, eosTokenId: tokenizer.eosTokenId };
  if ((stringValue(values, "arch") ?? "gpt2") === "gpt2")
    return GPT2LMHeadModel.init(gpt2Config({ vocabSize: tokenizer.vocabSize, ...shape, ...special }), seed);
  const numKeyValueHeads = integerValue(values, "n-kv-head", { positive: true }) ?? shape.nHead;
  if (shape.nHead % numKeyValueHeads) throw new CliError(`--n-kv-head ${numKeyValueHeads} must divide --n-head ${shape.nHead}`);
  // Mistral's config.json fields (transformers MistralConfig); no sliding window: our sequences are far shorter.
  const raw = {
    architectures: ["MistralForCausalLM"],
    model_type: "mistral",
    vocab_size: tokenizer.vocabSize,
    hidden_size: shape.nEmbd,
    intermediate_size: integerValue(values, "intermediate-size", { positive: true }) ?? 3 * shape.nEmbd,
    num_hidden_layers: shape.nLayer,
    num_attention_heads: shape.nHead,
    num_key_value_heads: numKeyValueHeads,
    head_dim: shape.nEmbd / shape.nHead,
    max_position_embeddings: shape.nPositions,
    hidden_act: "silu",
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    sliding_window: null,
    tie_word_embeddings: true,
    bos_token_id: special.bosTokenId,
    eos_token_id: special.eosTokenId,
  };
  return initModel(parseConfig(raw, "--arch mistral"), seed);
}
