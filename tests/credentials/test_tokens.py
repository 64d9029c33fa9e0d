"""Tokens against the emulated XSUAA: cached once per client, refreshed before expiry and after a 401."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from werkzeug.wrappers import Request, Response

from iflowtest import ClientRejectedError, ServiceKey, TokenEndpointError
from iflowtest.credentials.tokens import BasicClientAuth, BearerAuth, OAuthToken, mtls_host_hint
from iflowtest.emulator import Emulator
from iflowtest.emulator.tls import EmulatorTls, create_tls
from iflowtest.redaction import redact_text
from tests.servers import serve

IssueKey = Callable[..., ServiceKey]


class FakeClock:
    """The harness's monotonic clock, moved by the test instead of by waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_token_per_client_however_often_asked(emulator: Emulator, issue_key: IssueKey) -> None:
    key = issue_key(emulator, "once")
    token = OAuthToken(key, "once", verify=str(emulator.ca_file))

    values = {token.get() for _ in range(50)}

    assert len(values) == 1
    assert token.fetch_count == 1
    assert emulator.counters.tokens_issued(key.clientid) == 1


def test_concurrent_callers_share_one_fetch(emulator: Emulator, issue_key: IssueKey) -> None:
    key = issue_key(emulator, "threads")
    token = OAuthToken(key, "threads", verify=str(emulator.ca_file))
    barrier = threading.Barrier(8)
    seen: list[str] = []

    def worker() -> None:
        barrier.wait()
        seen.append(token.get())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(seen)) == 1
    assert emulator.counters.tokens_issued(key.clientid) == 1


def test_refreshed_shortly_before_expiry(fresh_emulator: Emulator, issue_key: IssueKey) -> None:
    fresh_emulator.token_lifetime = 300
    key = issue_key(fresh_emulator, "expiring")
    clock = FakeClock()
    token = OAuthToken(key, "expiring", verify=str(fresh_emulator.ca_file), clock=clock)
    first = token.get()

    clock.now += 300 - 31  # inside the 10 % margin (30 s) of a 300 s token
    assert token.get() == first
    clock.now += 2
    second = token.get()

    assert second != first
    assert fresh_emulator.counters.tokens_issued(key.clientid) == 2


def test_token_rejected_by_the_runtime_is_refetched_once(fresh_emulator: Emulator, issue_key: IssueKey) -> None:
    key = issue_key(fresh_emulator, "rejected")
    token = OAuthToken(key, "rejected", verify=str(fresh_emulator.ca_file))
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override session.verify
    session.verify = str(fresh_emulator.ca_file)
    session.auth = BearerAuth(token)
    assert session.get(key.url + "/http/costcenters", params={"companyCode": "1010"}).status_code == 200

    fresh_emulator.advance_clock(4000)  # the tenant now considers the cached token expired
    response = session.get(key.url + "/http/costcenters", params={"companyCode": "1010"})

    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert fresh_emulator.counters.tokens_issued(key.clientid) == 2


def test_a_second_401_is_returned_not_retried_forever(fresh_emulator: Emulator, issue_key: IssueKey) -> None:
    key = issue_key(fresh_emulator, "revoked")
    token = OAuthToken(key, "revoked", verify=str(fresh_emulator.ca_file))
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override session.verify
    session.verify = str(fresh_emulator.ca_file)
    session.auth = BearerAuth(token)
    session.get(key.url + "/http/costcenters")
    fresh_emulator.revoke_client(key.clientid)
    fresh_emulator.advance_clock(4000)

    with pytest.raises(ClientRejectedError):
        session.get(key.url + "/http/costcenters")


@pytest.mark.parametrize("code", ["unauthorized", "unauthorized_client", "invalid_client"])
def test_every_form_of_a_bad_secret_answer_is_a_rejection(fresh_emulator: Emulator, code: str) -> None:
    # Which error a tenant's XSUAA names for a bad secret is UNCONFIRMED (cpi-facts): all three mean rejected.
    fresh_emulator.bad_secret_error = code
    data = fresh_emulator.issue_service_key("wrong")
    data["oauth"]["clientsecret"] = "not-the-secret-" + "y" * 20
    bad = ServiceKey.from_mapping(data, "sender.json")

    with pytest.raises(ClientRejectedError) as info:
        OAuthToken(bad, "sender", verify=str(fresh_emulator.ca_file)).get()

    assert f"(401 {code}: Bad credentials)" in str(info.value)


def test_wrong_secret_gives_the_clear_error(emulator: Emulator, issue_key: IssueKey) -> None:
    key = issue_key(emulator, "wrong")
    data = emulator.issue_service_key("wrong2")
    wrong = "0f0f0f0f-wrong-secret-" + "x" * 20
    data["oauth"]["clientsecret"] = wrong
    bad = ServiceKey.from_mapping(data, "sender.json")

    with pytest.raises(ClientRejectedError) as info:
        OAuthToken(bad, "sender", verify=str(emulator.ca_file)).get()

    message = str(info.value)
    assert message == (
        f"client 'sender' ({bad.masked_clientid}) was rejected by {bad.tokenurl} (401 unauthorized: Bad credentials): "
        "the clientsecret in its service key (sender.json) is wrong, or the key or its instance was deleted; "
        "create a new service key and update the key, or re-provision the client"
    )
    assert wrong not in message and bad.clientid not in message
    assert key.clientid not in message


def test_unreachable_token_url(issue_key: IssueKey, emulator: Emulator) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = emulator.issue_service_key("unreachable")
    data["oauth"]["tokenurl"] = f"https://127.0.0.1:{port}/oauth/token"
    key = ServiceKey.from_mapping(data, "k")

    with pytest.raises(
        TokenEndpointError,
        match=rf"token endpoint https://127.0.0.1:{port}/oauth/token for client 'u' \(.*\) cannot be reached \(ConnectionError.*check the tokenurl of the service key, your network and HTTPS_PROXY",
    ):
        OAuthToken(key, "u", verify=str(emulator.ca_file), timeout=(2, 2)).get()


def test_plain_http_token_url_is_refused_with_the_reason(emulator: Emulator) -> None:
    data = emulator.issue_service_key("plain-http")
    data["oauth"]["tokenurl"] = "http://127.0.0.1:9/oauth/token"
    key = ServiceKey.from_mapping(data, "k")

    with pytest.raises(
        TokenEndpointError,
        match=r"uses plain http: client secrets are only sent over https: use the tokenurl of the service key as issued",
    ):
        OAuthToken(key, "p").get()


@contextmanager
def token_endpoint_at(
    handler: Callable[[Request], Response], emulator: Emulator, folder: Path
) -> Iterator[tuple[str, ServiceKey, EmulatorTls]]:
    """A key of the emulator whose tokenurl is `handler`, served over TLS: (its URL, the key, the TLS files)."""
    tls = create_tls(directory=folder)
    with serve(handler, tls) as url:
        data = emulator.issue_service_key("hostile")
        data["oauth"]["tokenurl"] = url + "/oauth/token"
        yield url, ServiceKey.from_mapping(data, "k"), tls


def test_html_login_page_is_not_mistaken_for_a_token(emulator: Emulator, tmp_path: Path) -> None:
    def login_page(_request: Request) -> Response:
        return Response("<html>Sign in</html>", content_type="text/html")

    with (
        token_endpoint_at(login_page, emulator, tmp_path) as (_url, key, tls),
        pytest.raises(TokenEndpointError) as info,
    ):
        OAuthToken(key, "html", verify=str(tls.ca_file)).get()

    assert "answered text/html instead of a JSON token (<html>Sign in</html>)" in str(info.value)
    assert "tokenurl must be the XSUAA URL ending in /oauth/token, not a login page" in str(info.value)


def test_html_answer_over_tls_names_the_fix(emulator: Emulator) -> None:
    data = emulator.issue_service_key("html-tls")
    data["oauth"]["tokenurl"] = emulator.url + "/http/no-such-flow"  # Tomcat HTML 404
    key = ServiceKey.from_mapping(data, "k")

    with pytest.raises(TokenEndpointError) as info:
        OAuthToken(key, "h", verify=str(emulator.ca_file)).get()

    assert "answered HTTP 404" in str(info.value)
    assert "check the tokenurl of the service key" in str(info.value)


def test_basic_auth_is_masked_and_works(emulator: Emulator, issue_key: IssueKey) -> None:
    key = issue_key(emulator, "basic")
    auth = BasicClientAuth(key)
    assert key.clientsecret is not None
    assert key.clientsecret.reveal() not in repr(auth)

    response = requests.get(key.url + "/http/costcenters", auth=auth, verify=str(emulator.ca_file), timeout=10)

    assert response.status_code == 200
    assert emulator.counters.tokens_issued(key.clientid) == 0
    assert key.clientsecret.reveal() not in redact_text(f"{auth.username}:{auth.password}")


@pytest.mark.parametrize(
    ("tokenurl", "hint"),
    [
        # The key names XSUAA's plain host: the mTLS host is named (cpi-facts §2: which one keys name is UNCONFIRMED).
        (
            "https://acme.authentication.eu10.hana.ondemand.com/oauth/token",
            "; if the key is new, its tokenurl may name XSUAA's plain host: certificates are taken at "
            "https://acme.authentication.cert.eu10.hana.ondemand.com/oauth/token, so put that URL in the key's tokenurl",
        ),
        # The key already names the mTLS host, or another host altogether (the emulator): nothing to add.
        ("https://acme.authentication.cert.eu10.hana.ondemand.com/oauth/token", ""),
        ("https://127.0.0.1:8443/oauth/token", ""),
    ],
)
def test_a_refused_certificate_names_xsuaas_mtls_host_when_the_key_names_the_plain_one(
    tokenurl: str, hint: str
) -> None:
    assert mtls_host_hint(tokenurl) == hint


HOSTILE_TOKENS = {
    "deep": ("[" * 100_000 + "]" * 100_000, "a JSON document that is not a token (the JSON document nests deeper"),
    "a list": ("[1, 2]", "instead of a JSON token"),
    "not json": ("{'access_token': ", "instead of a JSON token"),
    "token not text": ('{"access_token": {"x": 1}, "token_type": "bearer"}', "answered without an access_token"),
    "null token": ('{"access_token": null, "token_type": "bearer"}', ""),
    "bomb": (None, "answered too much"),
}


@pytest.mark.parametrize("kind", list(HOSTILE_TOKENS))
def test_a_hostile_token_answer_is_one_token_endpoint_error(emulator: Emulator, tmp_path: Path, kind: str) -> None:
    import gzip

    body, said = HOSTILE_TOKENS[kind]

    def token_endpoint(_request: Request) -> Response:
        if body is None:
            bomb = gzip.compress(b" " * (80 * 1024 * 1024))
            return Response(bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
        return Response(body, content_type="application/json")

    with (
        token_endpoint_at(token_endpoint, emulator, tmp_path) as (url, key, tls),
        pytest.raises(TokenEndpointError) as info,
    ):
        OAuthToken(key, "hostile", verify=str(tls.ca_file)).get()

    message = str(info.value)
    assert message.startswith(f"token endpoint {url}/oauth/token for client 'hostile'"), message
    assert said in message and "\n" not in message and len(message) < 600, message
    assert key.clientsecret is not None and key.clientsecret.reveal() not in message


@pytest.mark.parametrize("lifetime", ['"NaN"', '"Infinity"', "1e400", '"soon"', "-5", "{}"])
def test_a_senseless_lifetime_is_the_documented_default_not_a_token_kept_forever(
    emulator: Emulator, tmp_path: Path, lifetime: str
) -> None:
    def token_endpoint(_request: Request) -> Response:
        return Response(
            f'{{"access_token": "t0ken", "token_type": "bearer", "expires_in": {lifetime}}}',
            content_type="application/json",
        )

    clock = FakeClock()
    with token_endpoint_at(token_endpoint, emulator, tmp_path) as (_url, key, tls):
        token = OAuthToken(key, "odd", verify=str(tls.ca_file), clock=clock)
        assert token.get() == "t0ken"
        clock.now += 3600  # the documented default lifetime has run out: a new token is fetched
        token.get()
    expected = 1 if lifetime == "-5" else 2  # a negative lifetime is one second: refreshed at every use
    assert token.fetch_count >= expected, token.fetch_count
