"""Loaded by pytest before the tests import the SDK: no bytecode is written beside the SDK's
sources. The `pulse` binary embeds `src/pulse_sdk` whole (`pulse new` writes only its `.py` files
and `py.typed`), so a `__pycache__` there would grow the binary and rebuild it."""

import sys

sys.dont_write_bytecode = True
