#!/usr/bin/env bash
# Rebuilds the embedded SFT checkpoint data/sft-model from data/sft.jsonl and data/tokenizer with dpo-ts's own SFT
# trainer: a Mistral-architecture miniature (MistralForCausalLM: 4 layers, width 64, 4 query heads sharing 2 key/value
# heads, SwiGLU MLP 192 wide, tied embeddings; about 230k parameters, 0.9 MB). Deterministic for a given backend
# (seeded init and data order). About 6 minutes on an idle machine with the native backend (npm run setup:native; DPO_BACKEND=tensorflow)
# on 2 cores; the wasm backend takes several times longer. Step 2 of the data pipeline (see scripts/make-data.ts);
# scripts/make-judged-pairs.mjs then builds data/orca_dpo_pairs.jsonl from this model.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-data/sft-model}"
node dist/cli/index.js sft --data data/sft.jsonl --tokenizer data/tokenizer --out "$out" \
  --arch mistral --n-layer 4 --n-embd 64 --n-head 4 --n-kv-head 2 --intermediate-size 192 --n-positions 256 \
  --steps 2500 --batch-size 16 --lr 3e-3 --scheduler cosine --warmup-steps 100 --logging-steps 100 --seed 0
