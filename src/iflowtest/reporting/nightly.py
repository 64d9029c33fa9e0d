"""What `iflowtest run` adds around pytest for nightly runs: its options, JUnit names and the exit code.

The run's folder, `reports/latest` and the history are the plugin's (`publish.py`), so that plain
`pytest --iflow-reports reports` leaves the same files as `iflowtest run`.

Exit codes: 0 all passed, 1 failures, 2 usage or configuration error (including a selection that
collected no tests), 3 the tenant or its token endpoint could not be reached.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import pytest
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from iflowtest.reporting.columns import PROPERTY_PREFIX

PROGRESS_EVERY: Final = 30.0
EXIT_PASSED: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_UNREACHABLE: Final = 3
# The shell's convention for a run stopped by SIGINT (128 + 2); provisioned clients are deleted first.
EXIT_INTERRUPTED: Final = 130


def pytest_options(reports: Path, args: Sequence[str], *, in_order: bool = False) -> list[str]:
    """Reports folder and progress for the plugin; with `-n` and iFlows declared in_order, `--dist loadfile`.

    loadfile keeps each file's cases on one worker, in order. xdist's loadgroup would be finer, but it
    stopped grouping on pytest 9.2 (pytest-xdist issue 1386), silently.
    """
    given = {a.split("=")[0] for a in args}
    options = [] if "--iflow-reports" in given else [f"--iflow-reports={reports}"]
    if "--iflow-progress" not in given:
        options.append(f"--iflow-progress={PROGRESS_EVERY:g}")
    if in_order and any(_asks_for_workers(a) for a in args) and "--dist" not in given and "-d" not in given:
        options.append("--dist=loadfile")
    return options


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
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:  # a full disk mid-write leaves pytest's file, not half of ours
        tree.write(temporary, encoding="utf-8", xml_declaration=True)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def junit_classname(classname: str, iflow: str) -> str:
    """`suites.costcenters.test_read` with iFlow ReadCostCenters -> `costcenters/ReadCostCenters`."""
    parts = classname.split(".")
    modules = [i for i, part in enumerate(parts) if part.startswith("test_") or part.endswith("_test")]
    module_index = modules[-1] if modules else len(parts) - 1
    suite = parts[module_index - 1] if module_index > 0 else parts[module_index]
    return f"{suite}/{iflow or parts[module_index]}"
