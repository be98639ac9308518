#!/usr/bin/env bash
# Builds the Python analyzer into target/python/pyrevert.wasm with componentize-py (from PyPI),
# against the same WIT contract as the Rust plugins.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
command -v componentize-py >/dev/null || python3 -m pip install --quiet --root-user-action=ignore 'componentize-py==0.25.1'
mkdir -p "$root/target/python"
cd "$here"
componentize-py -d "$root/wit" -w analyzer componentize app -o "$root/target/python/pyrevert.wasm"
