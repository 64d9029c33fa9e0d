"""Calling deployed iFlows: a `requests.Session` bound to a runtime URL, with CSRF and MPL ids handled.

Paths are relative to the key's runtime `url`: `/http/<address>` (HTTPS sender), `/cxf/<address>` (SOAP,
IDoc) and `/gw/odata/...` (OData sender). A CSRF-protected endpoint answers a modifying call without a
token with 403 and `X-CSRF-Token: Required`; the client then fetches a token (`X-CSRF-Token: Fetch`, which
does not run the flow), resends with the token and the session cookies, and refetches once when a cached
token is rejected later. Every call is timed and recorded as a `CallRecord` for the report.
"""

from __future__ import annotations

import http.client
import itertools
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import requests
from requests.auth import AuthBase
from urllib3.exceptions import ReadTimeoutError

from iflowtest.calls.bodyretry import body_cut_of
from iflowtest.calls.retrying import RetrySettings, exhausted_history, mount_retries, post_retries, retries_of
from iflowtest.calls.session import HarnessSession
from iflowtest.errors import CsrfError, IflowCallError, RuntimeUnreachableError
from iflowtest.redaction import Secret, error_reason, redact_text

MPL_HEADER: Final = "SAP_MessageProcessingLogID"
# Sets the message's ApplicationMessageId when the iFlow lists it among its allowed headers: a way to find the
# message log of one call that does not depend on the tenant returning the MPL id (cpi-facts: UNCONFIRMED).
APPLICATION_ID_HEADER: Final = "SAP_ApplicationID"
APPLICATION_ID_PREFIX: Final = "iflowtest-"  # what tells the harness's application ids from others
_MPL_IN_BODY = re.compile(r"The MPL ID for the failed message is\s*:\s*([A-Za-z0-9_\-]+)")
_MODIFYING: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class CallRecord:
    """One iFlow call as the report shows it."""

    method: str
    url: str
    status: int
    elapsed_ms: float
    mpl_id: str | None
    client: str
    iflow: str | None
    hint: str | None = None
    started_at: float | None = None  # wall clock (epoch seconds), to find the message by time when no MPL id
    retries: tuple[str, ...] = ()  # the retried attempts before this answer (`503`, `connection error (...)`)
    application_id: str | None = None  # the SAP_ApplicationID the call sent, to find its message log by
    mpl_id_from: str | None = None  # where the MPL id came from: "header" or "error text"


def mpl_id_of(response: requests.Response) -> str | None:
    """The MPL id from the `SAP_MessageProcessingLogID` header (any case) or a plain-text 500 body."""
    return mpl_id_and_source(response)[0]


def mpl_id_and_source(response: requests.Response) -> tuple[str | None, str | None]:
    """The MPL id of an answer and where it was found: ("...", "header"), ("...", "error text") or (None, None)."""
    header = response.headers.get(MPL_HEADER)  # CaseInsensitiveDict: any spelling matches
    if header:
        return header.strip(), "header"
    if response.status_code >= 500 and "text/plain" in response.headers.get("Content-Type", "text/plain"):
        match = _MPL_IN_BODY.search(response.text[:4000])
        if match:
            return match.group(1), "error text"
    return None, None


class ApplicationIds:
    """Unique SAP_ApplicationID values for one process: a random prefix (xdist workers differ), then a count."""

    def __init__(self) -> None:
        self.prefix = f"{APPLICATION_ID_PREFIX}{secrets.token_hex(6)}-"
        self._count = itertools.count(1)

    def __call__(self) -> str:
        # Fixed width: cassettes replace the id by a stand-in of the same length, which must not depend on
        # whether the call was the 9th or the 10th of its process.
        return f"{self.prefix}{next(self._count):06d}"


Listener = Callable[[CallRecord, requests.Response], None]
# (answer, iFlow, the role its sender adapter requires) -> a hint in the user's terms, or None
Explainer = Callable[[requests.Response, str | None, str | None], str | None]


class IflowClient:
    """Calls iFlows of one runtime as one client; thread-safe for concurrent calls of one test."""

    def __init__(
        self,
        base_url: str,
        auth: AuthBase,
        *,
        client_name: str = "default",
        iflow: str | None = None,
        default_path: str | None = None,
        role: str | None = None,
        timeout: tuple[float, float] = (10.0, 60.0),
        verify: bool | str = True,
        session: requests.Session | None = None,
        explain: Explainer | None = None,
        retry: RetrySettings | None = None,
        application_ids: Callable[[], str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_name = client_name
        self.iflow = iflow
        self.default_path = default_path
        self.role = role
        self.timeout = timeout
        self.session = session or HarnessSession()
        self.session.auth = auth
        self.session.verify = verify
        self.retry = retry
        self.retry_post = False  # a case's opt-in: retry POST and PATCH too
        if retry is not None:
            mount_retries(self.session, retry)
        self._explain = explain
        # When set, every call sends a fresh SAP_ApplicationID (kept in its record) for message-log lookups.
        self.application_ids = application_ids
        self._listeners: list[Listener] = []
        self._csrf = _CsrfState()
        self.records: list[CallRecord] = []

    def __enter__(self) -> IflowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(record, response)` after every call (the plugin collects records this way)."""
        self._listeners.append(listener)

    def for_iflow(self, iflow: str | None, default_path: str | None, role: str | None = None) -> IflowClient:
        """A view sharing this client's session, token and CSRF state, tagged with another iFlow.

        Views are cheap: tests get one each while connections (and TLS sessions) are reused across tests.
        """
        clone = IflowClient.__new__(IflowClient)
        clone.__dict__.update(self.__dict__)
        clone.iflow, clone.default_path, clone.role = iflow, default_path, role
        clone._listeners = list(self._listeners)
        clone.records = []
        return clone

    def url_for(self, path: str | None) -> str:
        """The absolute URL of `path` (absolute URLs pass through; None means the iFlow's own address)."""
        if path is None or path == "":
            if not self.default_path:
                raise IflowCallError(
                    f"no path given and iFlow {self.iflow!r} has no address: pass a path such as '/http/costcenters' "
                    "or declare address in [tool.iflowtest.iflows.NAME]"
                )
            path = self.default_path
        if path.startswith(("http://", "https://")):
            return path
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + path

    # ------------------------------------------------------------------ verbs
    def get(self, path: str | None = None, **kwargs: Any) -> requests.Response:
        """GET an iFlow path."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str | None = None, **kwargs: Any) -> requests.Response:
        """POST to an iFlow path (CSRF handled)."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str | None = None, **kwargs: Any) -> requests.Response:
        """PUT to an iFlow path (CSRF handled)."""
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str | None = None, **kwargs: Any) -> requests.Response:
        """PATCH an iFlow path (CSRF handled)."""
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str | None = None, **kwargs: Any) -> requests.Response:
        """DELETE an iFlow path (CSRF handled)."""
        return self.request("DELETE", path, **kwargs)

    def head(self, path: str | None = None, **kwargs: Any) -> requests.Response:
        """HEAD an iFlow path."""
        return self.request("HEAD", path, **kwargs)

    def request(self, method: str, path: str | None = None, **kwargs: Any) -> requests.Response:
        """Send one call; handle the CSRF handshake; record status, elapsed time and MPL id."""
        method = method.upper()
        url = self.url_for(path)
        kwargs.setdefault("timeout", self.timeout)
        # Explicit: requests lets REQUESTS_CA_BUNDLE override a session's verify, not an argument.
        kwargs.setdefault("verify", self.session.verify)
        headers = dict(kwargs.pop("headers", None) or {})
        started = time.perf_counter()
        started_at = time.time()
        application_id = None
        if self.application_ids is not None and not _has_header(headers, APPLICATION_ID_HEADER):
            application_id = headers[APPLICATION_ID_HEADER] = self.application_ids()
        modifying = method in _MODIFYING and not _has_header(headers, "X-CSRF-Token")
        # The SOAP and IDoc sender adapters (/cxf) have no CSRF protection: a token fetched for an HTTPS flow
        # is not sent there (it would only make a recording depend on which test ran first).
        if modifying and self._csrf.token is not None and "/cxf/" not in url.lower():
            headers["X-CSRF-Token"] = self._csrf.token.reveal()
        response = self._send(method, url, headers, kwargs)
        earlier: tuple[str, ...] = ()
        if modifying and _csrf_required(response):
            # First demand, or the cached token was rejected: fetch once and resend.
            token = self._fetch_csrf(url, rejected=headers.get("X-CSRF-Token"))
            headers["X-CSRF-Token"] = token
            earlier = self._retries_of(response)
            response.close()
            response = self._send(method, url, headers, kwargs)
            if _csrf_required(response):
                raise CsrfError(
                    f"{method} {_display(url)} still demands a CSRF token after a fresh fetch: the endpoint does "
                    "not keep the session cookies; check that no proxy strips JSESSIONID"
                )
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        self._record(method, url, response, elapsed_ms, started_at, earlier, application_id)
        return response

    def _retries_of(self, response: requests.Response) -> tuple[str, ...]:
        return retries_of(response, self.retry.max_retry_after) if self.retry is not None else ()

    # ------------------------------------------------------------------ internals
    def _send(self, method: str, url: str, headers: dict[str, str], kwargs: Mapping[str, Any]) -> requests.Response:
        flow = f"iFlow {self.iflow!r}: " if self.iflow else ""
        try:
            with post_retries(self.retry_post):
                return self.session.request(method, url, headers=headers, **kwargs)
        except requests.exceptions.Timeout as exc:
            raise self._timed_out(method, url, kwargs, "", f"; {type(exc).__name__}{_attempts(exc)}") from None
        except requests.exceptions.SSLError as exc:
            raise RuntimeUnreachableError(
                f"{flow}{method} {_display(url)} failed: TLS verification failed ({error_reason(exc)}): "
                "set IFLOWTEST_CA_BUNDLE to your corporate CA bundle if a proxy re-signs traffic, or check the "
                "runtime url of the service key"
            ) from None
        except requests.exceptions.ConnectionError as exc:
            if _read_timeout_in_body(exc):
                # requests turns a read timeout while it reads the body into a ConnectionError.
                raise self._timed_out(method, url, kwargs, " while reading the answer's body", "") from None
            history = exhausted_history(exc)
            cut = body_cut_of(exc)
            if cut is not None:
                raise IflowCallError(
                    f"{flow}{method} {_display(url)} failed{_attempts(exc)}: {cut.explain()}; expected the whole "
                    "answer: check the runtime's health, or opt in to retrying more (retries) if the tenant drops "
                    "connections under load"
                ) from None
            broken = _broken_protocol(exc)
            if broken:
                raise IflowCallError(
                    f"{flow}{method} {_display(url)} failed: the answer broke HTTP's limits ({broken}); expected an "
                    "HTTP answer: check what the endpoint (or a proxy before it) sends"
                ) from None
            # Refused or unresolvable every time: the runtime cannot be reached (exit 3), not a flaky one.
            never_connected = all(h in _NO_CONNECTION for h in history)
            if history and not never_connected:
                raise IflowCallError(
                    f"{flow}{method} {_display(url)} failed{_attempts(exc)}: the connection was dropped before an "
                    "answer each time; expected an HTTP answer: check the runtime's health, or opt in to retrying "
                    "more (retries) if the tenant drops connections under load"
                ) from None
            raise RuntimeUnreachableError(
                f"{flow}{method} {_display(url)} failed{_attempts(exc)}: cannot connect ({error_reason(exc)}): check the "
                "runtime url of the service key and that the tenant is reachable"
            ) from None
        except requests.exceptions.ChunkedEncodingError as exc:
            raise IflowCallError(f"{flow}{method} {_display(url)} failed: {_cut_not_retried(method, exc)}") from None
        except requests.exceptions.TooManyRedirects as exc:
            last = exc.response.headers.get("Location", "?") if exc.response is not None else "?"
            raise IflowCallError(
                f"{flow}{method} {_display(url)} failed: redirected more than {self.session.max_redirects} times "
                f"(last to {_display(last)}); expected an answer: the endpoint redirects in a circle"
            ) from None
        except requests.exceptions.InvalidSchema as exc:
            raise IflowCallError(
                f"{flow}{method} {_display(url)}: {redact_text(str(exc))}; the harness sends and follows http(s) "
                "only: fix the URL, or check where the endpoint redirects"
            ) from None
        except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL) as exc:
            # Nothing was sent: a header with a line break or a control character (no header injection), a URL
            # that is none. The request is the suite's, so the message names what to fix there.
            raise IflowCallError(
                f"{flow}{method} {_display(url)} was not sent: {redact_text(str(exc))}: fix the request in the test or "
                "suite (header values are one line of text; paths and URLs are URLs)"
            ) from None

    def _timed_out(self, method: str, url: str, kwargs: Mapping[str, Any], when: str, cause: str) -> IflowCallError:
        flow = f"iFlow {self.iflow!r}: " if self.iflow else ""
        connect, read = _limits(kwargs.get("timeout", self.timeout))
        return IflowCallError(
            f"{flow}{method} {_display(url)} timed out{when} (limits: connect {connect} s, read {read} s{cause}): "
            "raise IFLOWTEST_READ_TIMEOUT (or the case's @pytest.mark.iflow_timeout(read=S)) if the iFlow is slow "
            "by design"
        )

    def _fetch_csrf(self, url: str, rejected: str | None) -> str:
        with self._csrf.lock:
            current = self._csrf.token.reveal() if self._csrf.token is not None else None
            if current is not None and current != rejected:
                return current  # another thread refreshed it meanwhile
            fetch = self.session.get(
                url, headers={"X-CSRF-Token": "Fetch"}, timeout=self.timeout, verify=self.session.verify
            )
            fetch.close()
            token = fetch.headers.get("X-CSRF-Token", "")
            if fetch.status_code >= 400 or not token or token.lower() in ("required", "fetch"):
                raise CsrfError(
                    f"{_display(url)} demands a CSRF token but GET with 'X-CSRF-Token: Fetch' answered "
                    f"{fetch.status_code} without one: check that the client may call this iFlow (role) and that "
                    "the sender adapter's CSRF protection is configured as expected"
                )
            self._csrf.token = Secret(token)
            return token

    def _record(
        self,
        method: str,
        url: str,
        response: requests.Response,
        elapsed_ms: float,
        started_at: float | None = None,
        earlier: tuple[str, ...] = (),
        application_id: str | None = None,
    ) -> None:
        mpl_id, mpl_id_from = mpl_id_and_source(response)
        hint = self._explain(response, self.iflow, self.role) if self._explain and response.status_code >= 400 else None
        record = CallRecord(
            method=method,
            url=_display(response.url or url),
            status=response.status_code,
            elapsed_ms=round(elapsed_ms, 2),
            mpl_id=mpl_id,
            client=self.client_name,
            iflow=self.iflow,
            hint=hint,
            started_at=started_at,
            retries=earlier + self._retries_of(response),
            application_id=application_id,
            mpl_id_from=mpl_id_from,
        )
        response.iflowtest_record = record  # type: ignore[attr-defined]
        self.records.append(record)
        for listener in self._listeners:
            listener(record, response)


class _CsrfState:
    """The CSRF token of one session, shared by all views of a client."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.token: Secret | None = None


def record_of(response: requests.Response) -> CallRecord | None:
    """The CallRecord of a response returned by an IflowClient."""
    return getattr(response, "iflowtest_record", None)


def _has_header(headers: Mapping[str, str], name: str) -> bool:
    lowered = name.lower()
    return any(k.lower() == lowered for k in headers)


def _csrf_required(response: requests.Response) -> bool:
    return response.status_code == 403 and response.headers.get("X-CSRF-Token", "").lower() == "required"


def _read_timeout_in_body(exc: requests.exceptions.ConnectionError) -> bool:
    """Whether requests wrapped urllib3's read timeout, which it does when the body stalls (models.py)."""
    return bool(exc.args) and isinstance(exc.args[0], ReadTimeoutError)


def _limits(timeout: Any) -> tuple[Any, Any]:
    return (timeout[0], timeout[1]) if isinstance(timeout, tuple) else (timeout, timeout)


_NO_CONNECTION = frozenset(
    f"connection error ({name})" for name in ("NewConnectionError", "NameResolutionError", "ConnectTimeoutError")
)


def _broken_protocol(exc: BaseException) -> str | None:
    """The HTTP-level fault in a connection error (too many headers, a header line too long, a bad status
    line): the answer came, but not as HTTP; None for a connection that failed."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, http.client.HTTPException) and not isinstance(current, http.client.RemoteDisconnected):
            return f"{type(current).__name__}: {str(current)[:120]}"
        reason = getattr(current, "reason", None)  # urllib3's MaxRetryError keeps its cause there
        pending += [current.__cause__, current.__context__, reason if isinstance(reason, BaseException) else None]
        pending += [a for a in current.args if isinstance(a, BaseException)]
    return None


def _attempts(exc: BaseException) -> str:
    history = exhausted_history(exc)
    return f"; {len(history)} attempts: {', '.join(history)}" if len(history) > 1 else ""


def _cut_not_retried(method: str, exc: BaseException) -> str:
    cut = body_cut_of(exc)
    if cut is None:  # no retry policy mounted: requests' own error, without the byte count
        return (
            f"the connection broke while the answer was read ({redact_text(str(exc))[:300]}); expected the whole "
            "answer: check the runtime's health"
        )
    if method in ("POST", "PATCH"):
        return (
            f"{cut.explain()}; not retried: {method} is sent again only when the case opts in "
            "(@pytest.mark.retry_post), as the iFlow may have run already: check its message log"
        )
    return f"{cut.explain()}; not retried: retries are off for this client; expected the whole answer"


def _display(url: str) -> str:
    # Query strings can carry secrets (api keys); the report shows the path and a redacted query.
    return redact_text(url)
