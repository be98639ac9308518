"""Loaded by pytest before the tests import the SDK: no bytecode is written beside the SDK's
sources, which the `pulse` binary embeds from `src/` (it carries the `.py` files only, but a
changed `__pycache__` would rebuild it)."""

import sys

sys.dont_write_bytecode = True
