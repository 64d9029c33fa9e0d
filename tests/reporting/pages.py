"""Reading a pytest-html report in tests: its rows, which pytest-html keeps as escaped JSON in the page."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any


def report_data(page: Path) -> dict[str, Any]:
    """pytest-html's data of a report: environment, tests."""
    text = page.read_text()
    data: dict[str, Any] = json.loads(html.unescape(re.findall(r'data-jsonblob="(.*?)"', text, re.S)[0]))
    return data


def rows_of(page: Path) -> dict[str, dict[str, Any]]:
    """The rows of the results table, one per test (its last phase shown), by pytest-html's row id."""
    return {nodeid: tests[-1] for nodeid, tests in report_data(page)["tests"].items()}
