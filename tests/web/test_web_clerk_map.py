"""The map's popup writes the filing time as the other pages do (issue 13's clerk review): "17 Nov 2026
11:59 WIB" on the Indonesian page, not the API's ISO date "2026-11-17" (which the pin keeps for scripts).

The map's own fixtures (tests/web/test_web_map.py: seeded complaints, a stand-in sign-in; the page in id),
on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from bot.services.runtime import Runtime
from tests.web.test_web_map import Client, client_for, pins, runtime, seed

__all__ = ["client_for", "runtime"]  # the map's fixtures, used here too

MAP_JS = Path(__file__).resolve().parents[2] / "bot" / "web" / "static" / "map.js"


async def test_the_popup_time_is_written_as_on_the_pages(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)
    data = await pins(await client_for("command"))
    props = data["features"][0]["properties"]
    assert props["created"] == "2026-11-17"  # the API's date stays
    assert props["created_label"] == "17 Nov 2026 11:59 WIB"  # three days and a minute before 12:00
    assert "props.created_label || props.created" in MAP_JS.read_text()
