"""The cache entries an aggregator returns, as the Rust SDK's ``output.rs`` makes them;
``to_contract`` turns them into the contract's types inside the component."""

from __future__ import annotations

import math
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

from ._json import dumps


class ComponentsView:
    """Named access to one analyzer's components for one symbol, for aggregators: as the Rust
    SDK's ``ComponentsView``. ``analyses`` is the contract's (``component_names``,
    ``components``) or this SDK's ``Analyses``."""

    __slots__ = ("_analyses", "_row")

    def __init__(self, analyses: Any, row: int) -> None:
        self._analyses = analyses
        self._row = row

    def entries(self) -> List[Tuple[str, float]]:
        """``(name, value)`` pairs of the defined values (NaN ones are left out)."""
        names = self._analyses.component_names
        values = self._analyses.components
        start = self._row * len(names)
        return [
            (name, values[start + j])
            for j, name in enumerate(names)
            if start + j < len(values) and math.isfinite(values[start + j])
        ]


class CacheEntry(NamedTuple):
    """One key to write, its value (JSON text when ``is_json``, else plain text), and its TTL
    in seconds (None: the daemon's default)."""

    key: str
    value: str
    is_json: bool
    ttl_seconds: Optional[int] = None

    @classmethod
    def json(cls, key: str, value: Any) -> "CacheEntry":
        """``value`` serialised as JSON under ``key`` (a number that is not finite as ``null``)."""
        return cls(key, dumps(value), True)

    @classmethod
    def text(cls, key: str, text: str) -> "CacheEntry":
        """``text`` as it is under ``key``."""
        return cls(key, text, False)

    def with_ttl(self, seconds: int) -> "CacheEntry":
        """This entry with its own TTL."""
        return self._replace(ttl_seconds=seconds)


def to_contract(types: Any, entries: Sequence[CacheEntry]) -> List[Any]:
    """``entries`` as the contract's ``types.CacheEntry`` list (componentize-py's bindings)."""
    return [
        types.CacheEntry(
            key=e.key,
            value=types.Value_Json(e.value) if e.is_json else types.Value_Text(e.value),
            ttl_seconds=e.ttl_seconds,
        )
        for e in entries
    ]
