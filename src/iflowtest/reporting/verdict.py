"""The verdict banner at the top of the report: what was tested, did it pass, what broke, and why.

It is what an integration lead reads first after a nightly run: the target and profile, the counts, the
failing iFlows, what changed since the previous run the history compares with (its target and profile are
named, so a lead sees that like is compared with like), and one line per failing test with its reason,
linked to the test's row below.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Final
from urllib.parse import quote

from iflowtest.reporting.history import Changes, RunRecord
from iflowtest.reporting.reasons import Failure
from iflowtest.reporting.summary import IflowSummary

# Failing tests listed in the banner; the rest are a click away in the results table.
MAX_LISTED: Final = 25
MAX_FIXES_NAMED: Final = 10


def render_verdict(
    run: RunRecord,
    found: Changes,
    iflows: Sequence[IflowSummary],
    *,
    target: str,
    failures: Mapping[str, Failure],
    previous: RunRecord | None = None,
    unreachable: int = 0,
    history: bool = True,
) -> str:
    """The banner's HTML."""
    total = len(run.cases)
    broken = [c for c in run.cases if c.broken]
    passed = sum(1 for c in run.cases if c.outcome == "passed")
    skipped = sum(1 for c in run.cases if c.outcome == "skipped")
    failing = [row for row in iflows if row.failed]
    if total == 0:
        state, head = "empty", '<span class="verdict-word">NO TESTS RAN</span>'
    elif broken:
        state = "failing"
        head = (
            f'<span class="verdict-word">FAILED</span>: {len(broken)} of {_n(total, "test")} failed, '
            f"in {len(failing)} of {_n(len(iflows), 'iFlow')}"
        )
    else:
        state = "passing"
        head = f'<span class="verdict-word">PASSED</span>: {_all(passed, total)} of {_n(len(iflows), "iFlow")}'
    new = set(found.new_failures)
    counts = [f"{passed} passed", f"{len(broken)} failed" + (f" ({len(new)} new)" if new else ""), f"{skipped} skipped"]
    if unreachable:
        counts.append(f"{unreachable} could not reach the tenant")
    parts = [
        f'<section id="verdict" class="{state}">',
        f'<div class="verdict-head">{head}</div>',
        f'<p class="verdict-target">Target: {html.escape(target)} &middot; run {html.escape(run.run_id)}</p>',
        f'<p class="verdict-counts">{" &middot; ".join(counts)}</p>',
    ]
    if failing:
        named = ", ".join(f"<b>{html.escape(r.iflow)}</b> ({r.failed} of {r.cases})" for r in failing)
        parts.append(f'<p class="verdict-iflows">Failing iFlows: {named}</p>')
    parts.append(_since(found, previous, history))
    if broken:
        parts.append(_what_broke(run, iflows, found, failures))
    parts.append("</section>")
    return "\n".join(parts)


def _since(found: Changes, previous: RunRecord | None, history: bool) -> str:
    if not history:
        return '<p class="verdict-changes">No run history: changes since the last run are not known.</p>'
    if found.previous_run is None:
        return '<p class="verdict-changes">No earlier run to compare with: changes show from the next run on.</p>'
    against = html.escape(found.previous_run)
    if previous is not None:
        profile = f"profile {previous.profile}" if previous.profile else "no profile"
        against += f" ({html.escape(previous.target)}, {html.escape(profile)})"
    new, fixes = len(found.new_failures), len(found.fixes)
    if not new and not fixes:
        return f'<p class="verdict-changes">Since run {against}: no new failures, no fixes.</p>'
    said = [f"{_n(new, 'new failure')}" if new else "no new failures", f"{fixes} fixed" if fixes else "no fixes"]
    text = f"Since run {against}: {', '.join(said)}"
    if fixes:
        names = ", ".join(html.escape(_name(n)) for n in found.fixes[:MAX_FIXES_NAMED])
        more = f" and {fixes - MAX_FIXES_NAMED} more" if fixes > MAX_FIXES_NAMED else ""
        text += f'. Fixed: <span class="fixed-names">{names}{more}</span>'
    return f'<p class="verdict-changes">{text}.</p>'


def _what_broke(run: RunRecord, iflows: Sequence[IflowSummary], found: Changes, failures: Mapping[str, Failure]) -> str:
    new, flaky = set(found.new_failures), set(found.flaky)
    order = {row.iflow: index for index, row in enumerate(iflows)}
    broken = sorted(
        (c for c in run.cases if c.broken),
        key=lambda c: (c.nodeid not in new, order.get(c.iflow or "(none)", len(order)), c.nodeid),
    )
    rows = []
    for case in broken[:MAX_LISTED]:
        failure = failures.get(case.nodeid)
        row_id = failure.row_id if failure else case.nodeid
        badge = ' <span class="new">NEW</span>' if case.nodeid in new else ""
        if case.nodeid in flaky:
            badge += ' <span class="flaky" title="outcome changed repeatedly in the last runs">FLAKY</span>'
        reason = html.escape(failure.headline) if failure else "(no reason recorded)"
        rows.append(
            f"<tr><td>{html.escape(case.iflow or '(none)')}</td>"
            f'<td><a href="#{quote(row_id, safe="/:[]@!$()*+,;=")}">{html.escape(_name(case.nodeid))}</a>{badge}</td>'
            f'<td class="reason">{reason}</td></tr>'
        )
    more = len(broken) - MAX_LISTED
    tail = f'<p class="verdict-more">and {more} more failed tests in the results below.</p>' if more > 0 else ""
    head = "<tr><th>iFlow</th><th>failed test</th><th>why</th></tr>"
    return f'<table id="what-broke">{head}{"".join(rows)}</table>{tail}'


def _name(nodeid: str) -> str:
    """A test's name without its file: `test_read[b]`, or a YAML case's name."""
    return nodeid.rsplit("::", 1)[-1]


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _all(passed: int, total: int) -> str:
    if passed == total:
        return f"all {_n(total, 'test')} passed"
    return f"{passed} of {_n(total, 'test')} passed, the others skipped"


def describe_target(target: str, profile: str | None, tenant: str = "", *, tls_verify: bool = True) -> str:
    """`tenant (acme.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com), profile test` for the banner."""
    text = target + (f" ({tenant})" if tenant else "")
    text += f", profile {profile}" if profile else ", no profile"
    return text + ("" if tls_verify else ", TLS verification OFF")
