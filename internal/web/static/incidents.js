// Incidents: the list, and the case page with its timeline, actions and
// NIS2 clocks.

import { h, api, guard, flash, flashNext, fmtTime, ago, duration, sevBadge, techLink, pivot, pager, sortableTable, select, severities, hashParams, currentSession } from "./lib.js";
import { kv } from "./alerts.js";

const statuses = ["new", "triage", "contained", "resolved", "closed"];
const moves = { new: ["triage", "closed"], triage: ["contained", "resolved", "closed"], contained: ["resolved"], resolved: ["closed"], closed: ["triage"] };

export async function incidentsPage(view) {
  const p = hashParams();
  const cb = h("input", { type: "checkbox", name: "cross_border", value: "true", id: "f-cross-border" });
  cb.checked = p.get("cross_border") === "true";
  const form = h("form", { class: "filters", id: "incident-filters" },
    h("label", {}, "status", select("status", [["", "any"], ...statuses.map(s => [s, s])], p.get("status") || "")),
    h("label", {}, "min. severity", select("severity", [["", "any"], ...severities.map(s => [s, s])], p.get("severity") || "")),
    h("label", {}, "kind", select("kind", [["", "any"], ["local", "local"], ["campaign", "campaign"]], p.get("kind") || "")),
    h("label", {}, "member", h("input", { name: "member", size: 10, value: p.get("member") || "" })),
    h("label", {}, "assignee", h("input", { name: "assignee", size: 10, value: p.get("assignee") || "" })),
    h("label", {}, h("span", {}, "cross-border only"), cb),
    h("label", {}, "per page", select("limit", [["25", "25"], ["50", "50"], ["200", "200"]], p.get("limit") || "50")),
    h("button", { type: "submit", class: "primary" }, "Filter"));
  const out = h("div");
  view.append(h("h1", {}, "Incidents"), form, out);
  const cursors = [""];
  // The order is the server's, across pages, on the values this login
  // sees of each incident (its visible alerts, its own case): sort and
  // order ride in the page's address with the filters.
  const order = { key: p.get("sort") || "created", asc: p.get("order") === "asc" };
  const query = () => {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
    if (order.key !== "created") q.set("sort", order.key);
    if (order.asc) q.set("order", "asc");
    return q;
  };
  const load = async () => {
    const q = query();
    if (cursors.at(-1)) q.set("cursor", cursors.at(-1));
    const page = await guard(() => api("GET", `/api/v1/incidents?${q}`));
    out.replaceChildren();
    if (!page) return;
    const when = t => h("span", { class: "mono", title: fmtTime(t) }, ago(t));
    out.append(sortableTable([
      { key: "created", label: "opened", server: "created", render: i => when(i.created) },
      { key: "updated", label: "updated", server: "updated", render: i => when(i.updated) },
      { key: "first_seen", label: "first seen", server: "first_seen", render: i => when(i.first_seen) },
      { key: "last_seen", label: "last seen", server: "last_seen", render: i => when(i.last_seen) },
      { key: "severity", label: "severity", server: "severity", render: i => sevBadge(i.severity) },
      { key: "title", label: "title", wrap: true, render: i => [i.cross_border ? h("span", { class: "badge cb" }, "cross-border") : "", " ", h("a", { href: `#/incidents/${encodeURIComponent(i.id)}` }, i.title)] },
      { key: "countries", label: "countries", render: i => (i.countries || []).join(", ") },
      { key: "members", label: "members", render: i => (i.members || []).join(", ") },
      { key: "alerts", label: "alerts", server: "alerts", render: i => (i.timeline || []).length },
      { key: "status", label: "status", server: "status" },
      { key: "nis2_due", label: "NIS2 due", server: "nis2_due", render: nextDue },
      { key: "assignee", label: "assignee" },
    ], page.incidents || [], i => { location.hash = `#/incidents/${encodeURIComponent(i.id)}`; }, "incidents-table",
    { key: order.key, asc: order.asc, onSort: (key, asc) => { order.key = key; order.asc = asc; restart(); } }),
    pager(cursors.length, cursors.length > 1, page.next, () => { cursors.pop(); load(); }, () => { cursors.push(page.next); load(); }));
  };
  // restart shows the first page of the current filters and order.
  const restart = () => {
    cursors.length = 1;
    history.replaceState(null, "", `#/incidents?${query()}`);
    load();
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); restart(); });
  await load();
}

// nextDue shows the due time of the incident's next NIS2 report not yet
// submitted, the order the nis2_due sort follows.
function nextDue(i) {
  const c = ((i.nis2 && i.nis2.clocks) || []).find(c => !c.submitted || c.submitted.startsWith("0001-"));
  if (!c) return i.nis2 ? "all submitted" : "—";
  return h("span", { class: c.overdue ? "overdue mono" : "mono", title: `${c.report} due ${fmtTime(c.due)}` }, `${c.report} ${fmtTime(c.due)}`);
}

export async function incidentPage(view, id) {
  const path = `/api/v1/incidents/${encodeURIComponent(id)}`;
  const inc = await api("GET", path);
  const audit = await api("GET", `${path}/audit`).catch(() => ({ audit: [] }));
  const me = currentSession();
  const redraw = async () => { const y = scrollY; view.replaceChildren(); await incidentPage(view, id); scrollTo(0, y); };
  const act = (fn, ok) => guard(async () => { await fn(); await redraw(); flash(ok, true); });
  const canWork = me && me.role !== "viewer";

  const statusSel = select("new-status", (moves[inc.status] || []).map(s => [s, s]));
  const assignee = h("input", { id: "assignee", value: inc.assignee || "", size: 16 });
  const comment = h("textarea", { id: "comment", placeholder: "comment" });
  // The merge field offers the viewer's other recent incidents.
  const candidates = h("datalist", { id: "merge-candidates" });
  api("GET", "/api/v1/incidents?limit=50").then(p => candidates.replaceChildren(...(p.incidents || [])
    .filter(o => o.id !== inc.id).map(o => h("option", { value: o.id }, `${o.title} (${o.status})`)))).catch(() => {});
  const mergeFrom = h("input", { id: "merge-from", placeholder: "incident id to merge in", size: 30, list: "merge-candidates" });
  const picked = new Set();

  const timeline = h("table", { id: "timeline" },
    h("thead", {}, h("tr", {}, ["", "event time", "detected", "member", "country", "tactic", "severity", "rule", "ATT&CK", "count"].map(t => h("th", {}, t)))),
    h("tbody", {}, (inc.timeline || []).map(e => {
      const box = h("input", { type: "checkbox", title: "select for split", class: "split-pick" });
      box.addEventListener("change", () => box.checked ? picked.add(e.alert_id) : picked.delete(e.alert_id));
      return h("tr", {}, h("td", {}, box), h("td", { class: "mono" }, fmtTime(e.event_time)), h("td", { class: "mono" }, fmtTime(e.detected)),
        h("td", {}, e.member), h("td", {}, e.country || ""), h("td", {}, e.tactic || ""), h("td", {}, sevBadge(e.severity)),
        h("td", { class: "wrap" }, h("a", { href: `#/alerts/${encodeURIComponent(e.alert_id)}` }, e.rule_title)),
        h("td", {}, (e.techniques || []).map(techLink)), h("td", {}, e.count));
    })));

  view.append(
    h("h1", {}, sevBadge(inc.severity), " ", inc.cross_border ? h("span", { class: "badge cb" }, "cross-border") : "", " ", h("span", { id: "incident-title" }, inc.title)),
    h("table", { class: "kv" }, h("tbody", {},
      kv("incident", h("span", { class: "mono" }, inc.id)),
      kv("kind", inc.kind), kv("status", h("strong", { id: "incident-status" }, inc.status)), kv("assignee", inc.assignee || "—"),
      kv("countries", (inc.countries || []).join(", ")), kv("members", (inc.members || []).join(", ")),
      kv("first seen → last seen", `${fmtTime(inc.first_seen)} → ${fmtTime(inc.last_seen)}`), kv("detected", fmtTime(inc.detected)),
      kv("tactics", (inc.tactics || []).join(" → ")), kv("ATT&CK", (inc.techniques || []).map(techLink)),
      inc.merged_into ? kv("merged into", h("a", { href: `#/incidents/${encodeURIComponent(inc.merged_into)}` }, inc.merged_into)) : null)),
    h("h2", {}, "Case"),
    h("div", { class: "actions" },
      h("label", {}, "status → ", statusSel),
      h("button", { type: "button", id: "set-status", disabled: !canWork || !(moves[inc.status] || []).length,
        onclick: () => act(() => api("PATCH", path, { status: statusSel.value }), `status set to ${statusSel.value}`) }, "Set status"),
      h("label", {}, "assignee ", assignee),
      h("button", { type: "button", id: "assign", disabled: !canWork, onclick: () => act(() => api("PATCH", path, { assignee: assignee.value }), "assigned") }, "Assign")),
    h("div", { class: "actions" }, comment),
    h("div", { class: "actions" },
      h("button", { type: "button", id: "add-comment", disabled: !canWork, onclick: () => act(() => api("PATCH", path, { comment: comment.value }), "comment added") }, "Comment"),
      mergeFrom, candidates,
      h("button", { type: "button", id: "merge", disabled: !canWork, onclick: () => act(() => api("POST", `${path}/merge`, { from: mergeFrom.value.trim() }), "merged") }, "Merge into this"),
      h("button", { type: "button", id: "split", disabled: !canWork, onclick: () => guard(async () => {
        const n = await api("POST", `${path}/split`, { alerts: [...picked] });
        flashNext(`${picked.size} alert(s) split off from ${id} into this new incident`, true);
        location.hash = `#/incidents/${encodeURIComponent(n.id)}`;
      }) }, "Split selected alerts off")),
    nis2(inc, path, canWork, act),
    h("h2", {}, "Timeline"), timeline,
    h("h2", {}, "Entities"),
    h("table", { class: "kv", id: "entities" }, h("tbody", {},
      kv("hosts", list(inc.entities.hosts)), kv("users", list(inc.entities.users)),
      kv("observables", list((inc.entities.observables || []).map(o => o.value))))),
    h("h2", {}, "Comments and evidence"),
    h("div", { id: "comments" }, [...(inc.comments || []), ...(inc.evidence || [])].map(n =>
      h("div", { class: "panel" }, h("div", { class: "muted" }, `${n.who} · ${fmtTime(n.at)} · ${n.kind}`), h("div", { class: "wrap" }, n.value)))),
    h("h2", {}, "Audit trail"),
    h("table", { id: "audit" }, h("thead", {}, h("tr", {}, ["at", "who", "what", "old", "new"].map(t => h("th", {}, t)))),
      h("tbody", {}, (audit.audit || []).map(e => h("tr", {}, h("td", { class: "mono" }, fmtTime(e.at)), h("td", {}, e.who), h("td", {}, e.what), h("td", { class: "wrap" }, e.old || ""), h("td", { class: "wrap" }, e.new || ""))))));
}

function list(xs) { return (xs || []).map((x, i) => [i ? ", " : "", pivot(x)]); }

// nis2 shows the reporting clocks with live countdowns and the draft.
function nis2(inc, path, canWork, act) {
  const box = h("div", { id: "nis2" }, h("h2", {}, "NIS2 reporting"));
  if (!inc.nis2) {
    box.append(h("p", { class: "muted" }, "Not marked significant: no reporting clock runs."),
      h("button", { type: "button", id: "mark-significant", disabled: !canWork,
        onclick: () => act(() => api("POST", `${path}/nis2/significant`, {}), "marked significant: the NIS2 clocks run") }, "Mark significant (start the 24 h / 72 h / 1 month clocks)"));
    return box;
  }
  box.append(h("p", { class: "muted" }, `aware since ${fmtTime(inc.nis2.aware_at)}, marked by ${inc.nis2.marked_by}`));
  const clocks = h("div", { class: "actions" });
  for (const c of inc.nis2.clocks) {
    const left = h("span", { class: "countdown", "data-due": c.due });
    const done = c.submitted && !c.submitted.startsWith("0001-");
    clocks.append(h("div", { class: `clock ${done ? "done" : c.overdue ? "overdue" : ""}`, id: `clock-${c.report}` },
      h("strong", {}, c.report), h("br"), `due ${fmtTime(c.due)}`, h("br"),
      done ? `submitted ${fmtTime(c.submitted)}${c.late ? " (late)" : ""}` : left,
      h("br"), done ? "" : h("button", { type: "button", disabled: !canWork,
        onclick: () => act(() => api("POST", `${path}/nis2/reports`, { report: c.report }), `${c.report} recorded as submitted`) }, "Record as submitted")));
  }
  let shown = false;
  const tick = () => {
    // The page is rebuilt on every change: a clock no longer shown stops.
    if (!clocks.isConnected && shown) { clearInterval(timer); return; }
    shown = clocks.isConnected;
    for (const el of clocks.querySelectorAll(".countdown")) {
      const ms = Date.parse(el.dataset.due) - Date.now();
      el.textContent = ms >= 0 ? `${duration(ms)} left` : `overdue by ${duration(-ms)}`;
    }
  };
  const timer = setInterval(tick, 1000);
  tick();
  const draft = h("pre", { id: "nis2-draft" }, "loading the draft…");
  api("GET", `${path}/nis2/draft?format=markdown`).then(d => { draft.textContent = d; }).catch(e => { draft.textContent = e.message; });
  box.append(clocks, h("h3", {}, "Draft notification (Markdown; JSON at ", h("a", { href: `${path}/nis2/draft`, target: "_blank" }, "nis2/draft"), ")"), draft);
  return box;
}
