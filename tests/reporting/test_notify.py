"""Notifications: the payload of each kind, posted to a local webhook receiver; a failed post is a warning."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from iflowtest.errors import ConfigError
from iflowtest.redaction import Secret
from iflowtest.reporting.notify import NotifySettings, payload, post
from iflowtest.settings import resolve_settings

from ..servers import iflowtest, serve

SUMMARY: dict[str, Any] = {
    "run_id": "20261206T010000Z",
    "started": "2026-12-06T01:00:00+00:00",
    "duration_s": 812.5,
    "target": "tenant",
    "profile": "nightly",
    "mode": "live",
    "tls_verify": True,
    "tests": 1200,
    "passed": 1195,
    "failed": 3,
    "error": 1,
    "skipped": 1,
    "unreachable": 0,
    "iflows": [{"iflow": "ReadCostCenters", "cases": 1200, "passed": 1195, "failed": 4, "skipped": 1}],
    "new_failures": [f"suites/orders/test_orders.py::test_{n}" for n in range(12)],
    "fixes": ["suites/costcenters/test_read.py::test_de"],
    "flaky": [],
    "previous_run": "20261205T010000Z",
}
TARGET = "iflowtest: tenant (profile nightly), tenant.example.com"
REPORT = "https://ci.example.com/nightly/latest/report.html"


class Receiver:
    """A webhook on loopback: keeps what was posted, answers `status`."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.status = 200
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.posts.append((request.path, json.loads(request.get_data())))
        return Response("1", status=self.status)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    handler = Receiver()
    with serve(handler) as url:
        yield handler, url + "/webhookb2/T0SECRETPATH/IncomingWebhook/abc123secret"


def settings_with(project: Path, table: str, env: dict[str, str] | None = None) -> NotifySettings | None:
    with (project / "pyproject.toml").open("a") as handle:
        handle.write("\n[tool.iflowtest.notify]\n" + table)
    return NotifySettings.from_settings(resolve_settings(project, {}, environ=env or {}))


def test_slack_text_names_counts_target_changes_and_the_link() -> None:
    body = payload("slack", SUMMARY, TARGET, REPORT)
    text = body["text"]
    assert text.startswith("*iflowtest: FAILED: 1200 tests, 4 failed*\n1200 tests, 1195 passed, 4 failed (12 new)")
    assert TARGET in text
    assert "New failures (12):\n- suites/orders/test_orders.py::test_0" in text
    assert "- … and 2 more" in text and "test_11" not in text
    assert "Fixed (1):\n- suites/costcenters/test_read.py::test_de" in text
    assert text.endswith(f"<{REPORT}|Open the report>")


def test_teams_gets_an_adaptive_card_with_a_link_button() -> None:
    body = payload("teams", SUMMARY, TARGET, REPORT)
    [attachment] = body["attachments"]
    assert body["type"] == "message" and attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][0]["text"] == "iflowtest: FAILED: 1200 tests, 4 failed"
    assert any(block["text"] == TARGET for block in card["body"])
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open the report", "url": REPORT}]


def test_json_carries_the_summary_for_scripts() -> None:
    body = payload("json", SUMMARY, TARGET, None)
    assert body["event"] == "iflowtest.run" and body["report_url"] is None
    assert body["summary"]["tests"] == 1200 and len(body["summary"]["new_failures"]) == 12
    assert body["summary"]["iflows"][0]["iflow"] == "ReadCostCenters"


def test_no_secret_reaches_the_message() -> None:
    secret = Secret("client-secret-0123456789")
    leaky = {**SUMMARY, "new_failures": [f"suites/test_x.py::test_token[{secret.reveal()}]"]}
    for kind in ("teams", "slack", "json"):
        assert secret.reveal() not in json.dumps(payload(kind, leaky, TARGET, REPORT))


def test_a_post_reaches_the_webhook(receiver: tuple[Receiver, str]) -> None:
    handler, url = receiver
    notify = NotifySettings("slack", "IFLOWTEST_NOTIFY_WEBHOOK", Secret(url))
    assert post(notify, {"text": "hello"}) is None
    assert handler.posts == [("/webhookb2/T0SECRETPATH/IncomingWebhook/abc123secret", {"text": "hello"})]


def test_a_refused_post_is_one_warning_without_the_webhook_path(receiver: tuple[Receiver, str]) -> None:
    handler, url = receiver
    handler.status = 500
    notify = NotifySettings("teams", "TEAMS_HOOK", Secret(url))
    warning = post(notify, {"text": "hello"})
    assert warning == (
        "the teams webhook at http://127.0.0.1/… (TEAMS_HOOK) answered HTTP 500 to the run's summary; "
        "the run's result stands"
    )
    gone = NotifySettings("teams", "TEAMS_HOOK", Secret("http://127.0.0.1:9/hook/secret-path"))
    assert "secret-path" not in str(post(gone, {}))


def test_settings_read_the_webhook_from_the_environment(project: Path) -> None:
    found = settings_with(
        project,
        'kind = "teams"\nwebhook_env = "TEAMS_HOOK"\nreport_url = "https://ci/x"\n',
        {"TEAMS_HOOK": "https://h/x"},
    )
    assert found is not None and found.webhook is not None
    assert (found.kind, found.report_url, found.webhook.reveal()) == ("teams", "https://ci/x", "https://h/x")
    assert "https://h/x" not in repr(found)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('kind = "email"\n', "[tool.iflowtest.notify] kind = 'email': use one of teams, slack, json"),
        ('webhook = "https://x"\n', "unknown key 'webhook' in [tool.iflowtest.notify]; known keys: kind,"),
        ('when = "sometimes"\n', "[tool.iflowtest.notify] when = 'sometimes': use one of always, failures, changes"),
    ],
)
def test_bad_notify_settings_say_what_to_do(project: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_with(project, table)
    assert str(caught.value).startswith(message)


def test_a_run_posts_once_and_a_failing_webhook_is_only_a_warning(
    project: Path, receiver: tuple[Receiver, str]
) -> None:
    handler, url = receiver
    with (project / "pyproject.toml").open("a") as handle:
        handle.write(f'\n[tool.iflowtest.notify]\nkind = "slack"\nreport_url = "{REPORT}"\n')
    environ = {"IFLOWTEST_NOTIFY_WEBHOOK": url}

    result = iflowtest("run", "suites/costcenters", cwd=project, env=environ)

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    [(_, body)] = handler.posts
    assert body["text"].startswith("*iflowtest: passed: ")
    assert f"<{REPORT}|Open the report>" in body["text"]

    handler.status = 503
    again = iflowtest("run", "suites/costcenters", cwd=project, env=environ)

    assert again.returncode == 0  # the chat server does not decide the verdict
    assert len(handler.posts) == 2
    assert (
        "iflowtest: warning: the slack webhook at http://127.0.0.1/… (IFLOWTEST_NOTIFY_WEBHOOK) answered HTTP 503"
        in (again.stderr)
    )
    assert "T0SECRETPATH" not in again.stdout + again.stderr
