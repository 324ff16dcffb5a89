"""A bug in the conversation core never reaches the citizen as a crash: they get "please try again" with
their state kept, and the operator gets the traceback in the log (a silent "coba lagi" hides bugs)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from handlers_testkit import make_ctx

from handlers.events import Incoming, Text
from handlers.flow import engine
from handlers.state import Conversation


def test_a_bug_in_a_handler_is_logged_and_answered_politely(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = make_ctx()

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(engine, "_route", broken)
    conversation = Conversation()
    with caplog.at_level(logging.ERROR, logger=engine.__name__):
        outcome = engine.handle(conversation, Incoming(Text("halo")), ctx)
    assert [m.text for m in outcome.messages] == [ctx.t("id", "error.generic")]
    assert outcome.conversation == conversation
    assert any(r.exc_info and "a bug" in str(r.exc_info[1]) for r in caplog.records)
