// SiKesal playground: the bot's clock in the top bar and the "⏩" control that moves it forward
// (POST /api/clock/advance), so reminders, escalations and the resolution question come due now.
// app.js tells this script about the clock (world loads, "clock" events, language changes) with the
// DOM event "playground:clock" {clock, timezone, lang}; the time shown ticks on with real time plus the offset.
"use strict";

(function () {
  const TEXTS = window.PLAYGROUND_TEXTS;
  const C = { clock: null, timezone: null, lang: "id", busy: false };
  const root = document.getElementById("bot-clock");
  const timeNode = document.getElementById("bot-clock-time");
  const aheadNode = document.getElementById("bot-clock-ahead");
  const button = document.getElementById("clock-btn");
  const menu = document.getElementById("clock-menu");
  if (!root || !timeNode || !button || !menu) return;

  function t(key, vars) {
    const table = TEXTS[C.lang] || TEXTS.id;
    let text = table[key] ?? TEXTS.id[key] ?? key;
    if (vars) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
    return text;
  }

  // the bot's time now: the browser's clock plus the bot's offset (both run on real time)
  function botNow() {
    return new Date(Date.now() + (C.clock?.offset_hours || 0) * 3600 * 1000);
  }

  function formatter(options) {
    const locale = C.lang === "id" ? "id-ID" : "en-GB";
    try {
      return new Intl.DateTimeFormat(locale, { ...options, timeZone: C.timezone?.name || undefined });
    } catch (e) { // an unknown zone name: the browser's own zone rather than no time at all
      return new Intl.DateTimeFormat(locale, options);
    }
  }

  // "Sen, 30 Nov 15:05 WIB": the city's time written like the cards' ("15:05", never the locale's "15.05")
  function format(date) {
    const day = formatter({ weekday: "short", day: "numeric", month: "short" }).format(date);
    const parts = formatter({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(date);
    const part = (type) => parts.find((p) => p.type === type)?.value || "00";
    return `${day} ${part("hour")}:${part("minute")} ${C.timezone?.label || ""}`.trim();
  }

  function render() {
    if (!C.clock) return;
    const now = botNow();
    timeNode.textContent = format(now);
    timeNode.setAttribute("datetime", now.toISOString());
    const ahead = C.clock.offset_hours || 0;
    aheadNode.classList.toggle("hidden", ahead <= 0);
    aheadNode.textContent = ahead > 0 ? t("clock.ahead", { hours: Math.round(ahead * 10) / 10 }) : "";
    root.classList.toggle("ahead", ahead > 0);
  }

  function toast(text, kind) {
    const host = document.getElementById("toasts");
    if (!host) return;
    const node = document.createElement("div");
    node.className = `toast ${kind}`;
    node.setAttribute("role", "status");
    node.textContent = text;
    host.append(node);
    setTimeout(() => node.classList.add("leaving"), 2600);
    setTimeout(() => node.remove(), 3000);
  }

  function openMenu(open) {
    menu.classList.toggle("hidden", !open);
    button.setAttribute("aria-expanded", String(open));
  }

  async function advance(step) {
    if (C.busy) return;
    C.busy = true;
    openMenu(false);
    try {
      const response = await fetch("/api/clock/advance", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ hours: Number(step.dataset.hours) }),
      });
      const data = await response.json().catch(() => ({ ok: false, error: response.statusText }));
      if (!data.ok) throw new Error(data.error || response.statusText);
      C.clock = data.result;
      render();
      toast(t("clock.done", { step: step.textContent, time: timeNode.textContent }), "info");
    } catch (error) {
      toast(t("error", { error: error.message || String(error) }), "error");
    } finally {
      C.busy = false;
    }
  }

  document.addEventListener("playground:clock", (event) => {
    const { clock, timezone, lang } = event.detail || {};
    if (clock) C.clock = clock;
    if (timezone) C.timezone = timezone;
    if (lang) C.lang = lang;
    render();
  });
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    openMenu(menu.classList.contains("hidden"));
  });
  menu.addEventListener("click", (event) => {
    event.stopPropagation();
    const step = event.target.closest(".clock-step");
    if (step) advance(step);
  });
  document.addEventListener("click", () => openMenu(false));
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") openMenu(false); });
  setInterval(render, 15_000);
})();
