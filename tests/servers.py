"""Tiny WSGI servers for the few answers the emulated tenant never gives (redirects, hanging, HTML tokens)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from iflowtest.emulator.tls import EmulatorTls

Handler = Callable[[Request], Response]


@contextmanager
def serve(handler: Handler, tls: EmulatorTls | None = None) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 port 0 in a thread (HTTPS with `tls`); yields the base URL once it answers."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/__ready":
            return Response("ready")(environ, start_response)
        return handler(request)(environ, start_response)

    context = tls.server_context() if tls else None
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}"
    try:
        requests.get(url + "/__ready", timeout=5, verify=str(tls.ca_file) if tls else True).raise_for_status()
        yield url
    finally:
        server.shutdown()
        thread.join(timeout=5)
