"""What ``bench.speed``'s simulated citizens do, and how their answers are timed.

A :class:`Person` acts (one update), then waits for the bot's next message in their chat, as a person waits
for an answer; between actions they may pause (1-3 s at a person's pace, none when saturating). Every action's
time is kept; the answers are timed afterwards from what the server recorded (``Recorder.seen``: every bot
message and edit with the moment the server stored it), so an answer of several messages (SiKesal's location
step: the summary, then its buttons by an edit) is timed to its last message: the *whole answer* to an action
is the last bot message or edit in that chat before the citizen's next action.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from localapi.telegram import StoredMessage, TelegramServer
from localapi.telegram.simulation import SimUser
from tests.multiproc.procs import TRACKING, Recorder, body, payloads, real_data

#: how long a citizen waits for any one answer before their run counts as failed
STEP_TIMEOUT = 60.0
DESCRIPTIONS = (
    "Jalan berlubang besar di depan pasar, sangat berbahaya bagi pengendara motor",
    "Lampu penerangan jalan mati sejak tiga hari, gelap dan rawan kecelakaan malam hari",
    "Saluran air tersumbat sampah sehingga air meluap ke jalan setiap kali hujan turun",
)

Pause = Callable[[], Awaitable[None]]


async def no_pause() -> None:
    return None


def person_pace(rng: random.Random, low: float = 1.0, high: float = 3.0) -> Pause:
    """A person's pace: ``low``-``high`` seconds between reading an answer and the next action."""
    async def pause() -> None:
        await asyncio.sleep(rng.uniform(low, high))
    return pause


class Person:
    """One citizen in their private chat with the bot."""

    def __init__(self, server: TelegramServer, user: SimUser, *, timeout: float = STEP_TIMEOUT) -> None:
        self.server = server
        self.user = user
        self.chat_id = user.id
        self.timeout = timeout
        self.cursor = 0
        #: monotonic time of each action (one update each)
        self.actions: list[float] = []
        #: what each action was (a button's payload without its argument, "text", "photo", "location")
        self.kinds: list[str] = []
        #: (monotonic time *Send* was pressed, tracking number) per filing
        self.filed: list[tuple[float, str]] = []

    async def next(self) -> StoredMessage:
        """The bot's next message after the last one read."""
        cursor = self.cursor
        message = await self.server.wait_for_message(
            self.chat_id, lambda m: m.message_id > cursor, timeout=self.timeout, new_only=False
        )
        self.cursor = message.message_id
        return message

    async def act(self, action: Callable[[], object], kind: str = "text") -> StoredMessage:
        self.kinds.append(kind)
        self.actions.append(time.monotonic())
        action()
        return await self.next()

    def latest_with_button(self, payload: str) -> StoredMessage | None:
        for message in reversed(self.server.bot_messages(self.chat_id)):
            if payload in payloads(message):
                return message
        return None

    async def tap(self, payload: str) -> StoredMessage:
        target = self.latest_with_button(payload)
        if target is None:
            raise AssertionError(f"no message with button {payload!r} in chat {self.chat_id}")
        return await self.act(lambda: self.user.press_button(target.message_id, real_data(target, payload)),
                              f"tap {payload.split(':')[0]}")

    async def until_button(self, payload: str) -> StoredMessage:
        deadline = time.monotonic() + self.timeout
        while (found := self.latest_with_button(payload)) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {payload!r} in chat {self.chat_id}")
            await asyncio.sleep(0.02)
        return found


async def sikesal_filing(person: Person, category: str, spot: tuple[float, float], photo: bytes,
                         description: str, pause: Pause) -> str:
    """The whole filing (8 updates, as the e2e tests walk it); returns the tracking number."""
    user = person.user
    greeting = await person.act(lambda: user.send_text("/start"), "/start")
    if "menu:new" not in payloads(greeting):
        raise AssertionError(f"no menu after /start: {body(greeting)[:80]!r}")
    await pause()
    await person.tap("menu:new")
    await pause()
    await person.tap(f"cat:{category}")
    await pause()
    await person.act(lambda: user.send_text(description))
    await pause()
    after_photo = await person.act(lambda: user.send_photo(photo), "photo")
    if "photo:done" in payloads(after_photo):
        await pause()
        await person.tap("photo:done")
    await pause()
    await person.act(lambda: user.send_location(*spot), "location")
    await person.until_button("sum:send")  # the summary's buttons come by an edit right after it
    await pause()
    confirmation = await person.tap("sum:send")
    found = TRACKING.search(body(confirmation))
    if found is None:
        raise AssertionError(f"no tracking number in the confirmation: {body(confirmation)[:120]!r}")
    person.filed.append((person.actions[-1], found.group(0)))
    return found.group(0)


async def noop_filing(person: Person, photo: bytes, spot: tuple[float, float], description: str,
                      pause: Pause) -> None:
    """The same eight updates to the no-op bot: text, tap, tap, text, photo, tap, location, tap."""
    user = person.user
    steps: list[Callable[[], Awaitable[StoredMessage]]] = [
        lambda: person.act(lambda: user.send_text("/start"), "/start"),
        lambda: person.tap("next"),
        lambda: person.tap("next"),
        lambda: person.act(lambda: user.send_text(description)),
        lambda: person.act(lambda: user.send_photo(photo), "photo"),
        lambda: person.tap("next"),
        lambda: person.act(lambda: user.send_location(*spot), "location"),
        lambda: person.tap("next"),
    ]
    for n, step in enumerate(steps):
        if n:
            await pause()
        await step()


@dataclass
class Outcome:
    errors: list[str] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0

    @property
    def seconds(self) -> float:
        return self.ended - self.started


async def run_people(coros: Sequence[Awaitable[object]]) -> Outcome:
    """Everyone at once; failures are counted, not raised."""
    outcome = Outcome(started=time.monotonic())
    results = await asyncio.gather(*coros, return_exceptions=True)
    outcome.ended = time.monotonic()
    outcome.errors = [f"{type(r).__name__}: {r}"[:300] for r in results if isinstance(r, BaseException)]
    return outcome


def chat_events(recorder: Recorder) -> dict[int, list[float]]:
    """Per chat, when the bot's messages and edits were stored, in order."""
    events: dict[int, list[float]] = defaultdict(list)
    for seen in recorder.seen:
        events[seen.chat_id].append(seen.at)
    return events


def whole_answers(recorder: Recorder, people: Sequence[Person], *, tail: float = STEP_TIMEOUT) -> list[float]:
    """Per action, seconds from the action to the last bot message or edit in that chat before the citizen's
    next action (the last action: within ``tail`` seconds)."""
    return [answer for answers in answers_by_kind(recorder, people, tail=tail).values() for answer in answers]


def answers_by_kind(recorder: Recorder, people: Sequence[Person], *, tail: float = STEP_TIMEOUT
                    ) -> dict[str, list[float]]:
    """:func:`whole_answers` per kind of action (``Person.kinds``), to see which step the tail comes from."""
    events = chat_events(recorder)
    answers: dict[str, list[float]] = defaultdict(list)
    for person in people:
        stamps = events.get(person.chat_id, [])
        for n, at in enumerate(person.actions):
            until = person.actions[n + 1] if n + 1 < len(person.actions) else at + tail
            inside = [s for s in stamps if at <= s < until]
            if inside:
                kind = person.kinds[n] if n < len(person.kinds) else "?"
                answers[kind].append(inside[-1] - at)
    return dict(answers)


def card_delays(recorder: Recorder, people: Sequence[Person], group_ids: Sequence[int]) -> tuple[list[float], int]:
    """Seconds from pressing *Send* to the complaint's number first appearing in a group message, and how many
    complaints never appeared."""
    groups = set(group_ids)
    first_seen: dict[str, float] = {}
    for seen in recorder.seen:
        if seen.chat_id in groups:
            for number in TRACKING.findall(body(seen.message)):
                first_seen.setdefault(number, seen.at)
    delays, missing = [], 0
    for person in people:
        for pressed, number in person.filed:
            if number in first_seen:
                delays.append(first_seen[number] - pressed)
            else:
                missing += 1
    return delays, missing


async def wait_until(check: Callable[[], bool], within: float, step: float = 0.1) -> bool:
    """Poll ``check`` until it holds (True) or ``within`` seconds passed (False)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)
    return True


def sends(recorder: Recorder, since: float = 0.0) -> list[float]:
    """When each bot message (not edit) was stored."""
    return [s.at for s in recorder.seen if s.kind == "message" and s.at >= since]
