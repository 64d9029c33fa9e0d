"""`iflowtest screenshot`: the documented command, with Debian's Chromium where it is installed."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from iflowtest.cli import main
from iflowtest.reporting.screenshot import ScreenshotError, find_browser
from tests.servers import iflowtest


def chromium_or_skip() -> str:
    try:
        return find_browser()
    except ScreenshotError as missing:
        pytest.skip(f"no headless Chromium here ({missing})")


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_screenshot_of_the_sample_report(project: Path) -> None:
    chromium_or_skip()
    run = iflowtest("run", "suites/costcenters/test_failing_flow.py", cwd=project)
    assert run.returncode == 0, run.stdout[-2000:]

    shot = iflowtest("screenshot", "--width", "1000", "--height", "700", cwd=project)

    assert shot.returncode == 0, shot.stderr
    picture = project / "reports" / "latest" / "report.png"
    assert shot.stdout == f"iflowtest: screenshot {picture}\n"
    assert png_size(picture) == (1000, 700)
    assert picture.stat().st_size > 10_000  # a rendered page, not a blank one


def test_missing_report_and_browser_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.iflowtest.clients.sender]\n")
    report = tmp_path / "report.html"

    assert main(["screenshot", str(report)]) == 2
    report.write_text("<html></html>")
    assert main(["screenshot", str(report), "--browser", "no-such-browser"]) == 2

    assert capsys.readouterr().err == (
        f"iflowtest: error: report {report} does not exist: run `iflowtest run` first, or pass the report's path\n"
        "iflowtest: error: browser 'no-such-browser' was not found: install it (Debian: apt-get install chromium) "
        "or pass --browser PATH\n"
    )
