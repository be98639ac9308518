"""Rolling standard deviation, and realised volatility (the deviation of log returns)."""

from __future__ import annotations

import math
from typing import List, Optional, Sequence

from ..math import ln
from ._common import Indicator, NAN, check_period, column, finite
from .window import Spread, Window


class RollingStd(Indicator):
    """The population standard deviation of the last ``period`` values. First value at the
    ``period``-th value."""

    __slots__ = ("_window", "_spread")

    def __init__(self, period: int) -> None:
        check_period("rolling_std", period, 1)
        self._window = Window(period)
        self._spread = Spread()

    def _step(self, value: float) -> "tuple[Spread, float]":
        spread = self._window.spread_with(self._spread, value)
        if not self._window.full_with():
            return spread, NAN
        return spread, math.sqrt(spread.squares() / float(len(self._window)))

    def update(self, value: float) -> float:
        """Takes the next value and gives its output."""
        value = float(value)
        if not finite(value):
            self.reset()
            return NAN
        spread, out = self._step(value)
        self._window.push(value)
        self._spread = spread
        return out

    def peek(self, value: float) -> float:
        """The output ``update(value)`` would give, leaving the indicator as it is."""
        value = float(value)
        return self._step(value)[1] if finite(value) else NAN

    def reset(self) -> None:
        """Forgets every value taken."""
        self._window.clear()
        self._spread = Spread()


class RealisedVolatility(Indicator):
    """The sample standard deviation of the last ``period`` log returns, in percent. First value
    at the ``period + 1``-th price."""

    __slots__ = ("_prev", "_window", "_spread")

    def __init__(self, period: int) -> None:
        check_period("realised_volatility", period, 2)
        self._window = Window(period)
        self.reset()

    def _log_return(self, price: float) -> Optional[float]:
        r = ln(price / self._prev)
        return r if finite(price) and price > 0.0 and finite(r) else None

    def _step(self, r: float) -> "tuple[Spread, float]":
        spread = self._window.spread_with(self._spread, r)
        if not self._window.full_with():
            return spread, NAN
        return spread, math.sqrt(spread.squares() / float(len(self._window) - 1)) * 100.0

    def update(self, price: float) -> float:
        """Takes the next price and gives its output."""
        price = float(price)
        if not (finite(price) and price > 0.0):
            self.reset()
            return NAN
        r = self._log_return(price)
        if r is None:
            self.reset()
            self._prev = price
            return NAN
        spread, out = self._step(r)
        self._window.push(r)
        self._spread = spread
        self._prev = price
        return out

    def peek(self, price: float) -> float:
        """The output ``update(price)`` would give, leaving the indicator as it is."""
        price = float(price)
        r = self._log_return(price)
        return NAN if r is None else self._step(r)[1]

    def reset(self) -> None:
        """Forgets every price taken."""
        self._prev = NAN
        self._window.clear()
        self._spread = Spread()


def rolling_std(values: Sequence[float], period: int) -> List[float]:
    """``RollingStd`` down a column."""
    return column(RollingStd(period).update, values)


def realised_volatility(prices: Sequence[float], period: int) -> List[float]:
    """``RealisedVolatility`` down a column of prices."""
    return column(RealisedVolatility(period).update, prices)
