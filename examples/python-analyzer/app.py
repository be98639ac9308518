"""A Pulse analyzer written in Python: mean reversion by z-score on five-minute candles.

It scores each symbol by how far its current price stands from the mean of its last closes:
far below the mean scores high (expected to revert up), far above scores low. Built into a
WebAssembly component with componentize-py against the same WIT contract as the Rust plugins
(see build.sh), and loaded by the same daemon.
"""

import json
import math

from componentize_py_types import Err
from wit_world import WitWorld as Base
from wit_world.imports import host, types

NAME = "pyrevert"
VERSION = "0.2.0"
# Closed five-minute candles asked for; the forming one comes on top.
DEPTH = 20


class WitWorld(Base):
    """The analyzer world's exports."""

    def describe(self) -> types.PluginInfo:
        return types.PluginInfo(
            name=NAME,
            version=VERSION,
            description="mean reversion by z-score on 5 m candles (Python)",
            history_depth=0,
            # The closes only: each column asked for is copied into the plugin on every call.
            candles=[
                types.CandleRequest(
                    timeframe=types.Timeframe.M5, depth=DEPTH, top=0, columns=types.CandleColumns.CLOSE
                )
            ],
            key_prefixes=[],
        )

    def init(self, config: str) -> None:
        settings = json.loads(config)
        unknown = set(settings) - {"threshold"}
        if unknown:
            raise Err(f"bad plugin config: unknown field(s) {sorted(unknown)}")

    def analyze(self, market: types.Market) -> types.Analyses:
        # One entry per request, in order: the five-minute candles, column-wise.
        candles = market.candles[0]
        verdicts = []
        components = []
        start = 0
        for i, _symbol in enumerate(market.symbols):
            length = candles.lengths[i]
            closes = candles.close[start:start + length]
            start += length
            z = z_score(closes)
            if z is None:
                verdicts.append(None)
                components.append(math.nan)
                continue
            score = max(0.0, min(100.0, 50.0 - 20.0 * z))
            verdicts.append(types.Verdict(score=score, signal=signal(score)))
            components.append(z)
        if market.cycle == 1:
            host.log(host.Level.INFO, f"{NAME} scoring {len(market.symbols)} symbols")
        return types.Analyses(verdicts=verdicts, component_names=["z_score"], components=components)


def z_score(prices):
    """How many standard deviations the last price is from the mean; None if undefined."""
    if len(prices) < 3:
        return None
    mean = sum(prices) / len(prices)
    var = sum((p - mean) ** 2 for p in prices) / (len(prices) - 1)
    if var <= 0:
        return None
    return (prices[-1] - mean) / math.sqrt(var)


def signal(score):
    """The same thresholds as the Rust SDK's `verdict`."""
    if score >= 80:
        return types.Signal.STRONG_BUY
    if score >= 60:
        return types.Signal.BUY
    if score <= 20:
        return types.Signal.STRONG_SELL
    if score <= 40:
        return types.Signal.SELL
    return types.Signal.NEUTRAL
