"""What a lead sees when opening one test row: message-log facts, and for failures the exchanges themselves.

Every test gets the MPL status and the message monitor link of its message as properties (they cross
from xdist workers to the controller like the call facts of `report.py`). Failed tests also get their
requests and responses, redacted, pretty-printed and truncated, and the error text of a failed message.
Passed rows stay light: responses are kept only until the test's outcome is known, and formatted only
for failures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

import pytest
import requests
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from iflowtest.bounds import nesting
from iflowtest.calls.mpl import MessageLog, monitor_link
from iflowtest.redaction import redact_headers, redact_text
from iflowtest.reporting.columns import PROPERTY_PREFIX, properties_of
from iflowtest.reporting.monitor import monitor_text

# Bytes of each body kept for the report: enough to see an error, small enough for 2000-row reports.
BODY_LIMIT: Final = 2000


@dataclass(frozen=True)
class Exchange:
    """One request and its response, redacted and truncated, ready to show."""

    request: str
    response: str


def capture_exchange(response: requests.Response) -> Exchange:
    """The request and response of a call as report text (secrets masked, bodies pretty and truncated)."""
    request = response.request
    body = request.body if request is not None else None
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    request_text = _message(
        f"{request.method} {request.url}" if request is not None else "(request unknown)",
        dict(request.headers) if request is not None else {},
        raw,
        request.headers.get("Content-Type", "") if request is not None else "",
    )
    response_text = _message(
        f"HTTP {response.status_code} {response.reason or ''}".rstrip(),
        dict(response.headers),
        response.text if response.content else "",
        response.headers.get("Content-Type", ""),
    )
    return Exchange(request_text, response_text)


def pretty(body: str, content_type: str) -> str:
    """JSON and XML indented, anything else as it is."""
    text = body.strip()
    try:
        if "json" in content_type or text.startswith(("{", "[")):
            return json.dumps(nesting.loads(text), indent=2, ensure_ascii=False)
        if "xml" in content_type or text.startswith("<?xml"):
            parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
            return str(etree.tostring(etree.fromstring(text.encode(), parser), pretty_print=True, encoding="unicode"))
    except (ValueError, etree.XMLSyntaxError):
        pass
    return body


def truncate(text: str, limit: int = BODY_LIMIT) -> str:
    """At most `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n... ({len(text) - limit} more characters not shown)"


def attach_mpl(
    item: pytest.Item, report: pytest.TestReport, logs: list[MessageLog], monitor_base: str | None = None
) -> None:
    """MPL status and monitor link as properties; the error text of failed messages as a section."""
    facts = properties_of(item)
    link = next((log.web_link for log in reversed(logs) if log.web_link), None)
    mpl_id = facts.get("mpl_id")
    if link is None and mpl_id and monitor_base:
        link = monitor_link(monitor_base, mpl_id)
    properties = []
    if link:
        properties.append((PROPERTY_PREFIX + "mpl_link", link))
    if logs:
        properties.append((PROPERTY_PREFIX + "mpl_status", logs[-1].status))
        if logs[-1].found_by:
            properties.append((PROPERTY_PREFIX + "mpl_found_by", logs[-1].found_by))
    item.user_properties.extend(properties)
    if report.user_properties is not item.user_properties:
        report.user_properties.extend(properties)
    if logs:
        lines = []
        for log in logs:
            found = f" (found by {log.found_by})" if log.found_by else ""
            lines.append(
                f"{log.message_guid} of {log.iflow}: {log.status}{found}  {monitor_text(log.web_link or '')}".rstrip()
            )
            if log.error_text:
                lines.append("    error: " + redact_text(truncate(log.error_text, 1000)))
        report.sections.append(("message log", "\n".join(lines)))


def attach_exchanges(report: pytest.TestReport, responses: list[requests.Response]) -> None:
    """The exchanges of a failed test as a section (passed tests get none, to keep the report light).

    Empties `responses` afterwards: items live for the whole session, and 2000 kept response bodies would
    hold hundreds of megabytes.
    """
    kept = list(responses)
    responses.clear()
    if not kept or not report.failed:
        return
    exchanges = [capture_exchange(response) for response in kept]
    parts = [f"{exchange.request}\n\n{exchange.response}" for exchange in exchanges[-5:]]
    skipped = f"({len(exchanges) - 5} earlier exchanges not shown)\n\n" if len(exchanges) > 5 else ""
    report.sections.append(("iflow exchanges", skipped + "\n\n".join(parts)))


def _message(start_line: str, headers: dict[str, str], body: str, content_type: str) -> str:
    lines = [redact_text(start_line)]
    lines += [f"{name}: {value}" for name, value in redact_headers(headers).items()]
    if body:
        lines += ["", redact_text(truncate(pretty(body, content_type)))]
    return "\n".join(lines)
