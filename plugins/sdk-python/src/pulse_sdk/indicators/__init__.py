"""Indicators over a column of prices (or of candles' highs, lows and closes), oldest first,
that give the same bits in Python, Rust and JavaScript: every SDK runs the same IEEE-754
operations in the same order, with its own ``ln`` (``pulse_sdk.math``) and no built-in ``sum``,
``max`` or ``min``. ``docs/plugins/indicators.md`` gives each one's formula and warm-up.

Each comes twice:

- a **batch** function over a whole column, giving a list as long, NaN where there is no value
  yet (``rsi(closes, 14)``);
- a **streaming** class (``Rsi(14)``) with ``update`` (the next value in, its output out),
  ``peek`` (the output ``update`` would give, without taking the value: for the candle still
  forming), ``reset`` and ``last`` (every value of a column in turn, the last output out).

A value that is not finite (NaN, +-inf) is a gap: its output is NaN. An indicator with a window
starts again after a gap; one that smooths (EMA, RSI, ATR, MACD) carries on from the last value
before it. A period below 1 raises ``ValueError``.
"""

from .bollinger import BandColumns, Bands, Bollinger, bollinger
from .deviation import RealisedVolatility, RollingStd, realised_volatility, rolling_std
from .ema import Ema, ema
from .extremes import RollingMax, RollingMin, rolling_max, rolling_min
from .macd import Macd, MacdColumns, MacdValue, macd
from .range import Atr, TrueRange, atr, true_range
from .roc import Roc, roc
from .rsi import Rsi, rsi
from .sma import Sma, sma

__all__ = [
    "Atr", "BandColumns", "Bands", "Bollinger", "Ema", "Macd", "MacdColumns", "MacdValue",
    "RealisedVolatility", "Roc", "RollingMax", "RollingMin", "RollingStd", "Rsi", "Sma",
    "TrueRange", "atr", "bollinger", "ema", "macd", "realised_volatility", "roc", "rolling_max",
    "rolling_min", "rolling_std", "rsi", "sma", "true_range",
]
