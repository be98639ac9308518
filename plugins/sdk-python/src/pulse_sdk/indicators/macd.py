"""Moving average convergence divergence."""

from __future__ import annotations

from typing import List, NamedTuple, Sequence

from ._common import Indicator, NAN, check_period
from .ema import Ema


class MacdValue(NamedTuple):
    """MACD's three figures for one value."""

    macd: float
    """The fast EMA less the slow one."""
    signal: float
    """The EMA of ``macd`` over the signal period."""
    histogram: float
    """``macd - signal``."""


class MacdColumns(NamedTuple):
    """MACD's three columns."""

    macd: List[float]
    signal: List[float]
    histogram: List[float]


_NONE = MacdValue(NAN, NAN, NAN)


class Macd(Indicator):
    """The EMA over ``fast`` values less the one over ``slow``; the signal line is the EMA over
    ``signal`` of those values; the histogram the MACD less the signal."""

    __slots__ = ("_fast", "_slow", "_signal")

    def __init__(self, fast: int, slow: int, signal: int) -> None:
        check_period("macd (fast)", fast, 1)
        check_period("macd (slow)", slow, 1)
        check_period("macd (signal)", signal, 1)
        self._fast = Ema(fast)
        self._slow = Ema(slow)
        self._signal = Ema(signal)

    def _line(self, value: float) -> float:
        return self._fast.peek(value) - self._slow.peek(value)

    def update(self, value: float) -> MacdValue:
        """Takes the next value and gives its output."""
        value = float(value)
        line = self._line(value)
        self._fast.update(value)
        self._slow.update(value)
        if line != line:
            return _NONE
        signal = self._signal.update(line)
        return MacdValue(line, signal, line - signal)

    def peek(self, value: float) -> MacdValue:
        """The output ``update(value)`` would give, leaving the indicator as it is."""
        value = float(value)
        line = self._line(value)
        if line != line:
            return _NONE
        signal = self._signal.peek(line)
        return MacdValue(line, signal, line - signal)

    def reset(self) -> None:
        """Forgets every value taken."""
        self._fast.reset()
        self._slow.reset()
        self._signal.reset()


def macd(values: Sequence[float], fast: int, slow: int, signal: int) -> MacdColumns:
    """``Macd`` down a column."""
    m = Macd(fast, slow, signal)
    out = MacdColumns([], [], [])
    for v in values:
        value = m.update(float(v))
        out.macd.append(value.macd)
        out.signal.append(value.signal)
        out.histogram.append(value.histogram)
    return out
