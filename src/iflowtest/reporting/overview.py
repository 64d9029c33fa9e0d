"""The lead's view above pytest-html's results table: verdict banner, per-iFlow table, changes, trends.

In reading order: the verdict (`verdict.py`), the iFlows with their status colours (broken ones first),
the full lists of new failures, fixes and flaky cases, the trend charts (`charts.py`); the environment
rows for developers come last, folded (`environment.py`, added when pytest-html asks for the summary).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from iflowtest.reporting.charts import latency_chart, pass_rate_chart
from iflowtest.reporting.history import TREND_RUNS, Changes, RunRecord, trends
from iflowtest.reporting.reasons import Failure
from iflowtest.reporting.summary import IflowSummary, summarize_iflows
from iflowtest.reporting.verdict import render_verdict


def render_overview(
    run: RunRecord,
    found: Changes,
    runs: Sequence[RunRecord],
    *,
    history: bool,
    target: str,
    failures: Mapping[str, Failure] | None = None,
    unreachable: int = 0,
) -> str:
    """The HTML block above the results table."""
    iflows = summarize_iflows(run)
    previous = next((r for r in reversed(runs) if r.run_id == found.previous_run), None)
    parts = [
        '<div class="iflowtest">',
        render_verdict(
            run,
            found,
            iflows,
            target=target,
            failures=failures or {},
            previous=previous,
            unreachable=unreachable,
            history=history,
        ),
        "<h2>iFlows</h2>",
        iflow_table(iflows),
        _changes(found, history),
    ]
    series = trends(runs)
    charts = [pass_rate_chart(series), latency_chart(series)] if len(runs) > 1 else []
    if any(charts):
        parts += [f"<h2>Trends (last {min(len(runs), TREND_RUNS)} runs)</h2>", '<div class="charts">']
        parts += [chart for chart in charts if chart]
        parts.append("</div>")
    parts.append("</div>")
    return "\n".join(parts)


def iflow_table(iflows: Sequence[IflowSummary]) -> str:
    """One row per iFlow with a status cell: failing (red), passing (green), skipped (amber)."""
    head = (
        "<tr><th>iFlow</th><th>status</th><th>cases</th><th>passed</th><th>failed</th><th>skipped</th>"
        "<th>p50 ms</th><th>p95 ms</th></tr>"
    )
    rows = []
    for row in iflows:
        state = "failing" if row.failed else ("passing" if row.passed else "skipped")
        rows.append(
            f'<tr class="iflow-row {state}"><td>{html.escape(row.iflow)}</td><td class="status">{state}</td>'
            f'<td>{row.cases}</td><td>{row.passed}</td><td class="failed-count">{row.failed}</td>'
            f"<td>{row.skipped}</td><td>{_ms(row.p50_ms)}</td><td>{_ms(row.p95_ms)}</td></tr>"
        )
    return f'<table id="iflow-summary">{head}{"".join(rows)}</table>'


def _changes(found: Changes, history: bool) -> str:
    if not history:
        return "<p>No run history: <code>iflowtest run</code> keeps one under reports/ to show changes and trends.</p>"
    if found.previous_run is None:
        # The first run of its target and profile: every failure is new, nothing can be fixed yet.
        parts = ["<h2>First run of this target and profile in the history</h2>"]
    else:
        parts = [f"<h2>Since the previous run ({html.escape(found.previous_run)})</h2>"]
    parts.append(_list("new-failures", "New failures", found.new_failures))
    parts.append(_list("fixes", "Fixed", found.fixes))
    parts.append(_list("flaky", "Flaky (outcome changed repeatedly in the last 10 runs)", found.flaky))
    return "\n".join(parts)


def _list(element_id: str, title: str, nodeids: tuple[str, ...]) -> str:
    if not nodeids:
        return f'<p id="{element_id}">{title}: none</p>'
    items = "".join(f"<li>{html.escape(n)}</li>" for n in nodeids)
    return f'<p>{title} ({len(nodeids)}):</p><ul id="{element_id}">{items}</ul>'


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
