"""How a replayed request finds its recording: one normalised key per request, and why two keys differ.

A request matches a recording when method, normalised path, normalised query and, for modifying calls,
the normalised body are equal, and both are (or both are not) CSRF fetches. Hosts are not compared:
placeholders make them portable (scrub.py). Normalising means percent-decoding and dropping duplicate
and trailing slashes in the path, sorting query pairs, comparing JSON and XML by content rather than by
layout, treating secret fields as equal (they are scrubbed on disk), and blanking values that change on
every run: the `ignore_patterns` (GUIDs and ISO-8601 timestamps by default) and the `ignore_fields`
(JSON keys or XML element names) of `[tool.iflowtest.cassettes]`.

Because the whole comparison is equality of one tuple, a cassette can keep its interactions in a dict
and find a request's recording in constant time (cassettes.py); `explain` gives, component by component,
the reasons a near miss did not match, for the failure message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

from lxml import etree

from iflowtest.bounds import nesting
from iflowtest.cassettes.scrub import SECRET_FIELDS, header_value
from iflowtest.errors import ConfigError

MODIFYING: Final = frozenset({"POST", "PUT", "PATCH", "DELETE", "MERGE"})
DEFAULT_IGNORE_PATTERNS: Final = (
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?",
)
# The SAP_ApplicationID the harness sends with every call (calls.client.ApplicationIds): new in every run, so
# never compared, whatever ignore_patterns says; its cassette stand-in keeps this shape (volatile.stand_in).
APPLICATION_ID: Final = re.compile(r"iflowtest-[0-9a-f]{12}-\d{6}")
# Reads of the message-log API are polls (a log written late, a message still PROCESSING): a cassette keeps
# the last answer of each (volatile.py) and replays it however often the run asks (replay.py).
# The tenant's monitoring API: message logs and their parts, data stores, queues; its reads are polls.
MONITORING_API_PATH: Final = "/api/v1/"
IGNORED: Final = "<ignored>"
_SLASHES = re.compile(r"/{2,}")


@dataclass(frozen=True)
class MatchRules:
    """What to leave out when comparing requests."""

    ignore_fields: frozenset[str] = frozenset()
    ignore_patterns: tuple[re.Pattern[str], ...] = field(
        default_factory=lambda: tuple(re.compile(p) for p in DEFAULT_IGNORE_PATTERNS)
    )

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str = "[tool.iflowtest.cassettes]") -> MatchRules:
        """Rules from the `ignore_fields` and `ignore_patterns` of the cassettes table."""
        fields = table.get("ignore_fields", [])
        patterns = table.get("ignore_patterns", list(DEFAULT_IGNORE_PATTERNS))
        for name, value in (("ignore_fields", fields), ("ignore_patterns", patterns)):
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ConfigError(f"{where} {name} must be a list of non-empty strings, got {value!r}")
        compiled = []
        for pattern in patterns:
            try:
                compiled.append(re.compile(pattern))
            except re.error as exc:
                raise ConfigError(
                    f"{where} ignore_patterns: {pattern!r} is not a regular expression ({exc}): fix or remove it"
                ) from None
        return cls(frozenset(fields), tuple(compiled))

    def blank(self, text: str) -> str:
        """`text` with every ignored pattern replaced."""
        for pattern in (APPLICATION_ID, *self.ignore_patterns):
            text = pattern.sub(IGNORED, text)
        return text


class RequestKey(NamedTuple):
    """The normalised parts of a request that matching compares."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: str
    csrf_fetch: bool


def request_key(method: str, uri: str, headers: Mapping[str, Any], body: Any, rules: MatchRules) -> RequestKey:
    """The key of one request (vcrpy Request fields)."""
    method = method.upper()
    parts = urlsplit(uri)
    path = _SLASHES.sub("/", unquote(parts.path))
    if len(path) > 1:
        path = path.rstrip("/")
    query = tuple(sorted(_pair(k, v, rules) for k, v in parse_qsl(parts.query, keep_blank_values=True)))
    content = normalise_body(body, header_value(headers, "content-type"), rules) if method in MODIFYING else ""
    fetch = header_value(headers, "x-csrf-token").strip().lower() == "fetch"
    return RequestKey(method, path or "/", query, content, fetch)


_WSSE: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
_WSU: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"


def normalise_body(body: Any, content_type: str, rules: MatchRules) -> str:
    """A body as matching compares it: JSON and XML by content, secrets and ignored values blanked."""
    if body is None or body == b"" or body == "":
        return ""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, bytes):
        return repr(body)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body.hex()
    kind = content_type.lower()
    stripped = text.lstrip()
    if "json" in kind or stripped[:1] in ("{", "["):
        try:
            document = nesting.loads(text)
        except ValueError:
            pass
        else:
            return rules.blank(json.dumps(_drop_fields(document, rules), sort_keys=True, ensure_ascii=False))
    if "xml" in kind or stripped.startswith("<"):
        try:
            root = etree.fromstring(body, etree.XMLParser(remove_blank_text=True, resolve_entities=False))
        except etree.XMLSyntaxError:
            pass
        else:
            # A WS-Security header is made anew for every call (timestamp, random ids, signature values), and so
            # are the ids it signs elements by: what the request says is the rest of the envelope.
            for security in list(root.iter(f"{{{_WSSE}}}Security")):
                parent = security.getparent()
                if parent is not None:
                    parent.remove(security)
            for element in root.iter():
                if isinstance(element.tag, str):
                    element.attrib.pop(f"{{{_WSU}}}Id", None)
                if isinstance(element.tag, str) and etree.QName(element).localname in rules.ignore_fields:
                    element.text = IGNORED
            return rules.blank(etree.tostring(root, method="c14n").decode("utf-8"))
    if "x-www-form-urlencoded" in kind:
        return repr(sorted(_pair(k, v, rules) for k, v in parse_qsl(text, keep_blank_values=True)))
    return rules.blank(text)


def explain(live: RequestKey, recorded: RequestKey) -> list[str]:
    """Why `recorded` does not answer `live`, one reason per differing part (empty when they match)."""
    reasons = []
    if live.method != recorded.method:
        reasons.append(f"method is {live.method}, recorded {recorded.method}")
    if live.path != recorded.path:
        reasons.append(f"path is {live.path}, recorded {recorded.path}")
    if live.query != recorded.query:
        reasons.append(_query_difference(live.query, recorded.query))
    if live.body != recorded.body:
        reasons.append(_body_difference(live.body, recorded.body))
    if live.csrf_fetch != recorded.csrf_fetch:
        reasons.append("one is a CSRF fetch (X-CSRF-Token: Fetch), the other is not")
    return reasons


def closeness(live: RequestKey, recorded: RequestKey) -> int:
    """A score for ranking near misses: the same path counts most, then method, query and body."""
    return (
        4 * (live.path == recorded.path)
        + 2 * (live.method == recorded.method)
        + (live.query == recorded.query)
        + (live.body == recorded.body)
    )


def _pair(key: str, value: str, rules: MatchRules) -> tuple[str, str]:
    if key.lower() in SECRET_FIELDS:
        return key, SECRET_FIELDS[key.lower()]
    if key in rules.ignore_fields:
        return key, IGNORED
    return key, rules.blank(value)


def _drop_fields(value: Any, rules: MatchRules) -> Any:
    if isinstance(value, dict):
        return {
            k: (
                IGNORED
                if k in rules.ignore_fields
                else SECRET_FIELDS.get(k.lower(), v)
                if isinstance(v, str) and k.lower() in SECRET_FIELDS
                else _drop_fields(v, rules)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_drop_fields(v, rules) for v in value]
    return value


def _query_difference(live: Sequence[tuple[str, str]], recorded: Sequence[tuple[str, str]]) -> str:
    live_map, recorded_map = dict(live), dict(recorded)
    for name in sorted(set(live_map) | set(recorded_map)):
        if name not in recorded_map:
            return f"query parameter {name}={live_map[name]!r} was not recorded"
        if name not in live_map:
            return f"query parameter {name}={recorded_map[name]!r} was recorded but is not sent"
        if live_map[name] != recorded_map[name]:
            return f"query parameter {name} is {live_map[name]!r}, recorded {recorded_map[name]!r}"
    return "query parameters repeat differently"


def _body_difference(live: str, recorded: str) -> str:
    at = next(
        (i for i, (a, b) in enumerate(zip(live, recorded, strict=False)) if a != b), min(len(live), len(recorded))
    )
    start = max(0, at - 20)
    return (
        f"body differs at character {at}: sent ...{live[start : at + 40]!r}..., "
        f"recorded ...{recorded[start : at + 40]!r}..."
    )
