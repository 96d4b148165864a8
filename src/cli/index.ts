#!/usr/bin/env node
/**
 * dpo-ts: Direct Preference Optimization from the command line.
 *   dpo-ts eval     --policy DIR --ref DIR --data FILE.jsonl [--beta 0.1] [--loss sigmoid] [--label-smoothing 0] [--json]
 *   dpo-ts train    --policy DIR [--ref DIR] --data FILE.jsonl --out DIR [--steps N] [--batch-size B] [--lr X] … | --config FILE.json
 *   dpo-ts generate --model DIR --prompt TEXT [--chat] [--max-new-tokens N] [--temperature 0] [--json]
 *   dpo-ts sft      --data FILE.jsonl --out DIR [--model DIR | --tokenizer DIR --n-layer …]
 *   dpo-ts serve    --model DIR [--port 8000] [--host 127.0.0.1]
 *   dpo-ts course   [--name NAME] [--steps N]      (the five notebooks, headless, into runs/NAME/)
 *   dpo-ts kernel install [--user | --prefix DIR] [--name dpo-ts]
 *   dpo-ts report RUN_DIR                          (rebuild RUN_DIR/report.html)
 *   dpo-ts compare RUN_DIR... [--out FILE]         (runs side by side)
 * Every command takes --backend tensorflow|webgpu|wasm|cpu (default: DPO_BACKEND, else the best that loads).
 */
import { parseArgs } from "./args";

const USAGE = `usage: dpo-ts <command> [options]

commands:
  eval      DPO metrics of --policy against --ref on --data (one batch over all rows)
  train     DPO training: --policy DIR [--ref DIR] --data FILE --out DIR [--steps N] [--batch-size B] [--lr X]
            [--beta 0.1] [--loss sigmoid|hinge|ipo|robust] [--label-smoothing 0] [--scheduler constant|linear|cosine]
            [--warmup-steps 0] [--max-grad-norm 1] [--weight-decay 0] [--seed 42] [--logging-steps 10]
            [--grad-accum 1] [--max-length 1024] [--max-prompt-length 512] [--eval-data FILE | --eval-fraction F]
            [--eval-steps N] [--save-steps N] [--resume [OUT/checkpoint-N]] [--overwrite-output-dir] [--config FILE.json]
  generate  --model DIR --prompt TEXT [--chat] [--max-new-tokens 32] [--temperature 0] [--top-k 0] [--top-p 1] [--json]
  sft       supervised fine-tuning on {system, question, answer} rows (how data/sft-model was made)
  serve     OpenAI-compatible HTTP server: --model DIR [--port 8000] [--host 127.0.0.1]
  course    run the five course notebooks headlessly into runs/<name>/
  kernel    kernel install [--user | --prefix DIR] [--name dpo-ts]: register the Jupyter kernel for the notebooks
  bench     DPO training-step throughput on every backend that loads, beside TRL
  report    report RUN_DIR: rebuild RUN_DIR/report.html (config, curves, final metrics, sample generations)
  compare   compare RUN_DIR... [--out runs/compare.html]: several runs side by side (e.g. a beta sweep)

common: --backend tensorflow|webgpu|wasm|cpu   --json`;

const FLAGS = ["json", "chat", "user", "quiet", "precompute-ref", "gradient-checkpointing", "no-gradient-checkpointing", "compile-step", "help", "skip-trl", "worker", "overwrite-output-dir", "resume"];

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return;
  }
  if (command === "kernel") {
    const code = (await import("./kernel")).kernelCommand(rest);
    if (code !== 0) process.exit(code);
    return;
  }
  const args = parseArgs(rest, FLAGS);
  const commands: Record<string, () => Promise<void>> = {
    eval: async () => (await import("./commands")).evalCommand(args),
    train: async () => (await import("./commands")).trainCommand(args),
    generate: async () => (await import("./commands")).generateCommand(args),
    sft: async () => (await import("./sft")).sftCommand(args),
    serve: async () => (await import("./serve")).serveCommand(args),
    course: async () => (await import("./course")).courseCommand(args),
    bench: async () => (await import("./bench")).benchCommand(args),
    compare: async () => {
      if (args.positional.length === 0) throw new Error("usage: dpo-ts compare RUN_DIR... [--out compare.html]");
      const out = (args.options.out as string) ?? "runs/compare.html";
      console.log(`written ${(await import("../metrics/report")).writeComparison(args.positional, out)}`);
    },
    report: async () => {
      const runDir = args.positional[0];
      if (!runDir) throw new Error("usage: dpo-ts report RUN_DIR");
      console.log(`written ${(await import("../metrics/report")).writeReport(runDir)}`);
    },
  };
  const run = commands[command];
  if (!run) throw new Error(`unknown command "${command}"\n\n${USAGE}`);
  await run();
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`dpo-ts: ${e.message}`);
    if (process.env.DPO_DEBUG) console.error(e.stack);
    process.exit(1);
  },
);
