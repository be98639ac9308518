"""The last ``n`` values an indicator has seen since its last gap, with the running sum and
spread the window indicators share. ``window.rs`` in the Rust SDK says why each step is as it
is; this is the same, operation for operation."""

from __future__ import annotations

from typing import Iterator, Optional

_INF = float("inf")
_NAN = float("nan")


class Spread:
    """Welford's running mean and sum of squared deviations from it."""

    __slots__ = ("count", "mean", "m2")

    def __init__(self, count: float = 0.0, mean: float = 0.0, m2: float = 0.0) -> None:
        self.count = count
        self.mean = mean
        self.m2 = m2

    def add(self, x: float) -> "Spread":
        """With ``x`` counted too."""
        count = self.count + 1.0
        d = x - self.mean
        mean = self.mean + d / count
        return Spread(count, mean, self.m2 + d * (x - mean))

    def replace(self, old: float, x: float, n: float) -> "Spread":
        """With ``old`` replaced by ``x`` in a full window of ``n`` values."""
        d = x - old
        mean = self.mean + d / n
        return Spread(self.count, mean, self.m2 + d * ((x - mean) + (old - self.mean)))

    def squares(self) -> float:
        """The sum of squared deviations: never below 0, and NaN, not 0, once it has overflowed
        to -inf."""
        if self.m2 == -_INF:
            return _NAN
        return 0.0 if self.m2 < 0.0 else self.m2


class Window:
    """A ring of the last ``n`` values since the last gap."""

    __slots__ = ("ring", "pos", "count")

    def __init__(self, n: int) -> None:
        self.ring = [0.0] * n
        self.pos = 0
        self.count = 0

    def __len__(self) -> int:
        return len(self.ring)

    def full_with(self) -> bool:
        """Whether the window is full once one more value is added."""
        return self.count + 1 >= len(self.ring)

    def oldest(self) -> Optional[float]:
        """The value the next one pushes out, when the window is full."""
        return self.ring[self.pos] if self.count == len(self.ring) else None

    def _in_order_with(self, x: float) -> Optional[Iterator[float]]:
        """The values with ``x`` added, oldest first, when adding it writes the ring's last slot."""
        if self.pos + 1 != len(self.ring):
            return None
        pos, ring = self.pos, self.ring
        return (x if i == pos else ring[i] for i in range(len(ring)))

    def push(self, x: float) -> None:
        """Adds ``x``, pushing out the oldest value when full."""
        self.ring[self.pos] = x
        self.pos = (self.pos + 1) % len(self.ring)
        self.count = min(self.count + 1, len(self.ring))

    def clear(self) -> None:
        """Forgets every value."""
        self.pos = 0
        self.count = 0

    def sum_with(self, total: float, x: float) -> float:
        """The window's sum with ``x`` added, given its sum now."""
        values = self._in_order_with(x)
        if values is not None:
            out = 0.0
            for v in values:
                out = out + v
            return out
        old = self.oldest()
        if old is not None:
            return (total - old) + x
        return total + x

    def spread_with(self, spread: Spread, x: float) -> Spread:
        """The window's spread with ``x`` added, given its spread now."""
        values = self._in_order_with(x)
        if values is not None:
            out = Spread()
            for v in values:
                out = out.add(v)
            return out
        old = self.oldest()
        if old is not None:
            return spread.replace(old, x, float(len(self.ring)))
        return spread.add(x)
