"""The overview's trend chart as plain SVG numbers, computed on the server (no JavaScript, no external
asset): the template draws two polylines and a few labels from :class:`TrendChart`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 600
HEIGHT = 180
PAD_LEFT = 32
PAD_RIGHT = 8
PAD_TOP = 10
PAD_BOTTOM = 22


@dataclass(frozen=True, slots=True)
class TrendChart:
    width: int
    height: int
    #: ``"x,y x,y ..."`` for each series
    received: str
    resolved: str
    #: the y axis's top value and where the axis lines are (y of the top and the baseline)
    top: int
    y_top: float
    y_base: float
    x_left: float
    x_right: float
    #: (x, label) under the axis: the first, middle and last day
    ticks: tuple[tuple[float, str], ...]


def _nice_top(value: int) -> int:
    """A round axis maximum at or above ``value`` (at least 1)."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step * 5:
            return max(1, -(-value // step) * step)
    return value


def trend_chart(received: Sequence[int], resolved: Sequence[int], labels: Sequence[str]) -> TrendChart:
    """Two series of equal length (one value per day) on one axis starting at zero."""
    count = max(len(received), 1)
    top = _nice_top(max([*received, *resolved, 0]))
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(i: int) -> float:
        return PAD_LEFT + (inner_w * i / (count - 1) if count > 1 else inner_w / 2)

    def y(v: int) -> float:
        return PAD_TOP + inner_h * (1 - v / top)

    def points(values: Sequence[int]) -> str:
        return " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))

    picks = sorted({0, (len(labels) - 1) // 2, len(labels) - 1}) if labels else []
    return TrendChart(
        width=WIDTH, height=HEIGHT, received=points(received), resolved=points(resolved), top=top,
        y_top=PAD_TOP, y_base=PAD_TOP + inner_h, x_left=PAD_LEFT, x_right=WIDTH - PAD_RIGHT,
        ticks=tuple((x(i), labels[i]) for i in picks),
    )


__all__ = ["TrendChart", "trend_chart"]
