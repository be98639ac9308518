"""Verdicts and the analyses an analyzer returns, as the Rust SDK's ``analyses.rs`` builds them.
Signals are the contract's names as strings (``"strong-buy"``); ``to_contract`` turns the
analyses into the contract's types inside the component."""

from __future__ import annotations

import math
from typing import Any, List, NamedTuple, Optional, Sequence

SIGNALS = (
    ("strong-sell", "STRONG_SELL"),
    ("sell", "SELL"),
    ("neutral", "NEUTRAL"),
    ("buy", "BUY"),
    ("strong-buy", "STRONG_BUY"),
)
"""The signals from strong sell to strong buy, with their names in cache values (``BUY``)."""


def signal_name(signal: str) -> str:
    """The signal's name in cache values (``STRONG_BUY``), as the Rust SDK's ``Signal::as_str``;
    ``ValueError`` for a string that is not one of the contract's signals."""
    for given, name in SIGNALS:
        if given == signal:
            return name
    raise ValueError(f"not a signal of the contract: {signal!r}")


def is_buy(signal: str) -> bool:
    """True for buy and strong buy."""
    return signal in ("buy", "strong-buy")


def is_sell(signal: str) -> bool:
    """True for sell and strong sell."""
    return signal in ("sell", "strong-sell")


class Verdict(NamedTuple):
    """A score from 0 to 100 and its signal."""

    score: float
    signal: str


class Analyses(NamedTuple):
    """What an analyzer returns: a verdict per symbol (None to abstain), the names of the
    figures reported beside them, and those figures, row-major."""

    verdicts: List[Optional[Verdict]]
    component_names: List[str]
    components: List[float]


def verdict(score: float) -> Verdict:
    """A score clamped to 0..100 (NaN stays NaN) and its signal: strong buy from 80, buy from
    60, strong sell to 20, sell to 40, neutral between."""
    clamped = 0.0 if score < 0.0 else 100.0 if score > 100.0 else float(score)
    if clamped >= 80.0:
        signal = "strong-buy"
    elif clamped >= 60.0:
        signal = "buy"
    elif clamped <= 20.0:
        signal = "strong-sell"
    elif clamped <= 40.0:
        signal = "sell"
    else:
        signal = "neutral"
    return Verdict(clamped, signal)


class AnalysesBuilder:
    """Builds an analyzer's output one symbol at a time, in the market's order."""

    __slots__ = ("_names", "_verdicts", "_components")

    def __init__(self, component_names: Sequence[str], symbols: int = 0) -> None:
        self._names = list(component_names)
        self._verdicts: List[Optional[Verdict]] = []
        self._components: List[float] = []

    def push(self, given: Verdict, components: Sequence[float]) -> None:
        """The next symbol's verdict and figures (missing figures are NaN)."""
        self._row(given, components)

    def abstain(self, components: Sequence[float] = ()) -> None:
        """The next symbol gets no verdict (too little data), with what figures there are."""
        self._row(None, components)

    def _row(self, given: Optional[Verdict], components: Sequence[float]) -> None:
        self._verdicts.append(given)
        for j in range(len(self._names)):
            self._components.append(float(components[j]) if j < len(components) else math.nan)

    def finish(self) -> Analyses:
        return Analyses(self._verdicts, self._names, self._components)


def to_contract(types: Any, analyses: Analyses) -> Any:
    """``analyses`` as the contract's ``types.Analyses`` (componentize-py's ``wit_world``
    bindings: ``from wit_world.imports import types``)."""
    signals = {
        "strong-buy": types.Signal.STRONG_BUY,
        "buy": types.Signal.BUY,
        "neutral": types.Signal.NEUTRAL,
        "sell": types.Signal.SELL,
        "strong-sell": types.Signal.STRONG_SELL,
    }
    return types.Analyses(
        verdicts=[None if v is None else types.Verdict(score=v.score, signal=signals[v.signal]) for v in analyses.verdicts],
        component_names=list(analyses.component_names),
        components=list(analyses.components),
    )
