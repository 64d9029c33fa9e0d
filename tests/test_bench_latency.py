"""bench/latency.py stays runnable: a small run (a few calls, `-n 2`, no Newman) does equal work on every side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_small_latency_run_makes_every_call_on_every_side() -> None:
    command = [sys.executable, "bench/latency.py", "--requests", "6", "--latency", "0.05", "--workers", "2"]
    done = subprocess.run([*command, "--no-newman"], cwd=ROOT, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| iflowtest")]
    assert [r.split("|")[1].strip() for r in rows] == ["iflowtest, serial", "iflowtest, -n 2"]
    assert "6 calls, 50 ms injected latency each" in done.stdout
    assert "Newman skipped: left out with --no-newman" in done.stdout
