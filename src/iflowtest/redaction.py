"""Secrets as a type, and redaction where data leaves the process (logs, reports, messages).

A `Secret` never shows its value through `str`, `repr` or formatting; code that needs the value calls
`reveal()`. Every secret created registers its value with the process-wide `REDACTOR` so text that is
about to be written anywhere can be scrubbed with `redact_text` even when it came from a third party
(an exception message from urllib3, a response body echoing a header).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import html
import json
import logging
import re
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TextIO
from urllib.parse import quote, quote_plus, unquote
from xml.sax.saxutils import escape as xml_escape

from ahocorasick_rs import BytesAhoCorasick, Implementation, MatchKind

MASK: Final = "***"

# Header names whose values are secrets wherever they appear.
SECRET_HEADERS: Final = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-csrf-token", "apikey"}
)
# Header values that are protocol words, not secrets: keep them readable in reports.
_CSRF_PROTOCOL_WORDS: Final = frozenset({"fetch", "required"})

_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
# The password of a URL's user information (`https://user:password@host`), whoever wrote the URL.
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@]+:)[^\s/@]+@")
_ELLIPSIS = re.compile(r"\.\.\.|…")
# The shortest end of a secret masked beside an ellipsis: long enough not to mask ordinary words.
_MIN_CUT: Final = 8
_XML_QUOTES: Final = {'"': "&quot;", "'": "&apos;"}
JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
# A JWT header or payload on its own: base64url of a JSON object ('{"'), long enough to be one.
_JWT_SEGMENT = re.compile(r"\beyJ[A-Za-z0-9_-]{30,}")
# Token fields in JSON or form text (token responses logged by requests-oauthlib at DEBUG, before we see them).
_TOKEN_FIELDS = re.compile(
    r"""(?i)(["']?(?:access_token|refresh_token|id_token|client_secret|clientsecret|password|passwd|api_?key)["']?\s*[:=]\s*["']?)"""
    r"""[^"'&\s,}]+"""
)
# The redactor remembers the result for texts up to this long, this many at a time (see Redactor._redacted).
_CACHED_LENGTH: Final = 512
_CACHED_TEXTS: Final = 4096
# A word of every field name above, without an "i" (see `Redactor.redact`): text without one has no such field.
_TOKEN_FIELD_WORDS: Final = ("token", "secret", "pass", "key")


class Secret:
    """A string that never shows itself; call `reveal()` where the value is really needed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        self._value = value
        REDACTOR.register(value)

    def reveal(self) -> str:
        """Return the clear value; only for the wire, never for text a human reads."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:
        # Pickling (xdist, multiprocessing) would copy the clear value into another process's memory
        # without registering it there; refuse instead of leaking silently.
        raise TypeError("Secret values cannot be pickled; pass the service key source instead")


def mask_id(client_id: str) -> str:
    """Show enough of a client id to recognise it in a report, never the whole value."""
    if len(client_id) <= 8:
        return client_id[:2] + "…"
    return f"{client_id[:6]}…{client_id[-4:]}"


class Redactor:
    """Knows every secret value this process has seen and removes them from text."""

    # Values shorter than this would mangle ordinary text ("a", "1") and are not credible secrets.
    _MIN_LENGTH: Final = 6

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        # The values in batches, newest last. A new secret adds a batch instead of rebuilding one of every
        # value (which made registering N secrets cost N² and filled the `re` module's cache with ever larger
        # patterns); batches are merged like a binary counter, so there are never more than log2(N) of them.
        # Replaced whole under the lock, read without it: a reader sees the old tuple or the new one.
        self._batches: tuple[_Batch, ...] = ()
        # Each batch costs every redaction a pass (about 0.4 µs on a short text), and a run registers its keys and
        # tokens early, then redacts thousands of report lines: once registrations have been quiet for as many
        # redactions as merging costs (one per 16 characters of values, about 1 µs each), the batches become one.
        self._quiet_redactions = 0
        self._merge_after = 0
        # Short texts redacted since the last registration, with their result: a report repeats the same
        # names, URLs and ids on the call report, the teardown report and the terminal. Replaced (not cleared)
        # by a registration after the batches, so a redaction made with older batches lands in a dropped dict.
        self._redacted: dict[str, str] = {}

    def register(self, value: str) -> None:
        """Remember a secret value, and the forms it travels in, so later text containing any is scrubbed.

        The forms: URL-encoded (query strings, form bodies), JSON-escaped, Python's repr (str and bytes, as a
        test's print or pytest's assertion shows it), HTML- and XML-escaped, base64 (alone, and the three
        alignments it takes inside a longer base64 text such as a Basic header or a binary body), and each
        segment of a JWT.
        """
        if len(value) < self._MIN_LENGTH:
            return
        with self._lock:
            if value in self._values:
                return
        forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
        forms |= {repr(value)[1:-1], ascii(value)[1:-1]}
        forms |= {html.escape(value), html.escape(value, quote=False), xml_escape(value, _XML_QUOTES)}
        for raw in _encodings(value):
            forms |= {quote(raw, safe=""), quote(raw), quote_plus(raw), repr(raw)[2:-1]}
            forms |= _base64_forms(raw)
        if JWT.fullmatch(value):
            forms |= {segment for segment in value.split(".") if len(segment) >= 16}
        with self._lock:
            fresh = {f for f in forms if len(f) >= self._MIN_LENGTH} - self._values
            if fresh:
                self._values |= fresh
                # Built here, where keys and tokens are loaded, not in the first call that writes a report line.
                batches = [*self._batches, _Batch(fresh)]
                while len(batches) > 1 and len(batches[-1].values) >= len(batches[-2].values):
                    newer = batches.pop()
                    older = batches.pop()
                    batches.append(_Batch(older.values | newer.values))
                self._batches = tuple(batches)
                self._quiet_redactions = 0
                self._merge_after = max(16, sum(len(v) for v in self._values) // 16)
                self._redacted = {}

    def known(self) -> frozenset[str]:
        """Every registered form of every secret (for scanners: `cassettes check`, the secrets audit)."""
        with self._lock:
            return frozenset(self._values)

    def contains_known(self, text: str) -> bool:
        """Whether `text` holds any registered form of a secret."""
        return any(batch.found_in(text) for batch in self._batches)

    def redact_bytes(self, data: bytes, placeholder: bytes = MASK.encode()) -> bytes:
        """Replace every known secret (in UTF-8) in binary data: bodies that are not text carry them too."""
        for value in sorted(self.known(), key=len, reverse=True):
            for raw in _encodings(value):
                if raw in data:
                    data = data.replace(raw, placeholder)
        return data

    def redact(self, text: str) -> str:
        """Replace every known secret, bearer/basic credential and JWT in `text` with the mask."""
        # Nothing masked is this short: a known value has at least _MIN_LENGTH characters, and every pattern
        # below needs more (a field name and its value, a scheme and 8 characters, 8 beside an ellipsis).
        # Reports are made of many such texts (an HTTP status, a count, a progress dot).
        if len(text) < self._MIN_LENGTH:
            return text
        if len(text) > _CACHED_LENGTH:
            return self._redact(text)
        redacted = self._redacted  # before the batches: see __init__
        cleaned = redacted.get(text)
        if cleaned is None:
            cleaned = self._redact(text)
            if len(redacted) >= _CACHED_TEXTS:
                redacted.clear()
            redacted[text] = cleaned
        return cleaned

    def _redact(self, text: str) -> str:
        # Most text holds none of the words the case-insensitive patterns start with, and such a pattern
        # costs about 50 ns a character where `in` costs a few. casefold() folds at least what `(?i)` matches
        # (the long s, U+017F, is an "s") except the dotless i, U+0131, which no word checked here holds;
        # replacing a secret by the mask cannot make a word appear.
        folded = text.casefold()
        if "bearer" in folded or "bas" in folded:
            text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
        # Before the known values: a known value inside a field's name ("secret" in "client_secret") would
        # otherwise hide the field, and its value would stay. (The words of _TOKEN_FIELD_WORDS, spelt out.)
        if "token" in folded or "secret" in folded or "pass" in folded or "key" in folded:
            text = _TOKEN_FIELDS.sub(lambda m: m.group(1) + MASK, text)
        batches = self._batches
        if len(batches) > 1:
            self._quiet_redactions += 1  # unlocked: a lost increment only delays the merge
            if self._quiet_redactions > self._merge_after:
                batches = self._merge_batches(batches)
        # Newest first: a later secret (a Basic value) often contains an earlier one.
        for batch in reversed(batches):
            text = batch.replace(text, _masked)
        if "://" in text and "@" in text:
            text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}@", text)
        if "..." in text or "…" in text:
            text = self._mask_cut_ends(text)
        if "eyJ" not in text:
            return text
        # A whole JWT, then any segment of one left over (a repr cut in the middle of a token keeps no whole).
        return _JWT_SEGMENT.sub(MASK, JWT.sub(MASK, text))

    def _merge_batches(self, seen: tuple[_Batch, ...]) -> tuple[_Batch, ...]:
        """One batch of every value in place of `seen` (unless a registration replaced them meanwhile).

        Every value is still found, and a value containing another is masked whole (the longest match at a
        position wins), as when the newer batch was searched first. Two values that overlap without one holding
        the other are masked as within any one batch: the one starting first.
        """
        with self._lock:
            if self._batches is seen:
                self._batches = (_Batch(self._values),)
            self._quiet_redactions = 0
            return self._batches

    def _mask_cut_ends(self, text: str) -> str:
        """Mask the ends of a secret left beside an ellipsis: pytest and reprs shorten a long value in its middle
        (`'abc...xyz'`), so neither end is the whole secret, yet both are parts of it."""
        forms = self.known()
        pieces: list[str] = []
        last = 0
        for match in _ELLIPSIS.finditer(text):
            if match.start() < last:
                continue
            head = _longest_end(text[max(last, match.start() - 512) : match.start()], forms, prefix=True)
            tail = _longest_end(text[match.end() : match.end() + 512], forms, prefix=False)
            pieces.append(text[last : match.start() - head])
            pieces.append((MASK if head else "") + match.group(0) + (MASK if tail else ""))
            last = match.end() + tail
        pieces.append(text[last:])
        return "".join(pieces)

    def replace_known(self, text: str, placeholder: str) -> str:
        """Replace every known secret value in `text` with `placeholder` (cassettes: structure stays readable)."""

        # A replayed run wraps placeholders such as "{access_token}" in Secrets; they stay what they are.
        def replace(value: str) -> str:
            return value if _PLACEHOLDER.fullmatch(value) else placeholder

        for batch in reversed(self._batches):
            text = batch.replace(text, replace)
        return text


def _masked(_value: str) -> str:
    return MASK


class _Batch:
    """Some secret values and an Aho-Corasick automaton finding them all in one pass (ahocorasick_rs).

    It finds what `re` finds with `value1|value2|...` ordered longest first (leftmost match, the longest of
    those starting there), but builds in about 0.1 µs per character where `re` takes 2 ms per kilobyte to
    compile such a pattern (the forms of a few keys and tokens, JWTs and private keys in a dozen encodings
    each, make 50 KB: a tenth of a second in a run's first call), and scans a long text a hundred times faster.
    It searches UTF-8 bytes: text holding a lone surrogate (output decoded with `surrogateescape`) cannot be
    handed over as a str, and in UTF-8 a value matches exactly where it matches in the text.
    """

    __slots__ = ("_automaton", "_patterns", "values")

    def __init__(self, values: set[str] | frozenset[str]) -> None:
        self.values = frozenset(values)
        self._patterns = list(values)
        self._automaton = BytesAhoCorasick(
            [_utf8(v) for v in self._patterns],
            matchkind=MatchKind.LeftmostLongest,
            implementation=Implementation.NoncontiguousNFA,
        )

    def found_in(self, text: str) -> bool:
        """Whether any of the values occurs in `text`."""
        return bool(self._automaton.find_matches_as_indexes(_utf8(text)))

    def replace(self, text: str, replacement: Callable[[str], str]) -> str:
        """`text` with each value found (left to right, not overlapping) replaced by `replacement(value)`."""
        raw = _utf8(text)
        matches = self._automaton.find_matches_as_indexes(raw)
        if not matches:
            return text
        parts: list[bytes] = []
        done = 0
        for index, start, end in matches:
            parts += (raw[done:start], _utf8(replacement(self._patterns[index])))
            done = end
        parts.append(raw[done:])
        return b"".join(parts).decode("utf-8", "surrogatepass")


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _encodings(text: str) -> set[bytes]:
    """The bytes `text` travels as: UTF-8; for text holding lone surrogates (a value read from the environment
    or a file with `surrogateescape`), the original bytes they stand for, and the surrogates passed through."""
    try:
        return {text.encode("utf-8")}
    except UnicodeEncodeError:
        found = {_utf8(text)}
        with contextlib.suppress(UnicodeEncodeError):  # surrogates outside U+DC80-U+DCFF stand for no byte
            found.add(text.encode("utf-8", "surrogateescape"))
        return found


def _longest_end(context: str, forms: Iterable[str], *, prefix: bool) -> int:
    """How many characters at the edge of `context` (its end when `prefix`, else its start) are the start
    (`prefix`) or the end of a secret form: the longest such run of at least _MIN_CUT characters, else 0."""
    best = 0
    edge = context[-_MIN_CUT:] if prefix else context[:_MIN_CUT]
    if len(edge) < _MIN_CUT:
        return 0
    for form in forms:
        start = form.find(edge)
        while start != -1:
            if prefix:
                size = start + _MIN_CUT  # context ends with form[:size]?
                if size < len(form) and size > best and context.endswith(form[:size]):
                    best = size
            else:
                size = len(form) - start  # context starts with form[start:]?
                if start > 0 and size > best and context.startswith(form[start:]):
                    best = size
            start = form.find(edge, start + 1)
    return best


def _base64_forms(raw: bytes) -> set[str]:
    """`raw` in base64 as it appears alone and inside longer base64 text (each of the three byte offsets).

    Inside a longer text the first and last characters depend on the neighbouring bytes, so each aligned
    form keeps only the characters that `raw` alone determines.
    """
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(raw).decode("ascii")
        forms |= {whole, whole.rstrip("=")}
        for offset in range(3):
            encoded = encode(b"\0" * offset + raw).decode("ascii").rstrip("=")
            start = (offset * 8 + 5) // 6  # the first character holding only bits of `raw`
            end = (offset + len(raw)) * 8 // 6  # after the last one
            if end - start >= 8:
                forms.add(encoded[start:end])
    return forms


REDACTOR: Final = Redactor()


def register_secret(value: str) -> None:
    """Remember a secret that arrived as plain text (a cookie, a CSRF token, a header echoed by a server)."""
    REDACTOR.register(value)


def remember_header_secrets(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
    """Register the secret values among headers sent or received: credentials, cookies and CSRF tokens.

    The boundary where every credential of a run travels: whatever a test later prints, asserts or stores
    of them is then scrubbed wherever it leaves the process.
    """
    # requests' CaseInsensitiveDict hands out its lowered names directly (every request and answer passes here).
    lower_items = getattr(headers, "lower_items", None)
    items = lower_items() if lower_items is not None else headers.items() if isinstance(headers, Mapping) else headers
    for name, value in items:
        lowered = name.lower()
        if lowered not in SECRET_HEADERS or value.strip().lower() in _CSRF_PROTOCOL_WORDS:
            continue
        if lowered in ("authorization", "proxy-authorization"):
            scheme, _, credential = value.partition(" ")
            credential = credential.strip() or scheme
            REDACTOR.register(credential)
            if scheme.lower() == "basic":
                try:
                    decoded = base64.b64decode(credential, validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    continue
                REDACTOR.register(decoded)
                REDACTOR.register(decoded.partition(":")[2])
        elif lowered in ("cookie", "set-cookie"):
            pairs = value.split(";") if lowered == "cookie" else value.split(";")[:1]
            for pair in pairs:
                cookie = pair.partition("=")[2].strip().strip('"')
                REDACTOR.register(cookie)
                REDACTOR.register(unquote(cookie))
        else:
            REDACTOR.register(value.strip())


def redact_text(text: str) -> str:
    """Scrub secrets from text about to be logged, reported or raised."""
    return REDACTOR.redact(text)


def error_reason(exc: BaseException) -> str:
    """A requests/urllib3 error as one redacted line: its type and innermost cause, without the URL it names.

    Their messages repeat the full URL, query string included ("... url: /x?companyCode=1 (Caused by ...)");
    the caller names the URL itself, shortened for display.
    """
    return redact_text(type(exc).__name__ + ": " + str(exc).split("(Caused by")[-1].strip(" )"))[:300]


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Return a copy of headers with secret values masked (protocol words like `Fetch` kept)."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    clean: dict[str, str] = {}
    for name, value in items:
        lowered = name.lower()
        if lowered in SECRET_HEADERS and not (
            lowered == "x-csrf-token" and value.strip().lower() in _CSRF_PROTOCOL_WORDS
        ):
            clean[name] = MASK
        else:
            clean[name] = redact_text(value)
    return clean


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub(record)
        return True


def _scrub(record: logging.LogRecord) -> None:
    message = record.getMessage()
    cleaned = redact_text(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None


def install_log_redaction() -> Callable[[], None]:
    """Scrub every log record of this process as it is created; returns the undo.

    Handler filters would miss handlers added later (pytest adds one per test phase) and logger filters
    miss child loggers (requests_oauthlib.oauth2_session logs request headers and token responses at
    DEBUG), so the record factory is the one place every record passes through.
    """
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _scrub(record)
        return record

    logging.setLogRecordFactory(factory)

    def undo() -> None:
        if logging.getLogRecordFactory() is factory:
            logging.setLogRecordFactory(previous)

    return undo


class RedactingStream:
    """A text stream that scrubs secrets from everything written through it (the terminal, a captured log)."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(redact_text(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:  # the terminal flushes after every test's letter: not through __getattr__ each time
        self.inner.flush()

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding, buffer ...
        return getattr(self.inner, name)


def redacting_stdio() -> Callable[[], None]:
    """Scrub secrets from whatever this process writes to stdout and stderr from now on; returns the undo."""
    previous = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)

    def undo() -> None:
        sys.stdout, sys.stderr = previous

    return undo


def redact_report(report: Any) -> None:
    """Scrub a pytest report in place: failure text, captured output, properties, report extras.

    Called where a report is made, so that an xdist worker (the only process that knows the secrets it
    used) sends its controller nothing in clear, and JUnit XML, the HTML report, the terminal and the
    history all receive the scrubbed text.
    """
    longrepr = getattr(report, "longrepr", None)
    if longrepr is not None and not isinstance(longrepr, tuple):
        text = longrepr if isinstance(longrepr, str) else _rendered(longrepr)
        cleaned = visible_controls(redact_text(text))
        if cleaned != text:
            report.longrepr = cleaned
    elif isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        report.longrepr = (longrepr[0], longrepr[1], visible_controls(redact_text(str(longrepr[2]))))
    sections = getattr(report, "sections", None)
    if sections:
        report.sections = [(title, visible_controls(redact_text(content))) for title, content in sections]
    properties = getattr(report, "user_properties", None)
    if properties:
        report.user_properties = [
            (name, redact_text(value) if isinstance(value, str) else value) for name, value in properties
        ]
    for extra in getattr(report, "extras", None) or []:
        if isinstance(extra, dict) and isinstance(extra.get("content"), str):
            extra["content"] = redact_text(extra["content"])


# Control characters a remote answer or a test's output may carry into a failure text: escape sequences
# that retitle, clear or rewrite the reader's terminal (ESC, C1 CSI), and a lone carriage return that
# prints a line over another ("FAILED" overwritten by "PASSED"). Tabs and line ends stay.
_CONTROLS: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x9b]|\r(?!\n)")


def visible_controls(text: str) -> str:
    """`text` with its control characters shown as escapes (`\\x1b`) instead of acting on a terminal."""
    if text.isprintable():  # holds no control character at all (a one-line text, mostly): nothing to show
        return text
    return _CONTROLS.sub(lambda m: repr(m.group(0))[1:-1], text)


def _rendered(longrepr: Any) -> str:
    """A failure representation as the terminal would show it (pytest's TerminalRepr renders itself in str)."""
    return str(longrepr)
