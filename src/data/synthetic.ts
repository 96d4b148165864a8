/**
 * Seeded synthetic data in small-vocabulary English, for training tiny models quickly:
 *
 * - an instruction set for supervised fine-tuning (SFT): `{system, question, answer}`;
 * - a preference set in Intel/orca_dpo_pairs columns: `{system, question, chosen, rejected}`.
 *
 * Each example comes from a task family (small sums, capitals, colours, opposites, letter counts, animal sounds,
 * bigger number, next day, greetings, plurals). Every example has one good answer (correct, helpful, polite, concise)
 * and several bad ones of different kinds:
 *   wrong     a fluent but incorrect answer;
 *   rude      a dismissive or insulting reply;
 *   offtopic  a correct-looking answer to a different question;
 *   rambling  the right answer buried in filler (bad when the system prompt asks for brevity, and in general);
 *   refuse    an unhelpful "I do not know".
 * In the preference set, chosen = the good answer and rejected = one bad kind. The SFT set teaches the ChatML format
 * and the tasks but is deliberately imperfect: a share of its answers (default 35%) are of the bad kinds, so a model
 * fine-tuned on it still has something for DPO to fix.
 *
 * The world's facts and phrasings live in world.ts (shared with the judge, src/judge). Everything is drawn from a mulberry32 PRNG: the same seed gives the same rows.
 */
import { Rng } from "../util/rng";
import {
  CAPITALS, COLOURS, COLOUR_NAMES, COUNT_ITEMS, DAYS, GREETINGS, NAMES, NUMBER_WORDS, OPPOSITES, PLURALS, QUESTIONS,
  RAMBLE_CLOSE, RAMBLE_OPEN, REFUSE, RUDE, RUDE_THANKS, SOUNDS, SYSTEMS, THANKS_FOR, THANKS_REPLIES, WORDS, cap, trainingPhrasings,
} from "./world";
import type { InstructionRow, OrcaRow } from "./preferences";

/** The kinds of bad answer the synthetic data sets reject (see the file's opening comment). */
export type RejectionKind = "wrong" | "rude" | "offtopic" | "rambling" | "refuse";
/** Every {@link RejectionKind}, in a fixed order (the seeded generator draws from it). */
export const REJECTION_KINDS: readonly RejectionKind[] = ["wrong", "rude", "offtopic", "rambling", "refuse"];

/** One generated task instance before it is turned into a row. */
export interface Example {
  task: string;
  system: string;
  question: string;
  /** The helpful, correct, polite answer. */
  good: string;
  /** A fluent but factually wrong answer. */
  wrong: string;
}


const POLITE_OPEN = ["", "", "", "Sure! ", "Of course. ", "Good question! ", "Happy to help. "];

/** Lower-cases a leading article/pronoun ("The sky ..." -> "the sky ..."), never a name or a number. */
const lowerFirst = (s: string): string => (/^(The|A|An|There|You|Hello|Hi|Good|My)[ ,!]/.test(s) ? s.charAt(0).toLowerCase() + s.slice(1) : s);

type Family = (r: Rng) => Omit<Example, "system">;

function otherThan<T>(r: Rng, items: readonly T[], not: T): T {
  for (;;) {
    const v = r.pick(items);
    if (v !== not) return v;
  }
}

const FAMILIES: ReadonlyArray<readonly [string, Family, number]> = [
  ["sum", (r) => {
    const a = r.int(0, 10), b = r.int(0, 10), s = a + b;
    const bad = otherThan(r, [s - 2, s - 1, s + 1, s + 2, s + 3].filter((x) => x >= 0), s);
    const q = r.pick(trainingPhrasings(QUESTIONS.sum(a, b)));
    return { task: "sum", question: q, good: `${a} plus ${b} is ${s}.`, wrong: `${a} plus ${b} is ${bad}.` };
  }, 1],
  ["difference", (r) => {
    const a = r.int(2, 20), b = r.int(0, a), d = a - b;
    const bad = otherThan(r, [d + 1, d + 2, Math.abs(d - 1), a + b], d);
    const q = r.pick(trainingPhrasings(QUESTIONS.difference(a, b)));
    const good = q.startsWith("If") ? `You have ${d} apples left.` : `${a} minus ${b} is ${d}.`;
    const wrong = q.startsWith("If") ? `You have ${bad} apples left.` : `${a} minus ${b} is ${bad}.`;
    return { task: "difference", question: q, good, wrong };
  }, 1],
  ["capital", (r) => {
    const [country, city] = r.pick(CAPITALS);
    const bad = otherThan(r, CAPITALS.map((c) => c[1]), city);
    const q = r.pick(trainingPhrasings(QUESTIONS.capital(country)));
    return { task: "capital", question: q, good: `The capital of ${country} is ${city}.`, wrong: `The capital of ${country} is ${bad}.` };
  }, 3],
  ["colour", (r) => {
    const [thing, colour] = r.pick(COLOURS);
    const bad = otherThan(r, COLOUR_NAMES, colour);
    const q = r.pick(trainingPhrasings(QUESTIONS.colour(thing)));
    return { task: "colour", question: q, good: `${cap(thing)} is ${colour}.`, wrong: `${cap(thing)} is ${bad}.` };
  }, 2],
  ["opposite", (r) => {
    const [w, o] = r.pick(OPPOSITES);
    const [x, y] = r.chance(0.5) ? [w, o] : [o, w];
    const bad = r.pick(OPPOSITES.flat().filter((v) => v !== x && v !== y));
    const q = r.pick(trainingPhrasings(QUESTIONS.opposite(x)));
    return { task: "opposite", question: q, good: `The opposite of ${x} is ${y}.`, wrong: `The opposite of ${x} is ${bad}.` };
  }, 3],
  ["letters", (r) => {
    const w = r.pick(WORDS), n = w.length;
    const bad = otherThan(r, [n - 2, n - 1, n + 1, n + 2].filter((x) => x > 0), n);
    const q = r.pick(trainingPhrasings(QUESTIONS.letters(w)));
    return { task: "letters", question: q, good: `The word ${w} has ${n} letters.`, wrong: `The word ${w} has ${bad} letters.` };
  }, 2],
  ["sound", (r) => {
    const [animal, sound] = r.pick(SOUNDS);
    const bad = otherThan(r, SOUNDS.map((s) => s[1]), sound);
    const q = r.pick(trainingPhrasings(QUESTIONS.sound(animal)));
    return { task: "sound", question: q, good: `${cap(animal)} says ${sound}.`, wrong: `${cap(animal)} says ${bad}.` };
  }, 1],
  ["bigger", (r) => {
    const a = r.int(0, 50);
    let b = r.int(0, 50);
    if (b === a) b = a + r.int(1, 9);
    const [hi, lo] = a > b ? [a, b] : [b, a];
    const q = r.pick(trainingPhrasings(QUESTIONS.bigger(a, b)));
    return { task: "bigger", question: q, good: `${hi} is bigger than ${lo}.`, wrong: `${lo} is bigger than ${hi}.` };
  }, 1],
  ["day", (r) => {
    const i = r.int(0, 6), next = DAYS[(i + 1) % 7];
    const bad = otherThan(r, DAYS, next);
    const q = r.pick(trainingPhrasings(QUESTIONS.day(DAYS[i])));
    return { task: "day", question: q, good: `${next} comes after ${DAYS[i]}.`, wrong: `${bad} comes after ${DAYS[i]}.` };
  }, 1],
  ["count", (r) => {
    const n = r.int(1, 9);
    const bad = otherThan(r, [n - 1, n + 1, n + 2].filter((x) => x > 0), n);
    const q = QUESTIONS.count(n, r.pick(COUNT_ITEMS))[0];
    return { task: "count", question: q, good: `There ${n === 1 ? "is 1 word" : `are ${n} words`} in the list.`,
      wrong: `There are ${bad} words in the list.` };
  }, 1],
  ["number_word", (r) => {
    const n = r.int(0, 20);
    const bad = NUMBER_WORDS[otherThan(r, NUMBER_WORDS.map((_, i) => i), n)];
    const q = r.pick(trainingPhrasings(QUESTIONS.number_word(n)));
    return { task: "number_word", question: q, good: `${n} is written ${NUMBER_WORDS[n]}.`, wrong: `${n} is written ${bad}.` };
  }, 1],
  ["greet", (r) => {
    const name = r.pick(NAMES);
    const q = r.pick(trainingPhrasings(QUESTIONS.greet(name)));
    const good = r.pick(GREETINGS(name));
    const wrong = r.pick([`Go away, ${name}.`, `Hello, ${otherThan(r, NAMES, name)}!`, `${name}, you are boring.`]);
    return { task: "greet", question: q, good, wrong };
  }, 1],
  ["plural", (r) => {
    const [s, p] = r.pick(PLURALS);
    const bad = p === s + "s" ? s + "es" : s + "s";
    const q = r.pick(trainingPhrasings(QUESTIONS.plural(s)));
    return { task: "plural", question: q, good: `The plural of ${s} is ${p}.`, wrong: `The plural of ${s} is ${bad}.` };
  }, 1],
  ["thanks", (r) => {
    const thing = r.pick(THANKS_FOR);
    const q = r.pick(trainingPhrasings(QUESTIONS.thanks(thing)));
    const good = r.pick(THANKS_REPLIES);
    const wrong = r.pick(RUDE_THANKS);
    return { task: "thanks", question: q, good, wrong };
  }, 1],
];

/** Draws one task example (a random family, system prompt and phrasing). */
export function generateExample(r: Rng): Example {
  const family = r.weighted(FAMILIES.map(([, f, w]) => [f, w] as const));
  const system = r.weighted(SYSTEMS);
  return { system, ...family(r) };
}

/** A bad answer of the given kind for `ex` (offtopic answers are good answers to another random question). */
export function badAnswer(r: Rng, ex: Example, kind: RejectionKind): string {
  switch (kind) {
    case "wrong":
      return ex.wrong;
    case "rude":
      return r.pick(RUDE);
    case "refuse":
      return r.pick(REFUSE);
    case "offtopic": {
      for (;;) {
        const other = generateExample(r);
        if (other.task !== ex.task) return other.good;
      }
    }
    case "rambling":
      return `${r.pick(RAMBLE_OPEN)} In the end, ${lowerFirst(ex.good)} ${r.pick(RAMBLE_CLOSE)}`;
  }
}

const REJECTION_WEIGHTS: ReadonlyArray<readonly [RejectionKind, number]> = [
  ["wrong", 4], ["rude", 2], ["offtopic", 2], ["rambling", 1.5], ["refuse", 1],
];

/** Rejection kind for `ex`; rambling is not used for greetings and thanks (already short social replies). */
function pickKind(r: Rng, ex: Example): RejectionKind {
  return ex.task === "greet" || ex.task === "thanks"
    ? r.weighted(REJECTION_WEIGHTS.filter(([k]) => k !== "rambling"))
    : r.weighted(REJECTION_WEIGHTS);
}

function goodAnswer(r: Rng, ex: Example): string {
  return ex.task === "greet" || ex.task === "thanks" ? ex.good : r.pick(POLITE_OPEN) + ex.good;
}

/** Preference rows in Intel/orca_dpo_pairs columns: chosen = good answer, rejected = one bad kind. */
export function generatePreferenceSet(n: number, seed: number): OrcaRow[] {
  const r = new Rng(seed);
  const rows: OrcaRow[] = [];
  for (let i = 0; i < n; i++) {
    const ex = generateExample(r);
    const kind = pickKind(r, ex);
    rows.push({ system: ex.system, question: ex.question, chosen: goodAnswer(r, ex), rejected: badAnswer(r, ex, kind) });
  }
  return rows;
}

/**
 * How the SFT rows answer: the good answer 45% of the time, else a poor one. Rambling is the commonest kind (33%:
 * the SFT data's most frequent single way to start an answer is the rambling opener "Well, ", so the SFT model's
 * greedy answers ramble), then rude, refusing, wrong and off-topic replies. These are the behaviours the judge
 * penalises and DPO is to remove; wrong facts are rare so that the facts themselves stay learnable.
 */
export const SFT_ANSWER_MIX: ReadonlyArray<readonly [RejectionKind | "good", number]> = [
  ["good", 0.45], ["rambling", 0.33], ["rude", 0.1], ["refuse", 0.06], ["wrong", 0.03], ["offtopic", 0.03],
];

/** SFT rows `{system, question, answer}`, each answer drawn by SFT_ANSWER_MIX (so DPO has something to fix). */
export function generateInstructionSet(n: number, seed: number, mix: ReadonlyArray<readonly [RejectionKind | "good", number]> = SFT_ANSWER_MIX): InstructionRow[] {
  const r = new Rng(seed);
  const rows: InstructionRow[] = [];
  for (let i = 0; i < n; i++) {
    const ex = generateExample(r);
    const kind = r.weighted(mix);
    rows.push({ system: ex.system, question: ex.question, answer: kind === "good" ? goodAnswer(r, ex) : badAnswer(r, ex, kind) });
  }
  return rows;
}
