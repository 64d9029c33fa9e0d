"""The assertions a run's imported cases came from: how many were converted and which cases fail for the rest.

An imported case records `imported_assertions` (Postman's `pm.test` and `tests[...]` it came from) and lists
those not converted under `unconverted:`, which fail the case. Each item carries its counts as a user property
(so they reach the controller under xdist too); at the end of the run the terminal and the HTML report give the
totals and, per case that has any, what was not converted.
"""

from __future__ import annotations

import html
from typing import Any, Final

import pytest

from iflowtest.cases.format import Case

PROPERTY: Final = "iflowtest_imported_assertions"  # "<assertions>/<not converted>"


def imported_property(case: Case) -> tuple[str, str] | None:
    """The user property of an imported case, None for a case written by hand."""
    counts = [s.imported_assertions for s in case.steps if s.imported_assertions is not None]
    unconverted = sum(len(s.unconverted) for s in case.steps)
    if not counts and not unconverted:
        return None
    return PROPERTY, f"{sum(counts)}/{unconverted}"


class ImportedSummary:
    """Collects the counts from the test reports and says them at the end (terminal and report.html)."""

    def __init__(self) -> None:
        self.cases: dict[str, tuple[int, int]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == PROPERTY:
                total, _, missing = str(value).partition("/")
                self.cases[report.nodeid] = (int(total), int(missing))

    def lines(self) -> list[str]:
        """The summary: totals, then one line per case with assertions not converted."""
        if not self.cases:
            return []
        total = sum(t for t, _ in self.cases.values())
        missing = sum(m for _, m in self.cases.values())
        lines = [
            f"{len(self.cases)} imported case(s) from {total} Postman assertion(s): {total - missing} converted, "
            f"{missing} not converted"
        ]
        for nodeid, (count, unconverted) in sorted(self.cases.items()):
            if unconverted:
                lines.append(
                    f"  {nodeid}: {count - unconverted} of {count} converted, {unconverted} not converted (the case "
                    "fails until they are converted or removed from unconverted:)"
                )
        return lines

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines = self.lines()
        if lines:
            terminalreporter.write_sep("-", "imported assertions")
            for line in lines:
                terminalreporter.write_line(line)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str]) -> None:
        lines = self.lines()
        if lines:
            items = "".join(f"<li>{html.escape(line.strip())}</li>" for line in lines[1:])
            prefix.append(f'<p class="imported">{html.escape(lines[0])}</p>' + (f"<ul>{items}</ul>" if items else ""))
