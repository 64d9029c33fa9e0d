"""`iflowtest screenshot`: a PNG of an HTML report, taken by headless Chromium (what a lead sees, for docs and chats).

Chromium is not a Python dependency: Debian ships it as `chromium`. The flags keep it from touching the
network or the user's profile (a throw-away `--user-data-dir`), and a virtual time budget lets the report's
JavaScript build the results table before the picture is taken.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

from iflowtest.errors import ConfigError

BROWSERS: Final = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=5000",
)


class ScreenshotError(ConfigError):
    """Raised when no browser is installed, the report is missing, or the browser wrote no picture."""


def find_browser(explicit: str | None = None) -> str:
    """The browser to use: `explicit`, else the first of BROWSERS on PATH."""
    candidates = (explicit,) if explicit else BROWSERS
    for name in candidates:
        found = shutil.which(name) if name else None
        if found:
            return found
    wanted = f"browser {explicit!r} was not found" if explicit else "no Chromium was found on PATH"
    raise ScreenshotError(f"{wanted}: install it (Debian: apt-get install chromium) or pass --browser PATH")


def take_screenshot(
    report: Path, output: Path, *, width: int = 1280, height: int = 1800, browser: str | None = None
) -> Path:
    """Render `report` in headless Chromium and write a PNG of the first `height` pixels to `output`."""
    if not report.is_file():
        raise ScreenshotError(f"report {report} does not exist: run `iflowtest run` first, or pass the report's path")
    if width < 200 or height < 200:
        raise ScreenshotError(f"window {width}x{height} is too small: use at least 200x200 pixels")
    executable = find_browser(browser)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="iflowtest-chromium-") as profile:
        command = [
            executable,
            *_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={output.resolve()}",
            report.resolve().as_uri(),
        ]
        try:
            finished = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        except subprocess.TimeoutExpired:
            raise ScreenshotError(
                f"{executable} did not finish within 120 s: check that it runs headless here"
            ) from None
    if not output.is_file():
        detail = (finished.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise ScreenshotError(f"{executable} exited {finished.returncode} without writing {output} ({detail})")
    return output
