/**
 * Preference pair -> token ids (the TRL DPOTrainer contract).
 *
 * Default ("separate", the contract of tests/fixtures/hf-tiny/expected.json):
 *   promptIds   = encode(prompt)                      no special tokens added; special tokens in the text are matched
 *   chosenIds   = encode(chosen)   + [EOS]            EOS id appended unless it is already the last id
 *   rejectedIds = encode(rejected) + [EOS]
 * Truncation:
 *   1. if maxPromptLength is set, the prompt keeps its LAST maxPromptLength tokens (truncated from the left);
 *   2. if maxLength is set, each completion keeps its FIRST maxLength - len(prompt) tokens (truncated from the right).
 *
 * TRL 1.13 (trl/trainer/dpo_trainer.py, dpo_config.py) has no max_prompt_length any more: DPOConfig.max_length = 1024,
 * truncation_mode = "keep_start" (the deprecated "keep_end" keeps the end instead); its collator cuts prompt+completion
 * to the first max_length tokens, which equals step 2, and the trainer drops examples whose prompt alone has
 * >= max_length tokens. Hence the defaults here: maxLength 1024, maxPromptLength none; {@link tokenizePairs} drops
 * (and reports) the same examples. TRL <= 0.x had max_prompt_length = 512 with left truncation of the prompt.
 *
 * "joint" mode reproduces TRL 1.13's own tokenization of non-conversational rows: EOS text appended to the completion
 * unless it already ends with it, then `tokenizer(prompt)` and `tokenizer(prompt + completion)` with the tokenizer's
 * default special tokens (post-processor, e.g. a Llama BOS), completion ids = the ids after the prompt's. It differs
 * from "separate" only when BPE merges across the prompt/completion boundary or the post-processor adds tokens.
 */
import type { Tokenizer } from "../tokenizer/tokenizer";
import type { PreferenceRow } from "./preferences";

export interface TokenizedPair {
  promptIds: number[];
  chosenIds: number[];
  rejectedIds: number[];
}

export interface TokenizeOptions {
  /** Max prompt + completion tokens (TRL DPOConfig.max_length). Default 1024; null = no limit. */
  maxLength?: number | null;
  /** Max prompt tokens, keeping the end. Default null (TRL 1.13 has no max_prompt_length). */
  maxPromptLength?: number | null;
  /** "separate" (default) or "joint" (TRL 1.13's tokenize-prompt+completion-together); see the file comment. */
  mode?: "separate" | "joint";
}

/** DPOConfig defaults of TRL 1.13. */
export const DEFAULT_MAX_LENGTH = 1024;

function checkLimit(name: string, v: number | null | undefined): void {
  if (v !== null && v !== undefined && !(Number.isInteger(v) && v > 0)) {
    throw new Error(`tokenizePair: ${name} must be a positive integer or null (got ${v})`);
  }
}

function completionIds(tok: Tokenizer, text: string): number[] {
  const ids = tok.encode(text, { addSpecialTokens: false });
  if (ids.length === 0 || ids[ids.length - 1] !== tok.eosTokenId) ids.push(tok.eosTokenId);
  return ids;
}

function jointIds(tok: Tokenizer, prompt: string, completion: string, promptIds: number[]): number[] {
  const text = completion.endsWith(tok.eosToken) ? completion : completion + tok.eosToken;
  return tok.encode(prompt + text, { addSpecialTokens: true }).slice(promptIds.length);
}

/** Tokenizes one pair (see the file comment). Completions may come out empty when the prompt fills maxLength. */
export function tokenizePair(row: PreferenceRow, tok: Tokenizer, opts: TokenizeOptions = {}): TokenizedPair {
  return tokenizePairReporting(row, tok, opts).pair;
}

/** tokenizePair, also saying whether the prompt or a completion was cut to fit the limits. */
function tokenizePairReporting(row: PreferenceRow, tok: Tokenizer, opts: TokenizeOptions): { pair: TokenizedPair; truncated: boolean } {
  const maxLength = opts.maxLength === undefined ? DEFAULT_MAX_LENGTH : opts.maxLength;
  const maxPromptLength = opts.maxPromptLength ?? null;
  checkLimit("maxLength", maxLength);
  checkLimit("maxPromptLength", maxPromptLength);
  let promptIds: number[], chosenIds: number[], rejectedIds: number[];
  if ((opts.mode ?? "separate") === "joint") {
    promptIds = tok.encode(row.prompt, { addSpecialTokens: true });
    chosenIds = jointIds(tok, row.prompt, row.chosen, promptIds);
    rejectedIds = jointIds(tok, row.prompt, row.rejected, promptIds);
  } else {
    promptIds = tok.encode(row.prompt, { addSpecialTokens: false });
    chosenIds = completionIds(tok, row.chosen);
    rejectedIds = completionIds(tok, row.rejected);
  }
  let truncated = false;
  if (maxPromptLength !== null && promptIds.length > maxPromptLength) {
    promptIds = promptIds.slice(promptIds.length - maxPromptLength);
    truncated = true;
  }
  if (maxLength !== null) {
    const room = Math.max(0, maxLength - promptIds.length);
    truncated ||= chosenIds.length > room || rejectedIds.length > room;
    chosenIds = chosenIds.slice(0, room);
    rejectedIds = rejectedIds.slice(0, room);
  }
  return { pair: { promptIds, chosenIds, rejectedIds }, truncated };
}

/**
 * Tokenizes a data set. Like TRL 1.13, pairs whose prompt leaves no room for a completion token
 * (len(prompt) >= maxLength after prompt truncation) are dropped; their 0-based indices are returned in `dropped`,
 * and the kept rows whose prompt or completions were cut in `truncated`.
 */
export function tokenizePairs(
  rows: readonly PreferenceRow[],
  tok: Tokenizer,
  opts: TokenizeOptions = {},
): { pairs: TokenizedPair[]; kept: number[]; dropped: number[]; truncated: number[] } {
  const pairs: TokenizedPair[] = [], kept: number[] = [], dropped: number[] = [], truncated: number[] = [];
  rows.forEach((row, i) => {
    const { pair: p, truncated: cut } = tokenizePairReporting(row, tok, opts);
    if (p.chosenIds.length === 0 || p.rejectedIds.length === 0) dropped.push(i);
    else {
      pairs.push(p);
      kept.push(i);
      if (cut) truncated.push(i);
    }
  });
  return { pairs, kept, dropped, truncated };
}
