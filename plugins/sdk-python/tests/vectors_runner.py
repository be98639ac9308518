"""Runs the shared indicator vectors (plugins/vectors/indicators.json) against this SDK: every
case's expected outputs, bit for bit, from the batch functions and from the streaming classes
(``peek`` of another value, ``peek`` and ``update`` at every value, again after ``reset``, and
``last`` over whole columns and parts of them).
``test_vectors.py`` runs it natively; the ``vectors-python`` fixture plugin runs it inside the
daemon's sandbox, as ``plugins/sdk/tests/vectors/runner.rs`` does for Rust."""

import struct

from pulse_sdk import indicators as ind
from pulse_sdk.math import exp, ln


class Mismatch(Exception):
    """Outputs that differ from the expected bits."""


def unhex(text):
    return struct.unpack(">d", bytes.fromhex(text))[0]


def hexed(x):
    return struct.pack(">d", x).hex()


def same(a, b):
    return hexed(a) == hexed(b) or (a != a and b != b)


def outputs_of(value):
    """An output as a list, in the file's order."""
    return list(value) if isinstance(value, tuple) else [value]


class Columns:
    """One column's indicator, or one of high, low and close, behind one face."""

    def __init__(self, indicator, candles):
        self.indicator, self.candles = indicator, candles

    def update(self, inputs):
        return outputs_of(self.indicator.update(*inputs))

    def peek(self, inputs):
        return outputs_of(self.indicator.peek(*inputs))

    def reset(self):
        self.indicator.reset()


def indicator(name, p, columns):
    """The case's streaming indicator, and its batch outputs over ``columns``."""
    c = columns[0]
    n = [int(x) for x in p]
    if name == "true_range":
        return Columns(ind.TrueRange(), True), [ind.true_range(*columns)]
    if name == "atr":
        return Columns(ind.Atr(n[0]), True), [ind.atr(*columns, n[0])]
    if name == "macd":
        return Columns(ind.Macd(n[0], n[1], n[2]), False), list(ind.macd(c, n[0], n[1], n[2]))
    if name == "bollinger":
        return Columns(ind.Bollinger(n[0], p[1]), False), list(ind.bollinger(c, n[0], p[1]))
    stream, batch = {
        "sma": (ind.Sma, ind.sma),
        "ema": (ind.Ema, ind.ema),
        "rsi": (ind.Rsi, ind.rsi),
        "rolling_std": (ind.RollingStd, ind.rolling_std),
        "realised_volatility": (ind.RealisedVolatility, ind.realised_volatility),
        "roc": (ind.Roc, ind.roc),
        "rolling_max": (ind.RollingMax, ind.rolling_max),
        "rolling_min": (ind.RollingMin, ind.rolling_min),
    }[name]
    return Columns(stream(n[0]), False), [batch(c, n[0])]


OUTPUTS = {"macd": ["macd", "signal", "histogram"], "bollinger": ["upper", "middle", "lower"]}


def run_case(case, series):
    """The case's outputs (batch), checked against the streaming form on the way."""
    columns = [[unhex(v) for v in series[name]] for name in case["inputs"]]
    label = case["name"]
    if "function" in case:
        f = {"ln": ln, "exp": exp}[case["function"]]
        return [[f(x) for x in columns[0]]]
    stream, batch = indicator(case["indicator"], case["params"], columns)
    length = len(columns[0])
    for t in range(length):
        at = [c[t] for c in columns]
        stream.peek([x * 1.5 + 1.0 for x in at])
        peeked, updated = stream.peek(at), stream.update(at)
        for k, out in enumerate(batch):
            if not (same(peeked[k], out[t]) and same(updated[k], out[t])):
                raise Mismatch(
                    f"{label}, output {k}, value {t}: peek {peeked[k]!r}, update {updated[k]!r}, batch {out[t]!r}"
                )
    stream.reset()
    for t in range(min(length, 40)):
        again = stream.update([c[t] for c in columns])
        for k, out in enumerate(batch):
            if not same(again[k], out[t]):
                raise Mismatch(f"{label} after reset, value {t}")
    # ``last`` over the whole column on a fresh indicator; over the rest of it on the one the run
    # after ``reset`` left part way; and on a fresh one in three parts (the first 5 values, all
    # but the last 3, the last 3), so what ``last`` leaves is what ``update`` would, even mid
    # warm-up: each time the batch's output at the last value taken.
    taken = min(length, 40)
    fresh, _ = indicator(case["indicator"], case["params"], [[] for _ in columns])
    parted, _ = indicator(case["indicator"], case["params"], [[] for _ in columns])
    head = min(length, 5)
    tail = max(head, length - 3)
    runs = [("fresh", fresh, columns, length)]
    if taken < length:
        runs.append(("after the first values", stream, [c[taken:] for c in columns], length))
    for start, stop in ((0, head), (head, tail), (tail, length)):
        if start < stop:
            cols = [c[start:stop] for c in columns]
            runs.append((f"on values {start} to {stop} after the first", parted, cols, stop))
    for how, ind_, cols, upto in runs:
        final = outputs_of(ind_.indicator.last(*cols))
        for k, out in enumerate(batch):
            expected = out[upto - 1] if upto else float("nan")
            if not same(final[k], expected):
                raise Mismatch(f"{label}, output {k}: last ({how}) {final[k]!r}, batch {expected!r}")
    return batch


def mismatches(case, series):
    """Each output of ``case`` that differs from its expected bits, described; and how many
    outputs were compared."""
    got = run_case(case, series)
    names = OUTPUTS.get(case.get("indicator"), ["value"])
    out, compared = [], 0
    for column, output in zip(got, names):
        expected = case["outputs"][output]
        if len(expected) != len(column):
            raise Mismatch(f"{case['name']} {output}: {len(column)} values, expected {len(expected)}")
        for t, (g, e) in enumerate(zip(column, expected)):
            compared += 1
            if not same(g, unhex(e)):
                out.append(f"{case['name']} {output}[{t}]: got {hexed(g)} ({g!r}), expected {e}")
    return out, compared


def check(vectors):
    """Runs every case; returns (cases, outputs compared), or raises Mismatch with the first
    differences."""
    if vectors.get("format") != "pulse-indicator-vectors/1":
        raise Mismatch(f"the vector file's format is {vectors.get('format')!r}")
    found, compared = [], 0
    for case in vectors["cases"]:
        bad, n = mismatches(case, vectors["series"])
        found.extend(bad)
        compared += n
    if found:
        raise Mismatch(f"{len(found)} outputs differ; the first:\n" + "\n".join(found[:10]))
    return len(vectors["cases"]), compared
