/**
 * Orca rows -> ChatML preference rows, as in Maxime Labonne's "Fine-tune Mistral-7b with Direct Preference
 * Optimization" (the `chatml_format` function there):
 *
 *   system   = apply_chat_template([{role: "system", content: system}], tokenize=False)   if system != "" else ""
 *   prompt   = system + apply_chat_template([{role: "user", content: question}], tokenize=False, add_generation_prompt=True)
 *   chosen   = chosen   + "<|im_end|>\n"
 *   rejected = rejected + "<|im_end|>\n"
 *
 * The completion suffix is ChatML's end-of-turn marker `<|im_end|>` followed by a newline, written literally as in the
 * article. For ChatML tokenizers `<|im_end|>` is also the EOS token (`tok.eosToken`), so it becomes one token id.
 * {@link tokenizePair} then appends the EOS id after the final "\n" (TRL appends EOS to every completion unless it
 * already ends with it), so a completion ends `<|im_end|> \n <|im_end|>`, exactly as TRL would tokenize this text.
 *
 * The tokenizer's own chat template renders the messages; a tokenizer without one uses {@link CHATML_TEMPLATE}.
 */
import type { Tokenizer } from "../tokenizer/tokenizer";
import { CHATML_TEMPLATE } from "../tokenizer/train-bpe";
import type { OrcaRow, PreferenceRow, InstructionRow } from "./preferences";

/** What renders chat templates: a Tokenizer, or a stand-in with the built-in ChatML template (rows.ts). */
type ChatRenderer = Pick<Tokenizer, "chatTemplate" | "applyChatTemplate">;

export type { OrcaRow, PreferenceRow, InstructionRow };

/** ChatML end of turn appended to each completion. */
export const CHATML_END = "<|im_end|>\n";

function render(tok: ChatRenderer, role: string, content: string, addGenerationPrompt: boolean): string {
  const messages = [{ role, content }];
  return tok.chatTemplate !== null
    ? tok.applyChatTemplate(messages, { addGenerationPrompt })
    : tok.applyChatTemplate(messages, { addGenerationPrompt, chatTemplate: CHATML_TEMPLATE });
}

/** The ChatML prompt of an orca row: optional system turn + user turn + the assistant header. */
export function chatmlPrompt(system: string, question: string, tok: ChatRenderer): string {
  const sys = system.length > 0 ? render(tok, "system", system, false) : "";
  return sys + render(tok, "user", question, true);
}

/** Orca row -> `{prompt, chosen, rejected}` in ChatML (see the file comment). */
export function chatmlFormat(row: OrcaRow, tok: ChatRenderer): PreferenceRow {
  return {
    prompt: chatmlPrompt(row.system, row.question, tok),
    chosen: row.chosen + CHATML_END,
    rejected: row.rejected + CHATML_END,
  };
}

/** SFT row -> `{prompt, completion}` with the same ChatML layout (completion = answer + "<|im_end|>\n"). */
export function chatmlInstruction(row: InstructionRow, tok: Tokenizer): { prompt: string; completion: string } {
  return { prompt: chatmlPrompt(row.system, row.question, tok), completion: row.answer + CHATML_END };
}

/**
 * A whole ChatML conversation as plain text (what {@link CHATML_TEMPLATE} renders for system/user/assistant turns),
 * without needing a tokenizer: used to build tokenizer-training corpora.
 */
export function chatmlConversation(system: string, question: string, answer: string): string {
  const turn = (role: string, content: string) => `<|im_start|>${role}\n${content}<|im_end|>\n`;
  return (system.length > 0 ? turn("system", system) : "") + turn("user", question) + turn("assistant", answer);
}
