"""Group membership kept in the database (SQLite and PostgreSQL): the repository, the policy that
decides when Telegram must be asked again, and the bot's own status per linked group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import load_config
from bot.services.membership import (
    API_TTL_SECONDS,
    is_member,
    on_bot_removed,
    press_must_refresh,
    record_bot_status,
    record_chat_member,
    stored_status,
    trusted_answer,
)
from bot.services.runtime import Runtime
from storage.media import MediaStore
from storage.membership import SOURCE_API, SOURCE_UPDATE, GroupMemberRepo, Membership
from storage.models import GroupMember
from storage.uow import UnitOfWork
from tests.clocks import FixedClock as Clock

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
CHAT = -100123
CLERK = 1000001


class Telegram:
    """A fake getChatMember: counts the questions, answers a fixed status or fails."""

    def __init__(self, status: str | None = "member", *, fails: bool = False) -> None:
        self.status = status
        self.fails = fails
        self.asked = 0

    async def __call__(self) -> str | None:
        self.asked += 1
        if self.fails:
            raise ConnectionError("network down")
        return self.status


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def rt(sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path, clock: Clock) -> Runtime:
    runtime = Runtime(config=load_config(ROOT / "config.yaml"), sessionmaker=sessionmaker, media=MediaStore(tmp_path))
    runtime.clock = clock
    return runtime


async def link(rt: Runtime, chat_id: int = CHAT, agency: str = "pupr", bot_status: str | None = None) -> None:
    async with UnitOfWork(rt.sessionmaker) as uow:
        await uow.agencies.link(agency, chat_id, title="Grup", linked_by="1", now=NOW)
        await GroupMemberRepo(uow.session).set_bot_status(chat_id, bot_status)
        await uow.commit()


async def row(rt: Runtime, chat_id: int = CHAT, user_id: int = CLERK) -> Membership | None:
    async with UnitOfWork(rt.sessionmaker) as uow:
        return await GroupMemberRepo(uow.session).get(chat_id, user_id)


async def bot_status(rt: Runtime, chat_id: int = CHAT) -> str | None:
    async with UnitOfWork(rt.sessionmaker) as uow:
        return await GroupMemberRepo(uow.session).bot_status(chat_id)


# --- the repository ---------------------------------------------------------------------------------


async def test_upsert_inserts_then_the_latest_word_wins(rt: Runtime) -> None:
    async with UnitOfWork(rt.sessionmaker) as uow:
        repo = GroupMemberRepo(uow.session)
        assert await repo.get(CHAT, CLERK) is None
        await repo.upsert(CHAT, CLERK, "member", SOURCE_API, NOW)
        await repo.upsert(CHAT, CLERK + 1, "administrator", SOURCE_UPDATE, NOW)
        await uow.commit()
    async with UnitOfWork(rt.sessionmaker) as uow:
        await GroupMemberRepo(uow.session).upsert(CHAT, CLERK, "left", SOURCE_UPDATE, NOW + timedelta(seconds=5))
        await uow.commit()
    assert await row(rt) == Membership(CHAT, CLERK, "left", SOURCE_UPDATE, NOW + timedelta(seconds=5))
    assert await row(rt, user_id=CLERK + 1) == Membership(CHAT, CLERK + 1, "administrator", SOURCE_UPDATE, NOW)
    async with UnitOfWork(rt.sessionmaker) as uow:
        assert len((await uow.session.execute(select(GroupMember))).scalars().all()) == 2


async def test_bot_status_is_kept_per_linked_group_only(rt: Runtime) -> None:
    await link(rt)
    async with UnitOfWork(rt.sessionmaker) as uow:
        repo = GroupMemberRepo(uow.session)
        assert await repo.set_bot_status(CHAT, "administrator")
        assert not await repo.set_bot_status(-999, "administrator"), "an unlinked chat changes nothing"
        await uow.commit()
    assert await bot_status(rt) == "administrator"
    assert await bot_status(rt, -999) is None


async def test_a_change_of_the_bot_status_distrusts_rows_from_updates(rt: Runtime) -> None:
    await link(rt, bot_status="administrator")
    assert await record_chat_member(rt, CHAT, CLERK, "member")
    assert (await row(rt)).source == SOURCE_UPDATE  # type: ignore[union-attr]
    assert await record_bot_status(rt, CHAT, "member")  # demoted: departures are no longer announced
    assert (await row(rt)).source == SOURCE_API  # type: ignore[union-attr]


# --- the policy -------------------------------------------------------------------------------------


def test_a_restricted_user_counts_only_while_in_the_group() -> None:
    assert stored_status("restricted", True) == "restricted"
    assert stored_status("restricted", False) == "left"
    assert stored_status("member") == "member"


def test_only_presses_that_change_something_must_ask_again() -> None:
    assert press_must_refresh("st:accept:1") and press_must_refresh("st:resolve:1")
    assert press_must_refresh("ra:1:dishub"), "choosing an agency moves the complaint"
    assert not press_must_refresh("st:reassign:1"), "opening the picker changes nothing yet"
    assert not press_must_refresh("st:reject:1"), "the reason comes as a reply, checked again"
    assert not press_must_refresh("ra:1:-")
    assert not press_must_refresh("nonsense")


@pytest.mark.parametrize(
    ("source", "age", "bot", "must_refresh", "expected"),
    [
        (SOURCE_UPDATE, 3600, "administrator", True, True),  # an update is the truth while admin
        (SOURCE_API, 10, "administrator", True, True),  # a fresh answer, removals would arrive
        (SOURCE_API, 3600, "administrator", True, None),  # an old answer: ask again
        (SOURCE_API, 10, "member", True, None),  # not admin: a change always asks
        (SOURCE_UPDATE, 10, "member", True, None),
        (SOURCE_API, 10, None, True, None),  # unknown bot status: as not admin
        (SOURCE_API, 10, "member", False, True),  # opening a prompt may use a fresh answer
        (SOURCE_API, 3600, "member", False, None),
    ],
)
def test_when_a_stored_row_is_trusted(
    source: str, age: int, bot: str | None, must_refresh: bool, expected: bool | None
) -> None:
    stored = Membership(CHAT, CLERK, "member", source, NOW - timedelta(seconds=age))
    assert trusted_answer(stored, bot, must_refresh=must_refresh, now=NOW, ttl=API_TTL_SECONDS) is expected
    assert trusted_answer(None, bot, must_refresh=must_refresh, now=NOW, ttl=API_TTL_SECONDS) is None


async def test_admin_bot_a_removal_update_refuses_without_asking(rt: Runtime, clock: Clock) -> None:
    await link(rt, bot_status="administrator")
    telegram = Telegram("member")
    assert await is_member(rt, CHAT, CLERK, fetch=telegram, must_refresh=True)
    assert telegram.asked == 1, "nothing known yet: asked once"
    clock.now += timedelta(seconds=1)
    assert await is_member(rt, CHAT, CLERK, fetch=telegram, must_refresh=True)
    assert telegram.asked == 1, "a fresh answer is trusted while the bot is an administrator"
    await record_chat_member(rt, CHAT, CLERK, "left")  # the chat_member update, in any process
    clock.now += timedelta(milliseconds=100)
    assert not await is_member(rt, CHAT, CLERK, fetch=telegram, must_refresh=True)
    assert telegram.asked == 1


async def test_not_admin_every_change_asks_telegram(rt: Runtime, clock: Clock) -> None:
    await link(rt, bot_status="member")
    telegram = Telegram("member")
    assert await is_member(rt, CHAT, CLERK, fetch=telegram, must_refresh=True)
    telegram.status = "left"  # removed; a plain member bot hears nothing
    clock.now += timedelta(milliseconds=100)
    assert not await is_member(rt, CHAT, CLERK, fetch=telegram, must_refresh=True)
    assert telegram.asked == 2
    assert (await row(rt)) == Membership(CHAT, CLERK, "left", SOURCE_API, clock.now)


async def test_a_failed_question_refuses_and_stores_nothing(rt: Runtime) -> None:
    await link(rt, bot_status="member")
    assert not await is_member(rt, CHAT, CLERK, fetch=Telegram(fails=True), must_refresh=True)
    assert not await is_member(rt, CHAT, CLERK, fetch=Telegram(None), must_refresh=True)
    assert await row(rt) is None


async def test_an_expired_answer_is_asked_again_even_for_an_admin_bot(rt: Runtime, clock: Clock) -> None:
    await link(rt, bot_status="administrator")
    telegram = Telegram("member")
    await is_member(rt, CHAT, CLERK, fetch=telegram, must_refresh=True)
    clock.now += timedelta(seconds=API_TTL_SECONDS + 1)
    telegram.status = "kicked"
    assert not await is_member(rt, CHAT, CLERK, fetch=telegram, must_refresh=True)
    assert telegram.asked == 2


async def test_chat_member_updates_are_recorded_once_and_for_linked_groups_only(rt: Runtime) -> None:
    await link(rt, bot_status="administrator")
    assert await record_chat_member(rt, CHAT, CLERK, "member", update_key="tg:1")
    assert await record_chat_member(rt, CHAT, CLERK, "left", update_key="tg:2")
    assert not await record_chat_member(rt, CHAT, CLERK, "member", update_key="tg:1"), "redelivered: ignored"
    assert (await row(rt)).status == "left"  # type: ignore[union-attr]
    assert not await record_chat_member(rt, -999, CLERK, "member")
    assert await row(rt, chat_id=-999) is None
    assert await record_chat_member(rt, CHAT, CLERK + 1, "restricted", is_member=False)
    assert (await row(rt, user_id=CLERK + 1)).status == "left"  # type: ignore[union-attr]


async def test_the_bot_removed_from_a_linked_group_is_recorded(rt: Runtime) -> None:
    await link(rt, bot_status="administrator")
    assert await on_bot_removed(rt, CHAT, "kicked", status="kicked", update_key="tg:7")
    assert await bot_status(rt) == "kicked"
    assert not await on_bot_removed(rt, -999, "left", status="left"), "not linked: nothing to do"
