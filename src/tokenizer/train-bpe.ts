/**
 * Byte-level BPE tokenizer training (GPT-2 style), writing a Hugging Face `tokenizer.json`.
 *
 * 1. Special tokens are cut out of the corpus (they never take part in merges).
 * 2. Pre-tokenization: the GPT-2 regex splits text into words (` ?letters`, ` ?digits`, ` ?punctuation`, spaces);
 *    each word's UTF-8 bytes are mapped to printable characters (GPT-2's bytes_to_unicode), so every string is
 *    representable with the 256-symbol base alphabet and there is no unknown token.
 * 3. BPE: repeatedly merge the most frequent adjacent symbol pair (ties: lower symbol ids first), until the vocabulary
 *    has `vocabSize` entries or no pair occurs `minFrequency` times. Pair counts are updated incrementally and the best
 *    pair comes from a lazy max-heap, so a ~1 MB corpus trains in well under a second.
 *
 * The output uses the same components as HF `tokenizers`' ByteLevel BPE (ByteLevel pre-tokenizer with
 * add_prefix_space=false, BPE model, ByteLevel decoder), so `@huggingface/tokenizers` (JS) and `tokenizers`/
 * `transformers` (Python) encode identically with it.
 */
import { Tokenizer } from "./tokenizer";

/** GPT-2's pre-tokenization regex (the one HF's ByteLevel pre-tokenizer uses with use_regex=true). */
export const GPT2_PRETOKENIZE_REGEX = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** ChatML special tokens: `<|endoftext|>` (id 0, BOS/pad), `<|im_start|>` (1), `<|im_end|>` (2, EOS). */
export const CHATML_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/** The ChatML chat template (as used by OpenHermes-2.5 / the "Fine-tune Mistral-7b with DPO" article). */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** GPT-2 bytes_to_unicode: byte value -> printable character. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const map: string[] = new Array(256);
  for (const b of bs) map[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (map[b] === undefined) map[b] = String.fromCharCode(256 + n++);
  }
  return map;
}

/** Options of {@link trainBpe}: vocabulary size, special tokens and the minimum pair frequency. */
export interface TrainBpeOptions {
  /** Final vocabulary size, special tokens and the 256 byte symbols included. */
  vocabSize: number;
  /** Special tokens, given ids 0..k-1 in this order. Default: {@link CHATML_SPECIAL_TOKENS}. */
  specialTokens?: string[];
  /** A pair must occur at least this often (weighted by word frequency) to be merged. Default 2. */
  minFrequency?: number;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Lazy max-heap of [count, pairKey]; ties broken by the smaller key. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number {
    return this.counts.length;
  }
  private better(i: number, j: number): boolean {
    const ci = this.counts[i],
      cj = this.counts[j];
    return ci > cj || (ci === cj && this.keys[i] < this.keys[j]);
  }
  private swap(i: number, j: number): void {
    const c = this.counts[i];
    this.counts[i] = this.counts[j];
    this.counts[j] = c;
    const k = this.keys[i];
    this.keys[i] = this.keys[j];
    this.keys[j] = k;
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.better(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastC = this.counts.pop() as number,
      lastK = this.keys.pop() as number;
    if (this.counts.length > 0) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      let i = 0;
      const n = this.counts.length;
      for (;;) {
        const l = 2 * i + 1,
          r = l + 1;
        let m = i;
        if (l < n && this.better(l, m)) m = l;
        if (r < n && this.better(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/** Largest supported vocabulary: pair keys a * vocabSize + b stay exact integers. */
const MAX_VOCAB = 1 << 21;

/**
 * Trains a byte-level BPE on `corpus` (a string or several) and returns the `tokenizer.json` object.
 */
export function trainByteLevelBpe(corpus: string | string[], opts: TrainBpeOptions): Record<string, unknown> {
  const specials = opts.specialTokens ?? CHATML_SPECIAL_TOKENS;
  const minFrequency = opts.minFrequency ?? 2;
  if (new Set(specials).size !== specials.length) throw new Error("trainByteLevelBpe: duplicate special tokens");
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < specials.length + 256) {
    throw new Error(`trainByteLevelBpe: vocabSize must be an integer >= ${specials.length + 256} (special tokens + 256 bytes)`);
  }
  if (opts.vocabSize >= MAX_VOCAB) throw new Error(`trainByteLevelBpe: vocabSize must be < ${MAX_VOCAB}`);
  // pair key = a * KEY_BASE + b: symbol ids are < vocabSize, so keys stay small integers (fast Map keys for vocab < 32k)
  const KEY_BASE = opts.vocabSize;
  const byteChar = bytesToUnicode();
  const encoder = new TextEncoder();

  // 1-2. word counts over byte-level strings
  const texts = typeof corpus === "string" ? [corpus] : corpus;
  const specialRe = specials.length > 0 ? new RegExp(specials.map(escapeRegex).join("|"), "g") : null;
  const rawCounts = new Map<string, number>(); // pre-tokenized words as text
  for (const text of texts) {
    const pieces = specialRe ? text.split(specialRe) : [text];
    for (const piece of pieces) {
      for (const m of piece.matchAll(GPT2_PRETOKENIZE_REGEX)) rawCounts.set(m[0], (rawCounts.get(m[0]) ?? 0) + 1);
    }
  }
  const wordCounts = new Map<string, number>(); // the same words as byte-level strings
  for (const [raw, c] of rawCounts) {
    let w = "";
    for (const b of encoder.encode(raw)) w += byteChar[b];
    wordCounts.set(w, (wordCounts.get(w) ?? 0) + c);
  }

  // symbols: ids 0..255 are the byte characters in byte order; merged symbols follow
  const symbols: string[] = byteChar.slice();
  const symbolId = new Map<string, number>();
  symbols.forEach((s, i) => symbolId.set(s, i));
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [w, c] of wordCounts) {
    words.push(Array.from(w, (ch) => symbolId.get(ch) as number));
    freqs.push(c);
  }

  // pair statistics: pairCount[key] = weighted occurrences; pairWords[key] = words that may hold the pair
  // (appended to, never pruned: entries can be stale or repeated, each word is visited once per merge)
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, number[]>();
  const touched = new Set<number>();
  const bump = (key: number, f: number): void => {
    pairCount.set(key, (pairCount.get(key) ?? 0) + f);
    touched.add(key);
  };
  const listWord = (key: number, wi: number): void => {
    const l = pairWords.get(key);
    if (l) l.push(wi);
    else pairWords.set(key, [wi]);
  };
  words.forEach((w, wi) => {
    for (let i = 0; i + 1 < w.length; i++) {
      const key = w[i] * KEY_BASE + w[i + 1];
      bump(key, freqs[wi]);
      listWord(key, wi);
    }
  });
  const heap = new PairHeap();
  for (const key of touched) heap.push(pairCount.get(key) as number, key);
  touched.clear();

  // 3. merges
  const nTokens = () => specials.length + symbols.length;
  const merges: Array<[string, string]> = [];
  const visited = new Int32Array(words.length).fill(-1); // merge step that last rewrote each word
  while (nTokens() < opts.vocabSize && heap.size > 0) {
    const [count, key] = heap.pop();
    if (pairCount.get(key) !== count) continue; // stale heap entry
    if (count < minFrequency) break;
    const a = Math.floor(key / KEY_BASE),
      b = key % KEY_BASE;
    const merged = symbols[a] + symbols[b];
    let id = symbolId.get(merged);
    if (id === undefined) {
      id = symbols.length;
      symbols.push(merged);
      symbolId.set(merged, id);
    }
    const step = merges.length;
    merges.push([symbols[a], symbols[b]]);
    for (const wi of pairWords.get(key) ?? []) {
      if (visited[wi] === step) continue;
      visited[wi] = step;
      const w = words[wi],
        f = freqs[wi];
      const out: number[] = [];
      // left to right; only pairs touching a merge site change. `prev` is the already rewritten left neighbour, so
      // back-to-back sites (a b a b, or a a a when a == b) update consistently.
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          if (out.length > 0) {
            const prev = out[out.length - 1];
            bump(prev * KEY_BASE + a, -f);
            bump(prev * KEY_BASE + id, f);
            listWord(prev * KEY_BASE + id, wi);
          }
          bump(key, -f);
          if (i + 2 < w.length) {
            const next = w[i + 2];
            bump(b * KEY_BASE + next, -f);
            bump(id * KEY_BASE + next, f);
            listWord(id * KEY_BASE + next, wi);
          }
          out.push(id);
          i++;
        } else out.push(w[i]);
      }
      words[wi] = out;
    }
    pairWords.delete(key);
    touched.delete(key);
    pairCount.delete(key);
    for (const k of touched) {
      const c = pairCount.get(k) as number;
      if (c <= 0) {
        pairCount.delete(k);
        pairWords.delete(k);
      } else heap.push(c, k);
    }
    touched.clear();
  }

  // tokenizer.json
  const vocab: Record<string, number> = {};
  specials.forEach((s, i) => (vocab[s] = i));
  symbols.forEach((s, i) => (vocab[s] = specials.length + i));
  const addedTokens = specials.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

/**
 * Trains a ChatML byte-level BPE tokenizer: specials `<|endoftext|>` (0; BOS and pad), `<|im_start|>` (1),
 * `<|im_end|>` (2; EOS), the ChatML chat template. Save it with `tok.save(dir)`.
 */
export function trainChatMLTokenizer(corpus: string | string[], vocabSize: number, minFrequency = 2): Tokenizer {
  const tokenizerJson = trainByteLevelBpe(corpus, { vocabSize, specialTokens: CHATML_SPECIAL_TOKENS, minFrequency });
  const tokenizerConfig = {
    tokenizer_class: "PreTrainedTokenizerFast",
    bos_token: "<|endoftext|>",
    eos_token: "<|im_end|>",
    pad_token: "<|endoftext|>",
    unk_token: null,
    clean_up_tokenization_spaces: false,
    add_bos_token: false,
    add_eos_token: false,
  };
  return Tokenizer.fromFiles({ tokenizerJson, tokenizerConfig, chatTemplate: CHATML_TEMPLATE });
}
