"""True range and Wilder's average true range, over candles' highs, lows and closes."""

from __future__ import annotations

from typing import List, Sequence

from ..math import larger
from ._common import Indicator, NAN, check_period, finite


class TrueRange(Indicator):
    """A candle's true range: the largest of ``high - low``, ``|high - previous close|`` and
    ``|low - previous close|``; the first candle's is ``high - low``."""

    __slots__ = ("_prev_close",)

    def __init__(self) -> None:
        self._prev_close = NAN

    def update(self, high: float, low: float, close: float) -> float:
        """Takes the next candle and gives its true range."""
        high, low, close = float(high), float(low), float(close)
        out = self.peek(high, low, close)
        if out == out:
            self._prev_close = close
        return out

    def peek(self, high: float, low: float, close: float) -> float:
        """The true range ``update`` would give, leaving this as it is."""
        high, low, close = float(high), float(low), float(close)
        if not (finite(high) and finite(low) and finite(close)):
            return NAN
        span = high - low
        prev = self._prev_close
        if prev != prev:
            return span
        return larger(larger(span, abs(high - prev)), abs(low - prev))

    def reset(self) -> None:
        """Forgets the previous close."""
        self._prev_close = NAN

    def _started(self) -> bool:
        return self._prev_close == self._prev_close


class Atr(Indicator):
    """Wilder's average true range over ``period`` candles. First value at the
    ``period + 1``-th candle."""

    __slots__ = ("_period", "_range", "_count", "_value")

    def __init__(self, period: int) -> None:
        check_period("atr", period, 1)
        self._period = period
        self.reset()

    def _step(self, tr: float) -> "tuple[float, float]":
        n = float(self._period)
        count = self._count + 1
        if count < self._period:
            value = self._value + tr
        elif count == self._period:
            value = (self._value + tr) / n
        else:
            value = (self._value * (n - 1.0) + tr) / n
        return value, (NAN if count < self._period else value)

    def update(self, high: float, low: float, close: float) -> float:
        """Takes the next candle and gives the ATR."""
        high, low, close = float(high), float(low), float(close)
        counted = self._range._started()
        tr = self._range.update(high, low, close)
        if tr != tr or not counted:
            return NAN
        value, out = self._step(tr)
        self._count = min(self._count + 1, self._period + 1)
        self._value = value
        return out

    def peek(self, high: float, low: float, close: float) -> float:
        """The ATR ``update`` would give, leaving this as it is."""
        high, low, close = float(high), float(low), float(close)
        tr = self._range.peek(high, low, close)
        if tr != tr or not self._range._started():
            return NAN
        return self._step(tr)[1]

    def reset(self) -> None:
        """Forgets every candle taken."""
        self._range = TrueRange()
        self._count = 0
        self._value = 0.0


def true_range(high: Sequence[float], low: Sequence[float], close: Sequence[float]) -> List[float]:
    """``TrueRange`` down the columns (as long as the shortest)."""
    tr = TrueRange()
    return [tr.update(float(high[i]), float(low[i]), float(close[i])) for i in range(min(len(high), len(low), len(close)))]


def atr(high: Sequence[float], low: Sequence[float], close: Sequence[float], period: int) -> List[float]:
    """``Atr`` down the columns (as long as the shortest)."""
    a = Atr(period)
    return [a.update(float(high[i]), float(low[i]), float(close[i])) for i in range(min(len(high), len(low), len(close)))]
