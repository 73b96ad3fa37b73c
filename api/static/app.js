// The typeahead page: log in as a demo user, then every keystroke asks GET /v1/typeahead (the
// previous request is aborted). The demo's login answers a search key and a signed viewer token;
// both stay in this tab's sessionStorage and go in headers, never in a URL or in localStorage.
"use strict";

const $ = (id) => document.getElementById(id);
const SESSION = "unicorn.session";
let session = JSON.parse(sessionStorage.getItem(SESSION) || "null");
let inflight = null;
const PIN = '<svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" ' +
  'd="M12 2a7 7 0 0 0-7 7c0 5.2 7 13 7 13s7-7.8 7-13a7 7 0 0 0-7-7zm0 9.5A2.5 2.5 0 1 1 12 6.5a2.5 2.5 0 0 1 0 5z"/></svg>';

localStorage.removeItem("unicorn.key");  // a key must not outlive the tab: drop one an older page kept
localStorage.removeItem("unicorn.viewer");
$("persona").addEventListener("change", async () => {
  const username = $("persona").value;
  if (!username) { forget(); return; }
  if (await logIn(username)) search();
});
$("q").addEventListener("input", search);
loadPersonas();

async function loadPersonas() {
  const response = await fetch("/v1/demo/users");
  if (!response.ok) {
    forget();
    $("persona").disabled = true;
    who(response.status === 404 ? "No demo login on this server: run `unicorn demo`." : "The demo users are not ready yet.",
        true);
    return;
  }
  const { users } = await response.json();
  $("persona").append(...users.map((u) => {
    const option = el("option", "", `${u.username} · ${u.full_name || "no name"} · follows ${u.following_count}`);
    option.value = u.username;
    return option;
  }));
  if (session) {
    $("persona").value = session.username;
    who(`Logged in as ${session.username} (user ${session.viewer})`);
    if ($("q").value) search();
  }
}

async function logIn(username) {
  const response = await fetch("/v1/demo/login", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username }) });
  const body = await response.json();
  if (!response.ok) { forget(); who(body.error ? body.error.message : response.statusText, true); return false; }
  session = body;
  sessionStorage.setItem(SESSION, JSON.stringify(session));
  who(`Logged in as ${session.username} (user ${session.viewer})`);
  return true;
}

function forget() {
  session = null;
  sessionStorage.removeItem(SESSION);
  who("");
}

function typeahead(q, signal) {
  const query = new URLSearchParams({ q, limit: "10" });
  return fetch(`/v1/typeahead?${query}`, {
    headers: { Authorization: `Bearer ${session.key}`, "X-Viewer-Token": session.token }, signal });
}

async function search() {
  const q = $("q").value;
  if (inflight) inflight.abort();
  if (!q.trim()) { render([]); status(""); return; }
  if (!session) { render([]); status("Log in as a demo user first.", true); return; }
  inflight = new AbortController();
  const signal = inflight.signal;
  try {
    let response = await typeahead(q, signal);
    if (response.status === 401 && await logIn(session.username)) response = await typeahead(q, signal);  // expired
    const body = await response.json();
    if (!response.ok) { render([]); status(body.error ? body.error.message : response.statusText, true); return; }
    render(body.results);
    status(`${body.results.length} result${body.results.length === 1 ? "" : "s"} · ${body.took_ms} ms`);
  } catch (error) {
    if (error.name !== "AbortError") status(String(error), true);
  }
}

function who(text, isError = false) {
  $("who").textContent = text;
  $("who").className = isError ? "error" : "";
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

