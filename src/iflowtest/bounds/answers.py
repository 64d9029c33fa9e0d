"""Answers read with bounds: the body's size once decompressed, and the nesting of the JSON in it.

Every HTTP session of the harness (iFlow calls, the token endpoint, the message-log, runtime-artifact and CF
APIs) mounts a `BoundedAdapter` or an adapter built on it, so a gzip bomb or a 100,000-deep JSON answer from
any of them is one clear error where it is read, never a MemoryError, a RecursionError or a crashed session.
"""

from __future__ import annotations

import heapq
import math
import socket
import threading
import time
from typing import Any, Final
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from iflowtest.bounds import nesting
from iflowtest.errors import IflowCallError

# The most an answer may grow to once decompressed: a remote side decides what it sends, and a gzip bomb of
# a few kilobytes would otherwise expand into all of this machine's memory.
MAX_BODY_BYTES: Final = 64 * 1024 * 1024
# The longest an answer's body may take to arrive once its headers came. The read timeout bounds each wait
# for the next bytes, not their sum: a side that sends a byte every second would hold a call for ever.
MAX_BODY_SECONDS: Final = 300.0


class TooDeepJSONError(nesting.TooDeepError, requests.exceptions.JSONDecodeError):
    """`json()` of an answer nested deeper than the bound: a ValueError and requests' JSONDecodeError both, so
    every caller that handles an answer that is not JSON (the harness, oauthlib, a user's test) handles it."""

    def __init__(self, limit: int) -> None:
        requests.exceptions.JSONDecodeError.__init__(self, "", "", 0)
        self.limit = limit

    def __str__(self) -> str:
        return str(nesting.TooDeepError(self.limit))


class BoundedResponse(requests.Response):
    """A `requests.Response` whose `json()` refuses a document nested deeper than `nesting.MAX_DEPTH`."""

    def json(self, **kwargs: Any) -> Any:
        try:
            nesting.check(self.content)
            return super().json(**kwargs)
        except (nesting.TooDeepError, RecursionError):
            raise TooDeepJSONError(nesting.MAX_DEPTH) from None


class BoundedAdapter(HTTPAdapter):
    """requests' adapter whose answers are `BoundedResponse`s with bodies read up to `max_body_bytes`, within
    `max_body_seconds`."""

    max_body_bytes: int = MAX_BODY_BYTES
    max_body_seconds: float = MAX_BODY_SECONDS

    def send(self, request: requests.PreparedRequest, stream: bool = False, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = self.send_unread(request, **kwargs)
        if not stream:
            read_bounded(response, self.max_body_bytes, self.max_body_seconds)
        return response

    def send_unread(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """requests' send with the body left unread (as `stream=True`), for the caller to read with a bound."""
        return super().send(request, stream=True, **kwargs)

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        response = super().build_response(req, resp)
        # requests builds a plain Response and offers no factory to ask for another; the subclass adds no state.
        response.__class__ = BoundedResponse
        return response


def read_bounded(response: requests.Response, limit: int, seconds: float = MAX_BODY_SECONDS) -> None:
    """Read the whole (decompressed) body into the response, or raise IflowCallError past `limit` bytes or
    `seconds`.

    requests reads unbounded; this is its own reading loop (`iter_content`) with a count, then the body is
    kept where requests keeps a consumed body, so `content`, `text` and `json()` work as usual. The time is
    kept by the shared watchdog, which shuts the connection's socket when it runs out (a read blocked in
    the middle of a chunk returns then).
    """
    chunks: list[bytes] = []
    size = 0
    ticket = WATCHDOG.arm(response, seconds)
    try:
        for chunk in response.iter_content(256 * 1024):
            size += len(chunk)
            if size > limit:
                response.close()
                encoding = response.headers.get("Content-Encoding")
                how = f" (Content-Encoding {encoding})" if encoding else ""
                raise IflowCallError(
                    f"{response.request.method} {_short(response.url)}: the answer is larger than "
                    f"{limit // (1024 * 1024)} MiB once decompressed{how}; check what the endpoint sends"
                )
            chunks.append(chunk)
    except requests.RequestException:
        if not ticket.fired:
            raise
    finally:
        WATCHDOG.disarm(ticket)
    if ticket.fired:
        response.close()
        raise IflowCallError(
            f"{response.request.method} {_short(response.url)}: the answer's body was still arriving after "
            f"{seconds:g} s ({size} bytes so far); check what the endpoint sends"
        )
    response._content = b"".join(chunks)  # where requests keeps a read body (no public setter exists)


class _Ticket:
    __slots__ = ("deadline", "fired", "response")

    def __init__(self, deadline: float, response: requests.Response) -> None:
        self.deadline = deadline
        self.response: requests.Response | None = response
        self.fired = False

    def __lt__(self, other: _Ticket) -> bool:
        return self.deadline < other.deadline


class Watchdog:
    """One thread that cuts the bodies still arriving at their deadline, for every adapter of the process.

    A timer thread per call would cost more than a fast call on loopback; this keeps a heap of deadlines and
    sleeps until the next one. No library offers a total deadline for requests (its timeouts bound each
    wait, urllib3's too), hence this.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[_Ticket] = []
        self._thread: threading.Thread | None = None
        # The deadline the thread sleeps toward (inf: until notified). A ticket due later needs no wake-up: the
        # thread looks at the heap then. Calls one after another each arm a ticket in an emptied heap; waking
        # the thread for each cost a switch of threads a call (+35 to +70 µs CPU, up to +185 µs wall on 2 CPUs).
        self._until = math.inf

    def arm(self, response: requests.Response, seconds: float) -> _Ticket:
        """Watch `response` for `seconds`; disarm the ticket when its body is read."""
        ticket = _Ticket(time.monotonic() + seconds, response)
        with self._lock:
            heapq.heappush(self._heap, ticket)
            if ticket.deadline < self._until:
                self._until = ticket.deadline  # the thread looks at the heap by then, whatever it was doing
                self._lock.notify()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="iflowtest-body-watchdog", daemon=True)
                self._thread.start()
        return ticket

    def disarm(self, ticket: _Ticket) -> None:
        """The body is read (or failed): forget the response; its entry leaves the heap at its deadline."""
        with self._lock:
            ticket.response = None
            # Every ticket has the same lifetime, so the oldest are first: dropping the finished ones from the
            # top keeps the heap as small as the calls in flight.
            while self._heap and self._heap[0].response is None:
                heapq.heappop(self._heap)

    def _run(self) -> None:
        while True:
            with self._lock:
                while self._heap and self._heap[0].response is None:
                    heapq.heappop(self._heap)  # read in time
                now = time.monotonic()
                if not self._heap or self._heap[0].deadline > now:
                    # Until the first deadline; with nothing in flight, until the one slept toward so far (the
                    # calls armed meanwhile are due later), then until notified.
                    if self._heap:
                        self._until = self._heap[0].deadline
                    elif self._until <= now:
                        self._until = math.inf
                    self._lock.wait(None if self._until == math.inf else self._until - now)
                    continue
                ticket = heapq.heappop(self._heap)
                response, ticket.response = ticket.response, None
                if response is None:
                    continue
                ticket.fired = True
            _shut(response)


def _shut(response: requests.Response) -> None:
    """Shut the socket under a response being read: the blocked read returns at once, with what it has."""
    sock = _socket_of(response)
    try:
        if sock is not None:
            # socket's own shutdown, also for a TLS socket: SSLSocket's would drop its TLS state under the
            # thread still reading it.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        else:
            response.raw.close()
    except OSError:
        pass  # closed already


def _socket_of(response: requests.Response) -> socket.socket | None:
    """The socket a response is read from: its kept-alive connection's, or the one http.client's reader holds
    once the connection handed it over (an answer that closes the connection)."""
    raw = response.raw
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is None:
        reader = getattr(getattr(raw, "_fp", None), "fp", None)  # http.client.HTTPResponse's buffered reader
        sock = getattr(getattr(reader, "raw", None), "_sock", None)  # its socket.SocketIO's socket
    return sock if isinstance(sock, socket.socket) else None


WATCHDOG: Final = Watchdog()


def _short(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
