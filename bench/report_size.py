"""Report size for a large nightly run: N cases against the emulated tenant, written by `iflowtest run`.

    python bench/report_size.py                 # 2000 cases, 2 % failing, 3 earlier runs of history
    python bench/report_size.py --cases 200     # smaller

Every case calls the ReadCostCenters iFlow once (a real HTTPS call to the emulator, with its MPL id); every
50th case fails on purpose, so the report carries failure details (redacted exchange, truncated bodies) as
a real nightly would. Prints one Markdown table row: cases, report size, summary.json size, history line,
wall time of the last run, and how long headless Chromium took to open and render the report (when installed),
next to the time it takes for an empty page (its own start-up).
The budget is 5 MB for 2000 cases (issue 6); the script exits 1 when a report is over it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_BYTES = 5 * 1024 * 1024
ROOT = Path(__file__).resolve().parents[1]

PYPROJECT = """
[tool.iflowtest]
suites = ["suites"]

[tool.iflowtest.clients.sender]
roles = ["ESBMessaging.send"]

[tool.iflowtest.iflows.ReadCostCenters]
address = "/http/costcenters"
"""

SUITE = """
import pytest

CASES = {cases}


@pytest.mark.iflow("ReadCostCenters")
@pytest.mark.parametrize("case", range(CASES))
def test_read(iflow, case):
    response = iflow.get(params={{"controllingArea": "A000", "companyCode": "1010"}})
    assert response.status_code == 200
    assert case % 50 != 49, f"case {{case}} fails on purpose"
"""


def iflowtest() -> str:
    found = shutil.which("iflowtest") or str(Path(sys.executable).parent / "iflowtest")
    return found


def render_seconds(report: Path) -> float | None:
    """Seconds headless Chromium needs to load the report and let its JavaScript build the table."""
    from iflowtest.reporting.screenshot import ScreenshotError, take_screenshot

    started = time.perf_counter()
    try:
        take_screenshot(report, report.with_suffix(".png"))
    except ScreenshotError:
        return None
    return time.perf_counter() - started


def baseline_seconds(folder: Path) -> float | None:
    """The same for an empty page: Chromium's own start-up, to subtract."""
    empty = folder / "empty.html"
    empty.write_text("<!doctype html><html><body>empty</body></html>")
    return render_seconds(empty)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--history", type=int, default=3, help="earlier runs before the measured one")
    parser.add_argument("--keep", type=Path, default=None, help="copy the measured run's folder here")
    parser.add_argument("--no-render", action="store_true", help="skip the Chromium timing")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="iflowtest-bench-") as folder:
        project = Path(folder)
        (project / "pyproject.toml").write_text(PYPROJECT)
        (project / "suites" / "big").mkdir(parents=True)
        (project / "suites" / "big" / "test_big.py").write_text(SUITE.format(cases=options.cases))
        env = {k: v for k, v in os.environ.items() if not k.startswith("IFLOWTEST_")}
        elapsed = 0.0
        for _ in range(options.history + 1):
            started = time.perf_counter()
            subprocess.run([iflowtest(), "run", "-q"], cwd=project, env=env, capture_output=True, check=False)
            elapsed = time.perf_counter() - started
        latest = project / "reports" / "latest"
        report = latest / "report.html"
        history = (project / "reports" / "history.jsonl").read_text().splitlines()
        size = report.stat().st_size
        summary_size = (latest / "summary.json").stat().st_size
        seconds = None if options.no_render else render_seconds(report)
        baseline = None if options.no_render else baseline_seconds(project)
        if options.keep:
            shutil.copytree(latest, options.keep, dirs_exist_ok=True)
    render = "not measured" if options.no_render else "no Chromium"
    if seconds is not None and baseline is not None:
        render = f"{seconds:.1f} s ({baseline:.1f} s for an empty page)"
    print("| cases | report.html | summary.json | history line | run | Chromium: open + render |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {options.cases} | {size / 1024 / 1024:.2f} MB | {summary_size / 1024:.1f} KB "
        f"| {len(history[-1]) / 1024:.0f} KB | {elapsed:.0f} s | {render} |"
    )
    if options.cases >= 2000 and size > BUDGET_BYTES:
        print(f"report.html is {size} bytes, over the {BUDGET_BYTES} byte budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
