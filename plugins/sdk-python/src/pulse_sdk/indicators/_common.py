"""What every indicator shares: the period check, the batch form, ``last``, and NaN."""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence

NAN = float("nan")
"""The output where there is none."""


def check_period(indicator: str, period: int, least: int) -> None:
    """Raises ``ValueError`` unless ``period`` is a whole number of at least ``least``."""
    if isinstance(period, bool) or not isinstance(period, int) or period < least:
        raise ValueError(f"{indicator}: the period must be a whole number of at least {least}, not {period!r}")


def finite(x: float) -> bool:
    """Whether ``x`` is neither NaN nor infinite."""
    return x - x == 0.0


def column(update: Callable[[float], float], values: Sequence[float]) -> List[float]:
    """``update`` run down ``values``."""
    return [update(float(v)) for v in values]


class Indicator:
    """What every streaming indicator shares: ``last``. Each subclass has ``update(...)``,
    ``peek(...)`` and ``reset()``; ``peek`` of a gap (NaN) is its output where there is none."""

    __slots__ = ()

    def update(self, *values: float) -> Any:
        """Takes the next value (ATR and true range: a candle's high, low and close) and gives
        its output."""
        raise NotImplementedError

    def peek(self, *values: float) -> Any:
        """The output ``update`` would give, leaving the indicator as it is."""
        raise NotImplementedError

    def _run(self, values: Sequence[float], out: Optional[List[float]]) -> Optional[float]:
        """``update`` down ``values``, its outputs appended to ``out`` when given; returns the
        last output (NaN for no values), or None for an indicator without this loop (``last``
        then calls ``update`` per value). ``Sma``, ``Ema`` and ``Rsi`` have it: the same
        operations as ``update`` with the state in local variables, because attribute reads and
        calls cost more than the arithmetic, most of all in the sandbox's interpreter. The shared
        vectors check it (the batch form) and ``update`` apart."""
        return None

    def last(self, *columns: Sequence[float]) -> Any:
        """Takes every value in turn and gives the last one's output (NaN, or NaN in every field,
        for none). ATR and true range take three columns: high, low and close (as long as the
        shortest)."""
        if len(columns) == 1:
            fast = self._run(columns[0], None)
            if fast is not None:
                return fast
        out = self.peek(*[NAN] * (len(columns) or 1))
        n = min((len(c) for c in columns), default=0)
        for i in range(n):
            out = self.update(*(float(c[i]) for c in columns))
        return out
