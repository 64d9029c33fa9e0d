"""The report's look: one style sheet laid over pytest-html's, embedded in the page with the lead's view.

pytest-html draws its text grey (#999) on white; this sheet makes every table dark on white, gives the
verdict banner and the per-iFlow table their status colours, tints failed result rows, and hides
pytest-html's own environment table, which the lead's view shows folded in a `<details>` element below the
verdict instead (`environment.py`). The selectors of pytest-html's page (`#environment`, `#results-table`,
`tbody.failed`) are those of pytest-html 4.x; were they to change, the page would only look plainer.
"""

from __future__ import annotations

from typing import Final

RED: Final = "#b3261e"
GREEN: Final = "#1b7f3b"
AMBER: Final = "#a15c00"

STYLE: Final = f"""<style>
body,#results-table,#results-table td,#results-table th{{color:#1f1f1f}}
body{{font-size:13px}}
a{{color:#0b57d0}}
#environment-header,#environment,.summary__data>h2{{display:none}}
.iflowtest{{max-width:1200px}}
.iflowtest h2{{font-size:16px;margin:18px 0 6px}}
.iflowtest table{{border-collapse:collapse;margin-bottom:8px}}
.iflowtest td,.iflowtest th{{border:1px solid #c7c7c7;padding:3px 8px;font-size:13px;text-align:right;color:#1f1f1f}}
.iflowtest th{{background:#eef0f3}}
.iflowtest td:first-child,.iflowtest th:first-child,.iflowtest td.status,#iflow-summary th:nth-child(2){{text-align:left}}
.iflowtest ul{{margin:2px 0 8px}}
.iflowtest .charts svg{{max-width:100%;height:auto;display:block;margin-bottom:6px}}
#verdict{{border:1px solid;border-left-width:8px;border-radius:4px;padding:10px 14px;margin:6px 0 14px}}
#verdict.failing{{border-color:{RED};background:#fdf0ef}}
#verdict.passing{{border-color:{GREEN};background:#eef8f1}}
#verdict.empty{{border-color:#777;background:#f4f4f4}}
#verdict .verdict-head{{font-size:20px;font-weight:bold;margin-bottom:4px}}
#verdict.failing .verdict-word{{color:{RED}}}
#verdict.passing .verdict-word{{color:{GREEN}}}
#verdict p{{margin:4px 0;font-size:14px}}
#verdict .new{{color:#fff;background:{RED};border-radius:3px;padding:0 4px;font-size:11px;font-weight:bold}}
#verdict table{{margin:6px 0 0;background:#fff}}
#verdict td,#verdict th{{text-align:left;vertical-align:top}}
#verdict td.reason{{font-family:monospace;font-size:12px;white-space:pre-wrap;max-width:720px}}
tr.iflow-row.failing td{{background:#fdf0ef}}
tr.iflow-row.failing td.status,tr.iflow-row.failing td.failed-count{{color:{RED};font-weight:bold}}
tr.iflow-row.passing td.status{{color:{GREEN};font-weight:bold}}
tr.iflow-row.skipped td.status{{color:{AMBER};font-weight:bold}}
.iflowtest details{{margin:14px 0}}
.iflowtest details summary{{cursor:pointer;font-size:14px;font-weight:bold}}
.iflowtest details td{{text-align:left;vertical-align:top}}
tbody.failed .collapsible td,tbody.error .collapsible td{{background:#fdf0ef}}
tbody.failed .col-result,tbody.error .col-result{{font-weight:bold}}
.why{{border-left:6px solid {RED};background:#fff;padding:6px 10px;margin:4px 0 8px;color:#1f1f1f}}
.why-title{{font-weight:bold;color:{RED};margin-bottom:4px}}
.why pre{{margin:0 0 4px;white-space:pre-wrap;font-size:12px}}
.why-hint,.why-message,.why-where{{margin:2px 0;font-size:13px}}
.mpl-gone{{color:#5f5f5f;cursor:help}}
#verdict .flaky{{color:#fff;background:{AMBER};border-radius:3px;padding:0 4px;font-size:11px;font-weight:bold}}
</style>"""
