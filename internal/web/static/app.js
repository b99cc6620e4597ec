// The xsoc console: one page, hash routes, plain ES modules. Every value
// from the server reaches the page as text (h() sets textContent, never
// innerHTML), so event fields, rule titles and indicator values cannot
// inject markup or script.

import { clear, api, session, flash, takeFlash } from "./lib.js";
import { dashboard } from "./dashboard.js";
import { alertsPage, alertPage } from "./alerts.js";
import { incidentsPage, incidentPage } from "./incidents.js";
import { mapPage } from "./map.js";
import { intelPage } from "./intel.js";
import { huntPage, rulesPage } from "./tools.js";
import { membersPage, usersPage } from "./admin.js";

const routes = [
  [/^#\/dashboard$/, dashboard],
  [/^#\/map$/, mapPage],
  [/^#\/alerts$/, alertsPage],
  [/^#\/alerts\/([^/]+)$/, alertPage],
  [/^#\/incidents$/, incidentsPage],
  [/^#\/incidents\/([^/]+)$/, incidentPage],
  [/^#\/hunt$/, huntPage],
  [/^#\/intel$/, intelPage],
  [/^#\/rules$/, rulesPage],
  [/^#\/members$/, membersPage],
  [/^#\/users$/, usersPage],
];

// cleanup is the current page's teardown (closing its live stream).
let cleanup = null;

async function route() {
  const hash = location.hash.split("?")[0] || "#/dashboard";
  if (cleanup) { cleanup(); cleanup = null; }
  flash(...takeFlash());
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", hash.startsWith(a.getAttribute("href")));
  }
  const view = document.getElementById("view");
  clear(view);
  for (const [re, page] of routes) {
    const m = hash.match(re);
    if (m) {
      try {
        cleanup = (await page(view, ...m.slice(1).map(decodeURIComponent))) || null;
      } catch (e) {
        flash(e.message || String(e));
      }
      return;
    }
  }
  location.hash = "#/dashboard";
}

async function start() {
  const s = await session();
  if (!s) return;
  document.body.classList.toggle("operator", !!s.operator);
  document.body.classList.toggle("admin", s.role === "admin" || s.role === "platform-admin");
  const who = s.operator ? `${s.user} · platform admin` : `${s.user} · ${s.member.name} (${s.member.country}) · ${s.role}`;
  document.getElementById("who").textContent = who;
  document.getElementById("logout").addEventListener("click", async () => {
    await api("POST", "/logout");
    location.href = "/login";
  });
  window.addEventListener("hashchange", route);
  if (!location.hash) location.hash = "#/dashboard";
  route();
}

start();
