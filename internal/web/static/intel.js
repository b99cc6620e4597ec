// Intel: the indicators the viewer may read, with TLP badges and search;
// importing a STIX bundle or a MISP event; the TAXII collections.

import { h, api, guard, flash, fmtTime, tlpBadge, pivot, sortableTable, select, hashParams, currentSession } from "./lib.js";

export async function intelPage(view) {
  const me = currentSession();
  const search = h("input", { id: "intel-search", size: 32, value: hashParams().get("q") || "", placeholder: "value, e.g. 198.51.100.7 or evil.example" });
  const out = h("div", { id: "intel-results" });
  const colls = h("div", { id: "intel-collections" });
  const imp = h("div", { id: "intel-import" });
  const load = async () => {
    const res = await guard(() => api("GET", `/web/intel?q=${encodeURIComponent(search.value)}`));
    if (!res) return;
    const byCountry = Object.entries(res.sightings_by_country || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    out.replaceChildren(h("p", { class: "muted" }, `${res.indicators.length} indicators${res.truncated ? " (more exist: refine the search)" : ""}`),
      h("div", { id: "sightings-by-country" }, h("h3", {}, "Sightings of these indicators by country"),
        byCountry.length ? h("div", { class: "actions" }, byCountry.map(([c, n]) => h("span", { class: "badge", "data-country": c }, `${c} ${n}`)))
          : h("p", { class: "muted" }, "none you may see")),
      sortableTable([
        { key: "tlp", label: "TLP", render: i => tlpBadge(i.tlp) },
        { key: "name", label: "name", wrap: true, render: i => i.name || "" },
        { key: "pattern", label: "pattern", wrap: true, render: i => patternValues(i.pattern) },
        { key: "indicator_types", label: "types", render: i => (i.indicator_types || []).join(", ") },
        { key: "sightings", label: "sightings", render: i => sightingsOf(i.sightings), sort: i => Object.values(i.sightings || {}).reduce((a, b) => a + b, 0) },
        { key: "owner", label: "shared by" },
        { key: "collection", label: "collection" },
        { key: "valid_from", label: "valid from", render: i => i.valid_from ? fmtTime(i.valid_from) : "" },
        { key: "valid_until", label: "valid until", render: i => i.valid_until ? fmtTime(i.valid_until) : "—" },
      ], res.indicators, null, "indicators-table"));
    colls.replaceChildren(h("h2", {}, "TAXII 2.1 collections"), sortableTable([
      { key: "Title", label: "title" },
      { key: "Description", label: "description", wrap: true },
      { key: "ID", label: "id", render: c => h("span", { class: "mono" }, c.ID) },
      { key: "CanRead", label: "read", render: c => c.CanRead ? "yes" : "no" },
      { key: "CanWrite", label: "write", render: c => c.CanWrite ? "yes" : "no" },
      { key: "url", label: "objects URL", render: c => h("code", {}, `/taxii2/api/collections/${c.ID}/objects/`) },
    ], res.collections || [], null, "collections-table"));
    imp.replaceChildren(importForm(me, res.collections || [], load));
  };
  search.addEventListener("keydown", (e) => { if (e.key === "Enter") load(); });
  view.append(h("h1", {}, "Threat intelligence"),
    h("div", { class: "filters" }, h("label", {}, "search by value", search),
      h("button", { type: "button", class: "primary", id: "intel-go", onclick: load }, "Search")),
    out, colls, imp);
  await load();
}

// sightingsOf shows sightings per country, most first: "FR 3 · NL 1".
function sightingsOf(m) {
  const e = Object.entries(m || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return e.length ? e.map(([c, n]) => `${c} ${n}`).join(" · ") : "—";
}

// patternValues shows a STIX pattern with its quoted values as pivots.
function patternValues(p) {
  const parts = [];
  let last = 0;
  for (const m of p.matchAll(/'((?:[^'\\]|\\.)*)'/g)) {
    parts.push(p.slice(last, m.index + 1), pivot(m[1]), "'");
    last = m.index + m[0].length;
  }
  parts.push(p.slice(last));
  return h("code", {}, parts);
}

function importForm(me, collections, reload) {
  const writable = collections.filter(c => c.CanWrite);
  if (!me || me.operator || me.role === "viewer" || me.role === "analyst" || !writable.length) {
    return h("p", { class: "muted" }, "Importing intelligence needs a member's admin and a collection the member may write to.");
  }
  const coll = select("import-collection", writable.map(c => [c.ID, c.Title]));
  const kind = select("import-kind", [["", "detect"], ["stix", "STIX 2.1 bundle"], ["misp", "MISP event"]]);
  const level = select("import-tlp", [["TLP:GREEN", "TLP:GREEN"], ["TLP:CLEAR", "TLP:CLEAR"], ["TLP:AMBER", "TLP:AMBER"], ["TLP:AMBER+STRICT", "TLP:AMBER+STRICT"], ["TLP:RED", "TLP:RED"]]);
  const file = h("input", { type: "file", id: "import-file", accept: ".json,application/json" });
  const text = h("textarea", { id: "import-text", placeholder: "…or paste a STIX bundle or MISP event (JSON)" });
  const report = h("div", { id: "import-report" });
  const go = async () => {
    const body = file.files.length ? await file.files[0].text() : text.value;
    const q = new URLSearchParams({ collection: coll.value, kind: kind.value, tlp: level.value });
    const res = await guard(() => api("POST", `/web/intel/import?${q}`, body, { type: "application/json" }));
    if (!res) return;
    flash(`${res.stored} objects stored, ${(res.refused || []).length} refused, ${(res.skipped || []).length} skipped`, true);
    report.replaceChildren(...(res.refused || []).map(f => h("div", { class: "error" }, `refused ${f.id}: ${f.message}`)),
      ...(res.skipped || []).map(s => h("div", { class: "muted" }, `skipped ${s}`)));
    reload();
  };
  return h("div", {}, h("h2", {}, "Import"),
    h("div", { class: "filters" }, h("label", {}, "collection", coll), h("label", {}, "format", kind),
      h("label", {}, "TLP of unmarked MISP data", level), h("label", {}, "file", file)),
    text, h("div", { class: "actions" }, h("button", { type: "button", class: "primary", id: "import-go", onclick: go }, "Import")), report);
}
