"""Bollinger bands."""

from __future__ import annotations

import math
from typing import List, NamedTuple, Sequence

from ._common import Indicator, NAN, check_period, finite
from .window import Spread, Window


class Bands(NamedTuple):
    """The three bands for one value."""

    upper: float
    middle: float
    """The SMA of the window, the same bits as ``Sma``'s."""
    lower: float


class BandColumns(NamedTuple):
    """The three bands' columns."""

    upper: List[float]
    middle: List[float]
    lower: List[float]


_NONE = Bands(NAN, NAN, NAN)


class Bollinger(Indicator):
    """The SMA of the last ``period`` values, and bands ``width`` population standard deviations
    above and below it. First value at the ``period``-th value."""

    __slots__ = ("_window", "_sum", "_spread", "_width")

    def __init__(self, period: int, width: float) -> None:
        check_period("bollinger", period, 1)
        self._window = Window(period)
        self._width = float(width)
        self.reset()

    def _step(self, value: float) -> "tuple[float, Spread, Bands]":
        total = self._window.sum_with(self._sum, value)
        spread = self._window.spread_with(self._spread, value)
        if not self._window.full_with():
            return total, spread, _NONE
        n = float(len(self._window))
        middle = total / n
        sigma = math.sqrt(spread.squares() / n)
        return total, spread, Bands(middle + self._width * sigma, middle, middle - self._width * sigma)

    def update(self, value: float) -> Bands:
        """Takes the next value and gives its output."""
        value = float(value)
        if not finite(value):
            self.reset()
            return _NONE
        total, spread, out = self._step(value)
        self._window.push(value)
        self._sum = total
        self._spread = spread
        return out

    def peek(self, value: float) -> Bands:
        """The output ``update(value)`` would give, leaving the indicator as it is."""
        value = float(value)
        return self._step(value)[2] if finite(value) else _NONE

    def reset(self) -> None:
        """Forgets every value taken."""
        self._window.clear()
        self._sum = 0.0
        self._spread = Spread()


def bollinger(values: Sequence[float], period: int, width: float) -> BandColumns:
    """``Bollinger`` down a column."""
    b = Bollinger(period, width)
    out = BandColumns([], [], [])
    for v in values:
        bands = b.update(float(v))
        out.upper.append(bands.upper)
        out.middle.append(bands.middle)
        out.lower.append(bands.lower)
    return out
