"""Every ops test runs the CLI or the app as an operator would: no settings leak in from the environment
or a ``.env`` in the working directory, and logging set up by one test does not reach the next."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

SETTINGS = ("TELEGRAM_BOT_TOKEN", "DATABASE_URL", "SIKESAL_CONFIG", "SIKESAL_DATA_DIR", "SIKESAL_LOG_LEVEL",
            "SIKESAL_METRICS_HOST", "SIKESAL_METRICS_PORT", "SIKESAL_REDIS_URL")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # no .env
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
