"""Volatile values in cassettes: what differs between two recordings of the same behaviour becomes a stand-in.

Recording twice without a change must give the same files, so that a re-recording's diff shows only what
changed. When a cassette is written, every value that changes from call to call is replaced by a stand-in:

- values the platform makes up per message or token, found by name: the `SAP_MessageProcessingLogID`
  header (and the CF router's request ids), the `SAP_ApplicationID` the harness sends with every call, and
  the fields `MessageGuid`, `CorrelationId`, `TransactionId`, `LogStart`, `LogEnd`, `ApplicationMessageId`
  (MPL API) and `jti` (token answers), plus the `ignore_fields` of
  `[tool.iflowtest.cassettes]`, in JSON and XML bodies of requests and answers alike; each is replaced
  wherever it occurs in the cassette (headers, URIs, bodies, percent-encoded too), so an MPL id in an
  answer's header, the next request's URI and the message log's body stays one id;
- matches of the `ignore_patterns` (GUIDs and ISO-8601 timestamps by default) in requests only: matching
  ignores them there anyway, while in an answer a GUID or a date may be data a test checks;
- the `Date` header of answers is left out: nothing replays it;
- a zip answer (a data store entry's content) is unpacked, its text members replaced alike, and packed again.

The n-th distinct value of a cassette, in the order the cassette is written, becomes the n-th stand-in, so
the same recording gives the same stand-ins. A stand-in has the shape of the value it replaces: a timestamp
in the same format (2020-01-01 00:00 UTC, for every timestamp), an OData `/Date(ms)/`, an MPL id built
as CPI builds them, or otherwise the same length drawn
from the same alphabet (digits, hex, letters and digits), with a GUID's dashes in place, so that parsers
still accept it; a value found by a pattern is replaced only when the pattern matches its stand-in too. No library does this for vcrpy cassettes (its filters replace values one
interaction at a time, which cannot keep an id consistent across a cassette), hence this module.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import io
import itertools
import re
import string
import zipfile
from collections.abc import Iterator
from typing import Any, Final
from urllib.parse import quote, quote_plus, unquote

from iflowtest.bounds import nesting
from iflowtest.cassettes.matching import APPLICATION_ID, MONITORING_API_PATH, MatchRules, request_key

VOLATILE_FIELDS: Final = frozenset(
    {"MessageGuid", "CorrelationId", "TransactionId", "LogStart", "LogEnd", "jti", "ApplicationMessageId"}
)
# Fields of the monitoring API's other entities (runs, steps, trace messages, attachments, message store, data
# store and JMS entries) that change with every run: volatile in its answers only, where they cannot be data.
MONITORING_FIELDS: Final = frozenset(
    {"TimeStamp", "RunStart", "RunStop", "StepStart", "StepStop", "ProcessingDate", "CreatedAt", "RetainUntil"}
    | {"NextRetry", "DueAt", "TraceId"}
)
# SAP_ApplicationID: the harness sends a fresh one with every call (calls/client.py), to find its message log.
VOLATILE_HEADERS: Final = frozenset(
    {
        "sap_messageprocessinglogid",
        "sap_applicationid",
        "x-vcap-request-id",
        "x-correlationid",
        "x-correlation-id",
        "x-request-id",
    }
)
DROPPED_RESPONSE_HEADERS: Final = frozenset({"date"})
# Shorter values are left alone: replacing them wherever they occur could hit unrelated text.
MIN_LENGTH: Final = 8
_ISO: Final = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<hm>\d{2}:\d{2})(?P<s>:\d{2})?(?P<fraction>\.\d+)?(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)
_ODATA_DATE: Final = re.compile(r"/Date\((?P<ms>-?\d+)(?P<zone>[+-]\d{4})?\)/")
_MPL_ID: Final = re.compile(r"AG[A-Za-z0-9_-]{26}")
# Where a failed call's MPL id stands when the answer has no header (SAP's plain-text 500).
_MPL_IN_ERROR_TEXT: Final = re.compile(r"The MPL ID for the failed message is\s*:\s*(AG[A-Za-z0-9_-]{26})")
_STAND_IN_EPOCH: Final = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
# Smallest first: the first alphabet holding every character of a value is the stand-in's.
_ALPHABETS: Final = (
    string.digits,
    string.digits + "abcdef",
    string.digits + "ABCDEF",
    string.digits + string.ascii_lowercase,
    string.digits + string.ascii_uppercase,
    string.digits + string.ascii_letters,
)


def is_timestamp(value: str) -> bool:
    """Whether `value` is an ISO-8601 timestamp or an OData `/Date(ms)/`."""
    return bool(_ISO.fullmatch(value) or _ODATA_DATE.fullmatch(value))


def stand_in(value: str, number: int) -> str:
    """The `number`-th stand-in, in the shape of `value`; every timestamp becomes 2020-01-01 00:00 UTC.

    Timestamps all get the same stand-in, whatever their number: two of them (a log's start and end) are
    equal in one recording and a millisecond apart in the next, and that must not change the file.
    """
    if APPLICATION_ID.fullmatch(value):  # keeps the shape matching ignores, so replays find their logs
        stream = itertools.islice(_bytes(f"iflowtest stand-in {number}"), 12)
        digits = "".join("0123456789abcdef"[b % 16] for b in stream)
        return f"iflowtest-{digits}-{number:06d}"
    iso = _ISO.fullmatch(value)
    if iso:
        seconds = ":00" if iso["s"] else ""
        fraction = "." + "0" * (len(iso["fraction"]) - 1) if iso["fraction"] else ""
        return f"{_STAND_IN_EPOCH:%Y-%m-%dT%H:%M}{seconds}{fraction}{iso['zone'] or ''}"
    odata = _ODATA_DATE.fullmatch(value)
    if odata:
        return f"/Date({int(_STAND_IN_EPOCH.timestamp() * 1000)}{odata['zone'] or ''})/"
    if _MPL_ID.fullmatch(value):
        # Built as CPI builds them (base64url of 0x00, four bytes of seconds, sixteen more), so a stand-in still
        # starts with "AG" as every MPL id of these years does, and checks of that shape hold on replay.
        pinned = (int(_STAND_IN_EPOCH.timestamp()) & 0x0FFFFFFF) | 0x60000000
        tail = bytes(itertools.islice(_bytes(f"iflowtest stand-in {number}"), 16))
        return base64.urlsafe_b64encode(b"\x00" + pinned.to_bytes(4, "big") + tail).decode()
    return _same_shape(value, number)


def _same_shape(value: str, number: int) -> str:
    # The alphabet is chosen for the whole value, never per character: a random id has a digit where the
    # next one has a letter, and `-` or `_` where the next has none, yet both must get the same stand-in.
    # Deterministic forever (a hash, not `random`): the same value number gives the same characters.
    core = value.replace("-", "").replace("_", "")
    alphabet = next((a for a in _ALPHABETS if core and all(c in a for c in core)), None)
    if alphabet is None:  # other characters too: keep those in place, replace letters and digits only
        alphabet, keep = string.ascii_letters + string.digits, set(value) - set(string.ascii_letters + string.digits)
    elif alphabet in _ALPHABETS[:3]:  # digits or hex: dashes are structure (GUIDs, dates)
        keep = {"-", "_"}
    else:  # letters: `-` and `_` are characters of the id (base64url), wherever they fall
        keep = set()
    stream = _bytes(f"iflowtest stand-in {number}")
    return "".join(c if c in keep else alphabet[next(stream) % len(alphabet)] for c in value)


def _bytes(seed: str) -> Iterator[int]:
    counter = 0
    while True:
        yield from hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1


class StandIns:
    """Replaces a cassette's volatile values by stand-ins, in place (see the module docstring)."""

    def __init__(self, rules: MatchRules | None = None) -> None:
        self.rules = rules or MatchRules()
        names = "|".join(re.escape(n) for n in sorted(VOLATILE_FIELDS | self.rules.ignore_fields))
        self._xml_fields = re.compile(rf"<(?:[\w.-]+:)?(?P<name>{names})(?:\s[^<>]*)?>(?P<value>[^<]+)</")

    def apply(self, cassette: dict[str, Any]) -> None:
        """Drop volatile headers and replace volatile values of a vcrpy cassette dict (bodies as text)."""
        cassette["interactions"] = self._last_polls(cassette.get("interactions") or [])
        interactions = cassette["interactions"]
        found = _Found(self.rules)
        for interaction in interactions:
            request, response = interaction["request"], interaction["response"]
            headers = response.get("headers") or {}
            for name in [n for n in headers if n.lower() in DROPPED_RESPONSE_HEADERS]:
                del headers[name]
            for value in self._named(request.get("headers"), request.get("body")):
                found.add(value, everywhere=True)
            monitoring = MONITORING_API_PATH in (request.get("uri") or "")
            for value in self._named(headers, (response.get("body") or {}).get("string"), monitoring=monitoring):
                found.add(value, everywhere=True)
            for text in (unquote(request.get("uri") or ""), request.get("body")):
                for value in self._matches(text):
                    found.add(value, everywhere=False)
        if not found.everywhere and not found.in_requests:
            return
        replace_everywhere = _replacer(found.everywhere)
        replace_in_requests = _replacer({**found.in_requests, **found.everywhere})
        for interaction in interactions:
            _replace_request(interaction["request"], replace_in_requests)
            _replace_response(interaction["response"], replace_everywhere)

    def _last_polls(self, interactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Of repeated reads of the monitoring API, only the last: how often a poll found the log not yet
        written, still PROCESSING or a queued message not yet processed depends on timing, never on the iFlow;
        a replay answers the final state."""
        last: dict[Any, int] = {}
        for index, interaction in enumerate(interactions):
            request = interaction["request"]
            if request.get("method", "").upper() == "GET" and MONITORING_API_PATH in (request.get("uri") or ""):
                key = request_key("GET", request["uri"], request.get("headers") or {}, None, self.rules)
                last[key] = index
        polls = set(last.values())
        return [
            interaction
            for index, interaction in enumerate(interactions)
            if index in polls
            or interaction["request"].get("method", "").upper() != "GET"
            or MONITORING_API_PATH not in (interaction["request"].get("uri") or "")
        ]

    def _matches(self, text: Any) -> Iterator[str]:
        if not isinstance(text, str) or not text:
            return
        found = sorted((m.start(), m.group(0)) for p in self.rules.ignore_patterns for m in p.finditer(text))
        yield from (value for _, value in found if value)

    def _named(self, headers: Any, body: Any, *, monitoring: bool = False) -> Iterator[str]:
        for name, values in sorted((headers or {}).items(), key=lambda item: item[0].lower()):
            if name.lower() in VOLATILE_HEADERS:
                yield from (str(v) for v in (values if isinstance(values, list) else [values]))
        if not isinstance(body, str) or not body.strip():
            return
        yield from (m.group(1) for m in _MPL_IN_ERROR_TEXT.finditer(body[:4000]))
        if body.lstrip()[:1] in ("{", "["):
            try:
                document = nesting.loads(body)
            except ValueError:
                return
            yield from self._json_fields(document, MONITORING_FIELDS if monitoring else frozenset())
        elif body.lstrip().startswith("<"):
            yield from (m["value"] for m in self._xml_fields.finditer(body))

    def _json_fields(self, document: Any, more: frozenset[str] = frozenset()) -> Iterator[str]:
        if isinstance(document, dict):
            for key, value in document.items():
                if isinstance(value, str) and (
                    key in VOLATILE_FIELDS or key in more or key in self.rules.ignore_fields
                ):
                    yield value
                else:
                    yield from self._json_fields(value, more)
        elif isinstance(document, list):
            for item in document:
                yield from self._json_fields(item, more)


class _Found:
    """The volatile values of one cassette and their stand-ins, numbered in the order they were found."""

    def __init__(self, rules: MatchRules) -> None:
        self.rules = rules
        self.everywhere: dict[str, str] = {}  # named values: replaced in the whole cassette
        self.in_requests: dict[str, str] = {}  # pattern matches: replaced in requests only
        self.numbered = 0

    def add(self, value: str, *, everywhere: bool) -> None:
        if value in self.everywhere or value in self.in_requests or len(value) < MIN_LENGTH:
            return
        timestamp = is_timestamp(value)
        replacement = stand_in(value, self.numbered + 1)
        if not everywhere:
            patterns = [p for p in self.rules.ignore_patterns if p.fullmatch(value)]
            if not all(p.fullmatch(replacement) for p in patterns):
                return  # matching must still ignore it: keep the value rather than store one it would compare
        (self.everywhere if everywhere else self.in_requests)[value] = replacement
        if not timestamp:  # timestamps share one stand-in and take no number
            self.numbered += 1


def _replacer(values: dict[str, str]) -> Any:
    """A function replacing every value (and its percent-encoded forms) in a text, longest first."""
    table = dict(values)
    for value, replacement in values.items():
        for encode in (quote, quote_plus):
            encoded = encode(value, safe="")
            if encoded != value:
                table.setdefault(encoded, encode(replacement, safe=""))
    if not table:
        return lambda text: text
    pattern = re.compile("|".join(re.escape(v) for v in sorted(table, key=len, reverse=True)))

    def replace(text: Any) -> Any:
        return pattern.sub(lambda m: table[m.group(0)], text) if isinstance(text, str) else text

    return replace


def _replace_request(request: dict[str, Any], replace: Any) -> None:
    request["uri"] = replace(request.get("uri"))
    request["body"] = replace(request.get("body"))
    headers = request.get("headers") or {}
    for name, values in headers.items():
        headers[name] = [replace(v) for v in values] if isinstance(values, list) else replace(values)


def _replace_response(response: dict[str, Any], replace: Any) -> None:
    headers = response.get("headers") or {}
    for name, values in headers.items():
        headers[name] = [replace(v) for v in values] if isinstance(values, list) else replace(values)
    body = response.get("body") or {}
    text = body.get("string")
    if isinstance(text, bytes) and text.startswith(b"PK"):
        body["string"] = packed = _replace_in_zip(text, replace)
        for name in headers:
            if name.lower() == "content-length":
                headers[name] = [str(len(packed))]
    if isinstance(text, str):
        body["string"] = replaced = replace(text)
        if replaced != text:
            for name in headers:
                if name.lower() == "content-length":
                    headers[name] = [str(len(replaced.encode("utf-8")))]


def _replace_in_zip(data: bytes, replace: Any) -> bytes:
    """A zip answer (a data store entry's `$value`: `body` and `headers.prop`) with its text members replaced.

    The members are rewritten with a fixed date, so that the same recording gives the same bytes.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    except zipfile.BadZipFile:
        return data
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as rewritten:
        for name, content in members:
            with contextlib.suppress(UnicodeDecodeError):  # a binary member stays as recorded
                content = replace(content.decode("utf-8")).encode("utf-8")
            rewritten.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), content, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
