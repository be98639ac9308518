"""Exponential moving average."""

from __future__ import annotations

from typing import List, Optional, Sequence

from ._common import Indicator, NAN, check_period, finite


class Ema(Indicator):
    """``e = x[0]``, then ``e += a * (x - e)`` with ``a = 2 / (period + 1)``. First value at the
    ``period``-th value."""

    __slots__ = ("_period", "_alpha", "_value", "_count")

    def __init__(self, period: int) -> None:
        check_period("ema", period, 1)
        self._period = period
        self._alpha = 2.0 / (float(period) + 1.0)
        self._value = 0.0
        self._count = 0

    def _next(self, value: float) -> float:
        if self._count == 0:
            return value
        return self._value + self._alpha * (value - self._value)

    def update(self, value: float) -> float:
        """Takes the next value and gives its output."""
        value = float(value)
        out = self.peek(value)
        if finite(value):
            self._value = self._next(value)
            self._count = min(self._count + 1, self._period)
        return out

    def peek(self, value: float) -> float:
        """The output ``update(value)`` would give, leaving the indicator as it is."""
        value = float(value)
        if finite(value) and self._count + 1 >= self._period:
            return self._next(value)
        return NAN

    def _run(self, values: Sequence[float], out: Optional[List[float]]) -> float:
        """See ``Indicator._run``."""
        n, alpha = self._period, self._alpha
        value, count = self._value, self._count
        last = NAN
        for x in values:
            x = float(x)
            if not x - x == 0.0:
                last = NAN
            else:
                value = x if count == 0 else value + alpha * (x - value)
                last = value if count + 1 >= n else NAN
                count = count + 1 if count < n else n
            if out is not None:
                out.append(last)
        self._value, self._count = value, count
        return last

    def reset(self) -> None:
        """Forgets every value taken."""
        self._value = 0.0
        self._count = 0


def ema(values: Sequence[float], period: int) -> List[float]:
    """``Ema`` down a column."""
    out: List[float] = []
    Ema(period)._run(values, out)
    return out
