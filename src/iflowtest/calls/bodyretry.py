"""Answers cut off mid-body: retried within the call's urllib3 `Retry`, and explained when they cannot be.

urllib3 retries what goes wrong until the status line and headers are in. requests reads the body only
after urllib3's `urlopen` has returned (it asks for `preload_content=False`), so a connection reset in
the middle of the body reaches the caller as `ChunkedEncodingError` and no `Retry` ever sees it; requests'
adapter cannot be told to read the body earlier. `BodyRetryAdapter` therefore reads the body inside
`send` and, when it is cut short, counts the failure on the very `Retry` the answer came with (as a read
error: idempotent methods, POST and PATCH only with the case's opt-in), waits its backoff and sends the
request again starting from that `Retry`. Count, time bound and recorded history so span the whole call,
and urllib3 still does every other retry; this module only adds the step urllib3 cannot take.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import requests
from urllib3.exceptions import MaxRetryError, ProtocolError
from urllib3.util.retry import Retry

from iflowtest.bounds.answers import read_bounded
from iflowtest.calls.session import HarnessAdapter

# The Retry a resent request starts from; set only inside `BodyRetryAdapter.send` (adapters are shared
# by the threads of one client, so not an attribute).
_RESUME: ContextVar[Retry | None] = ContextVar("iflowtest_resume_retry", default=None)


class BodyCutShort(ProtocolError):
    """The connection broke after `received` bytes of an answer's body (of `expected`, when announced)."""

    def __init__(self, status: int, received: int, expected: int | None, cause: BaseException | None) -> None:
        self.status, self.received, self.expected = status, received, expected
        super().__init__(self.brief(), cause)

    def brief(self) -> str:
        """As a retried attempt in the report: `reset mid-body (HTTP 200, 100 of 2345 bytes)`."""
        of = f" of {self.expected}" if self.expected is not None else ""
        return f"reset mid-body (HTTP {self.status}, {self.received}{of} bytes)"

    def explain(self) -> str:
        """What happened, for a failure message."""
        announced = f", {self.expected} bytes announced" if self.expected is not None else ""
        return f"the connection was reset after {self.received} bytes of the answer (HTTP {self.status}{announced})"


class BodyRetryAdapter(HarnessAdapter):
    """The harness's adapter, reading the body inside `send` so that a body cut short is retried like a reset."""

    @property  # a per-call override of requests' plain attribute
    def max_retries(self) -> Retry:
        resumed = _RESUME.get()
        return resumed if resumed is not None else self._configured_retries

    @max_retries.setter
    def max_retries(self, value: Retry) -> None:
        self._configured_retries = value

    def send(self, request: requests.PreparedRequest, stream: bool = False, *args: Any, **kwargs: Any) -> Any:
        """Send; unless the caller streams, read the whole body and resend when it is cut short."""
        token = None
        try:
            while True:
                response = super().send(request, True, *args, **kwargs)
                if stream:
                    return response  # the caller reads the body, and meets any reset there
                try:
                    # Read here, where a cut-off body can still be retried; with the bound on its size.
                    read_bounded(response, self.max_body_bytes, self.max_body_seconds)
                    return response
                except (requests.exceptions.ChunkedEncodingError, requests.exceptions.SSLError) as exc:
                    cut = _cut_of(response, exc)
                    retry = getattr(response.raw, "retries", None)
                    response.close()
                    if not isinstance(retry, Retry):
                        raise requests.exceptions.ChunkedEncodingError(cut, request=request) from None
                    try:
                        retry = retry.increment(request.method, request.url, error=cut)
                    except MaxRetryError as exhausted:
                        raise requests.exceptions.ConnectionError(exhausted, request=request) from None
                    except BodyCutShort:  # not a method to send again (POST without the case's opt-in)
                        raise requests.exceptions.ChunkedEncodingError(cut, request=request) from None
                    retry.sleep()
                    if token is None:
                        token = _RESUME.set(retry)
                    else:
                        _RESUME.set(retry)
        finally:
            if token is not None:
                _RESUME.reset(token)


def body_cut_of(exc: BaseException) -> BodyCutShort | None:
    """The cut-off body behind a requests error raised by `BodyRetryAdapter`, if that is what it was."""
    inner = exc.args[0] if exc.args else None
    if isinstance(inner, MaxRetryError):
        inner = inner.reason
    return inner if isinstance(inner, BodyCutShort) else None


def _cut_of(response: requests.Response, exc: BaseException) -> BodyCutShort:
    length = response.headers.get("Content-Length", "")
    expected = int(length) if length.isdigit() else None
    cause = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    return BodyCutShort(response.status_code, response.raw.tell(), expected, cause)
