"""Typed views of the contract's column-wise market, as the Rust SDK's ``market.rs`` gives them:
per symbol, its name, its history and its candles of each time frame asked for. The market is
what componentize-py hands over (records with snake_case fields, lists) or anything with the
same fields, as in a native test."""

from __future__ import annotations

from typing import Any, List, NamedTuple, Sequence


def _part(column: Any, start: int, end: int) -> Sequence[Any]:
    """``column[start:end]``; empty when the column was not asked for."""
    if column is None or len(column) == 0:
        return []
    return column[start:end]


def _offsets(lengths: Any) -> List[int]:
    """Where each symbol's rows start, and the end."""
    out = [0]
    for n in lengths or []:
        out.append(out[-1] + n)
    return out


def _timeframe_name(timeframe: Any) -> str:
    """A time frame's name (``"m1"``), from the contract's enum or a string."""
    return str(getattr(timeframe, "name", timeframe)).lower()


class Series(NamedTuple):
    """One symbol's rolling history, oldest sample first."""

    price: Sequence[float]
    volume_24h: Sequence[float]
    timestamp_ms: Sequence[int]


def _rows(column: Any, start: int, end: int, n: int) -> int:
    """How many of ``column``'s rows fall in ``start..end``, or ``n`` if more."""
    if column is None or len(column) == 0:
        return n
    count = min(end, len(column)) - start
    return count if count > n else n


_COLUMNS = ("start_ms", "open", "high", "low", "close", "volume", "turnover")


class CandleSeries:
    """One symbol's candles of one time frame, oldest first. Every column the plugin asked for
    has the same length; the others are empty. A column is cut from the market's when it is read:
    cutting the seven columns of every symbol up front costs more than most analyses."""

    __slots__ = ("forming", "_columns", "_start", "_end")

    def __init__(self, columns: Any, start: int, end: int, forming: bool) -> None:
        # Whether the last candle is still forming.
        self.forming = forming
        self._columns, self._start, self._end = columns, start, end

    def _column(self, name: str) -> Sequence[Any]:
        return _part(getattr(self._columns, name, None), self._start, self._end)

    @property
    def start_ms(self) -> Sequence[int]:
        """Candle open times, milliseconds since the Unix epoch."""
        return self._column("start_ms")

    @property
    def open(self) -> Sequence[float]:
        """Opening prices."""
        return self._column("open")

    @property
    def high(self) -> Sequence[float]:
        """Highest prices."""
        return self._column("high")

    @property
    def low(self) -> Sequence[float]:
        """Lowest prices."""
        return self._column("low")

    @property
    def close(self) -> Sequence[float]:
        """Closing prices (the last price, for a forming candle)."""
        return self._column("close")

    @property
    def volume(self) -> Sequence[float]:
        """Base-asset volumes."""
        return self._column("volume")

    @property
    def turnover(self) -> Sequence[float]:
        """Quote-asset turnovers."""
        return self._column("turnover")

    def __len__(self) -> int:
        """Number of candles, the forming one included, as the columns asked for hold them (0
        when the request named no column), as the Rust SDK counts them."""
        n = 0
        for name in _COLUMNS:
            n = _rows(getattr(self._columns, name, None), self._start, self._end, n)
        return n

    def closed(self) -> "CandleSeries":
        """The closed candles only: without the forming last candle, if there is one."""
        if not self.forming:
            return self
        n = len(self)
        return CandleSeries(self._columns, self._start, self._start + (n - 1 if n > 0 else 0), False)


class MarketView:
    """The cycle's market with per-symbol access to the flattened history and candles; its
    columns are on ``market`` (``view.market.price[i]``, ``view.market.change_24h[i]``, ...)."""

    __slots__ = ("market", "_names", "_history", "_candles")

    def __init__(self, market: Any) -> None:
        self.market = market
        names, start = [], 0
        for end in market.symbols.ends:
            names.append(market.symbols.text[start:end])
            start = end
        self._names: List[str] = names
        history = getattr(market, "history", None)
        self._history = _offsets(getattr(history, "lengths", None))
        self._candles = [_offsets(c.lengths) for c in getattr(market, "candles", None) or []]

    def __len__(self) -> int:
        return len(self._names)

    def symbol(self, i: int) -> str:
        """Symbol i's name. The host hands the names over as one string and where each ends
        (they count bytes; Pulse's symbol names are ASCII, so they count characters too)."""
        return self._names[i] if 0 <= i < len(self._names) else ""

    def symbols(self) -> List[str]:
        """Every symbol's name, in the market's order."""
        return list(self._names)

    def history(self, i: int) -> Series:
        """Symbol i's samples of the 24 h tickers, one per cycle, oldest first."""
        h = getattr(self.market, "history", None)
        at = self._history
        start, end = (at[i], at[i + 1]) if i + 1 < len(at) else (0, 0)
        return Series(
            _part(getattr(h, "price", None), start, end),
            _part(getattr(h, "volume_24h", None), start, end),
            _part(getattr(h, "timestamp_ms", None), start, end),
        )

    def candles(self, timeframe: Any, i: int) -> CandleSeries:
        """Symbol i's candles of ``timeframe`` (``"m1"`` or the contract's ``Timeframe.M1``);
        empty when ``describe`` did not ask for it."""
        wanted = _timeframe_name(timeframe)
        if not 0 <= i < len(self._names):
            return CandleSeries(None, 0, 0, False)
        for k, columns in enumerate(getattr(self.market, "candles", None) or []):
            if _timeframe_name(columns.timeframe) == wanted:
                at = self._candles[k]
                return CandleSeries(columns, at[i], at[i + 1], bool(columns.forming[i]))
        return CandleSeries(None, 0, 0, False)
