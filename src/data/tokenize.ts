/**
 * Preference pair -> token ids (the TRL DPOTrainer contract), then truncation as TRL has it.
 *
 * Standard rows, default ("separate", the contract of tests/fixtures/hf-tiny/expected.json):
 *   promptIds   = encode(prompt)                      no special tokens added; special tokens in the text are matched
 *   chosenIds   = encode(chosen)   + [EOS]            EOS id appended unless it is already the last id
 *   rejectedIds = encode(rejected) + [EOS]
 * "joint" mode reproduces TRL 1.13's own tokenization of standard rows: EOS text appended to the completion unless it
 * already ends with it, then `tokenizer(prompt)` and `tokenizer(prompt + completion)` with the tokenizer's default
 * special tokens (post-processor, e.g. a Llama BOS), completion ids = the ids after the prompt's. It differs from
 * "separate" only when BPE merges across the prompt/completion boundary or the post-processor adds tokens.
 *
 * Conversational rows (`chatTemplated`, see rows.ts) are tokenized as TRL 1.13 does (trainer/dpo_trainer.py,
 * tokenize_fn): the rendered text already holds the template's BOS and end-of-turn tokens, so no special tokens are
 * added and no EOS is appended: promptIds = encode(prompt), chosenIds = encode(prompt + chosen) after the prompt's ids.
 *
 * Truncation, in this order (every knob documented with the TRL version that had it):
 *   1. maxPromptLength (legacy, TRL 0.x's max_prompt_length, default 512 there; TRL 1.x removed it): the prompt keeps
 *      its LAST maxPromptLength tokens.
 *   2. maxCompletionLength (legacy, TRL 0.x's max_completion_length, default None there): each completion keeps its
 *      FIRST maxCompletionLength tokens.
 *   3. maxLength (TRL's max_length: 1024 in TRL 1.x and 0.x) with truncationMode, applied to each prompt+completion
 *      sequence as TRL 1.13's DataCollatorForPreference does:
 *        "keep_start" (TRL 1.x default): the sequence keeps its first maxLength tokens, so the completion is cut at
 *                     its end; rows whose prompt alone has >= maxLength tokens are dropped (TRL 1.13 filters them).
 *        "keep_end"   (TRL 0.x default for the prompt, deprecated in TRL 1.x): the sequence keeps its last maxLength
 *                     tokens, so the prompt is cut at its start; chosen and rejected keep different amounts of
 *                     prompt when their lengths differ (`rejectedPromptIds`).
 * Any row whose chosen or rejected completion ends up empty is dropped (and reported by its source line).
 */
import type { Tokenizer } from "../tokenizer/tokenizer";
import type { PreferenceRow } from "./preferences";
import { formatSource } from "./readers";

/** A preference pair as token ids: the prompt and both completions, as TRL's tokenize step gives them. */
export interface TokenizedPair {
  /** Prompt ids of the chosen sequence (and of the rejected one unless rejectedPromptIds is set). */
  promptIds: number[];
  chosenIds: number[];
  rejectedIds: number[];
  /** Prompt ids of the rejected sequence when keep_end truncation left it a different prompt tail. */
  rejectedPromptIds?: number[];
}

/** Which end of a too-long sequence is kept (TRL's truncation_mode). */
export type TruncationMode = "keep_start" | "keep_end";

/** Options of pair tokenization: max lengths, truncation and whether to append EOS. */
export interface TokenizeOptions {
  /** Max prompt + completion tokens of each sequence (TRL DPOConfig.max_length). Default 1024; null = no limit. */
  maxLength?: number | null;
  /** Which end of a too-long sequence stays (TRL truncation_mode). Default "keep_start". */
  truncationMode?: TruncationMode;
  /** Legacy (TRL 0.x): max prompt tokens, keeping the end. Default null. */
  maxPromptLength?: number | null;
  /** Legacy (TRL 0.x): max tokens of each completion, keeping the start. Default null. */
  maxCompletionLength?: number | null;
  /** "separate" (default) or "joint" (TRL 1.13's tokenize-prompt+completion-together) for standard rows. */
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

function jointIds(tok: Tokenizer, prompt: string, completion: string, promptIds: number[], addEos: boolean, special: boolean): number[] {
  const text = !addEos || completion.endsWith(tok.eosToken) ? completion : completion + tok.eosToken;
  return tok.encode(prompt + text, { addSpecialTokens: special }).slice(promptIds.length);
}

/** Token ids before truncation (see the file comment). */
function untruncated(row: PreferenceRow, tok: Tokenizer, mode: "separate" | "joint"): TokenizedPair {
  if (row.chatTemplated) {
    const promptIds = tok.encode(row.prompt, { addSpecialTokens: false });
    return {
      promptIds,
      chosenIds: jointIds(tok, row.prompt, row.chosen, promptIds, false, false),
      rejectedIds: jointIds(tok, row.prompt, row.rejected, promptIds, false, false),
    };
  }
  if (mode === "joint") {
    const promptIds = tok.encode(row.prompt, { addSpecialTokens: true });
    return {
      promptIds,
      chosenIds: jointIds(tok, row.prompt, row.chosen, promptIds, true, true),
      rejectedIds: jointIds(tok, row.prompt, row.rejected, promptIds, true, true),
    };
  }
  return { promptIds: tok.encode(row.prompt, { addSpecialTokens: false }), chosenIds: completionIds(tok, row.chosen), rejectedIds: completionIds(tok, row.rejected) };
}

/** Tokenizes one pair (see the file comment). Completions may come out empty when the prompt fills maxLength. */
export function tokenizePair(row: PreferenceRow, tok: Tokenizer, opts: TokenizeOptions = {}): TokenizedPair {
  const maxLength = opts.maxLength === undefined ? DEFAULT_MAX_LENGTH : opts.maxLength;
  const maxPromptLength = opts.maxPromptLength ?? null, maxCompletionLength = opts.maxCompletionLength ?? null;
  const mode = opts.truncationMode ?? "keep_start";
  checkLimit("maxLength", maxLength);
  checkLimit("maxPromptLength", maxPromptLength);
  checkLimit("maxCompletionLength", maxCompletionLength);
  if (mode !== "keep_start" && mode !== "keep_end") throw new Error(`tokenizePair: truncationMode must be "keep_start" or "keep_end" (got ${JSON.stringify(mode)})`);
  let { promptIds, chosenIds, rejectedIds } = untruncated(row, tok, opts.mode ?? "separate");
  if (maxPromptLength !== null && promptIds.length > maxPromptLength) promptIds = promptIds.slice(promptIds.length - maxPromptLength);
  if (maxCompletionLength !== null) {
    chosenIds = chosenIds.slice(0, maxCompletionLength);
    rejectedIds = rejectedIds.slice(0, maxCompletionLength);
  }
  if (maxLength === null) return { promptIds, chosenIds, rejectedIds };
  if (mode === "keep_start") {
    const room = Math.max(0, maxLength - promptIds.length);
    return { promptIds: promptIds.slice(0, maxLength), chosenIds: chosenIds.slice(0, room), rejectedIds: rejectedIds.slice(0, room) };
  }
  // keep_end: each sequence keeps its last maxLength tokens
  const tail = (completion: number[]) => ({
    prompt: promptIds.slice(Math.max(0, promptIds.length - Math.max(0, maxLength - completion.length))),
    completion: completion.slice(Math.max(0, completion.length - maxLength)),
  });
  const c = tail(chosenIds), r = tail(rejectedIds);
  const out: TokenizedPair = { promptIds: c.prompt, chosenIds: c.completion, rejectedIds: r.completion };
  if (r.prompt.length !== c.prompt.length) out.rejectedPromptIds = r.prompt;
  return out;
}

/** A row left out by {@link tokenizePairs}: its index in the input, its source, and why. */
export interface DroppedRow {
  index: number;
  /** `file:line` (or `row N` when the row has no source). */
  where: string;
  reason: string;
}

/** What truncation did to a data set: how many rows had their prompt / chosen / rejected cut. */
export interface TruncationCounts {
  rows: number;
  prompt: number;
  chosen: number;
  rejected: number;
}

/**
 * Tokenizes a data set. Like TRL 1.13, pairs whose completion would be empty (keep_start: the prompt fills
 * maxLength) are dropped: their 0-based indices are in `dropped`, with source lines and reasons in `droppedRows`.
 */
export function tokenizePairs(
  rows: readonly PreferenceRow[],
  tok: Tokenizer,
  opts: TokenizeOptions = {},
): { pairs: TokenizedPair[]; kept: number[]; dropped: number[]; droppedRows: DroppedRow[]; truncated: TruncationCounts } {
  const pairs: TokenizedPair[] = [], kept: number[] = [], dropped: number[] = [], droppedRows: DroppedRow[] = [];
  const truncated: TruncationCounts = { rows: 0, prompt: 0, chosen: 0, rejected: 0 };
  const full = { ...opts, maxLength: null, maxPromptLength: null, maxCompletionLength: null };
  rows.forEach((row, i) => {
    const p = tokenizePair(row, tok, opts);
    const where = row.source ? formatSource(row.source) : `row ${i + 1}`;
    if (p.chosenIds.length === 0 || p.rejectedIds.length === 0) {
      const n = untruncated(row, tok, opts.mode ?? "separate").promptIds.length;
      dropped.push(i);
      droppedRows.push({ index: i, where, reason: `${p.chosenIds.length === 0 ? "chosen" : "rejected"} completion would be empty (prompt ${n} tokens, maxLength ${opts.maxLength ?? DEFAULT_MAX_LENGTH}${opts.maxCompletionLength ? `, maxCompletionLength ${opts.maxCompletionLength}` : ""})` });
      return;
    }
    const u = tokenizePair(row, tok, full);
    const cutPrompt = p.promptIds.length < u.promptIds.length || (p.rejectedPromptIds?.length ?? u.promptIds.length) < u.promptIds.length;
    const cutChosen = p.chosenIds.length < u.chosenIds.length, cutRejected = p.rejectedIds.length < u.rejectedIds.length;
    if (cutPrompt) truncated.prompt++;
    if (cutChosen) truncated.chosen++;
    if (cutRejected) truncated.rejected++;
    if (cutPrompt || cutChosen || cutRejected) truncated.rows++;
    pairs.push(p);
    kept.push(i);
  });
  return { pairs, kept, dropped, droppedRows, truncated };
}
