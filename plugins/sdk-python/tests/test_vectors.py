"""The shared indicator vectors (plugins/vectors/indicators.json), natively: ``vectors_runner``
checks every case bit for bit, as plugins/sdk/tests/vectors.rs checks the Rust SDK."""

import json
import os

import pytest

from vectors_runner import mismatches

FILE = os.environ.get(
    "PULSE_VECTORS",
    os.path.join(os.path.dirname(__file__), "..", "..", "vectors", "indicators.json"),
)

with open(FILE) as f:
    VECTORS = json.load(f)


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_vector(case):
    bad, compared = mismatches(case, VECTORS["series"])
    assert compared > 0
    assert not bad, f"{len(bad)} outputs differ; the first:\n" + "\n".join(bad[:10])


def test_the_file_has_every_indicator():
    named = {c.get("indicator", c.get("function")) for c in VECTORS["cases"]}
    assert named == {
        "sma", "ema", "rsi", "true_range", "atr", "macd", "bollinger", "rolling_std",
        "realised_volatility", "roc", "rolling_max", "rolling_min", "ln", "exp",
    }
