/**
 * The course's programmatic judge: it plays the human labellers / reward model of the RLHF picture for the closed
 * world of src/data/world.ts. Given one of the world's questions and an answer, it returns a score in [0, 1] with a
 * verdict and a reason, using the world's ground truth:
 *
 *   verdict    score  when
 *   correct    1.0    states the right fact, on topic, short (≤ MAX_WORDS words), not rude, not a refusal
 *   rambling   0.5    right fact buried in filler or repetition (longer than MAX_WORDS, or the world's filler phrases)
 *   refusing   0.2    "I do not know" and kin, with no right fact
 *   wrong      0.1    on topic (mentions the question's subject) but states a wrong or no fact
 *   offtopic   0.1    does not mention the question's subject (an answer to another question, or noise)
 *   rude       0.0    dismissive or insulting, whatever else it says
 *   empty      0.0    nothing but whitespace
 *
 * How the stated fact is read: numeric families (sum, difference, letters, count) take the last number in the
 * answer (the world states results last: "9 plus 10 is 19."); bigger takes the number before "is bigger/larger";
 * opposite and plural read "… of X is Y", number_word "is written X"; the others collect the world's vocabulary (cities, colours, sounds, days,
 * number words, names) mentioned in the answer besides the subject's first mention, and count as stating a fact only
 * when exactly one value is named. A right value counts only in an answer on topic (mentioning the question's
 * subject: both numbers of a sum, the country, the word…). Everything is case-insensitive and whole-word.
 */
import {
  CAPITALS,
  COLOUR_NAMES,
  DAYS,
  NAMES,
  NUMBER_WORDS,
  OPPOSITES,
  RAMBLE_CLOSE,
  RAMBLE_OPEN,
  REFUSE,
  RUDE,
  RUDE_THANKS,
  SOUNDS,
  WorldQuestion,
  lookUpQuestion,
} from "../data/world";

/** The judge's reading of an answer (correct, or which kind of bad). */
export type Verdict = "correct" | "rambling" | "refusing" | "wrong" | "offtopic" | "rude" | "empty";

/** The score of each verdict, between 0 (worst) and 1 (correct). */
export const VERDICT_SCORES: Readonly<Record<Verdict, number>> = {
  correct: 1,
  rambling: 0.5,
  refusing: 0.2,
  wrong: 0.1,
  offtopic: 0.1,
  rude: 0,
  empty: 0,
};

/** Answers longer than this many words ramble (the longest good answer in the world has 10). */
export const MAX_WORDS = 20;

/** The judge's score of one answer, its verdict and the reason. */
export interface Judgement {
  score: number;
  verdict: Verdict;
  /** One sentence a person can check: what the judge read and why it scored so. */
  reason: string;
}

const lower = (s: string): string => s.toLowerCase().replace(/\s+/g, " ").trim();
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const hasWord = (text: string, word: string): boolean => new RegExp(`(^|[^a-z0-9])${escape(lower(word))}($|[^a-z0-9])`).test(text);

/** Phrases that make an answer rude: the world's rude replies, cut to their telling part, plus insults. */
const RUDE_MARKERS = [...RUDE, ...RUDE_THANKS]
  .map((s) => lower(s).replace(/[.!?]+$/, ""))
  .concat([
    "go away",
    "silly question",
    "you are boring",
    "leave me alone",
    "whatever",
    "ugh",
    "nobody cares",
    "figure it out",
    "stop bothering",
    "yeah, yeah",
    "should have known",
    "not going to help",
    "look it up",
    "do not care",
  ]);
const REFUSE_MARKERS = REFUSE.map((s) => lower(s).replace(/[.!?]+$/, "")).concat([
  "i do not know",
  "not sure",
  "cannot answer",
  "no idea",
  "i can't",
  "i cannot",
]);
const FILLER = [...RAMBLE_OPEN, ...RAMBLE_CLOSE].map((s) => lower(s).replace(/[.!?]+$/, ""));
const GREETING_WORDS = ["hello", "hi", "hey", "good morning", "nice to meet you", "welcome"];
const THANKS_WORDS = ["you are welcome", "you are very welcome", "my pleasure", "glad i could help"];

/** The distinct values of `vocab` named in `text` ("several" when more than one, undefined when none). */
function named(text: string, vocab: readonly string[]): string | undefined {
  const found = [...new Set(vocab.map(lower).filter((v) => hasWord(text, v)))];
  // "Mexico City" names Mexico City, not also a bare "Mexico": drop values contained in a longer one found.
  const distinct = found.filter((v) => !found.some((o) => o !== v && o.includes(v)));
  return distinct.length === 0 ? undefined : distinct.length === 1 ? distinct[0] : "several";
}

/** The fact `text` (lower-cased) states for question `q`, in the form of `q.answer` (lower-cased), if any. */
export function statedFact(q: WorldQuestion, text: string): string | undefined {
  // The subject's first mention is not a stated value ("An orange is orange.", "Monday comes after Sunday.").
  const withoutSubject = q.subject.reduce((t, s) => t.replace(new RegExp(`(^|[^a-z0-9])${escape(lower(s))}(?=$|[^a-z0-9])`), "$1"), text);
  switch (q.task) {
    case "sum":
    case "difference":
    case "letters":
    case "count": {
      const numbers = text.match(/\d+/g);
      return numbers ? numbers[numbers.length - 1] : undefined;
    }
    case "bigger": {
      const m = /(\d+) is (?:bigger|larger|greater)/.exec(text);
      return m ? m[1] : undefined;
    }
    case "opposite":
    case "plural": {
      const m = /(?:opposite|plural) of (?:the word )?[a-z]+ is ([a-z]+)/.exec(text);
      return m ? m[1] : named(withoutSubject, q.task === "opposite" ? OPPOSITES.flat() : [q.answer]);
    }
    case "capital":
      return named(
        text,
        CAPITALS.map((c) => c[1]),
      );
    case "colour":
      return named(withoutSubject, COLOUR_NAMES);
    case "sound":
      return named(
        text,
        SOUNDS.map((s) => s[1]),
      );
    case "day":
      return named(withoutSubject, DAYS);
    case "number_word": {
      const m = /is written (?:as )?([a-z]+)/.exec(text); // filler such as "many things one could say" names "one" too
      return m ? m[1] : named(text, NUMBER_WORDS);
    }
    case "greet":
      return GREETING_WORDS.some((g) => hasWord(text, g)) ? named(text, NAMES) : undefined;
    case "thanks":
      return THANKS_WORDS.some((g) => text.includes(g)) ? "" : undefined;
  }
}

/** Whether `text` (lower-cased) is about `q`'s subject. */
function onTopic(q: WorldQuestion, text: string): boolean {
  switch (q.task) {
    case "sum":
    case "difference":
    case "bigger":
      return q.subject.every((s) => hasWord(text, s));
    case "greet":
      return NAMES.some((n) => hasWord(text, n)) || GREETING_WORDS.some((g) => hasWord(text, g));
    case "thanks":
      return /you are (very )?welcome|pleasure|glad|thank/.test(text);
    default:
      return q.subject.some((s) => hasWord(text, s));
  }
}

/** Judges `answer` to question `q` of the world (see the table at the top of this file). */
export function judgeWorldAnswer(q: WorldQuestion, answer: string): Judgement {
  const text = lower(answer);
  const verdict = (v: Verdict, reason: string): Judgement => ({ score: VERDICT_SCORES[v], verdict: v, reason });
  if (text === "") return verdict("empty", "the answer is empty");
  const rude = RUDE_MARKERS.find((m) => hasWord(text, m));
  if (rude) return verdict("rude", `rude: says "${rude}"`);
  const fact = statedFact(q, text);
  const topical = onTopic(q, text);
  // A right value counts only on topic: "There are 2 words in the list." does not answer "2 apples, eat 0, how many left?".
  const right = fact === lower(q.answer) && topical;
  const words = text.split(" ").length;
  const filler = FILLER.find((f) => text.includes(f));
  const shown = q.task === "thanks" ? "a thank-you reply" : `"${q.answer}"`;
  if (right && (words > MAX_WORDS || filler))
    return verdict("rambling", `states ${shown} but rambles (${filler ? `filler "${filler}"` : `${words} words > ${MAX_WORDS}`})`);
  if (right) return verdict("correct", `states ${shown}, correct`);
  const refusal = REFUSE_MARKERS.find((m) => hasWord(text, m));
  if (refusal) return verdict("refusing", `refuses: "${refusal}"`);
  if (!topical) return verdict("offtopic", `does not mention ${q.subject.length ? q.subject.map((s) => `"${s}"`).join(" / ") : "the thanks"}: off topic`);
  return verdict("wrong", fact === undefined ? `on topic but states no ${q.task} fact (expected ${shown})` : `states "${fact}", expected ${shown}`);
}

/** The world's question behind each prompt, in order; throws naming `caller` and the (1-based) prompt that is not one. */
export function worldQuestionsOf(prompts: readonly { question: string }[], caller: string): WorldQuestion[] {
  return prompts.map((p, i) => {
    const q = lookUpQuestion(p.question);
    if (!q) throw new Error(`${caller}: prompt ${i + 1} is not a question of the course's world: ${JSON.stringify(p.question)}`);
    return q;
  });
}

/** Judges `answer` to `question` (the user's text exactly as the world phrases it). Throws for a question outside the world. */
export function judgeAnswer(question: string, answer: string): Judgement {
  const q = lookUpQuestion(question);
  if (!q) throw new Error(`judge: not a question of the course's world: ${JSON.stringify(question)}`);
  return judgeWorldAnswer(q, answer);
}
