"""The run's target on its first and its last line, so that nobody mistakes an emulator run for a tenant's.

The line names the target, the profile and the tenant host ("emulated tenant", "offline: cassettes"). It is
written before pytest's own header and after its final counts; under `iflowtest run`, which prints its
summary and report paths after pytest has finished, the last one is handed to the command instead
(`stash.LAST_LINES_KEY`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from iflowtest.stash import LAST_LINES_KEY


class TargetLines:
    """Writes `headline` first and last on the controller's terminal."""

    def __init__(self, config: pytest.Config, headline: str) -> None:
        self.config = config
        self.headline = headline

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self) -> None:
        # Before the target starts: provisioning or a slow token endpoint comes after the reader knows where.
        self._write()

    # tryfirst makes this wrapper the outermost one: its second half runs after pytest's final counts.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(self) -> Generator[None, Any, Any]:
        result = yield
        handed = self.config.stash.get(LAST_LINES_KEY, None)
        if handed is not None:
            handed.append(self.headline)
        else:
            self._write()
        return result

    def _write(self) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(self.headline, bold=True)
