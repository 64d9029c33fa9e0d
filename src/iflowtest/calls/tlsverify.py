"""TLS verification of the harness's own calls: on by default, off only with an explicit flag, and never quietly.

One place decides requests' `verify=` for every HTTPS call the harness makes (iFlow calls, token fetches,
the message-log API, the Cloud Foundry API): False when verification is turned off (`tls_verify = false`,
IFLOWTEST_TLS_VERIFY=false, `--iflow-no-tls-verify`, `iflowtest run --insecure`), else the emulator's CA
file, the configured CA bundle, or True. A run without verification says so once on the terminal, in a
banner of the HTML report, in its environment table and in summary.json; urllib3's per-call
InsecureRequestWarning is silenced instead, so that one notice is not drowned in thousands.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable
from typing import Any, Final

import pytest
from urllib3.exceptions import InsecureRequestWarning

from iflowtest.settings import Settings

# What pytest's `filterwarnings` ini option takes, for the warnings pytest catches around each test.
IGNORE_INSECURE_WARNINGS: Final = "ignore::urllib3.exceptions.InsecureRequestWarning"
_BANNER_STYLE: Final = (
    "border:2px solid #b00020;background:#fdecea;color:#b00020;padding:8px 12px;margin:8px 0;font-weight:bold"
)


def silence_insecure_warnings() -> Callable[[], None]:
    """Ignore urllib3's InsecureRequestWarning (one per call otherwise) until the returned undo is called."""
    catcher = warnings.catch_warnings()
    catcher.__enter__()
    warnings.filterwarnings("ignore", category=InsecureRequestWarning)
    return lambda: catcher.__exit__(None, None, None)


def describe(settings: Settings) -> str:
    """The environment-table fact: how this run verifies TLS certificates."""
    if not settings.tls_verify:
        return f"OFF ({settings.origins.get('tls_verify', 'tls_verify')}): certificates were not checked"
    if settings.ca_bundle:
        return f"on, CA bundle {settings.ca_bundle}"
    return "on"


def warning_line(settings: Settings) -> str:
    """The one line a run without verification prints on the terminal."""
    return (
        f"iflowtest: WARNING: TLS verification is turned off ({settings.origins.get('tls_verify', 'tls_verify')}): "
        "the certificates of the tenant, token and Cloud Foundry hosts were not checked; remove the setting, "
        "or set IFLOWTEST_CA_BUNDLE to your corporate CA bundle, to verify again"
    )


def banner_html(settings: Settings) -> str:
    """The warning banner at the top of the HTML report of a run without verification."""
    return f'<div id="tls-warning" style="{_BANNER_STYLE}">{html.escape(warning_line(settings))}</div>'


class TlsVerificationReport:
    """Controller hooks: the terminal line, the report banner and the environment fact of TLS verification."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.settings.tls_verify:
            terminalreporter.write_line(warning_line(self.settings), yellow=True, bold=True)

    @pytest.hookimpl(optionalhook=True, trylast=True)  # after ReportColumns has set the title
    def pytest_html_report_title(self, report: Any) -> None:
        if not self.settings.tls_verify:
            report.title = f"{report.title} (TLS verification OFF)"

    @pytest.hookimpl(optionalhook=True, tryfirst=True)  # before the dashboard: the banner comes first
    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str]) -> None:
        if not self.settings.tls_verify:
            prefix.append(banner_html(self.settings))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        try:
            from pytest_metadata.plugin import metadata_key
        except ImportError:  # pytest-metadata comes with pytest-html
            return
        metadata = self.config.stash.get(metadata_key, None)
        if metadata is not None:
            metadata["TLS verification"] = describe(self.settings)
