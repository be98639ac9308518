"""The Pulse plugin SDK for Python: indicators that give the same bits as the Rust and
JavaScript SDKs' (``pulse_sdk.indicators``), the functions they rest on (``pulse_sdk.math``),
and the host's interface as a plugin sees it: the market (``MarketView``), verdicts and
analyses, cache entries, the log (``pulse_sdk.log``) and held signals for state."""

from . import indicators, log, math
from .analyses import SIGNALS, Analyses, AnalysesBuilder, Verdict, is_buy, is_sell, signal_name, verdict
from .held import HeldSignals, decode_state, encode_state, held_verdict
from .market import CandleSeries, MarketView, Series
from .output import CacheEntry, ComponentsView

__version__ = "0.4.0"

__all__ = [
    "SIGNALS", "Analyses", "AnalysesBuilder", "CacheEntry", "CandleSeries", "ComponentsView", "HeldSignals",
    "MarketView", "Series", "Verdict", "decode_state", "encode_state", "held_verdict",
    "indicators", "is_buy", "is_sell", "log", "math", "signal_name", "verdict",
]
