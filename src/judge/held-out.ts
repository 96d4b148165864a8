/**
 * Held-out prompts: a deterministic set of the world's questions that no training file contains (by question text),
 * spread over the task families round-robin (families whose every question is in training contribute none), each
 * with a system prompt drawn by the data's weights.
 */
import { Rng } from "../util/rng";
import { SYSTEMS, Task, worldQuestions } from "../data/world";

/** A held-out prompt of the synthetic world: system message and question. */
export interface Prompt {
  system: string;
  question: string;
}

/**
 * `n` world prompts whose question is not in `seen` (the questions of the training files), the same for the same
 * arguments. Throws when the world has fewer unseen questions than `n`.
 */
export function heldOutPrompts(seen: ReadonlySet<string>, n = 240, seed = 13): Prompt[] {
  const rng = new Rng(seed);
  const byTask = new Map<Task, string[]>();
  for (const q of worldQuestions().values()) {
    if (seen.has(q.question)) continue;
    byTask.set(q.task, [...(byTask.get(q.task) ?? []), q.question]);
  }
  const queues = [...byTask.values()].map((qs) => rng.shuffle(qs));
  const out: Prompt[] = [];
  while (out.length < n && queues.some((q) => q.length > 0))
    for (const q of queues) if (q.length > 0 && out.length < n) out.push({ system: rng.weighted(SYSTEMS), question: q.shift()! });
  if (out.length < n) throw new Error(`heldOutPrompts: the world has only ${out.length} questions outside training, asked for ${n}`);
  return out;
}
