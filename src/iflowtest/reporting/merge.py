"""`iflowtest merge`: the shard folders of one sharded run become one run, published as any other.

The shards' `shard.json` files are checked first (every slice 1..N present once, one plan, one target,
profile, mode and TLS setting, every planned test reported, no test twice); anything wrong is one line and
exit 2, with `reports/latest` and the history untouched. Then a pytest session without tests replays
every stored test report through pytest's own hooks, the way pytest-xdist's controller receives reports
from its workers, so that pytest-html, JUnit XML, the dashboard and the publisher build `report.html`,
`junit.xml`, `summary.json`, the one history entry and the `latest` switch exactly as for an unsharded
run, with the same all-or-nothing publication. What pacing cost the shards is added up: the calls each
held back and their wait, and the 429 answers that slowed each down, in the report and summary.json.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from iflowtest.bounds import nesting
from iflowtest.errors import ConfigError
from iflowtest.reporting.columns import ReportColumns
from iflowtest.reporting.dashboard import RunDashboard
from iflowtest.reporting.notify import register_notifier
from iflowtest.reporting.publish import ReportPublisher
from iflowtest.reporting.shards import SHARD_FILE, SHARD_FORMAT
from iflowtest.reporting.summary import PacingDelays
from iflowtest.settings import Settings

PUBLISHER: Final = "iflowtest-publisher"
# What must be equal across the shards of one run (the history compares runs of one kind only).
_SAME: Final = ("target", "profile", "mode", "tls_verify")


@dataclass(frozen=True)
class ShardResult:
    """One shard's `shard.json`, read and checked."""

    folder: Path
    index: int
    count: int
    plan: str
    planned: tuple[str, ...]
    run: dict[str, Any]
    duration_s: float
    reports: tuple[dict[str, Any], ...]
    pacing: PacingDelays | None = None  # None: pacing delayed none of its calls (or an older shard file)


def read_shard(folder: Path) -> ShardResult:
    """A shard folder's `shard.json`; ConfigError naming the folder when it is missing or not one."""
    path = folder / SHARD_FILE
    try:
        data = nesting.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{folder} holds no {SHARD_FILE}: pass the folders `iflowtest run --shard K/N` wrote "
            "(reports/shard-K-of-N), from shards that finished"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read ({exc}): run that shard again") from None
    try:
        if data["format"] != SHARD_FORMAT:
            raise ValueError(f"format {data['format']!r}")
        return ShardResult(
            folder=folder,
            index=int(data["shard"]),
            count=int(data["of"]),
            plan=str(data["plan"]),
            planned=tuple(str(n) for n in data["planned"]),
            run=dict(data["run"]),
            duration_s=float(data["duration_s"]),
            reports=tuple(data["reports"]),
            pacing=PacingDelays.from_dict(data["pacing"]) if data.get("pacing") else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"{path} is not a shard file of this iflowtest ({exc}): run the shards and the merge with one version"
        ) from None


def check_shards(shards: Sequence[ShardResult]) -> None:
    """ConfigError with the first reason the shards are not one whole run."""
    if not shards:
        raise ConfigError("no shard folder given: iflowtest merge reports/shard-1-of-2 reports/shard-2-of-2")
    count = shards[0].count
    by_index: dict[int, ShardResult] = {}
    for shard in shards:
        if shard.count != count:
            raise ConfigError(
                f"{shard.folder} is shard {shard.index} of {shard.count}, {shards[0].folder} one of {count}: "
                "merge the shards of one run"
            )
        if shard.index in by_index:
            raise ConfigError(
                f"shard {shard.index} of {count} given twice ({by_index[shard.index].folder}, {shard.folder})"
            )
        by_index[shard.index] = shard
    missing = [str(i) for i in range(1, count + 1) if i not in by_index]
    if missing:
        raise ConfigError(
            f"shard {', '.join(missing)} of {count} missing: a merged report must hold every test of the run; "
            "pass every shard folder"
        )
    first = by_index[1]
    for shard in shards:
        if shard.plan != first.plan:
            raise ConfigError(
                f"shard {shard.index} of {count} was planned differently from shard 1 (another checkout, run "
                "history or -k/-m selection): run every shard from the same commit, history and options"
            )
        for name in _SAME:
            if shard.run.get(name) != first.run.get(name):
                raise ConfigError(
                    f"shard {shard.index} ran with {name} {shard.run.get(name)!r}, shard 1 with "
                    f"{first.run.get(name)!r}: merge the shards of one run"
                )
    seen: dict[str, int] = {}
    for shard in sorted(shards, key=lambda s: s.index):
        reported = {str(r.get("nodeid")) for r in shard.reports}
        unreported = [n for n in shard.planned if n not in reported]
        if unreported:
            raise ConfigError(
                f"shard {shard.index} of {count} did not report {len(unreported)} planned test(s), such as "
                f"{unreported[0]}: run that shard again"
            )
        for nodeid in reported:
            if nodeid in seen:
                raise ConfigError(
                    f"{nodeid} ran in shard {seen[nodeid]} and in shard {shard.index}: run the shards again"
                )
            seen[nodeid] = shard.index


class MergeSession:
    """pytest hooks of the merge: the reporting plugins of a run, fed with the shards' stored reports."""

    def __init__(self, shards: Sequence[ShardResult], settings: Settings, reports: Path) -> None:
        self.shards = sorted(shards, key=lambda s: s.index)
        first = self.shards[0].run
        self.settings = dataclasses.replace(
            settings, target=first["target"], profile=first.get("profile"), tls_verify=first.get("tls_verify", True)
        )
        self.reports = reports

    @pytest.hookimpl(tryfirst=True)
    def pytest_cmdline_main(self, config: pytest.Config) -> None:
        # What `iflowtest run` passes to the plugin, which is off during a merge (it would start the target).
        config.option.iflow_reports = str(self.reports)
        for name in ("iflow_history", "iflow_run_id", "iflow_shard"):
            if not hasattr(config.option, name):
                setattr(config.option, name, None)
        publisher = ReportPublisher.from_config(config)
        if publisher is not None:
            config.pluginmanager.register(publisher, PUBLISHER)

    def pytest_configure(self, config: pytest.Config) -> None:
        publisher = config.pluginmanager.get_plugin(PUBLISHER)
        config.pluginmanager.register(ReportColumns(config, self.settings), "iflowtest-report")
        history = config.getoption("iflow_history", None)
        dashboard = RunDashboard(
            config,
            self.settings,
            history=Path(history) if history else None,
            run_id=config.getoption("iflow_run_id", None),
            mode=str(self.shards[0].run.get("mode", "live")),
        )
        # The nightly's facts, not the merge's: when it started, how long the longest shard took, its hosts.
        dashboard.started = min(str(s.run.get("started", "")) for s in self.shards)
        dashboard.duration_s = max(s.duration_s for s in self.shards)
        hosts = {h.strip() for s in self.shards for h in str(s.run.get("tenant_host", "")).split(",") if h.strip()}
        dashboard.add_hosts(hosts)
        dashboard.pacing = PacingDelays.combined([s.pacing for s in self.shards if s.pacing is not None])
        config.pluginmanager.register(dashboard, "iflowtest-dashboard")
        if isinstance(publisher, ReportPublisher):
            publisher.dashboard = dashboard
            register_notifier(config, self.settings, publisher)  # checked before the merge began

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> bool:
        session.testscollected = len({str(r.get("nodeid")) for s in self.shards for r in s.reports})
        return True  # nothing to collect: the shards ran the tests

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        hook = session.config.hook
        for shard in self.shards:
            for data in shard.reports:
                report = hook.pytest_report_from_serializable(config=session.config, data=data)
                if report is None:
                    continue
                if isinstance(report.longrepr, list):  # a skip's (path, line, reason): JSON has no tuples
                    report.longrepr = tuple(report.longrepr)
                if getattr(report, "when", None) == "setup":
                    hook.pytest_runtest_logstart(nodeid=report.nodeid, location=report.location)
                hook.pytest_runtest_logreport(report=report)
                if getattr(report, "when", None) == "teardown":
                    hook.pytest_runtest_logfinish(nodeid=report.nodeid, location=report.location)
        return True

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        dashboard = session.config.pluginmanager.get_plugin("iflowtest-dashboard")
        if isinstance(dashboard, RunDashboard) and dashboard.pacing is not None:
            # The line each shard printed, for the run as a whole.
            print(f"\niflowtest: pacing {dashboard.pacing.line()}", file=sys.stderr)
