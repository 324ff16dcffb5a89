"""The playground's bot clock: real time plus an offset that the page's ⏩ control moves forward.

Reminders, escalations and the "is it fixed?" question are hours or days apart; a visitor should see them
in a minute. The bot takes an injectable clock (``SikesalApp(clock=...)``, ``Runtime.clock``), so the
playground hands it this one and moves it on: to the bot, hours have passed. The clock never goes back
while the bot runs (a reset starts a fresh bot and database at real time again).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: the largest single step the page may ask for (30 days), so a typo cannot throw the bot into next year
MAX_STEP_HOURS = 24 * 30


class OffsetClock:
    """``datetime.now(UTC) + offset``; callable, so it is a drop-in for the bot's ``clock``."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, hours: float) -> datetime:
        """Move forward by ``hours`` (positive, at most :data:`MAX_STEP_HOURS`); the new time."""
        if not 0 < hours <= MAX_STEP_HOURS:
            raise ValueError(f"hours must be more than 0 and at most {MAX_STEP_HOURS}")
        self.offset += timedelta(hours=hours)
        return self()

    def reset(self) -> None:
        """Back to real time (only for a fresh bot: its database starts empty)."""
        self.offset = timedelta(0)

    def state(self, timezone: str) -> dict[str, object]:
        """What the page shows: the bot's time (ISO, UTC), the same in the city's zone, and the offset."""
        now = self()
        try:
            local = now.astimezone(ZoneInfo(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            local = now
        return {
            "now": now.isoformat(),
            "local": local.strftime("%Y-%m-%d %H:%M"),
            "zone": local.tzname() or timezone,
            "offset_hours": round(self.offset.total_seconds() / 3600, 2),
        }
