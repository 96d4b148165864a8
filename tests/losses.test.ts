/**
 * Every TRL 1.13 loss, f-divergence, lossWeights mix, WPO weight and LD-DPO split of dpoLoss / completionLogps
 * against values computed here by hand (scalar JavaScript written from TRL's _compute_loss), plus TRL's refusals.
 * (The same losses through TRL's own code on the same inputs: tests/trl-parity.test.ts, step 1 of each curve.)
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as path from "path";
import { dpoLoss, LOSS_TYPES, LossType, FDivergenceType, DPOLossOptions, lossCurves } from "../src/train/loss";
import { resolveConfig } from "../src/train/config";
import { collatePairs, disposeBatch } from "../src/train/batch";
import { completionLogps, lengthDesensitizedRows } from "../src/train/logps";
import { loadModel, CausalLM } from "../src/model/io";
import { lossShapesFigure } from "../src/metrics/plots";
import { useBackendForTests } from "./helpers/backend";

beforeAll(async () => {
  await useBackendForTests();
});

// Three pairs: policy/reference summed log-probs and completion lengths (pair 2 has the policy preferring rejected).
const P = { pc: [-12.5, -20.25, -7.0], pr: [-14.0, -18.5, -9.5], rc: [-13.0, -19.75, -7.25], rr: [-13.5, -19.0, -9.0], lc: [5, 9, 3], lr: [6, 7, 4] };
const NLL = 2.3;
const W = { c: [0.5, 0.25, 0.8], r: [0.4, 0.9, 0.3] };

const logSig = (z: number) => -Math.log1p(Math.exp(-z));
const sig = (z: number) => 1 / (1 + Math.exp(-z));
const sortAsc = (xs: number[]) => [...xs].sort((a, b) => a - b);

function score(rho: number, f: FDivergenceType, alpha: number): number {
  if (f === "forward_kl") return 1 - Math.exp(-rho);
  if (f === "js_divergence") return Math.LN2 + logSig(rho);
  if (f === "alpha_divergence" && Math.abs(alpha - 1) < 1e-6) return rho; // the limit: reverse KL
  if (f === "alpha_divergence") return (Math.exp(Math.min((alpha - 1) * rho, 80)) - 1) / (alpha - 1);
  return rho;
}

/** Per-pair loss by hand, TRL 1.13's formulas (sigmoid with cDPO ε, as dpo-ts documents). */
function byHand(t: LossType, o: { beta: number; eps: number; f: FDivergenceType; alpha: number; tau: number }): number[] {
  const { beta: b, eps } = o;
  const B = P.pc.length;
  const rc = P.pc.map((x, i) => x - P.rc[i]);
  const rr = P.pr.map((x, i) => x - P.rr[i]);
  const sc = rc.map((x) => score(x, o.f, o.alpha));
  const sr = rr.map((x) => score(x, o.f, o.alpha));
  const d = sc.map((x, i) => x - sr[i]);
  const smoothed = (x: number) => -(1 - eps) * logSig(b * x) - eps * logSig(-b * x);
  const norm = (i: number) => sc[i] / P.lc[i] - sr[i] / P.lr[i];
  return Array.from({ length: B }, (_, i) => {
    switch (t) {
      case "sigmoid":
        return smoothed(d[i]);
      case "hinge":
        return Math.max(0, 1 - b * d[i]);
      case "ipo":
        return (norm(i) - 1 / (2 * b)) ** 2;
      case "exo_pair":
        return sig(b * d[i]) * (logSig(b * d[i]) - Math.log(1 - eps)) + sig(-b * d[i]) * (logSig(-b * d[i]) - Math.log(eps));
      case "nca_pair":
        return -logSig(b * rc[i]) - 0.5 * logSig(-b * rc[i]) - 0.5 * logSig(-b * rr[i]);
      case "robust":
        return (-(1 - eps) * logSig(b * d[i]) + eps * logSig(-b * d[i])) / (1 - 2 * eps);
      case "bco_pair":
        return -logSig(b * rc[i]) - logSig(-b * rr[i]);
      case "sppo_hard":
        return (rc[i] - 0.5 / b) ** 2 + (rr[i] + 0.5 / b) ** 2;
      case "aot": {
        const pol = sortAsc(P.pc.map((x, j) => x - P.pr[j]));
        const ref = sortAsc(P.rc.map((x, j) => x - P.rr[j]));
        return smoothed(pol[i] - ref[i]);
      }
      case "aot_unpaired":
        return smoothed(sortAsc(rc)[i] - sortAsc(rr)[i]);
      case "apo_zero":
        return 1 - sig(b * rc[i]) + sig(b * rr[i]);
      case "apo_down":
        return sig(b * rc[i]) + 1 - sig(b * (rc[i] - rr[i]));
      case "discopop": {
        const z = b * d[i];
        const m = sig(z / o.tau);
        return -logSig(z) * (1 - m) + Math.exp(-z) * m;
      }
      case "sft":
        return NLL;
      case "sigmoid_norm":
        return -logSig(b * norm(i));
    }
  });
}

function ours(opts: Partial<DPOLossOptions> & { lossType: DPOLossOptions["lossType"] }): number[] {
  return tf.tidy(() => {
    const t = (xs: number[]) => tf.tensor1d(xs);
    const out = dpoLoss(
      {
        policyChosenLogps: t(P.pc),
        policyRejectedLogps: t(P.pr),
        referenceChosenLogps: t(P.rc),
        referenceRejectedLogps: t(P.rr),
        chosenLengths: t(P.lc),
        rejectedLengths: t(P.lr),
        chosenNll: tf.scalar(NLL),
        chosenWeights: t(W.c),
        rejectedWeights: t(W.r),
      },
      { beta: 0.1, labelSmoothing: 0, ...opts },
    );
    return Array.from(out.losses.dataSync());
  });
}

function close(got: number[], want: number[], what: string): void {
  expect(got.length, what).toBe(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]) / Math.max(1, Math.abs(want[i])), `${what}[${i}]: got ${g}, want ${want[i]}`).toBeLessThan(1e-5));
}

describe("every loss type against hand-computed values", () => {
  for (const lossType of LOSS_TYPES) {
    const eps = lossType === "exo_pair" ? 1e-3 : lossType === "robust" || lossType === "aot" || lossType === "aot_unpaired" || lossType === "sigmoid" ? 0.1 : 0;
    for (const beta of [0.1, 0.5]) {
      it(`${lossType}, beta ${beta}, labelSmoothing ${eps}`, () => {
        close(ours({ lossType, beta, labelSmoothing: eps }), byHand(lossType, { beta, eps, f: "reverse_kl", alpha: 0.5, tau: 0.05 }), lossType);
      });
    }
  }
  it("discopop with discopopTau 0.5", () => {
    close(ours({ lossType: "discopop", discopopTau: 0.5 }), byHand("discopop", { beta: 0.1, eps: 0, f: "reverse_kl", alpha: 0.5, tau: 0.5 }), "discopop");
  });
  it("lossCurves evaluates every loss but sft on a grid of margins, one pair per point; lossShapesFigure draws them", () => {
    const margins = [-2, 0, 0.5, 2];
    const curves = lossCurves(margins, { beta: 0.1 });
    expect(curves.map((c) => c.name)).toEqual(LOSS_TYPES.filter((t) => t !== "sft"));
    for (const c of curves) c.loss.forEach((v) => expect(Number.isFinite(v), c.name).toBe(true));
    // Single-pair batches, margin split evenly: ρ_w = m/(2β), ρ_l = −m/(2β).
    const m = 2,
      b = 0.1,
      rho = m / (2 * b);
    const at = (name: string) => curves.find((c) => c.name === name)!.loss[3];
    expect(at("sigmoid")).toBeCloseTo(-logSig(m), 5);
    expect(at("aot")).toBeCloseTo(-logSig(m), 5); // a batch of one: sorting changes nothing
    expect(at("bco_pair")).toBeCloseTo(-logSig(b * rho) - logSig(b * rho), 5);
    expect(at("exo_pair")).toBeCloseTo(sig(m) * (logSig(m) - Math.log(1 - 1e-3)) + sig(-m) * (logSig(-m) - Math.log(1e-3)), 4);
    const fig = lossShapesFigure(curves, { beta: 0.1 });
    expect(fig.data.map((t) => t.name)).toEqual(curves.map((c) => c.name));
    expect(fig.data[0].y).toEqual(curves[0].loss);
    expect(String((fig.layout.title as { text: string }).text)).toContain("β = 0.1");
  });
  it("known points: sigmoid at Δ = 0 is ln 2, hinge at βΔ = 1 is 0, ipo at its target margin is 0", () => {
    const curves = lossCurves([0, 1, 0.5], { beta: 0.5, lossTypes: ["sigmoid", "hinge", "ipo"] });
    expect(curves[0].loss[0]).toBeCloseTo(Math.LN2, 6);
    expect(curves[1].loss[1]).toBeCloseTo(0, 6);
    // ipo with lengths 1: Δ = m/β = 1 = 1/(2β) at m = 0.5, β = 0.5
    expect(curves[2].loss[2]).toBeCloseTo(0, 6);
  });
});

describe("f-divergences", () => {
  const fs: [FDivergenceType, number][] = [
    ["forward_kl", 0.5],
    ["js_divergence", 0.5],
    ["alpha_divergence", 0.5],
    ["alpha_divergence", 0.3],
    ["alpha_divergence", 1],
  ];
  for (const [f, alpha] of fs) {
    for (const lossType of ["sigmoid", "hinge", "ipo", "sigmoid_norm", "robust", "discopop", "exo_pair"] as LossType[]) {
      it(`${f}${f === "alpha_divergence" ? ` α=${alpha}` : ""} with ${lossType}`, () => {
        const eps = lossType === "exo_pair" ? 1e-3 : lossType === "robust" ? 0.1 : 0;
        close(
          ours({ lossType, labelSmoothing: eps, fDivergenceType: f, fAlphaDivergenceCoef: alpha }),
          byHand(lossType, { beta: 0.1, eps, f, alpha, tau: 0.05 }),
          `${f}/${lossType}`,
        );
      });
    }
  }
});

describe("lossWeights (MPO, RPO) and useWeighting (WPO)", () => {
  it("a weighted sum of per-pair losses", () => {
    const o = { beta: 0.1, eps: 0, f: "reverse_kl" as const, alpha: 0.5, tau: 0.05 };
    const want = byHand("sigmoid", o).map((x, i) => 0.8 * x + 0.2 * byHand("bco_pair", o)[i] + 1.0 * NLL);
    close(ours({ lossType: ["sigmoid", "bco_pair", "sft"], lossWeights: [0.8, 0.2, 1.0] }), want, "MPO");
    close(
      ours({ lossType: ["sigmoid", "sft"], lossWeights: [1, 0.5] }),
      byHand("sigmoid", o).map((x) => x + 0.5 * NLL),
      "RPO",
    );
    close(
      ours({ lossType: ["sigmoid", "hinge"] }),
      byHand("sigmoid", o).map((x, i) => x + byHand("hinge", o)[i]),
      "default weights 1",
    );
  });
  it("useWeighting multiplies each per-pair loss by w_chosen·w_rejected (every loss but the sorting ones)", () => {
    const o = { beta: 0.1, eps: 0, f: "reverse_kl" as const, alpha: 0.5, tau: 0.05 };
    for (const lossType of ["sigmoid", "hinge", "sft", "apo_zero"] as LossType[]) {
      close(
        ours({ lossType, useWeighting: true }),
        byHand(lossType, o).map((x, i) => x * W.c[i] * W.r[i]),
        `WPO ${lossType}`,
      );
    }
  });
});

describe("TRL's refusals", () => {
  const refuse = (args: Record<string, unknown>, message: RegExp) => expect(() => resolveConfig({ outputDir: "/tmp/x", ...args })).toThrow(message);
  it("non-default f-divergence only with the Δ-based losses", () => {
    for (const lossType of ["nca_pair", "bco_pair", "sppo_hard", "aot", "aot_unpaired", "apo_zero", "apo_down"])
      refuse({ lossType, fDivergenceType: "forward_kl" }, /only supported for the loss types/);
    expect(resolveConfig({ outputDir: "/tmp/x", lossType: ["sigmoid", "sft"], fDivergenceType: "js_divergence" }).fDivergenceType).toBe("js_divergence");
  });
  it("WPO with aot / aot_unpaired, exo_pair without ε, robust with ε ≥ 0.5, mismatched lossWeights, unknown names", () => {
    refuse({ lossType: "aot", useWeighting: true }, /not implemented for "aot"/);
    refuse({ lossType: ["sigmoid", "aot_unpaired"], useWeighting: true }, /not implemented for "aot"/);
    refuse({ lossType: "exo_pair" }, /greater than 0 with the "exo_pair"/);
    refuse({ lossType: "robust", labelSmoothing: 0.5 }, /\[0, 0\.5\) for the "robust"/);
    refuse({ lossType: ["sigmoid", "sft"], lossWeights: [1] }, /same length as "lossType"/);
    refuse({ lossType: "dpo" }, /"lossType" must be one of sigmoid, .*got "dpo"/);
    refuse({ fDivergenceType: "kl" }, /"fDivergenceType" must be one of/);
    refuse({ ldAlpha: 1.5 }, /"ldAlpha" must be a number in \[0, 1\]/);
  });
  it("lossType as a string, a comma list or a list; lossWeights as a comma list", () => {
    expect(resolveConfig({ outputDir: "/tmp/x" }).lossType).toEqual(["sigmoid"]);
    expect(resolveConfig({ outputDir: "/tmp/x", lossType: "ipo" }).lossType).toEqual(["ipo"]);
    const c = resolveConfig({ outputDir: "/tmp/x", lossType: "sigmoid,sft", lossWeights: "1,0.5" as unknown as number[] });
    expect([c.lossType, c.lossWeights]).toEqual([
      ["sigmoid", "sft"],
      [1, 0.5],
    ]);
  });
});

describe("per-token parts: LD-DPO split and WPO weights (tests/fixtures/hf-tiny)", () => {
  let model: CausalLM;
  beforeAll(async () => {
    model = await loadModel(path.join(__dirname, "fixtures/hf-tiny/gpt2-policy"));
  });
  afterAll(() => model.dispose());
  // Two pairs of token ids (vocabulary of the fixture), completions of different lengths.
  const pairs = [
    { promptIds: [5, 6, 7], chosenIds: [8, 9, 10, 11, 12], rejectedIds: [13, 14] },
    { promptIds: [20, 21], chosenIds: [22, 23], rejectedIds: [24, 25, 26, 27] },
  ];

  /** Per-token log-probs and WPO log-denominators from the full logits, row by row: [row][k-th completion token]. */
  function perTokenByHand(): { logp: number[][]; logDenom: number[][] } {
    const rows = [...pairs.map((p) => [p.promptIds, p.chosenIds]), ...pairs.map((p) => [p.promptIds, p.rejectedIds])];
    const logp: number[][] = [];
    const logDenom: number[][] = [];
    for (const [prompt, completion] of rows) {
      const ids = [...prompt, ...completion];
      const logits = tf.tidy(() => {
        const hidden = model.hiddenStates(tf.tensor2d([ids], [1, ids.length], "int32")); // [1, T, D]
        return hidden.reshape([ids.length, -1]).matMul(model.lmHeadWeight(), false, true).arraySync() as number[][]; // [T, V]
      });
      const lse = (z: number[]) => {
        const m = Math.max(...z);
        return m + Math.log(z.reduce((s, x) => s + Math.exp(x - m), 0));
      };
      logp.push(completion.map((id, k) => logits[prompt.length + k - 1][id] - lse(logits[prompt.length + k - 1])));
      logDenom.push(
        completion.map((_, k) => {
          const z = logits[prompt.length + k - 1];
          return lse(z.map((x) => 2 * x)) - 2 * lse(z);
        }),
      );
    }
    return { logp, logDenom };
  }

  it("ldAlpha: tokens beyond the shorter completion of the pair count ldAlpha times; WPO weights = exp(mean(log p − log Σp²))", () => {
    const { logp, logDenom } = perTokenByHand();
    const batch = collatePairs(pairs, 0);
    const alpha = 0.3;
    const got = tf.tidy(() => {
      const out = completionLogps(model, batch, { ldAlpha: alpha, wpoWeights: true });
      return { logps: Array.from(out.logps.dataSync()), raw: Array.from(out.rawLogps.dataSync()), w: Array.from(out.wpoWeights!.dataSync()) };
    });
    const B = pairs.length;
    const shared = (row: number) => Math.min(logp[row % B].length, logp[(row % B) + B].length);
    logp.forEach((tokens, row) => {
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      const wantLd = sum(tokens.slice(0, shared(row))) + alpha * sum(tokens.slice(shared(row)));
      expect(got.logps[row]).toBeCloseTo(wantLd, 4);
      expect(got.raw[row]).toBeCloseTo(sum(tokens), 4);
      const wantW = Math.exp(sum(tokens.map((x, k) => x - logDenom[row][k])) / tokens.length);
      expect(Math.abs(got.w[row] - wantW) / wantW).toBeLessThan(1e-4);
    });
    disposeBatch(batch);
  });

  it("the LD-DPO split also holds on a compiled-step layout (a label slot per position)", () => {
    const plain = collatePairs(pairs, 0);
    const everyPosition = collatePairs(pairs, 0, { labelsAtEveryPosition: true, padToMultipleOf: 8 });
    const [a, b] = tf.tidy(() => [plain, everyPosition].map((batch) => Array.from(completionLogps(model, batch, { ldAlpha: 0.3 }).logps.dataSync())));
    a.forEach((x, i) => expect(b[i]).toBeCloseTo(x, 4));
    const rows = tf.tidy(() => lengthDesensitizedRows(plain.labelRows, 0.3).sum(1).arraySync() as number[]);
    // Pair 0: chosen 5 tokens, rejected 2 → 2 shared, chosen tail 3; pair 1: chosen 2, rejected 4 → rejected tail 2.
    expect(rows.map((x) => Math.round(x * 1000) / 1000)).toEqual([2 + 0.3 * 3, 2, 2, 2 + 0.3 * 2]);
    disposeBatch(plain);
    disposeBatch(everyPosition);
  });

  it("gradients flow through every loss without leaking tensors", () => {
    const x = tf.variable(tf.tensor1d(P.pc));
    const before = tf.memory().numTensors;
    for (const lossType of LOSS_TYPES) {
      const eps = lossType === "exo_pair" ? 1e-3 : 0;
      const { value, grads } = tf.variableGrads(() => {
        const t = (xs: number[]) => tf.tensor1d(xs);
        return dpoLoss(
          {
            policyChosenLogps: x,
            policyRejectedLogps: t(P.pr),
            referenceChosenLogps: t(P.rc),
            referenceRejectedLogps: t(P.rr),
            chosenLengths: t(P.lc),
            rejectedLengths: t(P.lr),
            chosenNll: x.sum().neg().div(17) as tf.Scalar,
          },
          { beta: 0.1, lossType, labelSmoothing: eps },
        ).losses.mean() as tf.Scalar;
      }, [x]);
      expect(Number.isFinite(value.dataSync()[0]), lossType).toBe(true);
      expect(Object.keys(grads).length, lossType).toBe(1);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
