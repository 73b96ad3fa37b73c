// The typeahead page: log in as a demo user, then every keystroke asks GET /v1/typeahead (the
// previous request is aborted); while the box is empty it shows GET /v1/trending. The search box is
// a WAI-ARIA combobox over one listbox: arrows move, Enter or a click opens the document view
// (GET /v1/documents/{vertical}/{id}), Escape closes. The demo's login answers a search key and a
// signed viewer token; both stay in this tab's sessionStorage and go in headers, never in a URL or
// in localStorage.
"use strict";

const $ = (id) => document.getElementById(id);
const SESSION = "unicorn.session";
const TRENDING_LIMIT = "5";
const PIN = '<svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" ' +
  'd="M12 2a7 7 0 0 0-7 7c0 5.2 7 13 7 13s7-7.8 7-13a7 7 0 0 0-7-7zm0 9.5A2.5 2.5 0 1 1 12 6.5a2.5 2.5 0 0 1 0 5z"/></svg>';
const TOKEN = /[\p{L}\p{N}]+/gu;  // vocabulary.text.tokens: runs of letters or digits of the normalized text
const COUNTRIES = new Intl.DisplayNames(["en"], { type: "region" });

let session = JSON.parse(sessionStorage.getItem(SESSION) || "null");
let inflight = null;  // the list's request (typeahead or trending)
let opening = null;  // the document view's request
let items = [];  // what the listbox's options show, in order
let active = -1;  // the selected option, or -1

localStorage.removeItem("unicorn.key");  // a key must not outlive the tab: drop one an older page kept
localStorage.removeItem("unicorn.viewer");
$("persona").addEventListener("change", async () => {
  const username = $("persona").value;
  if (!username) { forget(); return; }
  if (await logIn(username)) search();
});
$("q").addEventListener("input", search);
$("q").addEventListener("keydown", onKey);
$("q").addEventListener("click", () => setOpen(items.length > 0));
$("results").addEventListener("mousedown", (event) => event.preventDefault());  // the input keeps the focus
$("results").addEventListener("click", (event) => {
  const option = event.target.closest('[role="option"]');
  if (option) open(Number(option.dataset.index));
});
$("results").addEventListener("mousemove", (event) => {
  const option = event.target.closest('[role="option"]');
  if (option && Number(option.dataset.index) !== active) select(Number(option.dataset.index), false);
});
$("doc-close").addEventListener("click", () => $("doc").close());
$("doc").addEventListener("click", (event) => { if (event.target === $("doc")) $("doc").close(); });  // the backdrop
$("doc").addEventListener("close", () => { if (opening) opening.abort(); $("q").focus(); });
loadPersonas();

async function loadPersonas() {
  const response = await fetch("/v1/demo/users");
  if (!response.ok) {
    $("persona").disabled = true;
    forget();
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
  }
  search();
}

async function logIn(username) {
  const response = await fetch("/v1/demo/login", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username }) });
  const body = await response.json();
  if (!response.ok) { forget(); who(errorText(body, response), true); return false; }
  session = body;
  sessionStorage.setItem(SESSION, JSON.stringify(session));
  who(`Logged in as ${session.username} (user ${session.viewer})`);
  return true;
}

function forget() {
  session = null;
  sessionStorage.removeItem(SESSION);
  who("");
  search();
}

// GET `path` as the logged-in viewer; an expired token is renewed once.
async function api(path, signal) {
  const call = () => fetch(path, {
    headers: { Authorization: `Bearer ${session.key}`, "X-Viewer-Token": session.token }, signal });
  const response = await call();
  if (response.status === 401 && await logIn(session.username)) return call();
  return response;
}

function errorText(body, response) {
  return body && body.error ? body.error.message : response.statusText;
}

async function search() {
  const q = $("q").value;
  if (inflight) inflight.abort();
  inflight = new AbortController();
  const signal = inflight.signal;
  if (!q.trim()) {
    render([]);
    if (session) trending(signal);
    else status($("persona").disabled ? "" : "Log in as a demo user to search and see what is trending.");
    return;
  }
  if (!session) { render([]); status("Log in as a demo user first.", true); return; }
  try {
    const response = await api(`/v1/typeahead?${new URLSearchParams({ q, limit: "10" })}`, signal);
    const body = await response.json();
    if (signal.aborted) return;
    if (!response.ok) { render([]); status(errorText(body, response), true); return; }
    render([{ items: body.results.map((r) => ({ ...r, typed: q })) }], q);
    status(`${body.results.length} result${body.results.length === 1 ? "" : "s"} · ${body.took_ms} ms`);
  } catch (error) {
    if (error.name !== "AbortError") status(String(error), true);
  }
}

async function trending(signal) {
  status("");
  try {
    const answers = await Promise.all(["hashtag", "place"].map(async (kind) => {
      const response = await api(`/v1/trending?${new URLSearchParams({ kind, limit: TRENDING_LIMIT })}`, signal);
      const body = await response.json();
      if (!response.ok) throw new Error(errorText(body, response));
      return body;
    }));
    if (signal.aborted) return;
    const groups = answers.map(({ kind, results }) => ({
      label: kind === "hashtag" ? "Trending hashtags" : "Trending places", kind,
      items: results.map((t) => ({ vertical: kind, id: t.id, title: t.title, trend: t,
                                   subtitle: `${count(t.recent, "account")} lately · usually ${Math.round(t.baseline)}` })),
    })).filter((group) => group.items.length);
    render(groups);
    if (!groups.length) status("Nothing is trending right now.");
  } catch (error) {
    if (error.name !== "AbortError") status(`Trending: ${error.message}`, true);
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

function count(n, noun) {
  return `${n.toLocaleString("en")} ${noun}${n === 1 ? "" : "s"}`;
}

function initials(name, username) {
  const words = (name || username).split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : [words[0] || username];
  return letters.map((w) => Array.from(w)[0] || "").join("").toUpperCase();
}

function color(id) {
  let hash = 0;
  for (const c of id) hash = (hash * 31 + c.charCodeAt(0)) | 0;
  return `hsl(${Math.round(Math.abs(hash) * 137.508) % 360} 55% 52%)`;  // golden angle: neighbours differ
}

function avatar(vertical, id, name, username, size = "") {
  const node = el("div", `avatar ${vertical} ${size}`.trim(), vertical === "hashtag" ? "#" : "");
  if (vertical === "user") {
    node.textContent = initials(name, username);
    node.style.background = color(id);
  }
  if (vertical === "place") node.innerHTML = PIN;
  return node;
}

function followedBy(social) {
  const names = social.followed_by.map((f) => f.username);
  const others = social.followed_by_count - names.length;
  if (!names.length) return "";
  if (others > 0) return `Followed by ${names.join(", ")} and ${others} other${others === 1 ? "" : "s"}`;
  if (names.length === 1) return `Followed by ${names[0]}`;
  return `Followed by ${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

// `text` folded as unicorn.text.normalize does (compatibility forms, lower case, accents removed),
// with, per code unit of the folded string, the code point of `text` it came from.
function fold(text) {
  const points = [];  // per code point of text: {start, end, part}, part its folded form
  const from = [];
  let folded = "", offset = 0;
  for (const ch of text) {
    const part = ch.normalize("NFKC").toLowerCase().normalize("NFKD").replace(/\p{M}/gu, "");
    for (let k = 0; k < part.length; k++) from.push(points.length);
    points.push({ start: offset, end: offset + ch.length, part });
    offset += ch.length;
    folded += part;
  }
  return { folded, from, points };
}

// `text` as nodes with <mark> around the start of each name token that a typed token begins
// (the typeahead's prefix match: unicorn.typeahead._starts_tokens).
function highlighted(text, typed) {
  const wanted = fold(typed).folded.match(TOKEN) || [];
  const { folded, from, points } = fold(text);
  const nodes = [];
  let done = 0;
  for (const match of folded.matchAll(TOKEN)) {
    const longest = wanted.filter((w) => match[0].startsWith(w)).reduce((a, w) => (w.length > a ? w.length : a), 0);
    if (!longest) continue;
    const first = from[match.index];
    let last = from[match.index + longest - 1];
    while (last + 1 < points.length && !points[last + 1].part) last++;  // a combining mark goes with its letter
    const start = points[first].start, end = points[last].end;
    if (start > done) nodes.push(document.createTextNode(text.slice(done, start)));
    nodes.push(el("mark", "", text.slice(start, end)));
    done = end;
  }
  if (done < text.length) nodes.push(document.createTextNode(text.slice(done)));
  return nodes;
}

function option(item, index) {
  const node = el("div", `result ${item.vertical}`);
  node.setAttribute("role", "option");
  node.setAttribute("aria-selected", "false");
  node.id = `option-${index}`;
  node.dataset.index = String(index);
  node.dataset.id = item.id;
  node.dataset.vertical = item.vertical;
  const text = el("div", "text");
  const title = el("div", "title");
  title.append(...(item.typed ? highlighted(item.title, item.typed) : [item.title]));
  if (item.verified) title.append(el("span", "verified", "✓"));
  if (item.social && item.social.following) title.append(el("span", "following", "· Following"));
  text.append(title);
  if (item.subtitle) {
    const subtitle = el("div", "subtitle");
    subtitle.append(...(item.typed && item.vertical === "user" ? highlighted(item.subtitle, item.typed) : [item.subtitle]));
    text.append(subtitle);
  }
  const line = item.social ? followedBy(item.social) : "";
  if (line) text.append(el("div", "social", line));
  node.append(avatar(item.vertical, item.id, item.subtitle, item.title), text);
  if (item.trend) node.append(el("span", "rank", `${item.rank}`));
  else if (item.vertical !== "user") node.append(el("span", "kind", item.vertical));
  return node;
}

// `groups`: [{label?, kind?, items}]; a labelled group is a role=group of the listbox. `q`: the
// text the items answer (data-q), empty for trending.
function render(groups, q = "") {
  items = [];
  const nodes = groups.map((group) => {
    const options = group.items.map((item, n) => {
      items.push({ ...item, rank: n + 1 });
      return option(items[items.length - 1], items.length - 1);
    });
    if (!group.label) return options;
    const box = el("div", `group trending ${group.kind}`);
    box.setAttribute("role", "group");
    box.setAttribute("aria-labelledby", `group-${group.kind}`);
    const label = el("div", "group-label", group.label);
    label.id = `group-${group.kind}`;
    box.append(label, ...options);
    return [box];
  }).flat();
  $("results").replaceChildren(...nodes);
  $("results").dataset.q = q;
  $("results").classList.toggle("columns", groups.length > 1);
  active = -1;
  setOpen(items.length > 0);
}

function setOpen(isOpen) {
  $("results").hidden = !isOpen;
  $("q").setAttribute("aria-expanded", String(isOpen));
  if (!isOpen) select(-1);
}

function select(index, scroll = true) {
  const previous = $(`option-${active}`);
  if (previous) previous.setAttribute("aria-selected", "false");
  active = index;
  const current = $(`option-${index}`);
  if (current) {
    current.setAttribute("aria-selected", "true");
    $("q").setAttribute("aria-activedescendant", current.id);
    if (scroll) current.scrollIntoView({ block: "nearest" });
  } else {
    $("q").removeAttribute("aria-activedescendant");
  }
}

function onKey(event) {
  const isOpen = !$("results").hidden;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    if (!items.length) return;
    event.preventDefault();
    if (!isOpen) setOpen(true);
    const step = event.key === "ArrowDown" ? 1 : -1;
    select(active === -1 ? (step > 0 ? 0 : items.length - 1) : (active + step + items.length) % items.length);
  } else if (event.key === "Enter") {
    if (!isOpen || !items.length || (active === -1 && !$("q").value.trim())) return;  // trending: pick one first
    event.preventDefault();
    open(active === -1 ? 0 : active);
  } else if (event.key === "Escape") {
    event.preventDefault();  // a search input would clear itself
    if (isOpen) setOpen(false);
    else if ($("q").value) { $("q").value = ""; search(); }
  }
}

async function open(index) {
  const item = items[index];
  if (!item || !session) return;
  select(index, false);
  if (opening) opening.abort();
  opening = new AbortController();
  const signal = opening.signal;
  const dialog = $("doc");
  dialog.dataset.vertical = item.vertical;
  $("doc-body").replaceChildren(documentHead(item, null), el("p", "loading", "Loading…"));
  if (!dialog.open) {
    dialog.showModal();
    dialog.querySelector(".sheet").focus();  // the dialog's start, not its close button: Tab reaches that
  }
  try {
    const response = await api(`/v1/documents/${encodeURIComponent(item.vertical)}/${encodeURIComponent(item.id)}`, signal);
    const body = await response.json();
    if (signal.aborted) return;
    if (!response.ok) {
      $("doc-body").replaceChildren(documentHead(item, null),
                                    el("p", "error", response.status === 404 ? "This is gone." : errorText(body, response)));
      return;
    }
    $("doc-body").replaceChildren(...documentView(item, body.doc));
  } catch (error) {
    if (error.name !== "AbortError") $("doc-body").replaceChildren(documentHead(item, null), el("p", "error", String(error)));
  }
}

function documentHead(item, doc) {
  const head = el("div", "doc-head");
  const name = doc ? documentTitle(item.vertical, doc) : item.title;
  const title = el("h2", "", name);
  title.id = "doc-title";
  if (doc && doc.is_verified) title.append(el("span", "verified", "✓"));
  const lines = el("div", "doc-names");
  lines.append(title);
  const subtitle = doc ? documentSubtitle(item.vertical, doc) : item.vertical;
  if (subtitle) lines.append(el("p", "doc-subtitle", subtitle));
  head.append(avatar(item.vertical, item.id, doc ? doc.full_name : item.subtitle, name, "large"), lines);
  return head;
}

function documentTitle(vertical, doc) {
  return vertical === "hashtag" ? `#${doc.name}` : vertical === "user" ? doc.username : doc.name;
}

function country(code) {
  try {
    return COUNTRIES.of(code) || code;
  } catch {
    return code;
  }
}

function documentSubtitle(vertical, doc) {
  if (vertical === "user") return doc.full_name;
  if (vertical === "hashtag") return "Hashtag";
  return [doc.city, doc.country && country(doc.country)].filter(Boolean).join(", ") || "Place";
}

function stat(field, label, value) {
  const node = el("div", typeof value === "number" ? "stat" : "stat words");
  node.dataset.field = field;
  node.append(el("dd", "", typeof value === "number" ? value.toLocaleString("en") : value), el("dt", "", label));
  return node;
}

function documentView(item, doc) {
  const parts = [documentHead(item, doc)];
  const badges = el("p", "badges");
  if (doc.is_private) badges.append(el("span", "badge", "Private account"));
  if (item.social && item.social.following) badges.append(el("span", "badge following-badge", "Following"));
  if (item.trend) badges.append(el("span", "badge trend-badge", `Trending · ${count(item.trend.recent, "account")} lately`));
  if (badges.childNodes.length) parts.push(badges);
  const stats = el("dl", "stats");
  if (item.vertical === "user") {
    stats.append(stat("media_count", "posts", doc.media_count), stat("followers_count", "followers", doc.followers_count),
                 stat("following_count", "following", doc.following_count));
  } else if (item.vertical === "hashtag") {
    stats.append(stat("media_count", doc.media_count === 1 ? "post" : "posts", doc.media_count));
    if (item.trend) stats.append(stat("recent", "accounts lately", item.trend.recent),
                                 stat("baseline", "usually", Math.round(item.trend.baseline)));
  } else {
    stats.append(stat("media_count", doc.media_count === 1 ? "post here" : "posts here", doc.media_count));
    if (doc.city) stats.append(stat("city", "city", doc.city));
    if (doc.country) stats.append(stat("country", "country", country(doc.country)));
  }
  parts.push(stats);
  const line = item.social ? followedBy(item.social) : "";
  if (line) parts.push(el("p", "social", line));
  if (item.vertical === "place" && typeof doc.lat === "number" && typeof doc.lng === "number") {
    const where = `${Math.abs(doc.lat).toFixed(4)}° ${doc.lat < 0 ? "S" : "N"}, ${Math.abs(doc.lng).toFixed(4)}° ${doc.lng < 0 ? "W" : "E"}`;
    parts.push(el("p", "coordinates", where));
  }
  return parts;
}
