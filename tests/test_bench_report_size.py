"""bench/report_size.py, which the README points to, runs and prints its table row (a tiny run here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_report_size_bench_prints_a_row() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "report_size.py"), "--cases", "3", "--history", "0", "--no-render"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"^\| 3 \| 0\.\d\d MB \| [\d.]+ KB \| \d+ KB \| \d+ s \| not measured \|$", result.stdout, re.M)
