"""The nightly's result where the leads are: one message to a Teams, Slack or JSON webhook per published run.

Configured in `[tool.iflowtest.notify]`:

    [tool.iflowtest.notify]
    kind = "teams"                 # teams, slack or json
    webhook_env = "TEAMS_WEBHOOK"  # the variable holding the webhook URL (default IFLOWTEST_NOTIFY_WEBHOOK)
    report_url = "https://ci.example.com/nightly/latest/report.html"  # the link in the message
    when = "always"                # always, failures (only when a case failed) or changes (new failures or fixes)

An incoming webhook's URL is its credential (whoever has it can post), so it is read from the environment
(or `.env.<profile>`), never from pyproject.toml, and kept as a `Secret`: a warning about a failed post
names only its host. The message holds the summary line, the target, new failures and fixes (at most
`MAX_LISTED` of each) and the configured report link, redacted like the report. It is sent once per run by
the controller once the run is published (after the merge when sharded; shards send nothing), and a post
that fails is a warning: the run's verdict and exit code are the tests', never the chat server's.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import pytest
import requests

from iflowtest.errors import ConfigError
from iflowtest.redaction import Secret, redact_text
from iflowtest.reporting.summary import one_line
from iflowtest.settings import Settings, load_pyproject_table

KINDS: Final = ("teams", "slack", "json")
WHEN: Final = ("always", "failures", "changes")
DEFAULT_VARIABLE: Final = "IFLOWTEST_NOTIFY_WEBHOOK"
MAX_LISTED: Final = 10
TIMEOUT: Final = 10.0
_KEYS: Final = ("kind", "webhook_env", "report_url", "when")


@dataclass(frozen=True)
class NotifySettings:
    """Where and when to post; `webhook` is None when its variable is not set (then nothing is posted)."""

    kind: str
    webhook_variable: str
    webhook: Secret | None
    report_url: str | None = None
    when: str = "always"

    @classmethod
    def from_settings(cls, settings: Settings) -> NotifySettings | None:
        """The `[tool.iflowtest.notify]` table, or None without one; ConfigError naming a bad key or value."""
        table = load_pyproject_table(settings.root).get("notify")
        if table is None:
            return None
        where = "[tool.iflowtest.notify]"
        unknown = sorted(set(table) - set(_KEYS))
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r} in {where}; known keys: {', '.join(_KEYS)}")
        kind = table.get("kind", "json")
        when = table.get("when", "always")
        if kind not in KINDS:
            raise ConfigError(f"{where} kind = {kind!r}: use one of {', '.join(KINDS)}")
        if when not in WHEN:
            raise ConfigError(f"{where} when = {when!r}: use one of {', '.join(WHEN)}")
        variable = str(table.get("webhook_env", DEFAULT_VARIABLE))
        value = settings.variables.get(variable, "").strip()
        return cls(
            kind=kind,
            webhook_variable=variable,
            webhook=Secret(value) if value else None,
            report_url=table.get("report_url"),
            when=when,
        )

    def wanted(self, summary: dict[str, Any]) -> bool:
        """Whether this run's summary calls for a message (`when`)."""
        if self.when == "failures":
            return bool(summary["failed"] + summary["error"])
        if self.when == "changes":
            return bool(summary["new_failures"] or summary["fixes"])
        return True


def _listed(title: str, nodeids: Sequence[str]) -> list[str]:
    if not nodeids:
        return []
    shown = [f"- {n}" for n in nodeids[:MAX_LISTED]]
    more = [f"- … and {len(nodeids) - MAX_LISTED} more"] if len(nodeids) > MAX_LISTED else []
    return [f"{title} ({len(nodeids)}):", *shown, *more]


def message_lines(summary: dict[str, Any], target: str) -> tuple[str, list[str]]:
    """The title and the lines of the message, the same in every kind (redacted)."""
    broken = summary["failed"] + summary["error"]
    title = f"iflowtest: {'FAILED' if broken else 'passed'}: {summary['tests']} tests, {broken} failed"
    lines = [
        one_line(summary).removeprefix("iflowtest: "),
        target,
        *_listed("New failures", summary["new_failures"]),
        *_listed("Fixed", summary["fixes"]),
    ]
    return redact_text(title), [redact_text(line) for line in lines if line]


def payload(kind: str, summary: dict[str, Any], target: str, report_url: str | None) -> dict[str, Any]:
    """The JSON body for a Teams (Adaptive Card), Slack (mrkdwn text) or generic JSON webhook, redacted whole."""
    body = _payload(kind, summary, target, report_url)
    redacted: dict[str, Any] = json.loads(redact_text(json.dumps(body)))
    return redacted


def _payload(kind: str, summary: dict[str, Any], target: str, report_url: str | None) -> dict[str, Any]:
    title, lines = message_lines(summary, target)
    link = redact_text(report_url) if report_url else None
    if kind == "slack":
        text = "\n".join([f"*{title}*", *lines, *([f"<{link}|Open the report>"] if link else [])])
        return {"text": text}
    if kind == "teams":
        card: dict[str, Any] = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True},
                *({"type": "TextBlock", "text": line, "wrap": True, "spacing": "None"} for line in lines),
            ],
        }
        if link:
            card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the report", "url": link}]
        return {
            "type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
        }
    fields = ("run_id", "started", "duration_s", "target", "profile", "mode", "tests", "passed", "failed", "error")
    return {
        "event": "iflowtest.run",
        "title": title,
        "text": "\n".join(lines),
        "summary": {
            **{k: summary.get(k) for k in (*fields, "skipped", "unreachable")},
            "new_failures": list(summary["new_failures"]),
            "fixes": list(summary["fixes"]),
            "iflows": summary["iflows"],
        },
        "report_url": link,
    }


def webhook_host(webhook: Secret) -> str:
    """What a message may say about a webhook: its scheme and host, never its path (the credential)."""
    parts = urlsplit(webhook.reveal())
    return f"{parts.scheme}://{parts.hostname or '?'}/…"


def post(notify: NotifySettings, body: dict[str, Any]) -> str | None:
    """POST the message; None when it was accepted, else one warning sentence (no secret in it)."""
    if notify.webhook is None:
        return None
    where = f"the {notify.kind} webhook at {webhook_host(notify.webhook)} ({notify.webhook_variable})"
    try:
        answer = requests.post(notify.webhook.reveal(), json=body, timeout=TIMEOUT)
    except requests.RequestException as exc:
        return f"could not post the run's summary to {where}: {type(exc).__name__}; the run's result stands"
    if answer.status_code >= 300:
        return f"{where} answered HTTP {answer.status_code} to the run's summary; the run's result stands"
    return None


class RunNotifier:
    """pytest hooks of the controller: after the run was published, post its summary once."""

    def __init__(self, notify: NotifySettings, publisher: Any) -> None:
        self.notify = notify
        self.publisher = publisher
        self.sent = False

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        publisher = self.publisher
        dashboard = getattr(publisher, "dashboard", None)
        summary = getattr(dashboard, "summary", None)
        if self.sent or not getattr(publisher, "published", False) or getattr(publisher, "shard", None) is not None:
            return  # unpublished runs changed nothing; shards leave it to the merge
        if dashboard is None or summary is None or not self.notify.wanted(summary):
            return
        self.sent = True
        warning = post(self.notify, payload(self.notify.kind, summary, dashboard.target_line, self.notify.report_url))
        if warning is not None:
            print(f"iflowtest: warning: {redact_text(warning)}", file=sys.stderr)


def register_notifier(config: pytest.Config, settings: Settings, publisher: Any) -> None:
    """On the controller of a published run: post its summary at the end when `[tool.iflowtest.notify]` says so."""
    notify = NotifySettings.from_settings(settings)
    if notify is not None and publisher is not None:
        config.pluginmanager.register(RunNotifier(notify, publisher), "iflowtest-notify")
