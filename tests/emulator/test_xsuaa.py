"""The emulated XSUAA token endpoint: both credential styles, UAA's error answers and the JWT it signs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote

import jwt
import pytest
import requests

from iflowtest.emulator import Emulator

GRANT = {"grant_type": "client_credentials"}
BAD_CREDENTIALS = {"error": "unauthorized", "error_description": "Bad credentials"}


def post_token(emu: Emulator, **kwargs: Any) -> requests.Response:
    # verify per request: REQUESTS_CA_BUNDLE in the environment would beat a Session's verify.
    return requests.post(emu.url + "/oauth/token", verify=str(emu.ca_file), timeout=5, **kwargs)


def issue(emu: Emulator, name: str = "sender", **options: Any) -> dict[str, str]:
    oauth: dict[str, str] = emu.issue_service_key(name, **options)["oauth"]
    return oauth


def claims_of(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


@pytest.mark.parametrize("grant_in", ["query", "body"])
@pytest.mark.parametrize("credentials_in", ["basic", "form"])
def test_token_for_either_credential_style(emulator: Emulator, credentials_in: str, grant_in: str) -> None:
    key = issue(emulator)
    kwargs: dict[str, Any] = {"headers": {"Accept": "application/json"}}
    form: dict[str, str] = {}
    if credentials_in == "basic":
        kwargs["auth"] = (key["clientid"], key["clientsecret"])
    else:
        form.update(client_id=key["clientid"], client_secret=key["clientsecret"])
    if grant_in == "query":
        kwargs["params"] = GRANT
    else:
        form.update(GRANT)

    response = post_token(emulator, data=form or None, **kwargs)

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "jti"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3599
    assert body["scope"] == "it-rt-emulated-tenant!b196.ESBMessaging.send"


def test_bad_secret_is_401_in_uaa_wording(emulator: Emulator) -> None:
    key = issue(emulator)

    response = post_token(emulator, params=GRANT, auth=(key["clientid"], key["clientsecret"] + "x"))

    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS
    assert response.headers["WWW-Authenticate"] == (
        'Basic realm="UAA/client", error="unauthorized", error_description="Bad credentials"'
    )


def test_unknown_and_revoked_clients_are_bad_credentials(emulator: Emulator) -> None:
    key = issue(emulator, "revoked")
    emulator.revoke_client(key["clientid"])

    unknown = post_token(emulator, data={**GRANT, "client_id": "sb-nobody", "client_secret": "x"})
    revoked = post_token(emulator, params=GRANT, auth=(key["clientid"], key["clientsecret"]))

    assert (unknown.status_code, unknown.json()) == (401, BAD_CREDENTIALS)
    assert (revoked.status_code, revoked.json()) == (401, BAD_CREDENTIALS)


def test_missing_credentials(emulator: Emulator) -> None:
    response = post_token(emulator, params=GRANT)

    assert response.status_code == 401
    assert response.json() == {
        "error": "unauthorized",
        "error_description": "Full authentication is required to access this resource",
    }


def test_only_client_credentials_is_served(emulator: Emulator) -> None:
    key = issue(emulator)
    auth = (key["clientid"], key["clientsecret"])

    password = post_token(emulator, data={"grant_type": "password", "username": "u", "password": "p"}, auth=auth)
    missing = post_token(emulator, auth=auth)

    assert password.status_code == 400
    assert password.json() == {
        "error": "unsupported_grant_type",
        "error_description": "Unsupported grant type: password",
    }
    assert missing.status_code == 400
    assert missing.json() == {"error": "invalid_request", "error_description": "Missing grant type"}


def test_client_without_the_grant_type(emulator: Emulator) -> None:
    key = issue(emulator, "password-only", grant_types=["password"])

    response = post_token(emulator, params=GRANT, auth=(key["clientid"], key["clientsecret"]))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_get_is_not_allowed(emulator: Emulator) -> None:
    response = requests.get(emulator.url + "/oauth/token", params=GRANT, verify=str(emulator.ca_file), timeout=5)

    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_form_encoded_basic_credentials_are_accepted(emulator: Emulator) -> None:
    key = issue(emulator)
    # RFC 6749 2.3.1: id and secret are form-encoded before Basic encoding ("|", "!" and "$" change).
    pair = f"{quote(key['clientid'], safe='')}:{quote(key['clientsecret'], safe='')}"
    header = "Basic " + base64.b64encode(pair.encode()).decode()

    response = post_token(emulator, params=GRANT, headers={"Authorization": header})

    assert response.status_code == 200


def test_jwt_claims(fresh_emulator: Emulator) -> None:
    key = issue(fresh_emulator, roles=["ESBMessaging.send", "ESBMessaging_DE"])

    body = post_token(fresh_emulator, params=GRANT, auth=(key["clientid"], key["clientsecret"])).json()

    token = body["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = claims_of(token)
    assert claims["client_id"] == claims["cid"] == claims["sub"] == key["clientid"]
    assert claims["scope"] == [
        "it-rt-emulated-tenant!b196.ESBMessaging.send",
        "it-rt-emulated-tenant!b196.ESBMessaging_DE",
    ]
    assert body["scope"] == " ".join(claims["scope"])
    assert claims["grant_type"] == "client_credentials"
    assert claims["jti"] == body["jti"]
    assert claims["exp"] - claims["iat"] == body["expires_in"] == 3599
    assert claims["iss"] == key["tokenurl"]
    assert claims["zid"] == fresh_emulator.tenant.zone_id
    assert claims["ext_attr"]["zdn"] == "emulated-tenant"


def test_tokens_verify_against_the_published_token_keys(fresh_emulator: Emulator) -> None:
    # As a resource server (@sap/xssec) does: follow `jku`, pick the key by `kid`, check the RS256 signature.
    key = issue(fresh_emulator)
    token = post_token(fresh_emulator, params=GRANT, auth=(key["clientid"], key["clientsecret"])).json()["access_token"]
    header = jwt.get_unverified_header(token)

    assert header["jku"] == f"{fresh_emulator.url}/token_keys"
    published = requests.get(header["jku"], verify=str(fresh_emulator.ca_file), timeout=10).json()
    jwks = jwt.PyJWKSet.from_dict(published)
    claims = jwt.decode(
        token, jwks[header["kid"]].key, algorithms=["RS256"], audience=key["clientid"], options={"verify_exp": False}
    )

    assert claims["cid"] == key["clientid"]
    assert published["keys"][0]["value"].startswith("-----BEGIN PUBLIC KEY-----")
    assert published["keys"][0]["alg"] == "RS256"


def test_a_token_signed_with_the_public_key_as_hmac_secret_is_refused(fresh_emulator: Emulator) -> None:
    # The algorithm-confusion attack: an HS256 token keyed with the public PEM must not pass as RS256.
    key = issue(fresh_emulator, roles=["ESBMessaging.send"])
    token = post_token(fresh_emulator, params=GRANT, auth=(key["clientid"], key["clientsecret"])).json()["access_token"]
    header = jwt.get_unverified_header(token)
    pem = requests.get(header["jku"], verify=str(fresh_emulator.ca_file), timeout=10).json()["keys"][0]["value"]
    forged = base64url_hs256(claims_of(token), {"alg": "HS256", "kid": header["kid"]}, pem.encode())

    answer = requests.get(
        f"{fresh_emulator.url}/http/costcenters",
        headers={"Authorization": f"Bearer {forged}"},
        verify=str(fresh_emulator.ca_file),
        timeout=10,
    )

    assert answer.status_code == 401


def base64url_hs256(claims: dict[str, object], header: dict[str, object], secret: bytes) -> str:
    """An HS256 JWT made by hand: PyJWT itself refuses to use a PEM key as an HMAC secret."""

    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

    signing_input = f"{part(json.dumps(header).encode())}.{part(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


def test_times_follow_the_emulator_clock(fresh_emulator: Emulator) -> None:
    key = issue(fresh_emulator)
    auth = (key["clientid"], key["clientsecret"])
    before = claims_of(post_token(fresh_emulator, params=GRANT, auth=auth).json()["access_token"])

    fresh_emulator.advance_clock(7200)
    after = claims_of(post_token(fresh_emulator, params=GRANT, auth=auth).json()["access_token"])

    assert 7200 <= after["iat"] - before["iat"] <= 7202


def test_lifetime_setting_and_per_client_validity(fresh_emulator: Emulator) -> None:
    fresh_emulator.token_lifetime = 60
    short = issue(fresh_emulator, "short")
    long = issue(fresh_emulator, "long", token_validity=43200)

    short_body = post_token(fresh_emulator, params=GRANT, auth=(short["clientid"], short["clientsecret"])).json()
    long_body = post_token(fresh_emulator, params=GRANT, auth=(long["clientid"], long["clientsecret"])).json()

    assert fresh_emulator.token_lifetime == 60
    assert short_body["expires_in"] == 60
    assert long_body["expires_in"] == 43199  # XSUAA answers the validity minus one second


def test_api_plan_scopes(emulator: Emulator) -> None:
    key = issue(emulator, "monitor", plan="api", roles=["MonitoringDataRead"])

    body = post_token(emulator, params=GRANT, auth=(key["clientid"], key["clientsecret"])).json()

    assert body["scope"] == "it!b117.MonitoringDataRead"


def test_token_counters(fresh_emulator: Emulator) -> None:
    key = issue(fresh_emulator)
    other = issue(fresh_emulator, "other")
    post_token(fresh_emulator, params=GRANT, auth=(key["clientid"], key["clientsecret"]))
    post_token(fresh_emulator, params=GRANT, auth=(key["clientid"], "wrong"))
    post_token(fresh_emulator, params=GRANT, auth=(other["clientid"], other["clientsecret"]))

    counters = fresh_emulator.counters
    assert counters.tokens_issued(key["clientid"]) == 1
    assert counters.token_requests(key["clientid"]) == 2
    assert counters.tokens_issued() == 2
    assert counters.token_requests() == 3
    assert counters.snapshot()["tokens_issued"]["by_client"] == {key["clientid"]: 1, other["clientid"]: 1}
