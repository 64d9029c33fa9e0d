"""The developers' environment rows (Python, platform, packages, plugins) fold away below the lead's view."""

from __future__ import annotations

import re

import matplotlib.figure  # noqa: F401  (loaded before pytester's runs: numpy cannot be imported twice per process)
import pytest

from iflowtest.reporting.environment import environment_details
from iflowtest.reporting.style import STYLE

PYPROJECT = """
[tool.iflowtest]
suites = ["suites"]

[tool.iflowtest.clients.sender]
roles = ["ESBMessaging.send"]

[tool.pytest.ini_options]
environment_table_redact_list = ["^Build password$"]
"""


def test_the_environment_is_folded_below_the_verdict(pytester: pytest.Pytester) -> None:
    (pytester.path / "pyproject.toml").write_text(PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "test_nothing.py").write_text("def test_nothing():\n    pass\n")

    pytester.runpytest_inprocess(
        "suites", "--html=out/report.html", "--self-contained-html", "--metadata", "Build password", "hunter2"
    )

    page = (pytester.path / "out" / "report.html").read_text()
    details = re.search(r'<details id="environment-details">(.*?)</details>', page, re.S)
    assert details is not None  # closed: no `open` attribute
    assert page.index('id="verdict"') < page.index('id="environment-details"') < page.index('id="results-table"')
    rows = dict(re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td></tr>", details.group(1), re.S))
    assert {"Python", "Platform", "Packages", "Plugins", "Target", "Clients", "Git commit"} <= set(rows)
    assert "<li>pytest: " in rows["Packages"] and "<li>iflowtest: " in rows["Plugins"]
    assert re.match(r"<summary>Environment: Python 3\.\d+\.\d+, pytest \d", details.group(1))
    # Masked as pytest-html masks its own table; pytest-html's copy at the top is hidden.
    assert rows["Build password"] == "\u2593" * 7 and "hunter2" not in page
    assert "#environment-header,#environment," in STYLE


def test_nothing_to_fold() -> None:
    assert environment_details({}) == ""


def test_tables_are_dark_on_white() -> None:
    assert "body,#results-table,#results-table td,#results-table th{color:#1f1f1f}" in STYLE
