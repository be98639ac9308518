"""The daemon's log, tagged with the plugin's name. In the component the entry connects the
host's ``log`` import (``connect(host)``, as the templates' ``app.py`` does); natively, lines go
to standard error."""

from __future__ import annotations

import sys
from typing import Any, Callable

_sink: Callable[[str, str], None] = lambda level, message: print(f"[{level}] {message}", file=sys.stderr)


def connect(host: Any) -> None:
    """Sends every line to the host: ``host`` is componentize-py's ``wit_world.imports.host``."""
    global _sink
    levels = {"debug": host.Level.DEBUG, "info": host.Level.INFO, "warn": host.Level.WARN, "error": host.Level.ERROR}
    _sink = lambda level, message: host.log(levels[level], message)


def debug(message: str) -> None:
    _sink("debug", message)


def info(message: str) -> None:
    _sink("info", message)


def warn(message: str) -> None:
    _sink("warn", message)


def error(message: str) -> None:
    _sink("error", message)
