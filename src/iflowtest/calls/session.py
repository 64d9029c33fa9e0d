"""`HarnessSession`: the `requests.Session` every iFlow and message-log call goes through."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

import requests
from requests import sessions
from requests.utils import get_environ_proxies

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
