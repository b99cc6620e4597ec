// Hunting, rules, and (for platform admins) members.

import { h, api, guard, fmtTime, sevBadge, tlpBadge, techLink, pivot, sortableTable, select, hashParams, currentSession } from "./lib.js";

// huntPage searches the member's stored events by field filters, text and
// time range, and pivots a value to the events and alerts holding it.
export async function huntPage(view) {
  const p = hashParams();
  const fields = h("textarea", { id: "hunt-fields", placeholder: "one filter per line: field=value, e.g.\nsource.ip=10.0.0.5\nprocess.name=powershell.exe" });
  fields.value = p.get("field") && p.get("value") ? `${p.get("field")}=${p.get("value")}` : "";
  const text = h("input", { id: "hunt-text", size: 30, value: p.get("field") ? "" : (p.get("value") || ""), placeholder: "any text in the event" });
  const from = h("input", { id: "hunt-from", type: "datetime-local" });
  const to = h("input", { id: "hunt-to", type: "datetime-local" });
  const limit = h("input", { id: "hunt-limit", type: "number", min: 1, max: 1000, value: 100, size: 5 });
  const out = h("div", { id: "hunt-results" });
  const run = async () => {
    const q = new URLSearchParams();
    for (const line of fields.value.split("\n")) {
      const i = line.indexOf("=");
      if (i > 0) q.set(`field.${line.slice(0, i).trim()}`, line.slice(i + 1).trim());
    }
    if (text.value) q.set("q", text.value);
    if (from.value) q.set("from", new Date(from.value).toISOString());
    if (to.value) q.set("to", new Date(to.value).toISOString());
    q.set("limit", limit.value || 100);
    out.replaceChildren(h("p", { class: "muted" }, "searching…"));
    const me = currentSession();
    const res = me && me.operator ? null : await guard(() => api("GET", `/api/v1/events?${q}`));
    out.replaceChildren();
    if (me && me.operator) {
      out.append(h("p", { class: "muted", id: "hunt-operator" }, "Events are kept per member and searched by the member's own people: a platform admin sees the alerts and indicators holding a value, below."));
    } else if (!res) return;
    if (res) {
      const events = (res.events || []).map(e => typeof e === "string" ? JSON.parse(e) : e);
      const cols = columnsOf(events);
      out.append(h("h2", {}, `${events.length} events`, res.next ? " (more exist: narrow the search or raise the limit)" : ""),
        h("div", { class: "panel scroll" }, sortableTable(cols.map(c => ({ key: c, label: c, wrap: true,
          render: e => e[c] === undefined ? "" : typeof e[c] === "object" ? JSON.stringify(e[c]) : pivot(String(e[c]), c) })), events, null, "hunt-table")));
    }
    const value = p.get("value");
    if (value) out.append(await related(value), await relatedIntel(value));
  };
  view.append(h("h1", {}, "Hunting"),
    h("div", { class: "filters" }, h("label", {}, "field filters", fields), h("label", {}, "text", text),
      h("label", {}, "from", from), h("label", {}, "to", to), h("label", {}, "limit", limit),
      h("button", { type: "button", class: "primary", id: "hunt-run", onclick: run }, "Search")), out);
  if (fields.value || text.value) await run();
}

// columnsOf picks the table's columns: timestamp and the fields most
// events have, at most twelve.
function columnsOf(events) {
  const counts = new Map();
  for (const e of events) for (const k of Object.keys(e)) counts.set(k, (counts.get(k) || 0) + 1);
  const keys = [...counts.entries()].filter(([k]) => k !== "event.original").sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(e => e[0]);
  const first = keys.filter(k => k === "@timestamp");
  return [...first, ...keys.filter(k => k !== "@timestamp")].slice(0, 12);
}

// related lists the visible alerts whose observables hold value (from the
// most recent thousand alerts).
async function related(value) {
  const box = h("div", { id: "pivot-alerts" }, h("h2", {}, "Alerts holding ", h("code", {}, value)),
    h("p", { class: "muted" }, "in an observable or the evidence, among the 1,000 most recent alerts you may see"));
  const page = await guard(() => api("GET", "/api/v1/alerts?limit=1000"));
  const hits = ((page && page.alerts) || []).filter(a => (a.observables || []).some(o => o.value === value) || (a.evidence || []).some(d => d.includes(value)));
  box.append(sortableTable([
    { key: "detected", label: "detected", render: a => fmtTime(a.detected) },
    { key: "severity", label: "severity", render: a => sevBadge(a.severity) },
    { key: "member", label: "member" },
    { key: "rule_title", label: "rule", wrap: true },
    { key: "tlp", label: "TLP", render: a => tlpBadge(a.tlp) },
  ], hits, a => { location.hash = `#/alerts/${encodeURIComponent(a.id)}`; }, "pivot-alerts-table"));
  return box;
}

// relatedIntel lists the indicators the viewer may read that hold value.
async function relatedIntel(value) {
  const box = h("div", { id: "pivot-intel" }, h("h2", {}, "Indicators holding ", h("code", {}, value)));
  const res = await guard(() => api("GET", `/web/intel?q=${encodeURIComponent(value)}`));
  box.append(sortableTable([
    { key: "tlp", label: "TLP", render: i => tlpBadge(i.tlp) },
    { key: "name", label: "name", wrap: true },
    { key: "pattern", label: "pattern", wrap: true, render: i => h("code", {}, i.pattern) },
    { key: "owner", label: "shared by" },
  ], (res && res.indicators) || [], () => { location.hash = `#/intel?q=${encodeURIComponent(value)}`; }, "pivot-intel-table"));
  return box;
}

// rulesPage lists the Sigma rules with search; platform admins enable,
// disable and upload rules.
export async function rulesPage(view) {
  const me = currentSession();
  const search = h("input", { id: "rule-search", size: 30, placeholder: "title, id, tag or technique", value: hashParams().get("q") || "" });
  const out = h("div");
  let rules = [];
  const load = async () => { rules = (await api("GET", "/api/v1/rules")).rules || []; };
  const draw = () => {
    const s = search.value.toLowerCase();
    const shown = rules.filter(r => !s || JSON.stringify(r).toLowerCase().includes(s));
    out.replaceChildren(h("p", { class: "muted", id: "rules-count" }, `${shown.length} of ${rules.length} rules${shown.length > 500 ? " (the first 500 shown: refine the search)" : ""}`), sortableTable([
      { key: "title", label: "title", wrap: true },
      { key: "id", label: "id", render: r => h("span", { class: "mono" }, r.id) },
      { key: "level", label: "level", render: r => r.level ? sevBadge(r.level) : "" },
      { key: "techniques", label: "ATT&CK", render: r => (r.techniques || []).map(techLink), sort: r => (r.techniques || []).join() },
      { key: "source", label: "source", wrap: true },
      { key: "kind", label: "kind" },
      { key: "enabled", label: "state", render: r => me.operator ? ruleToggle(r) : (r.enabled ? "enabled" : "disabled"), sort: r => !!r.enabled },
    ], shown.slice(0, 500), null, "rules-table"));
  };
  await load();
  search.addEventListener("input", draw);
  const upload = h("textarea", { id: "rule-upload", placeholder: "Sigma rule YAML (one or more documents)" });
  const file = h("input", { type: "file", id: "rule-file", accept: ".yml,.yaml" });
  const name = h("input", { id: "rule-name", placeholder: "file name, e.g. my-rule.yml", size: 24 });
  const send = () => guard(async () => {
    const f = file.files.length ? file.files[0] : null;
    const body = f ? await f.text() : upload.value;
    const n = name.value.trim() || (f && f.name) || `console-${Date.now()}.yml`;
    const res = await api("POST", `/api/v1/rules?name=${encodeURIComponent(n)}`, body, { type: "application/yaml" });
    await load();
    draw();
    return res;
  }, "rule file stored and loaded");
  view.append(h("h1", {}, "Rules"), h("div", { class: "filters" }, h("label", {}, "search", search)), out,
    ...(me.operator ? [h("div", {}, h("h2", {}, "Upload rules"), upload, h("div", { class: "actions" },
      h("label", {}, "or a file ", file), name,
      h("button", { type: "button", class: "primary", id: "rule-upload-go", onclick: send }, "Upload")))] : []));
  view.append(ruleTester());
  draw();
}

// ruleTester runs a pasted rule against pasted events on the node and
// shows, per event, whether it matched and why.
function ruleTester() {
  const rule = h("textarea", { id: "test-rule", placeholder: "Sigma rule (YAML)" });
  const events = h("textarea", { id: "test-events", placeholder: "events, one per line (ECS JSON, syslog, CEF, Suricata, Zeek, Windows)" });
  const fmt = select("test-format", [["auto", "auto"], ["ecs", "ECS JSON"], ["syslog", "syslog"], ["cef", "CEF"], ["suricata", "Suricata EVE"], ["zeek", "Zeek"], ["windows", "Windows"]]);
  const out = h("div", { id: "test-results" });
  const go = async () => {
    const res = await guard(() => api("POST", "/web/rules/test", { rule: rule.value, events: events.value, format: fmt.value }));
    if (!res) return;
    const matches = res.results.filter(v => v.matched).length;
    out.replaceChildren(h("p", {}, `${res.results.length} verdicts, ${matches} matches`),
      ...(res.rule_errors ? [h("p", { class: "error" }, res.rule_errors)] : []),
      ...res.not_events.map(s => h("p", { class: "error" }, s)),
      ...res.results.map(v => h("div", { class: "panel" },
        h("strong", {}, `line ${v.line}: ${v.matched ? "MATCH" : "no match"} `), v.rule,
        h("pre", {}, v.why.join("\n")))));
  };
  return h("div", {}, h("h2", {}, "Test a rule against events"), rule, events,
    h("div", { class: "actions" }, h("label", {}, "format ", fmt), h("button", { type: "button", class: "primary", id: "test-go", onclick: go }, "Test")), out);
}

// ruleToggle shows a rule's state with the button that changes it.
function ruleToggle(r) {
  const off = !r.enabled;
  const box = h("span", { class: "rule-state", id: `state-${r.id}` }, off ? "disabled " : "enabled ");
  box.append(h("button", { type: "button", id: `toggle-${r.id}`, onclick: () => guard(async () => {
    await api("POST", `/api/v1/rules/${encodeURIComponent(r.id)}/${off ? "enable" : "disable"}`);
    r.enabled = off;
    box.replaceWith(ruleToggle(r));
  }, `rule ${r.id} ${off ? "enabled" : "disabled"}`) }, off ? "enable" : "disable"));
  return box;
}
