"""Data safety: a run killed with SIGKILL in the middle of recording loses nothing that was saved before."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

from iflowtest.reporting.history import HistoryStore

from .servers import IFLOWTEST, user_environ

ROOT = Path(__file__).resolve().parents[1]
SUITE = "suites/costcenters/test_read_costcenters.py"
KILLED = "test_one_cost_center_by_id"
CONFTEST = f"""
import os
import signal

import pytest



@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    if item.name == {KILLED!r}:
        os.kill(os.getpid(), signal.SIGKILL)  # mid-run: after this test's calls, before its cassette is saved
    return result
"""


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = user_environ()
    command = [IFLOWTEST, "run", *args, SUITE, "-p", "no:randomly"]
    return subprocess.run(command, cwd=project, env=environ, capture_output=True, text=True, timeout=300, check=False)


def test_sigkill_mid_recording_keeps_the_cassette_and_the_history(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for folder in ("suites", "fixtures", "cassettes"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    first = run(tmp_path)
    assert first.returncode == 0, first.stdout[-2000:]
    history = tmp_path / "reports" / "history.jsonl"
    before = history.read_bytes()
    cassette = next((tmp_path / "cassettes" / "costcenters" / "test_read_costcenters").glob(f"{KILLED}*.yaml"))
    recorded = cassette.read_bytes()
    (tmp_path / "suites" / "conftest.py").write_text(CONFTEST)

    killed = run(tmp_path, "--record")

    assert killed.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL), killed.stdout[-2000:]
    assert cassette.read_bytes() == recorded  # the interrupted recording did not touch the previous cassette
    assert history.read_bytes() == before
    assert len(HistoryStore(history).runs()) == 1  # still valid
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.startswith(".") and p.suffix in (".tmp", ".part")]
    assert leftovers == []


CTRL_C_WHILE_WRITING = """
import os
import signal


def pytest_sessionfinish(session):
    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while pytest-html, JUnit and the history are being written
"""


def test_ctrl_c_while_the_reports_are_written_finishes_them_without_a_traceback(tmp_path: Path) -> None:
    """Issue 18, C10: the run is in the history only with its report, and the terminal shows no traceback."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for folder in ("suites", "fixtures"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "suites" / "conftest.py").write_text(CTRL_C_WHILE_WRITING)

    result = run(tmp_path)

    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]
    assert "KeyboardInterrupt" not in result.stderr + result.stdout
    runs = HistoryStore(tmp_path / "reports" / "history.jsonl").runs()
    assert len(runs) == 1 and result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "reports" / "latest" / "report.html").is_file()
    assert (tmp_path / "reports" / "latest").resolve().name == runs[0].run_id
    assert "finishing the reports and the history" in result.stderr
