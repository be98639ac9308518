"""Rolling maximum and minimum, each kept as a monotonic queue: O(1) per value, amortised."""

from __future__ import annotations

from collections import deque
from typing import Deque, List, Sequence, Tuple

from ._common import Indicator, NAN, check_period, column, finite


class _Extreme(Indicator):
    """The values that can still become the window's extreme, each with its position."""

    __slots__ = ("_period", "_queue", "_next", "_count", "_largest")

    def __init__(self, period: int, largest: bool) -> None:
        self._period = period
        self._queue: Deque[Tuple[int, float]] = deque()
        self._next = 0
        self._count = 0
        self._largest = largest

    def _beats(self, a: float, b: float) -> bool:
        return a >= b if self._largest else a <= b

    def update(self, value: float) -> float:
        """Takes the next value and gives its output."""
        value = float(value)
        if not finite(value):
            self.reset()
            return NAN
        out = self.peek(value)
        queue = self._queue
        if queue and queue[0][0] + self._period <= self._next:
            queue.popleft()
        while queue and self._beats(value, queue[-1][1]):
            queue.pop()
        queue.append((self._next, value))
        self._next += 1
        self._count = min(self._count + 1, self._period)
        return out

    def peek(self, value: float) -> float:
        """The output ``update(value)`` would give, leaving the indicator as it is."""
        value = float(value)
        if not finite(value) or self._count + 1 < self._period:
            return NAN
        for at, v in self._queue:
            if at + self._period > self._next:
                return v if not self._beats(value, v) else value
        return value

    def reset(self) -> None:
        """Forgets every value taken."""
        self._queue.clear()
        self._count = 0


class RollingMax(_Extreme):
    """The largest of the last ``period`` values (of equal ones, the latest)."""

    __slots__ = ()

    def __init__(self, period: int) -> None:
        check_period("rolling_max", period, 1)
        super().__init__(period, True)


class RollingMin(_Extreme):
    """The smallest of the last ``period`` values (of equal ones, the latest)."""

    __slots__ = ()

    def __init__(self, period: int) -> None:
        check_period("rolling_min", period, 1)
        super().__init__(period, False)


def rolling_max(values: Sequence[float], period: int) -> List[float]:
    """``RollingMax`` down a column."""
    return column(RollingMax(period).update, values)


def rolling_min(values: Sequence[float], period: int) -> List[float]:
    """``RollingMin`` down a column."""
    return column(RollingMin(period).update, values)
