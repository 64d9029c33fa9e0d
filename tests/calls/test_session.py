"""HarnessSession remembers the proxy variables per host but must decide exactly as requests does; its adapter
builds the TLS context of unverified calls once instead of loading the system CA store per connection."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from urllib3.connection import HTTPSConnection

from iflowtest import ServiceKey
from iflowtest.calls.retrying import RetrySettings, mount_retries
from iflowtest.calls.session import HarnessAdapter, HarnessSession
from iflowtest.credentials.mtls import CertificateFiles
from iflowtest.emulator import Emulator

ENVIRONMENTS = [
    {},
    {"HTTPS_PROXY": "http://proxy.corp.example:3128"},
    {"HTTPS_PROXY": "http://proxy.corp.example:3128", "NO_PROXY": "127.0.0.1,localhost"},
    {"https_proxy": "http://proxy.corp.example:3128", "no_proxy": ".hana.ondemand.com"},
    {"HTTP_PROXY": "http://plain.corp.example:8080", "ALL_PROXY": "socks5://socks.corp.example:1080"},
    {"REQUESTS_CA_BUNDLE": "/etc/corp/ca.pem"},
    {"CURL_CA_BUNDLE": "/etc/corp/curl-ca.pem"},
]
URLS = [
    "https://tenant.it-cpi001-rt.cfapps.eu10.hana.ondemand.com/http/costcenters",
    "https://127.0.0.1:8443/http/costcenters?companyCode=1010",
    "http://localhost:8080/http/costcenters",
]


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=lambda e: ",".join(e) or "none")
@pytest.mark.parametrize("verify", [True, None, False, "/own/ca.pem"])
def test_settings_match_requests_for_every_environment(
    environment: dict[str, str], verify: bool | str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    ours, theirs = HarnessSession(), requests.Session()

    for url in URLS:
        for _ in range(2):  # the second answer comes from the remembered proxies
            expected = theirs.merge_environment_settings(url, {}, None, verify, None)
            assert ours.merge_environment_settings(url, {}, None, verify, None) == expected


def test_explicit_proxies_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.example:3128")
    session = HarnessSession()

    settings = session.merge_environment_settings(URLS[0], {"https": "http://own:1"}, None, True, None)

    assert settings["proxies"]["https"] == "http://own:1"


def test_without_trust_env_the_environment_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/corp/ca.pem")
    session = HarnessSession()
    session.trust_env = False

    settings = session.merge_environment_settings(URLS[0], {}, None, True, None)

    assert settings["proxies"] == {} and settings["verify"] is True


# ---------------------------------------------------------------------------- TLS context of unverified calls
INSECURE = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


@pytest.fixture
def system_store_loads(monkeypatch: pytest.MonkeyPatch) -> list[ssl.SSLContext]:
    """Every load of the system CA store (what urllib3 did per connection for `verify=False`)."""
    loads: list[ssl.SSLContext] = []
    original = ssl.SSLContext.load_default_certs

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_default_certs", counting)
    return loads


@pytest.fixture
def handshakes(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every TLS connection urllib3 opens."""
    opened: list[object] = []
    original = HTTPSConnection.connect

    def counting(self: HTTPSConnection) -> None:
        opened.append(self)
        original(self)

    monkeypatch.setattr(HTTPSConnection, "connect", counting)
    return opened


@pytest.fixture
def certificate(emulator: Emulator, issue_key: Callable[..., ServiceKey]) -> Iterator[tuple[str, str]]:
    files = CertificateFiles.write(issue_key(emulator, "insecure_cert", key_type="certificate"), "insecure_cert")
    yield files.pair
    files.remove()


def https_pools(session: requests.Session) -> list[Any]:
    adapter = session.get_adapter("https://")
    return [adapter.poolmanager.pools[key] for key in adapter.poolmanager.pools.keys()]  # noqa: SIM118  # not iterable


@INSECURE
@pytest.mark.parametrize("retrying", [False, True], ids=["plain adapter", "retrying adapter"])
def test_unverified_calls_share_one_tls_context_without_the_system_store(
    emulator: Emulator, system_store_loads: list[ssl.SSLContext], handshakes: list[object], retrying: bool
) -> None:
    session = HarnessSession()
    if retrying:
        mount_retries(session, RetrySettings())

    # `Connection: close` makes the emulator (which keeps connections alive) open a connection per call.
    close = {"Connection": "close"}
    answers = [
        session.get(emulator.url + "/http/costcenters", verify=False, timeout=10, headers=close) for _ in range(5)
    ]
    [pool] = https_pools(session)

    assert [a.status_code for a in answers] == [401] * 5  # reached the runtime (no credentials sent)
    assert len(handshakes) == 5  # five connections, one shared context
    assert system_store_loads == []
    assert pool.conn_kw["ssl_context"].verify_mode == ssl.CERT_NONE


@INSECURE
def test_verified_calls_of_the_same_session_still_verify(emulator: Emulator) -> None:
    session = HarnessSession()
    url = emulator.url + "/http/costcenters"

    assert session.get(url, verify=False, timeout=10).status_code == 401
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        session.get(url, verify=True, timeout=10)  # the emulator's own CA is in no system store
    assert session.get(url, verify=str(emulator.ca_file), timeout=10).status_code == 401
    assert len(https_pools(session)) == 3  # three ways to verify, three pools: none shares the unverified context


@INSECURE
def test_unverified_calls_present_the_client_certificate(
    emulator: Emulator, certificate: tuple[str, str], system_store_loads: list[ssl.SSLContext]
) -> None:
    session = HarnessSession()
    url = emulator.url + "/http/costcenters"

    with_certificate = [session.get(url, cert=certificate, verify=False, timeout=10) for _ in range(2)]
    without = session.get(url, verify=False, timeout=10)

    assert [a.status_code for a in with_certificate] == [200, 200]  # the runtime accepted the certificate
    assert without.status_code == 401
    assert system_store_loads == []
    assert len(https_pools(session)) == 2  # one context, hence one pool, per certificate


def test_a_missing_certificate_file_keeps_requests_own_error(tmp_path: Any) -> None:
    missing = (str(tmp_path / "gone.pem"), str(tmp_path / "gone.key"))
    errors = []
    for session in (requests.Session(), HarnessSession()):
        with pytest.raises(OSError, match="TLS certificate file") as caught:
            session.get("https://127.0.0.1:9/http/costcenters", cert=missing, verify=False, timeout=10)
        errors.append(str(caught.value))

    assert HarnessAdapter().unverified_context(missing) is None  # left to requests, which raises
    assert errors[0] == errors[1]
    assert errors[1].startswith("Could not find the TLS certificate file")
