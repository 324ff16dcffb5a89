// SiKesal playground: the command-centre dashboard link in the top bar and the demo account beside it.
// The dashboard is the real app's (/dashboard/, passed through by the playground's server); the demo
// command-centre account comes from /api/world ("dashboard": {url, username, password}). Its texts are the
// page's (i18n.js: app.js translates every data-i18n element, this menu's too).
"use strict";

(function () {
  const link = document.getElementById("dashboard-link");
  const button = document.getElementById("dashboard-account-btn");
  const menu = document.getElementById("dashboard-menu");
  const username = document.getElementById("dashboard-username");
  const password = document.getElementById("dashboard-password");
  if (!link || !button || !menu || !username || !password) return;

  function openMenu(open) {
    menu.classList.toggle("hidden", !open);
    button.setAttribute("aria-expanded", String(open));
  }

  async function load() {
    const response = await fetch("/api/world");
    const data = await response.json();
    const account = data.ok ? data.result.dashboard : null;
    if (!account) return;
    link.href = account.url;
    username.textContent = account.username;
    password.textContent = account.password;
  }

  button.addEventListener("click", (event) => {
    event.stopPropagation();
    openMenu(menu.classList.contains("hidden"));
  });
  menu.addEventListener("click", (event) => event.stopPropagation());
  document.addEventListener("click", () => openMenu(false));
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") openMenu(false); });
  load().catch(() => {}); // the link works without the account; the next page load tries again
})();
