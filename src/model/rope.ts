/**
 * Rotary position embeddings (RoPE) as transformers computes them (modeling_rope_utils.py, LlamaRotaryEmbedding):
 * inverse frequencies per rope type — "default", "linear" (positions divided by factor), "llama3" (long wavelengths
 * divided by factor, a smooth blend between) — then cos/sin of position · frequency (applied with rotate_half by
 * fused.ts' fusedRotary).
 */
import * as tf from "@tensorflow/tfjs";

/** Rotary position embedding settings: type, base and the scaling of the linear and llama3 types. */
export interface RopeParameters {
  ropeType: "default" | "linear" | "llama3";
  ropeTheta: number;
  /** linear and llama3: the scaling factor. */
  factor?: number;
  /** llama3 only. */
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositionEmbeddings?: number;
}

/** The rope types supported (transformers' names). */
export const ROPE_TYPES = ["default", "linear", "llama3"] as const;

/**
 * Reads the rope settings of a config.json: transformers 5's `rope_parameters` ({rope_type, rope_theta, factor, …})
 * or the older top-level `rope_theta` + `rope_scaling` ({type or rope_type, factor, …}).
 */
export function parseRope(raw: Record<string, unknown>, file: string): RopeParameters {
  const params = (raw.rope_parameters ?? raw.rope_scaling ?? {}) as Record<string, unknown>;
  if (typeof params !== "object" || params === null) throw new Error(`${file}: field "rope_parameters" must be an object`);
  const ropeType = (params.rope_type ?? params.type ?? "default") as string;
  if (!(ROPE_TYPES as readonly string[]).includes(ropeType)) {
    throw new Error(`${file}: rope type "${ropeType}" is not supported (supported: ${ROPE_TYPES.join(", ")})`);
  }
  const theta = params.rope_theta ?? raw.rope_theta ?? 10000;
  const number = (key: string): number => {
    const value = params[key];
    if (typeof value !== "number") throw new Error(`${file}: rope type "${ropeType}" needs a number "${key}" in rope_parameters, got ${JSON.stringify(value)}`);
    return value;
  };
  if (typeof theta !== "number") throw new Error(`${file}: field "rope_theta" must be a number, got ${JSON.stringify(theta)}`);
  const rope: RopeParameters = { ropeType: ropeType as RopeParameters["ropeType"], ropeTheta: theta };
  if (ropeType === "linear") rope.factor = number("factor");
  if (ropeType === "llama3") {
    rope.factor = number("factor");
    rope.lowFreqFactor = number("low_freq_factor");
    rope.highFreqFactor = number("high_freq_factor");
    rope.originalMaxPositionEmbeddings = number("original_max_position_embeddings");
  }
  return rope;
}

/** The inverse frequencies, headDim/2 of them, in float32 as torch computes them. */
export function inverseFrequencies(rope: RopeParameters, headDim: number): Float32Array {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.fround(rope.ropeTheta ** Math.fround((2 * i) / headDim));
  if (rope.ropeType === "linear") for (let i = 0; i < half; i++) inv[i] = inv[i] / rope.factor!;
  if (rope.ropeType === "llama3") {
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldContext } = rope as Required<RopeParameters>;
    const lowFreqWavelen = oldContext / lowFreqFactor;
    const highFreqWavelen = oldContext / highFreqFactor;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      const scaled = wavelen > lowFreqWavelen ? inv[i] / factor : inv[i];
      if (wavelen >= highFreqWavelen && wavelen <= lowFreqWavelen) {
        const smooth = (oldContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        inv[i] = (1 - smooth) * (scaled / factor) + smooth * scaled;
      } else inv[i] = scaled;
    }
  }
  return inv;
}

/**
 * cos and sin of every position's angles, each angle twice (torch.cat((freqs, freqs))).
 * positions: [B or 1, T] (float or int) → cos, sin: [B or 1, 1, T, headDim]
 */
export function rotaryTables(positions: tf.Tensor2D, inverseFreq: Float32Array): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
  return tf.tidy(() => {
    const [B, T] = positions.shape;
    const freqs = positions
      .cast("float32")
      .reshape([B, T, 1])
      .mul(tf.tensor1d(inverseFreq).reshape([1, 1, -1])); // [B, T, hd/2]
    const angles = tf.concat([freqs, freqs], -1).reshape([B, 1, T, 2 * inverseFreq.length]); // [B, 1, T, hd]
    return { cos: tf.cos(angles) as tf.Tensor4D, sin: tf.sin(angles) as tf.Tensor4D };
  });
}
