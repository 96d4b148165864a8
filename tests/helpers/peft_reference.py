"""What Hugging Face peft and transformers compute for LoRA adapters, for tests/lora.test.ts.

usage:
  python peft_reference.py make-adapter BASE OUT TARGETS R ALPHA   a PEFT LoRA adapter on BASE with random A and B
                                                                    (init_lora_weights=False), saved to OUT
  python peft_reference.py logits BASE ADAPTER IDS_JSON            logits of PeftModel.from_pretrained(BASE, ADAPTER)
  python peft_reference.py logits BASE - IDS_JSON                  logits of the plain model (e.g. a merged one)
Prints JSON on stdout: {"logits": [[...], ...]} for the ids (one sequence), or {"saved": OUT}.
"""
import json, sys
import torch
from transformers import AutoModelForCausalLM
from peft import LoraConfig, PeftModel, get_peft_model

cmd = sys.argv[1]
torch.manual_seed(0)
base = AutoModelForCausalLM.from_pretrained(sys.argv[2], dtype=torch.float32)
if cmd == "make-adapter":
    out, targets, r, alpha = sys.argv[3], sys.argv[4].split(","), int(sys.argv[5]), float(sys.argv[6])
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=targets, task_type="CAUSAL_LM",
                        init_lora_weights=False, fan_in_fan_out=base.config.model_type == "gpt2")
    model = get_peft_model(base, config)
    model.save_pretrained(out)
    print(json.dumps({"saved": out}))
elif cmd == "logits":
    adapter, ids = sys.argv[3], json.loads(sys.argv[4])
    model = base if adapter == "-" else PeftModel.from_pretrained(base, adapter)
    model.eval()
    with torch.no_grad():
        print(json.dumps({"logits": model(torch.tensor([ids])).logits[0].tolist()}))
else:
    raise SystemExit(f"unknown command {cmd}")
