"""Reading a complaint number the way staff type it.

Staff answer "which complaint is the original?" with whatever is quickest: ``4``, ``000004``,
``#4``, ``JMB-2026-4``, ``jmb 2026 000004``, ``2026/4``. :func:`read_number` turns that into either a
full number or a bare sequence (which the service reads as this year's, in the city's time zone).
Pure: no I/O, never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: the largest sequence a tracking number holds (six digits are shown, more are allowed)
MAX_SEQUENCE = 999_999_999

_SEP = r"[\s\-/.]*"
_FULL = re.compile(rf"^([A-Za-z]{{2,6}}){_SEP}(\d{{4}}){_SEP.replace('*', '+')}(\d{{1,9}})$")
_YEAR_SEQ = re.compile(rf"^(\d{{4}}){_SEP.replace('*', '+')}(\d{{1,9}})$")
_PREFIX_SEQ = re.compile(rf"^([A-Za-z]{{2,6}}){_SEP}(\d{{1,9}})$")
_SHORT = re.compile(r"^(\d{1,9})$")


@dataclass(frozen=True, slots=True)
class TypedNumber:
    """What was typed: a full number (``full``), or only a sequence (``sequence``; ``year`` when given)."""

    full: str | None = None
    sequence: int | None = None
    year: int | None = None


def format_number(prefix: str, year: int, sequence: int) -> str:
    """``JMB-2026-000004``: how numbers are issued (see ComplaintRepo.next_number)."""
    return f"{prefix}-{year}-{sequence:06d}"


def read_number(typed: str, *, prefix: str) -> TypedNumber | None:
    """Read a typed complaint number; None when it is not one. ``prefix`` is the city's own
    ("JMB"): a short form with another prefix is not ours to guess."""
    text = (typed or "").strip().strip("“”\"'.,;:!?()[]").strip().lstrip("#").strip()
    if not text or len(text) > 40:
        return None
    if match := _SHORT.fullmatch(text):
        sequence = int(match.group(1))
        return TypedNumber(sequence=sequence) if 0 < sequence <= MAX_SEQUENCE else None
    if match := _FULL.fullmatch(text):
        letters, year, sequence = match.group(1).upper(), int(match.group(2)), int(match.group(3))
        if sequence == 0:
            return None
        return TypedNumber(full=format_number(letters, year, sequence), sequence=sequence, year=year)
    if match := _YEAR_SEQ.fullmatch(text):
        year, sequence = int(match.group(1)), int(match.group(2))
        if sequence == 0:
            return None
        return TypedNumber(full=format_number(prefix, year, sequence), sequence=sequence, year=year)
    if (match := _PREFIX_SEQ.fullmatch(text)) and match.group(1).upper() == prefix.upper():
        sequence = int(match.group(2))
        return TypedNumber(sequence=sequence) if 0 < sequence <= MAX_SEQUENCE else None
    return None


__all__ = ["MAX_SEQUENCE", "TypedNumber", "format_number", "read_number"]
