"""The XSUAA token endpoint (`POST /oauth/token`), its signing keys (`GET /token_keys`) and the check of its tokens.

Only the client-credentials grant is served. Wording and shapes follow UAA as SAP runs it: errors are
`{"error": ..., "error_description": ...}`, a bad client is 401 "Bad credentials" with the older
`WWW-Authenticate` header, a token answer is never cached. Tokens are RS256 JWTs whose `jku` header points
at `token_keys` and whose `kid` names the key there, as `@sap/xssec` validates them (cpi-facts, XSUAA tokens).
"""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from werkzeug.wrappers import Request, Response

from iflowtest.emulator.tenant import IssuedClient, Tenant
from iflowtest.emulator.tls import certificate_fingerprint

TOKEN_PATH: Final = "/oauth/token"
TOKEN_KEYS_PATH: Final = "/token_keys"
_ALGORITHM: Final = "RS256"
_BAD_CREDENTIALS: Final = "Bad credentials"
BAD_SECRET_ERRORS: Final = ("unauthorized", "unauthorized_client", "invalid_client")
# SAP KBA 3224701: what CPI answers when a client certificate belongs to no service key.
CERTIFICATE_NOT_CONFIGURED: Final = (
    "Either the client certificate is not configured exactly once in a service key of a Process Integration "
    "Runtime service instance or client-certificate authentication was not enabled for your tenant."
)


@dataclass(frozen=True)
class IssuedToken:
    """A freshly signed access token with the fields the token answer repeats."""

    access_token: str
    jti: str
    expires_in: int


@functools.cache
def signing_key() -> rsa.RSAPrivateKey:
    """The RSA key tokens are signed with: made once per process, since a 2048-bit key takes ~50 ms to make.

    Emulators still refuse each other's tokens: each checks that the token's `kid` is its own.
    """
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def token_keys(kid: str) -> dict[str, Any]:
    """The `token_keys` document: the public key as a JWK, with UAA's PEM `value` beside it."""
    public = signing_key().public_key()
    jwk = json.loads(RSAAlgorithm.to_jwk(public))
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"keys": [{**jwk, "kid": kid, "alg": _ALGORITHM, "use": "sig", "value": pem.decode("ascii")}]}


class TokenEndpoint:
    """Issues RS256 JWTs to the clients of one tenant, publishes their key and verifies them on the runtime."""

    def __init__(self, tenant: Tenant) -> None:
        self._tenant = tenant

    def handle(self, request: Request) -> Response:
        """Answer one request to the token endpoint or its `token_keys`."""
        if request.path == TOKEN_KEYS_PATH:
            if request.method != "GET":
                return _error(405, "method_not_allowed", f"Request method '{request.method}' not supported")
            return _json(200, token_keys(self._tenant.token_kid))
        if request.method != "POST":
            return _error(
                405,
                "method_not_allowed",
                f"Request method '{request.method}' not supported",
                headers={"Allow": "POST"},
            )
        clientid, clientsecret = _client_credentials(request)
        if clientid is None:
            self._tenant.counters.count_token_request(None, issued=False)
            return _error(
                401,
                "unauthorized",
                "Full authentication is required to access this resource",
                headers={"WWW-Authenticate": 'Basic realm="UAA/client"'},
            )
        fingerprint = client_certificate_fingerprint(request)
        if clientsecret is None and fingerprint is not None:
            # mTLS (certificate keys): client_id in the form, no secret, the certificate proves the client.
            client = self._tenant.clients.authenticate_certificate(fingerprint, clientid)
            if client is None:
                self._tenant.counters.count_token_request(clientid, issued=False)
                return _error(401, "invalid_client", CERTIFICATE_NOT_CONFIGURED)
            response = self._grant(request, client)
            self._tenant.counters.count_token_request(client.clientid, issued=response.status_code == 200)
            return response
        client = self._authenticate(clientid, clientsecret or "")
        if client is None:
            self._tenant.counters.count_token_request(clientid, issued=False)
            code = self._tenant.bad_secret_error
            # The older UAA names the error in WWW-Authenticate too; the newer one (unauthorized_client) does not.
            challenge = f', error="{code}", error_description="{_BAD_CREDENTIALS}"' if code == "unauthorized" else ""
            return _error(
                401, code, _BAD_CREDENTIALS, headers={"WWW-Authenticate": f'Basic realm="UAA/client"{challenge}'}
            )
        response = self._grant(request, client)
        self._tenant.counters.count_token_request(client.clientid, issued=response.status_code == 200)
        return response

    def _authenticate(self, clientid: str, clientsecret: str) -> IssuedClient | None:
        client = self._tenant.clients.authenticate(clientid, clientsecret)
        if client is None:
            # RFC 6749 asks clients to form-encode id and secret before Basic encoding; UAA accepts both.
            client = self._tenant.clients.authenticate(unquote(clientid), unquote(clientsecret))
        return client

    def _grant(self, request: Request, client: IssuedClient) -> Response:
        grant_type = request.args.get("grant_type") or request.form.get("grant_type")
        if not grant_type:
            return _error(400, "invalid_request", "Missing grant type")
        if grant_type != "client_credentials":
            return _error(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")
        if "client_credentials" not in client.grant_types:
            return _error(401, "invalid_client", "Unauthorized grant type: client_credentials")
        token = self.issue_token(client, issuer=request.base_url, jku=request.host_url.rstrip("/") + TOKEN_KEYS_PATH)
        body = {
            "access_token": token.access_token,
            "token_type": "bearer",
            "expires_in": token.expires_in,
            "scope": " ".join(client.scopes()),
            "jti": token.jti,
        }
        return _json(200, body)

    def issue_token(self, client: IssuedClient, *, issuer: str, jku: str) -> IssuedToken:
        """A signed access token for ``client``."""
        # The instance's validity is what XSUAA rounds down by a second (3600 -> 3599, 43200 -> 43199).
        if client.token_validity is not None:
            expires_in = max(client.token_validity - 1, 1)
        else:
            expires_in = self._tenant.token_lifetime
        issued_at = int(self._tenant.clock.now())
        jti = uuid.uuid4().hex
        claims: dict[str, Any] = {
            "jti": jti,
            "ext_attr": {
                "enhancer": "XSUAA",
                "subaccountid": self._tenant.zone_id,
                "zdn": self._tenant.subdomain,
                "serviceinstanceid": client.instance_id,
            },
            "sub": client.clientid,
            "scope": client.scopes(),
            "client_id": client.clientid,
            "cid": client.clientid,
            "azp": client.clientid,
            "grant_type": "client_credentials",
            "iat": issued_at,
            "exp": issued_at + expires_in,
            "iss": issuer,
            "zid": self._tenant.zone_id,
            "aud": sorted({client.xsappname, client.clientid}),
        }
        headers = {"jku": jku, "kid": self._tenant.token_kid}
        access_token = jwt.encode(claims, signing_key(), algorithm=_ALGORITHM, headers=headers)
        return IssuedToken(access_token=access_token, jti=jti, expires_in=expires_in)

    def authenticate_request(self, request: Request) -> IssuedClient | None:
        """The client behind a request's Basic credentials or bearer token (runtime and API alike), or None."""
        auth = request.authorization
        if auth is None:
            return None
        if auth.type == "basic" and auth.username is not None and auth.password is not None:
            return self._tenant.clients.authenticate(auth.username, auth.password)
        if auth.type == "bearer" and auth.token:
            return self.verify(auth.token)
        return None

    def verify(self, token: str) -> IssuedClient | None:
        """The live client a token was issued to, or None if it is forged, expired or revoked."""
        try:
            if jwt.get_unverified_header(token).get("kid") != self._tenant.token_kid:
                return None  # another emulator's token (or another tenant's key)
            claims = jwt.decode(
                token,
                signing_key().public_key(),
                algorithms=[_ALGORITHM],
                # Time claims are checked against the emulator's clock below, not the wall clock.
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_aud": False,
                    "require": ["exp", "cid"],
                },
            )
        except jwt.InvalidTokenError:
            return None
        exp = claims["exp"]
        if not isinstance(exp, int | float) or self._tenant.clock.now() >= exp:
            return None
        client = self._tenant.clients.get(str(claims["cid"]))
        if client is None or client.revoked:
            return None
        return client


def client_certificate_fingerprint(request: Request) -> str | None:
    """SHA-256 fingerprint of the client certificate of the TLS connection (already verified by the CA), or None."""
    pem = request.environ.get("SSL_CLIENT_CERT")
    return certificate_fingerprint(pem) if pem else None


def _client_credentials(request: Request) -> tuple[str | None, str | None]:
    auth = request.authorization
    if auth is not None and auth.type == "basic" and auth.username:
        return auth.username, auth.password
    clientid = request.form.get("client_id")
    if clientid:
        return clientid, request.form.get("client_secret")
    return None, None


def _error(status: int, error: str, description: str, *, headers: dict[str, str] | None = None) -> Response:
    return _json(status, {"error": error, "error_description": description}, headers=headers)


def _json(status: int, body: dict[str, Any], *, headers: dict[str, str] | None = None) -> Response:
    response = Response(
        json.dumps(body),
        status=status,
        content_type="application/json;charset=UTF-8",
        headers=headers,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response
