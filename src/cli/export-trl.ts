/**
 * `dpo-ts export-trl RUN_OR_CONFIG --out DIR`: the same DPO job as a folder Hugging Face TRL runs (`trl dpo --config`,
 * or `accelerate launch` with DeepSpeed ZeRO-3 / FSDP on many GPUs). RUN_OR_CONFIG is a dpo-ts run folder (its
 * config.json and job.json, which `dpo-ts train` writes) or a --config file of `dpo-ts train` (.json/.yaml, dpo-ts or
 * TRL names). The library part is src/train/export-trl.ts.
 */
import * as fs from "fs";
import * as path from "path";
import { Tokenizer } from "../tokenizer/tokenizer";
import { readConfig } from "../model/architectures";
import { DPOConfig, resolveConfig } from "../train/config";
import { checkPromptLengths, exportTrl } from "../train/export-trl";
import { CliError, OptionsTable, parseNumber } from "./framework";
import { dpoConfigFrom, mergeValues, readConfigFile } from "./dpo-options";
import { JOB_FILE, TrainJob, jobRows, trainOptions } from "./train";

/** Options of `dpo-ts export-trl`. */
export const exportTrlOptions: OptionsTable = {
  out: { type: "string", valueName: "DIR", description: "export folder (created; must be empty or absent)" },
  policy: { type: "string", valueName: "DIR", description: "model folder or Hub id (default: the run's / config's)" },
  data: { type: "string", valueName: "FILE", description: "preference pairs (default: the run's / config's)" },
  "eval-data": { type: "string", valueName: "FILE", description: "evaluation pairs (default: the run's / config's)" },
  tokenizer: { type: "string", valueName: "DIR", description: "tokenizer folder (default: the run's, else the model's)" },
  adapter: { type: "string", valueName: "DIR", description: "PEFT adapter folder the job starts from (copied to DIR/adapter)" },
  "num-processes": { type: "string", valueName: "N", default: "8", description: "GPUs in launch.sh's accelerate command lines" },
  "link-model": { type: "boolean", description: "reference the model folder by absolute path instead of copying it" },
};

/** The job of a run folder (config.json + job.json) or of a `dpo-ts train --config` file. */
function readJob(source: string): { config: DPOConfig; job: TrainJob } {
  if (fs.existsSync(source) && fs.statSync(source).isDirectory()) {
    const configFile = path.join(source, "config.json");
    if (!fs.existsSync(configFile)) throw new CliError(`${source}: not a dpo-ts run folder (no config.json)`);
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(fs.readFileSync(configFile, "utf8"));
    } catch (e) {
      throw new CliError(`${configFile}: ${(e as Error).message}`);
    }
    const config = resolveConfig(raw, configFile);
    const jobFile = path.join(source, JOB_FILE);
    const job = fs.existsSync(jobFile) ? (JSON.parse(fs.readFileSync(jobFile, "utf8")) as TrainJob) : {};
    return { config, job };
  }
  const notes: string[] = [];
  const entries = readConfigFile(source, trainOptions, (m) => notes.push(m));
  for (const m of notes) console.error(`dpo-ts export-trl: ${m}`);
  const merged = mergeValues({}, trainOptions, entries);
  const text = (name: string) => (typeof merged.get(name)?.value === "string" ? (merged.get(name)!.value as string) : undefined);
  const fraction = merged.get("eval-fraction");
  const job: TrainJob = {
    policy: text("policy"),
    ref: text("ref"),
    data: text("data"),
    evalData: text("eval-data"),
    tokenizer: text("tokenizer"),
    adapter: text("adapter"),
    evalFraction: fraction ? parseNumber(fraction.value as string, fraction.where) : undefined,
    skipInvalid: merged.get("skip-invalid")?.value === true || merged.get("skip-invalid")?.value === "true" || undefined,
  };
  // Relative paths in a config file are relative to where `dpo-ts train --config` runs: the current folder.
  return { config: resolveConfig(dpoConfigFrom(merged, trainOptions) as Record<string, unknown>, source), job };
}

/** `dpo-ts export-trl RUN_DIR|CONFIG --out DIR`: writes the same run as a TRL script, config and data, to run with Python; throws CliError on bad arguments. */
export async function exportTrlCommand(values: Record<string, unknown>, positionals: string[]): Promise<void> {
  if (positionals.length !== 1) throw new CliError("takes one RUN_DIR or CONFIG file (see --help)");
  const out = values.out;
  if (typeof out !== "string" || !out) throw new CliError("--out DIR is required");
  if (fs.existsSync(out) && fs.readdirSync(out).length) throw new CliError(`--out ${out}: exists and is not empty`);
  const numProcesses = parseNumber(String(values["num-processes"] ?? "8"), "--num-processes", { integer: true, positive: true });
  const { config, job } = readJob(positionals[0]);
  const pick = (name: string, key: keyof TrainJob) => (typeof values[name] === "string" ? (values[name] as string) : (job[key] as string | undefined));
  const policy = pick("policy", "policy");
  const data = pick("data", "data");
  const from = positionals[0];
  if (!policy) throw new CliError(`${from} names no policy model (runs trained before job.json was written lack it): pass --policy`);
  if (!data) throw new CliError(`${from} names no data set: pass --data`);
  if (job.ref && path.resolve(job.ref) !== path.resolve(policy)) {
    throw new CliError(
      `${from}: the job's reference model is ${job.ref}, but TRL's dpo script takes none (its reference is the policy as loaded); export a job whose reference is the policy`,
    );
  }
  // maxLength 0 (unset) is the policy's context in dpo-ts (a run folder's config.json already holds the resolved value):
  // TRL gets that number, not its own default of 1024.
  if (config.maxLength === 0) {
    if (!fs.existsSync(path.join(policy, "config.json")))
      throw new CliError(
        `${from}: maxLength is unset (the model's context in dpo-ts) and ${policy} is no local model folder to read it from: pass max_length in the config`,
      );
    config.maxLength = readConfig(policy).nPositions;
  }
  const tokenizerDir = pick("tokenizer", "tokenizer");
  const tokenizer = await Tokenizer.fromDir(tokenizerDir ?? policy);
  const evalData = pick("eval-data", "evalData");
  const { trainRows, evalRows } = await jobRows(tokenizer, data, evalData, job.evalFraction ?? 0, config.seed, { skipInvalid: job.skipInvalid });
  // Conversational rows were rendered with the chat template and get no EOS in dpo-ts; as text, TRL appends the EOS
  // unless a completion already ends with it, so only those rows carry over unchanged.
  [...trainRows, ...evalRows].forEach((row, i) => {
    if (row.chatTemplated && !(row.chosen.endsWith(tokenizer.eosToken) && row.rejected.endsWith(tokenizer.eosToken))) {
      const where = row.source ? JSON.stringify(row.source) : `row ${i + 1}`;
      throw new CliError(
        `${where}: a conversational row whose completions do not end with the EOS token ${JSON.stringify(tokenizer.eosToken)}: TRL would append one that dpo-ts does not, so the exported job would train differently`,
      );
    }
  });
  checkPromptLengths(trainRows, config, (t) => tokenizer.encode(t, { addSpecialTokens: true }).length, data);
  checkPromptLengths(evalRows, config, (t) => tokenizer.encode(t, { addSpecialTokens: true }).length, evalData ?? data);
  const result = exportTrl({
    config: { ...config, evalStrategy: evalRows.length && config.evalStrategy === "no" ? "steps" : config.evalStrategy },
    policy,
    tokenizer: tokenizerDir,
    trainRows,
    evalRows,
    adapter: pick("adapter", "adapter"),
    out,
    copyModel: values["link-model"] !== true,
    numProcesses,
  });
  for (const n of result.notes) console.error(`dpo-ts export-trl: ${n}`);
  console.log(
    `exported ${trainRows.length} training pairs${evalRows.length ? ` and ${evalRows.length} evaluation pairs` : ""} to ${out}: ${result.files.length} files`,
  );
  console.log(`run it:  cd ${out} && trl dpo --config dpo_config.yaml     (many GPUs: ./launch.sh zero3 | ./launch.sh fsdp)`);
}
