"""`iflowtest cassettes check`: cassettes without a test, tests without a cassette, old cassettes, secrets.

Tests are found by pytest's own collection of the suites (so parametrised ids and classes name cassettes
exactly as a recording run does); a cassette's age is its `recorded_at` metadata, because file times do
not survive a git clone. The secret scan looks at the raw text, as the repository's hooks do.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from iflowtest.cassettes.modes import CassetteOptions, record_command
from iflowtest.cassettes.recording import cassette_path
from iflowtest.cassettes.store import HANDSHAKES_FOLDER
from iflowtest.redaction import REDACTOR
from iflowtest.settings import Settings, display_path

SECRET_PATTERNS: Final = {
    "a JWT": re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}"),
    "a PEM block": re.compile(r"-----BEGIN [A-Z0-9 ]+-----"),
    "a bearer token": re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{20,}"),
    "a client secret": re.compile(r"""(?i)["']?client_?secret["']?\s*[:=]\s*["']?(?!\{)[^"'\s,&}]{6,}"""),
    "a Basic credential": re.compile(r"(?i)\bbasic\s+(?!\{)[A-Za-z0-9+/]{12,}={0,2}"),
}
# A body that is not UTF-8 is stored base64-encoded; the scan reads it decoded.
_BINARY: Final = re.compile(r"!!binary \|\n((?:[ \t]+[A-Za-z0-9+/=]+\n)+)")


@dataclass(frozen=True)
class CollectedTest:
    """A test of the suites and the cassette a recording run would write for it."""

    nodeid: str
    cassette: Path


class _Collector:
    def __init__(self, settings: Settings, options: CassetteOptions) -> None:
        self.settings, self.options = settings, options
        self.tests: list[CollectedTest] = []

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            if isinstance(getattr(item, "live_only_reason", None), str):
                continue  # a test that runs only live (WS-Security) has no cassette
            path = cassette_path(self.settings, self.options, item.path, item.name, getattr(item, "cls", None))
            self.tests.append(CollectedTest(item.nodeid, path))


def collect_tests(settings: Settings, options: CassetteOptions, suites: list[str]) -> tuple[list[CollectedTest], str]:
    """The suites' tests and their cassette paths, and pytest's output when collection failed ('' if fine)."""
    collector = _Collector(settings, options)
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        code = pytest.main(
            ["--collect-only", "-q", f"--rootdir={settings.root}", "-p", "no:cacheprovider", *suites],
            plugins=[collector],
        )
    failed = code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    return collector.tests, output.getvalue() if failed else ""


def check_cassettes(
    settings: Settings,
    options: CassetteOptions,
    tests: list[CollectedTest],
    max_age_days: int,
    now: dt.datetime | None = None,
) -> list[str]:
    """Every problem found, one line each, in the order: orphans, missing, old, secrets."""
    now = now or dt.datetime.now(dt.UTC)
    root, folder = settings.root, options.folder
    files = sorted(folder.rglob("*.yaml")) if folder.is_dir() else []
    expected = {test.cassette.resolve(): test for test in tests}
    problems: list[str] = []
    handshakes = (folder / HANDSHAKES_FOLDER).resolve()
    for path in files:
        if path.resolve() not in expected and handshakes not in path.resolve().parents:
            problems.append(
                f"{display_path(path, root)}: no test records this cassette: delete it, or rename it after its test"
            )
    owners: dict[Path, list[str]] = {}
    for test in tests:
        owners.setdefault(test.cassette.resolve(), []).append(test.nodeid)
    for path, nodeids in owners.items():
        if len(nodeids) > 1:
            problems.append(
                f"{display_path(path, root)} is the cassette of {len(nodeids)} tests ({', '.join(nodeids)}): "
                "rename the tests or cases so that each has its own"
            )
    present = {path.resolve() for path in files}
    for test in tests:
        if test.cassette.resolve() not in present:
            problems.append(
                f"{test.nodeid} has no cassette ({display_path(test.cassette, root)}): record it with: "
                f"{record_command(test.nodeid)}"
            )
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        recorded = _recorded_at(text)
        if recorded is not None and (now - recorded).days > max_age_days:
            owner = expected.get(path.resolve())
            command = record_command(owner.nodeid if owner else None)
            problems.append(
                f"{display_path(path, root)} was recorded {(now - recorded).days} days ago (limit {max_age_days}): "
                f"re-record it with: {command}"
            )
        for line_number, what in _secrets_in(text):
            problems.append(
                f"{display_path(path, root)}:{line_number} looks like it holds {what}: delete the cassette, rotate "
                "the secret if it is real, and re-record (recording scrubs secrets it knows of)"
            )
    return problems


def _secrets_in(text: str) -> list[tuple[int, str]]:
    """(line, what) for each line holding something secret-shaped or a secret this process knows (keys loaded)."""
    found: list[tuple[int, str]] = []
    lines = text.splitlines()
    for line_number, line in enumerate(lines, start=1):
        found += [(line_number, what) for what, pattern in SECRET_PATTERNS.items() if pattern.search(line)]
        if REDACTOR.contains_known(line):
            found.append((line_number, "a secret of a configured service key"))
    for match in _BINARY.finditer(text):
        line_number = text.count("\n", 0, match.start()) + 1
        try:
            raw = base64.b64decode("".join(match.group(1).split()))
            decoded = re.sub(rb"[^\x20-\x7e]", b" ", raw).decode("ascii")  # the printable runs, apart
        except (binascii.Error, ValueError):
            continue
        found += [
            (line_number, f"{what} (in a binary body)")
            for what, pattern in SECRET_PATTERNS.items()
            if pattern.search(decoded)
        ]
        if REDACTOR.contains_known(decoded):
            found.append((line_number, "a secret of a configured service key (in a binary body)"))
    return found


def _recorded_at(text: str) -> dt.datetime | None:
    match = re.search(r"(?m)^metadata:\n(?:  .*\n)*?  recorded_at: (.+)$", text)
    if match is None:
        return None
    try:
        value: Any = yaml.safe_load(match.group(1))
        stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
