"""What Hugging Face peft and transformers compute for LoRA adapters, for tests/lora.test.ts.

usage: python peft_reference.py JOBS_JSON
JOBS_JSON: a list of jobs, run in order (one Python start for all of them):
  {"make_adapter": OUT, "base": DIR, "targets": [...], "r": R, "alpha": A}
      a PEFT LoRA adapter on the base with random A and B (init_lora_weights=False), saved to OUT
  {"logits": IDS, "base": DIR, "adapter": DIR or null}
      logits of PeftModel.from_pretrained(base, adapter), or of the plain model (e.g. a merged one) when adapter is null
Prints a JSON list on stdout, one result per job: {"saved": OUT} or {"logits": [[...], ...]}.
"""
import json, sys
import torch
from transformers import AutoModelForCausalLM
from peft import LoraConfig, PeftModel, get_peft_model

results = []
for job in json.loads(sys.argv[1]):
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(job["base"], dtype=torch.float32)
    if "make_adapter" in job:
        config = LoraConfig(r=job["r"], lora_alpha=job["alpha"], lora_dropout=0.0, target_modules=job["targets"], task_type="CAUSAL_LM",
                            init_lora_weights=False, fan_in_fan_out=base.config.model_type == "gpt2")
        get_peft_model(base, config).save_pretrained(job["make_adapter"])
        results.append({"saved": job["make_adapter"]})
    else:
        model = PeftModel.from_pretrained(base, job["adapter"]) if job.get("adapter") else base
        model.eval()
        with torch.no_grad():
            results.append({"logits": model(torch.tensor([job["logits"]])).logits[0].tolist()})
print(json.dumps(results))
