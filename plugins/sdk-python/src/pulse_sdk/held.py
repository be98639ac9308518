"""State kept between calls: each symbol's signal as last given, held until its score is a
margin past the next threshold (hysteresis), as the Rust SDK's ``held.rs`` keeps it, by the
same names (``{"BTCUSDT": "BUY"}``), so a port keeps the same state format."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

from ._json import dumps
from .analyses import SIGNALS, Verdict, verdict

_RANKS = [signal for signal, _ in SIGNALS]
_NAMES = dict(SIGNALS)
_BY_NAME = {name: signal for signal, name in SIGNALS}


def decode_state(data: bytes, empty: Any) -> Any:
    """The state the last call returned, decoded from JSON; ``empty`` when there is none (the
    first call, or a version starting afresh)."""
    if not data:
        return empty
    try:
        return json.loads(data)
    except ValueError as error:
        raise ValueError(
            f"cannot read the state handed over ({len(data)} bytes): {error}; a version that "
            "cannot read an older one's state must name another state-format"
        ) from error


def encode_state(state: Any) -> bytes:
    """The bytes the host keeps for the next call: ``state`` as JSON."""
    return dumps(state).encode()


def held_verdict(score: float, held: Optional[str], margin: float) -> Verdict:
    """``verdict(score)`` with hysteresis: keeps ``held`` (a signal, or None) while the score is
    within ``margin`` points of the thresholds around it; otherwise (or for no signal of the
    contract's) the plain verdict."""
    plain = verdict(score)
    if held not in _RANKS:
        return plain
    low = _RANKS.index(verdict(score - margin).signal)
    high = _RANKS.index(verdict(score + margin).signal)
    return Verdict(plain.score, held) if low <= _RANKS.index(held) <= high else plain


class HeldSignals:
    """Each symbol's signal as last given, by its name in cache values."""

    __slots__ = ("_names",)

    def __init__(self, names: Optional[Dict[str, str]] = None) -> None:
        self._names: Dict[str, str] = dict(names or {})

    @classmethod
    def decode(cls, data: bytes) -> "HeldSignals":
        """The held signals in ``data`` (empty: none)."""
        return cls(decode_state(data, {}))

    def encode(self) -> bytes:
        """The bytes to keep."""
        return encode_state(self._names)

    def verdict(self, symbol: str, score: float, margin: float, following: "HeldSignals") -> Verdict:
        """``symbol``'s verdict for ``score``, its signal held as last given; records it in
        ``following``."""
        given = held_verdict(score, self.get(symbol), margin)
        following._names[symbol] = _NAMES[given.signal]
        return given

    def get(self, symbol: str) -> Optional[str]:
        """``symbol``'s signal as last given."""
        return _BY_NAME.get(self._names.get(symbol, ""))

    def __len__(self) -> int:
        return len(self._names)
