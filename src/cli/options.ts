/**
 * Maps `dpo-ts train` options (and the keys of --config FILE.json) to DPOConfig knobs.
 * Both the short CLI names (--lr, --steps) and DPOConfig's own names (learningRate, maxSteps) are accepted.
 */
import * as fs from "fs";
import { DEFAULT_DPO_CONFIG, DPOConfig } from "../train/config";
import { camel, kebab } from "./args";

/** CLI name → DPOConfig knob. */
export const CLI_TO_CONFIG: Record<string, keyof DPOConfig> = {
  out: "outputDir",
  steps: "maxSteps",
  epochs: "numTrainEpochs",
  batchSize: "perDeviceTrainBatchSize",
  evalBatchSize: "perDeviceEvalBatchSize",
  gradAccum: "gradientAccumulationSteps",
  lr: "learningRate",
  loss: "lossType",
  scheduler: "lrSchedulerType",
  precomputeRef: "precomputeRefLogProbs",
  name: "runName",
  resume: "resumeFromCheckpoint",
};

/** Options that are not DPOConfig knobs (handled by the command itself). */
const COMMAND_OPTIONS = new Set(["policy", "ref", "data", "evalData", "evalFraction", "config", "backend", "json", "tokenizer", "quiet"]);

function coerce(key: keyof DPOConfig, value: unknown, where: string): unknown {
  // --resume (alone: the newest checkpoint) or --resume OUT/checkpoint-N.
  if (key === "resumeFromCheckpoint") return value === true || value === "true" ? true : value;
  if (key === "reportTo" && typeof value === "string") return value.split(",");
  const kind = typeof DEFAULT_DPO_CONFIG[key];
  if (kind === "number" && typeof value === "string") {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new Error(`${where}: ${String(key)} must be a number, got "${value}"`);
    return n;
  }
  if (kind === "boolean" && typeof value === "string") {
    if (value !== "true" && value !== "false") throw new Error(`${where}: ${String(key)} must be true or false`);
    return value === "true";
  }
  return value;
}

/** DPOConfig overrides from option values (CLI strings or JSON values). Unknown names are errors. */
export function configFromOptions(options: Record<string, unknown>, where: string): Partial<DPOConfig> {
  const out: Record<string, unknown> = {};
  for (const [rawName, value] of Object.entries(options)) {
    const name = camel(rawName);
    if (COMMAND_OPTIONS.has(name)) continue;
    const key = (CLI_TO_CONFIG[name] ?? name) as keyof DPOConfig;
    if (!(key in DEFAULT_DPO_CONFIG)) throw new Error(`${where}: unknown option "${kebab(name)}"`);
    out[key] = coerce(key, value, where);
  }
  return out as Partial<DPOConfig>;
}

/** --config FILE.json: the same keys as the command line (plus DPOConfig names) and the data/model paths. */
export function readConfigFile(file: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new Error(`${file}: must hold one JSON object`);
  return raw as Record<string, unknown>;
}
