"""HarnessSession remembers the proxy variables per host but must decide exactly as requests does."""

from __future__ import annotations

import pytest
import requests

from iflowtest.calls.session import HarnessSession

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
