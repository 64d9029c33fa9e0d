"""Pacing through the plugin: xdist workers share the run's buckets, a 429 slows them all, the report says so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .servers import read_tests

ROOT = Path(__file__).resolve().parents[1]

CASES = read_tests(12)

SETTINGS = """
[tool.iflowtest.rate_limits]
runtime = 20

[tool.iflowtest.emulator]
faults = ["ReadCostCenters:status=429,retry_after=1,times=1"]
"""


def test_workers_share_the_pace_and_a_429_slows_it(pytester: pytest.Pytester) -> None:
    (pytester.path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + SETTINGS)
    shutil.copytree(ROOT / "fixtures", pytester.path / "fixtures")
    pytester.makepyfile(test_paced=CASES)
    report = pytester.path / "report.html"

    result = pytester.runpytest_subprocess("-p", "no:randomly", "-n", "2", f"--html={report}", "--self-contained-html")

    result.assert_outcomes(passed=12)
    text = result.stderr.str() + "\n" + result.stdout.str()
    line = next(line for line in text.splitlines() if line.startswith("iflowtest: pacing delayed"))
    # Both workers' emulators answered one 429 each; both workers' calls were counted in one file.
    expected = (
        "; 2 answer(s) 429 slowed it down (limits: message_log 100/s, runtime_artifacts 50/s, design_time 10/s, "
        "runtime 20/s)"
    )
    assert expected in line
    delayed = int(line.split("delayed ")[1].split(" ")[0])
    assert delayed >= 2
    # The report and summary.json say what the terminal said, with the same figures.
    assert f"Pacing: {line.removeprefix('iflowtest: pacing ')}</p>" in report.read_text()
    pacing = json.loads((pytester.path / "summary.json").read_text())["pacing"]
    assert pacing["delayed_calls"] == delayed and pacing["slowed_by_429"] == 2
    assert f"by {pacing['delay_s']:.1f} s in all" in line
