"""`HarnessSession`: the `requests.Session` every iFlow and message-log call goes through, and its adapter."""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

import requests
from requests import sessions
from requests.utils import get_environ_proxies
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.util.ssl_ import create_urllib3_context

from iflowtest.bounds.answers import BoundedAdapter, read_bounded
from iflowtest.pacing.pacer import pace, retry_after_seconds, slowed
from iflowtest.redaction import remember_header_secrets

merge_setting = cast(Callable[[Any, Any], Any], sessions.merge_setting)  # untyped in requests


class HarnessSession(requests.Session):
    """A `requests.Session` that reads the proxy variables once per host instead of twice per call.

    requests walks the whole of `os.environ` twice on every request to find HTTP(S)_PROXY and NO_PROXY
    (`get_environ_proxies`): about 0.25 ms a call, a tenth of a fast iFlow call on loopback. No library
    offers a cached variant, so this override keeps requests' own rules (it calls the same function) and
    only remembers the answer per scheme, host and no_proxy for the life of the session; a run's
    environment does not change under it. Everything else is `Session.merge_environment_settings`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.mount("https://", HarnessAdapter())
        self.mount("http://", HarnessAdapter())
        self._environ_proxies: dict[tuple[str, str, str | None], dict[str, str]] = {}

    # requests' stubs type these with private aliases, hence Any.
    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        if not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        no_proxy = proxies.get("no_proxy") if proxies is not None else None
        parts = urlsplit(url if isinstance(url, str) else url.decode())
        key = (parts.scheme, parts.netloc, no_proxy)
        found = self._environ_proxies.get(key)
        if found is None:
            found = self._environ_proxies[key] = get_environ_proxies(url, no_proxy=no_proxy)
        if proxies is not None:
            for name, value in found.items():
                proxies.setdefault(name, value)
        if verify is True or verify is None:
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
        return {
            "proxies": merge_setting(proxies, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }


class HarnessAdapter(BoundedAdapter):
    """requests' adapter, with one TLS context per client certificate for the calls that do not verify.

    With `verify=False` requests hands urllib3 no TLS context and no CA file, and urllib3 then builds a new
    context for every connection and loads the whole system CA store into it (`load_default_certs`), a store
    it never consults since nothing is verified: about 30 ms a connection. A server that answers
    `Connection: close` (as the emulator once did) costs a connection per call, so `--insecure` made every call
    several times slower. requests documents `build_connection_pool_key_attributes` as the place to pass a context of one's
    own; no library offers this one, so the adapter builds it once, with urllib3's own factory (same
    protocols, ciphers and SSLKEYLOGFILE as urllib3's per-connection context), without the CA store, and
    with the client certificate already loaded, so that urllib3 never changes a context shared between
    connections. Verifying calls are left exactly to requests and urllib3.

    Its answers are bounded (`bounds.answers`): the body size once decompressed, and the nesting of `json()`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unverified: dict[object, ssl.SSLContext] = {}
        self._unverified_lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, stream: bool = False, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """requests' send once the run's pacer allows, reading the body with a bound, and remembering the
        credentials that travel; a 429 slows the pace for every worker of the run."""
        url = request.url or ""
        pace(url)
        remember_header_secrets(request.headers)
        response = self.send_unread(request, **kwargs)
        remember_header_secrets(response.headers)
        if response.status_code == 429:
            slowed(url, retry_after_seconds(response.headers.get("Retry-After")))
        if not stream:
            read_bounded(response, self.max_body_bytes, self.max_body_seconds)
        return response

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> Any:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if verify is False and host_params.get("scheme") == "https":
            context = self.unverified_context(cert)
            if context is not None:
                # The context is part of the pool key: each certificate gets its own pool.
                pool_kwargs["ssl_context"] = context
                pool_kwargs.pop("cert_file", None)
                pool_kwargs.pop("key_file", None)
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # Its checks and errors (a missing certificate file) stay; the stubs leave it untyped.
        super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]
        if verify is False and isinstance(conn, HTTPSConnectionPool):
            with self._unverified_lock:
                ours = any(conn.conn_kw.get("ssl_context") is c for c in self._unverified.values())
        else:
            ours = False
        if ours:
            # The certificate is in the context already; urllib3 would load it again per connection.
            conn.cert_file = conn.key_file = None

    def unverified_context(self, cert: Any) -> ssl.SSLContext | None:
        """The TLS context of unverified calls with client certificate `cert` (None: leave it to urllib3)."""
        key = tuple(cert) if isinstance(cert, list) else cert
        with self._unverified_lock:
            context = self._unverified.get(key)
            if context is None:
                context = create_urllib3_context(cert_reqs=ssl.CERT_NONE)
                if cert:
                    certificate, private_key = (cert, None) if isinstance(cert, str) else cert
                    try:
                        context.load_cert_chain(certificate, private_key)
                    except (OSError, ValueError):
                        return None  # a missing or bad file: requests and urllib3 raise their usual error
                self._unverified[key] = context
            return context
