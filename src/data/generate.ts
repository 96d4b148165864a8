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
 * Everything is drawn from a mulberry32 PRNG: the same seed gives the same rows.
 */
import { Rng } from "../util/rng";
import type { InstructionRow, OrcaRow } from "./preferences";

export type RejectionKind = "wrong" | "rude" | "offtopic" | "rambling" | "refuse";
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

const SYSTEMS: ReadonlyArray<readonly [string, number]> = [
  ["", 4],
  ["You are a helpful assistant.", 3],
  ["You are a helpful assistant. Answer in one short sentence.", 2],
  ["You are a kind and polite assistant.", 2],
  ["Answer the question clearly and briefly.", 1],
];

const NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
  "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"];

const CAPITALS: ReadonlyArray<readonly [string, string]> = [
  ["France", "Paris"], ["Spain", "Madrid"], ["Italy", "Rome"], ["Germany", "Berlin"], ["Japan", "Tokyo"],
  ["Egypt", "Cairo"], ["Canada", "Ottawa"], ["Peru", "Lima"], ["Norway", "Oslo"], ["Greece", "Athens"],
  ["Kenya", "Nairobi"], ["Chile", "Santiago"], ["Ireland", "Dublin"], ["Poland", "Warsaw"], ["China", "Beijing"],
  ["India", "New Delhi"], ["Mexico", "Mexico City"], ["Portugal", "Lisbon"], ["Austria", "Vienna"], ["Sweden", "Stockholm"],
];

const COLOURS: ReadonlyArray<readonly [string, string]> = [
  ["the sky", "blue"], ["grass", "green"], ["snow", "white"], ["a banana", "yellow"], ["a strawberry", "red"],
  ["coal", "black"], ["an orange", "orange"], ["a lemon", "yellow"], ["milk", "white"], ["a tomato", "red"],
  ["a frog", "green"], ["the sun", "yellow"], ["a crow", "black"], ["a carrot", "orange"], ["the sea", "blue"],
];
const COLOUR_NAMES = ["blue", "green", "white", "yellow", "red", "black", "orange", "purple", "pink", "brown"];

const OPPOSITES: ReadonlyArray<readonly [string, string]> = [
  ["hot", "cold"], ["big", "small"], ["up", "down"], ["fast", "slow"], ["happy", "sad"], ["light", "dark"],
  ["old", "new"], ["open", "closed"], ["early", "late"], ["full", "empty"], ["hard", "soft"], ["wet", "dry"],
  ["high", "low"], ["long", "short"], ["rich", "poor"], ["strong", "weak"], ["near", "far"], ["loud", "quiet"],
];

const WORDS = ["cat", "dog", "apple", "house", "tree", "river", "book", "music", "garden", "window", "pencil",
  "bird", "table", "planet", "flower", "bread", "chair", "cloud", "rabbit", "yellow", "summer", "ocean", "tiger"];

const SOUNDS: ReadonlyArray<readonly [string, string]> = [
  ["a cow", "moo"], ["a dog", "woof"], ["a cat", "meow"], ["a duck", "quack"], ["a sheep", "baa"],
  ["a lion", "roar"], ["an owl", "hoot"], ["a horse", "neigh"], ["a pig", "oink"], ["a bee", "buzz"],
];

const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

const NAMES = ["Tom", "Anna", "Sam", "Lucy", "Ben", "Mia", "Leo", "Emma", "Max", "Zoe", "Omar", "Nina"];

const PLURALS: ReadonlyArray<readonly [string, string]> = [
  ["cat", "cats"], ["box", "boxes"], ["child", "children"], ["mouse", "mice"], ["foot", "feet"], ["tooth", "teeth"],
  ["city", "cities"], ["leaf", "leaves"], ["man", "men"], ["bus", "buses"], ["story", "stories"], ["sheep", "sheep"],
];

const RUDE = [
  "Figure it out yourself.", "That is a silly question.", "Why are you asking me this? Go away.",
  "I am not going to help you with that.", "Ugh, look it up.", "Stop bothering me with easy questions.",
  "Whatever. I do not care.", "Nobody cares about that.",
];
const REFUSE = ["I do not know.", "I am not sure, sorry.", "I cannot answer that.", "Hmm, no idea."];
const RAMBLE_OPEN = [
  "Well, that is a very interesting question, and there are many things one could say about it.",
  "Let me think about this for a while, because it is the kind of question people ask a lot.",
  "Okay, so, before I answer, I want to say that I really like questions like this one.",
  "Hmm, this reminds me of something I read once, although I do not remember where.",
];
const RAMBLE_CLOSE = [
  "Anyway, I hope that helps, or at least I hope it was interesting to read.",
  "I could say much more about this, but I think that is enough for now.",
  "So yes, that is more or less what I think, if you want my honest opinion.",
];
const POLITE_OPEN = ["", "", "", "Sure! ", "Of course. ", "Good question! ", "Happy to help. "];

const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
/** Lower-cases a leading article/pronoun ("The sky ..." -> "the sky ..."), never a name or a number. */
const lowerFirst = (s: string): string => (/^(The|A|An|There|You) /.test(s) ? s.charAt(0).toLowerCase() + s.slice(1) : s);

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
    const q = r.pick([`What is ${a} plus ${b}?`, `What is ${a} + ${b}?`, `Can you add ${a} and ${b}?`,
      `Please tell me the sum of ${a} and ${b}.`]);
    return { task: "sum", question: q, good: `${a} plus ${b} is ${s}.`, wrong: `${a} plus ${b} is ${bad}.` };
  }, 3],
  ["difference", (r) => {
    const a = r.int(2, 20), b = r.int(0, a), d = a - b;
    const bad = otherThan(r, [d + 1, d + 2, Math.abs(d - 1), a + b], d);
    const q = r.pick([`What is ${a} minus ${b}?`, `What is ${a} - ${b}?`, `If I have ${a} apples and eat ${b}, how many are left?`]);
    const good = q.startsWith("If") ? `You have ${d} apples left.` : `${a} minus ${b} is ${d}.`;
    const wrong = q.startsWith("If") ? `You have ${bad} apples left.` : `${a} minus ${b} is ${bad}.`;
    return { task: "difference", question: q, good, wrong };
  }, 2],
  ["capital", (r) => {
    const [country, city] = r.pick(CAPITALS);
    const bad = otherThan(r, CAPITALS.map((c) => c[1]), city);
    const q = r.pick([`What is the capital of ${country}?`, `Which city is the capital of ${country}?`,
      `Name the capital city of ${country}.`]);
    return { task: "capital", question: q, good: `The capital of ${country} is ${city}.`, wrong: `The capital of ${country} is ${bad}.` };
  }, 3],
  ["colour", (r) => {
    const [thing, colour] = r.pick(COLOURS);
    const bad = otherThan(r, COLOUR_NAMES, colour);
    const q = r.pick([`What colour is ${thing}?`, `What is the colour of ${thing}?`, `Tell me the colour of ${thing}.`]);
    return { task: "colour", question: q, good: `${cap(thing)} is ${colour}.`, wrong: `${cap(thing)} is ${bad}.` };
  }, 2],
  ["opposite", (r) => {
    const [w, o] = r.pick(OPPOSITES);
    const [x, y] = r.chance(0.5) ? [w, o] : [o, w];
    const bad = r.pick(OPPOSITES.flat().filter((v) => v !== x && v !== y));
    const q = r.pick([`What is the opposite of ${x}?`, `Give me the opposite of the word ${x}.`, `What word means the opposite of ${x}?`]);
    return { task: "opposite", question: q, good: `The opposite of ${x} is ${y}.`, wrong: `The opposite of ${x} is ${bad}.` };
  }, 2],
  ["letters", (r) => {
    const w = r.pick(WORDS), n = w.length;
    const bad = otherThan(r, [n - 2, n - 1, n + 1, n + 2].filter((x) => x > 0), n);
    const q = r.pick([`How many letters are in the word ${w}?`, `Count the letters in "${w}".`, `How many letters does ${w} have?`]);
    return { task: "letters", question: q, good: `The word ${w} has ${n} letters.`, wrong: `The word ${w} has ${bad} letters.` };
  }, 2],
  ["sound", (r) => {
    const [animal, sound] = r.pick(SOUNDS);
    const bad = otherThan(r, SOUNDS.map((s) => s[1]), sound);
    const q = r.pick([`What sound does ${animal} make?`, `What does ${animal} say?`]);
    return { task: "sound", question: q, good: `${cap(animal)} says ${sound}.`, wrong: `${cap(animal)} says ${bad}.` };
  }, 1],
  ["bigger", (r) => {
    const a = r.int(0, 50);
    let b = r.int(0, 50);
    if (b === a) b = a + r.int(1, 9);
    const [hi, lo] = a > b ? [a, b] : [b, a];
    const q = r.pick([`Which is bigger, ${a} or ${b}?`, `Which number is larger: ${a} or ${b}?`]);
    return { task: "bigger", question: q, good: `${hi} is bigger than ${lo}.`, wrong: `${lo} is bigger than ${hi}.` };
  }, 1],
  ["day", (r) => {
    const i = r.int(0, 6), next = DAYS[(i + 1) % 7];
    const bad = otherThan(r, DAYS, next);
    const q = r.pick([`What day comes after ${DAYS[i]}?`, `Which day is the day after ${DAYS[i]}?`]);
    return { task: "day", question: q, good: `${next} comes after ${DAYS[i]}.`, wrong: `${bad} comes after ${DAYS[i]}.` };
  }, 1],
  ["count", (r) => {
    const n = r.int(1, 9);
    const bad = otherThan(r, [n - 1, n + 1, n + 2].filter((x) => x > 0), n);
    const word = r.pick(["apples", "cats", "stars", "birds", "cups"]);
    const items = Array(n).fill(word.slice(0, -1)).join(", ");
    const q = `How many words are in this list: ${items}?`;
    return { task: "count", question: q, good: `There ${n === 1 ? "is 1 word" : `are ${n} words`} in the list.`,
      wrong: `There are ${bad} words in the list.` };
  }, 1],
  ["number_word", (r) => {
    const n = r.int(0, 20);
    const bad = NUMBER_WORDS[otherThan(r, NUMBER_WORDS.map((_, i) => i), n)];
    const q = r.pick([`How do you write ${n} in words?`, `Spell the number ${n}.`]);
    return { task: "number_word", question: q, good: `${n} is written ${NUMBER_WORDS[n]}.`, wrong: `${n} is written ${bad}.` };
  }, 1],
  ["greet", (r) => {
    const name = r.pick(NAMES);
    const q = r.pick([`Say hello to ${name}.`, `Please greet my friend ${name}.`, `Write a short greeting for ${name}.`]);
    const good = r.pick([`Hello, ${name}! It is nice to meet you.`, `Hi ${name}! I hope you are having a good day.`,
      `Good morning, ${name}! Welcome.`]);
    const wrong = r.pick([`Go away, ${name}.`, `Hello, ${otherThan(r, NAMES, name)}!`, `${name}, you are boring.`]);
    return { task: "greet", question: q, good, wrong };
  }, 1],
  ["plural", (r) => {
    const [s, p] = r.pick(PLURALS);
    const bad = p === s + "s" ? s + "es" : s + "s";
    const q = r.pick([`What is the plural of ${s}?`, `How do you say more than one ${s}?`]);
    return { task: "plural", question: q, good: `The plural of ${s} is ${p}.`, wrong: `The plural of ${s} is ${bad}.` };
  }, 1],
  ["thanks", (r) => {
    const thing = r.pick(["your help", "the answer", "explaining that", "your time"]);
    const q = r.pick([`Thank you for ${thing}!`, `Thanks a lot for ${thing}.`]);
    const good = r.pick(["You are welcome! I am glad I could help.", "You are very welcome. Have a nice day!",
      "My pleasure! Ask me anything else any time."]);
    const wrong = r.pick(["Fine. Now leave me alone.", "Yeah, yeah.", "You should have known that already."]);
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
    case "rambling": {
      const first = r.pick(RAMBLE_OPEN);
      return `${first} ${otherThan(r, RAMBLE_OPEN, first)} In the end, ${lowerFirst(ex.good)} ${r.pick(RAMBLE_CLOSE)}`;
    }
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
 * SFT rows: the answer is the good one with probability 1 - badFraction, else a bad kind
 * (so an SFT model is imperfect and DPO has something to improve). Default badFraction 0.35.
 */
export function generateInstructionSet(n: number, seed: number, badFraction = 0.35): InstructionRow[] {
  const r = new Rng(seed);
  const rows: InstructionRow[] = [];
  for (let i = 0; i < n; i++) {
    const ex = generateExample(r);
    const answer = r.chance(badFraction) ? badAnswer(r, ex, pickKind(r, ex)) : goodAnswer(r, ex);
    rows.push({ system: ex.system, question: ex.question, answer });
  }
  return rows;
}
