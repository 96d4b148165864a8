#!/usr/bin/env python3
"""Measure TRL DPOTrainer training-step throughput on CPU (fp32); optionally build the model and data first.

The TypeScript benchmark loads the very same HF folder and JSONL, so both sides train the same model on the same data.

Examples (repo root):

  # GPT-2 small shape, random weights, saved as an HF folder (config.json, model.safetensors, tokenizer files),
  # 8 synthetic pairs of exactly 128 tokens per sequence, then measure 3 warm-up + 5 timed steps:
  .venv/bin/python bench/trl_throughput.py --make-model /tmp/gpt2-124m --n-layer 12 --n-embd 768 --n-head 12 \
      --vocab 50257 --n-positions 1024 --make-prefs /tmp/prefs-128.jsonl --n-pairs 8 --seq-len 128 \
      --batch-size 8 --warmup 3 --steps 5

  # Only build model + data (no TRL run):       add --no-bench
  # Measure an existing folder and prefs file:  --model DIR --prefs FILE --batch-size 4
  # The machine's fp32 matmul roof in torch:    --no-bench --roof 3072 --threads 2
  # A cold start (what `dpo-ts bench` reports as "40 updates"): --cold --warmup 0 --steps 40 --model DIR --prefs FILE
  #   --batch-size 4 --grad-accum 2 --lr 2e-4 --lr-scheduler cosine --lr-warmup-steps 4 --max-length 256

`dpo-ts bench` (src/cli/bench.ts) runs this script once per round and side, in a fresh process each time, with the
same --threads as the native backend's TF_NUM_INTRAOP_THREADS.

What is timed: one optimizer step as TRL runs it = policy forward + reference forward (no_grad) + DPO loss and
TRL's metric bookkeeping + backward + grad-norm clip + AdamW step + zero_grad (from the Trainer's on_step_begin to
on_step_end callbacks; data loading/collation happens before on_step_begin and is not timed). Reference model:
--ref DIR, else TRL's default (a second copy of --model loaded from disk). Warm-up steps are excluded.

tokens/s counts non-pad tokens (attention_mask == 1) of the chosen AND rejected sequences, prompt included, i.e.
TRL's own `num_tokens` accounting, divided by the step time. pairs/s = batch_size / step time.
Peak RSS is the process high-water mark (ru_maxrss), which includes model loading.

--cold times one wall clock from loading the tokenizer, through DPOTrainer's construction (policy and reference
loaded from disk, the data set tokenized) to the end of --steps updates over every row of --prefs: the cold-start
figure. TRL saves nothing (save_strategy "no"); dpo-ts's side writes its final model, which only counts against it.

Synthetic prefs (--make-prefs): each row's prompt is P single-token words and chosen/rejected are C single-token
words each (different random words), where the words are vocabulary entries that encode to exactly one token on
their own (" the", " a", ...). TRL appends the EOS token to both completions, so every tokenized sequence has
exactly P + C + 1 = --seq-len tokens (P = --prompt-len, default seq_len // 2) and there is no padding. The token
count is checked after tokenization.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import statistics
import sys
import time


def _eprint(*a):
    print(*a, file=sys.stderr, flush=True)


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024.0 if sys.platform != "darwin" else r / (1024.0 * 1024.0)


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = p.add_argument_group("model")
    g.add_argument("--model", default=None, help="HF model folder to train (default: the --make-model folder)")
    g.add_argument("--ref", default=None, help="reference model folder (default: TRL reloads --model)")
    g.add_argument("--make-model", default=None, metavar="DIR", help="build a random model of --arch and save it here (HF format)")
    g.add_argument("--arch", choices=("gpt2", "llama"), default="gpt2",
                   help="gpt2 (GPT2LMHeadModel) or llama (LlamaForCausalLM: RMSNorm, rotary, SwiGLU, grouped-query attention)")
    g.add_argument("--n-layer", type=int, default=12)
    g.add_argument("--n-embd", type=int, default=768)
    g.add_argument("--n-head", type=int, default=12)
    g.add_argument("--vocab", type=int, default=50257)
    g.add_argument("--n-positions", type=int, default=1024)
    g.add_argument("--n-kv-head", type=int, default=None, help="llama: num_key_value_heads (default --n-head)")
    g.add_argument("--intermediate", type=int, default=None, help="llama: intermediate_size of the SwiGLU MLP (default 4 × --n-embd)")
    g.add_argument("--rope-theta", type=float, default=10000.0, help="llama: rope_theta")
    g.add_argument("--init-seed", type=int, default=0, help="torch seed for the random weights")
    g.add_argument("--tokenizer-from", default=None,
                   help="folder whose tokenizer files are copied into --make-model "
                        "(default: tests/fixtures/hf-tiny/gpt2-policy, byte-level BPE, 400 tokens, EOS <|im_end|>)")
    g.add_argument("--overwrite", action="store_true", help="rebuild --make-model even if it already has the same config")
    d = p.add_argument_group("data")
    d.add_argument("--prefs", default=None, help="prefs JSONL (default: the --make-prefs file)")
    d.add_argument("--make-prefs", default=None, metavar="FILE", help="write synthetic prefs here")
    d.add_argument("--n-pairs", type=int, default=None, help="rows for --make-prefs (default: --batch-size)")
    d.add_argument("--seq-len", type=int, default=128, help="tokens per tokenized sequence (prompt + completion + EOS)")
    d.add_argument("--prompt-len", type=int, default=None, help="prompt tokens (default seq_len // 2)")
    d.add_argument("--data-seed", type=int, default=0)
    b = p.add_argument_group("bench")
    b.add_argument("--no-bench", action="store_true", help="only build model/data")
    b.add_argument("--batch-size", type=int, default=8, help="pairs per optimizer step (per_device_train_batch_size)")
    b.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    b.add_argument("--steps", type=int, default=5, help="timed steps")
    b.add_argument("--threads", type=int, default=None, help="torch threads (default: CPUs available to this process)")
    b.add_argument("--lr", type=float, default=1e-6)
    b.add_argument("--beta", type=float, default=0.1)
    b.add_argument("--loss-type", default="sigmoid")
    b.add_argument("--max-length", type=int, default=0, help="DPOConfig.max_length (0 = None: no truncation)")
    b.add_argument("--gradient-checkpointing", action="store_true", help="TRL's default is on; off here")
    b.add_argument("--grad-accum", type=int, default=1, help="gradient_accumulation_steps")
    b.add_argument("--lr-scheduler", default="constant", help="lr_scheduler_type")
    b.add_argument("--lr-warmup-steps", type=int, default=0, help="warmup_steps of the learning-rate schedule")
    b.add_argument("--seed", type=int, default=42, help="DPOConfig.seed (data order)")
    b.add_argument("--logging-steps", type=int, default=0, help="logging_steps (0: once, at the last step)")
    b.add_argument("--cold", action="store_true",
                   help="time a cold start instead of a steady state: tokenizer + model load + DPOTrainer construction "
                        "(tokenization) + --steps updates on every row of --prefs, as one wall time (needs --warmup 0)")
    b.add_argument("--roof", type=int, default=0, metavar="N",
                   help="also measure GFLOP/s of an [N, N] x [N, N] fp32 matmul (best of 3 after one untimed) at "
                        "--threads; with --no-bench only that")
    b.add_argument("--all-rows", action="store_true",
                   help="train on every row of --prefs (shuffled, like dpo-ts) instead of repeating the first batch; "
                        "--warmup and --steps must then be whole epochs, and tokens/step is the data set's tokens per "
                        "epoch divided by the steps of an epoch")
    b.add_argument("--lora-r", type=int, default=0, help="train LoRA adapters (peft) of this rank instead of all weights; "
                   "the reference is the model with its adapters disabled, as TRL does with a peft_config (0 = no LoRA)")
    b.add_argument("--lora-alpha", type=float, default=16)
    b.add_argument("--lora-dropout", type=float, default=0.0)
    b.add_argument("--lora-targets", default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
                   help="comma-separated target modules (or all-linear)")
    b.add_argument("--out", default=None, help="also write the JSON result here")
    return p


def _config_dict(args) -> dict:
    """The config.json fields --make-model sets (a folder that already has them is reused)."""
    if args.arch == "llama":
        return {"model_type": "llama", "num_hidden_layers": args.n_layer, "hidden_size": args.n_embd,
                "num_attention_heads": args.n_head, "num_key_value_heads": args.n_kv_head or args.n_head,
                "intermediate_size": args.intermediate or 4 * args.n_embd, "vocab_size": args.vocab,
                "max_position_embeddings": args.n_positions}
    return {"n_layer": args.n_layer, "n_embd": args.n_embd, "n_head": args.n_head, "vocab_size": args.vocab,
            "n_positions": args.n_positions}


def make_model(args, repo_root: str) -> str:
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    out = args.make_model
    want = _config_dict(args)
    cfg_path = os.path.join(out, "config.json")
    if not args.overwrite and os.path.exists(cfg_path) and os.path.exists(os.path.join(out, "model.safetensors")):
        with open(cfg_path) as f:
            have = json.load(f)
        if all(have.get(k) == v for k, v in want.items()) and os.path.exists(os.path.join(out, "tokenizer.json")):
            _eprint(f"model folder {out} already matches {want}; reusing it (--overwrite to rebuild)")
            return out
    tok_dir = args.tokenizer_from or os.path.join(repo_root, "tests", "fixtures", "hf-tiny", "gpt2-policy")
    tok = AutoTokenizer.from_pretrained(tok_dir)
    if len(tok) > args.vocab:
        raise SystemExit(f"--vocab {args.vocab} is smaller than the tokenizer of {tok_dir} ({len(tok)} tokens)")
    if args.n_embd % args.n_head:
        raise SystemExit(f"--n-embd {args.n_embd} is not divisible by --n-head {args.n_head}")
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    torch.manual_seed(args.init_seed)
    if args.arch == "llama":
        if args.n_head % (args.n_kv_head or args.n_head):
            raise SystemExit(f"--n-head {args.n_head} is not a multiple of --n-kv-head {args.n_kv_head}")
        # SmolLM2's choices where the flags say nothing: no biases, RMSNorm eps 1e-5, tied embeddings, init std 1/√hidden.
        cfg = LlamaConfig(vocab_size=args.vocab, hidden_size=args.n_embd, intermediate_size=args.intermediate or 4 * args.n_embd,
                          num_hidden_layers=args.n_layer, num_attention_heads=args.n_head,
                          num_key_value_heads=args.n_kv_head or args.n_head, max_position_embeddings=args.n_positions,
                          rms_norm_eps=1e-5, rope_theta=args.rope_theta, hidden_act="silu", attention_bias=False,
                          mlp_bias=False, attention_dropout=0.0, initializer_range=args.n_embd ** -0.5,
                          bos_token_id=bos, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                          tie_word_embeddings=True)
        model = LlamaForCausalLM(cfg).to(torch.float32)
    else:
        cfg = GPT2Config(vocab_size=args.vocab, n_positions=args.n_positions, n_embd=args.n_embd, n_layer=args.n_layer,
                         n_head=args.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=bos,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
        model = GPT2LMHeadModel(cfg).to(torch.float32)  # GPT-2 init: N(0, 0.02), c_proj scaled by 1/sqrt(2 n_layer)
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    _eprint(f"saved random {args.arch} {want} ({n_params / 1e6:.1f}M params) to {out}")
    return out


def single_token_words(tok, limit: int = 4000) -> list[str]:
    """Vocabulary strings ' word' (letters only) that encode to exactly one token when alone."""
    words = []
    specials = set(tok.all_special_tokens)
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    for piece, _id in vocab:
        if piece in specials:
            continue
        text = tok.convert_tokens_to_string([piece])
        if len(text) < 2 or text[0] != " " or not text[1:].isalpha():
            continue
        if len(tok.encode(text, add_special_tokens=False)) == 1:
            words.append(text)
        if len(words) >= limit:
            break
    if len(words) < 4:
        raise SystemExit("tokenizer has too few single-token ' word' entries to build synthetic prefs")
    return words


def make_prefs(path: str, model_dir: str, n_pairs: int, seq_len: int, prompt_len: int | None, seed: int) -> dict:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    P = prompt_len if prompt_len is not None else seq_len // 2
    C = seq_len - P - 1  # completion words; TRL appends EOS (1 token)
    if P < 1 or C < 1:
        raise SystemExit(f"--seq-len {seq_len} with prompt length {P} leaves no room for a completion + EOS")
    words = single_token_words(tok)
    rng = random.Random(seed)
    rows = []
    for _ in range(n_pairs):
        prompt = "".join(rng.choice(words) for _ in range(P))
        chosen = "".join(rng.choice(words) for _ in range(C))
        rejected = "".join(rng.choice(words) for _ in range(C))
        rows.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
    # check the contract on the first row, the way TRL tokenizes it (joint prompt+completion+EOS string)
    r = rows[0]
    n_prompt = len(tok(r["prompt"])["input_ids"])
    n_full = len(tok(r["prompt"] + r["chosen"] + tok.eos_token)["input_ids"])
    if n_prompt != P or n_full != seq_len:
        raise SystemExit(f"synthetic row tokenizes to prompt {n_prompt} / total {n_full}, wanted {P} / {seq_len}")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    _eprint(f"wrote {n_pairs} synthetic pairs ({P} prompt + {C} completion + EOS = {seq_len} tokens/seq) to {path}")
    return {"n_pairs": n_pairs, "seq_len": seq_len, "prompt_len": P, "completion_len_incl_eos": C + 1,
            "vocab_words": len(words)}


def read_prefs(path: str) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{ln}: invalid JSON: {e}")
            for k in ("prompt", "chosen", "rejected"):
                if not isinstance(r.get(k), str):
                    raise SystemExit(f"{path}:{ln}: field '{k}' missing or not a string")
            rows.append({k: r[k] for k in ("prompt", "chosen", "rejected")})
    if not rows:
        raise SystemExit(f"{path}: no rows")
    return rows


def bench(args, model_dir: str, prefs_path: str) -> dict:
    import torch
    import transformers
    import trl
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer
    import tempfile

    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    threads = args.threads or default_threads()
    torch.set_num_threads(threads)

    rows = read_prefs(prefs_path)
    bs = args.batch_size
    if args.cold:
        if args.warmup:
            raise SystemExit("--cold times everything from the start: give --warmup 0")
    elif args.all_rows:
        if len(rows) % bs or args.warmup % (len(rows) // bs) or args.steps % (len(rows) // bs):
            raise SystemExit(f"--all-rows: {len(rows)} rows, batch {bs}: --warmup {args.warmup} and --steps {args.steps} "
                             f"must be multiples of the {len(rows) // bs} steps of an epoch (and rows a multiple of the batch)")
    else:
        rows = [rows[i % len(rows)] for i in range(bs)]  # exactly one full batch per epoch, same batch every step

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times, self._t = [], None

        def on_step_begin(self, a, state, control, **kw):
            self._t = time.perf_counter()

        def on_step_end(self, a, state, control, **kw):
            self.times.append(time.perf_counter() - self._t)

    timer = StepTimer()
    cold_t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    ref_model = AutoModelForCausalLM.from_pretrained(args.ref, dtype=torch.float32) if args.ref else None
    peft_config = None
    if args.lora_r:
        from peft import LoraConfig

        if args.ref:
            raise SystemExit("--lora-r: the reference is the model with its adapters disabled; give no --ref")
        targets = args.lora_targets if args.lora_targets == "all-linear" else [t for t in args.lora_targets.split(",") if t]
        peft_config = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                                 target_modules=targets, bias="none", task_type="CAUSAL_LM")
    total = args.warmup + args.steps
    config = DPOConfig(
        output_dir=tempfile.mkdtemp(prefix="trl_tput_"), learning_rate=args.lr, beta=args.beta,
        loss_type=[s for s in args.loss_type.split(",") if s], per_device_train_batch_size=bs, max_steps=total,
        gradient_accumulation_steps=args.grad_accum, lr_scheduler_type=args.lr_scheduler,
        warmup_steps=args.lr_warmup_steps, weight_decay=0.0, max_grad_norm=1.0,
        logging_steps=args.logging_steps or total, bf16=False, fp16=False, use_cpu=True,
        gradient_checkpointing=args.gradient_checkpointing,
        max_length=args.max_length if args.max_length > 0 else None,
        report_to="none", save_strategy="no", eval_strategy="no", disable_tqdm=True, dataloader_num_workers=0,
        model_init_kwargs={"dtype": "float32"}, seed=args.seed,
    )
    rss_before = rss_mb()
    load_before = os.getloadavg()
    with contextlib.redirect_stdout(sys.stderr):
        trainer = DPOTrainer(model=model_dir, ref_model=ref_model, args=config,
                             train_dataset=datasets.Dataset.from_list(rows), processing_class=tokenizer,
                             callbacks=[timer], peft_config=peft_config)
        if args.cold:
            trainer.train()
            cold_wall = time.perf_counter() - cold_t0
        else:
            batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(trainer.train_dataset))])
            rss_loaded = rss_mb()
            t0 = time.perf_counter()
            trainer.train()
            wall = time.perf_counter() - t0
    if args.cold:
        if len(timer.times) != total:
            raise SystemExit(f"expected {total} updates, got {len(timer.times)}")
        return {"framework": "trl", "cold": True, "versions": {"trl": trl.__version__, "torch": torch.__version__},
                "threads": threads, "updates": total, "pairs": len(rows), "wall_s": cold_wall,
                "peak_rss_mb": peak_rss_mb(), "loadavg_1m_before": load_before[0],
                "loadavg_1m_after": os.getloadavg()[0]}
    if len(timer.times) != total:
        raise SystemExit(f"expected {total} timed steps, got {len(timer.times)}")
    timed = timer.times[args.warmup:]
    # The collated batch holds the whole data set: one epoch's tokens, spread over its steps.
    steps_per_epoch = len(rows) // bs
    tokens = int(batch["attention_mask"].sum().item()) / steps_per_epoch
    completion_tokens = int(batch["completion_mask"].sum().item()) / steps_per_epoch
    mean_s = statistics.fmean(timed)
    median_s = statistics.median(timed)
    n_params = sum(p.numel() for p in trainer.model.parameters())
    n_trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    with open(os.path.join(model_dir, "config.json")) as f:
        mcfg = json.load(f)
    return {
        "framework": "trl",
        "versions": {"trl": trl.__version__, "transformers": transformers.__version__, "torch": torch.__version__,
                     "python": sys.version.split()[0]},
        "model": model_dir, "model_type": mcfg.get("model_type"),
        "model_config": {k: mcfg[k] for k in ("n_layer", "n_embd", "n_head", "vocab_size", "n_positions", "num_hidden_layers",
                                              "hidden_size", "num_attention_heads", "num_key_value_heads",
                                              "intermediate_size", "max_position_embeddings") if k in mcfg},
        "params": n_params, "trainable_params": n_trainable,
        "lora": {"r": args.lora_r, "alpha": args.lora_alpha, "dropout": args.lora_dropout,
                 "targets": args.lora_targets} if args.lora_r else None, "prefs": prefs_path, "dtype": "float32", "device": "cpu", "threads": threads,
        "gradient_checkpointing": args.gradient_checkpointing, "loss_type": args.loss_type, "all_rows": args.all_rows,
        "batch_size": bs, "padded_shape": list(batch["input_ids"].shape),  # [2B, T_max]
        "tokens_per_step": tokens, "completion_tokens_per_step": completion_tokens,
        "warmup_steps": args.warmup, "timed_steps": args.steps,
        "step_s": timed, "step_s_mean": mean_s, "step_s_median": median_s,
        "tokens_per_s": tokens / mean_s, "pairs_per_s": bs / mean_s,
        "tokens_per_s_median": tokens / median_s,
        "rss_mb_before_load": rss_before, "rss_mb_after_load": rss_loaded, "rss_mb_end": rss_mb(),
        "peak_rss_mb": peak_rss_mb(), "train_wall_s": wall,
        # other processes compete for the same cores: a 1-min load average above `threads` means the numbers are low
        "loadavg_1m_before": load_before[0], "loadavg_1m_after": os.getloadavg()[0],
        "logged_loss_last_step": trainer.state.log_history[0].get("loss") if trainer.state.log_history else None,
    }


def matmul_roof(n: int, threads: int) -> dict:
    """GFLOP/s of one fp32 [n, n] x [n, n] matmul in torch: best of 3 timed after one untimed (2 n^3 flops)."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for i in range(4):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        dt = time.perf_counter() - t0
        if i:
            best = min(best, dt)
    return {"roof_size": n, "roof_gflops": 2 * n ** 3 / best / 1e9, "threads": threads, "torch": torch.__version__}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    result: dict = {}
    model_dir = args.model
    if args.make_model:
        model_dir = make_model(args, repo_root)
        result["made_model"] = {"dir": args.make_model, **_config_dict(args), "init_seed": args.init_seed}
    prefs_path = args.prefs
    if args.make_prefs:
        if not model_dir:
            raise SystemExit("--make-prefs needs --model or --make-model (for the tokenizer)")
        result["made_prefs"] = {"file": args.make_prefs, **make_prefs(args.make_prefs, model_dir,
                                                                       args.n_pairs or args.batch_size, args.seq_len,
                                                                       args.prompt_len, args.data_seed)}
        prefs_path = args.make_prefs
    if args.roof:
        result.update(matmul_roof(args.roof, args.threads or default_threads()))
    if not args.no_bench:
        if not model_dir or not prefs_path:
            raise SystemExit("benchmark needs a model (--model/--make-model) and prefs (--prefs/--make-prefs)")
        result.update(bench(args, model_dir, prefs_path))
    text = json.dumps(result, indent=1)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
