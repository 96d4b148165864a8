#!/usr/bin/env python3
"""DPO in ~100 lines of plain PyTorch (no TRL), written to reproduce TRL 1.13's DPOTrainer step by step.

It is the readable spec of what dpo-ts must compute, and a check that bench/TRL_NOTES.md is right: with the same
model folders and prefs it prints the same per-step logs as bench/trl_dpo.py (default sigmoid/hinge/ipo/robust,
full batch, constant LR, AdamW, grad clipping).

  .venv/bin/python bench/plain_dpo.py --model tests/fixtures/hf-tiny/gpt2-policy --ref tests/fixtures/hf-tiny/gpt2-ref \
      --prefs tests/fixtures/hf-tiny/prefs.jsonl --lr 1e-3 --steps 5 [--compare bench/reference/trl_gpt2_tiny_lr1e-3.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--ref", default=None, help="default: a second load of --model")
    ap.add_argument("--prefs", required=True)
    ap.add_argument("--lr", type=float, default=1e-6)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--loss-type", default="sigmoid", choices=["sigmoid", "hinge", "ipo", "robust"])
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--max-grad-norm", type=float, default=1.0)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--max-length", type=int, default=1024)
    ap.add_argument("--compare", default=None, help="a bench/trl_dpo.py JSON to diff against")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch
    import torch.nn.functional as F
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    tok = AutoTokenizer.from_pretrained(args.model)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    policy = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    ref = AutoModelForCausalLM.from_pretrained(args.ref or args.model, dtype=torch.float32)
    for m in (policy, ref):  # disable_dropout=True
        for mod in m.modules():
            if isinstance(mod, torch.nn.Dropout):
                mod.p = 0.0
    policy.train()
    ref.eval()

    # --- tokenization, TRL 1.13 style: EOS text appended, prompt+completion tokenized jointly, split at len(prompt)
    rows = [json.loads(l) for l in open(args.prefs, encoding="utf-8") if l.strip()]
    ex = []
    for r in rows:
        ch = r["chosen"] if r["chosen"].endswith(tok.eos_token) else r["chosen"] + tok.eos_token
        rj = r["rejected"] if r["rejected"].endswith(tok.eos_token) else r["rejected"] + tok.eos_token
        p = tok(r["prompt"])["input_ids"]
        if args.max_length and len(p) >= args.max_length:
            continue  # TRL drops rows whose prompt fills max_length
        ex.append((p, tok(r["prompt"] + ch)["input_ids"][len(p):], tok(r["prompt"] + rj)["input_ids"][len(p):]))

    # --- collate: [chosen rows; rejected rows], keep_start truncation, right padding
    seqs, cmask = [], []
    for k in (1, 2):
        for e in ex:
            s, m = e[0] + e[k], [0] * len(e[0]) + [1] * len(e[k])
            if args.max_length:
                s, m = s[: args.max_length], m[: args.max_length]
            seqs.append(s)
            cmask.append(m)
    T = max(len(s) for s in seqs)
    input_ids = torch.tensor([s + [pad_id] * (T - len(s)) for s in seqs])          # [2B, T]
    attn = torch.tensor([[1] * len(s) + [0] * (T - len(s)) for s in seqs])         # [2B, T]
    comp = torch.tensor([m + [0] * (T - len(m)) for m in cmask])                    # [2B, T]
    B = len(ex)

    def seq_logps(model, need_logits=False):
        logits = model(input_ids=input_ids, attention_mask=attn, use_cache=False).logits[:, :-1]  # [2B, T-1, V]
        labels, m = input_ids[:, 1:], comp[:, 1:]
        lp = torch.gather(logits, -1, labels.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, -1)
        lp = lp.masked_fill(m == 0, 0.0)
        return lp.sum(1), logits, m                                                    # [2B]

    # --- optimizer: torch AdamW (decoupled wd) on two groups, as HF Trainer builds them
    import re
    pats = [re.compile(p) for p in [r"bias", r"layernorm", r"rmsnorm", r"(?:^|\.)norm(?:$|\.)", r"_norm(?:$|\.)"]]
    ln_params = {id(p) for mod in policy.modules() if isinstance(mod, torch.nn.LayerNorm) for p in mod.parameters()}
    decay, no_decay = [], []
    for n, p in policy.named_parameters():
        (no_decay if id(p) in ln_params or any(pt.search(n.lower()) for pt in pats) else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.999), eps=1e-8)

    logs = []
    for step in range(1, args.steps + 1):
        logps, logits, m = seq_logps(policy)
        with torch.no_grad():
            ref_logps, _, _ = seq_logps(ref)
        pc, pr = logps[:B], logps[B:]
        rc, rr = ref_logps[:B], ref_logps[B:]
        lc, lr_ = pc - rc, pr - rr                       # log-ratios
        d = lc - lr_
        b, eps = args.beta, args.label_smoothing
        if args.loss_type == "sigmoid":
            per = -F.logsigmoid(b * d)
        elif args.loss_type == "hinge":
            per = torch.relu(1 - b * d)
        elif args.loss_type == "ipo":
            nc, nr = comp[:B].sum(1).clamp(min=1), comp[B:].sum(1).clamp(min=1)
            per = ((lc / nc - lr_ / nr) - 1 / (2 * b)) ** 2
        else:  # robust
            per = (-(1 - eps) * F.logsigmoid(b * d) + eps * F.logsigmoid(-b * d)) / (1 - 2 * eps)
        loss = per.mean()
        opt.zero_grad()
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(policy.parameters(), args.max_grad_norm)  # returns the pre-clip norm
        opt.step()
        with torch.no_grad():
            lg = logits.detach()
            mc, mr = m[:B].bool(), m[B:].bool()
            rew_c, rew_r = b * lc.detach(), b * lr_.detach()
            logs.append({
                "step": step, "loss": loss.item(), "grad_norm": gn.item(), "learning_rate": args.lr,
                "rewards/chosen": rew_c.mean().item(), "rewards/rejected": rew_r.mean().item(),
                "rewards/accuracies": (rew_c > rew_r).float().mean().item(),
                "rewards/margins": (rew_c - rew_r).mean().item(),
                "logps/chosen": pc.mean().item(), "logps/rejected": pr.mean().item(),
                "logits/chosen": (lg[:B][mc].mean(-1).sum() / mc.sum()).item(),
                "logits/rejected": (lg[B:][mr].mean(-1).sum() / mr.sum()).item(),
            })
    out = {"logs": logs}
    if args.compare:
        ref_logs = json.load(open(args.compare))["logs"]
        worst = {}
        for a, r in zip(logs, ref_logs):
            for k, v in a.items():
                if k in r and k != "step":
                    rel = abs(v - r[k]) / max(1.0, abs(r[k]))
                    worst[k] = max(worst.get(k, 0.0), rel)
        out["max_rel_diff_vs_trl"] = worst
        out["max_rel_diff_vs_trl_all"] = max(worst.values())
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
