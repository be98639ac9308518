"""Rate of change."""

from __future__ import annotations

from typing import List, Sequence

from ..math import divide
from ._common import Indicator, NAN, check_period, column, finite
from .window import Window


class Roc(Indicator):
    """The change over ``period`` values, in percent: ``(x[t] - x[t-n]) / x[t-n] * 100``. First
    value at the ``period + 1``-th value."""

    __slots__ = ("_window",)

    def __init__(self, period: int) -> None:
        check_period("roc", period, 1)
        self._window = Window(period)

    def update(self, value: float) -> float:
        """Takes the next value and gives its output."""
        value = float(value)
        if not finite(value):
            self.reset()
            return NAN
        out = self.peek(value)
        self._window.push(value)
        return out

    def peek(self, value: float) -> float:
        """The output ``update(value)`` would give, leaving the indicator as it is."""
        value = float(value)
        old = self._window.oldest()
        if old is None or not finite(value):
            return NAN
        return divide(value - old, old) * 100.0

    def reset(self) -> None:
        """Forgets every value taken."""
        self._window.clear()


def roc(values: Sequence[float], period: int) -> List[float]:
    """``Roc`` down a column."""
    return column(Roc(period).update, values)
