#!/usr/bin/env python3
"""Train Hugging Face TRL's DPOTrainer on a local HF model folder and print TRL's per-step logs as JSON.

This is the *reference implementation* for dpo-ts parity: the TypeScript DPOTrainer must reproduce these numbers.

Usage (from the repo root, after scripts/setup-python.sh):

  .venv/bin/python bench/trl_dpo.py --model tests/fixtures/hf-tiny/gpt2-policy \
      --ref tests/fixtures/hf-tiny/gpt2-ref --prefs tests/fixtures/hf-tiny/prefs.jsonl \
      --lr 1e-3 --beta 0.1 --steps 5 --loss-type sigmoid \
      --out bench/reference/trl_gpt2_tiny_lr1e-3.json \
      --expect tests/fixtures/hf-tiny/expected.json --expect-key models/gpt2/metrics/sigmoid_beta0.1_ls0.0

Output (stdout, and --out if given): one JSON object
  {"versions": {...}, "args": {...}, "trl_config": {...}, "num_rows": N,
   "logs": [{"step": 1, "loss": ..., "rewards/chosen": ..., ..., "grad_norm": ..., "learning_rate": ...}, ...],
   "expect": {...}}            # only with --expect: step-1 comparison, max abs diff
Progress and library chatter go to stderr only.

What TRL 1.13 (+ transformers 5.18 Trainer) logs at step k, established by reading the sources (file:line refs are
for trl 1.13.0 / transformers 5.18.0 in the venv) and confirmed on the fixture (step 1 == expected.json, which was
computed with the initial weights):

* Batch: with per_device_train_batch_size == number of rows, every optimizer step sees the whole data set (one
  batch per epoch; RandomSampler reorders rows each epoch, which changes nothing but float summation order).
* Metrics logged at step k are computed in the forward pass of step k, i.e. with the weights after k-1 optimizer
  updates, on the batch of step k, *before* the k-th update (trl dpo_trainer.py:1367-1693 computes them inside
  compute_loss; transformers trainer.py:1871 training_step -> 1892-1894 clip -> 1897 optimizer.step -> 1901 LR read
  -> 1906 lr_scheduler.step -> 1912 log).
* With logging_steps > 1, DPOTrainer.log (dpo_trainer.py:1792-1801) averages each list in self._metrics (one entry
  per micro-batch forward since the last log) with a plain mean; "loss" is the Trainer's
  tr_loss / (steps since last log) (trainer.py:2209) i.e. also a mean. "grad_norm" and "learning_rate" are NOT
  averaged: they are the values of the last step only. Here logging_steps = 1, so nothing is averaged.
* grad_norm: total L2 norm over all model.parameters() (torch.nn.utils.clip_grad_norm_ via accelerate, every
  parameter once: GPT-2's tied wte/lm_head weight counts once), taken BEFORE clipping (clip_grad_norm_ returns the
  pre-clip norm; trainer.py:1892-1894, 2678-2684). Gradients are then scaled by min(1, max_grad_norm/(norm+1e-6))
  (torch's clip_coef uses +1e-6) when max_grad_norm > 0.
* Optimizer: TrainingArguments.optim default "adamw_torch_fused" when torch >= 2.8 (training_args.py:804-810), i.e.
  torch.optim.AdamW(lr, betas=(adam_beta1=0.9, adam_beta2=0.999), eps=adam_epsilon=1e-8, fused=True)
  (trainer_optimizer.py:202-207). torch AdamW is decoupled weight decay: p -= lr*wd*p, then the Adam step with bias
  correction. Two parameter groups (trainer.py:1259-1272, 1395-1405): weight_decay is applied only to parameters
  that are NOT inside an nn.LayerNorm module and whose name does not match r"bias", r"layernorm", r"rmsnorm",
  r"(?:^|\.)norm(?:$|\.)", r"_norm(?:$|\.)"; the rest get weight_decay 0. (We use weight_decay = 0, so moot.)
* LR: lr_scheduler_type "constant" here (TRL/HF default is "linear" decay to 0 with warmup_steps=0). The logged
  learning_rate is read after optimizer.step() and before lr_scheduler.step() (trainer.py:1900-1906), so it IS the
  LR used for the k-th update (checked: 'linear' over 5 steps logs 1e-3, 8e-4, 6e-4, 4e-4, 2e-4).
* Tokenization (dpo_trainer.py:1034-1113, data_utils.py:401-437): for non-conversational rows TRL appends the EOS
  *string* to chosen/rejected unless the text already ends with it; then it tokenizes prompt and prompt+chosen,
  prompt+rejected with tokenizer(text) -- add_special_tokens at the tokenizer's default (True), so a tokenizer whose
  post-processor adds BOS (Llama) gets a BOS at the start of the prompt; GPT-2-style tokenizers (and the fixture)
  add nothing -- and sets chosen_ids = ids(prompt+chosen)[len(ids(prompt)):] (only a warning if the prompt ids are
  not a prefix). No max_prompt_length / max_completion_length in 1.13: only max_length (default 1024), applied per
  sequence in the collator to prompt+completion with truncation_mode "keep_start" (keep the first max_length
  tokens, dpo_trainer.py:148-161); rows whose prompt alone has >= max_length tokens are dropped
  (dpo_trainer.py:1110-1113).
* Padding (dpo_trainer.py:142-203): batch = [all chosen rows; all rejected rows], each prompt+completion, right
  padded with pad_token_id (tokenizer.pad_token, else eos_token); attention_mask 0 on pads; completion_mask 1 only
  on completion tokens. Log-probs: logits[:, :-1] vs input_ids[:, 1:], per-token log-softmax (gather - logsumexp,
  utils.py:485), set to 0 where shifted completion_mask == 0, summed per sequence (dpo_trainer.py:1380-1400).
* Reference model: when ref is None, TRL does NOT deep-copy the policy; it loads a second copy from disk from
  model.config._name_or_path (dpo_trainer.py:919-934), unless PEFT (adapter disabled) or precompute_ref_log_probs.
  Runs under torch.no_grad() and is prepared in evaluation mode (dpo_trainer.py:970).
* Dropout: disable_dropout=True (default) sets p=0 on every nn.Dropout in policy and ref (utils.py:183-186,
  dpo_trainer.py:938-942); the policy itself is in train() mode.
* ipo: each log-ratio is divided by its completion token count (completion_mask.sum over the *unshifted* mask,
  clamp min 1) before the difference: loss = ((lr_c/|y_c| - lr_r/|y_r|) - 1/(2 beta))^2 (dpo_trainer.py:1478-1489).
  expected.json's ipo_* is the unnormalized paper form, so it will not match TRL's ipo.
* sigmoid ignores label_smoothing in TRL 1.13 (dpo_trainer.py:1472-1473: -logsigmoid(beta*delta)); label smoothing
  only enters robust, exo_pair, aot, aot_unpaired. expected.json's sigmoid_*_ls0.1 (cDPO) has no TRL 1.13 twin.
* use_weighting=True crashes TRL 1.13 at step 1 with hinge or sft (an in-place product autograd rejects).

Many runs in one process (what tests/trl-parity.test.ts does, to pay Python's start-up once):
  .venv/bin/python bench/trl_dpo.py --model ... --ref ... --prefs ... --lr 1e-3 --steps 5 \
      --sweep '[{"name": "ipo", "loss_type": "ipo"}, {"name": "wpo", "use_weighting": true}]'
prints {"versions", "args", "runs": [{"name", "trl_config", "logs"}, ...]}. A sweep reads the rows, the tokenizer and the
reference once and loads the policy once, deep-copying it for each run (a fresh DPOTrainer, optimizer and scheduler per
run, so each run is exactly a separate one; the outputs are bit-identical to separate loads). Pass --threads 1 for tiny
models: torch's default of one thread per core costs 5-20x the step time on a shared machine (0.07 s vs 0.4-2 s per
5-step run here), and the numbers stay within float-summation noise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time


def _eprint(*a):
    print(*a, file=sys.stderr, flush=True)


def read_prefs(path: str) -> list[dict]:
    """Read prompt/chosen/rejected rows from JSONL (or a JSON array); errors name file, 1-based line and field."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    rows: list[dict] = []
    stripped = text.lstrip()
    if stripped.startswith("["):
        data = json.loads(text)
        items = [(f"item {i + 1}", r) for i, r in enumerate(data)]
    else:
        items = []
        for ln, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append((str(ln), json.loads(line)))
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{ln}: invalid JSON: {e}")
    for ln, r in items:
        if not isinstance(r, dict):
            raise SystemExit(f"{path}:{ln}: expected an object with prompt/chosen/rejected")
        for k in ("prompt", "chosen", "rejected"):
            if not isinstance(r.get(k), str):
                raise SystemExit(f"{path}:{ln}: field '{k}' missing or not a string")
        rows.append({"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]})
    if not rows:
        raise SystemExit(f"{path}: no rows")
    return rows


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="HF model folder of the policy (config.json, model.safetensors, tokenizer)")
    p.add_argument("--adapter", default=None, help="PEFT LoRA adapter folder: train it (PeftModel, is_trainable) on --model; the reference is the model with the adapter disabled")
    p.add_argument("--ref", default=None, help="HF model folder of the reference; default: TRL reloads --model from disk")
    p.add_argument("--prefs", required=True, help="preferences JSONL (prompt/chosen/rejected)")
    p.add_argument("--out", default=None, help="also write the JSON here")
    p.add_argument("--lr", type=float, default=1e-6, help="learning rate (DPOConfig default 1e-6)")
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--steps", type=int, default=1, help="optimizer steps (max_steps)")
    p.add_argument("--loss-type", default="sigmoid", help="TRL loss_type, comma-separated for a multi-loss mix")
    p.add_argument("--loss-weights", default=None, help="comma-separated loss_weights for a multi-loss mix")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--f-divergence-type", default="reverse_kl", help="reverse_kl, forward_kl, js_divergence, alpha_divergence")
    p.add_argument("--f-alpha-divergence-coef", type=float, default=0.5)
    p.add_argument("--ld-alpha", type=float, default=None, help="LD-DPO alpha (default None: off)")
    p.add_argument("--use-weighting", action="store_true", help="WPO weighting")
    p.add_argument("--discopop-tau", type=float, default=0.05)
    p.add_argument("--sweep", default=None,
                   help="JSON list (inline or a file) of runs, each an object of this script's options by their "
                        "argparse names (loss_type, label_smoothing, ...) plus 'name'; all run in this one process and "
                        "the output is {'versions', 'runs': [{'name', 'trl_config', 'logs'}]}")
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--batch-size", type=int, default=None, help="per_device_train_batch_size (default: all rows)")
    p.add_argument("--grad-accum", type=int, default=1, help="gradient_accumulation_steps")
    p.add_argument("--max-length", type=int, default=1024, help="DPOConfig.max_length; 0 = None (no truncation)")
    p.add_argument("--lr-scheduler", default="constant", help="lr_scheduler_type (HF default 'linear'; here 'constant')")
    p.add_argument("--warmup-steps", type=float, default=0)
    p.add_argument("--optim", default=None, help="TrainingArguments.optim (default: HF default, adamw_torch_fused)")
    p.add_argument("--logging-steps", type=int, default=1)
    p.add_argument("--gradient-checkpointing", action="store_true", help="TRL's default is on; off here (no numeric effect)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--expect", default=None, help="JSON file with expected step-1 metrics (e.g. expected.json)")
    p.add_argument("--expect-key", default=None, help="'/'-separated path inside --expect, e.g. models/gpt2/metrics/sigmoid_beta0.1_ls0.0")
    p.add_argument("--tol", type=float, default=1e-5, help="max abs diff allowed for --expect (exit 1 above it)")
    return p


METRIC_KEYS = [
    "loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
    "logps/chosen", "logps/rejected", "logits/chosen", "logits/rejected",
]


def compare(step1: dict, expected: dict) -> dict:
    diffs = {}
    for k in METRIC_KEYS:
        if k in expected and k in step1:
            diffs[k] = abs(float(step1[k]) - float(expected[k]))
    return {"abs_diff": diffs, "max_abs_diff": max(diffs.values()) if diffs else None}


def _train(DPOTrainer, args, ref_model, config, train_dataset, tokenizer, model=None):
    trainer = DPOTrainer(
        # a path: TRL loads it (fp32) and, when ref is None, reloads it as the reference; a PeftModel: TRL uses it
        # with its adapter disabled as the reference. In a sweep without adapters, a fresh copy of the once-loaded
        # policy (same weights, same config._name_or_path, so TRL's reference reload is unchanged).
        model=model if model is not None else args.model,
        ref_model=ref_model,
        args=config,
        train_dataset=train_dataset,
        processing_class=tokenizer,
    )
    t0 = time.time()
    trainer.train()
    return trainer, time.time() - t0


def _loaded(cache, key, load):
    """load() once per key when a sweep passes a cache dict; every call otherwise."""
    if cache is None:
        return load()
    if key not in cache:
        cache[key] = load()
    return cache[key]


def run_trl(args, torch, DPOConfig, DPOTrainer, AutoModelForCausalLM, AutoTokenizer, datasets, cache=None) -> dict:
    """One TRL training run with these options: {"args", "trl_config", "num_rows", "train_wall_s", "logs"}.

    With `cache` (a dict kept across the runs of a sweep) the rows, the tokenizer and the reference model are loaded
    once, and the policy is loaded once and deep-copied for each run, so that every run starts from the same weights
    with a fresh optimizer and scheduler (each run builds its own DPOTrainer) but pays no disk reads or parsing. The
    reference is never updated (TRL runs it under no_grad in eval mode; disable_dropout only zeroes dropout p)."""
    import copy

    rows = _loaded(cache, ("rows", args.prefs), lambda: read_prefs(args.prefs))
    bs = args.batch_size or len(rows)
    loss_types = [s.strip() for s in args.loss_type.split(",") if s.strip()]
    loss_weights = [float(x) for x in args.loss_weights.split(",")] if args.loss_weights else None

    tokenizer = _loaded(cache, ("tokenizer", args.model), lambda: AutoTokenizer.from_pretrained(args.model))
    ref_model = None
    if args.ref:
        ref_model = _loaded(cache, ("ref", args.ref), lambda: AutoModelForCausalLM.from_pretrained(args.ref, dtype=torch.float32))
    model = None
    if cache is not None and not args.adapter:
        pristine = _loaded(cache, ("policy", args.model), lambda: AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32))
        model = copy.deepcopy(pristine)
    if args.adapter:
        from peft import PeftModel
        model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32), args.adapter, is_trainable=True)

    outdir = tempfile.mkdtemp(prefix="trl_dpo_")
    cfg_kwargs = dict(
        output_dir=outdir,
        learning_rate=args.lr,
        beta=args.beta,
        loss_type=loss_types,
        loss_weights=loss_weights,
        label_smoothing=args.label_smoothing,
        f_divergence_type=args.f_divergence_type,
        f_alpha_divergence_coef=args.f_alpha_divergence_coef,
        ld_alpha=args.ld_alpha,
        use_weighting=args.use_weighting,
        discopop_tau=args.discopop_tau,
        max_grad_norm=args.max_grad_norm,
        weight_decay=args.weight_decay,
        per_device_train_batch_size=bs,
        gradient_accumulation_steps=args.grad_accum,
        max_steps=args.steps,
        lr_scheduler_type=args.lr_scheduler,
        warmup_steps=args.warmup_steps,
        logging_steps=args.logging_steps,
        seed=args.seed,
        bf16=False,  # TRL's default is bf16=True unless fp16; we want fp32
        fp16=False,
        use_cpu=True,
        gradient_checkpointing=args.gradient_checkpointing,
        max_length=args.max_length if args.max_length > 0 else None,
        report_to="none",
        save_strategy="no",
        eval_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
        model_init_kwargs={"dtype": "float32"},
    )
    if args.optim:
        cfg_kwargs["optim"] = args.optim
    config = DPOConfig(**cfg_kwargs)

    # Trainer's PrinterCallback prints each log dict to stdout; keep stdout for our JSON only.
    with contextlib.redirect_stdout(sys.stderr):
        trainer, wall = _train(DPOTrainer, args, ref_model, config, datasets.Dataset.from_list(rows), tokenizer, model)

    logs = []
    for entry in trainer.state.log_history:
        if "loss" in entry and "train_runtime" not in entry:
            e = {"step": int(entry["step"])}
            for k, v in entry.items():
                if k != "step":
                    e[k] = float(v) if isinstance(v, (int, float)) else v
            logs.append(e)

    return {
        "args": {k: v for k, v in vars(args).items() if k not in ("out",)},
        "trl_config": {
            "learning_rate": config.learning_rate, "beta": config.beta, "loss_type": config.loss_type,
            "loss_weights": config.loss_weights, "label_smoothing": config.label_smoothing,
            "f_divergence_type": config.f_divergence_type, "f_alpha_divergence_coef": config.f_alpha_divergence_coef,
            "ld_alpha": config.ld_alpha, "use_weighting": config.use_weighting, "discopop_tau": config.discopop_tau,
            "max_grad_norm": config.max_grad_norm, "weight_decay": config.weight_decay,
            "adam_beta1": config.adam_beta1, "adam_beta2": config.adam_beta2, "adam_epsilon": config.adam_epsilon,
            "optim": str(getattr(config.optim, "value", config.optim)),
            "lr_scheduler_type": str(getattr(config.lr_scheduler_type, "value", config.lr_scheduler_type)),
            "warmup_steps": config.warmup_steps, "per_device_train_batch_size": config.per_device_train_batch_size,
            "gradient_accumulation_steps": config.gradient_accumulation_steps, "max_steps": config.max_steps,
            "max_length": config.max_length, "truncation_mode": config.truncation_mode,
            "disable_dropout": config.disable_dropout, "gradient_checkpointing": config.gradient_checkpointing,
            "bf16": config.bf16, "fp16": config.fp16, "seed": config.seed, "logging_steps": config.logging_steps,
            "pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id,
        },
        "num_rows": len(rows),
        "train_wall_s": wall,
        "logs": logs,
    }


def _emit(result: dict, out: str | None) -> None:
    """The JSON on stdout, and in --out when given."""
    text = json.dumps(result, indent=1)
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(text)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local folders only; never reach the Hub
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # CPU reference

    import torch
    import transformers
    import trl
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.sweep:
        spec = args.sweep if args.sweep.lstrip().startswith("[") else open(args.sweep, encoding="utf-8").read()
        runs = []
        cache: dict = {}
        for entry in json.loads(spec):
            unknown = sorted(set(entry) - set(vars(args)) - {"name"})
            if unknown:
                raise SystemExit(f"--sweep: unknown option(s) {unknown} in {entry}")
            run_args = argparse.Namespace(**{**vars(args), **{k: v for k, v in entry.items() if k != "name"}})
            if isinstance(run_args.loss_weights, list):
                run_args.loss_weights = ",".join(str(w) for w in run_args.loss_weights)
            if isinstance(run_args.loss_type, list):
                run_args.loss_type = ",".join(run_args.loss_type)
            _eprint(f"sweep: {entry.get('name', run_args.loss_type)}")
            one = run_trl(run_args, torch, DPOConfig, DPOTrainer, AutoModelForCausalLM, AutoTokenizer, datasets, cache)
            runs.append({"name": entry.get("name", run_args.loss_type), "trl_config": one["trl_config"], "logs": one["logs"]})
        versions = {"trl": trl.__version__, "transformers": transformers.__version__, "torch": torch.__version__,
                    "python": sys.version.split()[0]}
        _emit({"versions": versions, "args": {k: v for k, v in vars(args).items() if k != "out"}, "runs": runs}, args.out)
        return 0

    result = run_trl(args, torch, DPOConfig, DPOTrainer, AutoModelForCausalLM, AutoTokenizer, datasets)
    result["versions"] = {"trl": trl.__version__, "transformers": transformers.__version__, "torch": torch.__version__,
                          "python": sys.version.split()[0]}
    logs = result["logs"]
    rc = 0
    if args.expect:
        with open(args.expect, encoding="utf-8") as f:
            exp = json.load(f)
        if args.expect_key:
            for part in args.expect_key.split("/"):
                if part not in exp:
                    raise SystemExit(f"{args.expect}: key '{part}' of --expect-key {args.expect_key} not found")
                exp = exp[part]
        cmp = compare(logs[0], exp)
        cmp["key"] = args.expect_key
        cmp["tol"] = args.tol
        cmp["ok"] = cmp["max_abs_diff"] is not None and cmp["max_abs_diff"] <= args.tol
        result["expect"] = cmp
        _eprint(f"step-1 vs {args.expect} [{args.expect_key}]: max abs diff {cmp['max_abs_diff']:.3g} "
                f"({'OK' if cmp['ok'] else 'MISMATCH'})")
        if not cmp["ok"]:
            rc = 1

    _emit(result, args.out)
    return rc


if __name__ == "__main__":
    sys.exit(main())
