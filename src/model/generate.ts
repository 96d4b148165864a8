/**
 * Text generation with a KV cache: the prompt is encoded once, then each new token attends to cached keys/values.
 * Greedy (temperature 0), or sampling with temperature, top-k and top-p (nucleus), seeded.
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../util/rng";
import { disposeCache, KVCache } from "./attention";
import type { CausalLM } from "./io";

/** Options of {@link generate}: length, temperature, top-k / top-p, stop tokens and seed. */
export interface GenerationOptions {
  /** Tokens to generate at most. Default 32. */
  maxNewTokens?: number;
  /** 0 = greedy (default); > 0 samples from softmax(logits / temperature). */
  temperature?: number;
  /** Keep only the k most likely tokens when sampling (0 = all). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p when sampling (1 = all). */
  topP?: number;
  /** Stop after any of these ids (default: the model config's eos_token_id). null never stops early. */
  eosTokenId?: number | number[] | null;
  /** Seed of the sampler. */
  seed?: number;
  /** Called with each new token id as soon as it is chosen (streaming). */
  onToken?: (id: number) => void;
}

/** What {@link generate} returns: the new token ids and why it stopped. */
export interface GenerationOutput {
  /** The new token ids (the EOS that stopped generation included). */
  tokens: number[];
  finishReason: "stop" | "length";
}

/**
 * Picks the next token from one row of logits (host array). Sampling never sorts the whole vocabulary (a server
 * samples every row of a batch each step, with vocabularies of 150k tokens): without top-k/top-p it draws in index
 * order; with them it sorts only the tokens within a logit gap of the best, widening the gap until the top-k set or
 * the top-p nucleus is inside it.
 */
export function pickToken(logits: Float32Array, opts: { temperature: number; topK: number; topP: number }, rng: Rng): number {
  const V = logits.length;
  if (!(opts.temperature > 0)) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  const T = opts.temperature;
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] > max) max = logits[i];
  const weight = (i: number) => Math.exp((logits[i] - max) / T);
  const cutK = opts.topK > 0 && opts.topK < V;
  const cutP = opts.topP < 1;
  if (!cutK && !cutP) {
    const w = new Float64Array(V);
    let total = 0;
    for (let i = 0; i < V; i++) total += w[i] = weight(i);
    let r = rng.float() * total;
    let last = 0;
    for (let i = 0; i < V; i++) {
      if (w[i] === 0) continue;
      last = i;
      r -= w[i];
      if (r <= 0) return i;
    }
    return last;
  }
  // One pass puts every token in a bucket by how far its logit is below the best (the last bucket takes the rest);
  // the buckets' counts and masses tell how far down the top-k set or the top-p nucleus reaches, and only the tokens
  // of the buckets above that line are sorted.
  const BUCKETS = 256;
  const span = 32 * T; // a token 32·T below the best has weight e^-32 of it: all such share the last bucket
  const bucketOf = (i: number) => {
    const below = max - logits[i];
    return below >= 0 ? Math.min(BUCKETS - 1, Math.floor((below / span) * (BUCKETS - 1))) : BUCKETS - 1; // NaN: last
  };
  const count = new Float64Array(BUCKETS);
  const mass = new Float64Array(BUCKETS);
  const bucket = new Uint8Array(V);
  let all = 0;
  for (let i = 0; i < V; i++) {
    const b = (bucket[i] = bucketOf(i));
    const w = weight(i);
    count[b]++;
    mass[b] += w;
    all += w;
  }
  let last = 0;
  for (let seen = 0, cumulative = 0; last < BUCKETS - 1; last++) {
    seen += count[last];
    cumulative += mass[last];
    if (cutK ? seen >= opts.topK : cumulative >= opts.topP * all) break;
  }
  let order: number[] = [];
  for (let i = 0; i < V; i++) if (bucket[i] <= last) order.push(i);
  order.sort((a, b) => logits[b] - logits[a] || a - b); // most likely first; ties by id
  if (cutK) order = order.slice(0, opts.topK);
  let probs = order.map(weight);
  let total = cutK ? probs.reduce((a, b) => a + b, 0) : all;
  probs = probs.map((p) => p / total);
  if (cutP) {
    let cumulative = 0;
    let keep = 0;
    while (keep < probs.length && cumulative < opts.topP) cumulative += probs[keep++];
    order = order.slice(0, Math.max(1, keep));
    probs = probs.slice(0, Math.max(1, keep));
    total = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / total);
  }
  let r = rng.float();
  for (let i = 0; i < order.length; i++) {
    r -= probs[i];
    if (r <= 0) return order[i];
  }
  return order[order.length - 1];
}

/** Generates a continuation of one prompt. */
export async function generate(model: CausalLM, promptIds: number[], opts: GenerationOptions = {}): Promise<GenerationOutput> {
  if (promptIds.length === 0) throw new Error("generate: empty prompt (give at least one token)");
  const maxNewTokens = opts.maxNewTokens ?? 32;
  const sampling = { temperature: opts.temperature ?? 0, topK: opts.topK ?? 0, topP: opts.topP ?? 1 };
  const eosOption = opts.eosTokenId === undefined ? model.config.eosTokenId : opts.eosTokenId;
  const stopIds = new Set(eosOption === null ? [] : Array.isArray(eosOption) ? eosOption : [eosOption]);
  const rng = new Rng(opts.seed ?? 0);
  const tokens: number[] = [];
  let cache: KVCache | undefined;
  let input = promptIds;
  let finishReason: GenerationOutput["finishReason"] = "length";
  try {
    for (let i = 0; i < maxNewTokens; i++) {
      const pastLength = cache ? cache[0].key.shape[2] : 0;
      if (pastLength + input.length > model.config.nPositions) break; // the model has no positions left
      const inputIds = tf.tensor2d([input], [1, input.length], "int32");
      // Only the last position's logits are used: the head runs on that row alone (a prompt's prefill included).
      const { logits, presentKeyValues } = model.forward(inputIds, { pastKeyValues: cache, useCache: true, lastPositionOnly: true });
      inputIds.dispose();
      disposeCache(cache);
      cache = presentKeyValues;
      const last = tf.tidy(() => logits.slice([0, logits.shape[1] - 1, 0], [1, 1, -1]).reshape([-1])); // [V]
      logits.dispose();
      const values = (await last.data()) as Float32Array;
      last.dispose();
      const next = pickToken(values, sampling, rng);
      tokens.push(next);
      opts.onToken?.(next);
      if (stopIds.has(next)) {
        finishReason = "stop";
        break;
      }
      input = [next];
    }
  } finally {
    disposeCache(cache);
  }
  return { tokens, finishReason };
}
