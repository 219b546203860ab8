// nango-hooks inspector. Every piece of data goes into the page with textContent or
// as an attribute value, never as HTML: payloads are untrusted.
"use strict";

const TOKEN = document.querySelector('meta[name="nango-hooks-token"]').content;
const ENV = document.querySelector('meta[name="nango-hooks-env"]').content;
const state = { rows: [], next: null, selected: null, filters: {}, total: 0, latest: 0, feed: null };

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "className") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, options) {
  const init = options || {};
  if (init.method === "POST") {
    init.headers = { "Content-Type": "application/json", "X-Nango-Hooks-Token": TOKEN };
  }
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `${response.status}`);
  return data;
}

// ------------------------------------------------------------------ timeline

function describe(row) {
  if (row.type === "sync") return `sync ${row.sync_name || "?"}/${row.model || "?"}`;
  if (row.type === "auth") return `auth ${row.operation || ""}${row.success === false ? " (failed)" : ""}`;
  return row.type || "body";
}

function counts(row) {
  if (!row.counts) return "";
  const c = row.counts;
  return ` +${c.added ?? "?"} ~${c.updated ?? "?"} -${c.deleted ?? "?"}`;
}

function rowButton(row) {
  const verdict = row.direction === "received" ? row.verdict : null;
  const button = el("button", {
    type: "button", className: row.test ? "row test" : "row", "data-id": row.id, "data-test": row.test,
    "aria-label": `${row.direction} ${describe(row)} ${row.connection_id || ""} ${row.outcome}`,
    onclick: () => select(row.id),
  },
    el("span", { className: "time", text: (row.created_at || "").slice(11, 19) }),
    el("span", { className: "what", text: describe(row) + counts(row) }),
    el("span", { className: outcomeClass(row), text: row.outcome }),
    el("span", { className: "sub" },
      row.test ? el("span", { className: "test-badge", text: row.test === "control" ? "control" : "negative test" }) : null,
      `${row.direction} · ${row.connection_id || "-"} · ${row.provider_config_key || "-"} · ${row.id}`),
  );
  if (row.id === state.selected) button.setAttribute("aria-current", "true");
  return button;
}

// A deliberate negative is judged by whether it was refused, not by "failed".
function outcomeClass(row) {
  if (row.direction === "received") return `verdict-${row.verdict}`;
  if (row.forgery) return { refused: "ok", "acted-on": "bad" }[row.forgery] || "warn";
  if (row.test === "expected rejection") return row.outcome.startsWith("rejected as expected") ? "ok" : "bad";
  return row.status === "delivered" ? "ok" : row.status === "failed" ? "bad" : "";
}

function showCount() {
  document.getElementById("count").textContent = `${state.total} webhook(s) stored`;
}

function render() {
  const list = document.getElementById("rows");
  const items = [];
  let group = null;
  for (const row of state.rows) {
    if (row.run && group && group.run === row.run) {
      group.list.append(el("li", {}, rowButton(row)));
      group.size += 1;
      group.title.textContent = `sync run: ${row.sync_name} · ${row.connection_id} · ${group.size} webhooks`;
      continue;
    }
    if (row.run) {
      const title = el("div", { className: "run-title", text: `sync run: ${row.sync_name} · ${row.connection_id} · 1 webhook` });
      const inner = el("ol", { "aria-label": "one sync run" }, el("li", {}, rowButton(row)));
      group = { run: row.run, list: inner, size: 1, title };
      items.push(el("li", { className: "run" }, title, inner));
    } else {
      group = null;
      items.push(el("li", {}, rowButton(row)));
    }
  }
  list.replaceChildren(...items);
  document.getElementById("older").hidden = state.next === null;
}

function query(extra) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...state.filters, ...(extra || {}) })) {
    if (value) params.set(name, value);
  }
  return params.toString();
}

async function load() {
  const data = await api(`/api/webhooks?${query()}`);
  state.rows = data.webhooks;
  state.next = data.next;
  state.total = data.total;
  state.latest = data.latest;
  showCount();
  render();
}

async function loadOlder() {
  if (state.next === null) return;
  const data = await api(`/api/webhooks?${query({ before: state.next })}`);
  state.rows = state.rows.concat(data.webhooks);
  state.next = data.next;
  render();
}

function matches(row) {
  const f = state.filters;
  if (f.type && row.type !== f.type) return false;
  if (f.sync && row.sync_name !== f.sync) return false;
  if (f.connection && row.connection_id !== f.connection) return false;
  if (f.direction && row.direction !== f.direction) return false;
  if (f.verdict === "sent" && row.direction !== "sent") return false;
  if (f.verdict && f.verdict !== "sent" && (row.direction !== "received" || row.verdict !== f.verdict)) return false;
  if (f.failed && !["failed", "interrupted"].includes(row.status)) return false;
  return true;
}

// The feed starts where the list ends (`latest`, a row number): a webhook stored
// between the two is neither missed nor shown twice. Reconnecting, the browser sends
// the last event's id; a `reset` (the history was cleared) reloads the list.
function live() {
  const badge = document.getElementById("live");
  if (state.feed) state.feed.close();
  const source = new EventSource(`/api/events?after=${state.latest}`);
  state.feed = source;
  source.onopen = () => { badge.textContent = "live"; };
  source.onerror = () => {
    badge.textContent = "reconnecting…";
    // The browser retries by itself; if it gave up (an answer that was not a feed),
    // start again from the page's own cursor.
    if (source.readyState === EventSource.CLOSED) setTimeout(() => { if (state.feed === source) live(); }, 1000);
  };
  source.addEventListener("reset", () => { load().then(live); });
  source.addEventListener("webhook", (event) => {
    const row = JSON.parse(event.data);
    state.latest = Math.max(state.latest, row.rowid);
    if (state.rows.some((r) => r.id === row.id)) return;
    state.total += 1;
    showCount();
    if (!matches(row)) return;
    state.rows.unshift(row);
    render();
  });
}

// ------------------------------------------------------------------ detail

function tree(value, key) {
  const label = key === undefined ? "" : key;
  if (value !== null && typeof value === "object") {
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    const summary = el("summary", {},
      el("span", { className: "key", text: label }),
      label === "" ? "" : ": ",
      Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`);
    const node = el("details", { open: entries.length <= 20 }, summary);
    for (const [k, v] of entries) node.append(tree(v, k));
    return node;
  }
  return el("div", { className: "leaf" },
    el("span", { className: "key", text: label }), label === "" ? "" : ": ",
    JSON.stringify(value));
}

function table(headers, rows) {
  return el("table", {},
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", { text: c ?? "-" }))))));
}

async function select(id) {
  state.selected = id;
  for (const button of document.querySelectorAll("button.row")) {
    if (button.dataset.id === id) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  const pane = document.getElementById("detail");
  let data;
  try {
    data = await api(`/api/webhooks/${encodeURIComponent(id)}`);
  } catch (error) {
    pane.replaceChildren(el("p", { className: "bad", text: `cannot load ${id}: ${error.message}` }));
    return;
  }
  const sig = data.signature;
  const parts = [
    el("h2", { text: `${describe(data)} · ${data.direction} · ${data.id}` }),
    el("p", {}, el("span", { text: data.created_at }), " · ",
      el("span", { className: data.direction === "received" ? `verdict-${data.verdict}` : "", text: data.outcome }),
      " · ", `${data.size} bytes`),
    el("h2", { text: "Signature" }),
    table(["header", "verdict", "why"], [
      ["X-Nango-Hmac-Sha256", sig.hmac.state, sig.hmac.reason],
      ["X-Nango-Signature", sig.legacy.state, sig.legacy.reason],
    ]),
  ];
  if (data.notes.length || data.schema.length) {
    parts.push(el("h2", { text: "Notes" }), el("ul", { className: "notes" },
      ...data.notes.map((n) => el("li", { text: n })),
      ...data.schema.map((n) => el("li", { className: n.level === "problem" ? "bad" : n.level === "warning" ? "warn" : "", text: `${n.level}: ${n.text}` }))));
  }
  parts.push(el("h2", { text: "Body" }));
  let parsed = null;
  try { parsed = JSON.parse(data.body); } catch { parsed = null; }
  if (parsed !== null && typeof parsed === "object") parts.push(el("div", { className: "tree" }, tree(parsed)));
  parts.push(el("details", {}, el("summary", { text: "Raw text" }), el("pre", { text: data.body })));
  parts.push(el("h2", { text: "Headers" }), table(["name", "value"], Object.entries(data.headers)));
  if (data.attempts.length) {
    parts.push(el("h2", { text: "Attempts" }), table(
      ["#", "target", "status", "latency", "error", "response"],
      data.attempts.map((a) => [a.number, a.target, a.status_code, a.latency_ms === null ? null : `${Math.round(a.latency_ms)} ms`,
        a.error_class ? `${a.error_class}: ${a.error}` : null, (a.response_body || "").slice(0, 200)])));
  }
  if (data.api_calls.length) {
    parts.push(el("h2", { text: "API calls the handler made for it" }), table(
      ["time", "request", "status", "records"],
      data.api_calls.map((r) => [r.created_at.slice(11, 23), `${r.method} ${r.path}`, r.status, r.record_count])));
  }
  parts.push(el("h2", { text: "Again" }));
  const target = el("input", { id: "replay-url", size: 40, placeholder: data.curl_target || "the environment's URL", "aria-label": "Replay to URL" });
  // The command goes where a replay would: the URL typed, else where it went (or the
  // environment's URL), else $WEBHOOK_URL for the reader to set.
  const command = () => curlTo(data, target.value.trim());
  const curl = el("pre", { id: "curl", text: command() });
  target.addEventListener("input", () => { curl.textContent = command(); });
  const copyStatus = el("span", { role: "status", className: "dim" });
  parts.push(el("p", { className: "actions" },
    el("button", { type: "button", onclick: async () => {
      try { await navigator.clipboard.writeText(command()); copyStatus.textContent = "copied"; }
      catch { copyStatus.textContent = "select the command below and copy it"; }
    } }, "Copy as curl"),
    el("a", { href: `/api/webhooks/${encodeURIComponent(data.id)}/raw`, download: `${data.id}.body` }, "Download raw body"),
    copyStatus), curl);
  const result = el("p", { id: "action-result", role: "status" });
  parts.push(el("p", { className: "actions" }, el("label", {}, "to ", target),
    el("button", { type: "button", id: "replay", onclick: () => act(data.id, { url: target.value }, result) }, "Replay")));
  const editor = el("textarea", { id: "edit-body", rows: 10, "aria-label": "Body to send" });
  editor.value = data.body;
  parts.push(el("details", {}, el("summary", { text: "Edit the body, re-sign and send" }), editor,
    el("p", { className: "actions" }, el("button", { type: "button", id: "send-edited",
      onclick: () => act(data.id, { url: target.value, body: editor.value }, result) }, "Re-sign and send"))));
  parts.push(result);
  pane.replaceChildren(...parts);
}

function shellQuote(text) {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

function curlTo(data, typed) {
  return typed ? `curl -X POST ${shellQuote(typed)} ${data.curl_options}` : data.curl;
}

async function act(id, payload, result) {
  result.textContent = "sending…";
  try {
    const data = await api(`/api/webhooks/${encodeURIComponent(id)}/replay`, { method: "POST", body: JSON.stringify(payload) });
    result.textContent = data.webhooks.map((w) => `${w.id}: ${w.status}${w.last_status_code ? ` (${w.last_status_code})` : ""}`).join("; ");
  } catch (error) {
    result.textContent = `failed: ${error.message}`;
  }
}

// ------------------------------------------------------------------ fire, check

function showKindFields() {
  const kind = document.querySelector("#fire-form select[name=kind]").value;
  for (const field of document.querySelectorAll("#fire-form [data-kinds]")) {
    field.hidden = !field.dataset.kinds.split(" ").includes(kind);
  }
}

async function fire(event) {
  event.preventDefault();
  const form = document.getElementById("fire-form");
  const out = document.getElementById("fire-result");
  // Only the fields shown: a hidden field of another kind is not sent.
  const data = {};
  for (const [name, value] of new FormData(form).entries()) {
    const field = form.elements[name];
    const holder = field && field.closest ? field.closest("[data-kinds]") : null;
    if (!holder || !holder.hidden) data[name] = value;
  }
  out.textContent = "firing…";
  try {
    const result = await api("/api/fire", { method: "POST", body: JSON.stringify(data) });
    out.textContent = result.sent
      ? result.webhooks.map((w) => `${w.id}: ${w.status}`).join("; ")
      : `not sent: ${result.skipped}`;
  } catch (error) {
    out.textContent = `failed: ${error.message}`;
  }
}

async function showCheck() {
  const body = document.getElementById("check-body");
  const { report } = await api("/api/check");
  if (!report) body.replaceChildren(el("p", { text: "No report yet: run `nango-hooks check`." }));
  else body.replaceChildren(
    el("p", { text: `${report.url} · ${report.finished_at}` }),
    table(["check", "verdict", "happened", "cause"], report.checks.map((c) => [c.name, c.verdict, c.happened, c.cause || c.reason])));
  document.getElementById("check-dialog").showModal();
}

// ------------------------------------------------------------------ keyboard

function move(step) {
  const buttons = [...document.querySelectorAll("button.row")];
  if (!buttons.length) return;
  const current = buttons.indexOf(document.activeElement);
  const next = buttons[Math.max(0, Math.min(buttons.length - 1, current + step))];
  next.focus();
}

document.addEventListener("keydown", (event) => {
  if (event.target.closest("input, textarea, select, dialog")) return;
  if (event.key === "ArrowDown" || event.key === "j") { move(1); event.preventDefault(); }
  if (event.key === "ArrowUp" || event.key === "k") { move(-1); event.preventDefault(); }
});

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("env").textContent = `environment ${ENV}`;
  document.getElementById("filters").addEventListener("input", () => {
    const form = new FormData(document.getElementById("filters"));
    state.filters = Object.fromEntries(form.entries());
    load();
  });
  document.getElementById("older").addEventListener("click", loadOlder);
  document.getElementById("show-fire").addEventListener("click", () => document.getElementById("fire-dialog").showModal());
  document.getElementById("fire-cancel").addEventListener("click", () => document.getElementById("fire-dialog").close());
  document.getElementById("fire-form").addEventListener("submit", fire);
  document.getElementById("show-check").addEventListener("click", showCheck);
  document.getElementById("check-close").addEventListener("click", () => document.getElementById("check-dialog").close());
  showKindFields();
  document.querySelector("#fire-form select[name=kind]").addEventListener("change", showKindFields);
  load().then(live);
});
