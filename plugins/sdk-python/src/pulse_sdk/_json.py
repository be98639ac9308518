"""JSON as the other SDKs write it: a number that is not finite (NaN, +-inf) becomes ``null``
(Python's ``json`` would write ``NaN``, which is not JSON and which the daemon refuses)."""

from __future__ import annotations

import json
import math
from typing import Any


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """``value`` as compact JSON, with non-finite numbers as ``null``."""
    return json.dumps(_finite(value), separators=(",", ":"), allow_nan=False)
