/**
 * The dpo-ts command line as the tests run it: the built CLI (dist/cli/index.js) in a child process, the JSON line it
 * prints last, and `dpo-ts train` argument lists on the tiny fixture model (tests/fixtures/hf-tiny).
 */
import { spawnSync } from "child_process";
import * as path from "path";
import { TINY } from "./fixture";

/** The repository root: the CLI runs with it as its working folder. */
export const ROOT = path.join(__dirname, "..", "..");
/** The built CLI: tests that spawn it need `npm run build` first. */
export const CLI = path.join(ROOT, "dist/cli/index.js");

/** What a CLI run left: its exit status and its whole output. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `dpo-ts ARGS...` to completion from the repository root, with this process's environment. */
export function dpoTs(...args: string[]): CliRun {
  const run = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 26 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The last line of `stdout` that is a JSON object, parsed; throws with the output when there is none. */
export function lastJson(stdout: string): Record<string, any> {
  const line = stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  if (!line) throw new Error(`no JSON in output:\n${stdout}`);
  return JSON.parse(line);
}

/** Options by their CLI name: a value becomes `--name value`, true a bare `--name` flag, false or undefined nothing. */
export type CliOptions = Record<string, string | number | boolean | undefined>;

/** `options` as command-line arguments, in the order given. */
export function cliFlags(options: CliOptions): string[] {
  return Object.entries(options).flatMap(([name, value]) =>
    value === undefined || value === false ? [] : value === true ? [`--${name}`] : [`--${name}`, String(value)],
  );
}

/** `dpo-ts train` of the tiny fixture's GPT-2 policy on its preference pairs, with `options` (out, steps, …) after. */
export function tinyTrainArgs(options: CliOptions): string[] {
  return ["train", "--policy", path.join(TINY, "gpt2-policy"), "--data", path.join(TINY, "prefs.jsonl"), ...cliFlags(options)];
}
