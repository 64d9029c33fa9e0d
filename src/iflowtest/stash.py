"""The pytest stash keys through which the plugin hands a run's state to the modules that read it.

The plugin fills them; reporting, YAML cases and recording read them. They live here, below all of those,
so that no module imports `plugin.py` for a key. `RunTarget` is what those readers may ask of the run's
target, so they need not import `target.py` (and with it the emulator's gate).
"""

from __future__ import annotations

from typing import Protocol

import pytest
import requests

from iflowtest.calls.client import CallRecord
from iflowtest.calls.mpl import MessageLog
from iflowtest.calls.pool import IflowClientPool
from iflowtest.credentials.registry import ClientRegistry
from iflowtest.settings import Settings


class RunTarget(Protocol):
    """What readers of the stash may ask of the run's target (`target.TargetSession` implements it)."""

    def start(self) -> RunTarget:
        """Start the target (once) and return it."""
        ...

    @property
    def registry(self) -> ClientRegistry:
        """The run's declared clients."""
        ...

    @property
    def pool(self) -> IflowClientPool:
        """The iFlow clients handed out for the declared clients."""
        ...

    def describe(self) -> dict[str, str]:
        """Facts for the report's environment table."""
        ...

    def known_hosts(self) -> set[str]:
        """The tenant hosts called so far."""
        ...


# Config-wide: the run's settings and target, and whether baselines are rewritten instead of compared.
SETTINGS_KEY = pytest.StashKey[Settings]()
TARGET_KEY = pytest.StashKey[RunTarget]()
UPDATE_BASELINES_KEY = pytest.StashKey[bool]()
# The values saved by the cases of each sequence (`cases/sequence.py`), by sequence name.
SEQUENCE_VALUES_KEY = pytest.StashKey[dict[str, dict[str, object]]]()
# Set by `iflowtest run`, which prints the run's last lines itself: the plugin hands it the target line here
# instead of writing it at the end of pytest's output.
LAST_LINES_KEY = pytest.StashKey[list[str]]()
# Per test item: its iFlow calls, their responses (for a failure's exchanges) and the message logs it checked.
CALLS_KEY = pytest.StashKey[list[CallRecord]]()
RESPONSES_KEY = pytest.StashKey[list[requests.Response]]()
MPL_KEY = pytest.StashKey[list[MessageLog]]()
