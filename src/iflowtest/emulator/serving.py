"""The emulator's HTTP server: cheroot's threaded WSGI server, HTTP/1.1 keep-alive, optional TLS.

Real tenants keep connections alive, so the emulator does too: a client's consecutive calls share one TCP
connection and one TLS handshake, and the harness's own cost is measured against that (bench/overhead.py).
Werkzeug's development server cannot: it answers every request with ``Connection: close`` and, after each
answer, drains whatever the client sent next. cheroot (CherryPy's server) keeps connections alive, drains an
unread request body properly, parks idle connections in a selector instead of a thread, and closes them on
`stop()`.

What the emulator adds on top, each a few lines on cheroot's public classes:

- the request headers exactly as sent (`SENT_HEADERS`), underscores included (SAP_ApplicationID);
- no ``Server`` header: a tenant names no server software, and no client should learn to expect one;
- an injected reset (`faults.reset_connection`) closes the socket with SO_LINGER 0, so the peer gets a real
  TCP RST (over TLS too) rather than cheroot's orderly FIN.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from cheroot import server as cheroot_server
from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from iflowtest.emulator.faults import RESET
from iflowtest.emulator.runtime import SENT_HEADERS

if TYPE_CHECKING:
    import ssl

    from _typeshed.wsgi import WSGIApplication

_log = logging.getLogger(__name__)
# Requests served at once. A hanging or slow (latency) fault holds a worker for its whole wait; idle
# keep-alive connections hold none. 16 leaves room for `-n 8` nightlies with injected latency.
WORKERS: Final = 16
# Seconds an idle kept-alive connection stays open (cheroot's `timeout`); clients reconnect after it.
IDLE_TIMEOUT: Final = 10
_POLL_INTERVAL: Final = 0.02


class _WithoutServerHeader(list[tuple[bytes, bytes]]):
    """Response headers that refuse cheroot's ``Server: <name>`` (it adds one unless a header is present)."""

    def append(self, header: tuple[bytes, bytes]) -> None:
        if header[0].lower() != b"server":
            super().append(header)


class _Request(cheroot_server.HTTPRequest):
    def __init__(self, server: Any, conn: Any, proxy_mode: bool = False, strict_mode: bool = True) -> None:
        super().__init__(server, conn, proxy_mode, strict_mode)
        self.outheaders = _WithoutServerHeader()


class _Connection(cheroot_server.HTTPConnection):
    RequestHandlerClass = _Request
    reset: str | None = None  # set by an injected fault: "before" or "mid-body"

    def close(self) -> None:
        if self.reset is None:
            super().close()
            return
        # cheroot's close() shuts the socket down first, which sends FIN; a reset before the answer must reach
        # the peer as RST alone. Mid-body, FIN goes first: the peer's kernel may discard data still unread
        # when an RST arrives, and the first bytes of the body are the point of that fault.
        self.rfile.close()
        if self.reset == "mid-body":
            with contextlib.suppress(OSError):
                self.socket.shutdown(socket.SHUT_WR)
        self.socket.close()


class _Gateway(wsgi.Gateway_10):
    # cheroot's stubs type get_environ as returning None; it returns the environ.
    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]
        environ: dict[str, Any] = super().get_environ()  # type: ignore[no-untyped-call]
        environ[SENT_HEADERS] = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in self.req.inheaders.items()
        ]
        connection = self.req.conn
        environ[RESET] = lambda mid_body: _drop(connection, mid_body)
        return environ


def _drop(connection: _Connection, mid_body: bool) -> None:
    # SO_LINGER 0 makes close() send RST and discard unsent data; what was written before went out already
    # (cheroot's writer is unbuffered).
    connection.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.reset = "mid-body" if mid_body else "before"


class _Server(wsgi.Server):
    def error_log(self, msg: str = "", level: int = 20, traceback: bool = False) -> None:
        # What reaches here are transport errors (a client that timed out or went away mid-answer: the
        # emulator's own bugs are caught and answered in its WSGI app), not worth a traceback on stderr.
        _log.debug("cheroot: %s", msg, exc_info=traceback)


class HttpServer:
    """One listening port serving a WSGI app in worker threads until `stop()`."""

    def __init__(
        self,
        host: str,
        port: int,
        app: WSGIApplication,
        *,
        tls: tuple[ssl.SSLContext, Path, Path] | None = None,
    ) -> None:
        self._server = _Server((host, port), app, numthreads=WORKERS, timeout=IDLE_TIMEOUT)
        # How often the serving loop looks for a stop request and expired connections: it bounds how long
        # stop() takes (tests stop hundreds of emulators), against 50 idle wake-ups a second.
        self._server.expiration_interval = _POLL_INTERVAL
        self._server.gateway = _Gateway
        self._server.ConnectionClass = _Connection
        if tls is not None:
            context, cert_file, key_file = tls
            adapter = BuiltinSSLAdapter(str(cert_file), str(key_file))
            adapter.context = context  # the emulator's own (client CA, TLS 1.2+), not cheroot's default
            self._server.ssl_adapter = adapter
        self._server.prepare()  # binds: a taken port raises OSError here
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the real one when bound to port 0)."""
        return int(self._server.bind_addr[1])

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve, name=f"iflowtest-emulator-{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close idle connections, wait for the workers and the serving thread."""
        self._server.stop()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        """Release the port of a server that was never started."""
        self._server.stop()
