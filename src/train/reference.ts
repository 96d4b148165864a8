/**
 * The reference model's side of DPO: log-probs computed once for a whole data set (precomputeRefLogProbs), their
 * cache on disk, and TR-DPO's reference updates.
 *
 * Cache: one file per data set, <cacheDir>/<sha256>.bin, keyed by everything the values depend on: the token ids of
 * every pair (which fix the rows, the tokenizer and the length settings maxLength / maxPromptLength), the pad token, ldAlpha,
 * the reference's config and weights, the batching (batch size, padding multiple) and the tfjs backend (backends round
 * differently). A second run with the same key reads the file and runs no reference forward at all; anything else
 * gives another key. Default folder: $DPO_TS_CACHE/ref-logps, else ~/.cache/dpo-ts/ref-logps (DPOConfig.refLogpsCacheDir).
 * File: "DPOREF01", uint32 pair count (little-endian), then float32 [n, 2] (chosen, rejected) log-probs.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import type { CausalLM } from "../model/io";
import { configToJson } from "../model/architectures";
import { collatePairs, disposeBatch } from "./batch";
import { completionLogps } from "./logps";
import type { TokenizedPair } from "../data/tokenize";

const MAGIC = "DPOREF01";

/** Options of the reference log-prob precompute: padding, batch size and LD-DPO's weight. */
export interface ReferenceLogpsOptions {
  padTokenId: number;
  /** Pairs per reference forward (DPOConfig.perDeviceEvalBatchSize, as TRL's precompute pass). */
  batchSize: number;
  padToMultipleOf?: number;
  /** LD-DPO's weight of the verbose tail (DPOConfig.ldAlpha): it changes the reference's log-probs too. */
  ldAlpha?: number | null;
}

/** The default cache folder: $DPO_TS_CACHE/ref-logps, else ~/.cache/dpo-ts/ref-logps. */
export function defaultRefLogpsCacheDir(): string {
  const root = process.env.DPO_TS_CACHE || path.join(os.homedir(), ".cache", "dpo-ts");
  return path.join(root, "ref-logps");
}

/** Reference log-probs of every pair, [n, 2] flattened (chosen, rejected), in batches; no gradient. */
export async function computeReferenceLogps(reference: CausalLM, pairs: readonly TokenizedPair[], opts: ReferenceLogpsOptions): Promise<Float32Array> {
  const out = new Float32Array(2 * pairs.length);
  for (let start = 0; start < pairs.length; start += opts.batchSize) {
    const chunk = pairs.slice(start, start + opts.batchSize);
    const batch = collatePairs(chunk, opts.padTokenId, { padToMultipleOf: opts.padToMultipleOf });
    const logps = tf.tidy(() => completionLogps(reference, batch, { ldAlpha: opts.ldAlpha }).logps); // [2B]
    const values = (await logps.data()) as Float32Array;
    tf.dispose(logps);
    disposeBatch(batch);
    chunk.forEach((_, i) => {
      out[2 * (start + i)] = values[i];
      out[2 * (start + i) + 1] = values[chunk.length + i];
    });
  }
  return out;
}

/** The cache key (sha256, hex) of reference log-probs of these pairs under this reference (see the file comment). */
export async function referenceCacheKey(reference: CausalLM, pairs: readonly TokenizedPair[], opts: ReferenceLogpsOptions): Promise<string> {
  const hash = crypto.createHash("sha256");
  hash.update(
    JSON.stringify({
      format: MAGIC,
      backend: tf.getBackend(),
      padTokenId: opts.padTokenId,
      batchSize: opts.batchSize,
      padToMultipleOf: opts.padToMultipleOf ?? 0,
      ldAlpha: opts.ldAlpha ?? null,
      config: configToJson(reference.config),
    }),
  );
  for (const p of pairs) {
    hash.update(Int32Array.from([p.promptIds.length, p.chosenIds.length, p.rejectedIds.length]));
    hash.update(Int32Array.from(p.promptIds));
    hash.update(Int32Array.from(p.chosenIds));
    hash.update(Int32Array.from(p.rejectedIds));
  }
  for (const name of [...reference.params.keys()].sort()) {
    const v = reference.params.get(name)!;
    hash.update(`${name}:${v.shape.join("x")}`);
    const data = (await v.data()) as Float32Array;
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest("hex");
}

/** Reads a cache file; null when it is missing or does not hold n pairs (a damaged file is recomputed, not trusted). */
function readCache(file: string, n: number): Float32Array | null {
  if (!fs.existsSync(file)) return null;
  const bytes = fs.readFileSync(file);
  if (bytes.length !== 12 + 8 * n || bytes.toString("latin1", 0, 8) !== MAGIC || bytes.readUInt32LE(8) !== n) {
    console.warn(`${file}: not a reference log-prob cache for ${n} pairs; recomputing it`);
    return null;
  }
  const out = new Float32Array(2 * n);
  for (let i = 0; i < 2 * n; i++) out[i] = bytes.readFloatLE(12 + 4 * i);
  return out;
}

/** Writes a cache file atomically (temp file + rename): a killed run never leaves a partial file under the key. */
function writeCache(file: string, values: Float32Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const bytes = Buffer.alloc(12 + 4 * values.length);
  bytes.write(MAGIC, 0, "latin1");
  bytes.writeUInt32LE(values.length / 2, 8);
  values.forEach((v, i) => bytes.writeFloatLE(v, 12 + 4 * i));
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, file);
}

/**
 * Reference log-probs of every pair from the cache when it has them, else computed (one pass) and cached.
 * cacheDir "none" (or "") disables the disk cache. Returns where the values came from.
 */
export async function cachedReferenceLogps(
  reference: CausalLM,
  pairs: readonly TokenizedPair[],
  opts: ReferenceLogpsOptions & { cacheDir: string },
): Promise<{ logps: Float32Array; fromCache: boolean; file: string | null }> {
  if (!opts.cacheDir || opts.cacheDir === "none") return { logps: await computeReferenceLogps(reference, pairs, opts), fromCache: false, file: null };
  const file = path.join(opts.cacheDir, `${await referenceCacheKey(reference, pairs, opts)}.bin`);
  const cached = readCache(file, pairs.length);
  if (cached) return { logps: cached, fromCache: true, file };
  const logps = await computeReferenceLogps(reference, pairs, opts);
  writeCache(file, logps);
  return { logps, fromCache: false, file };
}

/** Reference log-probs of some pairs from a [n, 2] table: [2B] with the chosen rows first (collatePairs' order). */
export function referenceLogpsOf(table: Float32Array, indices: readonly number[]): tf.Tensor1D {
  const values = new Float32Array(2 * indices.length);
  indices.forEach((pair, i) => {
    values[i] = table[2 * pair];
    values[indices.length + i] = table[2 * pair + 1];
  });
  return tf.tensor1d(values);
}

/**
 * TR-DPO's reference update (TRL's SyncRefModelCallback): ref ← α·policy + (1−α)·ref, parameter by parameter,
 * computed as TRL does: ref·(1−α) + α·policy.
 */
export function syncReference(policy: CausalLM, reference: CausalLM, alpha: number): void {
  reference.params.forEach((ref, name) => {
    const param = policy.params.get(name);
    if (!param) throw new Error(`syncRefModel: the policy has no parameter "${name}"`);
    tf.tidy(() => ref.assign(ref.mul(1 - alpha).add(param.mul(alpha))));
  });
}
