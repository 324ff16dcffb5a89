"""The two clocks tests hand the app instead of the wall clock (``Runtime.clock``, ``SikesalApp(clock=...)``).

* :class:`ShiftedClock`: real time plus whatever the test moved it forward, for end-to-end tests where the
  app's own loops keep running (timeouts and polls still see time pass) and a test jumps hours ahead;
* :class:`FixedClock`: a stopped clock the test sets, for services driven call by call.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ShiftedClock:
    """The app's clock: real time plus ``offset``, which the test moves forward (or sets)."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self._frozen: datetime | None = None

    def __call__(self) -> datetime:
        return (self._frozen or datetime.now(UTC)) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)

    def freeze(self) -> None:
        """Stop real time from passing (:meth:`advance` still moves the clock): for a test that counts
        seconds which a loaded machine could otherwise eat between two requests."""
        self._frozen = datetime.now(UTC)


class FixedClock:
    """A stopped clock at ``now``; the test sets ``now`` or calls :meth:`advance`."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
