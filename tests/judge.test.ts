/**
 * The world's judge (src/judge): the generator's own chosen answers score 1 and every rejected kind scores below them,
 * for every task family; edge cases of reading a stated fact; the held-out prompts; the Wilson interval and win rate;
 * `dpo-ts judge --json` on a tiny prompt file. Also: the shipped data are what the pipeline makes (the SFT rows by the
 * generator, the held-out prompts by the reservation, the pairs judged on-policy) and never ask a held-out question.
 */
import { describe, it, expect, vi } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REJECTION_KINDS, badAnswer, generateExample, generateInstructionSet, generatePreferenceSet } from "../src/data/synthetic";
import { Rng } from "../src/util/rng";
import { HELD_OUT_TASKS, QUESTIONS, heldOutReservation, isHeldOut, lookUpQuestion, worldQuestions } from "../src/data/world";
import { VERDICT_SCORES, judgeAnswer } from "../src/judge/judge";
import { heldOutPrompts } from "../src/judge/held-out";
import { wilsonInterval, winRate } from "../src/judge/win-rate";
import { judgeCommand, readPrompts } from "../src/cli/judge";

const DATA = path.join(__dirname, "..", "data");
const lines = (file: string) =>
  fs
    .readFileSync(path.join(DATA, file), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

describe("the world", () => {
  it("generates the shipped SFT rows byte for byte, knows every question of the data, and no training row asks a held-out one", () => {
    const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
    expect(jsonl(generateInstructionSet(3000, 1235))).toBe(fs.readFileSync(path.join(DATA, "sft.jsonl"), "utf8"));
    expect(jsonl(heldOutReservation().prompts)).toBe(fs.readFileSync(path.join(DATA, "held-out-prompts.jsonl"), "utf8"));
    for (const r of [...lines("sft.jsonl"), ...lines("orca_dpo_pairs.jsonl")]) {
      expect(lookUpQuestion(r.question), r.question).toBeDefined();
      expect(isHeldOut(r.question), r.question).toBe(false);
    }
    // The generator never draws a reserved question, whatever the seed.
    expect(generatePreferenceSet(2000, 99).filter((r) => isHeldOut(r.question))).toEqual([]);
    expect(new Set([...worldQuestions().values()].map((q) => q.task))).toEqual(new Set(Object.keys(QUESTIONS)));
  });
});

describe("judge", () => {
  it("prefers every shipped (judged, on-policy) pair's chosen answer to its rejected one", () => {
    const pairs = lines("orca_dpo_pairs.jsonl");
    expect(pairs.length).toBeGreaterThanOrEqual(300);
    for (const r of pairs) {
      const chosen = judgeAnswer(r.question, r.chosen);
      const rejected = judgeAnswer(r.question, r.rejected);
      expect(chosen.score, `${r.question} → ${r.chosen} (${chosen.reason}) vs ${r.rejected} (${rejected.reason})`).toBeGreaterThan(rejected.score);
    }
  });

  it("gives each bad kind of the generator its verdict, in every family", () => {
    const r = new Rng(77);
    const seen = new Map<string, Set<string>>();
    for (let i = 0; i < 3000; i++) {
      const ex = generateExample(r);
      const good = judgeAnswer(ex.question, ex.good);
      expect(good.verdict, `${ex.question} → ${ex.good}: ${good.reason}`).toBe("correct");
      for (const kind of REJECTION_KINDS) {
        const answer = badAnswer(r, ex, kind);
        const j = judgeAnswer(ex.question, answer);
        const allowed: Record<string, string[]> = {
          rude: ["rude"],
          refuse: ["refusing"],
          rambling: ["rambling"],
          // the social families' "wrong" replies are insults ("Go away, Tom.")
          wrong: ex.task === "greet" || ex.task === "thanks" ? ["wrong", "rude"] : ["wrong"],
          // an answer to another question may mention this one's numbers ("3 is bigger than 2." for 2 + 3)
          offtopic: ["offtopic", "wrong"],
        };
        expect(allowed[kind], `${kind}: ${ex.question} → ${answer}: ${j.reason}`).toContain(j.verdict);
        seen.set(ex.task, (seen.get(ex.task) ?? new Set()).add(kind));
      }
    }
    expect([...seen.keys()].sort()).toEqual(Object.keys(QUESTIONS).sort());
  });

  it("reads facts carefully: edge cases", () => {
    const j = (q: string, a: string) => judgeAnswer(q, a);
    expect(j("What is 9 plus 10?", "")).toMatchObject({ verdict: "empty", score: 0 });
    expect(j("What is 9 plus 10?", "9 PLUS 10 IS 19")).toMatchObject({ verdict: "correct" }); // case, no full stop
    expect(j("What is 9 plus 10?", "9 plus 10 is 17.")).toMatchObject({ verdict: "wrong", reason: 'states "17", expected "19"' });
    expect(j("What is 9 plus 10?", "There are 19 words in the list.").verdict).toBe("offtopic"); // right number, not about 9 + 10
    expect(j("What is 9 plus 10?", "Ugh, 9 plus 10 is 19.").verdict).toBe("rude"); // rude wins over right
    expect(j("What is 9 plus 10?", "I am not sure, sorry.").verdict).toBe("refusing");
    expect(j("What is 9 plus 10?", Array(5).fill("9 plus 10 is 19.").join(" ")).verdict).toBe("rambling"); // repetition
    expect(j("What colour is an orange?", "An orange is orange.").verdict).toBe("correct");
    expect(j("What colour is an orange?", "An orange is blue or orange.").verdict).toBe("wrong"); // two colours: no one fact
    expect(j("What is the capital of Mexico?", "The capital of Mexico is Mexico City.").verdict).toBe("correct");
    expect(j("What is the capital of India?", "The capital of India is Delhi.").verdict).toBe("wrong");
    expect(j("What is the opposite of sad?", "Happy to help. The opposite of sad is happy.").verdict).toBe("correct");
    expect(j("What is the opposite of sad?", "The opposite of sad is up.")).toMatchObject({ verdict: "wrong", reason: 'states "up", expected "happy"' });
    expect(j("Which is bigger, 3 or 12?", "3 is bigger than 12.").verdict).toBe("wrong");
    expect(j("What is the plural of sheep?", "The plural of sheep is sheep.").verdict).toBe("correct");
    expect(
      j("Spell the number 1.", "Well, that is a very interesting question, and there are many things one could say about it. 1 is written one.").verdict,
    ).toBe("rambling");
    expect(j("Say hello to Tom.", "Hello, Anna!").verdict).toBe("wrong");
    expect(j("Thanks a lot for your time.", "Good morning, Tom! Welcome.").verdict).toBe("offtopic");
    expect(() => judgeAnswer("What is the meaning of life?", "42")).toThrow(/not a question of the course's world/);
    expect(Object.values(VERDICT_SCORES).every((s) => s >= 0 && s <= 1)).toBe(true);
  });
});

describe("held-out prompts and win rate", () => {
  it("ships ≥ 200 deterministic held-out prompts that no training file asks, each a new wording of a fact training teaches", () => {
    const seen = new Set([...lines("sft.jsonl"), ...lines("orca_dpo_pairs.jsonl")].map((r) => r.question as string));
    const prompts = heldOutPrompts();
    expect(prompts.length).toBeGreaterThanOrEqual(200);
    expect(prompts.filter((p) => seen.has(p.question))).toEqual([]);
    expect(new Set(prompts.map((p) => p.question)).size).toBe(prompts.length);
    expect(readPrompts("held-out")).toEqual(prompts);
    expect(heldOutPrompts()).toEqual(prompts);
    expect(heldOutPrompts(10)).toEqual(prompts.slice(0, 10));
    expect(() => heldOutPrompts(prompts.length + 1)).toThrow(/reserves \d+ held-out prompts/);
    // No arithmetic; and the fact behind each held-out question is asked in training in another wording.
    const trainedFacts = new Set([...seen].map((q) => JSON.stringify([lookUpQuestion(q)!.task, lookUpQuestion(q)!.answer, lookUpQuestion(q)!.subject])));
    for (const p of prompts) {
      const q = lookUpQuestion(p.question)!;
      expect(HELD_OUT_TASKS).toContain(q.task);
      expect(trainedFacts.has(JSON.stringify([q.task, q.answer, q.subject])), p.question).toBe(true);
    }
  });

  it("computes the Wilson interval and counts ties half", () => {
    const [lo, hi] = wilsonInterval(0.5, 100);
    expect(lo).toBeCloseTo(0.4038, 4);
    expect(hi).toBeCloseTo(0.5962, 4);
    const [lo2, hi2] = wilsonInterval(0.9, 50); // statsmodels proportion_confint(45, 50, method="wilson")
    expect(lo2).toBeCloseTo(0.78639, 4);
    expect(hi2).toBeCloseTo(0.95653, 4);
    expect(winRate([1, 0.1, 0.5, 0], [0.1, 0.1, 1, 0])).toMatchObject({
      win_rate: 0.5,
      wins: 1,
      ties: 2,
      losses: 1,
      n: 4,
      mean_reward: 0.4,
      mean_reward_ref: 0.3,
    });
  });

  it("dpo-ts judge --json: a model against itself ties everywhere; bad prompt files are named", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "judge-"));
    const file = path.join(dir, "prompts.jsonl");
    fs.writeFileSync(
      file,
      ['{"question":"What is the opposite of dry?"}', '{"system":"You are a helpful assistant.","question":"What is 2 plus 2?"}'].join("\n"),
    );
    const printed: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((line: string) => void printed.push(line));
    try {
      await judgeCommand({ model: path.join(DATA, "sft-model"), prompts: file, "max-new-tokens": "12", json: true, backend: process.env.DPO_BACKEND }, []);
    } finally {
      spy.mockRestore();
    }
    const out = JSON.parse(printed[printed.length - 1]);
    expect(out).toMatchObject({ win_rate: 0.5, n: 2, ties: 2 });
    expect(out.mean_reward).toBe(out.mean_reward_ref);
    expect(Object.keys(out)).toEqual(expect.arrayContaining(["win_rate", "ci_low", "ci_high", "n", "mean_reward", "mean_reward_ref"]));
    fs.writeFileSync(file, '{"question":"What is 2 plus 2?"}\n{"question":"Who are you?"}\n');
    expect(() => readPrompts(file)).toThrow(`${file}:2: field "question" is not a question of the course's world`);
    fs.rmSync(dir, { recursive: true });
  });
});

describe("judged preference pairs", () => {
  it("samples the SFT model, keeps best as chosen and worst as rejected, and lists prompts without a preference", async () => {
    const { initBackend } = await import("../src/backend");
    const { loadModel } = await import("../src/model/io");
    const { Tokenizer } = await import("../src/tokenizer/tokenizer");
    const { buildJudgedPairs } = await import("../src/judge/judged-pairs");
    await initBackend({ backend: process.env.DPO_BACKEND, quiet: true });
    const dir = path.join(DATA, "sft-model");
    const model = await loadModel(dir, { trainable: false });
    const tokenizer = await Tokenizer.fromDir(dir);
    const prompts = lines("orca_dpo_pairs.jsonl")
      .slice(0, 4)
      .map((r) => ({ system: r.system, question: r.question }));
    try {
      const out = await buildJudgedPairs({ model, tokenizer, prompts, samples: 3, temperature: 1.5, maxNewTokens: 16, seed: 1 });
      expect(out.pairs.length + out.noPreference.length).toBe(prompts.length);
      for (const p of out.pairs) {
        expect(p.score_chosen).toBeGreaterThan(p.score_rejected);
        expect(judgeAnswer(p.question, p.chosen).score).toBe(p.score_chosen);
        expect(judgeAnswer(p.question, p.rejected).score).toBe(p.score_rejected);
      }
      for (const n of out.noPreference) expect(prompts[n.index - 1].question).toBe(n.question);
      expect(await buildJudgedPairs({ model, tokenizer, prompts, samples: 3, temperature: 1.5, maxNewTokens: 16, seed: 1 })).toEqual(out);
      await expect(buildJudgedPairs({ model, tokenizer, prompts, samples: 1 })).rejects.toThrow(/samples must be an integer ≥ 2/);
    } finally {
      model.dispose();
    }
  });
});
