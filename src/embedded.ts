/**
 * The data and model shipped inside the package (its data/ folder), as absolute paths, so a user's script finds them
 * wherever dpo-ts is installed: `loadModel(EMBEDDED.sftModel)` works in any project, not only in this repository.
 */
import * as fs from "fs";
import * as path from "path";

/** The package's data/ folder: next to dist/ in an installed package (and next to src/ in the repository). */
const DATA_DIR = path.resolve(__dirname, "..", "data");

/** Absolute paths of the embedded data (see README.md, "The embedded default"). */
export const EMBEDDED = {
  /** The package's data/ folder. */
  dir: DATA_DIR,
  /** The SFT policy the course starts from: a Hugging Face model folder (config.json, model.safetensors, tokenizer). */
  sftModel: path.join(DATA_DIR, "sft-model"),
  /** The byte-level BPE tokenizer with ChatML specials (tokenizer.json, tokenizer_config.json). */
  tokenizer: path.join(DATA_DIR, "tokenizer"),
  /** 600 preference rows in Intel/orca_dpo_pairs' columns (system, question, chosen, rejected), JSONL. */
  orcaDpoPairs: path.join(DATA_DIR, "orca_dpo_pairs.jsonl"),
  /** Held-out world prompts ({system, question}, JSONL) that no training file contains: what the judge and the frontier use. */
  heldOutPrompts: path.join(DATA_DIR, "held-out-prompts.jsonl"),
  /** 2,000 instruction rows (system, question, answer), JSONL: the SFT data. */
  sft: path.join(DATA_DIR, "sft.jsonl"),
} as const;

/** This package's version, read from its package.json (one source of truth for the library, the CLI and notebooks). */
export function packageVersion(): string {
  const file = path.resolve(__dirname, "..", "package.json");
  return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
}
