"""Reports are never lost: own folders, `latest` switched atomically, nothing published by a run that tested nothing."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from iflowtest.reporting.publish import RunFolder
from tests.servers import IFLOWTEST, iflowtest, user_environ

SUITE = "suites/costcenters/test_failing_flow.py"
# Loaded by pytest in the `iflowtest run` process: a disk that fills up while the reports are written.
FULL_DISK = """
import errno
import os

import pytest_html.basereport

import iflowtest.reporting.publish


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


if os.environ.get("FULL_DISK") == "report":
    pytest_html.basereport.BaseReport._write_report = no_space
if os.environ.get("FULL_DISK") == "history":
    real = iflowtest.reporting.publish.write_atomically

    def write_atomically(path, text, mode=0o644):
        if path.name == "history.jsonl":
            no_space()
        real(path, text, mode)

    iflowtest.reporting.publish.write_atomically = write_atomically
"""


def state(reports: Path) -> tuple[str, bytes, list[str]]:
    """What must not change: where latest points, the history's bytes, and every name under reports/."""
    return os.readlink(reports / "latest"), (reports / "history.jsonl").read_bytes(), sorted(os.listdir(reports))


def run_folders(reports: Path) -> list[Path]:
    return sorted(p for p in reports.iterdir() if p.name[:8].isdigit())


def test_same_second_claims_get_their_own_folders(tmp_path: Path) -> None:
    claimed: list[str] = []

    def claim() -> None:
        claimed.append(RunFolder.claim(tmp_path, "20260101T000000Z").run_id)

    threads = [threading.Thread(target=claim) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(claimed)) == 12
    assert "20260101T000000Z" in claimed and "20260101T000000Z-12" in claimed


def test_parallel_runs_each_publish_a_complete_folder(project: Path) -> None:
    command = [IFLOWTEST, "run", SUITE, "--iflow-run-id=20260101T000000Z"]
    runs = [
        subprocess.Popen(command, cwd=project, env=user_environ(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], outputs
    reports = project / "reports"
    assert [p.name for p in run_folders(reports)] == ["20260101T000000Z", "20260101T000000Z-2"]
    for folder in run_folders(reports):
        assert sorted(os.listdir(folder)) == ["junit.xml", "report.html", "summary.json"]
    assert (reports / "latest").is_symlink() and os.readlink(reports / "latest") in (
        "20260101T000000Z",
        "20260101T000000Z-2",
    )
    history = (reports / "history.jsonl").read_text().splitlines()
    assert len(history) == 2  # each run re-read the file before adding itself: no run lost
    assert not [name for name in os.listdir(reports) if name.startswith(".")]


def test_runs_that_test_nothing_leave_latest_and_the_history_as_they_were(project: Path) -> None:
    first = iflowtest("run", SUITE, cwd=project)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    reports = project / "reports"
    before = state(reports)

    nothing = iflowtest("run", "-k", "no_such_case", cwd=project)
    collect = iflowtest("run", SUITE, "--collect-only", cwd=project)
    bad_option = iflowtest("run", SUITE, "--iflow-target", "moon", cwd=project)
    bad_profile = iflowtest("run", SUITE, "--iflow-env", "nosuch", cwd=project)

    assert nothing.returncode == 2 and "no test was selected" in nothing.stderr
    assert collect.returncode == 0 and "1 test collected" in collect.stdout
    assert bad_option.returncode == 2
    assert bad_profile.returncode == 2
    for result in (nothing, collect, bad_option, bad_profile):
        assert "Traceback" not in result.stdout + result.stderr
        assert "iflowtest: report" not in result.stdout
    assert state(reports) == before


@pytest.mark.parametrize("where", ["report", "history"])
def test_a_full_disk_is_one_line_exit_2_and_keeps_latest_and_the_history(project: Path, where: str) -> None:
    (project / "conftest.py").write_text(FULL_DISK)
    first = iflowtest("run", SUITE, cwd=project)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    reports = project / "reports"
    before = state(reports)

    full = iflowtest("run", SUITE, "--iflow-run-id=20260101T000000Z", cwd=project, env={"FULL_DISK": where})

    assert full.returncode == 2, full.stdout[-2000:] + full.stderr[-2000:]
    path = reports / "20260101T000000Z" if where == "report" else reports / "history.jsonl"
    assert full.stderr == (
        f"iflowtest: error: cannot write {path} (No space left on device): free disk space and run again; "
        "reports/latest and the run history are as they were\n"
    )
    assert "Traceback" not in full.stdout and "iflowtest: report" not in full.stdout
    assert state(reports) == before  # the half-written run's folder is gone as well


def test_a_damaged_history_line_is_one_warning_and_the_run_goes_on(project: Path) -> None:
    history = project / "reports" / "history.jsonl"
    history.parent.mkdir()
    history.write_text("<<<<<<< HEAD\n")

    result = iflowtest("run", SUITE, cwd=project)

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stderr == (
        f"iflowtest: warning: line 1 of the run history {history} is not a run record: skipped (fix or remove the "
        "line)\n"
    )
    lines = history.read_text().splitlines()
    assert lines[0] == "<<<<<<< HEAD" and len(lines) == 2


def test_latest_folder_of_an_earlier_release_becomes_a_link(project: Path) -> None:
    old = project / "reports" / "latest"
    old.mkdir(parents=True)
    (old / "report.html").write_text("the old report")

    result = iflowtest("run", SUITE, cwd=project)

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    latest = project / "reports" / "latest"
    assert latest.is_symlink() and (latest / "summary.json").is_file()
    assert "the old report" not in (latest / "report.html").read_text()
    assert not [name for name in os.listdir(project / "reports") if name.startswith(".")]
