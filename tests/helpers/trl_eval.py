"""TRL 1.13's DPOTrainer.evaluate() on a local policy/reference pair: prints the eval metrics as one JSON object.

Usage: trl_eval.py POLICY_DIR REF_DIR PREFS.jsonl EVAL_BATCH_SIZE BETA
"""
import json, sys, tempfile, contextlib, io

policy_dir, ref_dir, prefs, batch_size, beta = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
with contextlib.redirect_stdout(sys.stderr):
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    rows = [json.loads(l) for l in open(prefs, encoding="utf-8") if l.strip()]
    ds = Dataset.from_list([{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in rows])
    tok = AutoTokenizer.from_pretrained(policy_dir)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(policy_dir, torch_dtype=torch.float32)
    ref = AutoModelForCausalLM.from_pretrained(ref_dir, torch_dtype=torch.float32)
    args = DPOConfig(output_dir=tempfile.mkdtemp(), per_device_eval_batch_size=batch_size, beta=beta, report_to="none",
                     use_cpu=True, bf16=False, fp16=False, dataloader_num_workers=0)
    trainer = DPOTrainer(model=model, ref_model=ref, args=args, train_dataset=ds, eval_dataset=ds, processing_class=tok)
    metrics = trainer.evaluate()
print(json.dumps(metrics))
