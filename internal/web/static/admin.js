// Administration: member organisations with their API keys and the
// federation's status (platform admins), and console accounts (a member's
// admins for their member, platform admins for everyone).

import { h, api, guard, flash, fmtTime, tlpBadge, sortableTable, select, currentSession } from "./lib.js";

// secretBox shows a key or password the node made, once: it is not stored
// readable anywhere, so the page says so.
function secretBox(what, value, note) {
  return h("div", { class: "panel secret", id: "secret" },
    h("strong", {}, what), " ", h("code", { id: "secret-value" }, value),
    h("div", { class: "muted" }, note || "Store it now: it is not shown again."));
}

// confirmButton acts on the second click: the first one asks.
function confirmButton(label, ask, id, action) {
  const b = h("button", { type: "button", id }, label);
  let armed = false;
  b.addEventListener("click", async () => {
    if (!armed) { armed = true; b.textContent = ask; b.classList.add("danger"); return; }
    b.disabled = true;
    await action();
  });
  return b;
}

// membersPage lists the member organisations with their keys and users,
// adds members, and shows the federation's status (platform admins).
export async function membersPage(view) {
  const res = await api("GET", "/api/v1/members");
  const users = await api("GET", "/web/users").catch(() => ({ users: [] }));
  const secret = h("div");
  const reload = async (keep) => { view.replaceChildren(); await membersPage(view); if (keep) view.querySelector("#member-secret").replaceChildren(keep); };
  const rotate = m => confirmButton("rotate key", "confirm: revoke every key of " + m.id, `rotate-${m.id}`, () => guard(async () => {
    const out = await api("POST", `/api/v1/members/${encodeURIComponent(m.id)}/rotate-key`);
    secret.replaceChildren(secretBox(`New API key of ${m.id}:`, out.api_key, out.note));
    flash(`${m.id}: new API key made; every earlier key of the member is revoked`, true);
  }));
  secret.id = "member-secret";
  view.append(h("h1", {}, "Members"), secret, sortableTable([
    { key: "id", label: "id" }, { key: "name", label: "name" }, { key: "country", label: "country" },
    { key: "sector", label: "sector" }, { key: "public", label: "public", render: m => m.public ? "public" : "private" },
    { key: "alert_tlp", label: "shares alerts at", render: m => tlpBadge(m.alert_tlp || "TLP:AMBER") },
    { key: "client_of", label: "client of", render: m => (m.client_of || []).join(", ") },
    { key: "users", label: "users", render: m => users.users.filter(u => u.member === m.id).map(u => `${u.name} (${u.role})`).join(", ") },
    { key: "created", label: "since", render: m => fmtTime(m.created) },
    { key: "key", label: "API key", render: rotate },
  ], res.members || [], null, "members-table"));

  const f = {
    id: h("input", { id: "new-member-id", size: 14, placeholder: "e.g. be-cert" }),
    name: h("input", { id: "new-member-name", size: 22 }),
    country: h("input", { id: "new-member-country", size: 3, placeholder: "BE" }),
    sector: h("input", { id: "new-member-sector", size: 16, placeholder: "e.g. energy" }),
    pub: h("input", { type: "checkbox", id: "new-member-public" }),
  };
  view.append(h("h2", {}, "Add a member"), h("div", { class: "filters" },
    h("label", {}, "id", f.id), h("label", {}, "name", f.name), h("label", {}, "country", f.country),
    h("label", {}, "sector", f.sector), h("label", {}, "public body", f.pub),
    h("button", { type: "button", class: "primary", id: "add-member", onclick: () => guard(async () => {
      const out = await api("POST", "/api/v1/members", { id: f.id.value.trim(), name: f.name.value.trim(),
        country: f.country.value.trim().toUpperCase(), sector: f.sector.value.trim(), public: f.pub.checked });
      await reload(secretBox(`API key of ${out.member.id}:`, out.api_key, out.note));
      flash(`member ${out.member.id} added`, true);
    }) }, "Add member")));

  const fed = h("pre", { id: "federation" }, "loading…");
  view.append(h("h2", {}, "Federation"), h("p", { class: "muted" }, "This node's federation links, consumer lag and early-warning counters."), fed);
  api("GET", "/api/v1/federation/status")
    .then(s => { fed.textContent = JSON.stringify(s, null, 2); })
    .catch(e => { fed.textContent = e.message; });
}

// usersPage lists the console accounts the admin manages, adds accounts,
// disables and enables them, and resets passwords.
export async function usersPage(view) {
  const me = currentSession();
  const res = await api("GET", "/web/users");
  const secret = h("div", { id: "user-secret" });
  const redraw = async (box) => { view.replaceChildren(); await usersPage(view); if (box) view.querySelector("#user-secret").replaceChildren(box); };
  const act = (u, path, ok) => guard(async () => {
    const out = await api("POST", `/web/users/${encodeURIComponent(u.name)}/${path}`);
    await redraw(out.password ? secretBox(`New password of ${u.name}:`, out.password, out.note) : null);
    flash(ok, true);
  });
  const actions = u => h("span", { class: "actions" },
    u.disabled
      ? h("button", { type: "button", id: `enable-${u.name}`, onclick: () => act(u, "enable", `${u.name} enabled`) }, "enable")
      : h("button", { type: "button", id: `disable-${u.name}`, disabled: u.name === me.user, onclick: () => act(u, "disable", `${u.name} disabled: its sessions have ended`) }, "disable"),
    confirmButton("reset password", "confirm: new password", `reset-${u.name}`, () => act(u, "password", `${u.name}: new password made, sessions ended`)));
  view.append(h("h1", {}, "Users ", h("span", { class: "muted" }, me.operator ? "· every member" : `· ${me.member.name}`)), secret,
    sortableTable([
      { key: "name", label: "name" }, { key: "member", label: "member", render: u => u.member || "(platform)" },
      { key: "role", label: "role" }, { key: "created", label: "created", render: u => fmtTime(u.created) },
      { key: "disabled", label: "state", render: u => u.disabled ? `disabled since ${fmtTime(u.disabled)}` : "active", sort: u => !!u.disabled },
      { key: "act", label: "", render: actions },
    ], res.users || [], null, "users-table"));

  const roles = ["viewer", "analyst", "admin", ...(me.operator ? ["platform-admin"] : [])];
  const name = h("input", { id: "new-user-name", size: 22, placeholder: "e.g. alice@fr-cert" });
  const role = select("new-user-role", roles.map(r => [r, r]), "analyst");
  let member = null;
  if (me.operator) {
    const ms = await api("GET", "/api/v1/members").catch(() => ({ members: [] }));
    member = select("new-user-member", [["", "(none: platform admin)"], ...(ms.members || []).map(m => [m.id, `${m.id} (${m.country})`])], "");
  }
  view.append(h("h2", {}, "Add a user"), h("div", { class: "filters" },
    h("label", {}, "name", name), h("label", {}, "role", role), member ? h("label", {}, "member", member) : null,
    h("button", { type: "button", class: "primary", id: "add-user", onclick: () => guard(async () => {
      const out = await api("POST", "/web/users", { name: name.value.trim(), role: role.value, member: member ? member.value : "" });
      await redraw(secretBox(`Password of ${out.user.name}:`, out.password, out.note));
      flash(`user ${out.user.name} added`, true);
    }) }, "Add user")),
    h("p", { class: "muted" }, "The node makes the password; give it to the person, who should keep it in a password manager."));
}
