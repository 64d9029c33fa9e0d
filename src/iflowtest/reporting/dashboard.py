"""The integration lead's part of the HTML report, built on the controller once per run.

It collects every test's outcome and iFlow facts as reports arrive (from xdist workers too), and when the
session ends it writes `summary.json` next to the report and puts at the top of the pytest-html report: the
summary per iFlow, what changed since the previous comparable run, flaky cases and the trend charts. The
run joins the history only later, when `publish.ReportPublisher` has seen every file complete. Passed rows
keep only their one-line call facts, so 2000-row reports stay small and fast.
"""

from __future__ import annotations

import html
import platform
import shutil
import subprocess
import time
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pytest

from iflowtest.redaction import redact_text
from iflowtest.reporting.columns import PROPERTY_PREFIX, properties_of
from iflowtest.reporting.environment import environment_details, masked_keys, run_metadata
from iflowtest.reporting.history import CaseResult, Changes, HistoryStore, RunRecord, changes, comparable
from iflowtest.reporting.overview import render_overview
from iflowtest.reporting.reasons import FailureReasons
from iflowtest.reporting.style import STYLE
from iflowtest.reporting.summary import SUMMARY_FILE, PacingDelays, build_summary, write_summary
from iflowtest.reporting.verdict import describe_target
from iflowtest.settings import Settings, installed_version
from iflowtest.stash import TARGET_KEY

HISTORY_FACTS: Final = ("iflow", "latency_ms", "http_status", "mpl_id", "mpl_link")  # what run_record reads
UNREACHABLE_PROPERTY: Final = PROPERTY_PREFIX + "unreachable"
WORKER_HOSTS: Final = "iflowtest_tenant_hosts"  # xdist workeroutput: the hosts a worker called
# Sections a passed row keeps in the HTML: the call facts, not captured output.
_LIGHT_SECTIONS: Final = ("iflow calls", "message log")


def run_id_now() -> str:
    """A run id that sorts by time and names a folder: 20261124T073512Z."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


class RunDashboard:
    """pytest hooks of the controller: collect outcomes, then write history, summary.json and the lead's view."""

    def __init__(
        self,
        config: pytest.Config,
        settings: Settings,
        *,
        history: Path | None = None,
        run_id: str | None = None,
        progress_every: float | None = None,
        mode: str = "live",
    ) -> None:
        self.config = config
        self.settings = settings
        self.history = HistoryStore(history) if history else None
        self.run_id = run_id or run_id_now()
        self.mode = mode
        self.started = datetime.now(UTC).isoformat(timespec="seconds")
        self._clock_start = time.monotonic()
        self._outcomes: dict[str, str] = {}
        self._durations: dict[str, float] = {}
        self._facts: dict[str, dict[str, str]] = {}
        self._unreachable: set[str] = set()
        self._worker_hosts: set[str] = set()  # xdist: the controller resolves no keys, its workers do
        self._html: list[str] = []
        self._reasons = FailureReasons()  # why each failed test failed, for its row and the banner
        self._progress_every = progress_every
        self._last_progress = time.monotonic()
        self._total: int | None = None
        self.summary: dict[str, Any] | None = None
        self.target_line = ""  # the target as the report names it, kept for the notification
        self.duration_s: float | None = None  # a merge of shards sets the nightly's wall time; else measured
        # The run's pacer (calls delayed, seconds, 429s that slowed it, limits), read when the session ends;
        # a merge of shards sets `pacing`, their figures added up, instead.
        self.pacing_source: Callable[[], tuple[int, float, int, str]] | None = None
        self.pacing: PacingDelays | None = None
        self.write_error: OSError | None = None  # summary.json could not be written; the run is not published

    def check_history(self) -> list[str]:
        """Read the history before the run: one warning per line that is not a run record (skipped, kept)."""
        if self.history is None:
            return []
        self.history.runs()
        return self.history.warnings()

    # ------------------------------------------------------------ collecting
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._total = len(session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self._total = len(ids)

    @pytest.hookimpl(optionalhook=True)  # an xdist hook
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        self._worker_hosts.update(getattr(node, "workeroutput", {}).get(WORKER_HOSTS, ()))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        self._reasons.note(report)
        self._durations[nodeid] = self._durations.get(nodeid, 0.0) + float(getattr(report, "duration", 0.0) or 0.0)
        facts = properties_of(report)
        if facts:
            # Only what the history keeps: the dict lives until the session ends, one per test.
            kept = self._facts.setdefault(nodeid, {})
            kept.update((key, facts[key]) for key in HISTORY_FACTS if key in facts)
        if facts.get("unreachable"):
            self._unreachable.add(nodeid)
        outcome = _outcome(report)
        # setup decides skips and errors, call the rest; a failing teardown turns a pass into an error
        if outcome is not None and not (
            report.when == "teardown" and self._outcomes.get(nodeid) in ("failed", "error")
        ):
            self._outcomes[nodeid] = outcome
        if report.when == "teardown":
            self._maybe_show_progress()

    def _maybe_show_progress(self) -> None:
        if self._progress_every is None or time.monotonic() - self._last_progress < self._progress_every:
            return
        self._last_progress = time.monotonic()
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        done = len(self._outcomes)
        broken = sum(1 for o in self._outcomes.values() if o in ("failed", "error"))
        total = f"/{self._total}" if self._total else ""
        elapsed = int(time.monotonic() - self._clock_start)
        reporter.write_line(
            f"iflowtest: progress {done}{total} done, {broken} failed, {elapsed // 60}:{elapsed % 60:02d} elapsed"
        )

    def run_record(self) -> RunRecord:
        """This run as the history stores it."""
        cases = []
        for nodeid, outcome in self._outcomes.items():
            facts = self._facts.get(nodeid, {})
            latency = facts.get("latency_ms")
            cases.append(
                CaseResult(
                    nodeid=nodeid,
                    outcome=outcome,
                    iflow=facts.get("iflow", ""),
                    latency_ms=float(latency) if latency else None,
                    http_status=facts.get("http_status", ""),
                    mpl_id=facts.get("mpl_id", ""),
                    mpl_link=facts.get("mpl_link", ""),
                    duration_s=self._durations.get(nodeid),
                )
            )
        return RunRecord(
            self.run_id,
            self.started,
            self.settings.target,
            self.settings.profile,
            tuple(cases),
            tenant_host=", ".join(sorted(self._tenant_hosts())),
            mode=self.mode,
            tls_verify=self.settings.tls_verify,
        )

    def add_hosts(self, hosts: AbstractSet[str]) -> None:
        """Tenant hosts called elsewhere (xdist workers, the shards of a merged run)."""
        self._worker_hosts.update(hosts)

    def _tenant_hosts(self) -> set[str]:
        target = self.config.stash.get(TARGET_KEY, None)
        if self.settings.target != "tenant":
            return set()
        return (target.known_hosts() if target is not None else set()) | self._worker_hosts

    # ------------------------------------------------------------ at the end
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        run = self.run_record()
        # The history as it will be once the run is published; a run without history is compared with nothing.
        runs = comparable([*self.history.runs(), run]) if self.history else [run]
        found = changes(runs) if self.history else Changes(None, (), (), ())
        broken = {c.nodeid for c in run.cases if c.broken}
        if self.pacing is None and self.pacing_source is not None:
            calls, seconds, slowed, limits = self.pacing_source()
            if calls or slowed:
                self.pacing = PacingDelays(calls, round(seconds, 3), slowed, limits)
        self.summary = build_summary(
            run,
            found,
            unreachable=len(self._unreachable & broken),
            duration_s=self.duration_s if self.duration_s is not None else time.monotonic() - self._clock_start,
            pacing=self.pacing,
        )
        html_path = self.config.getoption("htmlpath", None)
        if html_path:
            path = Path(html_path).parent / SUMMARY_FILE
            try:
                write_summary(path, self.summary)
            except OSError as exc:  # a full disk: pytest-html and the publisher must still get their turn
                self.write_error = OSError(exc.errno, exc.strerror, str(path))
        self.target_line = self._target_text()
        overview = render_overview(
            run,
            found,
            runs,
            history=self.history is not None,
            target=self.target_line,
            failures=self._reasons.failures,
            unreachable=len(self._unreachable),
        )
        self._html = [STYLE, overview]
        if self.pacing is not None:
            self._html.append(f'<p class="iflowtest-pacing">Pacing: {html.escape(self.pacing.line())}</p>')
        self._add_environment()

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str]) -> None:
        prefix.extend(self._html)
        # Here, not at session finish: every plugin has added its environment facts by now.
        prefix.append(environment_details(run_metadata(self.config), masked_keys(self.config)))

    def pytest_html_results_table_html(self, report: Any, data: list[str]) -> None:
        if getattr(report, "passed", False) and report.when == "call":
            kept = [(h, c) for h, c in report.sections if h in _LIGHT_SECTIONS]
            data[:] = [f"{' ' + h + ' ':-^80}\n{html.escape(c)}" for h, c in kept] or ["passed"]

    def _target_text(self) -> str:
        target = self.config.stash.get(TARGET_KEY, None)
        tenant = target.describe().get("Tenant", "") if target is not None else ""
        if not tenant and self.settings.target == "tenant":
            tenant = ", ".join(sorted(self._tenant_hosts()))
        return describe_target(
            self.settings.target, self.settings.profile, redact_text(tenant), tls_verify=self.settings.tls_verify
        )

    def _add_environment(self) -> None:
        try:
            from pytest_metadata.plugin import metadata_key
        except ImportError:  # pytest-metadata comes with pytest-html
            return
        metadata = self.config.stash.get(metadata_key, None)
        if metadata is None:
            return
        metadata.update(environment_facts(self.settings, self.config, self._worker_hosts))


def environment_facts(
    settings: Settings, config: pytest.Config, worker_hosts: AbstractSet[str] = frozenset()
) -> dict[str, str]:
    """Git commit, versions and the tenant's hosts for the environment table (secrets redacted)."""
    facts = {
        "Git commit": git_commit(settings.root),
        "Versions": f"iflowtest {installed_version()}, pytest {pytest.__version__}, Python {platform.python_version()}",
    }

    target = config.stash.get(TARGET_KEY, None)
    if settings.target == "tenant" and target is not None:
        hosts = target.known_hosts() | worker_hosts
        if hosts:
            facts["Tenant hosts"] = ", ".join(sorted(hosts))
    return {name: redact_text(value) for name, value in facts.items()}


def git_commit(root: Path) -> str:
    """The short commit of the suites' checkout (with '+changes' when dirty), or why there is none."""
    git = shutil.which("git")
    if git is None:
        return "(git not available)"
    try:
        head = subprocess.run(
            [git, "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=False
        )
        if head.returncode != 0:
            return "(not a git checkout)"
        dirty = subprocess.run(
            [git, "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "(git not available)"
    return head.stdout.strip() + (" +changes" if dirty.stdout.strip() else "")


def _outcome(report: pytest.TestReport) -> str | None:
    if report.when == "call":
        if hasattr(report, "wasxfail"):
            return "skipped" if report.skipped else "passed"
        return str(report.outcome)
    if report.failed:
        return "error"
    if report.skipped and report.when == "setup":
        return "skipped"
    return None
