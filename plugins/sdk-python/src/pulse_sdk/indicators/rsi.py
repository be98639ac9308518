"""Wilder's relative strength index."""

from __future__ import annotations

from typing import List, Optional, Sequence

from ..math import larger
from ._common import Indicator, NAN, check_period, finite


class Rsi(Indicator):
    """Wilder's RSI over ``period`` changes, 0 to 100. First value at the ``period + 1``-th value."""

    __slots__ = ("_period", "_prev", "_count", "_gain", "_loss")

    def __init__(self, period: int) -> None:
        check_period("rsi", period, 1)
        self._period = period
        self.reset()

    def _step(self, value: float) -> "tuple[float, float, float]":
        n = float(self._period)
        d = value - self._prev
        count = self._count + 1
        if count <= self._period:
            if d > 0.0:
                gain, loss = self._gain + d, self._loss
            else:
                gain, loss = self._gain, self._loss - d
            if count == self._period:
                gain, loss = gain / n, loss / n
        else:
            gain = (self._gain * (n - 1.0) + larger(d, 0.0)) / n
            loss = (self._loss * (n - 1.0) + larger(-d, 0.0)) / n
        if count < self._period:
            out = NAN
        elif loss == 0.0:
            out = 50.0 if gain == 0.0 else 100.0
        else:
            out = 100.0 - 100.0 / (1.0 + gain / loss)
        return gain, loss, out

    def update(self, value: float) -> float:
        """Takes the next value and gives its output."""
        value = float(value)
        if not finite(value):
            return NAN
        if self._prev != self._prev:
            self._prev = value
            return NAN
        gain, loss, out = self._step(value)
        self._prev = value
        self._count = min(self._count + 1, self._period + 1)
        self._gain = gain
        self._loss = loss
        return out

    def peek(self, value: float) -> float:
        """The output ``update(value)`` would give, leaving the indicator as it is."""
        value = float(value)
        if not finite(value) or self._prev != self._prev:
            return NAN
        return self._step(value)[2]

    def _run(self, values: Sequence[float], out: Optional[List[float]]) -> float:
        """See ``Indicator._run``."""
        period = self._period
        n = float(period)
        prev, count, gain, loss = self._prev, self._count, self._gain, self._loss
        last = NAN
        for value in values:
            value = float(value)
            if not value - value == 0.0:
                last = NAN
            elif prev != prev:
                prev, last = value, NAN
            else:
                # Rsi._step, written out; `larger(d, 0.0)` as its definition reads for a number.
                d = value - prev
                following = count + 1
                if following <= period:
                    if d > 0.0:
                        gain = gain + d
                    else:
                        loss = loss - d
                    if following == period:
                        gain, loss = gain / n, loss / n
                else:
                    gain = (gain * (n - 1.0) + (d if d >= 0.0 else 0.0)) / n
                    loss = (loss * (n - 1.0) + (-d if -d >= 0.0 else 0.0)) / n
                if following < period:
                    last = NAN
                elif loss == 0.0:
                    last = 50.0 if gain == 0.0 else 100.0
                else:
                    last = 100.0 - 100.0 / (1.0 + gain / loss)
                prev = value
                count = following if count <= period else period + 1
            if out is not None:
                out.append(last)
        self._prev, self._count, self._gain, self._loss = prev, count, gain, loss
        return last

    def reset(self) -> None:
        """Forgets every value taken."""
        self._prev = NAN
        self._count = 0
        self._gain = 0.0
        self._loss = 0.0


def rsi(values: Sequence[float], period: int) -> List[float]:
    """``Rsi`` down a column."""
    out: List[float] = []
    Rsi(period)._run(values, out)
    return out
