#!/usr/bin/env node
/**
 * Load test of `dpo-ts serve` (not a test: numbers for README/course.md). Starts the server in its own process on the
 * course model (or uses --url), then for each concurrency level runs that many clients, each sending streamed chat
 * requests back to back (the next as soon as the previous ends, as a closed-loop client does), while a prober hits
 * /health every 20 ms. A warm-up (one stream, then 8) runs first, unmeasured. Reports per level: errors, /health
 * p50/p99, median and p95 time to first token, aggregate completion tokens/s and the speed-up over one stream, and
 * (Linux, server started here) completion tokens per CPU-second of the server process: on a shared machine a steadier
 * figure than wall time.
 *
 * A level runs for --seconds (default 10) of wall time: throughput at N concurrent streams is what N clients get
 * while all N are sending. At the deadline the requests still streaming are cancelled (not errors) and count the
 * content chunks they had received by then (one per token, except a held-back UTF-8 fragment: a slight undercount).
 * With --requests K instead, each client sends K requests and the level lasts until the last one ends; then the
 * level's tail, where fewer and fewer clients are still busy, is part of the figure (with K = 2 at 32 streams most
 * of the level is ramp-up and tail, so occupancy and speed-up look far lower than a busy server's).
 *
 * usage: npm run build && node bench/serve-load.js [--levels 1,8,32,64] [--seconds 10 | --requests 2] [--max-tokens 64]
 *          [--backend wasm] [--model DIR] [--url http://127.0.0.1:8000 [--pid PID]] [--out runs/serve-load.json]
 * Goal (issue 11): 0 errors, /health p99 < 50 ms at every level, tokens/s at 32 streams ≥ 4× one stream's.
 */
const { spawn } = require("child_process");
const fs = require("fs");
const path = require("path");

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const levels = option("levels", "1,8,32,64").split(",").map(Number);
const fixedRequests = option("requests", null);
const requestsPerClient = fixedRequests === null ? null : Number(fixedRequests);
const seconds = Number(option("seconds", "10"));
const maxTokens = Number(option("max-tokens", "64"));
const backend = option("backend", process.env.DPO_BACKEND || "wasm");
const modelDir = option("model", path.join(__dirname, "../data/sft-model"));
const out = option("out", path.join(__dirname, "../runs/serve-load.json"));

const questions = fs
  .readFileSync(path.join(__dirname, "../data/sft.jsonl"), "utf8")
  .split("\n")
  .filter(Boolean)
  .slice(-200)
  .map((line) => JSON.parse(line).question);

const quantile = (xs, q) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};

async function startServer() {
  const cli = path.join(__dirname, "../dist/cli/index.js");
  const child = spawn(process.execPath, [cli, "serve", "--model", `course=${modelDir}`, "--port", "0", "--backend", backend], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const url = await new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      log += d;
      const m = /at (http:\/\/[^\s/]+)\/v1/.exec(log);
      if (m) resolve(m[1]);
    });
    child.stderr.on("data", () => undefined); // the access log: one line per request
    child.on("exit", (code) => reject(new Error(`server exited (${code}):\n${log}`)));
  });
  return { url, pid: child.pid, stop: () => child.kill("SIGTERM") };
}

/**
 * CPU seconds (user + system) the server process has used, from /proc (Linux; null elsewhere or with --url). On a
 * shared machine wall-clock tokens/s swing with other processes' load; tokens per server CPU-second much less.
 */
function cpuSeconds(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return null;
  }
}

/**
 * One streamed chat request: time to first content token, completion tokens, total time. Cancelled at `deadline`
 * (performance.now() ms; Infinity: never): then tokens are the content chunks received before it, and cut is set.
 */
async function streamOne(url, question, seed, deadline = Infinity) {
  const t0 = performance.now();
  const abort = new AbortController();
  const timer = Number.isFinite(deadline) ? setTimeout(() => abort.abort(), Math.max(0, deadline - t0)) : null;
  try {
    return await readStream(url, question, seed, t0, abort.signal);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

async function readStream(url, question, seed, t0, signal) {
  let ttft = null,
    chunks = 0;
  const cutShort = () => ({ ttft, tokens: chunks, ms: performance.now() - t0, cut: true });
  let res;
  try {
    res = await fetch(`${url}/v1/chat/completions`, {
      signal,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "course",
        messages: [{ role: "user", content: question }],
        max_tokens: maxTokens,
        temperature: 1,
        seed,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
  } catch (e) {
    if (signal.aborted) return cutShort();
    throw e;
  }
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "",
    tokens = 0,
    done = false;
  while (!done) {
    let r;
    try {
      r = await reader.read();
    } catch (e) {
      if (signal.aborted) return cutShort();
      throw e;
    }
    if (r.done) break;
    buffer += decoder.decode(r.value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut).replace(/^data: /, "");
      buffer = buffer.slice(cut + 2);
      if (event === "[DONE]") {
        done = true;
        break;
      }
      const chunk = JSON.parse(event);
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.choices[0]?.delta?.content) {
        if (ttft === null) ttft = performance.now() - t0;
        chunks++;
      }
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
  }
  if (!done) throw new Error("stream ended without [DONE]");
  return { ttft: ttft ?? performance.now() - t0, tokens, ms: performance.now() - t0 };
}

/**
 * Runs one level: each client sends requests back to back, perClient of them (a fixed count: --requests, at least 16
 * requests in all, so that a level with few clients lasts long enough to measure), or until `duration` seconds are up.
 */
async function level(url, concurrency, pid, { perClient, duration }) {
  const cpu0 = pid ? cpuSeconds(pid) : null;
  const health = [];
  let running = true;
  const prober = (async () => {
    while (running) {
      const t = performance.now();
      const r = await fetch(`${url}/health`);
      await r.arrayBuffer();
      health.push(performance.now() - t);
      await new Promise((res) => setTimeout(res, 20));
    }
  })();
  const results = [];
  const errors = [];
  const t0 = performance.now();
  const deadline = duration ? t0 + duration * 1000 : Infinity;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, client) => {
      for (let k = 0; duration ? performance.now() < deadline : k < perClient; k++) {
        const q = questions[(client * 37 + k) % questions.length];
        try {
          const result = await streamOne(url, q, client * 1000 + k, deadline);
          results.push(result);
          if (result.cut) break; // the deadline passed (a timer may fire a hair early)
        } catch (e) {
          errors.push(e.message);
        }
      }
    }),
  );
  const wall = (Math.min(performance.now(), deadline) - t0) / 1000;
  const cpu = cpu0 === null ? null : cpuSeconds(pid) - cpu0;
  running = false;
  await prober;
  const tokens = results.reduce((a, r) => a + r.tokens, 0);
  const started = results.filter((r) => r.ttft !== null);
  return {
    concurrency,
    requests: results.length + errors.length,
    cut: results.filter((r) => r.cut).length,
    errors: errors.length,
    firstError: errors[0],
    health_p50_ms: quantile(health, 0.5),
    health_p99_ms: quantile(health, 0.99),
    ttft_median_ms: quantile(
      started.map((r) => r.ttft),
      0.5,
    ),
    ttft_p95_ms: quantile(
      started.map((r) => r.ttft),
      0.95,
    ),
    seconds: wall,
    tokens,
    tokens_per_s: tokens / wall,
    server_cpu_s: cpu,
    tokens_per_server_cpu_s: cpu ? tokens / cpu : null,
  };
}

(async () => {
  const given = option("url", "");
  const givenPid = option("pid", null); // with --url: the server's process id, for its CPU time
  const server = given ? { url: given, pid: givenPid === null ? null : Number(givenPid), stop: () => undefined } : await startServer();
  const plan = requestsPerClient === null ? `${seconds} s of back-to-back streamed requests per level` : `${requestsPerClient} streamed requests per client`;
  console.log(`server ${server.url} (${backend}, ${modelDir}); ${plan}, max_tokens ${maxTokens}`);
  // Warm-up, not measured: V8 compiles the server's hot paths (one stream's and a batch's) over the first few hundred
  // tokens; without it the first level, one stream, would run partly unoptimized and the speed-up be overstated.
  await level(server.url, 1, null, { perClient: 8 });
  await level(server.url, 8, null, { perClient: 2 });
  const rows = [];
  try {
    for (const c of levels) {
      const how = requestsPerClient === null ? { duration: seconds } : { perClient: Math.max(requestsPerClient, Math.ceil(16 / c)) };
      const row = await level(server.url, c, server.pid, how);
      row.speedup = rows.length ? row.tokens_per_s / rows[0].tokens_per_s : 1;
      row.cpu_speedup = rows.length && row.tokens_per_server_cpu_s ? row.tokens_per_server_cpu_s / rows[0].tokens_per_server_cpu_s : 1;
      rows.push(row);
      const f = (x) => (Number.isFinite(x) ? x.toFixed(1) : "-");
      console.log(
        `${String(c).padStart(3)} streams: ${row.requests} requests (${row.cut} cut at the deadline), ${row.errors} errors, /health p50 ${f(row.health_p50_ms)} ms p99 ${f(row.health_p99_ms)} ms, ` +
          `TTFT median ${f(row.ttft_median_ms)} ms p95 ${f(row.ttft_p95_ms)} ms, ${f(row.tokens_per_s)} tokens/s (${row.speedup.toFixed(2)}x one stream)` +
          (row.tokens_per_server_cpu_s ? `; ${f(row.tokens_per_server_cpu_s)} tokens per server CPU-s (${row.cpu_speedup.toFixed(2)}x)` : "") +
          (row.firstError ? `\n     first error: ${row.firstError}` : ""),
      );
    }
  } finally {
    server.stop();
  }
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(
    out,
    JSON.stringify({ backend, model: modelDir, maxTokens, requestsPerClient, seconds: requestsPerClient === null ? seconds : null, levels: rows }, null, 2),
  );
  console.log(`written ${out}`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
