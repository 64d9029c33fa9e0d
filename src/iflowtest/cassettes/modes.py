"""Cassette settings that need no vcrpy: the run's recording mode, `[tool.iflowtest.cassettes]`, paths, offline keys.

Kept apart from cassettes.py so the pytest plugin can decide the mode without importing vcrpy before
pytest-recording registers vcrpy's matchers for assertion rewriting.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from iflowtest.cassettes.matching import MatchRules
from iflowtest.credentials.servicekey import ServiceKey
from iflowtest.errors import ConfigError
from iflowtest.settings import ClientSpec

RECORD_MODES: Final = ("once", "new_episodes", "none", "all", "rewrite")
OFFLINE_URLS: Final = {
    "{runtime}": "https://runtime.offline.invalid",
    "{api}": "https://api.offline.invalid",
    "{tokenurl}": "https://tokenurl.offline.invalid/oauth/token",
    "{cf}": "https://cf.offline.invalid",
}
DEFAULT_MAX_AGE_DAYS: Final = 90
_NEEDS_QUOTES: Final = re.compile(r"""[\s'"]""")  # YAML case names; Python ids stay as pytest prints them
_CASSETTE_KEYS: Final = {"folder", "ignore_fields", "ignore_patterns", "max_age_days"}


@dataclass(frozen=True)
class RecordingMode:
    """How a run treats cassettes: `record_mode` is pytest-recording's mode, None when live."""

    name: str  # live | record | offline | replay
    record_mode: str | None = None

    @property
    def uses_cassettes(self) -> bool:
        """Whether tests run inside cassettes."""
        return self.record_mode is not None

    @property
    def offline(self) -> bool:
        """Whether no target is started and the network is blocked."""
        return self.name == "offline"


def recording_mode(record: bool, offline: bool, record_mode: str | None) -> RecordingMode:
    """The run's mode from `--iflow-record`, `--iflow-offline` and pytest-recording's `--record-mode`."""
    if record and offline:
        raise ConfigError("--record and --offline exclude each other: record live calls, or replay offline, not both")
    if (record or offline) and record_mode is not None:
        wanted = "--record" if record else "--offline"
        raise ConfigError(
            f"{wanted} sets the record mode itself ({'rewrite' if record else 'none'}); drop --record-mode "
            f"{record_mode}, or use --record-mode alone"
        )
    if record:
        return RecordingMode("record", "new_episodes")  # with nothing loaded: a rewrite that keeps the old file
    if offline:
        return RecordingMode("offline", "none")
    if record_mode is not None:
        return RecordingMode("replay", record_mode)
    return RecordingMode("live")


@dataclass(frozen=True)
class CassetteOptions:
    """`[tool.iflowtest.cassettes]`: where cassettes live, matching rules, the age `check` accepts."""

    folder: Path
    rules: MatchRules
    max_age_days: int = DEFAULT_MAX_AGE_DAYS

    @classmethod
    def from_table(cls, root: Path, table: Mapping[str, Any]) -> CassetteOptions:
        """Options from the `cassettes` table of `[tool.iflowtest]` (defaults when absent)."""
        where = "[tool.iflowtest.cassettes]"
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where} must be a table")
        unknown = sorted(set(table) - _CASSETTE_KEYS)
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r} in {where}; known keys: {', '.join(sorted(_CASSETTE_KEYS))}")
        folder = table.get("folder", "cassettes")
        age = table.get("max_age_days", DEFAULT_MAX_AGE_DAYS)
        if not isinstance(folder, str) or not folder:
            raise ConfigError(f"{where} folder must be a folder name such as 'cassettes', got {folder!r}")
        if isinstance(age, bool) or not isinstance(age, int) or age < 1:
            raise ConfigError(f"{where} max_age_days must be a whole number of days ≥ 1, got {age!r}")
        return cls(root / folder, MatchRules.from_table(table, where), age)


def cassette_folder(root: Path, suites: tuple[str, ...], folder: Path, test_file: Path) -> Path:
    """The folder of a test module's cassettes: its path under the suite folder, mirrored under `folder`."""
    try:
        relative = test_file.resolve().relative_to(root.resolve())
    except ValueError:
        relative = Path(test_file.name)
    for suite in suites:
        suite_parts = Path(suite).parts
        if relative.parts[: len(suite_parts)] == suite_parts and len(relative.parts) > len(suite_parts):
            relative = Path(*relative.parts[len(suite_parts) :])
            break
    return folder / relative.with_suffix("")


def record_command(nodeid: str | None) -> str:
    """The command that records the cassette of test `nodeid`, quoted when the id has spaces (YAML cases)."""
    if not nodeid:
        return "iflowtest run --record"
    shown = shlex.quote(nodeid) if _NEEDS_QUOTES.search(nodeid) else nodeid
    return f"iflowtest run --record {shown}"


def offline_key(spec: ClientSpec) -> ServiceKey:
    """A key on placeholder hosts with a fake secret: what a client uses when nothing may be contacted."""
    suffix = "|it!b0" if spec.plan == "api" else "|it-rt-offline!b0"
    return ServiceKey.from_mapping(
        {
            "oauth": {
                "clientid": f"offline-{spec.name}{suffix}",
                "clientsecret": f"offline-not-a-secret-{spec.name}",
                "url": OFFLINE_URLS["{api}" if spec.plan == "api" else "{runtime}"],
                "tokenurl": OFFLINE_URLS["{tokenurl}"],
            }
        },
        f"offline placeholder key of client {spec.name!r}",
    )
