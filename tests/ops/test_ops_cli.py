"""``sikesal outbox list/retry`` and the warnings of ``sikesal agency list``, through ``bot.cli.main`` on each
database backend, plus the metrics settings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot import cli
from bot.config import Settings
from storage.db import make_engine, make_sessionmaker, upgrade_database
from storage.models import AgencyGroup, OutboxMessage

ROOT = Path(__file__).resolve().parents[2]
SECRET_TEXT = "Jalan di depan rumah saya di Jl. Melati 7 berlubang"


@pytest.fixture
def db_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> str:
    """The sample config.yaml, a data directory and DATABASE_URL -> a migrated database of the backend."""
    monkeypatch.setenv("SIKESAL_CONFIG", str(ROOT / "config.yaml"))
    monkeypatch.setenv("SIKESAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def on_db(url: str, *rows: Any) -> list[Any]:
    """Insert ``rows``; returns them (ids set). Runs its own loop, like the CLI."""

    async def go() -> list[Any]:
        engine = make_engine(url)
        try:
            await upgrade_database(engine)
            async with make_sessionmaker(engine)() as session:
                session.add_all(rows)
                await session.commit()
            return list(rows)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def outbox_rows(url: str) -> dict[int, OutboxMessage]:
    async def go() -> dict[int, OutboxMessage]:
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session:
                return {row.id: row for row in (await session.scalars(select(OutboxMessage))).all()}
        finally:
            await engine.dispose()

    return asyncio.run(go())


def message(channel: str, chat: str, status: str, *, age: timedelta, kind: str = "send", attempts: int = 0,
            error: str | None = None, next_in: timedelta = timedelta(0), lease: str | None = None) -> OutboxMessage:
    now = datetime.now(UTC)
    return OutboxMessage(
        channel=channel, chat_id=chat, kind=kind, payload={"text": SECRET_TEXT}, status=status, attempts=attempts,
        created_at=now - age, next_attempt_at=now + next_in, last_error=error,
        lease_owner=lease, lease_until=now + timedelta(seconds=30) if lease else None,
    )


# --- outbox list -------------------------------------------------------------------------------------


def test_outbox_list_shows_pending_and_failed_rows_without_message_text(
    db_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = on_db(
        db_env,
        message("telegram", "-1001234", "failed", age=timedelta(hours=3), kind="edit_card", attempts=12,
                error="Forbidden: bot was kicked from the supergroup chat\nmore detail"),
        message("telegram", "5551234", "pending", age=timedelta(minutes=5), attempts=2,
                error="TelegramNetworkError: timeout", next_in=timedelta(seconds=40)),
        message("whatsapp", "+6281234567890", "pending", age=timedelta(seconds=20)),
        message("telegram", "777", "pending", age=timedelta(seconds=3), lease="host-a:4242"),
        message("telegram", "888", "sent", age=timedelta(days=1)),
        message("telegram", "-1001234", "superseded", age=timedelta(hours=4), kind="edit_card"),
    )
    failed, retrying, whatsapp, leased, sent, superseded = (row.id for row in rows)
    assert cli.main(["outbox", "list"]) == 0
    out = capsys.readouterr().out
    assert SECRET_TEXT not in out and "Melati" not in out, "never what citizens wrote"
    lines = {int(line.split()[0]): line for line in out.splitlines() if line.split()[0].isdigit()}
    assert set(lines) == {failed, retrying, whatsapp, leased}, "pending and failed only"
    assert list(lines) == sorted(lines, reverse=True), "newest first"
    assert "-1001234" in lines[failed] and "edit_card" in lines[failed] and " 12 " in lines[failed]
    assert "Forbidden: bot was kicked" in lines[failed] and "more detail" not in out
    assert " 3h " in lines[failed]
    assert "in 3" in lines[retrying] and "TelegramNetworkError" in lines[retrying]  # next attempt in ~40s
    assert " due " in lines[whatsapp] and "+6281234567890" in lines[whatsapp]
    assert "sending (host-a" in lines[leased]
    assert out.splitlines()[0].startswith("Outbox: telegram: 2 pending (the oldest for 5m), 1 failed; whatsapp: 1 pending")


def test_outbox_list_failed_only_with_a_limit(db_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    rows = on_db(db_env, *(message("telegram", str(i), "failed", age=timedelta(minutes=i), error="boom")
                           for i in range(1, 6)),
                 message("telegram", "9", "pending", age=timedelta(0)))
    assert cli.main(["outbox", "list", "--failed", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    ids = [int(line.split()[0]) for line in out.splitlines() if line.split()[0].isdigit()]
    assert ids == [rows[4].id, rows[3].id]
    assert "(the newest 2 of 5; --limit N shows more)" in out


def test_outbox_list_when_everything_went_out(db_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    on_db(db_env, message("telegram", "1", "sent", age=timedelta(minutes=1)))
    assert cli.main(["outbox", "list"]) == 0
    assert "Nothing waiting and nothing failed." in capsys.readouterr().out


# --- outbox retry ------------------------------------------------------------------------------------


def test_outbox_retry_puts_a_failed_row_back_in_the_queue(db_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    failed, sent, other = on_db(
        db_env,
        message("telegram", "-1001", "failed", age=timedelta(hours=1), attempts=12, error="Bad Gateway",
                lease="dead-host:1"),
        message("telegram", "5", "sent", age=timedelta(hours=1)),
        message("telegram", "6", "failed", age=timedelta(hours=1), attempts=3, error="chat not found"),
    )
    assert cli.main(["outbox", "retry", str(failed.id), str(sent.id), "999999"]) == 0
    captured = capsys.readouterr()
    assert f"Put #{failed.id} back in the queue" in captured.out
    assert f"#{sent.id} is sent, not failed" in captured.err and "#999999 not found" in captured.err
    rows = outbox_rows(db_env)
    row = rows[failed.id]
    assert (row.status, row.attempts, row.lease_owner, row.lease_until) == ("pending", 0, None, None)
    assert row.next_attempt_at <= datetime.now(UTC) + timedelta(seconds=1), "due now"
    assert row.last_error is not None and row.last_error.startswith("retried by an operator at ")
    assert row.last_error.endswith("; before: Bad Gateway"), "the old error is kept for the record"
    assert rows[sent.id].status == "sent" and rows[other.id].status == "failed", "nothing else moved"


def test_outbox_retry_of_nothing_retryable_fails(db_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    (pending,) = on_db(db_env, message("telegram", "1", "pending", age=timedelta(0)))
    assert cli.main(["outbox", "retry", str(pending.id)]) == cli.EXIT_FAILED
    assert "is pending already" in capsys.readouterr().err


def test_outbox_retry_all_failed_of_one_channel(db_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    rows = on_db(
        db_env,
        message("telegram", "1", "failed", age=timedelta(hours=2), error="x"),
        message("telegram", "2", "failed", age=timedelta(hours=1), error=None),
        message("whatsapp", "+62811", "failed", age=timedelta(hours=1), error="63016"),
    )
    assert cli.main(["outbox", "retry", "--all-failed", "--channel", "telegram"]) == 0
    assert "Put 2 failed message(s) back in the queue" in capsys.readouterr().out
    statuses = {row_id: row.status for row_id, row in outbox_rows(db_env).items()}
    assert statuses == {rows[0].id: "pending", rows[1].id: "pending", rows[2].id: "failed"}
    assert outbox_rows(db_env)[rows[1].id].last_error.endswith("; before: ?")  # type: ignore[union-attr]

    assert cli.main(["outbox", "retry", "--all-failed"]) == 0
    assert "Put 1 failed message(s)" in capsys.readouterr().out
    assert cli.main(["outbox", "retry", "--all-failed"]) == 0
    assert "No failed messages." in capsys.readouterr().out


def test_outbox_retry_needs_ids_or_all_failed(db_env: str) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["outbox", "retry"])
    assert caught.value.code == 2
    with pytest.raises(SystemExit):
        cli.main(["outbox", "retry", "3", "--channel", "telegram"])


# --- agency list -------------------------------------------------------------------------------------


def test_agency_list_warns_about_broken_links_and_a_bot_that_is_no_admin(
    db_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    broken_at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    on_db(
        db_env,
        AgencyGroup(agency="pupr", chat_id=-1001, title="Laporan PUPR", bot_status="administrator"),
        AgencyGroup(agency="dishub", chat_id=-1002, title="Dishub", bot_status="member"),
        AgencyGroup(agency="dlh", chat_id=-1003, title="DLH", bot_status=None),
        AgencyGroup(agency="pdam", chat_id=-1004, title="PDAM", bot_status="kicked",
                    broken_reason="the bot was removed from the group", broken_at=broken_at),
        AgencyGroup(agency="jcoc", chat_id=-1005, title="JCOC", bot_status="left",
                    broken_reason="the chat was deleted", broken_at=broken_at),
    )
    assert cli.main(["agency", "list"]) == 0
    out = capsys.readouterr().out
    blocks: dict[str, list[str]] = {}
    for line in out.splitlines():
        if not line.startswith(" "):
            blocks[line.split()[0]] = [line]
        else:
            blocks[list(blocks)[-1]].append(line.strip())
    assert list(blocks) == ["pupr", "dishub", "dlh", "pdam", "jcoc", "camat_telanaipura", "camat_kotabaru"]
    assert blocks["pupr"] == [blocks["pupr"][0]] and "linked to chat -1001 (Laporan PUPR)" in blocks["pupr"][0]
    assert blocks["dishub"][1] == ("⚠ bot is not an administrator (it is member): make it an admin so staff who"
                                   " leave lose access at once")
    assert blocks["dlh"][1].startswith("⚠ the bot's status in the group is unknown (status unknown): make it an admin")
    assert blocks["pdam"][1] == (
        "✖ BROKEN since 2026-12-01 15:00 WIB: the bot was removed from the group — cards go to the command centre"
        " (jcoc); re-link with `sikesal agency link-code pdam`"
    )
    assert len(blocks["pdam"]) == 2, "a broken link says that, not also the admin warning"
    assert "command centre's own group" in blocks["jcoc"][1]
    assert blocks["camat_kotabaru"] == [blocks["camat_kotabaru"][0]] and "NOT LINKED" in blocks["camat_kotabaru"][0]


# --- settings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "port"), [(None, 9464), ("9500", 9500), ("0", 0), ("off", None), ("", None), ("OFF", None)]
)
def test_metrics_port_setting(monkeypatch: pytest.MonkeyPatch, value: str | None, port: int | None) -> None:
    if value is not None:
        monkeypatch.setenv("SIKESAL_METRICS_PORT", value)
    settings = Settings()
    assert settings.metrics_port == port
    assert settings.metrics_host == "127.0.0.1"


def test_a_bad_metrics_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("SIKESAL_METRICS_PORT", "70000")
    with pytest.raises(ValidationError, match="SIKESAL_METRICS_PORT"):
        Settings()
