"""Conversation-core fixtures: a Jambi-like FlowContext (see handlers_testkit)."""

from __future__ import annotations

import pytest
from handlers_testkit import make_ctx

from handlers.context import FlowContext


@pytest.fixture(scope="session")
def ctx() -> FlowContext:
    return make_ctx()
