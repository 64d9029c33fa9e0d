"""Secrets as a type, and redaction where data leaves the process (logs, reports, messages).

A `Secret` never shows its value through `str`, `repr` or formatting; code that needs the value calls
`reveal()`. Every secret created registers its value with the process-wide `REDACTOR` so text that is
about to be written anywhere can be scrubbed with `redact_text` even when it came from a third party
(an exception message from urllib3, a response body echoing a header).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

MASK: Final = "***"

# Header names whose values are secrets wherever they appear.
SECRET_HEADERS: Final = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-csrf-token", "apikey"}
)
# Header values that are protocol words, not secrets: keep them readable in reports.
_CSRF_PROTOCOL_WORDS: Final = frozenset({"fetch", "required"})

_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
# Token fields in JSON or form text (token responses logged by requests-oauthlib at DEBUG, before we see them).
_TOKEN_FIELDS = re.compile(
    r"""(?i)(["']?(?:access_token|refresh_token|id_token|client_secret|clientsecret)["']?\s*[:=]\s*["']?)"""
    r"""[^"'&\s,}]+"""
)


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
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str) -> None:
        """Remember a secret value so later text containing it is scrubbed."""
        if len(value) < self._MIN_LENGTH:
            return
        with self._lock:
            if value not in self._values:
                self._values.add(value)
                self._pattern = None

    def redact(self, text: str) -> str:
        """Replace every known secret, bearer/basic credential and JWT in `text` with the mask."""
        pattern = self._compiled()
        if pattern is not None:
            text = pattern.sub(MASK, text)
        text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
        text = _TOKEN_FIELDS.sub(lambda m: m.group(1) + MASK, text)
        return JWT.sub(MASK, text)

    def replace_known(self, text: str, placeholder: str) -> str:
        """Replace every known secret value in `text` with `placeholder` (cassettes: structure stays readable)."""
        pattern = self._compiled()
        if pattern is None:
            return text
        # A replayed run wraps placeholders such as "{access_token}" in Secrets; they stay what they are.
        return pattern.sub(lambda m: m.group(0) if _PLACEHOLDER.fullmatch(m.group(0)) else placeholder, text)

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._values:
                # Longest first so a secret containing another is removed whole.
                ordered = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
            return self._pattern


REDACTOR: Final = Redactor()


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
