"""TRL 1.13's own DPO dataset preparation on a JSONL file, for tests/data-formats.test.ts.

argv: (DATA.jsonl TOKENIZER_DIR)... Prints one JSON line: per pair, [{"prompt": ids, "chosen": ids, "rejected": ids}, ...] as
DPOTrainer._prepare_dataset (prompt extraction, chat template, tokenize_fn) produces them, with max_length=None so
that only tokenization is compared. _prepare_dataset reads only self._tokenizer, so it runs without a model.
"""
import json, logging, sys, tempfile
from types import SimpleNamespace

logging.disable(logging.WARNING)
from datasets import load_dataset, disable_progress_bars
from transformers import AutoTokenizer
from trl import DPOConfig, DPOTrainer

disable_progress_bars()
args = DPOConfig(output_dir=tempfile.mkdtemp(), report_to=[], max_length=None, use_cpu=True, bf16=False, dataset_num_proc=None)
results = []
for data, tok_dir in zip(sys.argv[1::2], sys.argv[2::2]):
    tok = AutoTokenizer.from_pretrained(tok_dir)
    ds = load_dataset("json", data_files=data, split="train")
    out = DPOTrainer._prepare_dataset(SimpleNamespace(_tokenizer=tok), ds, tok, args, "train")
    results.append([{"prompt": ex["prompt_ids"], "chosen": ex["chosen_ids"], "rejected": ex["rejected_ids"]} for ex in out])
print(json.dumps(results))
