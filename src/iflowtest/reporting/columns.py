"""What iflowtest adds to test reports: the iFlow calls of each test, and pytest-html columns for them.

Calls travel on `report.user_properties` (they cross from xdist workers to the controller and end up as
JUnit properties) and as a readable "iflow calls" section shown with failures and in the HTML details.
"""

from __future__ import annotations

import html
from typing import Any, Final

import pytest

from iflowtest.calls.client import CallRecord
from iflowtest.reporting.monitor import mpl_id_html
from iflowtest.settings import Settings
from iflowtest.stash import TARGET_KEY

PROPERTY_PREFIX: Final = "iflowtest."


def attach_calls(
    item: pytest.Item, report: pytest.TestReport, records: list[CallRecord], iflow: str | None = None
) -> None:
    """Put the calls of one test on its reports: facts of its iFlow's last call as properties, all calls as a section.

    `iflow` is the test's own iFlow (its marker); calls to other flows (a fixture reading data first) are
    listed in the section but do not set the columns. Properties go on the item so the teardown report,
    which JUnit XML reads, carries them too.
    """
    if not records:
        if iflow:  # failed before its first call (token, provisioning, breaker): still counted under its iFlow
            item.user_properties.append((PROPERTY_PREFIX + "iflow", iflow))
            if report.user_properties is not item.user_properties:
                report.user_properties.append((PROPERTY_PREFIX + "iflow", iflow))
        return
    own = [r for r in records if r.iflow == iflow] if iflow else records
    last = (own or records)[-1]
    iflows = [iflow] if iflow else sorted({r.iflow for r in records if r.iflow})
    properties = [
        (PROPERTY_PREFIX + "iflow", ", ".join(iflows)),
        (PROPERTY_PREFIX + "client", last.client),
        (PROPERTY_PREFIX + "http_status", str(last.status)),
        (PROPERTY_PREFIX + "latency_ms", f"{sum(r.elapsed_ms for r in own or records):.1f}"),
        (PROPERTY_PREFIX + "calls", str(len(records))),
        (PROPERTY_PREFIX + "mpl_id", next((r.mpl_id for r in reversed(own or records) if r.mpl_id), "")),
    ]
    count = sum(len(attempts_retried(r)) for r in records)
    if count:  # retries are shown, not hidden: a count property and the causes in the calls section
        properties.append((PROPERTY_PREFIX + "retries", str(count)))
    item.user_properties.extend(properties)
    if report.user_properties is not item.user_properties:
        report.user_properties.extend(properties)
    report.sections.append(("iflow calls", format_calls(records)))


_NOT_RETRIED = "not retried"


def attempts_retried(record: CallRecord) -> list[str]:
    """The causes of the attempts that were sent again (a record also says why an answer was not retried)."""
    return [why for why in record.retries if not why.startswith(_NOT_RETRIED)]


def format_calls(records: list[CallRecord]) -> str:
    """One line per call, with the diagnosis of error answers on the next line."""
    lines = []
    for record in records:
        mpl = f"  MPL {record.mpl_id}" if record.mpl_id else ""
        lines.append(
            f"{record.method} {record.url} -> {record.status} in {record.elapsed_ms:.1f} ms as {record.client}{mpl}"
        )
        retried = attempts_retried(record)
        if retried:
            lines.append(f"    retried: {', '.join(retried)}")
        lines += [f"    {why}" for why in record.retries if why.startswith(_NOT_RETRIED)]
        if record.hint:
            lines.append(f"    hint: {record.hint}")
    return "\n".join(lines)


def properties_of(report: Any) -> dict[str, str]:
    """The iflowtest properties of a report (empty when the test made no iFlow call)."""
    return {
        name[len(PROPERTY_PREFIX) :]: str(value)
        for name, value in getattr(report, "user_properties", [])
        if isinstance(name, str) and name.startswith(PROPERTY_PREFIX)
    }


class ReportColumns:
    """pytest-html hooks: title, environment facts, and iFlow / HTTP / latency / MPL id columns."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings

    def pytest_html_report_title(self, report: Any) -> None:
        profile = f", profile {self.settings.profile}" if self.settings.profile else ""
        report.title = f"iflowtest: {self.settings.target}{profile}"

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        try:
            from pytest_metadata.plugin import metadata_key
        except ImportError:  # pytest-metadata is a dependency of pytest-html; absent only if disabled
            return

        metadata = self.config.stash.get(metadata_key, None)
        if metadata is None:
            return
        target = self.config.stash.get(TARGET_KEY, None)
        facts = target.describe() if target is not None else {}
        facts["Clients"] = ", ".join(f"{c.name} ({c.auth})" for c in self.settings.clients.values())
        metadata.update(facts)

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells[2:2] = [
            '<th class="sortable" data-column-type="iflow">iFlow</th>',
            '<th class="sortable" data-column-type="status">HTTP</th>',
            '<th class="sortable" data-column-type="latency">Latency (ms)</th>',
            '<th data-column-type="mpl">MPL id</th>',
        ]

    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        facts = properties_of(report)
        cells[2:2] = [
            f'<td class="col-iflow">{html.escape(facts.get("iflow", ""))}</td>',
            f'<td class="col-status">{html.escape(facts.get("http_status", ""))}</td>',
            f'<td class="col-latency">{html.escape(facts.get("latency_ms", ""))}</td>',
            f'<td class="col-mpl">{mpl_cell(facts)}</td>',
        ]


def mpl_cell(facts: dict[str, str]) -> str:
    """The MPL id, linked to the message monitor when the link is known and will still open (not the emulator's)."""
    return mpl_id_html(facts.get("mpl_id", ""), facts.get("mpl_link", ""))
