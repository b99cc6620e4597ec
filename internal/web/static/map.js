// The Europe map: EU member states coloured by the alerts the viewer may
// see, cross-border incidents drawn as links between the countries they
// touch, and a click on a country listing its members' visible alerts.
// Geometry: Natural Earth 1:50m (world-atlas), projected with d3-geo.

import { h, api, guard, fmtTime, sevBadge, sortableTable } from "./lib.js";

// EU member states: ISO 3166-1 numeric (world-atlas ids) to alpha-2.
const eu = {
  "040": "AT", "056": "BE", "100": "BG", "196": "CY", "203": "CZ", "276": "DE", "208": "DK", "233": "EE", "724": "ES",
  "246": "FI", "250": "FR", "300": "GR", "191": "HR", "348": "HU", "372": "IE", "380": "IT", "440": "LT", "442": "LU",
  "428": "LV", "470": "MT", "528": "NL", "616": "PL", "620": "PT", "642": "RO", "752": "SE", "705": "SI", "703": "SK",
};

const svgNS = "http://www.w3.org/2000/svg";

function s(tag, attrs, ...children) {
  const el = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// The map's colours: no alerts, then five steps of activity.
const ramp = ["#1d2b3a", "#2b4a6b", "#2f6aa3", "#d9a53b", "#f2763d", "#e5484d"];

let topology = null;

async function geometry() {
  if (!topology) {
    const r = await fetch("/static/vendor/countries-50m.json");
    topology = await r.json();
  }
  return window.topojson.feature(topology, topology.objects.countries).features;
}

export async function mapPage(view) {
  const width = 900, height = 760;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, id: "europe", role: "img", "aria-label": "Map of the EU member states" });
  const side = h("div", { id: "country-panel", class: "panel" }, h("p", { class: "muted" }, "Click a member state to list its members' alerts you may see."));
  const legend = h("div", { class: "legend muted" });
  view.append(h("h1", {}, "Europe ", h("span", { class: "muted" }, "· alerts of the last 24 hours, cross-border incidents")),
    h("div", { class: "grid2" }, h("div", { id: "map", class: "panel" }, svg, legend), side));

  const [features, sum, incidents] = await Promise.all([geometry(), api("GET", "/web/summary?hours=24"),
    api("GET", "/api/v1/incidents?cross_border=true&limit=200")]);
  const byCountry = {}, membersOf = {};
  for (const g of sum.groups || []) {
    const c = sum.countries[g.member];
    if (c) byCountry[c] = (byCountry[c] || 0) + g.count;
  }
  for (const [m, c] of Object.entries(sum.countries)) (membersOf[c] = membersOf[c] || []).push(m);
  const max = Math.max(1, ...Object.values(byCountry));
  const colour = (n) => n ? ramp[1 + Math.min(4, Math.floor(4 * Math.log1p(n) / Math.log1p(max)))] : ramp[0];

  const projection = window.d3.geoAzimuthalEqualArea().rotate([-12, -52]);
  projection.fitExtent([[10, 10], [width - 10, height - 10]],
    { type: "MultiPoint", coordinates: [[-10, 35], [33, 35], [-10, 70], [33, 70], [12, 71], [12, 34]] });
  const path = window.d3.geoPath(projection);
  const centres = {};
  const land = s("g", {});
  for (const f of features) {
    const cc = eu[f.id];
    const d = path(f);
    if (!d) continue;
    const n = cc ? byCountry[cc] || 0 : 0;
    const el = s("path", { d, class: cc ? "country eu" : "country", fill: cc ? colour(n) : "#141c25", "data-country": cc || "" },
      s("title", {}, cc ? `${f.properties.name} (${cc}): ${n} alerts` : f.properties.name));
    if (cc) {
      el.addEventListener("click", () => showCountry(side, cc, f.properties.name, membersOf[cc] || []));
      centres[cc] = centreOf(f, path);
    }
    land.append(el);
  }
  svg.append(land);

  const links = s("g", {});
  for (const inc of incidents.incidents || []) {
    const cs = (inc.countries || []).filter(c => centres[c]);
    for (let i = 0; i < cs.length; i++) {
      for (let j = i + 1; j < cs.length; j++) {
        const [a, b] = [centres[cs[i]], centres[cs[j]]];
        const mx = (a[0] + b[0]) / 2, my = (a[1] + b[1]) / 2 - Math.hypot(b[0] - a[0], b[1] - a[1]) / 4;
        const link = s("path", { d: `M${a[0]},${a[1]} Q${mx},${my} ${b[0]},${b[1]}`, class: "link", "data-incident": inc.id },
          s("title", {}, `${inc.title} (${inc.severity}, ${inc.status})`));
        link.addEventListener("click", () => { location.hash = `#/incidents/${encodeURIComponent(inc.id)}`; });
        links.append(link);
      }
    }
  }
  svg.append(links);
  for (const [cc, [x, y]] of Object.entries(centres)) {
    if (byCountry[cc]) svg.append(s("text", { x, y, class: "map-label", "text-anchor": "middle" }, `${cc} ${byCountry[cc]}`));
  }
  legend.append("alerts: ", ...ramp.map((c, i) => h("span", { class: `swatch swatch-${i}` })), ` 0 … ${max}; `,
    `${links.childNodes.length} cross-border links`);
}

// centreOf is a country's label point: the centroid of its largest
// polygon, so that France sits in Europe and not off Guiana.
function centreOf(f, path) {
  const g = f.geometry;
  if (g.type !== "MultiPolygon") return path.centroid(f);
  let best = null, area = -1;
  for (const coords of g.coordinates) {
    const part = { type: "Feature", geometry: { type: "Polygon", coordinates: coords } };
    const a = path.area(part);
    if (a > area) { area = a; best = part; }
  }
  return path.centroid(best);
}

async function showCountry(side, cc, name, members) {
  side.replaceChildren(h("h2", {}, `${name} (${cc})`));
  if (!members.length) {
    side.append(h("p", { class: "muted" }, "No member organisation in this country."));
    return;
  }
  side.append(h("p", { class: "muted" }, `members: ${members.join(", ")}`));
  const page = await guard(() => api("GET", `/api/v1/alerts?member=${encodeURIComponent(members.join(","))}&limit=100`));
  if (!page) return;
  side.append(sortableTable([
    { key: "detected", label: "detected", render: a => fmtTime(a.detected) },
    { key: "severity", label: "severity", render: a => sevBadge(a.severity) },
    { key: "member", label: "member" },
    { key: "rule_title", label: "rule", wrap: true },
  ], page.alerts || [], a => { location.hash = `#/alerts/${encodeURIComponent(a.id)}`; }, "country-alerts"));
}
