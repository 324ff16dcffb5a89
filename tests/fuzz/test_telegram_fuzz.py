"""Random and malformed Telegram updates through the real webhook endpoint of the real app, on SQLite and
PostgreSQL: valid-looking messages in private chats and groups (text with NUL, bidi overrides, zero-width
characters, emoji, 4096+ characters; captions; photos of odd sizes and unknown file ids; documents with odd
mime types; locations out of range, NaN and infinity), callback queries with any data (up to and past
Telegram's 64 bytes, ``st:accept:99999999999999999999``, complaints that do not exist, complaints that do),
member updates, unknown update types, and wrong JSON (a string where an object belongs, negative and huge
ids, missing fields, nulls, lone surrogates).

What must hold for every update: the POST is answered 200 (stored) or a deliberate 400 (not an update
object; 413 past the body limit), never a 5xx; a 200 means the row is there (stored before the answer), a
400 stores nothing; the inbox then finishes the row: ``done`` (handled or deliberately ignored), or
``failed`` as malformed (aiogram cannot read it, so nothing was done with it), never a retry after an
exception and never left pending; no NUL reaches the database. After all examples the app's tasks are still
running and a new citizen's ``/start`` is answered.

One app serves every example of a test: it is started in the test body, and hypothesis runs in a worker
thread, handing each example to the app's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.app import SikesalApp
from bot.config import load_config
from bot.telegram.intake import SECRET_HEADER
from localapi.telegram import TelegramServer, make_jpeg
from storage.models import Complaint, InboundMessage
from tests.e2e.conftest import ROOT, TOKEN, start_app
from tests.e2e.harness import Person, body, payloads

pytestmark = pytest.mark.fuzz

#: the web server's body limit (SikesalApp's client_max_size): larger bodies get 413 from aiohttp
BODY_LIMIT = 256 * 1024
#: examples per backend (``SIKESAL_FUZZ_EXAMPLES=1000`` for a longer hunt)
EXAMPLES = int(os.environ.get("SIKESAL_FUZZ_EXAMPLES", "80"))
#: how long one update may take to be processed
ROW_TIMEOUT = 20.0
JAMBI = (-1.6101, 103.6131)


@dataclass
class Known:
    """Ids that exist, so that fuzzed updates reach deep into the handlers, not only their first checks."""

    citizens: list[int]
    group: int
    staff: list[int]
    complaint: int
    card: int
    #: the bot's own user id (replies to the bot's messages reach the staff and citizen reply handlers)
    bot: int


# --- the updates -----------------------------------------------------------------------------------------

#: every character UTF-8 can carry, controls included (lone surrogates come separately, as JSON escapes)
any_char = st.characters(codec="utf-8")
tricky = st.lists(st.sampled_from([
    "\x00", "\u202e", "\u200b", "\u200d", "\r", "\n", "\t", "\ufeff", "\u2066", "\x1b", "\x7f", "\u0085", "a", " ",
    "👨\u200d👩\u200d👧", "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f", "e\u0301", "١", "²",
    "JMB-2026-000001", "<b>", "&amp;", "\\", '"', "\U0010ffff",
]), max_size=30).map("".join)
huge = st.builds(lambda unit, count: unit * count, st.sampled_from(["x", "é", "\x00", "👍", "\u202e", "🏴"]),
                 st.sampled_from([4096, 4097, 5000, 20_000]))
words = st.sampled_from([
    "", " ", "/start", "/baru", "/status", "/status JMB-2026-000001", "/status JMB-9999-999999", "/laporan",
    "/bahasa", "/help", "/cancel", "/link", "/link XXXXXXXX", "/start@sikesal_bot", "/link@other_bot ABC",
    "halo", "1", "batal", "Jalan berlubang besar di depan pasar, motor hampir jatuh",
    "Jl. Sultan Thaha depan pasar", "/\x00", "/start " + "x" * 300,
])
texts = st.one_of(words, st.text(any_char, max_size=60), tricky, huge)
short_texts = st.one_of(words, st.text(any_char, max_size=20), tricky)

#: ids beyond 64 bits (Telegram's fit in 52) are drawn too: such an update is ignored at once (see
#: test_ids_beyond_64_bits_are_ignored_not_retried), it must not raise in a 64-bit column and hold its chat back
INT_LIMIT = 2**70
#: Telegram allows 64 characters for a first name and 64 for a last name; a full name of 129 characters is cut
#: to the 128 of citizens.display_name and audit_log.actor_name (see test_the_longest_names_telegram_allows)
NAME_MAX = 64
LONG_NAMES = True
names = st.one_of(st.sampled_from(["Budi", "Siti Nurhaliza", "A", "\u202eitiS", "👨\u200d👩\u200d👧"]),
                  st.text(any_char, min_size=1, max_size=NAME_MAX), tricky.filter(bool).map(lambda t: t[:NAME_MAX]))
#: names no Telegram client can set (a malformed update)
long_names = huge if LONG_NAMES else st.nothing()
#: integers Telegram uses, and ones it never would
odd_ints = st.one_of(
    st.integers(-INT_LIMIT, INT_LIMIT - 1),
    st.sampled_from([i for i in (0, -1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63), 2**63, 2**64)
                     if -INT_LIMIT <= i < INT_LIMIT]),
)
wrong_types: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False), short_texts,
    st.lists(st.integers(), max_size=3), st.dictionaries(short_texts, st.integers(), max_size=2),
)


#: update ids: a fresh one (assigned when the body is sent, so every example is a new update) or the last one
#: again (Telegram delivering an update twice); hypothesis itself would mostly draw 1, 2, 3...
FRESH, AGAIN = "<fresh update_id>", "<the last update_id>"


def updates(k: Known) -> st.SearchStrategy[Any]:
    """Update bodies: clean ones (every field of the right type, the values still hostile), dirty ones (any
    field may be of the wrong type, missing or out of range), and JSON that is no update at all."""
    kinds = {"clean": update_objects(k, dirty=False), "dirty": update_objects(k, dirty=True),
             "junk": st.one_of(wrong_types, st.lists(update_objects(k, dirty=True), max_size=2))}
    return st.sampled_from(["clean"] * 6 + ["dirty"] * 3 + ["junk"]).flatmap(kinds.__getitem__)


def update_objects(k: Known, *, dirty: bool) -> st.SearchStrategy[dict[str, Any]]:
    def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        """``good`` in a clean update; in a dirty one, ``bad`` about one time in four."""
        return st.one_of(good, good, good, bad) if dirty else good

    user_ids = mostly(st.sampled_from([*k.citizens, *k.staff, k.bot]), st.one_of(odd_ints, wrong_types))
    users = st.fixed_dictionaries(
        {"id": user_ids, "is_bot": mostly(st.just(False), st.one_of(st.just(True), wrong_types)),
         "first_name": mostly(names, st.one_of(long_names, wrong_types))},
        optional={"username": short_texts, "language_code": st.sampled_from(["id", "en", "zz", "", "\x00",
                                                                              "pt-br", "x" * 40]),
                  "last_name": names},
    )
    private = st.builds(lambda uid: {"id": uid, "type": "private", "first_name": "Warga"},
                        st.sampled_from(k.citizens))
    group = st.fixed_dictionaries({"id": st.just(k.group), "type": st.sampled_from(["group", "supergroup"]),
                                   "title": short_texts})
    stranger = st.fixed_dictionaries(  # a chat the bot never saw, of any type
        {"id": st.one_of(st.integers(-(2**52), 2**52), st.sampled_from([0, -1, 2**31, -(10**12) - 1])),
         "type": st.sampled_from(["private", "group", "supergroup", "channel"])},
        optional={"title": short_texts, "first_name": short_texts})
    odd_chat = st.fixed_dictionaries(
        {"id": st.one_of(odd_ints, wrong_types),
         "type": st.one_of(st.sampled_from(["private", "group", "supergroup", "channel", "secret", ""]), wrong_types)},
        optional={"title": short_texts, "first_name": short_texts})
    chats = mostly(st.one_of(private, group, private, stranger), odd_chat)
    sizes = mostly(st.one_of(st.integers(1, 10_000), st.sampled_from([0, 2**31 - 1, 25 * 1024 * 1024])),
                   st.one_of(odd_ints, wrong_types))
    photo_sizes = st.lists(st.fixed_dictionaries(
        {"file_id": mostly(st.sampled_from(["AgAD-unknown", "x", ""]), wrong_types),
         "file_unique_id": st.just("u1"), "width": sizes, "height": sizes},
        optional={"file_size": sizes}), max_size=4)
    documents = st.fixed_dictionaries(
        {"file_id": mostly(st.just("BQAD-unknown"), wrong_types), "file_unique_id": st.just("d1")},
        optional={"file_name": short_texts, "file_size": sizes,
                  "mime_type": st.sampled_from(["image/jpeg", "image/png", "application/pdf", "application/x-msdownload",
                                                "image/svg+xml", "", "image/", "\u202eimage/jpeg", "text/plain"])})
    in_range = st.one_of(st.floats(-1000, 1000), st.sampled_from([JAMBI[0], JAMBI[1], -91.0, 181.0, 0.0, -0.0]))
    coordinates = mostly(in_range, st.one_of(st.sampled_from([math.nan, math.inf, -math.inf]), wrong_types))
    locations = st.fixed_dictionaries({"latitude": coordinates, "longitude": coordinates},
                                      optional={"horizontal_accuracy": coordinates, "live_period": odd_ints})
    stickers = st.fixed_dictionaries({"file_id": st.just("s"), "file_unique_id": st.just("s"),
                                      "type": st.just("regular"), "width": sizes, "height": sizes,
                                      "is_animated": st.booleans(), "is_video": st.booleans()})
    content = st.one_of(
        st.fixed_dictionaries({"text": mostly(texts, wrong_types)}),
        st.fixed_dictionaries({"photo": mostly(photo_sizes, wrong_types)}, optional={"caption": texts}),
        st.fixed_dictionaries({"document": mostly(documents, wrong_types)}, optional={"caption": texts}),
        st.fixed_dictionaries({"location": mostly(locations, wrong_types)}),
        st.fixed_dictionaries({"sticker": stickers}),
        st.fixed_dictionaries({"new_chat_members": st.lists(users, max_size=2)}),
        st.fixed_dictionaries({"left_chat_member": users}),
        st.fixed_dictionaries({"migrate_to_chat_id": mostly(st.integers(-(2**52), -1), odd_ints)}),
        st.fixed_dictionaries({"contact": st.fixed_dictionaries({"phone_number": short_texts,
                                                                 "first_name": short_texts})}),
        st.just({}),  # a message with nothing in it
    )
    entities = st.lists(st.fixed_dictionaries({"type": st.sampled_from(["bot_command", "bold", "url", "nope"]),
                                               "offset": odd_ints, "length": odd_ints}), max_size=2)

    def message(depth: int) -> st.SearchStrategy[dict[str, Any]]:
        base = st.fixed_dictionaries(
            {"message_id": mostly(st.integers(1, 2**31 - 1), st.one_of(odd_ints, wrong_types)),
             "date": mostly(st.integers(0, 2**31), st.one_of(odd_ints, wrong_types)),
             "chat": chats},
            optional={"from": users, **({"reply_to_message": message(depth - 1)} if depth else {}),
                      "entities": mostly(entities, wrong_types), "message_thread_id": odd_ints},
        )
        extra = st.dictionaries(short_texts, short_texts, max_size=2) if dirty else st.just({})
        return st.builds(lambda b, c, more: {**more, **b, **c}, base, content, extra)

    card_message = st.just({"message_id": k.card, "date": 0,
                            "chat": {"id": k.group, "type": "group", "title": "Laporan PUPR"}})
    callback_data = st.one_of(
        st.sampled_from([
            f"st:accept:{k.complaint}", f"st:process:{k.complaint}", f"st:resolve:{k.complaint}",
            f"st:reject:{k.complaint}", f"st:reassign:{k.complaint}", f"st:duplicate:{k.complaint}",
            f"ra:{k.complaint}:dishub", f"ra:{k.complaint}:-", f"ra:{k.complaint}:nope",
            "st:accept:99999999999999999999", "st:accept:424242", "st:accept:0", "st:accept:-1", "st:accept:１２",
            "st:explode:1", "st:accept", "ra::", "menu:new", "cat:jalan", "cat:nope", "sum:send", "photo:done",
            "photo:skip", "lang:en", "lang:xx", "addr:99999999999999999999", "dup:-1", "x" * 64, "x" * 65,
            "é" * 40, "st:accept:1" + "\x00", "\u202est:accept:1",
        ]),
        short_texts, huge.map(lambda s: s[:300]),
    )
    callbacks = st.fixed_dictionaries(
        {"id": mostly(st.text("0123456789", min_size=1, max_size=19), wrong_types), "from": users,
         "chat_instance": mostly(st.just("42"), wrong_types)},
        optional={"message": mostly(st.one_of(card_message, message(0)), wrong_types),
                  "data": mostly(callback_data, wrong_types), "inline_message_id": short_texts},
    )
    statuses = st.sampled_from(["member", "administrator", "left", "kicked", "creator", "restricted", "owner", ""])
    members = st.fixed_dictionaries({"status": statuses, "user": users},
                                    optional={"until_date": odd_ints, "is_member": st.booleans()})
    member_updates = st.fixed_dictionaries(
        {"chat": chats, "from": users, "date": st.integers(0, 2**31), "old_chat_member": members,
         "new_chat_member": members})
    bodies = {
        "message": mostly(message(1), wrong_types), "edited_message": mostly(message(1), wrong_types),
        "callback_query": mostly(callbacks, wrong_types),
        "my_chat_member": mostly(member_updates, wrong_types), "chat_member": mostly(member_updates, wrong_types),
        "other": st.one_of(message(0), wrong_types),
    }
    others = st.one_of(st.sampled_from(["channel_post", "poll_answer", "message_reaction", "business_message",
                                        "chat_boost", "purchased_paid_media", "shipping_query"]),
                       short_texts)  # an update type nobody knows
    kinds = st.sampled_from(["message"] * 6 + ["callback_query"] * 4 + ["edited_message", "my_chat_member",
                                                                         "chat_member", "other"]).flatmap(
        lambda kind: st.tuples(others if kind == "other" else st.just(kind), bodies[kind]))
    update_ids = mostly(st.sampled_from([FRESH] * 7 + [AGAIN]), st.one_of(odd_ints, wrong_types))
    if not dirty:
        return st.builds(lambda uid, kind: {"update_id": uid, kind[0]: kind[1]}, update_ids, kinds)
    return st.builds(
        lambda uid, kind, extra, drop_id: {**extra, **({} if drop_id else {"update_id": uid}), kind[0]: kind[1]},
        update_ids, kinds, st.dictionaries(short_texts, wrong_types, max_size=2),
        st.sampled_from([False] * 7 + [True]))


# --- driving the app ------------------------------------------------------------------------------------


def encode(update: Any, surrogates: bool) -> bytes:
    """JSON as Telegram would send it; with ``surrogates``, the first string value also ends in a lone
    surrogate (``"\\ud800"``: valid JSON, invalid UTF-16; no client library should pass it on, the webhook
    must survive it)."""
    if surrogates:
        update, _ = with_surrogate(update)
    return json.dumps(update, ensure_ascii=True, allow_nan=True).encode()


def with_surrogate(tree: Any) -> tuple[Any, bool]:
    """A copy of ``tree`` whose first string value (not a key) gets a lone surrogate; True if one did."""
    if isinstance(tree, str):
        return tree + "\ud800", True
    if isinstance(tree, dict):
        out, done = {}, False
        for key, value in tree.items():
            if not done:
                value, done = with_surrogate(value)
            out[key] = value
        return out, done
    if isinstance(tree, list):
        items, done = [], False
        for value in tree:
            if not done:
                value, done = with_surrogate(value)
            items.append(value)
        return items, done
    return tree, False


@dataclass
class Hook:
    app: SikesalApp
    session: aiohttp.ClientSession
    url: str
    headers: dict[str, str]
    posted: int = 0
    stored: int = 0
    #: what happened to the bodies (HTTP status, how the rows ended), printed at the end
    outcomes: Counter[str] = field(default_factory=Counter)
    last_id: int = 700_000_000

    def with_ids(self, update: Any) -> Any:
        """``FRESH`` and ``AGAIN`` update ids replaced by real ones (also inside a list of updates)."""
        if isinstance(update, list):
            return [self.with_ids(u) for u in update]
        if isinstance(update, dict) and update.get("update_id") in (FRESH, AGAIN):
            if update["update_id"] == FRESH:
                self.last_id += 1
            return {**update, "update_id": self.last_id}
        return update


async def rows(app: SikesalApp) -> list[InboundMessage]:
    assert app.runtime is not None
    async with app.runtime.sessionmaker() as session:
        return list((await session.scalars(select(InboundMessage).order_by(InboundMessage.id))).all())


async def one_update(hook: Hook, update: Any, surrogates: bool) -> list[str]:
    """POST one body; check the answer, what was stored, and how the inbox finished it. Returns what
    happened, for hypothesis's statistics."""
    update = hook.with_ids(update)
    data = encode(update, surrogates)
    before = {r.key for r in await rows(hook.app)}
    async with hook.session.post(hook.url, data=data, headers=hook.headers) as response:
        status, text = response.status, await response.text()
    hook.posted += 1
    events = [f"HTTP {status}"]
    update_id = update.get("update_id") if isinstance(update, dict) else None
    valid_id = isinstance(update_id, int) and not isinstance(update_id, bool) and 0 <= update_id < 2**63
    after = await rows(hook.app)
    new = [r for r in after if r.key not in before]
    if status == 413:
        assert len(data) > BODY_LIMIT, f"413 for a body of {len(data)} bytes"
        assert not new
        return events
    if status == 400:
        assert not valid_id, f"400 for an update with a usable update_id: {text}"
        assert not new, "a refused body stored nothing"
        return events
    assert status == 200, (status, text[:300])
    assert valid_id, "200 only for an update object with a usable update_id"
    key = f"tg:{update_id}"
    assert any(r.key == key for r in after), "200 means stored"
    assert len(new) <= 1
    hook.stored += len(new)
    if not new:
        return [*events, "redelivery"]  # the same update_id again: nothing new to do
    row = await finished(hook.app, new[0].id)
    events.append(f"row {row.status}")
    if row.status == "failed":
        assert (row.last_error or "").startswith("malformed update"), row.last_error
    else:
        assert row.status == "done", (row.status, row.last_error)
    assert not has_nul(row.payload), "stored updates are cleaned"
    return events


async def finished(app: SikesalApp, row_id: int) -> InboundMessage:
    """The row once the inbox is done with it; an exception while processing fails at once (it would be
    retried with backoff, and only an exception in our code makes a well-formed update fail)."""
    assert app.runtime is not None
    deadline = asyncio.get_running_loop().time() + ROW_TIMEOUT
    while True:
        async with app.runtime.sessionmaker() as session:
            row = await session.get(InboundMessage, row_id)
        assert row is not None
        if row.status != "pending":
            return row
        assert not row.attempts, f"processing raised: {row.last_error}"
        assert asyncio.get_running_loop().time() < deadline, "the update was not processed in time"
        await asyncio.sleep(0.01)


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def check_tasks(app: SikesalApp) -> None:
    for task in app._tasks:
        assert not task.done(), f"task {task.get_name()} ended: {task.exception() if not task.cancelled() else 'cancelled'}"


async def known_world(server: TelegramServer, app: SikesalApp) -> Known:
    """Two citizens (one with a filed complaint) and the linked PUPR group with its card."""
    from bot.services.staff import create_link_code
    from tests.e2e.harness import TIMEOUT

    staff_users = [server.create_user("Budi"), server.create_user("Rina")]
    group = server.create_group("Laporan PUPR", staff_users, admins=staff_users[:1])
    staff = Person(server, staff_users[0], group.id)
    assert app.runtime is not None
    code = await create_link_code(app.runtime, "pupr")
    await staff.next_matching("/link")
    staff_users[0].send_text(f"/link {code}", chat=group.id)
    await staff.next_matching("PUPR")
    siti = Person(server, server.create_user("Siti"))
    await siti.say("/start")
    await siti.tap_and_read("menu:new")
    await siti.tap_and_read("cat:jalan")
    await siti.say("Jalan berlubang besar di depan pasar, motor hampir jatuh")
    step = await siti.photo(make_jpeg())
    if "photo:done" in payloads(step):
        step = await siti.tap_and_read("photo:done")
    step = await siti.location(*JAMBI)
    if "sum:send" not in payloads(step):
        step = await siti.next()
    await siti.tap_and_read("sum:send")
    card = await staff.next_matching("JMB-", timeout=TIMEOUT)
    assert app.runtime is not None
    async with app.runtime.sessionmaker() as session:
        complaint = (await session.scalars(select(Complaint))).one()
    andi = server.create_user("Andi")
    return Known(citizens=[siti.user.id, andi.id], group=group.id, staff=[u.id for u in staff_users],
                 complaint=complaint.id, card=card.message_id, bot=server.state.bot.id)


# --- the tests ------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def webhook_app(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[TelegramServer, Hook, Known]]:
    """The real app in webhook mode against the local server, with a linked group and a filed complaint."""
    config = load_config(ROOT / "config.yaml")
    async with TelegramServer(TOKEN, rate_limits=False) as server:
        app = await start_app(tmp_path, server, config, database_url, telegram_webhook=True)
        try:
            async with aiohttp.ClientSession() as session:
                hook = Hook(app, session, app.http_url + config.telegram.webhook_path,
                            {SECRET_HEADER: app.telegram_webhook_secret, "Content-Type": "application/json"})
                yield server, hook, await known_world(server, app)
        finally:
            await app.stop()
        assert server.spec_violations == [], server.spec_violations


async def test_random_and_malformed_updates_through_the_webhook(database_url: str, tmp_path: Path) -> None:
    async with webhook_app(database_url, tmp_path) as (server, hook, known):
        app, loop = hook.app, asyncio.get_running_loop()

        def run(update: Any, surrogates: bool) -> list[str]:  # in hypothesis's thread
            future = asyncio.run_coroutine_threadsafe(one_update(hook, update, surrogates), loop)
            events = future.result(ROW_TIMEOUT + 30)
            hook.outcomes.update(events)
            return events

        await asyncio.to_thread(fuzzer(known, run))
        print(f"\n{hook.posted} bodies posted, {hook.stored} updates stored: {dict(hook.outcomes)}")

        # everything finished, the app still runs, and a new citizen is answered
        assert [(r.key, r.status, r.last_error) for r in await rows(app)
                if r.status == "pending" or (r.status == "failed"
                                             and not (r.last_error or "").startswith("malformed"))] == []
        check_tasks(app)
        citizen = Person(server, server.create_user("Dewi"))
        greeting = await citizen.say("/start")
        assert "menu:new" in payloads(greeting), body(greeting)
        assert app.runtime is not None
        async with app.runtime.sessionmaker() as db:
            assert await db.scalar(select(func.count()).select_from(Complaint)) >= 1


def beyond_64_bits(k: Known) -> dict[str, dict[str, Any]]:
    """Updates with a chat or user id no 64-bit column holds (Telegram's fit in 52 bits), each in its own chat."""
    huge = 2**70
    staff = {"id": k.staff[0], "is_bot": False, "first_name": "Budi"}
    bot = {"id": k.bot, "is_bot": True, "first_name": "SiKesal"}
    linked = {"id": k.group, "type": "group", "title": "Laporan PUPR"}

    def group(i: int) -> dict[str, Any]:
        return {"id": -huge - i, "type": "group", "title": "X"}

    def member_change(chat: dict[str, Any], user: dict[str, Any], old: str, new: str) -> dict[str, Any]:
        return {"chat": chat, "from": staff, "date": 0, "old_chat_member": {"status": old, "user": user},
                "new_chat_member": {"status": new, "user": user, **({"until_date": 0} if new == "kicked" else {})}}

    return {
        "a button pressed in a group whose id is beyond 64 bits": {"callback_query": {
            "id": "11", "from": staff, "chat_instance": "42", "data": f"st:accept:{k.complaint}",
            "message": {"message_id": 3, "date": 0, "chat": group(1)}}},
        "the bot added to such a group": {"message": {
            "message_id": 4, "date": 0, "chat": group(2), "from": staff, "new_chat_members": [bot]}},
        "the bot removed from such a group": {"my_chat_member": member_change(group(3), bot, "member", "kicked")},
        "someone joins such a group": {"chat_member": member_change(group(4), staff, "left", "member")},
        "a group upgraded to a supergroup id beyond 64 bits": {"message": {
            "message_id": 5, "date": 0, "chat": {"id": -4000000077, "type": "group", "title": "Y"}, "from": staff,
            "migrate_to_chat_id": -huge}},
        "a card button pressed by a user id beyond 64 bits": {"callback_query": {
            "id": "12", "from": {"id": huge, "is_bot": False, "first_name": "H"}, "chat_instance": "42",
            "data": f"st:accept:{k.complaint}", "message": {"message_id": k.card, "date": 0, "chat": linked}}},
        "a reply to the bot by a user id beyond 64 bits": {"message": {
            "message_id": 6, "date": 0, "chat": {"id": -4000000078, "type": "group", "title": "Z"},
            "from": {"id": huge, "is_bot": False, "first_name": "H"}, "text": "sudah dicek",
            "reply_to_message": {"message_id": 3, "date": 0, "text": "x", "chat": linked, "from": bot}}},
    }


def malformed(row: Any) -> bool:
    return bool(row.status == "failed" and (row.last_error or "").startswith("malformed"))


async def test_ids_beyond_64_bits_are_ignored_not_retried(database_url: str, tmp_path: Path) -> None:
    """Regression examples: each update ends ``done`` (ignored) or ``failed`` as malformed at once, and the
    next update of the same chat is not held back behind it."""
    async with webhook_app(database_url, tmp_path) as (_server, hook, known):
        app = hook.app
        sent: dict[str, tuple[int, int]] = {}
        for name, update in beyond_64_bits(known).items():
            hook.last_id += 2
            body_ = {"update_id": hook.last_id - 1, **update}
            kind = next(iter(update))
            after = {"update_id": hook.last_id, "message": {  # then something ordinary in the same chat
                "message_id": 99, "date": 0, "chat": json.loads(json.dumps(_chat_of(update[kind]))),
                "from": {"id": known.staff[0], "is_bot": False, "first_name": "Budi"}, "text": "halo"}}
            for payload in (body_, after):
                async with hook.session.post(hook.url, data=encode(payload, False), headers=hook.headers) as response:
                    assert response.status == 200, name
            sent[name] = (hook.last_id - 1, hook.last_id)
        deadline = asyncio.get_running_loop().time() + 8
        while asyncio.get_running_loop().time() < deadline:
            if not any(r.status == "pending" for r in await rows(app)):
                break
            await asyncio.sleep(0.1)
        by_key = {r.key: r for r in await rows(app)}
        problems = []
        for name, (first, then) in sent.items():
            row, next_row = by_key[f"tg:{first}"], by_key[f"tg:{then}"]
            ok = row.status == "done" or malformed(row)
            # the next update of the same chat is not held back: done, or ignored at once when it is itself in
            # a chat no 64-bit column holds
            if not ok or not (next_row.status == "done" or malformed(next_row)):
                problems.append(f"{name}: {row.status} ({(row.last_error or '')[:120]}), next update {next_row.status}")
        assert not problems, "\n".join(problems)
        check_tasks(app)


async def test_the_longest_names_telegram_allows(
    database_url: str, tmp_path: Path
) -> None:
    """A citizen and an officer whose first and last names have 64 characters each, the most Telegram allows:
    both are served, and the officer's press takes effect."""
    async with webhook_app(database_url, tmp_path) as (server, hook, known):
        longest = {"first_name": "A" * 64, "last_name": "B" * 64}
        citizen = server.create_user(longest["first_name"], last_name=longest["last_name"])
        officer = {"id": known.staff[1], "is_bot": False, **longest}
        citizen.send_text("/start")
        greeting = await server.wait_for_message(citizen.id, timeout=8)
        assert "menu:new" in payloads(greeting)
        hook.last_id += 1
        press = {"update_id": hook.last_id, "callback_query": {
            "id": "13", "from": officer, "chat_instance": "42", "data": f"st:accept:{known.complaint}",
            "message": {"message_id": known.card, "date": 0,
                        "chat": {"id": known.group, "type": "group", "title": "Laporan PUPR"}}}}
        async with hook.session.post(hook.url, data=encode(press, False), headers=hook.headers) as response:
            assert response.status == 200
        assert hook.app.runtime is not None
        deadline = asyncio.get_running_loop().time() + 8
        while True:
            async with hook.app.runtime.sessionmaker() as db:
                complaint = await db.get(Complaint, known.complaint)
            assert complaint is not None
            if complaint.status == "diterima":
                break
            assert asyncio.get_running_loop().time() < deadline, f"the press did not take effect: {complaint.status}"
            await asyncio.sleep(0.1)
        check_tasks(hook.app)


def _chat_of(body_: dict[str, Any]) -> dict[str, Any]:
    chat = body_.get("chat") or (body_.get("message") or {}).get("chat")
    assert isinstance(chat, dict)
    return chat


def fuzzer(known: Known, run: Callable[[Any, bool], list[str]]) -> Callable[[], None]:
    """The hypothesis test over update bodies (run in a worker thread; ``run`` hands one to the app)."""

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(update=updates(known), surrogates=st.integers(0, 15).map(lambda n: n == 0))
    @example(update={"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": known.citizens[0],
             "type": "private"}, "text": "\x00\u202e" + "👍" * 4097}}, surrogates=True)
    @example(update={"update_id": 2, "callback_query": {"id": "1", "from": {"id": known.staff[0], "is_bot": False,
             "first_name": "Budi"}, "chat_instance": "42", "data": "st:accept:99999999999999999999",
             "message": {"message_id": known.card, "date": 0, "chat": {"id": known.group, "type": "group"}}}},
             surrogates=False)
    @example(update="not an update", surrogates=False)
    @example(update={"update_id": 2**63, "message": None}, surrogates=False)
    def fuzz(update: Any, surrogates: bool) -> None:
        for what in run(update, surrogates):
            event(what)

    return fuzz  # type: ignore[no-any-return]

