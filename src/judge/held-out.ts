/**
 * Held-out prompts: the world's prompts reserved before any training data was generated (src/data/world.ts
 * heldOutReservation), which no training file asks. data/held-out-prompts.jsonl holds the same list.
 */
import { WorldPrompt, heldOutReservation } from "../data/world";

/** A held-out prompt of the synthetic world: system message and question. */
export type Prompt = WorldPrompt;

/** The first `n` held-out prompts (all of them by default), the same on every call. */
export function heldOutPrompts(n?: number): Prompt[] {
  const all = heldOutReservation().prompts;
  if (n !== undefined && n > all.length) throw new Error(`heldOutPrompts: the world reserves ${all.length} held-out prompts, asked for ${n}`);
  return all.slice(0, n).map((p) => ({ ...p }));
}
