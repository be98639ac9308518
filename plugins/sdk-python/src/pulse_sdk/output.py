"""The cache entries an aggregator returns, as the Rust SDK's ``output.rs`` makes them;
``to_contract`` turns them into the contract's types inside the component."""

from __future__ import annotations

from typing import Any, List, NamedTuple, Optional, Sequence

from ._json import dumps


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
