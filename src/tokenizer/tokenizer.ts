/**
 * Hugging Face tokenizers in TypeScript: `tokenizer.json` (the fast-tokenizer file), `tokenizer_config.json`
 * (special tokens) and the chat template (`chat_template.jinja`, else `tokenizer_config.json`'s `chat_template`).
 *
 * Encoding runs on `@huggingface/tokenizers` (a pure-JS port of the Rust `tokenizers` library); chat templates render
 * with `@huggingface/jinja` (trim_blocks + lstrip_blocks, as transformers does). Special tokens written inside text
 * (e.g. `<|im_start|>`) are matched as single tokens, as Hugging Face does.
 */
import * as fs from "fs";
import * as path from "path";
import { Tokenizer as HFTokenizer } from "@huggingface/tokenizers";
import { Template } from "@huggingface/jinja";
import { resolvePretrained } from "../hub/model-files";
import type { HubOptions } from "../hub/snapshot";

/** One chat message: its role ("system", "user", "assistant") and text. */
export interface ChatMessage {
  role: string;
  content: string;
}

/** JSON object as read from disk. */
type Json = { [key: string]: unknown };

/** In-memory contents of a tokenizer folder. */
export interface TokenizerFiles {
  /** Parsed `tokenizer.json`. */
  tokenizerJson: Json;
  /** Parsed `tokenizer_config.json` (may be `{}`; special tokens then come from `specialTokensMap`). */
  tokenizerConfig: Json;
  /** Chat template source (Jinja), or null when the tokenizer has none. */
  chatTemplate?: string | null;
  /** Parsed `special_tokens_map.json` (older HF folders keep special tokens there). */
  specialTokensMap?: Json | null;
  /** Where the files came from, for error messages. */
  source?: string;
}

function readJson(file: string, required: boolean): Json | null {
  if (!fs.existsSync(file)) {
    if (required) throw new Error(`${file}: file not found`);
    return null;
  }
  const text = fs.readFileSync(file, "utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error(`${file}: expected a JSON object at the top level`);
  }
  return value as Json;
}

/** A special token in tokenizer_config.json is a string or an AddedToken object `{content: "..."}`. */
function tokenString(value: unknown, field: string, file: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === "string") return value;
  if (typeof value === "object" && typeof (value as Json).content === "string") return (value as Json).content as string;
  throw new Error(`${file}: field "${field}" must be a string or an object with a string "content"`);
}

/** The chat template from tokenizer_config.json: a string, or a list of {name, template} (the "default" one is used). */
function configChatTemplate(config: Json, file: string): string | null {
  const ct = config.chat_template;
  if (ct === undefined || ct === null) return null;
  if (typeof ct === "string") return ct;
  if (Array.isArray(ct)) {
    const named = ct as Array<{ name?: unknown; template?: unknown }>;
    const def = named.find((t) => t && t.name === "default") ?? named[0];
    if (def && typeof def.template === "string") return def.template;
  }
  throw new Error(`${file}: field "chat_template" must be a string or a list of {name, template} objects`);
}

/** A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json): encode, decode, special tokens and the chat template. */
export class Tokenizer {
  /** id of the end-of-sequence token (`eos_token` in tokenizer_config.json). */
  readonly eosTokenId: number;
  /** The end-of-sequence token's text. */
  readonly eosToken: string;
  /** id of the padding token; falls back to the EOS id when the config has no `pad_token` (as TRL does). */
  readonly padTokenId: number;
  /** The padding token's text (the EOS token's when there is none). */
  readonly padToken: string;
  /** id of the beginning-of-sequence token, or null when the tokenizer has none. */
  readonly bosTokenId: number | null;
  /** The beginning-of-sequence token's text, or null. */
  readonly bosToken: string | null;
  /** The unknown token's text, or null. */
  readonly unkToken: string | null;
  /** Number of tokens including added/special tokens (HF `len(tokenizer)`). */
  readonly vocabSize: number;
  /** Chat template source, or null. */
  readonly chatTemplate: string | null;

  private readonly hf: HFTokenizer;
  private readonly tokenizerJson: Json;
  private readonly tokenizerConfig: Json;
  private readonly cleanUpSpaces: boolean;
  private compiledTemplate: Template | null = null;
  /** Where the chat template came from, for error messages. */
  private readonly templateOrigin: string;

  private constructor(files: TokenizerFiles) {
    const src = files.source ?? "<memory>";
    const tjFile = path.join(src, "tokenizer.json");
    const tcFile = path.join(src, "tokenizer_config.json");
    const tj = files.tokenizerJson;
    if (!tj || typeof tj !== "object" || typeof tj.model !== "object" || tj.model === null) {
      throw new Error(`${tjFile}: missing "model" object (not a Hugging Face tokenizer.json?)`);
    }
    this.tokenizerJson = tj;
    this.tokenizerConfig = files.tokenizerConfig ?? {};
    try {
      this.hf = new HFTokenizer(tj, this.tokenizerConfig);
    } catch (e) {
      throw new Error(`${tjFile}: cannot build tokenizer (${(e as Error).message})`);
    }
    const cfg = this.tokenizerConfig;
    const stm = files.specialTokensMap ?? {};
    const stmFile = path.join(src, "special_tokens_map.json");
    const pick = (field: string): string | null => tokenString(cfg[field], field, tcFile) ?? tokenString(stm[field], field, stmFile);

    const idOf = (tok: string, field: string): number => {
      const id = this.hf.token_to_id(tok);
      if (id === undefined) throw new Error(`${tcFile}: ${field} "${tok}" is not in the vocabulary of ${tjFile}`);
      return id;
    };
    const eos = pick("eos_token");
    if (eos === null) throw new Error(`${tcFile}: no "eos_token" (needed to end completions)`);
    this.eosToken = eos;
    this.eosTokenId = idOf(eos, "eos_token");
    const pad = pick("pad_token");
    this.padToken = pad ?? eos;
    this.padTokenId = pad === null ? this.eosTokenId : idOf(pad, "pad_token");
    const bos = pick("bos_token");
    this.bosToken = bos;
    this.bosTokenId = bos === null ? null : idOf(bos, "bos_token");
    this.unkToken = pick("unk_token");
    this.vocabSize = this.hf.get_vocab(true).size;
    this.cleanUpSpaces = cfg.clean_up_tokenization_spaces === true;
    this.chatTemplate = files.chatTemplate ?? configChatTemplate(cfg, tcFile);
    this.templateOrigin = files.chatTemplate ? path.join(src, "chat_template.jinja") : `${tcFile} "chat_template"`;
  }

  /**
   * Loads a Hugging Face tokenizer folder: tokenizer.json (required), tokenizer_config.json (eos/pad/bos tokens; older
   * folders may keep them in special_tokens_map.json), chat_template.jinja (else tokenizer_config.json's chat_template).
   * A Hub repo id ("HuggingFaceTB/SmolLM2-135M-Instruct") is accepted too: its tokenizer files are downloaded into
   * (or found in) the Hugging Face cache; `opts` are the Hub options (revision, cacheDir, token, hubUrl).
   */
  static async fromDir(dirOrId: string, opts: HubOptions = {}): Promise<Tokenizer> {
    return Tokenizer.fromDirSync(await resolvePretrained(dirOrId, "tokenizer", opts));
  }

  /** Synchronous {@link Tokenizer.fromDir}. */
  static fromDirSync(dir: string): Tokenizer {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${dir}: tokenizer folder not found`);
    const tokenizerJson = readJson(path.join(dir, "tokenizer.json"), true) as Json;
    const specialTokensMap = readJson(path.join(dir, "special_tokens_map.json"), false);
    const tokenizerConfig = readJson(path.join(dir, "tokenizer_config.json"), specialTokensMap === null) ?? {};
    const jinjaFile = path.join(dir, "chat_template.jinja");
    const chatTemplate = fs.existsSync(jinjaFile) ? fs.readFileSync(jinjaFile, "utf8") : null;
    return new Tokenizer({ tokenizerJson, tokenizerConfig, chatTemplate, specialTokensMap, source: dir });
  }

  /** Builds a tokenizer from in-memory file contents (e.g. a freshly trained tokenizer.json). */
  static fromFiles(files: TokenizerFiles): Tokenizer {
    return new Tokenizer(files);
  }

  /**
   * Text to token ids. Special tokens written in the text are matched as tokens. `addSpecialTokens` (default false)
   * applies the tokenizer.json post-processor (e.g. a BOS for Llama tokenizers), like HF's `add_special_tokens=True`,
   * except that a text that already starts with the BOS token (a chat template that writes it, as Llama 3's and
   * Mistral's do) does not get a second one: the double BOS HF would produce here is TRL's most reported data bug.
   */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    const ids = this.hf.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false }).ids;
    const bos = this.bosTokenId;
    if (opts.addSpecialTokens && bos !== null && this.bosToken && ids.length >= 2 && ids[0] === bos && ids[1] === bos && text.startsWith(this.bosToken)) {
      return ids.slice(1);
    }
    return ids;
  }

  /** Token strings (byte-level symbols for GPT-2 style tokenizers), for inspection. */
  tokenize(text: string): string[] {
    return this.hf.tokenize(text, { add_special_tokens: false });
  }

  /** Token ids → text, special tokens kept unless skipSpecialTokens (transformers' decode). */
  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    return this.hf.decode(ids, {
      skip_special_tokens: opts.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: this.cleanUpSpaces,
    });
  }

  /** The id of a token's text, or undefined when it is not in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  /** The text of a token id, or undefined when the id is out of range. */
  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /**
   * Renders the chat template like transformers' `apply_chat_template(messages, tokenize=False, ...)`: variables
   * `messages`, `add_generation_prompt`, `bos_token`, `eos_token`, `pad_token`, `unk_token`, plus any `extra` ones.
   * `chatTemplate` renders with another template instead of the tokenizer's own.
   */
  applyChatTemplate(messages: ChatMessage[], opts: { addGenerationPrompt?: boolean; extra?: Record<string, unknown>; chatTemplate?: string } = {}): string {
    let template: Template;
    const origin = opts.chatTemplate !== undefined ? "chat template (given)" : this.templateOrigin;
    const compile = (src: string): Template => {
      try {
        return new Template(src);
      } catch (e) {
        throw new Error(`${origin}: invalid Jinja template (${(e as Error).message})`);
      }
    };
    if (opts.chatTemplate !== undefined) {
      template = compile(opts.chatTemplate);
    } else {
      if (this.chatTemplate === null) {
        throw new Error("tokenizer has no chat template (neither chat_template.jinja nor tokenizer_config.json chat_template)");
      }
      if (this.compiledTemplate === null) this.compiledTemplate = compile(this.chatTemplate);
      template = this.compiledTemplate;
    }
    try {
      return this.render(template, messages, opts);
    } catch (e) {
      throw new Error(`${origin}: rendering failed (${(e as Error).message})`);
    }
  }

  private render(template: Template, messages: ChatMessage[], opts: { addGenerationPrompt?: boolean; extra?: Record<string, unknown> }): string {
    return template.render({
      ...(opts.extra ?? {}),
      messages,
      add_generation_prompt: opts.addGenerationPrompt ?? false,
      bos_token: this.bosToken ?? "",
      eos_token: this.eosToken,
      pad_token: this.padToken,
      unk_token: this.unkToken ?? "",
    });
  }

  /**
   * Writes tokenizer.json, tokenizer_config.json and (when there is a template) chat_template.jinja so that
   * `transformers.AutoTokenizer.from_pretrained(dir)` loads the same tokenizer. The template moves from
   * tokenizer_config.json to chat_template.jinja (transformers 4.43+ layout); an "infinite" model_max_length
   * (>= 2^53, transformers' VERY_LARGE_INTEGER) is left out, which transformers reads as the same default.
   */
  async save(dir: string): Promise<void> {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(this.tokenizerJson, null, 2) + "\n");
    const cfg: Json = { ...this.tokenizerConfig };
    delete cfg.chat_template;
    if (typeof cfg.model_max_length === "number" && cfg.model_max_length >= Number.MAX_SAFE_INTEGER) {
      delete cfg.model_max_length;
    }
    if (cfg.tokenizer_class === undefined) cfg.tokenizer_class = "PreTrainedTokenizerFast";
    cfg.eos_token = this.eosToken;
    if (this.bosToken !== null) cfg.bos_token = this.bosToken;
    cfg.pad_token = this.padToken;
    fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify(cfg, null, 2) + "\n");
    const jinjaFile = path.join(dir, "chat_template.jinja");
    if (this.chatTemplate !== null) fs.writeFileSync(jinjaFile, this.chatTemplate);
    else if (fs.existsSync(jinjaFile)) fs.unlinkSync(jinjaFile);
  }
}
