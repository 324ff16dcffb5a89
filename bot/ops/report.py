"""``sikesal report``: the performance figures per agency and category, as a table or CSV.

The figures come from :func:`storage.reports.complaint_report` (the command centre's dashboard reads the
same rows); this module only reads the period and formats. Dates are the city's calendar days, both
included: ``--since 2026-11-01 --until 2026-11-30`` is November in Kota Jambi's time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.reports import ALL, ReportRow

#: the CSV's columns, in order (percentages and means with fixed decimals; empty where there is nothing)
CSV_COLUMNS = (
    "agency", "category", "received", "accepted_on_time", "accepted_on_time_pct", "resolved", "resolved_on_time",
    "resolved_on_time_pct", "median_accept_hours", "median_resolve_hours", "overdue_now", "reopened",
    "reopen_rate_pct", "ratings", "rating_mean",
)
TABLE_HEADER = (
    "agency", "category", "received", "accepted on time", "resolved", "on time", "median accept",
    "median resolve", "overdue now", "reopened", "rating",
)


def parse_day(text: str) -> date:
    """``2026-11-01`` (argparse type)."""
    return date.fromisoformat(text)


def period(since: date | None, until: date | None, timezone: str) -> tuple[datetime | None, datetime | None]:
    """The period's bounds as instants: from the start of ``since`` to the end of ``until`` (city time)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(since, time(0), zone) if since else None
    end = datetime.combine(until + timedelta(days=1), time(0), zone) if until else None
    return start, end


def _num(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def format_csv(rows: Sequence[ReportRow]) -> str:
    """One line per row (totals have ``*`` as category, or as agency and category), with a header."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([
            r.agency, r.category, r.received, r.accepted_on_time, _num(r.accepted_on_time_pct, 1), r.resolved,
            r.resolved_on_time, _num(r.resolved_on_time_pct, 1), _num(r.median_accept_hours, 2),
            _num(r.median_resolve_hours, 2), r.overdue_now, r.reopened, _num(r.reopen_rate_pct, 1), r.ratings,
            _num(r.rating_mean, 2),
        ])
    return out.getvalue()


def _with_pct(count: int, pct: float | None) -> str:
    return f"{count}" if pct is None else f"{count} ({pct:.0f}%)"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}h"


def _cells(r: ReportRow) -> list[str]:
    rating = "-" if r.rating_mean is None else f"{r.rating_mean:.2f} ({r.ratings})"
    return [
        "(all)" if r.agency == ALL else r.agency,
        "(all)" if r.category == ALL else r.category,
        str(r.received),
        _with_pct(r.accepted_on_time, r.accepted_on_time_pct),
        str(r.resolved),
        _with_pct(r.resolved_on_time, r.resolved_on_time_pct),
        _hours(r.median_accept_hours),
        _hours(r.median_resolve_hours),
        str(r.overdue_now),
        _with_pct(r.reopened, r.reopen_rate_pct),
        rating,
    ]


def format_table(rows: Sequence[ReportRow], *, title: str) -> str:
    """An aligned text table: names left, figures right; a blank line after each agency's total."""
    lines = [title, ""]
    if not rows:
        return "\n".join([*lines, "No complaints were received in this period."]) + "\n"
    table = [list(TABLE_HEADER), *(_cells(r) for r in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(TABLE_HEADER))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    lines.append(line(table[0]))
    for r, cells in zip(rows, table[1:], strict=True):
        lines.append(line(cells))
        if r.category == ALL and r.agency != ALL:
            lines.append("")
    lines += [
        "",
        "accepted on time: first acceptance within the accept clock (% of received); on time: resolved by the",
        "due time (% of resolved); medians from filing; overdue now: open and past its clock; reopened: % of",
        "complaints resolved at least once; rating: mean of the citizens' 1-5 stars (how many rated).",
    ]
    return "\n".join(lines) + "\n"


def title_for(since: date | None, until: date | None, timezone: str, now: datetime) -> str:
    """"Complaints received 2026-11-01 to 2026-11-30 (Asia/Jakarta), figures as of 2026-12-01 09:00"."""
    span = f"{since.isoformat() if since else 'the start'} to {until.isoformat() if until else 'today'}"
    as_of = now.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
    return f"SiKesal report: complaints received {span} ({timezone}), figures as of {as_of}"


__all__ = ["CSV_COLUMNS", "format_csv", "format_table", "parse_day", "period", "title_for"]
