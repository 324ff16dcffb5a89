"""The ``GET requests`` parameters, checked: the spec's default and maximum windows, status and service
filters, and the ids list.

Dates are ISO 8601 (W3C: ``2026-11-01T00:00:00+07:00``; a time without an offset is the city's time, a
bare date its midnight). No dates: the last 90 days. One of them: 90 days from (or up to) it. Both: at most
90 days apart, else 400. At most 1000 requests, newest first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.open311.errors import bad_request

#: the spec's default and maximum window
WINDOW = timedelta(days=90)
#: the most requests one answer carries
MAX_RESULTS = 1000
#: the most ids one ``service_request_id`` list may name
MAX_IDS = 100
STATUSES = ("open", "closed")

Say = Callable[..., str]


@dataclass(frozen=True, slots=True)
class RequestQuery:
    numbers: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()


def _items(value: str | None) -> tuple[str, ...]:
    # a NUL byte is dropped: PostgreSQL refuses it in a text parameter (a 500), and no id or code has one
    return tuple(part.strip() for part in (value or "").replace("\x00", "").split(",") if part.strip())


def parse_when(text: str, timezone: str, say: Say, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise bad_request(say("open311.error.bad_date", name=name)) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    if not 1970 <= moment.year <= 2200:  # far outside any complaint, and clear of datetime's edges
        raise bad_request(say("open311.error.bad_date", name=name))
    return moment


def parse(params: Mapping[str, str], *, now: datetime, timezone: str, services: Mapping[str, object],
          say: Say) -> RequestQuery:
    numbers = _items(params.get("service_request_id"))
    if numbers:  # the spec: with ids, the other filters are ignored
        if len(numbers) > MAX_IDS:
            raise bad_request(say("open311.error.too_many_ids", limit=MAX_IDS))
        return RequestQuery(numbers=tuple(n.upper() for n in numbers))
    start_text, end_text = params.get("start_date"), params.get("end_date")
    start = parse_when(start_text, timezone, say, "start_date") if start_text else None
    end = parse_when(end_text, timezone, say, "end_date") if end_text else None
    try:
        if start is None and end is None:
            end, start = now, now - WINDOW
        elif start is None and end is not None:
            start = end - WINDOW
        elif end is None and start is not None:
            end = start + WINDOW
    except OverflowError:  # year 1 or 9999
        raise bad_request(say("open311.error.bad_date", name="start_date/end_date")) from None
    assert start is not None and end is not None
    if end < start:
        raise bad_request(say("open311.error.dates_order"))
    if end - start > WINDOW:
        raise bad_request(say("open311.error.window", days=WINDOW.days))
    statuses = tuple(s.lower() for s in _items(params.get("status")))
    if any(s not in STATUSES for s in statuses):
        raise bad_request(say("open311.error.bad_status"))
    codes = _items(params.get("service_code"))
    unknown = [code for code in codes if code not in services]
    if unknown:
        raise bad_request(say("open311.error.unknown_service_code", code=unknown[0]))
    return RequestQuery(start=start, end=end, statuses=statuses, service_codes=codes)


__all__ = ["MAX_IDS", "MAX_RESULTS", "STATUSES", "WINDOW", "RequestQuery", "parse", "parse_when"]
