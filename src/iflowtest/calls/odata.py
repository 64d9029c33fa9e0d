"""OData V2 JSON answers of SAP's APIs (`{"d": {...}}`), read from a side the harness does not control.

The message-log, monitoring and runtime-artifact APIs answer in this shape; a proxy, a login page, an older
tenant or a hostile server may answer anything else. These readers turn every other shape into one error
line that says what came instead, so no caller indexes into an unexpected document and fails with a
KeyError or TypeError traceback. A row that is not an object is an error too: skipping it could drop a
message log and change a verdict.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from iflowtest.errors import IflowtestError
from iflowtest.redaction import redact_text


def entity(response: requests.Response, what: str, error: type[IflowtestError] = IflowtestError) -> dict[str, Any]:
    """The `d` object of an OData V2 JSON answer; `error` saying what came instead when there is none."""
    try:
        document = response.json()  # bounded nesting: see calls/session.py
    except ValueError as exc:
        raise error(f"{what}: {_answered(response)} that is not JSON ({exc})") from None
    body = document.get("d") if isinstance(document, dict) else None
    if not isinstance(body, dict):
        raise error(f"{what}: {_answered(response)} without the OData V2 object 'd' ({_excerpt(response)})")
    return body


def rows(body: dict[str, Any], what: str, error: type[IflowtestError] = IflowtestError) -> list[dict[str, Any]]:
    """The `results` of an OData V2 collection (`d` of a query, or an expanded navigation property)."""
    results = body.get("results", [])
    if not isinstance(results, list) or not all(isinstance(row, dict) for row in results):
        raise error(f"{what}: the answer's 'results' is not a list of entities ({type(results).__name__})")
    return results


def expanded(
    row: dict[str, Any], name: str, what: str, error: type[IflowtestError] = IflowtestError
) -> list[dict[str, Any]]:
    """The rows of navigation property `name` expanded into `row` (none when it is absent or null)."""
    value = row.get(name)
    if value is None:
        return []
    if not isinstance(value, dict):
        raise error(f"{what}: the answer's {name!r} is not an expanded OData collection ({type(value).__name__})")
    return rows(value, what, error)


@contextmanager
def reading(what: str, error: type[IflowtestError] = IflowtestError) -> Iterator[None]:
    """Around code that takes fields out of answer rows: a missing field or one of another type becomes `error`."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        said = redact_text(str(exc))[:120]
        raise error(
            f"{what}: the answer lacks a field the harness needs, or holds another type ({type(exc).__name__}: {said})"
        ) from None


def text_field(row: dict[str, Any], name: str) -> str | None:
    """A field that should be text: None when absent or null, its text when it is a number or a boolean."""
    value = row.get(name)
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def _answered(response: requests.Response) -> str:
    return f"the API answered {response.status_code} {response.headers.get('Content-Type', 'without a content type')}"


def _excerpt(response: requests.Response) -> str:
    return repr(redact_text(response.text[:160]))
