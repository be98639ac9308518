"""The host's interface as the Python SDK gives it: the market view over column-wise data, verdicts
and analyses, held signals and their state, cache entries. The JavaScript SDK's
test/host.test.js checks the same behaviour under the same names."""

import math
from types import SimpleNamespace

import pytest

from pulse_sdk import (
    AnalysesBuilder, CacheEntry, ComponentsView, HeldSignals, MarketView, encode_state, indicators, is_buy, is_sell,
    signal_name, verdict,
)

MARKET = SimpleNamespace(
    symbols=SimpleNamespace(text="BTCUSDTETHUSDT", ends=[7, 14]),
    price=[100.0, 10.0],
    history=SimpleNamespace(lengths=[2, 1], price=[99.0, 100.0, 10.0], volume_24h=[1.0, 2.0, 3.0], timestamp_ms=[1, 2, 2]),
    candles=[
        SimpleNamespace(timeframe="m1", lengths=[3, 2], forming=[True, False], close=[1.0, 2.0, 3.0, 4.0, 5.0], high=[]),
    ],
)


def test_the_market_view_splits_the_columns_per_symbol():
    view = MarketView(MARKET)
    assert len(view) == 2 and view.symbol(1) == "ETHUSDT" and view.symbols() == ["BTCUSDT", "ETHUSDT"]
    btc = view.candles("m1", 0)
    assert list(btc.close) == [1.0, 2.0, 3.0] and btc.forming and len(btc) == 3
    assert list(btc.closed().close) == [1.0, 2.0] and not btc.closed().forming
    assert list(btc.high) == [], "a column not asked for is empty"
    eth = view.candles("m1", 1)
    assert list(eth.close) == [4.0, 5.0] and eth.closed() is eth
    assert len(view.candles("h1", 0)) == 0
    assert list(view.history(0).price) == [99.0, 100.0] and list(view.history(1).volume_24h) == [3.0]


def test_verdicts_clamp_and_take_the_thresholds():
    assert [verdict(s).signal for s in (-5, 20, 30, 50, 60, 80, 120)] == [
        "strong-sell", "strong-sell", "sell", "neutral", "buy", "strong-buy", "strong-buy"]
    assert verdict(-5).score == 0.0 and verdict(120).score == 100.0
    assert math.isnan(verdict(math.nan).score)


def test_analyses_pad_missing_figures_with_nan():
    out = AnalysesBuilder(["a", "b"], 2)
    out.push(verdict(70), [1.0])
    out.abstain()
    built = out.finish()
    assert built.verdicts[0].signal == "buy" and built.verdicts[1] is None
    assert built.component_names == ["a", "b"]
    assert built.components[0] == 1.0 and all(math.isnan(x) for x in built.components[1:])


def test_held_signals_move_only_a_margin_past_a_threshold_and_round_trip():
    held = HeldSignals.decode(b'{"BTCUSDT": "BUY"}')
    following = HeldSignals()
    assert held.verdict("BTCUSDT", 57.0, 5.0, following).signal == "buy"
    assert held.verdict("ETHUSDT", 57.0, 5.0, following).signal == "neutral"
    assert held.verdict("BTCUSDT", 54.0, 5.0, HeldSignals()).signal == "neutral"
    assert HeldSignals.decode(following.encode()).get("BTCUSDT") == "buy"
    assert len(HeldSignals.decode(b"")) == 0


def test_cache_entries_are_json_or_text_with_an_optional_ttl():
    entry = CacheEntry.json("k", {"a": 1}).with_ttl(30)
    assert (entry.key, entry.value, entry.is_json, entry.ttl_seconds) == ("k", '{"a":1}', True, 30)
    assert CacheEntry.text("r", "BULLISH").is_json is False


def test_json_writes_numbers_that_are_not_finite_as_null_as_the_other_sdks():
    assert CacheEntry.json("k", {"a": math.nan, "b": [math.inf, 1.5]}).value == '{"a":null,"b":[null,1.5]}'
    assert encode_state({"x": -math.inf}) == b'{"x":null}'


def test_streaming_forms_take_ints_as_the_batch_forms_do():
    big = [2**53 + 1, 2**53 + 3, 2**53 + 8]
    stream = indicators.Roc(1)
    assert [stream.update(x) for x in big][1:] == indicators.roc(big, 1)[1:]
    assert indicators.TrueRange().update(2**60 + 1, 2**60, 2**60) == 0.0


def test_a_symbol_out_of_range_has_no_name_and_no_candles():
    view = MarketView(MARKET)
    assert view.symbol(5) == "" and len(view.candles("m1", 5)) == 0


def test_an_unknown_held_signal_gives_the_plain_verdict():
    assert HeldSignals({"X": "MAYBE"}).verdict("X", 70.0, 5.0, HeldSignals()).signal == "buy"


def test_a_series_without_columns_has_no_candles_and_components_read_by_name():
    bare = SimpleNamespace(
        symbols=SimpleNamespace(text="BTCUSDT", ends=[7]), price=[1.0],
        candles=[SimpleNamespace(timeframe="m1", lengths=[3], forming=[True])],
    )
    assert len(MarketView(bare).candles("m1", 0)) == 0
    built = AnalysesBuilder(["a", "b"], 2)
    built.push(verdict(50), [1.0, math.nan])
    built.push(verdict(50), [2.0, 3.0])
    assert ComponentsView(built.finish(), 1).entries() == [("a", 2.0), ("b", 3.0)]
    assert ComponentsView(built.finish(), 0).entries() == [("a", 1.0)]


def test_signals_have_their_cache_names_and_sides_as_the_rust_sdk_gives_them():
    signals = ["strong-buy", "buy", "neutral", "sell", "strong-sell"]
    assert [(signal_name(s), is_buy(s), is_sell(s)) for s in signals] == [
        ("STRONG_BUY", True, False),
        ("BUY", True, False),
        ("NEUTRAL", False, False),
        ("SELL", False, True),
        ("STRONG_SELL", False, True),
    ]
    with pytest.raises(ValueError):
        signal_name("hold")
