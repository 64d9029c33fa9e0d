"""Scrubbing at the cassette boundary: every secret becomes a stable placeholder, hosts become portable."""

from __future__ import annotations

import json

import pytest
from vcr.request import Request

from iflowtest import Secret
from iflowtest.cassettes.scrub import HostMap, restore_request, restore_response, scrub_request, scrub_response

RUNTIME = "https://acme.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com"
TOKEN_URL = "https://acme.authentication.eu10.hana.ondemand.com/oauth/token"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


@pytest.fixture
def hosts() -> HostMap:
    hosts = HostMap()
    hosts.add("{runtime}", RUNTIME)
    hosts.add("{tokenurl}", TOKEN_URL)
    hosts.add("{cf}", "https://api.cf.eu10.hana.ondemand.com")
    return hosts


def response(body: bytes, content_type: str = "application/json", **headers: list[str]) -> dict:
    return {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Type": [content_type], "Content-Length": [str(len(body))], **headers},
        "body": {"string": body},
    }


def test_request_headers_forms_and_queries_lose_their_secrets(hosts: HostMap) -> None:
    request = Request(
        "POST",
        f"{TOKEN_URL}?grant_type=client_credentials&client_secret=s3cr3t-value",
        b"grant_type=client_credentials&client_id=sb-1&client_secret=s3cr3t-value",
        {
            "Authorization": "Basic c2ItMTpzM2NyM3Q=",
            "Cookie": "JSESSIONID=ABC123; __VCAP_ID__=def456",
            "X-CSRF-Token": "0F1E2D3C",
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "python-requests/2.34",
        },
    )

    scrubbed = scrub_request(request, hosts)

    assert scrubbed.uri == "{tokenurl}?grant_type=client_credentials&client_secret={clientsecret}"
    assert scrubbed.body == b"grant_type=client_credentials&client_id=sb-1&client_secret={clientsecret}"
    assert dict(scrubbed.headers) == {  # Cookie left out: which cookies a session sends depends on test order
        "Authorization": "Basic {credentials}",
        "X-CSRF-Token": "{csrf_token}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def test_bearer_and_csrf_protocol_words(hosts: HostMap) -> None:
    request = Request("GET", f"{RUNTIME}/http/x", None, {"Authorization": f"Bearer {JWT}", "X-CSRF-Token": "Fetch"})

    scrubbed = scrub_request(request, hosts)

    assert dict(scrubbed.headers) == {"Authorization": "Bearer {access_token}", "X-CSRF-Token": "Fetch"}
    assert scrubbed.uri == "{runtime}/http/x"


def test_token_response_fields_and_cookies(hosts: HostMap) -> None:
    body = json.dumps({"access_token": JWT, "refresh_token": "r-123456", "id_token": JWT, "expires_in": 3599})
    answer = response(body.encode(), **{"Set-Cookie": ["JSESSIONID=ABC123; Path=/; Secure"], "X-CSRF-Token": ["ZZ99"]})

    scrubbed = scrub_response(answer, hosts)

    assert json.loads(scrubbed["body"]["string"]) == {
        "access_token": "{access_token}",
        "refresh_token": "{refresh_token}",
        "id_token": "{id_token}",
        "expires_in": 3599,
    }
    assert scrubbed["headers"]["Set-Cookie"] == ["JSESSIONID={cookie}; Path=/; Secure"]
    assert scrubbed["headers"]["X-CSRF-Token"] == ["{csrf_token}"]
    assert scrubbed["headers"]["Content-Length"] == [str(len(scrubbed["body"]["string"]))]


def test_cf_details_credentials(hosts: HostMap) -> None:
    details = {
        "credentials": {
            "oauth": {
                "clientid": "sb-1",
                "clientsecret": "abc$def-secret",
                "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                "key": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
                "url": RUNTIME,
                "tokenurl": TOKEN_URL,
            }
        }
    }

    scrubbed = scrub_response(response(json.dumps(details).encode()), hosts)

    assert json.loads(scrubbed["body"]["string"])["credentials"]["oauth"] == {
        "clientid": "sb-1",
        "clientsecret": "{clientsecret}",
        "certificate": "{certificate}",
        "key": "{private_key}",
        "url": "{runtime}",
        "tokenurl": "{tokenurl}",
    }


def test_known_secrets_jwts_and_private_keys_anywhere_in_text(hosts: HostMap) -> None:
    Secret("echoed-secret-value-42")
    text = (
        f"error for token {JWT}: echoed-secret-value-42 "
        "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- Bearer abcdefghijklmnopqrstuvwxyz"
    )

    scrubbed = scrub_response(response(text.encode(), "text/plain"), hosts)

    assert scrubbed["body"]["string"].decode() == (
        "error for token {jwt}: {secret} {private_key} Bearer {access_token}"
    )


def test_hosts_are_replaced_whole_and_restored_for_another_profile(hosts: HostMap) -> None:
    body = f'{{"uri": "{RUNTIME}/sap/x", "other": "{RUNTIME}1/y", "token": "{TOKEN_URL}"}}'.encode()
    scrubbed = scrub_response(response(body), hosts)
    assert scrubbed["body"]["string"] == (
        b'{"uri": "{runtime}/sap/x", "other": "' + RUNTIME.encode() + b'1/y", "token": "{tokenurl}"}'
    )

    elsewhere = HostMap()
    elsewhere.add("{runtime}", "https://127.0.0.1:50123")
    restored = restore_response(scrubbed, elsewhere)

    assert restored["body"]["string"].startswith(b'{"uri": "https://127.0.0.1:50123/sap/x"')
    assert restored["headers"]["Content-Length"] == [str(len(restored["body"]["string"]))]
    request = restore_request(Request("GET", "{runtime}/http/a?b=1", None, {}), elsewhere)
    assert request.uri == "https://127.0.0.1:50123/http/a?b=1"


def test_unknown_placeholder_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown host placeholder '\{tenant\}': use one of \{runtime\}"):
        HostMap().add("{tenant}", "https://x")


def test_binary_bodies_pass_unchanged(hosts: HostMap) -> None:
    blob = bytes(range(256))
    assert scrub_response(response(blob, "application/octet-stream"), hosts)["body"]["string"] == blob


def test_placeholders_replayed_as_secrets_stay_placeholders(hosts: HostMap) -> None:
    Secret("{access_token}")  # what an offline run's token is

    scrubbed = scrub_response(response(b'{"access_token": "x", "note": "{access_token}"}'), hosts)

    assert json.loads(scrubbed["body"]["string"]) == {"access_token": "{access_token}", "note": "{access_token}"}
