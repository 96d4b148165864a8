/**
 * Raw rows -> checked preference rows, in the formats TRL defines (trl/data_utils.py):
 *
 * - "standard":       {prompt, chosen, rejected} strings.
 * - "conversational": {prompt, chosen, rejected} lists of {role, content} messages. The chat template is applied as
 *                     TRL does: prompt = template(prompt, add_generation_prompt=True); each completion = what
 *                     template(prompt + completion) renders after the prompt, so the completion ends with the
 *                     template's own end-of-turn tokens (no EOS is appended to these rows, see tokenize.ts).
 * - "implicit":       only chosen/rejected (strings or message lists): the prompt is their longest common prefix,
 *                     exactly as TRL's extract_prompt (for strings a space before the split stays with the completions;
 *                     for messages the prefix is whole messages). Like TRL's maybe_extract_prompt, a string "prompt"
 *                     column beside conversational chosen/rejected is ignored (reported in the summary).
 * - "orca":           the Intel/orca_dpo_pairs columns {system, question, chosen, rejected}, formatted to ChatML as in
 *                     the article (src/data/format.ts): the one built-in column mapping besides `columns`.
 *
 * `columns` maps other column names onto these, e.g. `{prompt: "instruction", chosen: "better", rejected: "worse"}`.
 *
 * Checks, each naming file, line (or Parquet row) and field: wrong types, missing columns (listing the row's
 * columns), invalid UTF-8 (Parquet bytes), lone surrogates, empty or whitespace-only text, chosen identical to
 * rejected. Text is never changed.
 */
import { Template } from "@huggingface/jinja";
import type { ChatMessage, Tokenizer } from "../tokenizer/tokenizer";
import { CHATML_TEMPLATE } from "../tokenizer/train-bpe";
import { chatmlFormat } from "./format";
import type { PreferenceRow } from "./preferences";
import { decodeUtf8, formatSource, RawRow, RowError, RowSource } from "./readers";

/** TRL's preference data formats (standard, conversational, implicit prompt) plus Intel/orca_dpo_pairs columns. */
export type PreferenceFormat = "standard" | "conversational" | "implicit" | "orca";
/** Every {@link PreferenceFormat}, in the order the CLI lists them. */
export const PREFERENCE_FORMATS: readonly PreferenceFormat[] = ["standard", "conversational", "implicit", "orca"];

/** Canonical column names a `columns` mapping may rename. */
export type ColumnName = "prompt" | "chosen" | "rejected" | "system" | "question";

/** The Intel/orca_dpo_pairs columns (the article's data set). */
export const ORCA_COLUMNS: readonly ColumnName[] = ["system", "question", "chosen", "rejected"];

/** The format of one row plus whether its texts are message lists ("implicit" rows can be either). */
export interface RowKind {
  format: PreferenceFormat;
  conversational: boolean;
  /** A string prompt column beside conversational chosen/rejected, ignored as TRL's maybe_extract_prompt does. */
  promptIgnored?: boolean;
}

/** A row kind's name for messages: the format, with "standard" or "conversational" for implicit-prompt rows. */
export function kindName(k: RowKind): string {
  return k.format === "implicit" ? `implicit (${k.conversational ? "conversational" : "standard"})` : k.format;
}

/** What renders chat templates: a tokenizer, or (none given) the built-in ChatML template. */
export type ChatRenderer = Pick<Tokenizer, "chatTemplate" | "applyChatTemplate">;

/** A renderer of {@link CHATML_TEMPLATE} for when no tokenizer is given (character counts in `data inspect`). */
export function chatmlRenderer(): ChatRenderer {
  const template = new Template(CHATML_TEMPLATE);
  return {
    chatTemplate: CHATML_TEMPLATE,
    applyChatTemplate: (messages: ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}) =>
      template.render({ messages, add_generation_prompt: opts.addGenerationPrompt ?? false, bos_token: "", eos_token: "<|im_end|>" }),
  };
}

function columnsOf(row: RawRow): string {
  const names = row.columns ?? Object.keys(row.value);
  return names.length ? names.join(", ") : "none";
}

/** The file columns a row of any format may use, under the mapping (what a Parquet reader needs to decode). */
export function usedColumns(columns: Partial<Record<ColumnName, string>> = {}): string[] {
  return (["prompt", "chosen", "rejected", "system", "question"] as const).map((n) => columns[n] ?? n);
}

/** The value of canonical column `name` under the mapping. */
function get(row: RawRow, name: ColumnName, columns: Partial<Record<ColumnName, string>>): unknown {
  return row.value[columns[name] ?? name];
}

function has(row: RawRow, name: ColumnName, columns: Partial<Record<ColumnName, string>>): boolean {
  const v = get(row, name, columns);
  return v !== undefined;
}

const isMessageList = (v: unknown): boolean =>
  Array.isArray(v) && v.length > 0 && v[0] !== null && typeof v[0] === "object" && "role" in (v[0] as object);

/**
 * The kind of one row (TRL's is_conversational / maybe_extract_prompt rules), or a RowError listing the row's
 * columns when it has none of the formats' columns.
 */
/** The kinds classifyRow returns (shared, frozen: one object per kind, not per row). */
const KINDS = {
  standard: Object.freeze<RowKind>({ format: "standard", conversational: false }),
  conversational: Object.freeze<RowKind>({ format: "conversational", conversational: true }),
  orca: Object.freeze<RowKind>({ format: "orca", conversational: false }),
  implicitStandard: Object.freeze<RowKind>({ format: "implicit", conversational: false }),
  implicitConversational: Object.freeze<RowKind>({ format: "implicit", conversational: true }),
  implicitPromptIgnored: Object.freeze<RowKind>({ format: "implicit", conversational: true, promptIgnored: true }),
};

const NO_MAPPING: Partial<Record<ColumnName, string>> = Object.freeze({});

/**
 * The kind of one row (TRL's is_conversational / maybe_extract_prompt rules), or a RowError listing the row's
 * columns when it has none of the formats' columns.
 */
export function classifyRow(row: RawRow, columns: Partial<Record<ColumnName, string>> = NO_MAPPING): RowKind {
  const col = (n: ColumnName) => columns[n] ?? n;
  const hasChosen = has(row, "chosen", columns), hasRejected = has(row, "rejected", columns);
  if (!hasChosen || !hasRejected) {
    const missing = !hasChosen ? "chosen" : "rejected";
    throw new RowError(row.source, col(missing), `is missing: a preference row needs "${col("chosen")}" and "${col("rejected")}" (plus "${col("prompt")}", or "${col("question")}" for orca rows); the row has columns: ${columnsOf(row)}`);
  }
  const conversational = isMessageList(get(row, "chosen", columns));
  if (has(row, "prompt", columns)) {
    const promptConversational = isMessageList(get(row, "prompt", columns));
    if (conversational && !promptConversational && typeof get(row, "prompt", columns) === "string") return KINDS.implicitPromptIgnored;
    return promptConversational ? KINDS.conversational : KINDS.standard;
  }
  if (has(row, "question", columns)) return KINDS.orca;
  return conversational ? KINDS.implicitConversational : KINDS.implicitStandard;
}

function describe(v: unknown): string {
  if (v === undefined) return "missing";
  if (v === null) return "got null";
  if (Array.isArray(v)) return "got an array";
  if (typeof v === "string") return v === "" ? "got an empty string" : v.trim() === "" ? "got whitespace only" : "got a string";
  return `got ${typeof v}`;
}

/** A UTF-16 surrogate without its pair (e.g. from a JSON "\\ud800" escape): not text any encoder can write. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Empty or whitespace only; a printable ASCII character at either end settles it without trim()'s scan. */
function isBlank(s: string): boolean {
  const first = s.charCodeAt(0), last = s.charCodeAt(s.length - 1);
  if ((first > 32 && first < 127) || (last > 32 && last < 127)) return false;
  return s.trim() === "";
}

/** String.prototype.isWellFormed (ES2024, Node 20+): O(1) for V8's one-byte strings, where the regex scans. */
const nativeIsWellFormed = (String.prototype as { isWellFormed?: () => boolean }).isWellFormed;
const isWellFormed = (s: string): boolean => (nativeIsWellFormed ? nativeIsWellFormed.call(s) : !LONE_SURROGATE.test(s));

/**
 * A checked text field: strings (or Parquet bytes, decoded strictly); `allowEmpty` lets "" through (orca system).
 * `wellFormed`: the reader vouches that a string came from strict UTF-8 decoding without escapes (RawRow.wellFormed),
 * so the lone-surrogate scan is skipped (bytes decoded here are well-formed either way).
 */
export function textField(v: unknown, source: RowSource, field: string, allowEmpty = false, wellFormed = false): string {
  // the common case first: a string that passes every check below
  if (typeof v === "string" && (allowEmpty || !isBlank(v)) && (wellFormed || isWellFormed(v))) return v;
  if (v instanceof Uint8Array) {
    try {
      v = decodeUtf8(v);
    } catch (e) {
      throw new RowError(source, field, (e as Error).message);
    }
  }
  const what = allowEmpty ? "a string" : "a non-empty string";
  if (typeof v !== "string" || (!allowEmpty && isBlank(v))) {
    const hint = Array.isArray(v) ? "; a list of messages here needs every text column conversational" : "";
    throw new RowError(source, field, `must be ${what} (${describe(v)}${hint})`);
  }
  const lone = wellFormed || isWellFormed(v) ? null : LONE_SURROGATE.exec(v);
  if (lone) {
    const code = lone[0].charCodeAt(0).toString(16).toUpperCase();
    throw new RowError(source, field, `contains a lone surrogate U+${code} at character ${lone.index + 1} (not valid Unicode text)`);
  }
  return v;
}

/** A checked list of {role, content} messages. */
function messagesField(v: unknown, source: RowSource, field: string, wellFormed = false): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) {
    throw new RowError(source, field, `must be a non-empty list of {role, content} messages (${Array.isArray(v) ? "got an empty list" : describe(v)})`);
  }
  return v.map((m, i) => {
    if (m === null || typeof m !== "object" || Array.isArray(m)) throw new RowError(source, `${field}[${i}]`, `must be a {role, content} message (${describe(m)})`);
    const msg = m as Record<string, unknown>;
    return { role: textField(msg.role, source, `${field}[${i}].role`, false, wellFormed), content: textField(msg.content, source, `${field}[${i}].content`, false, wellFormed) };
  });
}

const sameMessage = (a: ChatMessage, b: ChatMessage) => a.role === b.role && a.content === b.content;

/**
 * TRL's extract_prompt, for strings and message lists alike: the prompt is chosen[:idx] where idx is the first
 * position where chosen and rejected differ (moved back one when chosen[idx-1] is " ", so the space stays with the
 * completions). As in TRL's Python loop, when no position differs idx is the last index compared, min(len)-1.
 */
export function extractPrompt<T>(chosen: T[], rejected: T[], equal: (a: T, b: T) => boolean): { prompt: T[]; chosen: T[]; rejected: T[] } {
  const n = Math.min(chosen.length, rejected.length);
  let idx = n - 1;
  for (let i = 0; i < n; i++) {
    if (!equal(chosen[i], rejected[i])) {
      idx = i;
      if (i > 0 && (chosen[i - 1] as unknown) === " ") idx = i - 1;
      break;
    }
  }
  return { prompt: chosen.slice(0, idx), chosen: chosen.slice(idx), rejected: rejected.slice(idx) };
}

/** TRL's apply_chat_template for a conversational preference example (text, not yet token ids). */
function renderConversation(prompt: ChatMessage[], chosen: ChatMessage[], rejected: ChatMessage[], renderer: ChatRenderer, source: RowSource): Omit<PreferenceRow, "source"> {
  const last = prompt[prompt.length - 1].role;
  if (last !== "user" && last !== "tool") {
    throw new RowError(source, "prompt", `last prompt message has role "${last}"; a conversational prompt must end with a "user" or "tool" message (TRL's rule; continuing an assistant message is not supported)`);
  }
  const promptText = renderer.applyChatTemplate(prompt, { addGenerationPrompt: true });
  const fullChosen = renderer.applyChatTemplate([...prompt, ...chosen]);
  const fullRejected = renderer.applyChatTemplate([...prompt, ...rejected]);
  // TRL keeps the common prefix of the three renderings as the prompt (templates that add tokens after the
  // generation prompt, e.g. DeepSeek-R1); for ordinary templates it is the generation-prompt rendering itself.
  let n = 0;
  while (n < promptText.length && promptText[n] === fullChosen[n] && promptText[n] === fullRejected[n]) n++;
  return { prompt: promptText.slice(0, n), chosen: fullChosen.slice(n), rejected: fullRejected.slice(n), chatTemplated: true };
}

/** How rows become {@link PreferenceRow}s: renamed columns and the renderer for message lists. */
export interface ConvertOptions {
  columns?: Partial<Record<ColumnName, string>>;
  /** Renders conversational and orca rows; default the built-in ChatML template. */
  renderer?: ChatRenderer;
}

/**
 * A standard row's values (the common case: no intermediate objects) -> a checked preference row with `source`;
 * throws RowError on any problem. `wellFormed` as for {@link textField}. Also used by the loader on Parquet columns.
 */
export function standardRow(prompt: unknown, chosen: unknown, rejected: unknown, source: RowSource, columns: Partial<Record<ColumnName, string>>, wellFormed: boolean): PreferenceRow {
  const chosenText = textField(chosen, source, columns.chosen ?? "chosen", false, wellFormed);
  const rejectedText = textField(rejected, source, columns.rejected ?? "rejected", false, wellFormed);
  if (chosenText === rejectedText) throw new RowError(source, columns.rejected ?? "rejected", `is identical to "${columns.chosen ?? "chosen"}" (nothing to prefer)`);
  return { prompt: textField(prompt, source, columns.prompt ?? "prompt", false, wellFormed), chosen: chosenText, rejected: rejectedText, source };
}

/** One raw row of kind `kind` -> a checked preference row with its source; throws RowError on any problem. */
export function convertRow(row: RawRow, kind: RowKind, opts: ConvertOptions = {}): PreferenceRow {
  const columns = opts.columns ?? NO_MAPPING;
  const src = row.source;
  const wellFormed = row.wellFormed === true;
  if (kind.format === "standard" && !kind.conversational) {
    return standardRow(get(row, "prompt", columns), get(row, "chosen", columns), get(row, "rejected", columns), src, columns, wellFormed);
  }
  const col = (n: ColumnName) => columns[n] ?? n;
  // the built-in template is parsed only for rows that need a template
  let chatml: ChatRenderer | undefined;
  const renderer = (): ChatRenderer => opts.renderer ?? (chatml ??= chatmlRenderer());
  let out: Omit<PreferenceRow, "source">;
  if (kind.format === "orca") {
    const orca = {
      system: textField(get(row, "system", columns), src, col("system"), true, wellFormed),
      question: textField(get(row, "question", columns), src, col("question"), false, wellFormed),
      chosen: textField(get(row, "chosen", columns), src, col("chosen"), false, wellFormed),
      rejected: textField(get(row, "rejected", columns), src, col("rejected"), false, wellFormed),
    };
    if (orca.chosen === orca.rejected) throw new RowError(src, col("rejected"), `is identical to "${col("chosen")}" (nothing to prefer)`);
    out = chatmlFormat(orca, renderer());
  } else if (!kind.conversational) {
    const chosen = textField(get(row, "chosen", columns), src, col("chosen"), false, wellFormed);
    const rejected = textField(get(row, "rejected", columns), src, col("rejected"), false, wellFormed);
    if (chosen === rejected) throw new RowError(src, col("rejected"), `is identical to "${col("chosen")}" (nothing to prefer)`);
    if (kind.format === "standard") {
      out = { prompt: textField(get(row, "prompt", columns), src, col("prompt"), false, wellFormed), chosen, rejected };
    } else {
      const e = extractPrompt([...chosen], [...rejected], (a, b) => a === b);
      out = { prompt: e.prompt.join(""), chosen: e.chosen.join(""), rejected: e.rejected.join("") };
      if (out.prompt.trim() === "") throw new RowError(src, col("chosen"), `and "${col("rejected")}" share no prefix, so the implicit prompt would be empty`);
      if (out.chosen === "" || out.rejected === "") throw new RowError(src, out.chosen === "" ? col("chosen") : col("rejected"), "is a prefix of the other completion, so its completion would be empty");
    }
  } else {
    const chosen = messagesField(get(row, "chosen", columns), src, col("chosen"), wellFormed);
    const rejected = messagesField(get(row, "rejected", columns), src, col("rejected"), wellFormed);
    if (chosen.length === rejected.length && chosen.every((m, i) => sameMessage(m, rejected[i]))) {
      throw new RowError(src, col("rejected"), `is identical to "${col("chosen")}" (nothing to prefer)`);
    }
    if (kind.format === "conversational") {
      out = renderConversation(messagesField(get(row, "prompt", columns), src, col("prompt"), wellFormed), chosen, rejected, renderer(), src);
    } else {
      const e = extractPrompt(chosen, rejected, sameMessage);
      if (e.prompt.length === 0) throw new RowError(src, col("chosen"), `and "${col("rejected")}" share no leading message, so the implicit prompt would be empty`);
      if (e.chosen.length === 0 || e.rejected.length === 0) throw new RowError(src, e.chosen.length === 0 ? col("chosen") : col("rejected"), "has no messages after the shared prompt");
      out = renderConversation(e.prompt, e.chosen, e.rejected, renderer(), src);
    }
  }
  if (out.chosen === "" || out.rejected === "") throw new RowError(src, out.chosen === "" ? col("chosen") : col("rejected"), "renders to no text after the prompt");
  return { ...out, source: src };
}

export { formatSource };
