// Shared helpers: DOM building (text only), API calls with the session's
// CSRF token, formatting.

let me = null;

// h builds an element. Attributes starting with "on" become listeners;
// children that are strings become text nodes — never parsed as HTML.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

// flash shows a message above the page (an error unless ok); "" hides it.
export function flash(msg, ok) {
  const f = document.getElementById("flash");
  f.textContent = msg;
  f.hidden = !msg;
  f.classList.toggle("ok", !!ok);
}

// flashNext keeps a message for the page the browser goes to next: a
// change of page clears the message shown.
let pending = null;
export function flashNext(msg, ok) { pending = [msg, ok]; }

// takeFlash returns and forgets the message kept by flashNext.
export function takeFlash() { const p = pending; pending = null; return p || ["", false]; }

// session returns who is logged in, or sends the browser to the login page.
export async function session() {
  if (me) return me;
  const r = await fetch("/web/session", { credentials: "same-origin" });
  if (r.status === 401) { location.href = "/login?expired=1"; return null; }
  me = await r.json();
  return me;
}

export function currentSession() { return me; }

// ApiError carries the server's message and status.
export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// api calls the REST API (or a console endpoint) as the logged-in person.
// A 401 means the session ended: the login page follows. Other errors
// throw with the server's message, which pages show.
export async function api(method, path, body, opts = {}) {
  const headers = { "Accept": "application/json" };
  if (method !== "GET" && me) headers["X-CSRF-Token"] = opts.csrf ?? me.csrf;
  let payload;
  if (body !== undefined) {
    if (typeof body === "string") { payload = body; headers["Content-Type"] = opts.type || "text/plain"; }
    else { payload = JSON.stringify(body); headers["Content-Type"] = "application/json"; }
  }
  const r = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  if (r.status === 401) {
    location.href = "/login?expired=1";
    throw new ApiError(401, "session expired");
  }
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!r.ok) {
    const msg = (data && data.error) || (typeof data === "string" && data) || r.statusText;
    throw new ApiError(r.status, `${r.status} ${r.statusText}: ${msg}`);
  }
  return data;
}

// guard runs an action and shows its error, or its success message.
export async function guard(fn, okMsg) {
  try {
    const out = await fn();
    if (okMsg) flash(okMsg, true);
    return out;
  } catch (e) {
    flash(e.message || String(e));
    return undefined;
  }
}

export function fmtTime(s) {
  if (!s || s.startsWith("0001-")) return "—";
  const d = new Date(s);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function ago(s) {
  if (!s) return "";
  const sec = Math.round((Date.now() - new Date(s).getTime()) / 1000);
  if (sec < 60) return `${sec}s ago`;
  if (sec < 3600) return `${Math.round(sec / 60)} min ago`;
  if (sec < 86400) return `${Math.round(sec / 3600)} h ago`;
  return `${Math.round(sec / 86400)} d ago`;
}

export function duration(ms) {
  const neg = ms < 0; ms = Math.abs(ms);
  const d = Math.floor(ms / 86400000), hh = Math.floor(ms / 3600000) % 24, mm = Math.floor(ms / 60000) % 60, ss = Math.floor(ms / 1000) % 60;
  const s = (d ? `${d}d ` : "") + `${String(hh).padStart(2, "0")}:${String(mm).padStart(2, "0")}:${String(ss).padStart(2, "0")}`;
  return neg ? `-${s}` : s;
}

export function sevBadge(s) { return h("span", { class: `sev sev-${s}` }, s); }

export function tlpBadge(t) {
  const cls = String(t || "").toLowerCase().replace("tlp:", "").replace("+", "-");
  return h("span", { class: `tlp tlp-${cls}` }, t || "");
}

// techLink links an ATT&CK id to its page on attack.mitre.org.
export function techLink(t) {
  if (!/^T\d{4}(\.\d{3})?$/.test(t)) return h("span", { class: "badge" }, t);
  return h("a", { class: "badge", href: `https://attack.mitre.org/techniques/${t.replace(".", "/")}/`, target: "_blank", rel: "noopener noreferrer" }, t);
}

// pivot links a value to hunting for it.
export function pivot(value, field) {
  const q = new URLSearchParams({ value: value });
  if (field) q.set("field", field);
  return h("a", { href: `#/hunt?${q}`, title: "pivot: events, alerts and indicators holding this value" }, value);
}

// hashParams reads the query part of the location hash.
export function hashParams() {
  const i = location.hash.indexOf("?");
  return new URLSearchParams(i < 0 ? "" : location.hash.slice(i + 1));
}

// pager renders "page N · previous · next" for keyset-paginated lists.
export function pager(page, hasPrev, next, onPrev, onNext) {
  return h("div", { class: "pager" },
    h("button", { type: "button", disabled: !hasPrev, onclick: onPrev, id: "prev-page" }, "← previous"),
    h("span", {}, `page ${page}`),
    h("button", { type: "button", disabled: !next, onclick: onNext, id: "next-page" }, "next →"));
}

// sortableTable renders rows with clickable headers. Without server, a
// click sorts the shown page. With server = {key, asc, onSort(key, asc)},
// the columns that name a server sort key (col.server) sort the whole list
// on the server: a click asks onSort for the first page in that order (a
// second click reverses it) and the others are not sortable.
// cols: [{key, label, render(row) -> node|string, sort(row) -> value, server}]
export function sortableTable(cols, rows, onRow, id, server) {
  let key = null, dir = 1;
  const tbody = h("tbody");
  const draw = () => {
    clear(tbody);
    const sorted = key === null ? rows : [...rows].sort((a, b) => {
      const c = cols.find(c => c.key === key);
      const x = c.sort ? c.sort(a) : a[key], y = c.sort ? c.sort(b) : b[key];
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
    for (const r of sorted) {
      const tr = h("tr", { class: onRow ? "clickable" : "" }, cols.map(c => h("td", { class: c.wrap ? "wrap" : "" }, c.render ? c.render(r) : r[c.key])));
      if (onRow) tr.addEventListener("click", (e) => { if (e.target.tagName !== "A" && e.target.tagName !== "BUTTON") onRow(r); });
      tbody.append(tr);
    }
    if (!rows.length) tbody.append(h("tr", {}, h("td", { colspan: cols.length, class: "muted" }, "nothing to show")));
  };
  const head = h("tr", {}, cols.map(c => {
    if (server) {
      if (!c.server) return h("th", {}, c.label);
      const on = server.key === c.server;
      const th = h("th", { class: "sortable" + (on ? " sorted" : ""), id: `sort-${c.server}`, title: "sort the whole list",
        "aria-sort": on ? (server.asc ? "ascending" : "descending") : "none" }, c.label, on ? (server.asc ? " ▲" : " ▼") : "");
      th.addEventListener("click", () => server.onSort(c.server, on ? !server.asc : false));
      return th;
    }
    const th = h("th", { class: "sortable", title: "sort this page" }, c.label);
    th.addEventListener("click", () => { dir = key === c.key ? -dir : 1; key = c.key; draw(); });
    return th;
  }));
  draw();
  return h("table", { id }, h("thead", {}, head), tbody);
}

// select builds a <select> with options [value, label].
export function select(name, options, value) {
  return h("select", { name, id: `f-${name}` }, options.map(([v, l]) => {
    const o = h("option", { value: v }, l);
    if (v === value) o.selected = true;
    return o;
  }));
}

export const severities = ["informational", "low", "medium", "high", "critical"];
