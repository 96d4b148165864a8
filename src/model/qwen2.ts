/**
 * Qwen2ForCausalLM (transformers 5, models/qwen2): Llama's network with biases on q_proj, k_proj, v_proj (none on
 * o_proj or the MLP), and — only when use_sliding_window is true — sliding-window attention on the layers that
 * layer_types marks "sliding_attention" (by default the layers from max_window_layers on). The small checkpoints tie
 * the head to the embedding (tie_word_embeddings). Only the configuration differs from Llama.
 */
import { LlamaConfig, parseLlamaConfig } from "./llama";
import { num } from "./config";

/** A Qwen2 config.json as a {@link LlamaConfig} (attention biases, sliding window only when enabled); throws naming the file and field on a bad value. */
export function parseQwen2Config(raw: Record<string, unknown>, file = "config.json"): LlamaConfig {
  const layers = num(raw, "num_hidden_layers", 24, file);
  // Qwen2Config.__post_init__: sliding_window is None unless use_sliding_window.
  const window = raw.use_sliding_window === true && raw.sliding_window !== null ? num(raw, "sliding_window", 4096, file) : null;
  let layerTypes = raw.layer_types as string[] | undefined | null;
  if (layerTypes !== undefined && layerTypes !== null) {
    if (!Array.isArray(layerTypes) || layerTypes.length !== layers || layerTypes.some((t) => t !== "full_attention" && t !== "sliding_attention")) {
      throw new Error(`${file}: field "layer_types" must list "full_attention" or "sliding_attention" for each of the ${layers} layers`);
    }
  } else {
    const maxWindowLayers = num(raw, "max_window_layers", 28, file);
    layerTypes = Array.from({ length: layers }, (_, i) => (window !== null && i >= maxWindowLayers ? "sliding_attention" : "full_attention"));
  }
  return parseLlamaConfig(raw, file, {
    modelType: "qwen2",
    qkvBias: true,
    oProjBias: false,
    mlpBias: false,
    rmsNormEps: num(raw, "rms_norm_eps", 1e-6, file),
    slidingWindows: layerTypes.map((t) => (t === "sliding_attention" ? window : null)),
  });
}
