"""One run over several CI machines: `--iflow-shard K/N` runs slice K of N and leaves a shard folder.

Each shard machine collects the same suites and reads the same run history; the tests are planned into N
slices of about equal duration (the last recorded duration of each case; cases never run count as the
median), and shard K runs slice K. Where iFlows are declared `in_order` whole files stay together, as
`--dist loadfile` keeps them on one xdist worker; a sequence (an imported collection: its cases share saved
values) stays whole on one shard, or each of its iterations when they are independent. The plan is a pure function of the selected tests, the
durations and N, so every shard computes the same plan without talking to the others; its hash goes into
each shard's folder, and `iflowtest merge` refuses shards planned differently (another checkout, history
or `-k`), since their union might miss or repeat tests.

Why not pytest-split: it balances by a `.test_durations` file of its own that must be stored and committed
beside the history we already keep, and it splits test by test, with no way to keep a file of `in_order`
cases together. The greedy longest-first assignment below is the textbook answer (LPT, within 4/3 of the
best split) and needs a dozen lines.

A shard writes `reports/shard-K-of-N/`: its report.html, junit.xml and summary.json for a look, and
`shard.json` with the plan, what pacing cost the shard, and every test report (pytest's own serialisable
form, as xdist sends them), which `iflowtest merge` replays into one report, one JUnit file, one summary
and one history entry, with the shards' pacing delays added up.
A shard adds nothing to the history and leaves `reports/latest` alone: the merge does both, once.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from iflowtest.files import write_atomically
from iflowtest.reporting.history import HistoryStore, RunRecord

SHARD_FILE: Final = "shard.json"
SHARD_FORMAT: Final = 1
WORKER_PLAN: Final = "iflowtest_shard_plan"  # xdist workeroutput: the plan a worker computed
WORKER_HISTORY: Final = "iflowtest_shard_history"  # xdist workerinput: the history the controller reads
_DEFAULT_DURATION: Final = 1.0  # seconds, for cases when nothing has a recorded duration yet


@dataclass(frozen=True)
class Shard:
    """Slice `index` (1-based) of `count`."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`2/4` -> Shard(2, 4); ValueError saying the expected form otherwise."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise ValueError(f"--shard {text!r} is not K/N with 1 ≤ K ≤ N, such as --shard 2/4")
        return cls(int(match[1]), int(match[2]))

    @property
    def folder_name(self) -> str:
        """`shard-2-of-4`: the shard's folder under the reports folder."""
        return f"shard-{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def recorded_durations(runs: Sequence[RunRecord]) -> dict[str, float]:
    """Each case's last recorded duration (seconds), over every run in the history."""
    found: dict[str, float] = {}
    for run in runs:
        for case in run.cases:
            if case.duration_s is not None:
                found[case.nodeid] = case.duration_s
    return found


def unit_of(nodeid: str, whole_files: bool) -> str:
    """What is planned as one piece: the test, or its file when files stay whole."""
    return nodeid.split("::", 1)[0] if whole_files else nodeid


def plan_slices(units: Mapping[str, Sequence[str]], durations: Mapping[str, float], count: int) -> list[list[str]]:
    """The units (each a list of node ids) of each slice: longest first onto the slice with the least so far.

    Ties are broken by name and slice number, so the plan depends on nothing but its inputs.
    """
    known = [durations[n] for ids in units.values() for n in ids if n in durations]
    default = statistics.median(known) if known else _DEFAULT_DURATION
    weight = {unit: sum(durations.get(n, default) for n in ids) for unit, ids in units.items()}
    slices: list[list[str]] = [[] for _ in range(count)]
    totals = [0.0] * count
    for unit in sorted(units, key=lambda u: (-weight[u], u)):
        lightest = min(range(count), key=lambda i: (totals[i], i))
        slices[lightest].append(unit)
        totals[lightest] += weight[unit]
    return slices


def plan_id(slices: Sequence[Sequence[str]]) -> str:
    """A short hash of the whole plan: equal on every shard that planned the same way."""
    text = json.dumps([sorted(s) for s in slices], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class ShardSelection:
    """pytest hooks (controller and xdist workers): keep slice K of the selected tests, deselect the rest."""

    def __init__(
        self,
        shard: Shard,
        history: Path | None,
        *,
        whole_files: bool,
        together: Callable[[pytest.Item], str | None] = lambda item: None,
    ) -> None:
        self.shard = shard
        self.history = history
        self.whole_files = whole_files
        self.together = together  # the unit an item must share a shard with (its sequence), None for none
        self.plan: dict[str, Any] | None = None  # what this process planned (or its workers did)

    @pytest.hookimpl(trylast=True)  # after -k and -m have deselected: shards split what is left
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        runs = HistoryStore(self.history).runs() if self.history is not None else []
        unit = {item.nodeid: self.together(item) or unit_of(item.nodeid, self.whole_files) for item in items}
        units: dict[str, list[str]] = {}
        for item in items:
            units.setdefault(unit[item.nodeid], []).append(item.nodeid)
        slices = plan_slices(units, recorded_durations(runs), self.shard.count)
        mine = set(slices[self.shard.index - 1])
        kept = [i for i in items if unit[i.nodeid] in mine]
        dropped = [i for i in items if unit[i.nodeid] not in mine]
        self.plan = {
            "plan": plan_id(slices),
            "selected": len(items),
            "planned": [i.nodeid for i in kept],
            "whole_files": self.whole_files,
        }
        workeroutput = getattr(config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[WORKER_PLAN] = self.plan
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = kept

    @pytest.hookimpl(optionalhook=True)  # an xdist hook: workers plan from the controller's history
    def pytest_configure_node(self, node: Any) -> None:
        if self.history is not None:
            node.workerinput[WORKER_HISTORY] = str(self.history)

    @pytest.hookimpl(optionalhook=True)  # an xdist hook: the controller collects nothing, its workers plan
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        plan = getattr(node, "workeroutput", {}).get(WORKER_PLAN)
        if plan is not None and self.plan is None:
            self.plan = plan


class ShardRecorder:
    """pytest hooks of the controller: keep every test report in pytest's serialisable form for `shard.json`."""

    def __init__(self, config: pytest.Config, selection: ShardSelection) -> None:
        self.config = config
        self.selection = selection
        self.reports: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        if data is not None:
            data.pop("node", None)  # xdist's handle of the worker that ran it: no part of the result
            self.reports.append(data)

    def write(self, folder: Path, run: RunRecord, duration_s: float, *, pacing: dict[str, Any] | None = None) -> None:
        """Write `shard.json` into the shard's folder: the run as the history would keep it, what pacing cost it
        (summary.json's `pacing`, for the merge to add up), and the reports."""
        plan = self.selection.plan or {"plan": "", "selected": 0, "planned": [], "whole_files": False}
        content = {
            "format": SHARD_FORMAT,
            "shard": self.selection.shard.index,
            "of": self.selection.shard.count,
            **plan,
            "run": json.loads(run.to_json()),
            "duration_s": round(duration_s, 3),
            "pacing": pacing,
            "reports": self.reports,
        }
        write_atomically(folder / SHARD_FILE, json.dumps(content, separators=(",", ":"), default=str) + "\n")
