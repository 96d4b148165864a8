/**
 * The tiny fixture (tests/fixtures/hf-tiny: GPT-2 and Llama policies and references made by transformers, their
 * preference pairs and expected.json) as the tests set it up and check against it.
 */
import { expect } from "vitest";
import * as path from "path";
import { Tokenizer } from "../../src/tokenizer/tokenizer";
import { useBackendForTests } from "./backend";

/** The fixture folder. */
export const TINY = path.join(__dirname, "..", "fixtures/hf-tiny");

/** Picks the tests' backend, then loads the fixture GPT-2 policy's tokenizer: the set-up of the tests that train it. */
export async function tinyTokenizerOnTestBackend(): Promise<Tokenizer> {
  await useBackendForTests();
  return Tokenizer.fromDir(path.join(TINY, "gpt2-policy"));
}

/**
 * Per-pair summed completion log-probs of a batch of B pairs ([chosen; rejected] rows, 2B values per model) against
 * expected.json's `per_pair` entries (transformers), each within 1e-4 relative.
 */
export function expectPerPairLogps(policy: number[], reference: number[], perPair: Record<string, number>[]): void {
  const B = perPair.length;
  expect(policy.length).toBe(2 * B);
  expect(reference.length).toBe(2 * B);
  const close = (got: number, want: number, what: string) =>
    expect(Math.abs(got - want) / Math.max(1, Math.abs(want)), `pair ${what}: got ${got}, want ${want}`).toBeLessThan(1e-4);
  perPair.forEach((pair, i) => {
    close(policy[i], pair.policy_chosen_logp, `${i} policy chosen`);
    close(policy[B + i], pair.policy_rejected_logp, `${i} policy rejected`);
    close(reference[i], pair.ref_chosen_logp, `${i} reference chosen`);
    close(reference[B + i], pair.ref_rejected_logp, `${i} reference rejected`);
  });
}
