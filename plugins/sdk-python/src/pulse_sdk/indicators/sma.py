"""Simple moving average."""

from __future__ import annotations

from typing import List, Optional, Sequence

from ._common import Indicator, NAN, check_period, finite
from .window import Window


class Sma(Indicator):
    """The mean of the last ``period`` values. First value at the ``period``-th value."""

    __slots__ = ("_window", "_sum")

    def __init__(self, period: int) -> None:
        check_period("sma", period, 1)
        self._window = Window(period)
        self._sum = 0.0

    def _step(self, value: float) -> "tuple[float, float]":
        total = self._window.sum_with(self._sum, value)
        out = total / len(self._window) if self._window.full_with() else NAN
        return total, out

    def update(self, value: float) -> float:
        """Takes the next value and gives its output."""
        value = float(value)
        if not finite(value):
            self.reset()
            return NAN
        total, out = self._step(value)
        self._window.push(value)
        self._sum = total
        return out

    def peek(self, value: float) -> float:
        """The output ``update(value)`` would give, leaving the indicator as it is."""
        value = float(value)
        return self._step(value)[1] if finite(value) else NAN

    def _run(self, values: Sequence[float], out: Optional[List[float]]) -> float:
        """See ``Indicator._run``."""
        window = self._window
        ring = window.ring
        n = len(ring)
        pos, count, total = window.pos, window.count, self._sum
        last = NAN
        for value in values:
            value = float(value)
            if not value - value == 0.0:
                pos, count, total, last = 0, 0, 0.0, NAN
            else:
                if pos + 1 == n:
                    # The window's sum afresh once a lap, as Window.sum_with.
                    total = 0.0
                    for i in range(n):
                        total = total + (value if i == pos else ring[i])
                elif count == n:
                    total = (total - ring[pos]) + value
                else:
                    total = total + value
                last = total / n if count + 1 >= n else NAN
                ring[pos] = value
                pos = pos + 1 if pos + 1 < n else 0
                count = count + 1 if count + 1 < n else n
            if out is not None:
                out.append(last)
        window.pos, window.count, self._sum = pos, count, total
        return last

    def reset(self) -> None:
        """Forgets every value taken."""
        self._window.clear()
        self._sum = 0.0


def sma(values: Sequence[float], period: int) -> List[float]:
    """``Sma`` down a column."""
    out: List[float] = []
    Sma(period)._run(values, out)
    return out
