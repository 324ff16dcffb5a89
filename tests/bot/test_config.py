"""config.yaml validation, the environment settings, the ``sikesal`` command and token redaction.

An operator meets these first: a typo in config.yaml must stop the start with a message naming the
key, the CLI must answer with clear exit codes, and a bot token must never reach a log line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import cli
from bot.config import AppConfig, ConfigError, Settings, load_config
from bot.logs import RedactSecrets, setup_logging

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "config.yaml"
TOKEN = "123456789:AAHfakeTOKENforTESTSabcdefghijklmnopq"


# --- helpers --------------------------------------------------------------------------------------


def sample() -> dict[str, Any]:
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def write(tmp_path: Path, data: dict[str, Any], name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No real token, database or .env leaks into these tests; logging is restored afterwards."""
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_API_BASE",
        "DATABASE_URL",
        "SIKESAL_CONFIG",
        "SIKESAL_DATA_DIR",
        "SIKESAL_LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # Settings reads ./.env: make sure there is none
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """SIKESAL_CONFIG -> a copy of the sample; SIKESAL_DATA_DIR -> an empty directory. Returns the data dir."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("SIKESAL_CONFIG", str(write(tmp_path, sample())))
    monkeypatch.setenv("SIKESAL_DATA_DIR", str(data_dir))
    return data_dir


# --- config.yaml ----------------------------------------------------------------------------------


def test_the_sample_configuration_loads() -> None:
    config = load_config(SAMPLE)
    assert isinstance(config, AppConfig)
    assert config.city.tracking_prefix == "JMB"
    assert {"pupr", "dishub", "dlh", "pdam", "jcoc"} <= set(config.agencies)
    assert config.categories["jalan"].agency == "pupr"
    assert config.categories["layanan"].photo_required is False
    assert config.routing.fallback_agency == "jcoc"
    assert config.draft_discard_after > config.draft_remind_after


def test_a_misspelled_key_is_named(tmp_path: Path) -> None:
    data = sample()
    data["categories"]["jalan"]["targt_hours"] = 72
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "categories.jalan.targt_hours" in message
    assert "unknown key" in message
    assert str(path) in message


def test_a_misspelled_top_level_section_is_named(tmp_path: Path) -> None:
    data = sample()
    data["limit"] = data.pop("limits")
    with pytest.raises(ConfigError, match=r"(?m)^.*: limit: unknown key"):
        load_config(write(tmp_path, data))


def test_a_wrong_type_is_named(tmp_path: Path) -> None:
    data = sample()
    data["categories"]["jalan"]["target_hours"] = "tiga hari"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, data))
    message = str(caught.value)
    assert "categories.jalan.target_hours" in message
    assert "number" in message


def test_a_wrong_type_in_a_nested_section_is_named(tmp_path: Path) -> None:
    data = sample()
    data["limits"]["photos_max"] = [3]
    with pytest.raises(ConfigError, match=r"limits\.photos_max"):
        load_config(write(tmp_path, data))


def test_an_unknown_agency_in_a_category_is_named(tmp_path: Path) -> None:
    data = sample()
    data["categories"]["sampah"]["agency"] = "dinas_sampah"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, data))
    message = str(caught.value)
    assert "categories.sampah.agency" in message
    assert "dinas_sampah" in message


def test_an_unknown_agency_in_a_routing_rule_is_named(tmp_path: Path) -> None:
    data = sample()
    data["routing"]["rules"] = [{"category": "jalan", "agency": "pupr"}, {"category": "lampu", "agency": "pln"}]
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, data))
    message = str(caught.value)
    assert "routing.rules.1.agency" in message
    assert "pln" in message
    assert "routing.rules.0" not in message


def test_an_unknown_category_in_a_routing_rule_and_fallback_are_named(tmp_path: Path) -> None:
    data = sample()
    data["routing"]["rules"] = [{"category": "jalanan", "agency": "pupr"}]
    data["routing"]["fallback_agency"] = "posko"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, data))
    message = str(caught.value)
    assert "routing.rules.0.category" in message and "jalanan" in message
    assert "routing.fallback_agency" in message and "posko" in message


def test_every_problem_is_on_its_own_line_naming_the_file_and_key(tmp_path: Path) -> None:
    """Several wrong references at once: one line each, ``<file>: <key path>: <problem>``."""
    data = sample()
    data["categories"]["air"]["agency"] = "pam"
    data["routing"]["rules"] = [{"category": "jalan", "agency": "pu"}]
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).splitlines() == [
        f"{path}: categories.air.agency: unknown agency 'pam'",
        f"{path}: routing.rules.0.agency: unknown agency 'pu'",
    ]


def test_several_wrong_keys_are_all_reported(tmp_path: Path) -> None:
    data = sample()
    data["categories"]["jalan"]["targt_hours"] = 72
    data["limits"]["photos_max"] = "tiga"
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 2
    assert any(line.startswith(f"{path}: categories.jalan.targt_hours: unknown key") for line in lines)
    assert any(line.startswith(f"{path}: limits.photos_max: ") for line in lines)


def test_routing_rules_decide_before_the_category_agency(tmp_path: Path) -> None:
    from bot.config import build_router

    data = sample()
    data["routing"]["rules"] = [{"category": "lampu", "agency": "pupr"}]
    router = build_router(load_config(write(tmp_path, data)))
    assert router.route("lampu") == "pupr"
    assert router.route("sampah") == "dlh"
    assert router.route("tidak_ada") == "jcoc"


def test_missing_file_and_broken_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("city: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(scalar)


def test_draft_timings_must_be_in_order(tmp_path: Path) -> None:
    data = sample()
    data["drafts"] = {"remind_after_minutes": 60, "discard_after_minutes": 30}
    with pytest.raises(ConfigError, match="drafts"):
        load_config(write(tmp_path, data))


# --- environment settings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db.example:5432/sikesal", "postgresql+asyncpg://u:p@db.example:5432/sikesal"),
        ("postgresql://u:p@db/sikesal", "postgresql+asyncpg://u:p@db/sikesal"),
        ("postgresql+asyncpg://u@db/sikesal", "postgresql+asyncpg://u@db/sikesal"),
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
    ],
)
def test_database_url_is_normalised_to_the_async_driver(
    monkeypatch: pytest.MonkeyPatch, given: str, expected: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", given)
    assert Settings().resolved_database_url == expected


def test_default_database_lives_in_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SIKESAL_DATA_DIR", str(tmp_path / "d"))
    settings = Settings()
    assert settings.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.resolved_database_url.endswith(str((tmp_path / "d" / "sikesal.db").resolve()))
    assert settings.media_dir == tmp_path / "d" / "media"


def test_the_token_is_not_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:secretpw@db/x")
    settings = Settings()
    assert settings.telegram_bot_token == TOKEN
    assert TOKEN not in repr(settings) and "secretpw" not in repr(settings)


# --- sikesal check-config / run -------------------------------------------------------------------


def test_check_config_ok(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "8 categories" in out and "7 agencies" in out


def test_check_config_names_the_bad_key_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = sample()
    data["categories"]["jalan"]["targt_hours"] = 72
    monkeypatch.setenv("SIKESAL_CONFIG", str(write(tmp_path, data, "bad.yaml")))
    assert cli.main(["check-config"]) == cli.EXIT_CONFIG == 2
    err = capsys.readouterr().err
    assert "categories.jalan.targt_hours" in err
    assert "bad.yaml" in err


def test_check_config_missing_file_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIKESAL_CONFIG", str(tmp_path / "missing.yaml"))
    assert cli.main(["check-config"]) == 2
    assert "SIKESAL_CONFIG" in capsys.readouterr().err


def test_run_without_a_token_starts_the_playground_and_says_why(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[tuple[str | None, int | None]] = []
    monkeypatch.setattr(cli, "_start_playground", lambda settings, config, host, port: started.append((host, port)) or 0)
    assert cli.main(["run"]) == 0
    assert started == [(None, None)]
    err = capsys.readouterr().err
    assert "TELEGRAM_BOT_TOKEN" in err and "playground" in err
    assert "BotFather" in err


def test_playground_port_in_use_is_a_clear_error(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["playground", "--port", str(port)]) == 1
    assert str(port) in capsys.readouterr().err


def test_an_unknown_command_is_a_usage_error(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["fly"])
    assert caught.value.code == 2


# --- sikesal migrate / agency (on each database backend) ------------------------------------------


@pytest.fixture
def db_env(env: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    """``env`` plus DATABASE_URL -> an empty database of the backend under test."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url



def test_migrate_creates_the_database(db_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert cli.main(["migrate"]) == 0, "migrating twice is harmless"
    assert cli.main(["agency", "list"]) == 0, "and the schema is usable"


def test_agency_list_shows_every_agency_not_linked(db_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["agency", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["pupr", "dishub", "dlh", "pdam", "jcoc", "camat_telanaipura", "camat_kotabaru"]
    assert all("NOT LINKED" in line for line in lines)


def _printed_code(out: str) -> str:
    match = re.search(r"/link ([A-Z0-9]+)", out)
    assert match, out
    return match.group(1)


async def _link_with(database_url: str, config: AppConfig, code: str, chat_id: int, media: Path) -> str | None:
    """Do what ``/link CODE`` in a group does, on the database the CLI wrote to."""
    from bot.services.runtime import Runtime
    from bot.services.staff import StaffActor, handle_link
    from storage.db import make_engine, make_sessionmaker
    from storage.media import MediaStore
    from storage.uow import UnitOfWork

    engine = make_engine(database_url)
    try:
        rt = Runtime(config=config, sessionmaker=make_sessionmaker(engine), media=MediaStore(media))
        actor = StaffActor(user_id="77", name="Budi")
        await handle_link(rt, chat_id=chat_id, title="Laporan PUPR", actor=actor, code=code, update_key=None)
        async with UnitOfWork(rt.sessionmaker) as uow:
            return await uow.agencies.agency_for_chat(chat_id)
    finally:
        await engine.dispose()


async def test_link_code_printed_by_the_cli_links_a_group_once(
    db_env: str, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    # the CLI runs its own event loop: run it in a thread, as an operator runs it in a shell
    assert await asyncio.to_thread(cli.main, ["agency", "link-code", "pupr"]) == 0
    out = capsys.readouterr().out
    assert "Pekerjaan Umum" in out and "expires in 60 minutes" in out
    code = _printed_code(out)
    config = load_config(SAMPLE)
    assert await _link_with(db_env, config, code.lower(), -1001, env / "media") == "pupr", "case-insensitive"
    assert await _link_with(db_env, config, code, -1002, env / "media") is None, "a code works once"

    assert await asyncio.to_thread(cli.main, ["agency", "list"]) == 0
    listing = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "linked to chat -1001 (Laporan PUPR)" in listing["pupr"]
    assert "NOT LINKED" in listing["dlh"]


def test_link_code_for_an_unknown_agency_lists_the_known_ones(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["agency", "link-code", "pu"]) == 2
    err = capsys.readouterr().err
    assert "'pu'" in err
    assert "pupr, dishub, dlh, pdam, jcoc" in err
    assert not (env / "sikesal.db").exists(), "nothing was written for a typo"


# --- never log the token --------------------------------------------------------------------------


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("aiogram", logging.INFO, __file__, 1, msg, args, None)


def test_redaction_removes_the_configured_token() -> None:
    record = _record("POST https://api.telegram.org/bot%s/getUpdates failed", TOKEN)
    assert RedactSecrets([TOKEN]).filter(record) is True
    text = record.getMessage()
    assert TOKEN not in text
    assert text == "POST https://api.telegram.org/bot***/getUpdates failed"


def test_redaction_removes_any_token_shaped_string() -> None:
    other = "987654321:ZZZdifferentTOKENnotConfigured_xyz-12"
    record = _record(f"calling https://api.telegram.org/bot{other}/sendMessage")
    RedactSecrets([TOKEN]).filter(record)
    assert other not in record.getMessage() and "***" in record.getMessage()


def test_redaction_leaves_ordinary_messages_alone() -> None:
    record = _record("complaint %s filed for %s", "JMB-2026-000001", "pupr")
    RedactSecrets([TOKEN, ""]).filter(record)
    assert record.getMessage() == "complaint JMB-2026-000001 filed for pupr"
    assert record.args == ("JMB-2026-000001", "pupr"), "untouched records keep their arguments"


def test_a_logged_exception_does_not_reveal_the_token(capsys: pytest.CaptureFixture[str]) -> None:
    """aiohttp/aiogram errors carry the request URL, which contains the token."""
    setup_logging("INFO", [TOKEN])
    log = logging.getLogger("sikesal.test")
    try:
        raise RuntimeError(f"Cannot connect to https://api.telegram.org/bot{TOKEN}/getMe")
    except RuntimeError:
        log.exception("request failed for bot%s", TOKEN)
    err = capsys.readouterr().err
    assert "request failed" in err and "Cannot connect" in err
    assert TOKEN not in err
    assert "123456789:" not in err


def test_canned_replies_default_per_agency_and_switched_off(tmp_path: Path) -> None:
    data = sample()
    data["canned_replies"] = {"default": ["Terima kasih."], "pupr": ["Tim kami menuju lokasi."], "dlh": []}
    config = load_config(write(tmp_path, data))
    assert config.canned_for("pupr") == ["Tim kami menuju lokasi."]
    assert config.canned_for("dlh") == []
    assert config.canned_for("dishub") == ["Terima kasih."]
