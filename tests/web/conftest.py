"""Dashboard test fixtures: tests/e2e's local Telegram server and sample config, and ``web_world`` (the real
app with a movable clock; see tests/web/webkit.py). ``database_url`` comes from tests/conftest.py."""

from __future__ import annotations

from tests.e2e.conftest import config, server
from tests.web.webkit import web_world

__all__ = ["config", "server", "web_world"]
