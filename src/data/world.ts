/**
 * The course's closed world: the facts, the question phrasings and the canonical good answers of every task family,
 * shared by the seeded data generator (synthetic.ts, which draws from them) and the judge (src/judge, which looks a
 * question up here to know what a correct answer must say). `worldQuestions()` enumerates every question the world
 * can ask, each with its ground truth; `heldOutReservation()` the prompts kept out of every training file.
 */
import { Rng } from "../util/rng";


/** System prompts with their weights in the generated data. */
export const SYSTEMS: ReadonlyArray<readonly [string, number]> = [
  ["", 4],
  ["You are a helpful assistant.", 3],
  ["You are a helpful assistant. Answer in one short sentence.", 2],
  ["You are a kind and polite assistant.", 2],
  ["Answer the question clearly and briefly.", 1],
];

/** Number words from zero to twenty (the synthetic world's sums and counts are spelled with them). */
export const NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
  "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"];

/** [country, capital] pairs of the capitals task family. */
export const CAPITALS: ReadonlyArray<readonly [string, string]> = [
  ["France", "Paris"], ["Spain", "Madrid"], ["Italy", "Rome"], ["Germany", "Berlin"], ["Japan", "Tokyo"],
  ["Egypt", "Cairo"], ["Canada", "Ottawa"], ["Peru", "Lima"], ["Norway", "Oslo"], ["Greece", "Athens"],
  ["Kenya", "Nairobi"], ["Chile", "Santiago"], ["Ireland", "Dublin"], ["Poland", "Warsaw"], ["China", "Beijing"],
  ["India", "New Delhi"], ["Mexico", "Mexico City"], ["Portugal", "Lisbon"], ["Austria", "Vienna"], ["Sweden", "Stockholm"],
];

/** [thing, colour] pairs of the colours task family. */
export const COLOURS: ReadonlyArray<readonly [string, string]> = [
  ["the sky", "blue"], ["grass", "green"], ["snow", "white"], ["a banana", "yellow"], ["a strawberry", "red"],
  ["coal", "black"], ["an orange", "orange"], ["a lemon", "yellow"], ["milk", "white"], ["a tomato", "red"],
  ["a frog", "green"], ["the sun", "yellow"], ["a crow", "black"], ["a carrot", "orange"], ["the sea", "blue"],
];
/** Colour words, the wrong answers of the colours family are drawn from. */
export const COLOUR_NAMES = ["blue", "green", "white", "yellow", "red", "black", "orange", "purple", "pink", "brown"];

/** [word, opposite] pairs of the opposites task family. */
export const OPPOSITES: ReadonlyArray<readonly [string, string]> = [
  ["hot", "cold"], ["big", "small"], ["up", "down"], ["fast", "slow"], ["happy", "sad"], ["light", "dark"],
  ["old", "new"], ["open", "closed"], ["early", "late"], ["full", "empty"], ["hard", "soft"], ["wet", "dry"],
  ["high", "low"], ["long", "short"], ["rich", "poor"], ["strong", "weak"], ["near", "far"], ["loud", "quiet"],
];

/** Words the letter-count task family counts letters of. */
export const WORDS = ["cat", "dog", "apple", "house", "tree", "river", "book", "music", "garden", "window", "pencil",
  "bird", "table", "planet", "flower", "bread", "chair", "cloud", "rabbit", "yellow", "summer", "ocean", "tiger"];

/** [animal, sound] pairs of the animal-sounds task family. */
export const SOUNDS: ReadonlyArray<readonly [string, string]> = [
  ["a cow", "moo"], ["a dog", "woof"], ["a cat", "meow"], ["a duck", "quack"], ["a sheep", "baa"],
  ["a lion", "roar"], ["an owl", "hoot"], ["a horse", "neigh"], ["a pig", "oink"], ["a bee", "buzz"],
];

/** Days of the week, in order (the next-day task family). */
export const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/** People's names for the greetings task family. */
export const NAMES = ["Tom", "Anna", "Sam", "Lucy", "Ben", "Mia", "Leo", "Emma", "Max", "Zoe", "Omar", "Nina"];

/** [singular, plural] pairs of the plurals task family. */
export const PLURALS: ReadonlyArray<readonly [string, string]> = [
  ["cat", "cats"], ["box", "boxes"], ["child", "children"], ["mouse", "mice"], ["foot", "feet"], ["tooth", "teeth"],
  ["city", "cities"], ["leaf", "leaves"], ["man", "men"], ["bus", "buses"], ["story", "stories"], ["sheep", "sheep"],
];

/** Things counted in the count task family's questions. */
export const COUNT_ITEMS = ["apples", "cats", "stars", "birds", "cups"];
/** What the user thanks for in the thanks task family. */
export const THANKS_FOR = ["your help", "the answer", "explaining that", "your time"];

/** Good replies to a greeting request and to thanks (the social families have several good answers). */
export const GREETINGS = (name: string): string[] => [`Hello, ${name}! It is nice to meet you.`,
  `Hi ${name}! I hope you are having a good day.`, `Good morning, ${name}! Welcome.`];
/** Good replies to thanks. */
export const THANKS_REPLIES = ["You are welcome! I am glad I could help.", "You are very welcome. Have a nice day!",
  "My pleasure! Ask me anything else any time."];

/** The bad kinds' wording (rude, refusing, rambling filler), also what the judge recognises. */
export const RUDE = [
  "Figure it out yourself.", "That is a silly question.", "Why are you asking me this? Go away.",
  "I am not going to help you with that.", "Ugh, look it up.", "Stop bothering me with easy questions.",
  "Whatever. I do not care.", "Nobody cares about that.",
];
/** Rude replies to thanks (a bad kind of the thanks family). */
export const RUDE_THANKS = ["Fine. Now leave me alone.", "Yeah, yeah.", "You should have known that already."];
/** Unhelpful refusals (the "refuse" bad kind). */
export const REFUSE = ["I do not know.", "I am not sure, sorry.", "I cannot answer that.", "Hmm, no idea."];
/** Filler sentences a rambling answer opens with. Every one starts "Well, " (a verbose habit, like a chatty SFT
 * model's): in the SFT data it is the single most common way an answer starts, so the SFT model's greedy answers
 * ramble (see synthetic.ts). */
export const RAMBLE_OPEN = [
  "Well, that is a very interesting question, and there are many things one could say about it.",
  "Well, let me think about this for a while, because it is the kind of question people ask a lot.",
  "Well, before I answer, I want to say that I really like questions like this one.",
  "Well, this reminds me of something I read once, although I do not remember where.",
];
/** Filler sentences a rambling answer closes with. */
export const RAMBLE_CLOSE = [
  "Anyway, I hope that helps, or at least I hope it was interesting to read.",
  "I could say much more about this, but I think that is enough for now.",
  "So yes, that is more or less what I think, if you want my honest opinion.",
];

/** `s` with its first letter upper-cased. */
export const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** The phrasings of each family's question (the generator picks one; order matters for the seeded data). */
export const QUESTIONS = {
  sum: (a: number, b: number) => [`What is ${a} plus ${b}?`, `What is ${a} + ${b}?`, `Can you add ${a} and ${b}?`,
    `Please tell me the sum of ${a} and ${b}.`],
  difference: (a: number, b: number) => [`What is ${a} minus ${b}?`, `What is ${a} - ${b}?`,
    `If I have ${a} apples and eat ${b}, how many are left?`],
  capital: (country: string) => [`What is the capital of ${country}?`, `Which city is the capital of ${country}?`,
    `Name the capital city of ${country}.`, `Tell me the capital of ${country}.`],
  colour: (thing: string) => [`What colour is ${thing}?`, `What is the colour of ${thing}?`, `Tell me the colour of ${thing}.`,
    `Which colour is ${thing}?`],
  opposite: (x: string) => [`What is the opposite of ${x}?`, `Give me the opposite of the word ${x}.`, `What word means the opposite of ${x}?`,
    `Tell me the opposite of ${x}.`],
  letters: (w: string) => [`How many letters are in the word ${w}?`, `Count the letters in "${w}".`, `How many letters does ${w} have?`],
  sound: (animal: string) => [`What sound does ${animal} make?`, `What does ${animal} say?`],
  bigger: (a: number, b: number) => [`Which is bigger, ${a} or ${b}?`, `Which number is larger: ${a} or ${b}?`],
  day: (day: string) => [`What day comes after ${day}?`, `Which day is the day after ${day}?`],
  count: (n: number, item: string) => [`How many words are in this list: ${Array(n).fill(item.slice(0, -1)).join(", ")}?`],
  number_word: (n: number) => [`How do you write ${n} in words?`, `Spell the number ${n}.`],
  greet: (name: string) => [`Say hello to ${name}.`, `Please greet my friend ${name}.`, `Write a short greeting for ${name}.`,
    `Greet ${name}, please.`],
  plural: (s: string) => [`What is the plural of ${s}?`, `How do you say more than one ${s}?`],
  thanks: (thing: string) => [`Thank you for ${thing}!`, `Thanks a lot for ${thing}.`],
} as const;

/** A task family of the synthetic world (a key of {@link QUESTIONS}). */
export type Task = keyof typeof QUESTIONS;

/**
 * The ground truth of one question: `answer` is the value a correct reply must state (a number, a city, a colour…;
 * for greet the name to greet; for thanks ""), `subject` the words an on-topic reply mentions, `good` the
 * canonical good answer.
 */
export interface WorldQuestion {
  task: Task;
  question: string;
  answer: string;
  /** Terms naming what the question is about (the judge calls a reply on topic when it mentions them; see judge.ts). */
  subject: string[];
  good: string;
}

/** The parameter ranges the generator draws from (inclusive). */
export const RANGES = { sumMax: 10, differenceA: [2, 20], biggerMax: 50, countMax: 9, numberWordMax: 20 } as const;

const range = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);

function* instances(): Generator<Omit<WorldQuestion, "question"> & { questions: readonly string[] }> {
  for (const a of range(0, RANGES.sumMax)) for (const b of range(0, RANGES.sumMax))
    yield { task: "sum", questions: QUESTIONS.sum(a, b), answer: String(a + b), subject: [String(a), String(b)], good: `${a} plus ${b} is ${a + b}.` };
  for (const a of range(RANGES.differenceA[0], RANGES.differenceA[1])) for (const b of range(0, a)) {
    const qs = QUESTIONS.difference(a, b);
    yield { task: "difference", questions: qs.slice(0, 2), answer: String(a - b), subject: [String(a), String(b)], good: `${a} minus ${b} is ${a - b}.` };
    yield { task: "difference", questions: qs.slice(2), answer: String(a - b), subject: ["apples"], good: `You have ${a - b} apples left.` };
  }
  for (const [country, city] of CAPITALS)
    yield { task: "capital", questions: QUESTIONS.capital(country), answer: city, subject: [country], good: `The capital of ${country} is ${city}.` };
  for (const [thing, colour] of COLOURS)
    yield { task: "colour", questions: QUESTIONS.colour(thing), answer: colour, subject: [thing.replace(/^(the|a|an) /, "")], good: `${cap(thing)} is ${colour}.` };
  for (const [w, o] of OPPOSITES) for (const [x, y] of [[w, o], [o, w]])
    yield { task: "opposite", questions: QUESTIONS.opposite(x), answer: y, subject: [x], good: `The opposite of ${x} is ${y}.` };
  for (const w of WORDS)
    yield { task: "letters", questions: QUESTIONS.letters(w), answer: String(w.length), subject: [w], good: `The word ${w} has ${w.length} letters.` };
  for (const [animal, sound] of SOUNDS)
    yield { task: "sound", questions: QUESTIONS.sound(animal), answer: sound, subject: [animal.replace(/^(a|an) /, "")], good: `${cap(animal)} says ${sound}.` };
  for (const a of range(0, RANGES.biggerMax)) for (const b of range(0, RANGES.biggerMax + 9)) {
    if (a === b || (b > RANGES.biggerMax && (b - a < 1 || b - a > 9))) continue; // b beyond 50 only as a + 1..9 (a tie redrawn)
    const [hi, lo] = a > b ? [a, b] : [b, a];
    yield { task: "bigger", questions: QUESTIONS.bigger(a, b), answer: String(hi), subject: [String(a), String(b)], good: `${hi} is bigger than ${lo}.` };
  }
  for (const [i, day] of DAYS.entries())
    yield { task: "day", questions: QUESTIONS.day(day), answer: DAYS[(i + 1) % 7], subject: [day], good: `${DAYS[(i + 1) % 7]} comes after ${day}.` };
  for (const n of range(1, RANGES.countMax)) for (const item of COUNT_ITEMS)
    yield { task: "count", questions: QUESTIONS.count(n, item), answer: String(n), subject: ["list"], good: `There ${n === 1 ? "is 1 word" : `are ${n} words`} in the list.` };
  for (const n of range(0, RANGES.numberWordMax))
    yield { task: "number_word", questions: QUESTIONS.number_word(n), answer: NUMBER_WORDS[n], subject: [String(n)], good: `${n} is written ${NUMBER_WORDS[n]}.` };
  for (const name of NAMES)
    yield { task: "greet", questions: QUESTIONS.greet(name), answer: name, subject: [name], good: GREETINGS(name)[0] };
  for (const [s, p] of PLURALS)
    yield { task: "plural", questions: QUESTIONS.plural(s), answer: p, subject: [s], good: `The plural of ${s} is ${p}.` };
  for (const thing of THANKS_FOR)
    yield { task: "thanks", questions: QUESTIONS.thanks(thing), answer: "", subject: [], good: THANKS_REPLIES[0] };
}

let cache: Map<string, WorldQuestion> | undefined;

/** Every question the world can ask, keyed by its text, with its ground truth. */
export function worldQuestions(): ReadonlyMap<string, WorldQuestion> {
  if (!cache) {
    cache = new Map();
    for (const { questions, ...truth } of instances())
      for (const question of questions) if (!cache.has(question)) cache.set(question, { ...truth, question });
  }
  return cache;
}

/** A prompt of the world: an optional system prompt and one of the world's questions. */
export interface WorldPrompt {
  system: string;
  question: string;
}

/** The families held-out prompts come from: those whose facts a tiny model can learn (no arithmetic). */
export const HELD_OUT_TASKS: readonly Task[] = ["capital", "colour", "opposite", "letters", "sound", "day", "number_word", "greet", "plural", "thanks"];
/** The seed of the held-out reservation (fixed: the data generator and the judge must agree on it). */
export const HELD_OUT_SEED = 13;

let heldOut: { prompts: WorldPrompt[]; questions: Set<string> } | undefined;

/**
 * The held-out prompts, reserved before any training data is generated (as the DPO paper holds out its test prompts):
 * for every fact of the HELD_OUT_TASKS families, one of its phrasings (two when it has four or more) is set aside, so
 * each held-out question asks a fact the training data teaches, in a wording training never shows. The generator
 * (synthetic.ts) never draws a reserved question; the judge's `dpo-ts judge --prompts held-out` asks them
 * (data/held-out-prompts.jsonl). Each gets a system prompt drawn by the data's weights. Deterministic.
 */
export function heldOutReservation(): { prompts: readonly WorldPrompt[]; questions: ReadonlySet<string> } {
  if (!heldOut) {
    const rng = new Rng(HELD_OUT_SEED);
    const prompts: WorldPrompt[] = [];
    for (const { task, questions } of instances()) {
      if (!HELD_OUT_TASKS.includes(task) || questions.length < 2) continue;
      for (const question of rng.shuffle(questions).slice(0, questions.length >= 4 ? 2 : 1)) prompts.push({ system: rng.weighted(SYSTEMS), question });
    }
    heldOut = { prompts: rng.shuffle(prompts), questions: new Set(prompts.map((p) => p.question)) };
  }
  return heldOut;
}

/** Whether `question` is reserved for the held-out prompts (training data never asks it). */
export function isHeldOut(question: string): boolean {
  return heldOutReservation().questions.has(question.trim());
}

/** The phrasings of `questions` training may use (the held-out ones removed). */
export function trainingPhrasings(questions: readonly string[]): string[] {
  const usable = questions.filter((q) => !isHeldOut(q));
  if (usable.length === 0) throw new Error(`world: every phrasing of ${JSON.stringify(questions[0])} is held out`);
  return usable;
}

/** The ground truth of `question` (exactly as the world phrases it), or undefined for a question outside the world. */
export function lookUpQuestion(question: string): WorldQuestion | undefined {
  return worldQuestions().get(question.trim());
}
