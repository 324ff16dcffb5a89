// SiKesal playground page: Telegram-like and WhatsApp-like chats on top of the playground's JSON/event API (/api/...).
// Vanilla JS, no build step, nothing loaded from outside this server. Bot and user content is never
// inserted as HTML: formatted text is rebuilt element by element (see sanitizeHTML / renderEntities).
"use strict";

(function () {
  const TEXTS = window.PLAYGROUND_TEXTS;
  const S = {
    lang: localStorage.getItem("sikesal.playground.lang") === "en" ? "en" : "id",
    world: null,
    chats: new Map(), // chat id -> chat state
    open: [], // chat ids shown as panes (desktop)
    mobileChat: null, // chat id shown on narrow screens
    resetting: false,
    connectedOnce: false,
    reloadTimer: null,
  };
  const mobileQuery = window.matchMedia("(max-width: 760px)");
  const $ = (sel, root = document) => root.querySelector(sel);

  // -- texts ------------------------------------------------------------------------------------------

  function t(key, vars) {
    const table = TEXTS[S.lang] || TEXTS.id;
    let text = table[key] ?? TEXTS.id[key] ?? key;
    if (vars) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
    return text;
  }

  function applyStaticTexts() {
    document.documentElement.lang = S.lang;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    document.querySelectorAll("[data-i18n-html]").forEach((el) => {
      el.replaceChildren(sanitizeHTML(t(el.dataset.i18nHtml)));
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
    document.querySelectorAll("[data-i18n-title]").forEach((el) => {
      el.title = t(el.dataset.i18nTitle);
      el.setAttribute("aria-label", el.title);
    });
    document.querySelectorAll(".lang-toggle button").forEach((b) => b.classList.toggle("active", b.dataset.lang === S.lang));
  }

  // -- small DOM helpers ------------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "style") for (const [prop, v] of Object.entries(value)) node.style.setProperty(prop, String(v));
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function toast(text, kind = "info", root = document.getElementById("toasts")) {
    const node = el("div", { class: `toast ${kind}`, role: "status", text });
    root.append(node);
    setTimeout(() => node.classList.add("leaving"), 2600);
    setTimeout(() => node.remove(), 3000);
  }

  function showAlert(text) {
    const modal = document.getElementById("modal");
    $("#modal-text").textContent = text;
    modal.classList.remove("hidden");
    $("#modal-ok").focus();
  }

  async function api(path, body) {
    const options = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    };
    const response = await fetch(path, options);
    let data;
    try { data = await response.json(); } catch (e) { throw new Error(response.statusText || "HTTP " + response.status); }
    if (!data.ok) throw new Error(data.error || response.statusText);
    return data.result;
  }

  function fail(error) {
    toast(t("error", { error: error.message || String(error) }), "error");
  }

  // -- formatting: Telegram HTML (allow-list) and entities ---------------------------------------------

  const TAGS = {
    B: "b", STRONG: "b", I: "i", EM: "i", U: "u", INS: "u", S: "s", STRIKE: "s", DEL: "s",
    CODE: "code", PRE: "pre", A: "a", BLOCKQUOTE: "blockquote", "TG-SPOILER": "spoiler",
  };

  function safeHref(href) {
    if (!href) return null;
    try {
      const url = new URL(href); // absolute URLs only: a relative one throws
      if (["http:", "https:", "tg:", "mailto:"].includes(url.protocol)) return url.href;
    } catch (e) { /* not a URL */ }
    return null;
  }

  function linkNode(href, children) {
    const safe = safeHref(href);
    if (!safe) return el("span", { class: "link-dead" }, children);
    return el("a", { href: safe, target: "_blank", rel: "noopener noreferrer" }, children);
  }

  // Parse with an inert DOMParser document (scripts never run there), then rebuild only allowed
  // elements; everything else becomes plain text. Nothing of the input is assigned as HTML.
  function sanitizeHTML(html) {
    const doc = new DOMParser().parseFromString(`<!doctype html><body>${html}`, "text/html");
    const fragment = document.createDocumentFragment();
    const walk = (source, target) => {
      for (const node of source.childNodes) {
        if (node.nodeType === Node.TEXT_NODE) { target.append(document.createTextNode(node.data)); continue; }
        if (node.nodeType !== Node.ELEMENT_NODE) continue;
        const name = node.tagName.toUpperCase();
        if (name === "BR") { target.append(document.createTextNode("\n")); continue; }
        let kind = TAGS[name];
        if (name === "SPAN" && node.classList.contains("tg-spoiler")) kind = "spoiler";
        if (!kind) { walk(node, target); continue; } // unknown tag: keep its text only
        let out;
        if (kind === "a") out = linkNode(node.getAttribute("href"), []);
        else if (kind === "spoiler") out = el("span", { class: "spoiler", title: "spoiler", onclick: (e) => e.currentTarget.classList.add("revealed") });
        else out = document.createElement(kind);
        walk(node, out);
        target.append(out);
      }
    };
    walk(doc.body, fragment);
    return fragment;
  }

  const ENTITY_TAGS = { bold: "b", italic: "i", underline: "u", strikethrough: "s", code: "code", pre: "pre", blockquote: "blockquote", expandable_blockquote: "blockquote" };

  // Plain text plus MessageEntity list (offsets in UTF-16 units, like JS strings).
  function renderEntities(text, entities) {
    const fragment = document.createDocumentFragment();
    if (!entities || !entities.length) { fragment.append(document.createTextNode(text)); return fragment; }
    const cuts = new Set([0, text.length]);
    for (const e of entities) { cuts.add(e.offset); cuts.add(Math.min(text.length, e.offset + e.length)); }
    const points = [...cuts].filter((p) => p >= 0 && p <= text.length).sort((a, b) => a - b);
    for (let k = 0; k + 1 < points.length; k++) {
      const [start, end] = [points[k], points[k + 1]];
      const piece = text.slice(start, end);
      let node = document.createTextNode(piece);
      for (const e of entities) {
        if (e.offset > start || e.offset + e.length < end) continue;
        if (ENTITY_TAGS[e.type]) node = el(ENTITY_TAGS[e.type], {}, node);
        else if (e.type === "text_link") node = linkNode(e.url, [node]);
        else if (e.type === "url") node = linkNode(/^[a-z]+:\/\//i.test(piece) ? piece : "https://" + piece, [node]);
        else if (e.type === "spoiler") node = el("span", { class: "spoiler" }, node);
        else if (e.type === "bot_command" || e.type === "mention" || e.type === "hashtag") node = el("span", { class: "entity" }, node);
      }
      fragment.append(node);
    }
    return fragment;
  }

  function formatted(message, caption) {
    const html = caption ? message.caption_html : message.html;
    const text = caption ? message.caption : message.text;
    const entities = caption ? message.caption_entities : message.entities;
    if (message.from_bot && html != null && String(message.parse_mode || "").toLowerCase() === "html") return sanitizeHTML(html);
    return renderEntities(text || "", entities || []);
  }

  // -- chats --------------------------------------------------------------------------------------------

  function chatKey(chat) { return String(chat.id); }

  function ensureChat(spec) {
    let chat = S.chats.get(spec.id);
    if (!chat) {
      chat = { messages: new Map(), keyboard: null, replyTo: null, unread: 0, pane: null, panel: null, shareMode: false };
      S.chats.set(spec.id, chat);
    }
    Object.assign(chat, spec);
    if (!chat.actors.some((a) => a.user_id === chat.actorId)) chat.actorId = chat.actors[0]?.user_id;
    return chat;
  }

  function actorName(chat) {
    return chat.actors.find((a) => a.user_id === chat.actorId)?.name || "";
  }

  function isVisible(chat) {
    if (document.hidden) return false;
    return mobileQuery.matches ? S.mobileChat === chat.id : S.open.includes(chat.id);
  }

  async function loadWorld() {
    const world = await api("/api/world");
    S.world = world;
    clockChanged(world.clock);
    const ids = new Set();
    for (const c of world.citizens) {
      ensureChat({ id: c.chat_id, kind: "citizen", channel: c.channel || "telegram", number: c.number, title: c.name, actors: [{ user_id: c.user_id, name: c.name }] });
      ids.add(c.chat_id);
    }
    for (const g of world.groups) {
      ensureChat({ id: g.chat_id, kind: "group", title: g.title, agency: g.agency, short: g.short, names: g.name, actors: g.staff });
      ids.add(g.chat_id);
    }
    for (const id of [...S.chats.keys()]) if (!ids.has(id)) { S.chats.get(id).pane?.root.remove(); S.chats.delete(id); }
    S.open = S.open.filter((id) => ids.has(id));
    if (!S.open.length) {
      const first = world.citizens[0];
      const pupr = world.groups.find((g) => g.agency === "pupr") || world.groups[0];
      S.open = [first?.chat_id, pupr?.chat_id].filter((id) => id !== undefined);
    }
    if (S.mobileChat !== null && !ids.has(S.mobileChat)) closeMobile();
    const settled = S.resetting && world.ready; // the world was (re)built while we waited
    S.resetting = !world.ready;
    setOverlay(world.ready ? null : t(S.connectedOnce && S.wasReset ? "resetting" : "starting"));
    renderSidebar();
    renderPanes();
    await Promise.all([...S.chats.values()].map(loadChat));
    if (settled) clearUnread(); // the groups' linking messages are setup, not news for anyone
  }

  function clearUnread() {
    for (const chat of S.chats.values()) { chat.unread = 0; updateSidebarItem(chat); }
  }

  function scheduleWorldReload() {
    clearTimeout(S.reloadTimer);
    S.reloadTimer = setTimeout(() => loadWorld().catch(fail), 80);
  }

  async function loadChat(chat) {
    if (chat.channel === "whatsapp") return loadWaChat(chat);
    const state = await api(`/api/chats/${chat.id}`);
    if (S.chats.get(chat.id) !== chat) return;
    chat.messages = new Map(state.messages.map((m) => [m.message_id, m]));
    chat.keyboard = state.reply_keyboard;
    renderMessages(chat);
    renderKeyboard(chat);
    updateSidebarItem(chat);
  }

  // -- live events -------------------------------------------------------------------------------------

  function connect() {
    const source = new EventSource("/api/events");
    source.onopen = () => {
      setConnected(true);
      S.connectedOnce = true;
      loadWorld().catch(fail); // (re)sync: nothing missed while disconnected
    };
    source.onerror = () => setConnected(false);
    source.onmessage = (event) => {
      let data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      handleEvent(data);
    };
  }

  // The bot's clock control lives in clock.js; it hears about the clock (and the city's zone) from here.
  function clockChanged(clock) {
    document.dispatchEvent(new CustomEvent("playground:clock", { detail: { clock, timezone: S.world?.timezone, lang: S.lang } }));
  }

  function setConnected(live) {
    const node = document.getElementById("conn");
    node.classList.toggle("live", live);
    node.dataset.i18nTitle = live ? "conn.live" : "conn.lost";
    node.title = t(node.dataset.i18nTitle);
  }

  function handleEvent(event) {
    if (event.type === "reset") {
      S.wasReset = true;
      S.resetting = true;
      for (const chat of S.chats.values()) { chat.messages.clear(); chat.keyboard = null; chat.replyTo = null; renderReplyBar(chat); }
      clearUnread();
      setOverlay(t("resetting"));
      return;
    }
    if (event.type === "world") { scheduleWorldReload(); return; }
    if (event.type === "clock") { clockChanged(event); return; }
    if (event.type === "wa_message") { onWaMessage(event); return; }
    if (event.type === "message" || event.type === "edit") {
      const chat = S.chats.get(event.chat_id);
      if (!chat) { if (S.world && !isKnownPrivateOfStaff(event.chat_id)) scheduleWorldReload(); return; }
      const isNew = !chat.messages.has(event.message.message_id);
      chat.messages.set(event.message.message_id, event.message);
      chat.keyboard = event.reply_keyboard;
      renderOne(chat, event.message, isNew);
      renderKeyboard(chat);
      if (isNew) onNewMessage(chat, event.message);
      updateSidebarItem(chat);
      return;
    }
    if (event.type === "delete") {
      const chat = S.chats.get(event.chat_id);
      if (!chat) return;
      chat.messages.delete(event.message_id);
      chat.pane?.list.querySelector(`[data-msg-id="${event.message_id}"]`)?.remove();
      updateSidebarItem(chat);
    }
  }

  function isKnownPrivateOfStaff(chatId) {
    return (S.world?.groups || []).some((g) => g.staff.some((s) => s.user_id === chatId));
  }

  function onNewMessage(chat, message) {
    if (!isVisible(chat) && !S.resetting) { // what the bot says while the world is rebuilt is no news
      chat.unread += 1;
      // a new card (a bot message with buttons) in a closed group opens it on wide screens
      if (chat.kind === "group" && message.from_bot && message.reply_markup?.inline_keyboard && !mobileQuery.matches && !S.resetting) {
        openChat(chat.id, { focus: false });
      }
    }
    const markup = message.reply_markup || {};
    if (message.from_bot && markup.force_reply) {
      setReplyTo(chat, message);
    }
  }

  // -- sidebar -----------------------------------------------------------------------------------------

  function avatar(chat) {
    const letters = chat.kind === "group" ? (chat.short || chat.title).slice(0, 4) : chat.title.slice(0, 1).toUpperCase();
    const hue = (hashId(chat.id) * 47) % 360;
    return el("span", { class: `avatar ${chat.kind}${chat.channel === "whatsapp" ? " whatsapp" : ""}`, style: { "--hue": hue }, "aria-hidden": "true" }, letters);
  }

  // a stable number for a chat id (Telegram ids are numbers, WhatsApp chats are "wa:+62...")
  function hashId(id) {
    if (typeof id === "number") return Math.abs(id);
    let h = 0;
    for (const ch of String(id)) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    return h;
  }

  function preview(message) {
    if (!message) return t("chat.empty");
    const who = message.from_bot ? "" : (message.from?.first_name || "") + ": ";
    return who + snippet(message);
  }

  function snippet(message) {
    if (!message) return "";
    if (message.kind !== undefined && message.sid !== undefined) return waSnippet(message);
    if (message.text) return message.text.slice(0, 80);
    if (message.caption) return "🖼 " + message.caption.slice(0, 70);
    if (message.photo) return "🖼 " + t("kind.photo");
    if (message.location) return "📍 " + placeName(message.location.latitude, message.location.longitude, message.venue);
    if (message.sticker) return (message.sticker.emoji || "") + " " + t("kind.sticker");
    for (const kind of ["voice", "video", "audio", "animation", "video_note", "document", "contact", "poll"]) {
      if (message[kind]) return t("kind." + kind);
    }
    if (isService(message)) return serviceText(message);
    return t("kind.message");
  }

  function renderSidebar() {
    const citizens = document.getElementById("citizen-list");
    const groups = document.getElementById("group-list");
    citizens.replaceChildren();
    groups.replaceChildren();
    for (const chat of S.chats.values()) {
      const item = el("li", { class: "chat-item", dataset: { chatId: chatKey(chat), title: chat.title } });
      const button = el("button", { type: "button", class: "chat-link", onclick: () => openChat(chat.id, { focus: true }) },
        avatar(chat),
        el("span", { class: "chat-item-body" },
          el("span", { class: "chat-item-title" }, chat.title),
          el("span", { class: "chat-item-preview" })),
        el("span", { class: "badge hidden" }));
      item.append(button);
      chat.sideItem = item;
      (chat.kind === "group" ? groups : citizens).append(item);
      updateSidebarItem(chat);
    }
  }

  function updateSidebarItem(chat) {
    if (!chat.sideItem) return;
    if (isVisible(chat)) chat.unread = 0;
    const last = [...chat.messages.values()].at(-1);
    $(".chat-item-preview", chat.sideItem).textContent = preview(last);
    const badge = $(".badge", chat.sideItem);
    badge.textContent = chat.unread > 99 ? "99+" : String(chat.unread);
    badge.classList.toggle("hidden", chat.unread === 0);
    chat.sideItem.classList.toggle("open", S.open.includes(chat.id));
  }

  function openChat(id, { focus }) {
    const chat = S.chats.get(id);
    if (!chat) return;
    if (!S.open.includes(id)) { S.open.push(id); renderPanes(); }
    if (mobileQuery.matches) {
      S.mobileChat = id;
      document.body.classList.add("mobile-chat");
      for (const other of S.chats.values()) other.pane?.root.classList.toggle("mobile-active", other.id === id);
      restoreScroll(chat, chat.savedTop || 0); // a pane shown again starts at the top unless told where
    }
    chat.unread = 0;
    updateSidebarItem(chat);
    if (focus && chat.pane) {
      chat.pane.root.scrollIntoView({ behavior: "smooth", inline: "nearest", block: "nearest" });
      chat.pane.input.focus({ preventScroll: true });
    }
  }

  function closeChat(id) {
    S.open = S.open.filter((x) => x !== id);
    renderPanes();
    const chat = S.chats.get(id);
    if (chat) updateSidebarItem(chat);
  }

  function closeMobile() {
    S.mobileChat = null;
    document.body.classList.remove("mobile-chat");
    for (const chat of S.chats.values()) chat.pane?.root.classList.remove("mobile-active");
  }

  // -- panes -------------------------------------------------------------------------------------------

  function renderPanes() {
    const container = document.getElementById("panes");
    const wanted = S.open.map((id) => S.chats.get(id)).filter(Boolean);
    for (const chat of S.chats.values()) {
      if (!wanted.includes(chat) && chat.pane) { chat.pane.root.remove(); chat.pane = null; }
    }
    // A pane that is moved in the DOM loses its scroll position (browsers reset it to the top), so panes
    // already in place are left alone: opening a third chat only adds one, the others keep where they were.
    wanted.forEach((chat, index) => {
      if (!chat.pane) {
        buildPane(chat);
        renderMessages(chat);
        renderKeyboard(chat);
      } else {
        refreshPaneHeader(chat);
      }
      const root = chat.pane.root;
      const there = container.children[index];
      if (there !== root) {
        const top = root.isConnected ? chat.pane.list.scrollTop : null;
        container.insertBefore(root, there || null); // keeps the order of S.open
        if (top !== null) restoreScroll(chat, top);
      }
      root.classList.toggle("mobile-active", S.mobileChat === chat.id);
      updateSidebarItem(chat);
    });
    for (const chat of S.chats.values()) updateSidebarItem(chat);
  }

  function buildPane(chat) {
    if (chat.channel === "whatsapp") { buildWaPane(chat); return; }
    const root = el("section", { class: `pane ${chat.kind}`, dataset: { chatId: chatKey(chat), chatKind: chat.kind, title: chat.title }, "aria-label": chat.title });
    const header = el("header", { class: "pane-header" });
    const list = el("div", { class: "messages", role: "log", "aria-live": "polite" });
    const toasts = el("div", { class: "pane-toasts" });
    const keyboard = el("div", { class: "reply-kb hidden" });
    const replyBar = el("div", { class: "reply-bar hidden" });
    const panelHost = el("div", { class: "panel-host" });
    const input = el("textarea", { class: "compose-input", rows: "1", dataset: { i18nPlaceholder: "compose.placeholder" }, placeholder: t("compose.placeholder") });
    const sendButton = el("button", { type: "submit", class: "send-btn", dataset: { i18nTitle: "compose.send" }, title: t("compose.send"), "aria-label": t("compose.send") }, "➤");
    const composer = el("form", { class: "composer" },
      el("button", { type: "button", class: "icon-btn attach-photo", dataset: { i18nTitle: "compose.photo" }, title: t("compose.photo"), "aria-label": t("compose.photo"), onclick: () => togglePanel(chat, "photo") }, "📷"),
      el("button", { type: "button", class: "icon-btn attach-location", dataset: { i18nTitle: "compose.location" }, title: t("compose.location"), "aria-label": t("compose.location"), onclick: () => togglePanel(chat, "location") }, "📍"),
      input,
      el("button", { type: "button", class: "icon-btn sticker-btn", dataset: { i18nTitle: "compose.sticker" }, title: t("compose.sticker"), "aria-label": t("compose.sticker"), onclick: () => send(chat, { kind: "sticker", emoji: "😺" }) }, "🙂"),
      sendButton);
    const startBar = el("div", { class: "start-bar hidden" },
      el("p", { class: "hint", dataset: { i18n: "chat.start.hint" } }, t("chat.start.hint")),
      el("button", { type: "button", class: "start-btn", dataset: { i18n: "chat.start" }, onclick: () => send(chat, { kind: "text", text: "/start" }) }, t("chat.start")));
    composer.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      const payload = { kind: "text", text };
      if (chat.replyTo) payload.reply_to = chat.replyTo.message_id;
      input.value = "";
      autosize(input);
      send(chat, payload);
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); composer.requestSubmit(); }
      if (e.key === "Escape") setReplyTo(chat, null);
    });
    input.addEventListener("input", () => autosize(input));
    watchScroll(chat, list); // follow new messages while the list is scrolled to its end
    root.append(header, list, toasts, keyboard, replyBar, panelHost, startBar, composer);
    chat.pane = { root, header, list, toasts, keyboard, replyBar, panelHost, input, composer, startBar };
    refreshPaneHeader(chat);
    renderReplyBar(chat);
  }

  function autosize(input) {
    input.style.height = "auto";
    input.style.height = Math.min(120, input.scrollHeight) + "px";
  }

  function refreshPaneHeader(chat) {
    if (chat.channel === "whatsapp") { refreshWaHeader(chat); return; }
    const pane = chat.pane;
    const subtitle = chat.kind === "group"
      ? (chat.names?.[S.lang] || chat.names?.id || "")
      : t("chat.private");
    const back = el("button", { type: "button", class: "icon-btn back-btn", title: t("chat.back"), "aria-label": t("chat.back"), onclick: closeMobile }, "←");
    const close = el("button", { type: "button", class: "icon-btn close-btn", title: t("chat.close"), "aria-label": t("chat.close"), onclick: () => closeChat(chat.id) }, "✕");
    const info = el("div", { class: "pane-title" }, el("strong", {}, chat.title), el("span", {}, subtitle));
    const parts = [back, avatar(chat), info];
    if (chat.kind === "group") {
      const select = el("select", { class: "actor-select", "aria-label": t("chat.as") },
        chat.actors.map((a) => el("option", { value: String(a.user_id), selected: a.user_id === chat.actorId }, a.name)));
      select.addEventListener("change", () => {
        chat.actorId = Number(select.value);
        renderMessages(chat);
      });
      parts.push(el("label", { class: "actor" }, el("span", {}, t("chat.as")), select));
    }
    parts.push(close);
    pane.header.replaceChildren(...parts);
  }

  function scrollToEnd(chat) {
    const list = chat.pane?.list;
    if (!list) return;
    chat.stick = true;
    requestAnimationFrame(() => { list.scrollTop = list.scrollHeight; });
  }

  // Where the reader was: the end if they were following it, else the same scrollTop.
  function restoreScroll(chat, top) {
    if (chat.stick) { scrollToEnd(chat); return; }
    const list = chat.pane?.list;
    if (!list) return;
    chat.savedTop = top;
    list.scrollTop = top;
    requestAnimationFrame(() => { list.scrollTop = top; });
  }

  // Follow the list: stuck to the end while the reader is there; remember the position otherwise. A list that
  // is not laid out (a hidden pane on a phone) reports 0 and says nothing about where the reader was.
  function watchScroll(chat, list) {
    chat.stick = true;
    list.addEventListener("scroll", () => {
      if (!list.isConnected || list.clientHeight === 0) return;
      chat.stick = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
      chat.savedTop = list.scrollTop;
    });
    list.addEventListener("load", () => { if (chat.stick) scrollToEnd(chat); }, true); // photos change heights
    // a pane that gets narrower (another chat opened beside it) or shorter (a panel opened) re-wraps its
    // messages: one that was following its end stays there
    new ResizeObserver(() => { if (chat.stick && chat.pane?.list === list) list.scrollTop = list.scrollHeight; }).observe(list);
  }

  function renderMessages(chat) {
    if (!chat.pane) return;
    const list = chat.pane.list;
    const top = list.scrollTop;
    list.replaceChildren();
    const messages = [...chat.messages.values()].sort((a, b) => a.message_id - b.message_id);
    if (!messages.length) list.append(el("div", { class: "empty", text: t(chat.channel === "whatsapp" ? "wa.empty" : "chat.empty") }));
    for (const message of messages) list.append(renderMessage(chat, message));
    updateStartBar(chat);
    restoreScroll(chat, top); // a reload of the transcript is not news: the reader stays where they were
  }

  function renderOne(chat, message, isNew) {
    if (!chat.pane) return;
    const list = chat.pane.list;
    const node = renderMessage(chat, message);
    const old = list.querySelector(`[data-msg-id="${message.message_id}"]`);
    if (old) {
      old.replaceWith(node);
      if (chat.channel !== "whatsapp") node.classList.add("flash"); // a status tick changing is no news
    } else {
      $(".empty", list)?.remove();
      const later = [...list.querySelectorAll("[data-msg-id]")].find((n) => Number(n.dataset.msgId) > message.message_id);
      list.insertBefore(node, later || null);
    }
    updateStartBar(chat);
    const mine = !message.from_bot && (chat.channel === "whatsapp" || message.from?.id === chat.actorId);
    if (chat.stick || (isNew && mine)) scrollToEnd(chat);
  }

  function updateStartBar(chat) {
    if (!chat.pane || chat.channel === "whatsapp") return;
    const unstarted = chat.kind === "citizen" && chat.messages.size === 0 && !S.resetting;
    chat.pane.startBar.classList.toggle("hidden", !unstarted);
    chat.pane.composer.classList.toggle("hidden", unstarted);
  }

  const SERVICE_KEYS = ["new_chat_members", "left_chat_member", "migrate_to_chat_id", "migrate_from_chat_id",
    "group_chat_created", "supergroup_chat_created", "new_chat_title", "pinned_message"];

  function isService(message) {
    return SERVICE_KEYS.some((key) => key in message);
  }

  function serviceText(message) {
    const actor = message.from?.first_name || "";
    if (message.new_chat_members) {
      const names = message.new_chat_members.map((u) => u.first_name).join(", ");
      const self = message.new_chat_members.length === 1 && message.new_chat_members[0].id === message.from?.id;
      return self ? t("svc.joined", { names }) : t("svc.added", { actor, names });
    }
    if (message.left_chat_member) return t("svc.left", { name: message.left_chat_member.first_name });
    if (message.migrate_to_chat_id || message.migrate_from_chat_id) return t("svc.migrated");
    return t("svc.other");
  }

  // Bubble times are in the city's time zone (config city.timezone, e.g. Asia/Jakarta = WIB), written like the
  // cards' times ("15:04"), whatever zone the browser is in: staff and citizens compare them with the cards.
  const timeFormats = new Map();

  function cityFormat(options) {
    const zone = S.world?.timezone?.name;
    const key = `${zone || ""}|${S.lang}|${JSON.stringify(options)}`;
    if (!timeFormats.has(key)) {
      let format;
      try {
        format = new Intl.DateTimeFormat(S.lang === "id" ? "id-ID" : "en-GB", { ...options, timeZone: zone || undefined });
      } catch (e) { // an unknown zone name: the browser's own zone rather than no time at all
        format = new Intl.DateTimeFormat(S.lang === "id" ? "id-ID" : "en-GB", options);
      }
      timeFormats.set(key, format);
    }
    return timeFormats.get(key);
  }

  function formatTime(unix) {
    const parts = cityFormat({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date(unix * 1000));
    const part = (type) => parts.find((p) => p.type === type)?.value || "00";
    return `${part("hour")}:${part("minute")}`;
  }

  function formatFullTime(unix) {
    const date = cityFormat({ day: "numeric", month: "short", year: "numeric" }).format(new Date(unix * 1000));
    return `${date} ${formatTime(unix)} ${S.world?.timezone?.label || ""}`.trim();
  }

  function timeNode(unix) {
    return el("time", { class: "time", datetime: new Date(unix * 1000).toISOString(), title: formatFullTime(unix) }, formatTime(unix));
  }

  function placeName(lat, lon, venue) {
    if (venue?.title) return venue.title;
    const places = S.world?.places || [];
    const match = places.find((p) => Math.abs(p.lat - lat) < 0.0006 && Math.abs(p.lon - lon) < 0.0006);
    return match ? match.name : t("location.pin");
  }

  function renderMessage(chat, message) {
    if (chat.channel === "whatsapp") return renderWaMessage(chat, message);
    if (isService(message)) {
      return el("div", { class: "msg service", dataset: { msgId: String(message.message_id) } }, el("span", {}, serviceText(message)));
    }
    const outgoing = !message.from_bot && message.from?.id === chat.actorId;
    const bubble = el("div", { class: "bubble" });
    if (!outgoing && (chat.kind === "group" || !message.from_bot) && message.from) {
      const hue = (Math.abs(Number(message.from.id)) * 67) % 360;
      bubble.append(el("div", { class: "sender", style: { "--hue": hue } }, message.from_bot ? (S.world?.bot?.first_name || "Bot") : message.from.first_name));
    }
    const quoted = message.reply_to_message;
    if (quoted) {
      bubble.append(el("button", {
        type: "button", class: "quote",
        onclick: () => {
          const target = chat.pane?.list.querySelector(`[data-msg-id="${quoted.message_id}"]`);
          if (target) { target.scrollIntoView({ behavior: "smooth", block: "center" }); target.classList.add("flash"); setTimeout(() => target.classList.remove("flash"), 1200); }
        },
      }, el("strong", {}, quoted.from?.first_name || ""), el("span", {}, snippet(quoted))));
    }
    if (message.photo?.length) {
      const largest = message.photo[message.photo.length - 1];
      const src = `/api/files/${encodeURIComponent(largest.file_id)}`;
      bubble.append(el("a", { class: "photo-link", href: src, target: "_blank", rel: "noopener" },
        el("img", { class: "photo", src, alt: t("kind.photo"), loading: "lazy", width: largest.width, height: largest.height })));
    }
    if (message.location) {
      const { latitude, longitude } = message.location;
      bubble.append(el("div", { class: "pin" },
        el("div", { class: "map", "aria-hidden": "true" }, el("span", { class: "pin-dot" }, "📍")),
        el("div", { class: "pin-info" },
          el("strong", {}, placeName(latitude, longitude, message.venue)),
          el("span", { class: "coords" }, `${latitude.toFixed(5)}, ${longitude.toFixed(5)}`),
          message.venue?.address ? el("span", {}, message.venue.address) : null)));
    }
    if (message.sticker) bubble.append(el("div", { class: "sticker", title: t("kind.sticker") }, message.sticker.emoji || "🖼"));
    for (const kind of ["voice", "video", "audio", "animation", "video_note", "document"]) {
      if (message[kind] && !(kind === "document" && message.animation)) {
        const icon = { voice: "🎤", video: "🎬", audio: "🎵", animation: "🎞", video_note: "⏺", document: "📄" }[kind];
        // a document the bot sent (the /dataku JSON) opens from the local server, like a photo
        const name = message[kind].file_name
          ? (kind === "document" && message.from_bot && message[kind].file_id
            ? el("a", { href: `/api/files/${encodeURIComponent(message[kind].file_id)}`, target: "_blank", rel: "noopener",
              download: message[kind].file_name }, message[kind].file_name)
            : message[kind].file_name)
          : null;
        bubble.append(el("div", { class: "file" }, `${icon} ${t("kind." + kind)}`, name ? " · " : "", name || ""));
      }
    }
    if (message.contact) bubble.append(el("div", { class: "file" }, `👤 ${message.contact.first_name} · ${message.contact.phone_number}`));
    if (message.poll) bubble.append(el("div", { class: "file" }, `📊 ${message.poll.question}`));
    if (message.text != null) bubble.append(el("div", { class: "text" }, formatted(message, false)));
    if (message.caption != null) bubble.append(el("div", { class: "text caption" }, formatted(message, true)));
    bubble.append(el("span", { class: "meta" },
      message.edited ? el("span", { class: "edited" }, t("edited")) : null,
      timeNode(message.edit_date && message.edited ? message.edit_date : message.date)));
    const node = el("div", {
      class: `msg ${outgoing ? "out" : "in"}${message.from_bot ? " bot" : ""}${message.edited ? " is-edited" : ""}`,
      dataset: { msgId: String(message.message_id), from: message.from_bot ? "bot" : "user" },
    }, bubble);
    const rows = message.reply_markup?.inline_keyboard;
    if (rows?.length) {
      const keyboard = el("div", { class: "inline-kb" });
      for (const row of rows) {
        keyboard.append(el("div", { class: "kb-row" }, row.map((button) => inlineButton(chat, message, button))));
      }
      node.append(keyboard);
    }
    node.append(el("button", {
      type: "button", class: "reply-action", title: t("reply"), "aria-label": t("reply"),
      onclick: () => { setReplyTo(chat, message); chat.pane?.input.focus(); },
    }, "↩"));
    return node;
  }

  function inlineButton(chat, message, button) {
    if (button.url) {
      const link = linkNode(button.url, [button.text + " ↗"]);
      link.classList.add("kb-btn");
      return link;
    }
    const node = el("button", { type: "button", class: "kb-btn", dataset: { callback: button.callback_data || "" } }, button.text);
    node.addEventListener("click", async () => {
      if (button.callback_data === undefined) return;
      node.disabled = true;
      node.classList.add("pending");
      try {
        const result = await api("/api/press", {
          user_id: chat.actorId, chat_id: chat.id, message_id: message.message_id, callback_data: button.callback_data,
        });
        showAnswer(chat, result.answer);
      } catch (error) {
        fail(error);
      } finally {
        node.disabled = false;
        node.classList.remove("pending");
      }
    });
    return node;
  }

  // the bot's answerCallbackQuery: a toast, or a dialog for show_alert (as Telegram apps do)
  function showAnswer(chat, answer) {
    if (answer?.text) {
      if (answer.show_alert) showAlert(answer.text);
      else toast(answer.text, "info", chat?.pane?.toasts);
    }
    if (answer?.url && safeHref(answer.url)) window.open(safeHref(answer.url), "_blank", "noopener");
  }

  function renderKeyboard(chat) {
    if (!chat.pane) return;
    const host = chat.pane.keyboard;
    const rows = chat.keyboard?.keyboard;
    const stick = chat.stick;
    host.replaceChildren();
    host.classList.toggle("hidden", !rows?.length);
    if (stick) scrollToEnd(chat);
    if (!rows?.length) return;
    for (const row of rows) {
      host.append(el("div", { class: "kb-row" }, row.map((button) => {
        const text = typeof button === "string" ? button : button.text;
        const requestLocation = typeof button === "object" && button.request_location;
        return el("button", {
          type: "button", class: `kb-btn${requestLocation ? " request-location" : ""}`,
          onclick: () => {
            if (requestLocation) togglePanel(chat, "location", { share: true, force: true });
            else send(chat, { kind: "reply_button", text });
          },
        }, text);
      })));
    }
  }

  // -- reply bar ---------------------------------------------------------------------------------------

  function setReplyTo(chat, message) {
    chat.replyTo = message;
    renderReplyBar(chat);
    if (message && chat.pane && isVisible(chat)) chat.pane.input.focus({ preventScroll: true });
  }

  function renderReplyBar(chat) {
    if (!chat.pane) return;
    const bar = chat.pane.replyBar;
    const message = chat.replyTo;
    bar.classList.toggle("hidden", !message);
    if (!message) { bar.replaceChildren(); return; }
    const name = message.from_bot ? (S.world?.bot?.first_name || "Bot") : (message.from?.first_name || "");
    if (chat.channel === "whatsapp") {
      bar.replaceChildren(
        el("div", { class: "reply-info wa-reply-info" }, el("strong", {}, name), el("span", {}, waQuoteText(message))),
        el("button", { type: "button", class: "icon-btn wa-reply-cancel", title: t("reply.cancel"), "aria-label": t("reply.cancel"), onclick: () => setReplyTo(chat, null) }, "✕"));
      return;
    }
    bar.replaceChildren(
      el("span", { class: "reply-icon" }, "↩"),
      el("div", { class: "reply-info" }, el("strong", {}, t("reply.to", { name })), el("span", {}, snippet(message))),
      el("button", { type: "button", class: "icon-btn", title: t("reply.cancel"), "aria-label": t("reply.cancel"), onclick: () => setReplyTo(chat, null) }, "✕"));
  }

  // -- photo and location panels -------------------------------------------------------------------------

  function togglePanel(chat, kind, options = {}) {
    if (!chat.pane) return;
    const host = chat.pane.panelHost;
    const same = chat.panel === kind && chat.shareMode === Boolean(options.share);
    host.replaceChildren();
    if (same && !options.force) { chat.panel = null; return; }
    chat.panel = kind;
    chat.shareMode = Boolean(options.share);
    const stick = chat.stick;
    const panels = { photo: photoPanel, location: locationPanel, attach: waAttachPanel, window: waWindowPanel };
    host.append(panels[kind](chat));
    if (stick) scrollToEnd(chat);
  }

  function closePanel(chat) {
    chat.panel = null;
    chat.pane?.panelHost.replaceChildren();
  }

  function panelFrame(chat, title, ...body) {
    return el("div", { class: "panel" },
      el("div", { class: "panel-head" }, el("strong", {}, title),
        el("button", { type: "button", class: "icon-btn", title: t("panel.close"), "aria-label": t("panel.close"), onclick: () => closePanel(chat) }, "✕")),
      ...body);
  }

  function photoPanel(chat) {
    const caption = el("input", { type: "text", class: "caption-input", placeholder: t("photo.caption"), maxlength: "1024" });
    const sendPhoto = (extra) => {
      const payload = { kind: "photo", caption: caption.value.trim() || undefined, ...extra };
      if (chat.replyTo) payload.reply_to = chat.replyTo.message_id;
      closePanel(chat);
      if (chat.channel === "whatsapp") { delete payload.reply_to; waSend(chat, payload); } else send(chat, payload); // waSend adds WhatsApp's
    };
    const samples = (S.world?.samples || []).map((sample) => el("button", {
      type: "button", class: "sample", dataset: { sample: sample.key }, title: sample.label[S.lang] || sample.label.id,
      onclick: () => sendPhoto({ sample: sample.key }),
    }, el("img", { src: sample.url, alt: "" }), el("span", {}, sample.label[S.lang] || sample.label.id)));
    const file = el("input", { type: "file", accept: "image/*", class: "file-input" });
    file.addEventListener("change", () => {
      const chosen = file.files?.[0];
      if (!chosen) return;
      const reader = new FileReader();
      reader.onload = () => sendPhoto({ data_base64: String(reader.result) });
      reader.onerror = () => fail(reader.error || new Error("read failed"));
      reader.readAsDataURL(chosen);
    });
    return panelFrame(chat, t("photo.title"),
      el("div", { class: "panel-label" }, t("photo.samples")),
      el("div", { class: "samples" }, samples),
      el("label", { class: "upload" }, el("span", {}, t("photo.upload")), file),
      caption);
  }

  function locationPanel(chat) {
    const lat = el("input", { type: "number", step: "any", min: "-90", max: "90", class: "lat-input", placeholder: "-1.6101", "aria-label": t("location.lat") });
    const lon = el("input", { type: "number", step: "any", min: "-180", max: "180", class: "lon-input", placeholder: "103.6131", "aria-label": t("location.lon") });
    const share = (la, lo, place) => {
      if (chat.channel === "whatsapp") {
        closePanel(chat);
        waSend(chat, { kind: "location", lat: la, lon: lo, label: place?.name });
        return;
      }
      const useShare = chat.shareMode && (chat.keyboard?.keyboard || []).some((row) => row.some((b) => typeof b === "object" && b.request_location));
      closePanel(chat);
      send(chat, { kind: useShare ? "share_location" : "location", lat: la, lon: lo });
    };
    const places = (S.world?.places || []).map((place) => el("button", {
      type: "button", class: "place", dataset: { place: place.key }, onclick: () => share(place.lat, place.lon, place),
    }, el("span", {}, "📍 " + place.name,
      place.outside ? el("em", { class: "place-outside" }, t("location.outside", { city: S.world?.city || "" })) : null),
    el("small", {}, `${place.lat.toFixed(4)}, ${place.lon.toFixed(4)}`)));
    const form = el("form", { class: "coords-form" },
      el("label", {}, t("location.lat"), lat), el("label", {}, t("location.lon"), lon),
      el("button", { type: "submit", class: "primary" }, t("location.send")));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const la = Number(lat.value), lo = Number(lon.value);
      if (lat.value === "" || lon.value === "" || Number.isNaN(la) || Number.isNaN(lo)) { lat.focus(); return; }
      share(la, lo);
    });
    return panelFrame(chat, chat.shareMode ? t("location.share.title") : t("location.title"),
      el("div", { class: "panel-label" }, t("location.places")), el("div", { class: "places" }, places), form);
  }

  // -- WhatsApp chats ----------------------------------------------------------------------------------
  // A WhatsApp citizen writes to the bot's Twilio number. The bot answers in plain text with *bold* markers
  // and numbered menus (the citizen types the number or the words); each of the bot's messages carries the
  // delivery status the local Twilio server reports (sent ✓, delivered ✓✓, read blue ✓✓, failed ⚠ + code).

  async function loadWaChat(chat) {
    const state = await api(`/api/whatsapp/${encodeURIComponent(chat.number)}`);
    if (S.chats.get(chat.id) !== chat) return;
    chat.messages = new Map(state.messages.map((m) => [m.message_id, m]));
    chat.window = state.window;
    renderMessages(chat);
    refreshWaHeader(chat);
    updateSidebarItem(chat);
  }

  function onWaMessage(event) {
    const chat = S.chats.get(event.chat_id);
    if (!chat) { scheduleWorldReload(); return; }
    const isNew = !chat.messages.has(event.message.message_id);
    chat.messages.set(event.message.message_id, event.message);
    chat.window = event.window;
    renderOne(chat, event.message, isNew);
    refreshWaHeader(chat);
    if (isNew && !isVisible(chat) && !S.resetting) chat.unread += 1;
    updateSidebarItem(chat);
  }

  function waSnippet(message) {
    if (message.kind === "clock") return "⏩ " + t("wa.clock", { hours: message.body });
    if (message.kind === "photo") return "📷 " + (message.body || t("kind.photo"));
    if (message.kind === "location") return "📍 " + (message.location?.label || t("kind.location"));
    if (message.kind === "voice") return "🎤 " + t("kind.voice");
    if (message.kind === "sticker") return "💟 " + t("kind.sticker");
    if (message.kind === "template") return "📋 " + t("wa.template");
    return (message.body || "").replace(/[*_~]/g, "").slice(0, 80);
  }

  // WhatsApp's markers: *bold*, _italic_, ~strike~, ```mono```; everything else is plain text.
  const WA_MARKERS = /(```[^`]+```|\*[^*\n]+\*|_[^_\n]+_|~[^~\n]+~)/g;

  function waText(text) {
    const fragment = document.createDocumentFragment();
    for (const part of String(text || "").split(WA_MARKERS)) {
      if (!part) continue;
      const tag = part.startsWith("```") && part.length > 6 ? "code"
        : part.length > 2 && part[0] === part[part.length - 1] ? { "*": "b", _: "i", "~": "s" }[part[0]] : null;
      if (tag) {
        const inner = tag === "code" ? part.slice(3, -3) : part.slice(1, -1);
        fragment.append(el(tag, {}, inner));
      } else {
        fragment.append(document.createTextNode(part));
      }
    }
    return fragment;
  }

  const WA_TICKS = { queued: "🕓", sending: "🕓", accepted: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "⚠", undelivered: "⚠" };

  function waTicks(message) {
    const status = message.status || "sending";
    const failed = status === "failed" || status === "undelivered";
    let label = WA_TICKS[status] || status;
    if (failed && message.error_code) label += " " + message.error_code;
    const title = t("wa.status." + (WA_TICKS[status] ? status : "sent")) + (message.error_message ? " — " + message.error_message : "");
    return el("span", { class: `ticks ${status}`, title, "aria-label": title, dataset: { status } }, label);
  }

  function renderWaMessage(chat, message) {
    if (message.kind === "clock") {
      const note = t({ database: "wa.clock.database", bot: "wa.clock.bot" }[message.status] || "wa.clock.twilio");
      return el("div", { class: "msg service wa-clock", dataset: { msgId: String(message.message_id) } },
        el("span", {}, `⏩ ${t("wa.clock", { hours: message.body })} · ${note}`));
    }
    const outgoing = !message.from_bot;
    const bubble = el("div", { class: "bubble" });
    if (message.reply_to_sid) bubble.append(waQuote(chat, message.reply_to_sid));
    if (message.media_url && (message.kind === "photo" || (message.media_type || "").startsWith("image/jpeg") || (message.media_type || "").startsWith("image/png"))) {
      bubble.append(el("a", { class: "photo-link", href: message.media_url, target: "_blank", rel: "noopener" },
        el("img", { class: "photo", src: message.media_url, alt: t("kind.photo"), loading: "lazy" })));
    }
    if (message.location) {
      const { latitude, longitude, label, address } = message.location;
      bubble.append(el("div", { class: "pin" },
        el("div", { class: "map", "aria-hidden": "true" }, el("span", { class: "pin-dot" }, "📍")),
        el("div", { class: "pin-info" },
          el("strong", {}, label || placeName(latitude, longitude, null)),
          el("span", { class: "coords" }, `${latitude.toFixed(5)}, ${longitude.toFixed(5)}`),
          address ? el("span", {}, address) : null)));
    }
    if (message.kind === "voice") {
      bubble.append(el("div", { class: "wa-voice" }, el("span", { class: "play" }, "▶"), el("span", { class: "wave", "aria-hidden": "true" }), el("span", {}, "0:04")));
    }
    if (message.kind === "sticker") bubble.append(el("div", { class: "sticker", title: t("kind.sticker") }, "😺"));
    if (message.kind === "template") {
      bubble.append(el("div", { class: "wa-template" }, `📋 ${t("wa.template")} ${message.content_sid || ""}`,
        message.content_variables ? el("code", {}, message.content_variables) : null));
    }
    if (message.body) bubble.append(el("div", { class: "text" }, waText(message.body)));
    const replyable = message.from_bot && message.sid;
    bubble.append(el("span", { class: "meta" },
      replyable ? el("button", {
        type: "button", class: "wa-reply-btn", dataset: { i18nTitle: "wa.reply.title" }, title: t("wa.reply.title"),
        "aria-label": t("wa.reply.title"), onclick: () => setReplyTo(chat, message),
      }, t("wa.reply")) : null,
      timeNode(message.date), message.from_bot ? waTicks(message) : (message.status === "failed" ? waTicks(message) : null)));
    const node = el("div", {
      class: `msg ${outgoing ? "out" : "in"}${message.from_bot ? " bot" : ""}`,
      dataset: { msgId: String(message.message_id), from: message.from_bot ? "bot" : "user", status: message.status || "", sid: message.sid || "" },
    }, bubble);
    if (replyable) swipeToReply(chat, message, bubble);
    return node;
  }

  // WhatsApp's reply: the quoted message above the text (tap it to see the original).
  function waQuote(chat, sid) {
    const original = [...chat.messages.values()].find((m) => m.sid === sid);
    const name = original && !original.from_bot ? t("wa.you") : (S.world?.bot?.first_name || "Bot");
    return el("button", {
      type: "button", class: "quote wa-quote",
      onclick: () => {
        const target = original && chat.pane?.list.querySelector(`[data-msg-id="${original.message_id}"]`);
        if (target) { target.scrollIntoView({ behavior: "smooth", block: "center" }); target.classList.add("flash"); setTimeout(() => target.classList.remove("flash"), 1200); }
      },
    }, el("strong", {}, name), el("span", {}, original ? waQuoteText(original) : "…"));
  }

  // What a quote shows of a message: its first lines (WhatsApp shows up to three), without the markers.
  function waQuoteText(message) {
    if (message.kind !== "text" && message.kind !== "template") return waSnippet(message);
    return (message.body || "").replace(/[*_~]/g, "").replace(/\n\s*\n/g, "\n").slice(0, 240);
  }

  // Dragging a bot bubble to the right, as a thumb swipes it in WhatsApp, sets the reply too.
  function swipeToReply(chat, message, bubble) {
    let start = null;
    bubble.addEventListener("pointerdown", (e) => {
      if (e.button !== 0 || e.target.closest("a, button")) return;
      start = { x: e.clientX, y: e.clientY, id: e.pointerId };
    });
    bubble.addEventListener("pointermove", (e) => {
      if (!start || e.pointerId !== start.id) return;
      const dx = Math.max(0, Math.min(80, e.clientX - start.x));
      if (Math.abs(e.clientY - start.y) > 40) { start = null; bubble.style.transform = ""; return; }
      bubble.style.transform = dx > 4 ? `translateX(${dx}px)` : "";
    });
    const end = (e) => {
      if (!start || e.pointerId !== start.id) return;
      const dx = e.clientX - start.x;
      start = null;
      bubble.style.transform = "";
      if (dx > 60) setReplyTo(chat, message);
    };
    bubble.addEventListener("pointerup", end);
    bubble.addEventListener("pointercancel", () => { start = null; bubble.style.transform = ""; });
  }

  function buildWaPane(chat) {
    const root = el("section", { class: "pane citizen whatsapp", dataset: { chatId: chatKey(chat), chatKind: "citizen", channel: "whatsapp", title: chat.title }, "aria-label": chat.title });
    const header = el("header", { class: "pane-header wa-header" });
    const list = el("div", { class: "messages wa-messages", role: "log", "aria-live": "polite" });
    const toasts = el("div", { class: "pane-toasts" });
    const panelHost = el("div", { class: "panel-host" });
    const input = el("textarea", { class: "compose-input", rows: "1", dataset: { i18nPlaceholder: "wa.placeholder" }, placeholder: t("wa.placeholder") });
    const composer = el("form", { class: "composer wa-composer" },
      el("button", { type: "button", class: "icon-btn wa-attach", dataset: { i18nTitle: "wa.attach" }, title: t("wa.attach"), "aria-label": t("wa.attach"), onclick: () => togglePanel(chat, "attach") }, "📎"),
      input,
      el("button", { type: "submit", class: "send-btn wa-send", dataset: { i18nTitle: "compose.send" }, title: t("compose.send"), "aria-label": t("compose.send") }, "➤"));
    composer.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      autosize(input);
      waSend(chat, { kind: "text", text });
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); composer.requestSubmit(); }
      if (e.key === "Escape") setReplyTo(chat, null);
    });
    input.addEventListener("input", () => autosize(input));
    watchScroll(chat, list);
    // the Telegram-only parts stay detached so shared code (keyboards, start bar) finds them and does nothing
    const keyboard = el("div", { class: "reply-kb hidden" });
    const startBar = el("div", { class: "start-bar hidden" });
    // the message being answered (WhatsApp's swipe-to-reply): shown above the input until sent or cancelled
    const replyBar = el("div", { class: "reply-bar wa-reply-bar hidden" });
    root.append(header, list, toasts, panelHost, replyBar, composer);
    chat.pane = { root, header, list, toasts, keyboard, replyBar, panelHost, input, composer, startBar };
    refreshWaHeader(chat);
    renderReplyBar(chat);
  }

  function waWindowText(chat) {
    const w = chat.window;
    if (!w || w.hours_left === null || w.hours_left === undefined) return t("wa.window.none");
    return w.open ? t("wa.window.open", { hours: w.hours_left }) : t("wa.window.closed");
  }

  function refreshWaHeader(chat) {
    const pane = chat.pane;
    if (!pane) return;
    const back = el("button", { type: "button", class: "icon-btn back-btn", title: t("chat.back"), "aria-label": t("chat.back"), onclick: closeMobile }, "←");
    const close = el("button", { type: "button", class: "icon-btn close-btn", title: t("chat.close"), "aria-label": t("chat.close"), onclick: () => closeChat(chat.id) }, "✕");
    const info = el("div", { class: "pane-title" }, el("strong", {}, chat.title),
      el("span", {}, `WhatsApp · ${chat.number || ""}`),
      el("span", { class: `wa-window${chat.window?.open ? " open" : ""}` }, waWindowText(chat)));
    const advance = el("button", { type: "button", class: "wa-advance", title: t("wa.advance.title"), "aria-label": t("wa.advance.title"), onclick: () => togglePanel(chat, "window") }, t("wa.advance"));
    pane.header.replaceChildren(back, avatar(chat), info, advance, close);
  }

  function waAttachPanel(chat) {
    const item = (cls, icon, key, onclick) => el("button", { type: "button", class: `wa-attach-item ${cls}`, onclick },
      el("span", { class: "wa-attach-icon", "aria-hidden": "true" }, icon), el("span", {}, t(key)));
    return panelFrame(chat, t("wa.attach"),
      el("div", { class: "wa-attach-grid" },
        item("attach-photo", "🖼", "compose.photo", () => togglePanel(chat, "photo")),
        item("attach-location", "📍", "compose.location", () => togglePanel(chat, "location")),
        item("attach-voice", "🎤", "wa.voice", () => { closePanel(chat); waSend(chat, { kind: "voice" }); }),
        item("attach-sticker", "💟", "wa.sticker", () => { closePanel(chat); waSend(chat, { kind: "sticker" }); })),
      el("p", { class: "panel-label" }, t("wa.attach.hint")));
  }

  function waWindowPanel(chat) {
    const advance = async (database) => {
      closePanel(chat);
      try {
        await api("/api/whatsapp/advance", { hours: 25, database });
        toast(t("wa.advance.done"), "info", chat.pane?.toasts);
      } catch (error) { fail(error); }
    };
    return panelFrame(chat, t("wa.advance.title"),
      el("p", { class: "wa-explain" }, t("wa.advance.explain")),
      el("div", { class: "wa-advance-actions" },
        el("button", { type: "button", class: "primary advance-both", onclick: () => advance(true) }, t("wa.advance.both")),
        el("small", {}, t("wa.advance.both.hint")),
        el("button", { type: "button", class: "ghost-btn advance-twilio", onclick: () => advance(false) }, t("wa.advance.twilio")),
        el("small", {}, t("wa.advance.twilio.hint"))));
  }

  async function waSend(chat, payload) {
    const replyTo = chat.replyTo?.sid;
    if (replyTo) { // WhatsApp lets any message answer another: Twilio then posts OriginalRepliedMessageSid
      payload = { ...payload, reply_to: replyTo };
      setReplyTo(chat, null);
    }
    try {
      const message = await api("/api/whatsapp/send", { number: chat.number, ...payload });
      chat.messages.set(message.message_id, message);
      renderOne(chat, message, true);
      updateSidebarItem(chat);
    } catch (error) {
      fail(error);
    }
  }

  // -- sending -----------------------------------------------------------------------------------------

  async function send(chat, payload) {
    const body = { user_id: chat.actorId, chat_id: chat.id, ...payload };
    try {
      const message = await api("/api/send", body);
      if (!chat.messages.has(message.message_id)) {
        chat.messages.set(message.message_id, message);
        renderOne(chat, message, true);
        updateSidebarItem(chat);
      }
      if (payload.reply_to || payload.kind === "text") setReplyTo(chat, null);
    } catch (error) {
      fail(error);
    }
  }

  // -- page chrome -------------------------------------------------------------------------------------

  function setOverlay(text) {
    const overlay = document.getElementById("overlay");
    overlay.classList.toggle("hidden", !text);
    if (text) $("#overlay-text").textContent = text;
  }

  function setLanguage(lang) {
    S.lang = lang;
    localStorage.setItem("sikesal.playground.lang", lang);
    applyStaticTexts();
    for (const chat of S.chats.values()) {
      if (!chat.pane) continue;
      const { input } = chat.pane;
      input.placeholder = t(chat.channel === "whatsapp" ? "wa.placeholder" : "compose.placeholder");
      chat.pane.root.querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
      chat.pane.root.querySelectorAll("[data-i18n-title]").forEach((n) => { n.title = t(n.dataset.i18nTitle); n.setAttribute("aria-label", n.title); });
      refreshPaneHeader(chat);
      renderMessages(chat);
      renderReplyBar(chat);
      if (chat.panel) togglePanel(chat, chat.panel, { share: chat.shareMode, force: true });
    }
    for (const chat of S.chats.values()) updateSidebarItem(chat);
    clockChanged(null); // the same clock in the other language
  }

  function init() {
    applyStaticTexts();
    document.querySelectorAll(".lang-toggle button").forEach((b) => b.addEventListener("click", () => setLanguage(b.dataset.lang)));
    document.getElementById("reset-btn").addEventListener("click", async () => {
      if (!window.confirm(t("reset.confirm"))) return;
      setOverlay(t("resetting"));
      try { await api("/api/reset", {}); } catch (error) { fail(error); }
      await loadWorld().catch(fail);
    });
    document.getElementById("add-citizen").addEventListener("submit", async (e) => {
      e.preventDefault();
      const input = document.getElementById("citizen-name");
      const name = input.value.trim();
      if (!name) { input.focus(); return; }
      try {
        const channel = document.getElementById("citizen-channel").value === "whatsapp" ? "whatsapp" : "telegram";
        const citizen = await api("/api/citizens", { name, language_code: S.lang, channel });
        input.value = "";
        await loadWorld();
        openChat(citizen.chat_id, { focus: true });
        toast(t("citizen.added", { name: citizen.name }));
      } catch (error) { fail(error); }
    });
    document.getElementById("modal-ok").addEventListener("click", () => document.getElementById("modal").classList.add("hidden"));
    document.getElementById("modal").addEventListener("keydown", (e) => { if (e.key === "Escape") document.getElementById("modal").classList.add("hidden"); });
    const guide = document.getElementById("guide");
    if (localStorage.getItem("sikesal.playground.guide") === "hidden") guide.classList.add("hidden");
    document.getElementById("guide-hide").addEventListener("click", () => { guide.classList.add("hidden"); localStorage.setItem("sikesal.playground.guide", "hidden"); });
    document.getElementById("guide-btn").addEventListener("click", () => { guide.classList.toggle("hidden"); localStorage.removeItem("sikesal.playground.guide"); });
    mobileQuery.addEventListener("change", () => { if (!mobileQuery.matches) closeMobile(); });
    document.addEventListener("visibilitychange", () => { for (const chat of S.chats.values()) updateSidebarItem(chat); });
    setOverlay(t("starting"));
    connect();
  }

  // for tests and the curious: the sanitizer as a string function
  window.SikesalPlayground = {
    sanitize(html) {
      const box = document.createElement("div");
      box.append(sanitizeHTML(html));
      return box.innerHTML;
    },
    showAnswer(chatId, answer) { showAnswer(S.chats.get(chatId), answer); },
    waFormat(text) {
      const box = document.createElement("div");
      box.append(waText(text));
      return box.innerHTML;
    },
  };

  init();
})();
