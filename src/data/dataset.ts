/**
 * One entry point for preference data, whatever its columns: TRL's standard rows (prompt/chosen/rejected) are used
 * as they are; Intel/orca_dpo_pairs rows (system/question/chosen/rejected) are formatted to ChatML like the article.
 */
import * as fs from "fs";
import type { Tokenizer } from "../tokenizer/tokenizer";
import { resolveHubDataset, HubDatasetOptions } from "../hub/dataset-files";
import { looksLikeRepoId } from "../hub/repo-id";
import { chatmlFormat } from "./format";
import { PreferenceRow, readJsonObjects, readOrcaFile, readPreferenceFile } from "./preferences";

export type PreferenceFormat = "standard" | "orca";

/** Which format a file's first row is in. */
export function detectPreferenceFormat(file: string): PreferenceFormat {
  const rows = readJsonObjects(file);
  if (rows.length === 0) throw new Error(`${file}: no rows`);
  const first = rows[0];
  if ("prompt" in first.value) return "standard";
  if ("question" in first.value) return "orca";
  throw new Error(`${first.where}: a preference row needs "prompt" (standard format) or "question" (orca format) besides "chosen" and "rejected"`);
}

/** Reads a preference file (JSONL or JSON array) as prompt/chosen/rejected text rows. */
export function loadPreferenceDataset(file: string, tokenizer: Tokenizer): PreferenceRow[] {
  return detectPreferenceFormat(file) === "orca" ? readOrcaFile(file).map((row) => chatmlFormat(row, tokenizer)) : readPreferenceFile(file);
}

/**
 * The local files of a preference data source: an existing file or folder as it is; else a Hub data set id
 * ("Intel/orca_dpo_pairs"), whose split (`opts.split`, default "train") is downloaded into the Hugging Face cache
 * (or found there, offline too) — see resolveHubDataset.
 */
export async function resolvePreferenceSource(source: string, opts: HubDatasetOptions = {}): Promise<string[]> {
  if (fs.existsSync(source) || !looksLikeRepoId(source)) return [source];
  return (await resolveHubDataset(source, opts)).files;
}
