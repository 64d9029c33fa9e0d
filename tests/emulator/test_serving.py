"""The emulator's HTTP server: kept-alive connections (plain and TLS), resets on them, stop closes them."""

from __future__ import annotations

import base64
import http.client
import ssl
from collections.abc import Iterator
from contextlib import closing
from urllib.parse import urlsplit

import pytest

from iflowtest.emulator import Emulator

HEALTH = "/_emulator/health"
PATH = "/http/costcenters"


def connect(emu: Emulator) -> http.client.HTTPConnection:
    """One `http.client` connection to the emulator's runtime host (HTTPS with its CA unless plain)."""
    parts = urlsplit(emu.url)
    assert parts.hostname is not None and parts.port is not None
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=str(emu.ca_file))
        return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=5, context=context)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)


def basic(emu: Emulator) -> dict[str, str]:
    """Basic auth headers of a fresh sender client."""
    key = emu.issue_service_key("sender", roles=("ESBMessaging.send", "ESBMessaging_DE"))["oauth"]
    pair = f"{key['clientid']}:{key['clientsecret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


@pytest.fixture(params=["tls", "plain"])
def served(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """An emulator of this test alone, over TLS and over plain HTTP."""
    with Emulator(tls=request.param == "tls") as emu:
        yield emu
        emu.check_errors()


def get(connection: http.client.HTTPConnection, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection.request("GET", path, headers=headers or {})
    answer = connection.getresponse()
    return answer.status, answer.read()


def test_consecutive_calls_reuse_one_connection(served: Emulator) -> None:
    headers = basic(served)
    with closing(connect(served)) as connection:
        assert get(connection, HEALTH) == (200, b"ok")
        first = connection.sock
        status, _ = get(connection, PATH + "?controllingArea=A000", headers)
        assert status == 200
        connection.request("GET", HEALTH)
        answer = connection.getresponse()
        assert answer.read() == b"ok"
        assert answer.getheader("Connection") is None  # no "close": HTTP/1.1 keeps the connection
        assert answer.version == 11
        assert connection.sock is first  # http.client reconnects (a new socket) only when the server closed


def test_an_unread_request_body_does_not_spoil_the_next_request(served: Emulator) -> None:
    with closing(connect(served)) as connection:
        # The health endpoint never reads the body; the server must drain it before the next request line.
        connection.request("POST", HEALTH, body=b"x" * 50_000, headers={"Content-Type": "text/plain"})
        answer = connection.getresponse()
        assert (answer.status, answer.read()) == (200, b"ok")
        first = connection.sock
        assert get(connection, HEALTH) == (200, b"ok")
        assert connection.sock is first


def test_a_reset_fault_resets_a_kept_alive_connection(served: Emulator) -> None:
    headers = basic(served)
    fault = served.inject("ReadCostCenters", reset=True, times=1)
    with closing(connect(served)) as connection:
        assert get(connection, HEALTH) == (200, b"ok")
        with pytest.raises(ConnectionResetError):
            get(connection, PATH, headers)
    assert fault.fired == 1
    with closing(connect(served)) as connection:  # the next connection is served normally
        assert get(connection, PATH + "?controllingArea=A000", headers)[0] == 200


def test_a_mid_body_reset_sends_the_headers_then_resets(served: Emulator) -> None:
    headers = basic(served)
    served.inject("ReadCostCenters", reset_after_bytes=10, times=1)
    with closing(connect(served)) as connection:
        assert get(connection, HEALTH) == (200, b"ok")
        connection.request("GET", PATH, headers=headers)
        answer = connection.getresponse()
        assert answer.status == 200
        with pytest.raises((ConnectionResetError, http.client.IncompleteRead)):
            answer.read()


def test_latency_faults_hold_one_call_not_the_connection(served: Emulator) -> None:
    headers = basic(served)
    fault = served.inject("ReadCostCenters", latency=0.05, times=1)
    with closing(connect(served)) as connection:
        assert get(connection, PATH, headers)[0] == 200
        first = connection.sock
        assert get(connection, PATH, headers)[0] == 200
        assert connection.sock is first
    assert fault.fired == 1


def test_stop_closes_kept_alive_connections() -> None:
    emu = Emulator().start()
    connection = connect(emu)
    try:
        assert get(connection, HEALTH) == (200, b"ok")
        emu.stop()
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected, ssl.SSLError, OSError)):
            get(connection, HEALTH)  # http.client retries nothing: the old socket is closed, the port too
    finally:
        connection.close()
        emu.stop()


def test_separate_hosts_each_keep_their_connections_alive() -> None:
    with Emulator(separate_hosts=True) as emu:
        for url in (emu.url, emu.api_url, emu.token_host_url):
            parts = urlsplit(url)
            assert parts.hostname is not None
            context = ssl.create_default_context(cafile=str(emu.ca_file))
            with closing(http.client.HTTPSConnection(parts.hostname, parts.port, timeout=5, context=context)) as c:
                assert get(c, HEALTH) == (200, b"ok")
                first = c.sock
                assert get(c, HEALTH) == (200, b"ok")
                assert c.sock is first
