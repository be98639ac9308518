#!/usr/bin/env python3
"""What a user would build instead of Pulse, for pulse-bench to measure Pulse against.

One straightforward Python process does the work of Pulse's bundled plugins in its loop: it
steps a simulated market of N symbols with one-minute and hourly candles, scores each symbol
as `trend` does (EMA 12/26 and RSI 14 on 61 one-minute closes, the EMA gap on 31 hourly ones,
the 24 h change) and as `volatility` does (ATR 14 and realised volatility of one-minute
candles), builds the dashboard's keys (overview; tickers of the 1,000 largest symbols, the
dashboard's default `max_tickers`; movers, breadth, signals, regime, sparklines and a
breakdown per symbol) and writes them with pymemcache in one pipelined `set_many`, waiting
for every reply as Pulse does. Prints one JSON line with the cycle times.

Usage: alternative.py --symbols N --cycles C --memcached HOST:PORT
"""

import argparse
import json
import math
import random
import time

from pymemcache.client.base import Client

MINUTE_DEPTH = 60
HOUR_DEPTH = 30


def ema(values, period):
    if len(values) < period:
        return None
    k = 2.0 / (period + 1)
    e = sum(values[:period]) / period
    for v in values[period:]:
        e = v * k + e * (1.0 - k)
    return e


def rsi(closes, period):
    if len(closes) <= period:
        return None
    gains = losses = 0.0
    for a, b in zip(closes[:period], closes[1 : period + 1]):
        d = b - a
        gains += max(d, 0.0)
        losses += max(-d, 0.0)
    gains /= period
    losses /= period
    for a, b in zip(closes[period:], closes[period + 1 :]):
        d = b - a
        gains = (gains * (period - 1) + max(d, 0.0)) / period
        losses = (losses * (period - 1) + max(-d, 0.0)) / period
    if losses == 0.0:
        return 100.0
    return 100.0 - 100.0 / (1.0 + gains / losses)


def atr(highs, lows, closes, period):
    if len(closes) <= period:
        return None
    ranges = [
        max(h - l, abs(h - c0), abs(l - c0))
        for h, l, c0 in zip(highs[1:], lows[1:], closes[:-1])
    ]
    a = sum(ranges[:period]) / period
    for r in ranges[period:]:
        a = (a * (period - 1) + r) / period
    return a


def realised_vol(closes):
    returns = [math.log(b / a) for a, b in zip(closes, closes[1:]) if a > 0 and b > 0]
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    var = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    return math.sqrt(var) * math.sqrt(1440) * 100.0


class Symbol:
    def __init__(self, name, rng):
        self.name = name
        self.price = rng.uniform(0.5, 50_000.0)
        self.change_24h = rng.uniform(-8.0, 8.0)
        self.volume_24h = rng.uniform(1e3, 1e8)
        self.minutes = self.past(rng, MINUTE_DEPTH + 1, 0.002)
        self.hours = self.past(rng, HOUR_DEPTH + 1, 0.01)

    def past(self, rng, n, step):
        candles, price = [], self.price
        for _ in range(n):
            close = price * (1.0 + rng.gauss(0.0, step))
            high, low = max(price, close) * 1.001, min(price, close) * 0.999
            candles.append([price, high, low, close, rng.uniform(1.0, 1e4)])
            price = close
        self.price = price
        return candles

    def trade(self, rng, roll_minute):
        self.price *= 1.0 + rng.gauss(0.0, 0.001)
        self.change_24h += rng.gauss(0.0, 0.05)
        forming = self.minutes[-1]
        forming[1] = max(forming[1], self.price)
        forming[2] = min(forming[2], self.price)
        forming[3] = self.price
        if roll_minute:
            self.minutes = self.minutes[1:] + [[self.price] * 4 + [0.0]]


def analyse(s):
    closes = [c[3] for c in s.minutes]
    hour_closes = [c[3] for c in s.hours]
    fast, slow = ema(closes, 12), ema(closes, 26)
    gap = (fast - slow) / slow * 100.0 if fast and slow else None
    h_fast, h_slow = ema(hour_closes, 12), ema(hour_closes, 26)
    h1_gap = (h_fast - h_slow) / h_slow * 100.0 if h_fast and h_slow else None
    r = rsi(closes, 14)
    score = 50.0 + 25.0 * math.tanh(s.change_24h / 10.0)
    if gap is not None:
        score += 15.0 * math.tanh(gap / 0.5)
    if r is not None:
        score += 0.3 * (r - 50.0)
    if h1_gap is not None:
        score += 10.0 * math.tanh(h1_gap / 2.0)
    score = min(max(score, 0.0), 100.0)
    a = atr([c[1] for c in s.minutes], [c[2] for c in s.minutes], closes, 14)
    vol = realised_vol(closes)
    return {
        "score": score,
        "signal": signal(score),
        "trend": {"ema_fast": fast, "ema_slow": slow, "rsi": r, "h1_gap_pct": h1_gap},
        "volatility": {"atr_pct": a / s.price * 100.0 if a else None, "realised_vol": vol},
    }


def signal(score):
    if score >= 80:
        return "STRONG_BUY"
    if score >= 60:
        return "BUY"
    if score > 40:
        return "NEUTRAL"
    if score > 20:
        return "SELL"
    return "STRONG_SELL"


def aggregate(symbols, verdicts, now):
    keys = {}
    by_turnover = sorted(symbols, key=lambda s: s.volume_24h * s.price, reverse=True)
    total_turnover = sum(s.volume_24h * s.price for s in symbols) or 1.0
    buys = sum(1 for v in verdicts.values() if v["signal"] in ("BUY", "STRONG_BUY"))
    sells = sum(1 for v in verdicts.values() if v["signal"] in ("SELL", "STRONG_SELL"))
    regime = "BULLISH" if buys > sells else "BEARISH" if sells > buys else "NEUTRAL"
    btc = next((s for s in symbols if s.name == "BTCUSDT"), None)
    keys["market:overview"] = {
        "total_symbols": len(symbols),
        "total_volume_24h": sum(s.volume_24h for s in symbols),
        "market_regime": regime,
        "trend_strength": max(buys, sells) / (buys + sells) * 100.0 if buys + sells else 50.0,
        "current_volatility": sum(abs(s.change_24h) for s in symbols) / len(symbols),
        "btc_dominance": (btc.volume_24h * btc.price / total_turnover * 100.0) if btc else 0.0,
        "average_change_24h": sum(s.change_24h for s in symbols) / len(symbols),
        "timestamp": now,
    }
    keys["market:tickers"] = {
        s.name: {
            "price": s.price,
            "change_24h": s.change_24h,
            "volume_24h": s.volume_24h,
            "signal": verdicts[s.name]["signal"],
        }
        for s in by_turnover[:1000]
    }
    by_change = sorted(symbols, key=lambda s: s.change_24h)
    mover = lambda s: {"symbol": s.name, "change_24h": s.change_24h, "volume_24h": s.volume_24h}
    keys["market:movers"] = {
        "gainers": [mover(s) for s in reversed(by_change[-5:]) if s.change_24h > 0],
        "losers": [mover(s) for s in by_change[:5] if s.change_24h < 0],
    }
    up = sum(1 for s in symbols if s.change_24h > 1.0)
    down = sum(1 for s in symbols if s.change_24h < -1.0)
    share = up / len(symbols) * 100.0
    keys["market:breadth"] = {
        "up_count": up,
        "down_count": down,
        "flat_count": len(symbols) - up - down,
        "breadth_percentage": share,
        "market_sentiment": "bullish" if share > 60 else "bearish" if share < 40 else "neutral",
    }
    top = sorted(verdicts.items(), key=lambda kv: kv[1]["score"], reverse=True)[:30]
    keys["analysis:signals"] = {
        "signals": [
            {"symbol": name, "score": v["score"], "signal": v["signal"], "components": v["trend"]}
            for name, v in top
        ],
        "count": len(top),
        "timestamp": now,
    }
    keys["market:sparklines"] = {s.name: [c[3] for c in s.minutes] for s in by_turnover[:30]}
    for s in symbols:
        v = verdicts[s.name]
        keys["analysis:breakdown:" + s.name] = {
            "symbol": s.name,
            "price": s.price,
            "score": v["score"],
            "signal": v["signal"],
            "analyzers": {"trend": v["trend"], "volatility": v["volatility"]},
        }
    out = {key: json.dumps(value).encode() for key, value in keys.items()}
    out["analysis:market_regime"] = regime.encode()
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, required=True)
    parser.add_argument("--cycles", type=int, required=True)
    parser.add_argument("--memcached", required=True)
    args = parser.parse_args()
    host, port = args.memcached.rsplit(":", 1)
    client = Client((host, int(port)), connect_timeout=1, timeout=5)
    rng = random.Random(7)
    names = ["BTCUSDT"] + ["C%05dUSDT" % i for i in range(1, args.symbols)]
    symbols = [Symbol(name, rng) for name in names]
    times = []
    for cycle in range(args.cycles + 2):
        started = time.perf_counter()
        for s in symbols:
            s.trade(rng, cycle % 30 == 29)
        verdicts = {s.name: analyse(s) for s in symbols}
        keys = aggregate(symbols, verdicts, int(time.time()))
        failed = client.set_many(keys, expire=10, noreply=False)
        if failed:
            raise SystemExit("memcached refused %d keys" % len(failed))
        if cycle >= 2:
            times.append((time.perf_counter() - started) * 1000.0)
    times.sort()
    at = lambda q: times[round((len(times) - 1) * q)]
    print(json.dumps({"symbols": args.symbols, "cycles": args.cycles, "cycle_ms_p50": at(0.5),
                      "cycle_ms_p99": at(0.99), "keys_written_per_cycle": len(keys)}))


if __name__ == "__main__":
    main()
