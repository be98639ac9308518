"""The vectors catch a difference of one rounding: a copy of this SDK with one operation
reordered (the window's running sum, ``(total - old) + x`` as ``total + (x - old)``, the same
in exact arithmetic) fails them, and names the cases."""

import os
import shutil
import subprocess
import sys

import test_vectors

HERE = os.path.dirname(os.path.abspath(__file__))


def planted_run(tmp_path, name, before, after):
    """The vectors run on a copy of the SDK with ``before`` rewritten as ``after`` in
    ``indicators/NAME``: they fail on SMA, and pass RSI."""
    shutil.copytree(os.path.join(HERE, "..", "src", "pulse_sdk"), tmp_path / "pulse_sdk")
    path = tmp_path / "pulse_sdk" / "indicators" / name
    text = path.read_text()
    planted = text.replace(before, after)
    assert planted != text, f"the operation to reorder is in {name}"
    path.write_text(planted)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "pythonpath=",
         os.path.join(HERE, "test_vectors.py")],
        env={**os.environ, "PYTHONPATH": str(tmp_path), "PULSE_VECTORS": os.path.abspath(test_vectors.FILE),
             "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert run.returncode != 0, run.stdout
    assert "FAILED" in run.stdout and "sma(14) on walk" in run.stdout, run.stdout[-3000:]
    # What the reordering cannot touch still passes: RSI keeps no window.
    assert "rsi(14) on walk" not in run.stdout.split("short test summary")[-1], run.stdout[-3000:]


# Each form planted alone: the vectors hold the streaming form (the window) and the batch form
# (its own loop) each to the expected bits, so neither can drift.
def test_a_planted_reordering_in_the_streaming_form_fails_the_vectors(tmp_path):
    planted_run(tmp_path, "window.py", "(total - old) + x", "total + (x - old)")


def test_a_planted_reordering_in_the_batch_form_fails_the_vectors(tmp_path):
    planted_run(tmp_path, "sma.py", "(total - ring[pos]) + value", "total + (value - ring[pos])")
