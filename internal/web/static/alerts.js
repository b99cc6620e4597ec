// Alerts: the filtered, paginated list and the detail page.

import { h, api, guard, fmtTime, ago, sevBadge, tlpBadge, techLink, pivot, pager, sortableTable, select, severities, hashParams, currentSession } from "./lib.js";

export async function alertsPage(view) {
  const p = hashParams();
  const form = h("form", { class: "filters", id: "alert-filters" },
    h("label", {}, "min. severity", select("severity", [["", "any"], ...severities.map(s => [s, s])], p.get("severity") || "")),
    h("label", {}, "status", select("status", [["", "any"], ["new", "new"], ["acknowledged", "acknowledged"], ["closed", "closed"]], p.get("status") || "")),
    h("label", {}, "detector", h("input", { name: "detector", id: "f-detector", size: 8, value: p.get("detector") || "" })),
    h("label", {}, "members (a,b)", h("input", { name: "member", id: "f-member", size: 12, value: p.get("member") || "" })),
    h("label", {}, "technique", h("input", { name: "technique", id: "f-technique", size: 9, value: p.get("technique") || "" })),
    h("label", {}, "rule id", h("input", { name: "rule", id: "f-rule", size: 12, value: p.get("rule") || "" })),
    h("label", {}, "incident", h("input", { name: "incident", id: "f-incident", size: 12, value: p.get("incident") || "" })),
    h("label", {}, "per page", select("limit", [["50", "50"], ["100", "100"], ["500", "500"]], p.get("limit") || "50")),
    h("button", { type: "submit", class: "primary" }, "Filter"));
  const out = h("div");
  view.append(h("h1", {}, "Alerts"), form, out);
  const cursors = [""];
  // The order is the server's, across pages: sort and order ride in the
  // page's address with the filters.
  const order = { key: p.get("sort") || "detected", asc: p.get("order") === "asc" };
  const query = () => {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
    if (order.key !== "detected") q.set("sort", order.key);
    if (order.asc) q.set("order", "asc");
    return q;
  };
  const load = async () => {
    const q = query();
    const c = cursors[cursors.length - 1];
    if (c) q.set("cursor", c);
    const page = await guard(() => api("GET", `/api/v1/alerts?${q}`));
    out.replaceChildren();
    if (!page) return;
    const rows = page.alerts || [];
    out.append(sortableTable([
      { key: "detected", label: "detected", server: "detected", render: a => h("span", { class: "mono", title: fmtTime(a.detected) }, ago(a.detected)) },
      { key: "severity", label: "severity", server: "severity", render: a => sevBadge(a.severity) },
      { key: "member", label: "member" },
      { key: "detector", label: "detector" },
      { key: "rule_title", label: "rule", wrap: true },
      { key: "techniques", label: "ATT&CK", render: a => (a.techniques || []).map(techLink), sort: a => (a.techniques || []).join() },
      { key: "tlp", label: "TLP", render: a => tlpBadge(a.tlp) },
      { key: "last_seen", label: "last seen", server: "last_seen", render: a => h("span", { class: "mono", title: fmtTime(a.last_seen) }, ago(a.last_seen)) },
      { key: "count", label: "count", server: "count" },
      { key: "status", label: "status", server: "status" },
    ], rows, a => { location.hash = `#/alerts/${encodeURIComponent(a.id)}`; }, "alerts-table",
    { key: order.key, asc: order.asc, onSort: (key, asc) => { order.key = key; order.asc = asc; restart(); } }),
    pager(cursors.length, cursors.length > 1, page.next,
      () => { cursors.pop(); load(); },
      () => { cursors.push(page.next); load(); }));
  };
  // restart shows the first page of the current filters and order.
  const restart = () => {
    cursors.length = 1;
    history.replaceState(null, "", `#/alerts?${query()}`);
    load();
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); restart(); });
  await load();
}

// fieldsOf parses one evidence document (flat ECS JSON) for the table.
function fieldsOf(doc) {
  try { return JSON.parse(doc); } catch { return null; }
}

export async function alertPage(view, id) {
  const a = await api("GET", `/api/v1/alerts/${encodeURIComponent(id)}`);
  const me = currentSession();
  const mayAct = !!me && (me.operator || (me.member && me.member.id === a.member)) && me.role !== "viewer";
  const redraw = async () => { view.replaceChildren(); await alertPage(view, id); };
  view.append(
    h("h1", {}, sevBadge(a.severity), " ", h("span", { id: "alert-title" }, a.rule_title)),
    h("table", { class: "kv" }, h("tbody", {},
      kv("alert", h("span", { class: "mono" }, a.id)),
      kv("member", a.member), kv("detector", `${a.detector} · rule ${a.rule_id}`),
      kv("TLP", tlpBadge(a.tlp)), kv("status", a.status + (a.acknowledged_by ? ` (acknowledged by ${a.acknowledged_by})` : "")),
      kv("event time", fmtTime(a.event_time)), kv("detected", fmtTime(a.detected)), kv("last seen", fmtTime(a.last_seen)),
      kv("count", a.count),
      kv("ATT&CK", (a.techniques || []).map(techLink)),
      kv("incident", a.incident ? h("a", { href: `#/incidents/${encodeURIComponent(a.incident)}`, id: "alert-incident" }, a.incident) : "—"))),
    h("div", { class: "actions" },
      h("button", { type: "button", id: "ack", disabled: !mayAct || a.status !== "new",
        onclick: () => guard(async () => { await api("POST", `/api/v1/alerts/${encodeURIComponent(id)}/ack`); await redraw(); }, "acknowledged") }, "Acknowledge"),
      h("button", { type: "button", id: "close", disabled: !mayAct || a.status === "closed",
        onclick: () => guard(async () => { await api("POST", `/api/v1/alerts/${encodeURIComponent(id)}/close`); await redraw(); }, "closed") }, "Close")),
    h("h2", {}, "Observables"),
    h("table", { id: "observables" }, h("thead", {}, h("tr", {}, h("th", {}, "type"), h("th", {}, "role"), h("th", {}, "value"))),
      h("tbody", {}, (a.observables || []).map(o => h("tr", {}, h("td", {}, o.type), h("td", {}, o.role || ""), h("td", { class: "wrap" }, pivot(o.value)))))),
    h("h2", {}, "Evidence"),
    ...(a.evidence || []).map((doc, i) => {
      const f = fieldsOf(doc);
      return h("div", { class: "panel evidence" },
        h("h3", {}, `event ${i + 1}` + (a.event_ids && a.event_ids[i] ? ` · ${a.event_ids[i]}` : "")),
        f ? h("table", { class: "kv fields" }, h("tbody", {}, Object.keys(f).sort().map(k => kv(k, typeof f[k] === "object" ? JSON.stringify(f[k]) : pivot(String(f[k]), k))))) : null,
        h("h3", {}, "raw"),
        h("pre", { class: "raw" }, f ? JSON.stringify(f, null, 2) : doc));
    }));
}

export function kv(k, v) { return h("tr", {}, h("td", {}, k), h("td", { class: "wrap" }, v)); }
