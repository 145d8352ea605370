// The chat page: asks /v1/chat/completions with stream=true and shows the answer as it
// arrives (server-sent events read with fetch + ReadableStream), then its citations, the
// guard's verdict and any warnings. A citation opens the text of the chunk it points to.
"use strict";

const $ = (id) => document.getElementById(id);

function clear() {
  for (const id of ["answer", "evidence", "badges", "warnings", "error", "citations"]) $(id).textContent = "";
  $("chunk").classList.add("hidden");
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  clear();
  $("send").disabled = true;
  $("status").textContent = "Searching the manuals and checking the answer…";
  const body = {
    model: "maint-" + $("mode").value,
    messages: [{ role: "user", content: question }],
    stream: true,
  };
  try {
    const response = await api("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      $("error").textContent = await errorText(response);
      return;
    }
    await readStream(response);
  } catch (e) {
    $("error").textContent = "The server could not be reached: " + e.message;
  } finally {
    $("send").disabled = false;
    $("status").textContent = "";
  }
}

// Server-sent events: "data: {json}\n\n" ... "data: [DONE]\n\n".
async function readStream(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const answer = $("answer");
  answer.classList.remove("hidden");
  let buffer = "";
  let text = "";
  let extra = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        for (const choice of chunk.choices || []) {
          if (choice.delta && choice.delta.content) {
            text += choice.delta.content;
            answer.textContent = text;
            $("status").textContent = "";
          }
        }
        if (chunk.maint) extra = chunk.maint;
      }
    }
  }
  if (extra) show(text, extra);
}

function show(text, extra) {
  const byN = new Map(extra.citations.map((c) => [c.n, c]));
  // The answer again, its [n] markers now links to their chunk.
  const answer = $("answer");
  answer.textContent = "";
  let last = 0;
  for (const match of text.matchAll(/\[(\d{1,2})\]/g)) {
    answer.append(text.slice(last, match.index));
    const citation = byN.get(Number(match[1]));
    answer.append(
      citation
        ? el("button", { class: "link marker", type: "button", title: citation.document,
                         onclick: () => openChunk(citation) }, match[0])
        : match[0]
    );
    last = match.index + match[0].length;
  }
  answer.append(text.slice(last));

  // The quoted lines the answer stands on, each with its page: what a technician checks.
  const quoted = $("evidence");
  for (const e of extra.evidence || []) {
    const citation = byN.get(e.n);
    quoted.append(
      el("li", {},
         el("blockquote", {}, e.text),
         el("button", { class: "link", type: "button", onclick: () => citation && openChunk(citation) },
            "[" + e.n + "]"),
         " p. " + e.pages + " · " + (e.section || e.document))
    );
  }

  const badges = $("badges");
  badges.append(
    extra.verified
      ? el("span", { class: "badge ok" }, "verified: every part number and value stands in the source it cites")
      : el("span", { class: "badge bad" }, "not verified: " + extra.unsupported.join(", "))
  );
  if (extra.fallback === "extractive") {
    badges.append(el("span", { class: "badge warn" }, "quoted from the sources (the draft had unsupported items)"));
  }
  if (extra.refused) badges.append(el("span", { class: "badge info" }, "not in the documentation"));
  badges.append(el("span", { class: "badge info" }, extra.mode + " · " + extra.model));
  for (const warning of extra.warnings || []) $("warnings").append(el("li", {}, warning));

  const list = $("citations");
  for (const c of extra.citations) {
    const where = [c.document, c.pages ? "p. " + c.pages : "", c.section].filter(Boolean).join(" · ");
    list.append(
      el("li", { class: c.cited ? "cited" : "context" },
         el("button", { class: "link", type: "button", onclick: () => openChunk(c) }, "[" + c.n + "]"),
         " ", where, c.cited ? "" : " (context, not cited)")
    );
  }
}

async function openChunk(citation) {
  const response = await api("/v1/chunks/" + encodeURIComponent(citation.chunk_id));
  if (!response.ok) {
    $("error").textContent = await errorText(response);
    return;
  }
  const chunk = await response.json();
  $("chunk-title").textContent = "[" + citation.n + "] " + chunk.document;
  $("chunk-where").textContent = [pagesOf(chunk), chunk.section, chunk.source_path]
    .filter(Boolean).join(" · ");
  $("chunk-text").textContent = chunk.text;
  $("chunk").classList.remove("hidden");
  $("chunk").scrollIntoView({ behavior: "smooth", block: "nearest" });
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask").addEventListener("submit", ask);
  $("forget-key").addEventListener("click", () => { forgetKey(); $("status").textContent = "API key forgotten."; });
  $("question").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("ask").requestSubmit();
  });
  // A link can carry a question: /?q=...&mode=rag asks it on opening.
  const params = new URLSearchParams(window.location.search);
  if (params.get("mode")) $("mode").value = params.get("mode");
  if (params.get("q")) {
    $("question").value = params.get("q");
    $("ask").requestSubmit();
  }
});
