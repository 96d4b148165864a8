/**
 * The chat page served at "/": one static HTML file with inline CSS and JS (no CDN, works offline). It lists the
 * served models, streams each reply as it arrives (fetch + server-sent events), and can ask a second model the same
 * question side by side (e.g. the SFT model beside the DPO model). An API key, when the server needs one, is kept
 * in the browser's localStorage.
 */
export const CHAT_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dpo-ts chat</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2430; }
  header { padding: 10px 16px; background: #1d2430; color: #fff; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
  header h1 { font-size: 16px; margin: 0 12px 0 0; }
  header label { font-size: 13px; }
  select, input, textarea, button { font: inherit; }
  main { display: flex; gap: 12px; padding: 12px 16px; }
  .column { flex: 1; min-width: 0; background: #fff; border: 1px solid #d8dce3; border-radius: 8px; padding: 8px 12px; min-height: 220px; }
  .column h2 { font-size: 14px; margin: 0 0 8px; color: #5a6475; }
  .msg { margin: 8px 0; white-space: pre-wrap; }
  .msg.user { color: #0b57d0; }
  .msg.assistant.streaming::after { content: "\\25AE"; color: #999; }
  .msg .meta { display: block; font-size: 12px; color: #8a93a3; }
  .error { color: #b3261e; }
  form { display: flex; gap: 8px; padding: 0 16px 16px; }
  textarea { flex: 1; min-height: 48px; padding: 8px; border-radius: 6px; border: 1px solid #c5cbd5; }
  button { padding: 8px 16px; border-radius: 6px; border: 0; background: #0b57d0; color: #fff; cursor: pointer; }
  button:disabled { background: #8aa6d6; }
</style>
</head>
<body>
<header>
  <h1>dpo-ts chat</h1>
  <label>Model <select id="modelA"></select></label>
  <label>Side by side with <select id="modelB"><option value="">(none)</option></select></label>
  <label>Temperature <input id="temperature" type="number" min="0" max="2" step="0.1" value="0" style="width:4em"></label>
  <label>Max tokens <input id="maxTokens" type="number" min="1" value="64" style="width:5em"></label>
  <label>API key <input id="apiKey" type="password" placeholder="if the server needs one" style="width:12em"></label>
</header>
<main id="columns"></main>
<form id="ask">
  <textarea id="question" placeholder="Ask a question… (Enter sends, Shift+Enter for a new line)"></textarea>
  <button id="send" type="submit">Send</button>
</form>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const keyInput = $("apiKey");
keyInput.value = localStorage.getItem("dpo-ts-api-key") || "";
keyInput.addEventListener("change", () => { localStorage.setItem("dpo-ts-api-key", keyInput.value); loadModels(); });
const histories = {}; // model name → [{role, content}]
const headers = () => {
  const h = { "content-type": "application/json" };
  if (keyInput.value) h.authorization = "Bearer " + keyInput.value;
  return h;
};
async function loadModels() {
  const res = await fetch("/v1/models", { headers: headers() });
  const body = await res.json();
  if (!res.ok) { showError(body.error ? body.error.message : res.statusText); return; }
  const names = body.data.map((m) => m.id);
  for (const [select, blank] of [[$("modelA"), false], [$("modelB"), true]]) {
    const kept = select.value;
    select.innerHTML = blank ? '<option value="">(none)</option>' : "";
    for (const n of names) select.add(new Option(n, n));
    if (names.includes(kept)) select.value = kept;
  }
  if (!$("modelB").value && names.length > 1) $("modelB").value = names.find((n) => n !== $("modelA").value);
  renderColumns();
}
function selected() { return [$("modelA").value, $("modelB").value].filter((m, i, all) => m && all.indexOf(m) === i); }
function renderColumns() {
  const main = $("columns");
  main.innerHTML = "";
  for (const name of selected()) {
    const col = document.createElement("section");
    col.className = "column";
    col.dataset.model = name;
    col.innerHTML = "<h2></h2>";
    col.querySelector("h2").textContent = name;
    for (const m of histories[name] || []) addMessage(col, m.role, m.content);
    main.appendChild(col);
  }
}
function addMessage(col, role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  div.textContent = text;
  col.appendChild(div);
  return div;
}
function showError(message) {
  const div = document.createElement("div");
  div.className = "error";
  div.textContent = message;
  $("columns").prepend(div);
}
async function ask(name, question) {
  const col = document.querySelector('.column[data-model="' + CSS.escape(name) + '"]');
  const history = (histories[name] = histories[name] || []);
  history.push({ role: "user", content: question });
  addMessage(col, "user", question);
  const out = addMessage(col, "assistant streaming", "");
  out.dataset.chunks = "0";
  const started = performance.now();
  let text = "", firstAt = null;
  try {
    const res = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers(),
      body: JSON.stringify({
        model: name, messages: history, stream: true, stream_options: { include_usage: true },
        temperature: Number($("temperature").value), max_tokens: Number($("maxTokens").value),
      }),
    });
    if (!res.ok) { const body = await res.json(); throw new Error(body.error ? body.error.message : res.statusText); }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", usage = null;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\\n\\n")) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        if (!event.startsWith("data: ")) continue;
        const data = event.slice(6);
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        if (chunk.usage) usage = chunk.usage;
        const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
        if (delta && delta.content) {
          if (firstAt === null) firstAt = performance.now();
          text += delta.content;
          out.textContent = text;
          out.dataset.chunks = String(Number(out.dataset.chunks) + 1);
        }
      }
    }
    history.push({ role: "assistant", content: text });
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = (usage ? usage.completion_tokens + " tokens, " : "") + "first token " +
      Math.round((firstAt || performance.now()) - started) + " ms, total " + Math.round(performance.now() - started) + " ms";
    out.appendChild(meta);
  } catch (e) {
    history.pop();
    out.classList.add("error");
    out.textContent = text + " [" + e.message + "]";
  } finally {
    out.classList.remove("streaming");
    out.dataset.done = "1";
  }
}
$("modelA").addEventListener("change", renderColumns);
$("modelB").addEventListener("change", renderColumns);
$("question").addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("ask").requestSubmit(); } });
$("ask").addEventListener("submit", async (e) => {
  e.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  $("question").value = "";
  $("send").disabled = true;
  try { await Promise.all(selected().map((name) => ask(name, question))); } finally { $("send").disabled = false; }
});
loadModels().catch((e) => showError(String(e)));
</script>
</body>
</html>
`;
