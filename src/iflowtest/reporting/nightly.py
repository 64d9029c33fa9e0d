"""What `iflowtest run` adds around pytest for nightly runs: dated folders, JUnit names, summary and exit code.

Each run writes into `reports/<run id>/` (report.html, junit.xml, summary.json), then copies those files
to `reports/latest/`, so CI can archive dated folders while people bookmark `latest`. The run's history
is appended to `reports/history.jsonl` by the report plugin on the controller.

Exit codes: 0 all passed, 1 failures, 2 usage or configuration error (including a selection that
collected no tests), 3 the tenant or its token endpoint could not be reached.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from iflowtest.reporting.columns import PROPERTY_PREFIX
from iflowtest.reporting.dashboard import run_id_now
from iflowtest.reporting.summary import SUMMARY_FILE, one_line, read_summary

HISTORY_FILE: Final = "history.jsonl"
PROGRESS_EVERY: Final = 30.0
EXIT_PASSED: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_UNREACHABLE: Final = 3
# The shell's convention for a run stopped by SIGINT (128 + 2); provisioned clients are deleted first.
EXIT_INTERRUPTED: Final = 130


@dataclass(frozen=True)
class NightlyRun:
    """The folders and extra pytest options of one `iflowtest run`."""

    reports: Path
    run_id: str
    folder: Path

    @classmethod
    def prepare(cls, reports: Path, run_id: str | None = None) -> NightlyRun:
        """Create `reports/<run id>/` (a suffix when two runs start in the same second)."""
        run_id = run_id or run_id_now()
        folder = reports / run_id
        suffix = 1
        while folder.exists():
            suffix += 1
            folder = reports / f"{run_id}-{suffix}"
        folder.mkdir(parents=True)
        return cls(reports, folder.name, folder)

    @property
    def html(self) -> Path:
        """The dated report.html."""
        return self.folder / "report.html"

    @property
    def junit(self) -> Path:
        """The dated junit.xml."""
        return self.folder / "junit.xml"

    @property
    def latest(self) -> Path:
        """`reports/latest/`."""
        return self.reports / "latest"

    def pytest_options(self, args: Sequence[str], *, in_order: bool = False) -> list[str]:
        """History, run id and progress for the plugin; with `-n` and iFlows declared in_order, `--dist loadfile`.

        loadfile keeps each file's cases on one worker, in order. xdist's loadgroup would be finer, but it
        stopped grouping on pytest 9.2 (pytest-xdist issue 1386), silently.
        """
        given = {a.split("=")[0] for a in args}
        options = [f"--iflow-history={self.reports / HISTORY_FILE}", f"--iflow-run-id={self.run_id}"]
        if "--iflow-progress" not in given:
            options.append(f"--iflow-progress={PROGRESS_EVERY:g}")
        if in_order and any(_asks_for_workers(a) for a in args) and "--dist" not in given and "-d" not in given:
            options.append("--dist=loadfile")
        return options

    def finish(self, pytest_code: int, *, keyboard_interrupt: bool = False) -> int:
        """Name JUnit cases, copy the files to latest/, print the one-line summary; return the exit code."""
        if self.junit.exists():
            name_junit_cases(self.junit)
        self.latest.mkdir(parents=True, exist_ok=True)
        for old in self.latest.iterdir():
            if old.is_file():
                old.unlink()
        for produced in self.folder.iterdir():
            if produced.is_file():
                shutil.copy2(produced, self.latest / produced.name)
        if pytest_code == pytest.ExitCode.NO_TESTS_COLLECTED:
            print(
                "iflowtest: error: no test was selected: check the suite paths and the -k/-m expressions",
                file=sys.stderr,
            )
        summary = read_summary(self.folder / SUMMARY_FILE)
        if summary is not None:
            print(one_line(summary))
        unreachable = summary is not None and summary.get("unreachable", 0) > 0
        return exit_code(pytest_code, unreachable, keyboard_interrupt=keyboard_interrupt)


def _asks_for_workers(arg: str) -> bool:
    # -n 4, -n4, -nauto, -n=4, --numprocesses 4, --numprocesses=auto
    if arg in ("-n", "--numprocesses") or arg.startswith(("-n=", "--numprocesses=")):
        return True
    return arg.startswith("-n") and (arg[2:].isdigit() or arg[2:] in ("auto", "logical"))


def exit_code(pytest_code: int, unreachable: bool, *, keyboard_interrupt: bool = False) -> int:
    """The documented exit code for pytest's outcome.

    pytest answers INTERRUPTED both for Ctrl-C and for collection errors (a test file that does not import):
    only the first is an interruption, the second is the user's mistake in a suite.
    """
    if unreachable:
        return EXIT_UNREACHABLE
    if pytest_code == pytest.ExitCode.OK:
        return EXIT_PASSED
    if pytest_code == pytest.ExitCode.INTERRUPTED:
        return EXIT_INTERRUPTED if keyboard_interrupt else EXIT_USAGE
    if pytest_code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED):
        return EXIT_USAGE
    return EXIT_FAILED


def name_junit_cases(path: Path) -> None:
    """classname = `<suite folder>/<iFlow>` (or the module without an iFlow); name stays the case id.

    pytest names cases by Python module (`suites.costcenters.test_read`), which CI servers show as a deep
    package tree; leads look for the suite and the iFlow. Done on the finished file because xdist workers
    cannot change the controller's JUnit records.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    tree = etree.parse(str(path), parser)
    for case in tree.iter("testcase"):
        iflow = next(
            (p.get("value", "") for p in case.iter("property") if p.get("name") == PROPERTY_PREFIX + "iflow"), ""
        )
        case.set("classname", junit_classname(case.get("classname", ""), iflow))
    tree.write(str(path), encoding="utf-8", xml_declaration=True)


def junit_classname(classname: str, iflow: str) -> str:
    """`suites.costcenters.test_read` with iFlow ReadCostCenters -> `costcenters/ReadCostCenters`."""
    parts = classname.split(".")
    modules = [i for i, part in enumerate(parts) if part.startswith("test_") or part.endswith("_test")]
    module_index = modules[-1] if modules else len(parts) - 1
    suite = parts[module_index - 1] if module_index > 0 else parts[module_index]
    return f"{suite}/{iflow or parts[module_index]}"
