"""A run's reports reach `reports/latest` and the history whole, or not at all.

With `--iflow-reports DIR` (what `iflowtest run` passes) a run writes into a folder of its own,
`DIR/<run id>/`, claimed with one `mkdir` so that runs started in the same second or in parallel never
share one. When the session ends and every file is complete (report.html, junit.xml, summary.json), the
run is published: JUnit cases get their suite/iFlow names, the copies the user asked for (`--html`,
`--junitxml`) are written, the run is added to `DIR/history.jsonl`, and `DIR/latest` is switched to the
folder by renaming a symbolic link over it, one atomic step. A reader sees the previous run or this one.

A run is not published when it ended in a configuration error, ran no test (a `-k` that matched nothing,
`--collect-only`), hit an internal error, or was interrupted; nor when a file could not be written (a full
disk): then one line names the path, the exit status is 2, and `latest` and the history stay as they were.
The run's folder is removed again, except after Ctrl-C, where its partial report is kept for a look.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import sys
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from iflowtest.files import write_atomically
from iflowtest.reporting.dashboard import RunDashboard, run_id_now
from iflowtest.reporting.history import HistoryStore
from iflowtest.reporting.nightly import name_junit_cases
from iflowtest.reporting.shards import Shard, ShardRecorder
from iflowtest.reporting.summary import SUMMARY_FILE

HISTORY_FILE: Final = "history.jsonl"
LATEST: Final = "latest"
REPORT_FILES: Final = ("report.html", "junit.xml", SUMMARY_FILE)
_NOT_PUBLISHED: Final = (
    pytest.ExitCode.INTERRUPTED,
    pytest.ExitCode.INTERNAL_ERROR,
    pytest.ExitCode.USAGE_ERROR,
    pytest.ExitCode.NO_TESTS_COLLECTED,
)
# Options after which pytest runs no test: no folder is claimed for them.
_NO_RUN_OPTIONS: Final = ("help", "version", "collectonly", "markers", "showfixtures", "show_fixtures_per_test")


class ReportWriteError(OSError):
    """A report file or the history could not be written (a full disk, a read-only folder)."""

    def __init__(self, path: Path, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror, str(path))
        self.path = path

    def sentence(self) -> str:
        """What happened, the fix, and what was kept."""
        full = self.errno in (errno.ENOSPC, errno.EDQUOT)
        fix = "free disk space and run again" if full else "make it writable and run again"
        return f"cannot write {self.path} ({self.strerror}): {fix}; reports/latest and the run history are as they were"


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an OSError while writing `path` into a ReportWriteError naming it (a full disk names no file)."""
    try:
        yield
    except ReportWriteError:
        raise
    except OSError as exc:
        raise ReportWriteError(Path(exc.filename) if exc.filename else path, exc) from exc


@dataclass(frozen=True)
class RunFolder:
    """`reports/<run id>/`: the folder one run writes into before it is published."""

    reports: Path
    folder: Path

    @classmethod
    def claim(cls, reports: Path, run_id: str) -> RunFolder:
        """Create `reports/<run id>/`, or `<run id>-2`, `-3`, ... when another run holds the name.

        `mkdir` either creates the folder or fails, so two runs started in the same second, even in
        parallel, never end up in the same folder.
        """
        reports.mkdir(parents=True, exist_ok=True)
        suffix = 1
        while True:
            folder = reports / (run_id if suffix == 1 else f"{run_id}-{suffix}")
            try:
                folder.mkdir()
            except FileExistsError:
                suffix += 1
                continue
            return cls(reports, folder)

    @classmethod
    def replace(cls, reports: Path, name: str) -> RunFolder:
        """`reports/<name>/` afresh (a shard's folder: the same name on every run, for CI to upload)."""
        folder = reports / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return cls(reports, folder)

    @property
    def run_id(self) -> str:
        """The folder's name, the run's id in the history and summary.json."""
        return self.folder.name

    @property
    def html(self) -> Path:
        """The run's report.html."""
        return self.folder / "report.html"

    @property
    def junit(self) -> Path:
        """The run's junit.xml."""
        return self.folder / "junit.xml"

    @property
    def latest(self) -> Path:
        """`reports/latest`, a symbolic link to the last published run's folder."""
        return self.reports / LATEST


class ReportPublisher:
    """pytest hooks of the controller: claim the run's folder, publish it at the end, or leave all as it was."""

    def __init__(self, folder: RunFolder | None, history: HistoryStore | None, copies: dict[str, Path]) -> None:
        self.folder = folder
        self.history = history
        self.copies = copies  # "html" / "junit": where the user asked for the file as well
        self.dashboard: RunDashboard | None = None
        self.published = False
        self.kept_partial = False
        self.error: ReportWriteError | None = None
        self.shard: ShardRecorder | None = None  # a shard writes shard.json, not the history or latest

    @classmethod
    def from_config(cls, config: pytest.Config) -> ReportPublisher | None:
        """For `--iflow-reports`: claim the folder and point pytest-html and JUnit XML into it; None otherwise."""
        reports = config.getoption("iflow_reports", None)
        history = config.getoption("iflow_history", None)
        if hasattr(config, "workerinput") or any(config.getoption(name, None) for name in _NO_RUN_OPTIONS):
            return None
        if not reports:
            return cls(None, HistoryStore(Path(history)), {}) if history else None
        root = Path(reports)
        shard = config.getoption("iflow_shard", None)
        with writing(root):
            if shard:
                folder = RunFolder.replace(root, Shard.parse(shard).folder_name)
            else:
                folder = RunFolder.claim(root, config.getoption("iflow_run_id", None) or run_id_now())
        copies = {}
        if config.getoption("htmlpath", None):
            copies["html"] = Path(config.option.htmlpath).resolve()
        if config.getoption("xmlpath", None):
            copies["junit"] = Path(config.option.xmlpath).resolve()
        # Read by pytest-html and junitxml in their pytest_configure, which runs after this hook.
        config.option.htmlpath = str(folder.html)
        config.option.self_contained_html = True  # one file, so copies and archives stay whole
        config.option.xmlpath = str(folder.junit)
        if not shard:
            config.option.iflow_run_id = folder.run_id
        config.option.iflow_history = str(Path(history) if history else root / HISTORY_FILE)
        return cls(folder, HistoryStore(Path(config.option.iflow_history)), copies)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, None, None]:
        # The innermost wrapper: it runs after pytest-html and junitxml wrote their files, and sees their errors.
        # Ctrl-C while they and the history are written waits until all are (a second one abandons them).
        with interrupts_deferred():
            yield from self._finish(session)

    def _finish(self, session: pytest.Session) -> Generator[None, None, None]:
        try:
            yield
            if self.dashboard is not None and self.dashboard.write_error is not None:
                raise self.dashboard.write_error
            if self._publishable(session):
                self.publish()
            elif session.exitstatus == pytest.ExitCode.INTERRUPTED and self._ran_tests():
                self.kept_partial = self.folder is not None
        except OSError as exc:
            where = self.folder.folder if self.folder is not None else Path.cwd()
            self.error = exc if isinstance(exc, ReportWriteError) else ReportWriteError(where, exc)
            print(f"iflowtest: error: {self.error.sentence()}", file=sys.stderr)
            session.exitstatus = pytest.ExitCode.USAGE_ERROR

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.folder is not None and not self.published and not self.kept_partial:
            shutil.rmtree(self.folder.folder, ignore_errors=True)

    def _ran_tests(self) -> bool:
        return self.dashboard is not None and bool(self.dashboard.run_record().cases)

    def _publishable(self, session: pytest.Session) -> bool:
        if session.exitstatus in _NOT_PUBLISHED or session.config.getoption("collectonly", False):
            return False
        return self._ran_tests()

    def publish(self) -> None:
        """JUnit names, the user's copies, then the history and `latest` together; nothing on any failure."""
        assert self.dashboard is not None  # _publishable checked
        folder = self.folder
        if folder is not None:
            for name in REPORT_FILES:
                if not (folder.folder / name).is_file():
                    raise ReportWriteError(folder.folder / name, OSError(errno.ENOENT, "was not written"))
            with writing(folder.junit):
                name_junit_cases(folder.junit)
            if "html" in self.copies:
                copy_file(folder.html, self.copies["html"])
                copy_file(folder.folder / SUMMARY_FILE, self.copies["html"].with_name(SUMMARY_FILE))
            if "junit" in self.copies:
                copy_file(folder.junit, self.copies["junit"])
            if self.shard is not None:  # the merge adds the run to the history and switches latest, once
                summary = self.dashboard.summary or {}
                with writing(folder.folder):
                    self.shard.write(
                        folder.folder,
                        self.dashboard.run_record(),
                        float(summary.get("duration_s", 0.0)),
                        pacing=summary.get("pacing"),
                    )
                self.published = True
                return
        link = prepare_link(folder) if folder is not None else None
        try:
            if self.history is not None:
                with writing(self.history.path), self.history.locked():
                    text, _ = self.history.appended(self.dashboard.run_record())
                    write_atomically(self.history.path, text)
        except BaseException:
            if link is not None:
                link.unlink(missing_ok=True)
            raise
        if link is not None and folder is not None:
            switch_latest(link, folder.latest)
        self.published = True


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold a first Ctrl-C until the block is done (it says so); a second one interrupts at once.

    Reports and the history are written in a few moments; an interruption between them would leave a run
    in the history whose report was never finished.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, _frame: Any) -> None:
        if received:
            raise KeyboardInterrupt
        received.append(signum)
        print("iflowtest: finishing the reports and the history (Ctrl-C again to abandon them)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def copy_file(source: Path, target: Path) -> None:
    """Copy a finished file to where the user asked for it, atomically (a reader never sees half of it)."""
    with writing(target):
        write_atomically(target, source.read_text(encoding="utf-8"))


def prepare_link(folder: RunFolder) -> Path:
    """A symbolic link to the run's folder beside `latest`, ready to be renamed over it.

    Created before the history is written: if the disk is too full even for a link, nothing has changed yet.
    The link is relative, so `reports/` can be moved or archived as a whole.
    """
    link = folder.reports / f".{LATEST}-{folder.run_id}.tmp"
    with writing(link):
        link.unlink(missing_ok=True)
        os.symlink(folder.run_id, link)
    return link


def switch_latest(link: Path, latest: Path) -> None:
    """Rename the prepared link over `latest`: one atomic step on POSIX file systems.

    Releases before this one kept `latest` as a folder of copies, which a rename cannot replace: that folder
    is moved aside first, once, so only the first run after an upgrade has a moment without `latest`.
    """
    with writing(latest):
        if latest.is_dir() and not latest.is_symlink():
            aside = latest.with_name(f".{LATEST}-before-links")
            shutil.rmtree(aside, ignore_errors=True)
            os.rename(latest, aside)
            os.replace(link, latest)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(link, latest)


def published_files(publisher: Any) -> list[Path]:
    """The files a published run offers to readers: `latest/report.html`, `latest/junit.xml`, and copies."""
    if not isinstance(publisher, ReportPublisher) or not publisher.published or publisher.folder is None:
        return []
    if publisher.shard is not None:  # a shard's own folder: nothing is published to latest
        return [publisher.folder.html, publisher.folder.junit, *publisher.copies.values()]
    return [publisher.folder.latest / "report.html", publisher.folder.latest / "junit.xml", *publisher.copies.values()]
