#!/usr/bin/env bash
# Rebuilds the embedded SFT checkpoint data/sft-model from data/sft.jsonl and data/tokenizer with dpo-ts's own SFT
# trainer. Deterministic for a given backend (seeded init and data order). About 10 minutes on the native backend
# (npm run setup:native) on 2 cores; the wasm backend takes several times longer.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-data/sft-model}"
node dist/cli/index.js sft --data data/sft.jsonl --tokenizer data/tokenizer --out "$out" \
  --n-layer 4 --n-embd 64 --n-head 4 --n-positions 256 \
  --steps 1500 --batch-size 16 --lr 2e-3 --scheduler cosine --warmup-steps 50 --logging-steps 100 --seed 0
