"""Random tiny Mistral, Qwen2 and Llama-variant checkpoints made with transformers, and what transformers computes
for them, for tests/architectures.test.ts.

usage: python make_tiny_models.py OUT_DIR
Writes OUT_DIR/<name>/ (config.json, model.safetensors, the fixture's tokenizer files) for each model below and
OUT_DIR/expected.json: per model, the logits of prompt 0 at every position, the summed completion log-probs of the
fixture's pairs (tests/fixtures/hf-tiny/expected.json ids; float64 log-softmax) and 12 greedy tokens after prompt 0.
  mistral      sliding_window 5 (shorter than every sequence), GQA 4/2
  qwen2        q/k/v biases, tied embeddings, use_sliding_window with layer 1 sliding (window 6)
  llama-llama3 old-style top-level rope_theta + rope_scaling {llama3}, attention_bias, mlp_bias, tied, head_dim 16, 1 kv head
  llama-linear rope_parameters {linear, factor 2}
"""
import json, os, shutil, sys
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM

out = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
fixture = os.path.join(here, "..", "fixtures", "hf-tiny")
ids = json.load(open(os.path.join(fixture, "expected.json")))["ids"]
common = dict(vocab_size=400, hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=128, bos_token_id=0, eos_token_id=2, pad_token_id=None,
              initializer_range=0.1, attn_implementation="eager")

def perturb(model, seed):
    """Random norms and biases too, so that every parameter matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"): p.add_(0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"): p.copy_(0.1 * torch.randn(p.shape, generator=g))

def build(name):
    if name == "mistral":
        return MistralForCausalLM(MistralConfig(**common, sliding_window=5, rms_norm_eps=1e-5)), None
    if name == "qwen2":
        return Qwen2ForCausalLM(Qwen2Config(**common, tie_word_embeddings=True, use_sliding_window=True, sliding_window=6, max_window_layers=1)), None
    if name == "llama-llama3":
        cfg = LlamaConfig(**{**common, "num_key_value_heads": 1}, head_dim=16, attention_bias=True, mlp_bias=True, tie_word_embeddings=True,
                          rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                                           "high_freq_factor": 4.0, "original_max_position_embeddings": 16})
        old_style = {"rope_theta": 500000.0, "rope_scaling": {"type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                               "high_freq_factor": 4.0, "original_max_position_embeddings": 16}}
        return LlamaForCausalLM(cfg), old_style
    if name == "llama-linear":
        return LlamaForCausalLM(LlamaConfig(**common, rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0})), None
    raise ValueError(name)

def completion_logp(model, prompt, completion):
    seq = torch.tensor([prompt + completion])
    logits = model(seq).logits[0].double()
    logp = torch.log_softmax(logits, -1)
    return sum(logp[len(prompt) - 1 + i, t].item() for i, t in enumerate(completion))

def greedy(model, prompt, n):
    seq = list(prompt)
    for _ in range(n):
        seq.append(int(model(torch.tensor([seq])).logits[0, -1].argmax()))
    return seq[len(prompt):]

expected = {}
for i, name in enumerate(["mistral", "qwen2", "llama-llama3", "llama-linear"]):
    torch.manual_seed(100 + i)
    model, old_style = build(name)
    perturb(model, 200 + i)
    model.eval()
    folder = os.path.join(out, name)
    model.save_pretrained(folder, safe_serialization=True)
    for f in ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja"]:
        shutil.copy(os.path.join(fixture, "llama-policy", f), folder)
    if old_style:
        # Rewrite the rope settings the pre-5 way and check transformers reads them as the same model.
        path = os.path.join(folder, "config.json")
        cfg = json.load(open(path))
        cfg.pop("rope_parameters", None)
        cfg.update(old_style)
        json.dump(cfg, open(path, "w"), indent=2)
        reloaded = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
        with torch.no_grad():
            x = torch.tensor([ids[0]["prompt"]])
            assert torch.allclose(model(x).logits, reloaded(x).logits, atol=1e-6), "old-style rope config read differently"
    with torch.no_grad():
        expected[name] = {
            "logits_prompt0": model(torch.tensor([ids[0]["prompt"]])).logits[0].tolist(),
            "per_pair": [{"chosen": completion_logp(model, p["prompt"], p["chosen"]), "rejected": completion_logp(model, p["prompt"], p["rejected"])} for p in ids],
            "greedy_prompt0_12_tokens": greedy(model, ids[0]["prompt"], 12),
            "sequence_lengths": [len(p["prompt"]) + min(len(p["chosen"]), len(p["rejected"])) for p in ids],
        }
json.dump({"transformers": __import__("transformers").__version__, "models": expected}, open(os.path.join(out, "expected.json"), "w"))
print(out)
