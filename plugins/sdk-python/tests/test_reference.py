"""The indicators against their textbook definitions, computed afresh over each window with
Python's own ``math.fsum``, ``math.log``, ``max`` and ``min``: the vectors are not only the same
in three languages but right, to within rounding (a relative 1e-9), with NaN exactly where the
definitions have no value."""

import math

import pytest

from pulse_sdk import indicators as ind
from pulse_sdk.math import divide, exp, ln

from test_vectors import VECTORS
from vectors_runner import unhex

WALK = [unhex(v) for v in VECTORS["series"]["long"]]
GAPPY = [unhex(v) for v in VECTORS["series"]["gappy"]]
HIGH = [unhex(v) for v in VECTORS["series"]["walk-high"]]
LOW = [unhex(v) for v in VECTORS["series"]["walk-low"]]
CLOSE = [unhex(v) for v in VECTORS["series"]["walk"]]
NAN = float("nan")


def windows(values, n):
    """Each value's window of the last ``n`` values since the last gap, or None."""
    out, run = [], []
    for x in values:
        if not math.isfinite(x):
            run = []
            out.append(None)
            continue
        run.append(x)
        out.append(run[-n:] if len(run) >= n else None)
    return out


def close_to(got, want):
    if want != want or got == want:
        return got != got or got == want
    return abs(got - want) <= 1e-9 * max(1.0, abs(want))


def check(got, want):
    bad = [(t, g, w) for t, (g, w) in enumerate(zip(got, want)) if not close_to(g, w)]
    assert not bad, bad[:5]


def pstdev(w):
    mean = math.fsum(w) / len(w)
    return math.sqrt(math.fsum((x - mean) ** 2 for x in w) / len(w))


@pytest.mark.parametrize("series", [WALK, GAPPY], ids=["walk", "gappy"])
@pytest.mark.parametrize("n", [1, 5, 20])
def test_window_indicators(series, n):
    ws = windows(series, n)
    check(ind.sma(series, n), [NAN if w is None else math.fsum(w) / n for w in ws])
    check(ind.rolling_std(series, n), [NAN if w is None else pstdev(w) for w in ws])
    check(ind.rolling_max(series, n), [NAN if w is None else max(w) for w in ws])
    check(ind.rolling_min(series, n), [NAN if w is None else min(w) for w in ws])
    b = ind.bollinger(series, n, 2.0)
    check(b.upper, [NAN if w is None else math.fsum(w) / n + 2 * pstdev(w) for w in ws])
    wide = windows(series, n + 1)
    check(ind.roc(series, n), [NAN if w is None else divide(w[-1] - w[0], w[0]) * 100 for w in wide])


@pytest.mark.parametrize("n", [2, 5, 30])
def test_realised_volatility(n):
    want = []
    for w in windows(WALK, n + 1):
        if w is None:
            want.append(NAN)
            continue
        r = [math.log(b / a) for a, b in zip(w, w[1:])]
        mean = math.fsum(r) / n
        want.append(math.sqrt(math.fsum((x - mean) ** 2 for x in r) / (n - 1)) * 100)
    check(ind.realised_volatility(WALK, n), want)


def test_smoothed_indicators():
    # EMA seeded with the first value; Wilder's RSI and ATR seeded with plain means.
    n = 14
    alpha = 2 / (n + 1)
    e, want = WALK[0], []
    for t, x in enumerate(WALK):
        e = x if t == 0 else e + alpha * (x - e)
        want.append(e if t >= n - 1 else NAN)
    check(ind.ema(WALK, n), want)
    changes = [b - a for a, b in zip(WALK, WALK[1:])]
    gain = math.fsum(max(d, 0) for d in changes[:n]) / n
    loss = math.fsum(max(-d, 0) for d in changes[:n]) / n
    want = [NAN] * n + [100 - 100 / (1 + gain / loss)]
    for d in changes[n:]:
        gain = (gain * (n - 1) + max(d, 0)) / n
        loss = (loss * (n - 1) + max(-d, 0)) / n
        want.append(100 - 100 / (1 + gain / loss))
    check(ind.rsi(WALK, n), want)
    tr = [max(h - l, abs(h - c), abs(l - c)) for h, l, c in zip(HIGH[1:], LOW[1:], CLOSE)]
    a = math.fsum(tr[:n]) / n
    want = [NAN] * n + [a]
    for x in tr[n:]:
        a = (a * (n - 1) + x) / n
        want.append(a)
    check(ind.atr(HIGH, LOW, CLOSE, n), want)
    m = ind.macd(WALK, 12, 26, 9)
    line = [f - s for f, s in zip(ind.ema(WALK, 12), ind.ema(WALK, 26))]
    check(m.macd, line)
    check(m.signal, [NAN] * 25 + list(ind.ema(line[25:], 9)))


def test_ln_and_exp_are_within_one_ulp_of_the_platforms():
    worst = 0
    x = 1e-310
    while x < 1e300:
        for step in (1.0, 1.37, 2.718281828, 3.3):
            v = x * step
            worst = max(worst, abs(ln(v) - math.log(v)) / math.ulp(math.log(v)) if v != 1 else 0)
        x *= 1.618
    y = -745.0
    while y < 709.7:
        worst = max(worst, abs(exp(y) - math.exp(y)) / math.ulp(math.exp(y)))
        y += 0.0937
    assert worst <= 1.0, worst
