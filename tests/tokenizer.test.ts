import { describe, it, expect } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { Tokenizer } from "../src/tokenizer/tokenizer";
import { trainByteLevelBpe, trainChatMLTokenizer, bytesToUnicode, CHATML_TEMPLATE } from "../src/tokenizer/train-bpe";
import { readPreferenceFile } from "../src/data/preferences";
import { generateInstructionSet } from "../src/data/synthetic";
import { Rng } from "../src/util/rng";
import { NEEDS, skipUnless } from "./helpers/skip";

const FIX = path.join(__dirname, "fixtures/hf-tiny");
const GPT2_DIR = path.join(FIX, "gpt2-policy");
const expected = JSON.parse(fs.readFileSync(path.join(FIX, "expected.json"), "utf8"));
const VENV_PY = path.join(__dirname, "..", ".venv", "bin", "python");

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "dpo-ts-tok-"));
}

/** Copy of a tokenizer folder with some files replaced (null = delete). */
function variant(files: Record<string, string | null>, from = GPT2_DIR): string {
  const dir = tmpDir();
  for (const f of ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja"]) {
    fs.copyFileSync(path.join(from, f), path.join(dir, f));
  }
  for (const [f, text] of Object.entries(files)) {
    if (text === null) fs.rmSync(path.join(dir, f));
    else fs.writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

const baseConfig = JSON.parse(fs.readFileSync(path.join(GPT2_DIR, "tokenizer_config.json"), "utf8"));

const CORPUS = [
  "The quick brown fox jumps over the lazy dog.",
  "Question: What is the capital of France?\nAnswer: The capital of France is Paris.",
  "<|im_start|>user\nWhat is 3 plus 4?<|im_end|>\n<|im_start|>assistant\n3 plus 4 is 7.<|im_end|>\n",
  "Please answer politely, it's nice. We'll see, they're here, I'd go, you've got it.",
  "Numbers 12345 and 2024, tabs\tand  double  spaces   here.\n\n",
]
  .join("\n")
  .repeat(30);

describe("Tokenizer on the hf-tiny fixture", () => {
  it("reproduces transformers' ids exactly (prompt and completions separately, EOS appended)", async () => {
    for (const kind of ["gpt2-policy", "llama-policy"]) {
      const tok = await Tokenizer.fromDir(path.join(FIX, kind));
      const rows = readPreferenceFile(path.join(FIX, "prefs.jsonl"));
      expect(rows.length).toBe(expected.ids.length);
      rows.forEach((row, i) => {
        expect(tok.encode(row.prompt)).toEqual(expected.ids[i].prompt);
        expect([...tok.encode(row.chosen), tok.eosTokenId]).toEqual(expected.ids[i].chosen);
        expect([...tok.encode(row.rejected), tok.eosTokenId]).toEqual(expected.ids[i].rejected);
      });
    }
  });

  it("reads eos/pad/bos from tokenizer_config.json", async () => {
    const tok = await Tokenizer.fromDir(GPT2_DIR);
    expect(tok.eosToken).toBe("<|im_end|>");
    expect(tok.eosTokenId).toBe(expected.eos_id);
    expect(tok.padTokenId).toBe(0);
    expect(tok.bosTokenId).toBe(0);
    expect(tok.vocabSize).toBe(expected.vocab_size);
  });

  it("matches special tokens written inside text, and decodes them (or skips them)", async () => {
    const tok = await Tokenizer.fromDir(GPT2_DIR);
    const text = "<|im_start|>user\nHello there!<|im_end|>\n<|endoftext|>";
    const ids = tok.encode(text);
    expect(ids[0]).toBe(1);
    expect(ids.filter((i) => i <= 2)).toEqual([1, 2, 0]);
    expect(ids[ids.length - 1]).toBe(0);
    expect(tok.decode(ids)).toBe(text);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe("user\nHello there!\n");
    // a broken marker is plain text, not a special token
    expect(tok.encode("<|im_start|").includes(1)).toBe(false);
  });

  it("round-trips arbitrary Unicode through byte-level BPE", async () => {
    const tok = await Tokenizer.fromDir(GPT2_DIR);
    for (const s of ["héllo 😀 wörld  \n\n x", "日本語のテキスト", "tabs\tand\r\nCRLF", "  leading and trailing  "]) {
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
    // same ids transformers gives (computed once with transformers 5.18)
    expect(tok.encode("héllo 😀 wörld  \n\n x")).toEqual([
      74, 130, 105, 78, 356, 223, 175, 256, 249, 225, 223, 89, 130, 117, 84, 78, 70, 223, 223, 201, 201, 223, 90,
    ]);
  });

  it("renders the ChatML chat template like transformers", async () => {
    const tok = await Tokenizer.fromDir(GPT2_DIR);
    const msgs = [
      { role: "system", content: "Be kind." },
      { role: "user", content: "Hi!" },
    ];
    expect(tok.applyChatTemplate(msgs)).toBe("<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n");
    expect(tok.applyChatTemplate(msgs, { addGenerationPrompt: true })).toBe(
      "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
    );
  });

  it("passes bos_token/eos_token to templates and applies trim_blocks/lstrip_blocks", async () => {
    const template =
      "{{ bos_token }}{% for m in messages %}\n  {% if m['role'] == 'user' %}\n[U] {{ m['content'] }}{{ eos_token }}\n  {% endif %}\n{% endfor %}";
    const dir = variant({ "chat_template.jinja": template });
    const tok = await Tokenizer.fromDir(dir);
    expect(
      tok.applyChatTemplate([
        { role: "user", content: "a" },
        { role: "bot", content: "b" },
      ]),
    ).toBe("<|endoftext|>[U] a<|im_end|>\n");
  });
});

describe("Tokenizer config variants and errors", () => {
  it("accepts AddedToken objects {content} and falls back to eos for pad", async () => {
    const cfg = { ...baseConfig, eos_token: { content: "<|im_end|>", special: true }, bos_token: null };
    delete cfg.pad_token;
    const tok = await Tokenizer.fromDir(variant({ "tokenizer_config.json": JSON.stringify(cfg) }));
    expect(tok.eosTokenId).toBe(2);
    expect(tok.padTokenId).toBe(2);
    expect(tok.padToken).toBe("<|im_end|>");
    expect(tok.bosTokenId).toBeNull();
  });

  it("uses tokenizer_config.json chat_template (string or named list) when there is no chat_template.jinja", async () => {
    const cfgA = { ...baseConfig, chat_template: "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}" };
    const a = await Tokenizer.fromDir(variant({ "tokenizer_config.json": JSON.stringify(cfgA), "chat_template.jinja": null }));
    expect(a.applyChatTemplate([{ role: "user", content: "x" }])).toBe("<user>x");
    const cfgB = {
      ...baseConfig,
      chat_template: [
        { name: "tool_use", template: "T" },
        { name: "default", template: "D{{ messages|length }}" },
      ],
    };
    const b = await Tokenizer.fromDir(variant({ "tokenizer_config.json": JSON.stringify(cfgB), "chat_template.jinja": null }));
    expect(b.applyChatTemplate([{ role: "user", content: "x" }])).toBe("D1");
  });

  it("reads special tokens from special_tokens_map.json when tokenizer_config.json is absent", async () => {
    const dir = variant({
      "tokenizer_config.json": null,
      "special_tokens_map.json": JSON.stringify({ eos_token: { content: "<|im_end|>" }, pad_token: "<|endoftext|>" }),
    });
    const tok = await Tokenizer.fromDir(dir);
    expect([tok.eosTokenId, tok.padTokenId, tok.bosTokenId]).toEqual([2, 0, null]);
  });

  it("names the file in errors", async () => {
    const noJson = variant({ "tokenizer.json": null });
    await expect(Tokenizer.fromDir(noJson)).rejects.toThrow(`${path.join(noJson, "tokenizer.json")}: file not found`);
    const badCfg = variant({ "tokenizer_config.json": "{ not json" });
    await expect(Tokenizer.fromDir(badCfg)).rejects.toThrow(/tokenizer_config\.json: invalid JSON/);
    const noCfg = variant({ "tokenizer_config.json": null });
    await expect(Tokenizer.fromDir(noCfg)).rejects.toThrow(/tokenizer_config\.json: file not found/);
    const noModel = variant({ "tokenizer.json": JSON.stringify({ version: "1.0" }) });
    await expect(Tokenizer.fromDir(noModel)).rejects.toThrow(/tokenizer\.json: missing "model"/);
    const badEos = variant({ "tokenizer_config.json": JSON.stringify({ ...baseConfig, eos_token: "</s>" }) });
    await expect(Tokenizer.fromDir(badEos)).rejects.toThrow(/tokenizer_config\.json: eos_token "<\/s>" is not in the vocabulary/);
    const noEos = variant({ "tokenizer_config.json": JSON.stringify({ ...baseConfig, eos_token: undefined }) });
    await expect(Tokenizer.fromDir(noEos)).rejects.toThrow(/tokenizer_config\.json: no "eos_token"/);
    const badTokType = variant({ "tokenizer_config.json": JSON.stringify({ ...baseConfig, pad_token: 5 }) });
    await expect(Tokenizer.fromDir(badTokType)).rejects.toThrow(/tokenizer_config\.json: field "pad_token" must be a string/);
    await expect(Tokenizer.fromDir(path.join(FIX, "no-such-dir"))).rejects.toThrow(/no-such-dir: tokenizer folder not found/);
  });

  it("names the template file when the chat template is missing or broken", async () => {
    const none = await Tokenizer.fromDir(variant({ "chat_template.jinja": null }));
    expect(() => none.applyChatTemplate([{ role: "user", content: "x" }])).toThrow(/no chat template/);
    const brokenDir = variant({ "chat_template.jinja": "{% for m in messages %}{{ m.content }" });
    const broken = await Tokenizer.fromDir(brokenDir);
    expect(() => broken.applyChatTemplate([{ role: "user", content: "x" }])).toThrow(`${path.join(brokenDir, "chat_template.jinja")}: invalid Jinja template`);
  });

  it("save(dir) writes a folder that loads back with the same behaviour", async () => {
    const tok = await Tokenizer.fromDir(GPT2_DIR);
    const out = tmpDir();
    await tok.save(out);
    for (const f of ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja"]) expect(fs.existsSync(path.join(out, f))).toBe(true);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, "tokenizer_config.json"), "utf8"));
    expect(cfg.eos_token).toBe("<|im_end|>");
    expect(cfg.chat_template).toBeUndefined();
    expect(cfg.model_max_length).toBeUndefined(); // the "infinite" 1e30 is dropped
    const back = await Tokenizer.fromDir(out);
    const text = "<|im_start|>user\nHow many legs does a spider have?<|im_end|>\n";
    expect(back.encode(text)).toEqual(tok.encode(text));
    expect(back.applyChatTemplate([{ role: "user", content: "q" }], { addGenerationPrompt: true })).toBe(
      tok.applyChatTemplate([{ role: "user", content: "q" }], { addGenerationPrompt: true }),
    );
    expect([back.eosTokenId, back.padTokenId, back.bosTokenId]).toEqual([2, 0, 0]);
  });
});

describe("byte-level BPE trainer", () => {
  it("GPT-2 byte map covers all 256 bytes with distinct printable characters", () => {
    const m = bytesToUnicode();
    expect(new Set(m).size).toBe(256);
    expect(m[32]).toBe("Ġ");
    expect(m[10]).toBe("Ċ");
    expect(m[65]).toBe("A");
  });

  it("trains the requested vocabulary, specials first, deterministically", () => {
    const a = trainByteLevelBpe(CORPUS, { vocabSize: 350 });
    const b = trainByteLevelBpe(CORPUS, { vocabSize: 350 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    const model = a.model as { vocab: Record<string, number>; merges: [string, string][] };
    expect(Object.keys(model.vocab).length).toBe(350);
    expect(model.vocab["<|endoftext|>"]).toBe(0);
    expect(model.vocab["<|im_start|>"]).toBe(1);
    expect(model.vocab["<|im_end|>"]).toBe(2);
    expect(new Set(Object.values(model.vocab)).size).toBe(350);
    // every merge result is in the vocabulary; special-token text never gets merged
    for (const [x, y] of model.merges) expect(model.vocab[x + y]).toBeGreaterThanOrEqual(3);
    expect(Object.keys(model.vocab).some((t) => t.includes("im_start") && t !== "<|im_start|>")).toBe(false);
    // frequent words become single tokens
    expect(model.vocab["Ġcapital"]).toBeDefined();
  });

  it("stops early when no pair is frequent enough", () => {
    const tj = trainByteLevelBpe("abab abab", { vocabSize: 1000 });
    const n = Object.keys((tj.model as { vocab: object }).vocab).length;
    expect(n).toBeLessThan(1000);
    expect(n).toBeGreaterThan(259);
  });

  it("rejects a vocabulary smaller than specials + 256 bytes", () => {
    expect(() => trainByteLevelBpe(CORPUS, { vocabSize: 200 })).toThrow(/vocabSize must be an integer >= 259/);
  });

  it("produces a working ChatML tokenizer that round-trips text (seen and unseen)", async () => {
    const tok = trainChatMLTokenizer(CORPUS, 400);
    expect(tok.vocabSize).toBe(400);
    expect(tok.eosTokenId).toBe(2);
    expect(tok.padTokenId).toBe(0);
    const seen = "Question: What is the capital of France?";
    expect(tok.encode(seen).length).toBeLessThan(seen.length / 2); // merges compress
    for (const s of [seen, "Ünïcødé 🙂 never seen\t\tbefore", "<|im_start|>user\nx<|im_end|>\n"]) {
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
    expect(tok.encode("<|im_start|>user")[0]).toBe(1);
    expect(tok.applyChatTemplate([{ role: "user", content: "hi" }], { addGenerationPrompt: true })).toBe(
      "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    );
    expect(tok.chatTemplate).toBe(CHATML_TEMPLATE);
  });

  it("trains on ~1 MB of text in well under a minute", () => {
    // ~1 MB: generated Q/A text plus seeded pseudo-words (so there are many distinct words to merge)
    const rng = new Rng(7);
    const letters = "abcdefghijklmnopqrstuvwxyz";
    const pseudo = Array.from({ length: 60_000 }, () => Array.from({ length: rng.int(2, 9) }, () => letters[rng.int(0, 25)]).join("")).join(" ");
    const qa = generateInstructionSet(6000, 3)
      .map((r) => `${r.system}\n${r.question}\n${r.answer}\n`)
      .join("");
    const big = qa + pseudo;
    expect(big.length).toBeGreaterThan(900_000);
    const t0 = Date.now();
    const tj = trainByteLevelBpe(big, { vocabSize: 4000 });
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(Object.keys((tj.model as { vocab: object }).vocab).length).toBe(4000);
  }, 120_000);
});

describe.skipIf(skipUnless(fs.existsSync(VENV_PY), "agreement with transformers/tokenizers", NEEDS.venv))(
  "agreement with Python transformers/tokenizers (.venv)",
  () => {
    it("saved fixture tokenizer and trained tokenizer give the same ids, decodes and chat template in Python", async () => {
      const strings = [
        "Question: What colour is the sky?\nAnswer:",
        "<|im_start|>system\nBe nice.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
        "héllo 😀 wörld  \n\n x",
        "It's 12345 o'clock, we'll see!!  ",
        "   spaces\t\ttabs\r\nCRLF<|endoftext|>end",
        "The capital of France is Paris. 3 plus 4 is 7.",
      ];
      const cases: unknown[] = [];
      const fixtureTok = await Tokenizer.fromDir(GPT2_DIR);
      const trained = trainChatMLTokenizer(CORPUS, 420);
      for (const [name, tok] of [
        ["fixture", fixtureTok],
        ["trained", trained],
      ] as const) {
        const dir = tmpDir();
        await tok.save(dir);
        cases.push({
          name,
          dir,
          eos: tok.eosTokenId,
          pad: tok.padTokenId,
          vocab: tok.vocabSize,
          items: strings.map((s) => ({ text: s, ids: tok.encode(s), decoded: tok.decode(tok.encode(s), { skipSpecialTokens: true }) })),
          chat: tok.applyChatTemplate(
            [
              { role: "system", content: "S" },
              { role: "user", content: "Q" },
            ],
            { addGenerationPrompt: true },
          ),
        });
      }
      const input = path.join(tmpDir(), "cases.json");
      fs.writeFileSync(input, JSON.stringify(cases));
      const py = `
import json, sys
from transformers import AutoTokenizer
from tokenizers import Tokenizer
out = []
for c in json.load(open(sys.argv[1])):
    t = AutoTokenizer.from_pretrained(c["dir"])
    raw = Tokenizer.from_file(c["dir"] + "/tokenizer.json")
    bad = []
    for it in c["items"]:
        a = t.encode(it["text"], add_special_tokens=False)
        b = raw.encode(it["text"], add_special_tokens=False).ids
        d = t.decode(a, skip_special_tokens=True)
        if a != it["ids"] or b != it["ids"] or d != it["decoded"]:
            bad.append({"text": it["text"], "transformers": a, "tokenizers": b, "decoded": d})
    chat = t.apply_chat_template([{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}], tokenize=False, add_generation_prompt=True)
    out.append({"name": c["name"], "bad": bad, "chat_ok": chat == c["chat"],
                "ids_ok": [t.eos_token_id, t.pad_token_id, len(t)] == [c["eos"], c["pad"], c["vocab"]]})
print(json.dumps(out))
`;
      const res = spawnSync(VENV_PY, ["-c", py, input], { encoding: "utf8", timeout: 300_000 });
      expect(res.status, res.stderr).toBe(0);
      const lines = res.stdout.trim().split("\n");
      const results = JSON.parse(lines[lines.length - 1]);
      expect(results).toEqual([
        { name: "fixture", bad: [], chat_ok: true, ids_ok: true },
        { name: "trained", bad: [], chat_ok: true, ids_ok: true },
      ]);
    }, 300_000);
  },
);
