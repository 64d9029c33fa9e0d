"""The retry policy of iFlow calls: urllib3's `Retry` on the client's adapter, with every retry kept for the report.

Idempotent methods are retried on 429/502/503/504, on connections dropped before an answer and on answers
cut off mid-body (`bodyretry.BodyRetryAdapter`, in the same count), with exponential backoff and
`Retry-After` respected; POST (and PATCH) only when a case opts in
(`@pytest.mark.retry_post`). Retries are bounded in count (`retries`) and in time: backoff is capped by
`backoff_max`, read timeouts are not retried (a slow iFlow is not sent the call again), and an answer whose `Retry-After` exceeds `max_retry_after` is not waited for but handed to
the test as it is, with the reason recorded. urllib3 does the retrying; this module only adds the per-call
POST opt-in (urllib3 has no per-request method list) and keeps the history of a call that ran out of retries
(urllib3 drops it when it raises).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Protocol, Self

import pytest
import requests
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError, ReadTimeoutError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import RequestHistory, Retry

from iflowtest.calls.bodyretry import BodyCutShort, BodyRetryAdapter
from iflowtest.pacing.pacer import retry_after_seconds, slowed

RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_POST_OPT_IN: ContextVar[bool] = ContextVar("iflowtest_retry_post", default=False)


@dataclass(frozen=True)
class RetrySettings:
    """How often and how long to retry; `retries=0` turns retrying off."""

    retries: int = 2
    backoff_factor: float = 0.5
    backoff_max: float = 10.0
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff_factor < 0 or self.backoff_max < 0 or self.max_retry_after < 0:
            raise ValueError(f"retry settings must not be negative: {self}")


class RecordingRetry(Retry):
    """urllib3's Retry, plus the POST opt-in of the current call and the history of exhausted calls."""

    max_retry_after: float = 30.0

    def _is_method_retryable(self, method: str) -> bool:
        if method.upper() in ("POST", "PATCH") and _POST_OPT_IN.get():
            return True
        return super()._is_method_retryable(method)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if response is not None and _retry_after(response.headers) > self.max_retry_after:
            # Bounded in time: do not wait an hour for a 429; the test gets the answer and the reason.
            raise MaxRetryError(_pool, url or "", None)  # type: ignore[arg-type]  # urllib3 itself passes None
        if response is not None and response.status == 429 and _pool is not None:
            # Before urllib3 waits and retries: every worker of the run holds back from this API now.
            origin = f"{_pool.scheme}://{_pool.host}:{_pool.port}" if hasattr(_pool, "scheme") else ""
            slowed(origin + (url or ""), retry_after_seconds(response.headers.get("Retry-After")))
        if isinstance(error, ReadTimeoutError):
            # A read timeout is not retried: the iFlow got the request and is slow; sending it again
            # would hammer it and multiply the wait. requests turns this into its ReadTimeout.
            raise error
        try:
            return super().increment(method, url, response, error, _pool, _stacktrace)
        except MaxRetryError as exc:
            status = response.status if response is not None else None
            exc.iflowtest_history = (*self.history, RequestHistory(method, url, error, status, None))  # type: ignore[attr-defined]
            raise

    def new(self, **kw: Any) -> Self:
        retry = super().new(**kw)
        retry.max_retry_after = self.max_retry_after
        return retry


def make_retry(settings: RetrySettings) -> RecordingRetry:
    """The Retry for one client's adapter."""
    retry = RecordingRetry(
        total=settings.retries,
        connect=settings.retries,
        read=settings.retries,
        status=settings.retries,
        other=0,
        redirect=False,
        allowed_methods=IDEMPOTENT,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=settings.backoff_factor,
        backoff_max=settings.backoff_max,
        respect_retry_after_header=True,
        raise_on_status=False,  # out of retries: the test gets the last answer, not an exception
        raise_on_redirect=False,
    )
    retry.max_retry_after = settings.max_retry_after
    return retry


def mount_retries(session: requests.Session, settings: RetrySettings) -> None:
    """Retry every call of `session` (both schemes) by `settings`."""
    adapter = BodyRetryAdapter(max_retries=make_retry(settings))
    session.mount("https://", adapter)
    session.mount("http://", adapter)


@contextlib.contextmanager
def post_retries(enabled: bool) -> Iterator[None]:
    """Let the calls made inside retry POST and PATCH too (a case's opt-in)."""
    token = _POST_OPT_IN.set(enabled)
    try:
        yield
    finally:
        _POST_OPT_IN.reset(token)


def describe(entry: RequestHistory) -> str:
    """One retried attempt as the report shows it: `503`, `connection error (RemoteDisconnected)`, `reset mid-body`."""
    if entry.status is not None:
        return str(entry.status)
    error = entry.error
    if isinstance(error, BodyCutShort):
        return error.brief()
    reason = getattr(error, "reason", None) or error
    inner = reason.args[-1] if isinstance(reason, Exception) and reason.args else reason
    name = type(inner).__name__ if isinstance(inner, BaseException) else type(reason).__name__
    return f"connection error ({name})"


def retries_of(response: requests.Response, max_retry_after: float) -> tuple[str, ...]:
    """The retried attempts behind `response`, plus why a retryable answer was not retried."""
    retry = getattr(response.raw, "retries", None)
    history = tuple(describe(h) for h in retry.history) if isinstance(retry, Retry) else ()
    status = response.status_code
    if status in RETRY_STATUSES:
        after = _retry_after(response.headers)
        if after > max_retry_after:
            history += (f"not retried: Retry-After {after:g} s exceeds the limit of {max_retry_after:g} s",)
    return history


def exhausted_history(exc: BaseException) -> tuple[str, ...]:
    """The attempts of a call that ran out of retries (from the MaxRetryError inside a requests error)."""
    inner = exc.args[0] if exc.args else None
    history = getattr(inner, "iflowtest_history", ())
    return tuple(describe(h) for h in history)


def _retry_after(headers: Mapping[str, str]) -> float:
    value = headers.get("Retry-After")
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        return 0.0  # an HTTP date: urllib3 parses and respects it; the cap applies to seconds only


def apply_case_markers(node: pytest.Item, client: IflowClientLike) -> None:
    """Apply a case's `retry_post` and `iflow_timeout(connect=, read=)` markers to its client view."""
    if node.get_closest_marker("retry_post") is not None:
        client.retry_post = True
    marker = node.get_closest_marker("iflow_timeout")
    if marker is not None:
        unknown = set(marker.kwargs) - {"connect", "read"}
        values = [marker.kwargs.get(k, v) for k, v in zip(("connect", "read"), client.timeout, strict=True)]
        if unknown or marker.args or not all(isinstance(v, int | float) and v > 0 for v in values):
            given = ", ".join([repr(a) for a in marker.args] + [f"{k}={v!r}" for k, v in marker.kwargs.items()])
            pytest.fail(
                f"iflowtest: {node.nodeid}: @pytest.mark.iflow_timeout({given}) is invalid: "
                "expected iflow_timeout(connect=S, read=S) with positive seconds, such as iflow_timeout(read=120)",
                pytrace=False,
            )
        client.timeout = (float(values[0]), float(values[1]))


class IflowClientLike(Protocol):
    """The parts of an IflowClient the case markers set (iflow.py imports this module)."""

    retry_post: bool
    timeout: tuple[float, float]
