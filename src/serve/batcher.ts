/**
 * Continuous batching (as vLLM and TGI do it): requests join the running batch between decode steps and leave it as
 * soon as they finish, so many clients share each forward pass. Uses only the CausalLM forward contract
 * (inputIds, attentionMask, positionIds, pastKeyValues, useCache → logits, presentKeyValues), so it works for every
 * architecture, GQA caches included (the head axis is never touched).
 *
 * Layout: one batched KV cache per layer, [B, H, S, hd], rows left-padded with zeros; a host attention mask [B, S]
 * marks the real columns and each row carries its own position counter, so a row's keys and positions are exactly
 * those of the same sequence generated alone (greedy outputs equal generate()'s).
 * Between steps the loop yields to the event loop (setImmediate) so HTTP traffic, health checks and disconnects are
 * handled while generation runs.
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../util/rng";
import { pickToken } from "../model/generate";
import { disposeCache, KVCache } from "../model/attention";
import { TransposedWeights } from "../model/transposed-weights";
import type { CausalLM } from "../model/io";

/** One sequence to decode: prompt ids, length limit, sampling settings and stop tokens. */
export interface SequenceRequest {
  promptIds: number[];
  maxNewTokens: number;
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  topK: number;
  seed: number;
  /** Token ids that end the sequence (kept in the output tokens, like generate()). */
  stopIds: number[];
  /** Called with each new token as soon as it is chosen; returning true ends the sequence ("stop", e.g. a stop string). */
  onToken?: (id: number) => boolean | void;
}

/** Why a sequence ended: an EOS or stop token, the length limit, or cancellation. */
export type FinishReason = "stop" | "length" | "cancelled";

/** A finished sequence: its new token ids and why it ended. */
export interface SequenceResult {
  tokens: number[];
  finishReason: FinishReason;
}

/** What {@link ContinuousBatcher.submit} returns: the result to come and a way to cancel. */
export interface SequenceHandle {
  result: Promise<SequenceResult>;
  /** Ends the sequence at the next step boundary (its slot is freed then); result resolves with "cancelled". */
  cancel(): void;
}

/** Limits of a {@link ContinuousBatcher}: batch size, queue length, prefill tokens per step, context length. */
export interface BatcherConfig {
  /** Sequences decoded together at most. Default 32. */
  maxBatchSize?: number;
  /** Sequences waiting for a slot at most; submit() beyond that throws QueueFullError. Default 256. */
  maxQueue?: number;
  /** Prompt tokens (padded) prefilled in one step at most, so one step stays short. At least one prompt. Default 512. */
  maxPrefillTokens?: number;
  /**
   * Decode steps a request that arrives while others are decoding may wait, so that it is prefilled together with
   * the requests arriving after it rather than in a prefill pass of its own (TGI's max_waiting_tokens). A prefill pass
   * costs about a decode step of the whole batch whatever its size, so one per arrival would halve a busy server's
   * throughput. Waiting requests start at once when they are at least a quarter as many as the running ones (an idle
   * or nearly idle batcher takes each at once). Default 4; 0 admits every request at the next step.
   */
  maxWaitSteps?: number;
  /** The model's context length (positions). */
  contextLength: number;
}

/** Thrown by {@link ContinuousBatcher.submit} when the queue is full (the server answers 429). */
export class QueueFullError extends Error {}

interface Row {
  req: SequenceRequest;
  rng: Rng;
  stop: Set<number>;
  tokens: number[];
  /** Real tokens so far (prompt + generated): the position of the next input token. */
  length: number;
  /** 1 for real columns of the batched cache, 0 for left padding. */
  mask: number[];
  /** The decode step count when the sequence was submitted (how long it has waited). */
  submittedAt: number;
  cancelled: boolean;
  finish?: FinishReason;
  resolve: (r: SequenceResult) => void;
  reject: (e: Error) => void;
}

/** Rows just prefilled, with their cache [k, H, L, hd] per layer, to join the batch. */
interface Admitted {
  rows: Row[];
  cache: KVCache;
}

/**
 * Continuous batching: sequences join and leave one shared decode batch between steps, so short requests do not wait for
 * long ones (see the file's opening comment).
 */
export class ContinuousBatcher {
  private readonly maxBatchSize: number;
  private readonly maxQueue: number;
  private readonly maxPrefillTokens: number;
  private readonly maxWaitSteps: number;
  private readonly contextLength: number;
  private waiting: Row[] = [];
  /** The rows of the batched cache, in its order; finished ones stay (decoded, ignored) until the next rebuild. */
  private rows: Row[] = [];
  private cache: KVCache | undefined; // per layer [rows.length, H, S, hd]
  private running = false;
  private closed = false;
  /** The frozen weights' transposes (wasm), made on the first step and kept, across requests, until close(). */
  private readonly transposedWeights = new TransposedWeights();
  /** Called when the decode loop stops after close(). */
  private whenStopped: (() => void)[] = [];
  /** Decode steps run so far (for tests and /health). */
  steps = 0;

  constructor(
    private readonly model: CausalLM,
    config: BatcherConfig,
  ) {
    this.maxBatchSize = config.maxBatchSize ?? 32;
    this.maxQueue = config.maxQueue ?? 256;
    this.maxPrefillTokens = config.maxPrefillTokens ?? 512;
    this.maxWaitSteps = config.maxWaitSteps ?? 4;
    this.contextLength = config.contextLength;
  }

  /** Sequences being decoded. */
  get active(): number {
    let live = 0;
    for (const row of this.rows) if (!row.finish) live++;
    return live;
  }
  /** Sequences waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }
  /** Whether `count` more sequences can be accepted now. */
  hasRoom(count: number): boolean {
    return this.active + this.waiting.length + count <= this.maxBatchSize + this.maxQueue;
  }

  /** Queues one sequence; throws QueueFullError when the queue is full, and on an empty prompt or a closed batcher. */
  submit(req: SequenceRequest): SequenceHandle {
    if (this.closed) throw new Error("the batcher is closed");
    if (!this.hasRoom(1)) throw new QueueFullError(`${this.waiting.length} requests are waiting (max ${this.maxQueue})`);
    if (req.promptIds.length === 0) throw new Error("empty prompt");
    let row!: Row;
    const result = new Promise<SequenceResult>((resolve, reject) => {
      row = {
        req,
        rng: new Rng(req.seed),
        stop: new Set(req.stopIds),
        tokens: [],
        length: req.promptIds.length,
        mask: [],
        submittedAt: this.steps,
        cancelled: false,
        resolve,
        reject,
      };
    });
    this.waiting.push(row);
    this.wake();
    return { result, cancel: () => this.cancelRow(row) };
  }

  /**
   * Cancels every sequence (they resolve "cancelled") and refuses new ones; resolves once the decode loop has stopped
   * and every tensor the batcher kept is freed.
   */
  close(): Promise<void> {
    this.closed = true;
    for (const row of [...this.waiting, ...this.rows]) this.cancelRow(row);
    if (!this.running) {
      this.transposedWeights.dispose();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.whenStopped.push(resolve)); // the loop's end frees them
  }

  private cancelRow(row: Row): void {
    if (row.finish) return;
    row.cancelled = true;
    const i = this.waiting.indexOf(row);
    if (i >= 0) {
      this.waiting.splice(i, 1);
      this.settle(row, "cancelled");
    }
    // An active row is settled at the next step boundary and no longer decoded for (its cache row is dropped later).
  }

  private settle(row: Row, finish: FinishReason): void {
    if (row.finish) return;
    row.finish = finish;
    row.resolve({ tokens: row.tokens, finishReason: finish });
  }

  private fail(row: Row, error: Error): void {
    if (row.finish) return;
    row.finish = "cancelled";
    row.reject(error);
  }

  private wake(): void {
    if (this.running) return;
    this.running = true;
    setImmediate(() => this.loop());
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        for (const row of this.rows) if (row.cancelled) this.settle(row, "cancelled");
        const admitted = this.shouldAdmit() ? await this.prefill() : undefined;
        this.rebuild(admitted);
        if (this.rows.length === 0 && this.waiting.length === 0) break;
        if (this.rows.length > 0) await this.decodeStep();
        this.rebuild(undefined); // frees the cache as soon as every row is done
        await new Promise<void>((r) => setImmediate(r)); // let HTTP handlers, health checks and cancels run
      }
    } catch (e) {
      // A model failure fails every sequence in flight (the server answers 500 with the cause); the batcher restarts empty.
      for (const row of [...this.waiting, ...this.rows]) this.fail(row, e as Error);
      this.waiting = [];
      this.rows = [];
      disposeCache(this.cache);
      this.cache = undefined;
    } finally {
      this.running = false;
      if (this.closed) {
        this.transposedWeights.dispose();
        this.whenStopped.splice(0).forEach((resolve) => resolve());
      }
      if (this.waiting.length > 0 && !this.closed) this.wake();
    }
  }

  /** Chooses a row's next token from its logits; records it and decides whether the row is done. */
  private accept(row: Row, logits: Float32Array): void {
    if (row.cancelled || row.finish) return;
    const next = pickToken(logits, row.req, row.rng);
    row.tokens.push(next);
    row.length++;
    const stopNow = row.req.onToken?.(next) === true;
    if (stopNow || row.stop.has(next)) row.finish = "stop";
    else if (row.tokens.length >= row.req.maxNewTokens || row.length >= this.contextLength) row.finish = "length";
    if (row.finish) row.resolve({ tokens: row.tokens, finishReason: row.finish });
  }

  /**
   * Whether waiting sequences join the batch before this step: at once when they are at least a quarter as many as
   * the running ones, else once the longest-waiting one has waited maxWaitSteps decode steps.
   */
  private shouldAdmit(): boolean {
    const live = this.active;
    if (this.waiting.length === 0 || live >= this.maxBatchSize) return false;
    if (this.waiting.length * 4 >= live) return true;
    return this.steps - this.waiting[0].submittedAt >= this.maxWaitSteps;
  }

  /** Takes waiting sequences into one padded prefill pass; chooses their first tokens. → the rows and their cache */
  private async prefill(): Promise<Admitted> {
    const room = this.maxBatchSize - this.active;
    const admitted: Row[] = [];
    let longest = 0;
    while (admitted.length < room && this.waiting.length > 0) {
      const candidate = this.waiting[0];
      const L = Math.max(longest, candidate.req.promptIds.length);
      if (admitted.length > 0 && L * (admitted.length + 1) > this.maxPrefillTokens) break;
      admitted.push(this.waiting.shift()!);
      longest = L;
    }
    const k = admitted.length;
    const ids: number[] = [],
      mask: number[] = [],
      positions: number[] = [];
    for (const row of admitted) {
      const p = row.req.promptIds;
      const pad = longest - p.length;
      for (let j = 0; j < longest; j++) {
        ids.push(j < pad ? 0 : p[j - pad]);
        mask.push(j < pad ? 0 : 1);
        positions.push(Math.max(0, j - pad));
      }
      row.mask = Array.from({ length: longest }, (_, j) => (j < pad ? 0 : 1));
    }
    let values: Float32Array;
    let presentKeyValues: KVCache | undefined;
    try {
      const inputIds = tf.tensor2d(ids, [k, longest], "int32"); // [k, L]
      // Without padding the model's defaults (all ones, positions 0..L-1) are the same, and cheaper.
      const padded = mask.includes(0);
      const attentionMask = padded ? tf.tensor2d(mask, [k, longest], "int32") : undefined; // [k, L]
      const positionIds = padded ? tf.tensor2d(positions, [k, longest], "int32") : undefined; // [k, L]
      let out: ReturnType<CausalLM["forward"]>;
      try {
        out = this.model.forward(inputIds, { attentionMask, positionIds, useCache: true, lastPositionOnly: true, transposedWeights: this.transposedWeights });
      } finally {
        tf.dispose([inputIds, ...(attentionMask ? [attentionMask, positionIds!] : [])]);
      }
      presentKeyValues = out.presentKeyValues;
      // [k, V]: the prompts' last positions (a CausalLM that ignores lastPositionOnly returns every position)
      const returned = out.logits.shape[1];
      const last = tf.tidy(() => out.logits.slice([0, returned - 1, 0], [k, 1, -1]).reshape([k, -1]));
      out.logits.dispose();
      try {
        values = (await last.data()) as Float32Array;
      } finally {
        last.dispose();
      }
    } catch (e) {
      disposeCache(presentKeyValues);
      for (const row of admitted) this.fail(row, e as Error);
      throw e;
    }
    const V = values.length / k;
    admitted.forEach((row, i) => this.accept(row, values.subarray(i * V, (i + 1) * V)));
    return { rows: admitted, cache: presentKeyValues! };
  }

  /**
   * Appends admitted rows and, once a quarter of the cache is waste, compacts it. Waste is finished rows (decoded
   * along and ignored until then) and columns that are padding in every live row. Compacting copies the live rows'
   * real columns with one tf.slice per run of consecutive live rows (on wasm each slice first copies its whole input
   * to the host, and tf.gather goes element by element, 20× slower still), so it is worth doing only now and then;
   * appending is a tf.concat (and a left tf.pad of the narrower side), which costs next to nothing.
   */
  private rebuild(admitted: Admitted | undefined): void {
    const live: number[] = [];
    this.rows.forEach((row, i) => row.finish || live.push(i));
    const newRows = admitted?.rows ?? [];
    if (live.length === 0) {
      if (!admitted && this.rows.length === 0) return;
      disposeCache(this.cache);
      this.cache = admitted?.cache;
      this.rows = newRows;
      return;
    }
    const S = this.rows[0].mask.length;
    const firstReal = Math.min(...live.map((i) => this.rows[i].mask.indexOf(1)));
    const compact = live.length * (S - firstReal) * 4 <= this.rows.length * S * 3;
    if (!admitted && !compact) return;
    let rows = this.rows;
    let cache = this.cache!;
    if (compact) {
      const runs: [number, number][] = [];
      for (const i of live) {
        const last = runs[runs.length - 1];
        if (last && last[0] + last[1] === i) last[1]++;
        else runs.push([i, 1]);
      }
      const keep = (t: tf.Tensor4D): tf.Tensor4D =>
        tf.tidy(() => {
          const parts = runs.map(([start, count]) => tf.slice(t, [start, 0, firstReal, 0], [count, -1, S - firstReal, -1])); // [count, H, S', hd]
          return (parts.length === 1 ? parts[0] : tf.concat(parts, 0)) as tf.Tensor4D; // [live, H, S', hd]
        });
      cache = cache.map(({ key, value }) => ({ key: keep(key), value: keep(value) }));
      disposeCache(this.cache);
      rows = live.map((i) => this.rows[i]);
      for (const row of rows) row.mask = row.mask.slice(firstReal);
    }
    if (admitted) {
      const width = rows[0].mask.length;
      const L = admitted.cache[0].key.shape[2];
      const padLeft = (t: tf.Tensor4D, by: number): tf.Tensor4D =>
        by <= 0
          ? t
          : tf.pad(t, [
              [0, 0],
              [0, 0],
              [by, 0],
              [0, 0],
            ]);
      const join = (current: tf.Tensor4D, joining: tf.Tensor4D): tf.Tensor4D =>
        tf.tidy(() => tf.concat([padLeft(current, L - width), padLeft(joining, width - L)], 0) as tf.Tensor4D); // [B+k, H, max(S, L), hd]
      const joined = cache.map((layer, i) => ({ key: join(layer.key, admitted.cache[i].key), value: join(layer.value, admitted.cache[i].value) }));
      disposeCache(cache);
      disposeCache(admitted.cache);
      cache = joined;
      for (const row of rows) row.mask = new Array(Math.max(0, L - width)).fill(0).concat(row.mask);
      for (const row of newRows) row.mask = new Array(Math.max(0, width - L)).fill(0).concat(row.mask);
      rows = rows.concat(newRows);
    }
    this.cache = cache;
    this.rows = rows;
  }

  /**
   * One token for every row (finished rows not yet dropped are decoded and ignored):
   * input [B, 1], mask [B, S+1], positions [B, 1] → logits [B, 1, V].
   */
  private async decodeStep(): Promise<void> {
    const rows = this.rows;
    const B = rows.length;
    const S = rows[0].mask.length;
    const inputIds = tf.tensor2d(
      rows.map((r) => (r.tokens.length > 0 ? r.tokens[r.tokens.length - 1] : 0)),
      [B, 1],
      "int32",
    );
    // No row padded (a row's padding is on the left): the defaults (all ones, position S) are exactly right.
    const padded = rows.some((r) => r.mask[0] === 0);
    let positionIds: tf.Tensor2D | undefined, attentionMask: tf.Tensor2D | undefined;
    if (padded) {
      positionIds = tf.tensor2d(
        rows.map((r) => r.length - 1),
        [B, 1],
        "int32",
      ); // [B, 1]
      const maskValues = new Int32Array(B * (S + 1));
      rows.forEach((r, i) => {
        maskValues.set(r.mask, i * (S + 1));
        maskValues[i * (S + 1) + S] = 1;
      });
      attentionMask = tf.tensor2d(maskValues, [B, S + 1], "int32"); // [B, S+1]
    }
    let out: ReturnType<CausalLM["forward"]>;
    try {
      out = this.model.forward(inputIds, { attentionMask, positionIds, pastKeyValues: this.cache, useCache: true, transposedWeights: this.transposedWeights });
    } finally {
      tf.dispose([inputIds, ...(padded ? [positionIds!, attentionMask!] : [])]);
    }
    const { logits, presentKeyValues } = out;
    disposeCache(this.cache);
    this.cache = presentKeyValues;
    for (const r of rows) r.mask.push(1);
    const last = logits.reshape([B, -1]); // [B, V]
    logits.dispose();
    const values = (await last.data()) as Float32Array;
    last.dispose();
    this.steps++;
    const V = values.length / B;
    rows.forEach((row, i) => this.accept(row, values.subarray(i * V, (i + 1) * V)));
  }
}
