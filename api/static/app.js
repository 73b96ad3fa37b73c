// The typeahead page: every keystroke asks GET /v1/typeahead (the previous request is aborted).
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const fields = { key: $("key"), viewer: $("viewer") };
for (const [name, input] of Object.entries(fields)) {
  input.value = params.get(name) ?? localStorage.getItem(`unicorn.${name}`) ?? "";
  input.addEventListener("input", () => { localStorage.setItem(`unicorn.${name}`, input.value.trim()); search(); });
}
$("q").addEventListener("input", search);

let inflight = null;
const PIN = '<svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" ' +
  'd="M12 2a7 7 0 0 0-7 7c0 5.2 7 13 7 13s7-7.8 7-13a7 7 0 0 0-7-7zm0 9.5A2.5 2.5 0 1 1 12 6.5a2.5 2.5 0 0 1 0 5z"/></svg>';

async function search() {
  const q = $("q").value;
  if (inflight) inflight.abort();
  if (!q.trim()) { render([]); status(""); return; }
  inflight = new AbortController();
  const query = new URLSearchParams({ q, limit: "10" });
  const viewer = fields.viewer.value.trim();
  if (viewer) query.set("viewer", viewer);
  try {
    const response = await fetch(`/v1/typeahead?${query}`, {
      headers: { Authorization: `Bearer ${fields.key.value.trim()}` }, signal: inflight.signal });
    const body = await response.json();
    if (!response.ok) { render([]); status(body.error ? body.error.message : response.statusText, true); return; }
    render(body.results);
    status(`${body.results.length} result${body.results.length === 1 ? "" : "s"} · ${body.took_ms} ms`);
  } catch (error) {
    if (error.name !== "AbortError") status(String(error), true);
  }
}

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function initials(result) {
  const words = (result.subtitle || result.title).split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : [words[0] || result.title];
  return letters.map((w) => Array.from(w)[0] || "").join("").toUpperCase();
}

function color(id) {
  let hash = 0;
  for (const c of id) hash = (hash * 31 + c.charCodeAt(0)) | 0;
  return `hsl(${Math.round(Math.abs(hash) * 137.508) % 360} 55% 52%)`;  // golden angle: neighbours differ
}

function followedBy(social) {
  const names = social.followed_by.map((f) => f.username);
  const others = social.followed_by_count - names.length;
  if (!names.length) return "";
  if (others > 0) return `Followed by ${names.join(", ")} and ${others} other${others === 1 ? "" : "s"}`;
  if (names.length === 1) return `Followed by ${names[0]}`;
  return `Followed by ${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

function render(results) {
  const list = $("results");
  list.replaceChildren(...results.map((r) => {
    const item = el("li", `result ${r.vertical}`);
    item.setAttribute("role", "option");
    item.dataset.id = r.id;
    const avatar = el("div", `avatar ${r.vertical}`, r.vertical === "hashtag" ? "#" : r.vertical === "user" ? initials(r) : "");
    if (r.vertical === "user") avatar.style.background = color(r.id);
    if (r.vertical === "place") avatar.innerHTML = PIN;
    const text = el("div", "text");
    const title = el("div", "title", r.title);
    if (r.verified) title.append(el("span", "verified", "✓"));
    if (r.social && r.social.following) title.append(el("span", "following", "· Following"));
    text.append(title);
    if (r.subtitle) text.append(el("div", "subtitle", r.subtitle));
    const line = r.social ? followedBy(r.social) : "";
    if (line) text.append(el("div", "social", line));
    item.append(avatar, text);
    return item;
  }));
}

if ($("q").value) search();
