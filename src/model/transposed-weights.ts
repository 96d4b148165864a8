/**
 * Transposed copies of frozen [out, in] weights, made once and reused by every forward pass that is given the cache
 * (the server's decode steps). On the wasm backend only a matMul of two plain operands runs XNNPACK's fully-connected
 * operator, whose packed weights the backend keeps per weight tensor; a transposed weight (tf.matMul's transposeB, or a
 * tf.transpose per call as layers.ts's matMul does) runs a naive loop or repacks the weights on every call, 5–20×
 * slower for a decode step's few rows. Other backends read transposed operands directly, so there the cache stays
 * empty. The caller owns the copies: dispose() frees them (the server's batcher does when it is closed). The copies (and
 * the backend's packed ones) cost memory: beyond maxBytes of copies, further weights are not kept.
 */
import * as tf from "@tensorflow/tfjs";

/** Wᵀ per frozen weight, kept until {@link TransposedWeights.dispose} (see the file's opening comment). */
export class TransposedWeights {
  private readonly copies = new Map<tf.Tensor, { dataId: object; transposed: tf.Tensor2D }>();
  private bytes = 0;
  /** Bytes of transposed copies kept at most (default 256 MiB); a weight beyond that is not kept (null). */
  readonly maxBytes: number;

  constructor(opts: { maxBytes?: number } = {}) {
    this.maxBytes = opts.maxBytes ?? 256 * 2 ** 20;
  }

  /** Whether the current backend profits (wasm); elsewhere {@link transposeOf} returns null and nothing is kept. */
  static useful(): boolean {
    return tf.getBackend() === "wasm";
  }

  /**
   * The transpose of a weight that gets no gradient, made on first use (and again if the variable was assigned a new
   * value since); null where the backend gains nothing from it or maxBytes is reached. weight: [out, in] → [in, out]
   */
  transposeOf(weight: tf.Tensor2D): tf.Tensor2D | null {
    if (!TransposedWeights.useful()) return null;
    const dataId = weight.dataId as object;
    const known = this.copies.get(weight);
    if (known && known.dataId === dataId) return known.transposed;
    if (known) {
      known.transposed.dispose();
      this.copies.delete(weight);
      this.bytes -= weight.size * 4;
    }
    if (this.bytes + weight.size * 4 > this.maxBytes) return null;
    const transposed = tf.keep(tf.transpose(weight)) as tf.Tensor2D; // kept past the forward pass's tidy scope
    this.copies.set(weight, { dataId, transposed });
    this.bytes += weight.size * 4;
    return transposed;
  }

  /** How many transposed weights are kept. */
  get size(): number {
    return this.copies.size;
  }

  /** Frees every transposed copy; the cache can be used again afterwards (it refills on use). */
  dispose(): void {
    this.copies.forEach(({ transposed }) => transposed.dispose());
    this.copies.clear();
    this.bytes = 0;
  }
}
