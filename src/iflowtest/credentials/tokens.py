"""Tokens for iFlow calls: Basic credentials, or OAuth client_credentials fetched with requests-oauthlib.

One `OAuthToken` per client per process: fetched on first use, cached, refreshed shortly before
`expires_in` runs out, and dropped once when the runtime answers 401 (see `BearerAuth`). All of it is
thread-safe, so xdist's threads, `concurrent.futures` in a test and the fixtures share one token.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import requests
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error
from requests.auth import AuthBase, HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from iflowtest.bounds.answers import BoundedAdapter, TooDeepJSONError
from iflowtest.credentials.breaker import CircuitBreaker
from iflowtest.credentials.servicekey import ServiceKey
from iflowtest.errors import ClientRejectedError, IflowCallError, TokenEndpointError, TokenEndpointUnreachableError
from iflowtest.pacing.pacer import pace
from iflowtest.redaction import Secret, error_reason, redact_text

# XSUAA answers a bad secret with `unauthorized`; upstream UAA moved to `unauthorized_client` (PR #2575);
# RFC 6749 says `invalid_client`. Which one a tenant sends is unconfirmed, so all three mean "rejected".
REJECTION_CODES: Final = frozenset({"unauthorized", "unauthorized_client", "invalid_client"})
_NOT_A_TOKEN: Final = "tokenurl must be the XSUAA URL ending in /oauth/token, not a login page"
# Refresh this long before expiry (capped at 10 % of the lifetime for short-lived test tokens).
REFRESH_MARGIN_SECONDS: Final = 60.0


class OAuthToken:
    """The cached client_credentials token of one client (thread-safe)."""

    def __init__(
        self,
        key: ServiceKey,
        client_name: str,
        *,
        verify: bool | str = True,
        timeout: tuple[float, float] = (10.0, 30.0),
        clock: Callable[[], float] = time.monotonic,
        cert: tuple[str, str] | None = None,
    ) -> None:
        if key.clientsecret is None and cert is None:
            raise ClientRejectedError(
                f"client {client_name!r} ({key.masked_clientid}) has a {key.key_type} key without a clientsecret: "
                "use auth = 'certificate' for it, or create a ClientId/Secret key"
            )
        self.key = key
        self.client_name = client_name
        self._secret: Secret | None = key.clientsecret
        # Certificate keys: the token comes over mTLS, client_id in the form and no secret (BTPCP).
        self._cert = cert
        self._verify = verify
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._value: Secret | None = None
        self._refresh_at = 0.0
        self.fetch_count = 0
        self.breaker = CircuitBreaker(client_name, clock=clock)

    def get(self) -> str:
        """A valid access token, fetched or refreshed when needed."""
        with self._lock:
            if self._value is None or self._clock() >= self._refresh_at:
                self.breaker.check()  # the token endpoint failed for this client: repeat that, send nothing
                try:
                    self._fetch()
                except TokenEndpointError as exc:  # down or answering nonsense; a rejected client is not tripped
                    self.breaker.trip(exc)
                    raise
                self.breaker.close()
            assert self._value is not None
            return self._value.reveal()

    def invalidate(self, token: str) -> None:
        """Forget `token` if it is still the cached one (another thread may already have refreshed it)."""
        with self._lock:
            if self._value is not None and self._value.reveal() == token:
                self._value = None

    def _fetch(self) -> None:
        if not self.key.tokenurl.lower().startswith("https://"):
            raise self._endpoint_error(
                "uses plain http: client secrets are only sent over https",
                "use the tokenurl of the service key as issued",
            )
        session = OAuth2Session(client=BackendApplicationClient(client_id=self.key.clientid))
        for scheme in ("https://", "http://"):
            session.mount(scheme, BoundedAdapter())  # a token answer is read with bounds like any other
        session.verify = self._verify
        session.register_compliance_hook("access_token_response", self._check_response)
        pace(self.key.tokenurl)
        started = self._clock()
        certificate_only = self._cert is not None and self._secret is None
        if certificate_only:
            credentials: dict[str, Any] = {"include_client_id": True, "cert": self._cert}
        else:
            assert self._secret is not None
            # Basic client authentication with grant_type in the body, as SAP's tooling does.
            credentials = {"include_client_id": False, "auth": HTTPBasicAuth(self.key.clientid, self._secret.reveal())}
        try:
            token: dict[str, Any] = session.fetch_token(
                token_url=self.key.tokenurl,
                timeout=self._timeout,
                headers={"Accept": "application/json"},
                # Explicit: requests lets REQUESTS_CA_BUNDLE override a session's verify, not an argument.
                verify=self._verify,
                **credentials,
            )
        except requests.exceptions.RequestException as exc:
            connection = isinstance(exc, requests.exceptions.ConnectionError)  # SSLError is one too
            if certificate_only and connection and _refused_client_certificate(exc):
                raise self._endpoint_error(
                    f"refused the TLS handshake with the client certificate ({error_reason(exc)})",
                    f"the certificate in {self.key.source} was not issued by this tenant's certificate service, "
                    "or its key was deleted: create a new certificate key (or re-provision the client)",
                ) from None
            if isinstance(exc, requests.exceptions.SSLError):
                raise self._endpoint_error(
                    f"TLS verification failed ({error_reason(exc)})",
                    "set IFLOWTEST_CA_BUNDLE to your corporate CA bundle if a proxy re-signs traffic",
                ) from None
            raise self._endpoint_error(
                f"cannot be reached ({error_reason(exc)})",
                "check the tokenurl of the service key, your network and HTTPS_PROXY",
                unreachable=connection,
            ) from None
        except OAuth2Error as exc:
            raise self._endpoint_error(f"answered with OAuth error {exc.error!r}", "check the service key") from None
        except IflowCallError as exc:  # an answer past the bounds (bounds.answers)
            raise self._endpoint_error(f"answered too much: {exc}", _NOT_A_TOKEN) from None
        except (TypeError, AttributeError, ValueError, OverflowError) as exc:  # JSON oauthlib cannot read as a token
            raise self._endpoint_error(
                f"answered a token that cannot be read ({type(exc).__name__})", _NOT_A_TOKEN
            ) from None
        finally:
            session.close()
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise self._endpoint_error("answered without an access_token", "check that tokenurl is the XSUAA token URL")
        lifetime = _lifetime(token.get("expires_in"))
        self._value = Secret(access)
        self._refresh_at = started + lifetime - min(REFRESH_MARGIN_SECONDS, lifetime * 0.1)
        self.fetch_count += 1

    def _check_response(self, response: requests.Response) -> requests.Response:
        # Runs before oauthlib parses the answer, so every non-token answer gets our own clear message.
        content_type = response.headers.get("Content-Type", "")
        body: Any = None
        if "json" in content_type:
            try:
                body = response.json()
            except TooDeepJSONError as exc:
                raise self._endpoint_error(
                    f"answered a JSON document that is not a token ({exc})", _NOT_A_TOKEN
                ) from None
            except ValueError:
                body = None
        error = body.get("error") if isinstance(body, dict) else None
        if response.status_code in (400, 401) and error in REJECTION_CODES:
            description = body.get("error_description", "") if isinstance(body, dict) else ""
            if self._secret is None:
                raise ClientRejectedError(
                    f"client {self.client_name!r} ({self.key.masked_clientid}) was rejected by {self.key.tokenurl} "
                    f"({response.status_code} {error}: {redact_text(str(description))}): the client certificate of "
                    f"its key ({self.key.source}) belongs to no live service key; create a new certificate key or "
                    f"re-provision the client{mtls_host_hint(self.key.tokenurl)}"
                )
            raise ClientRejectedError(
                f"client {self.client_name!r} ({self.key.masked_clientid}) was rejected by {self.key.tokenurl} "
                f"({response.status_code} {error}: {redact_text(str(description))}): the clientsecret in its service "
                f"key ({self.key.source}) is wrong, or the key or its instance was deleted; create a new service key "
                "and update the key, or re-provision the client"
            )
        if response.status_code != 200:
            raise self._endpoint_error(
                f"answered HTTP {response.status_code} ({_excerpt(response)})",
                "check the tokenurl of the service key and the grant types of the instance (client_credentials)",
            )
        if not isinstance(body, dict):
            raise self._endpoint_error(
                f"answered {content_type or 'no content type'} instead of a JSON token ({_excerpt(response)})",
                _NOT_A_TOKEN,
            )
        drop_senseless_lifetime(response, body)
        return response

    def _endpoint_error(self, what: str, fix: str, *, unreachable: bool = False) -> TokenEndpointError:
        return (TokenEndpointUnreachableError if unreachable else TokenEndpointError)(
            f"token endpoint {self.key.tokenurl} for client {self.client_name!r} ({self.key.masked_clientid}) "
            f"{what}: {fix}"
        )


def mtls_host_hint(tokenurl: str) -> str:
    """For a certificate key whose tokenurl names XSUAA's plain host: where XSUAA takes client certificates.

    XSUAA's mTLS token endpoint is `<subdomain>.authentication.cert.<landscape>` (SAP BTP docs); whether
    certificate keys of it-rt name that host or the plain one is not documented (cpi-facts §2, UNCONFIRMED).
    The harness uses the key's URL as issued, and names the other host when the certificate is refused there.
    """
    host = urlsplit(tokenurl).hostname or ""
    subdomain, dot, landscape = host.partition(".authentication.")
    if not dot or not subdomain or landscape.startswith("cert."):
        return ""
    cert_url = urlunsplit(urlsplit(tokenurl)._replace(netloc=f"{subdomain}.authentication.cert.{landscape}"))
    return (
        f"; if the key is new, its tokenurl may name XSUAA's plain host: certificates are taken at {cert_url}, "
        "so put that URL in the key's tokenurl"
    )


class BearerAuth(AuthBase):
    """Sends the client's OAuth token; on a 401 fetches a fresh token and resends once."""

    def __init__(self, token: OAuthToken) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        value = self.token.get()
        request.headers["Authorization"] = f"Bearer {value}"
        request.hooks["response"].append(self._retry_on_401)
        return request

    def _retry_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        request = response.request
        if response.status_code != 401 or getattr(request, "_iflowtest_retried", False):
            return response
        sent = str(request.headers.get("Authorization", ""))[len("Bearer ") :]
        self.token.invalidate(sent)
        # The same pattern as requests' HTTPDigestAuth: consume the body, resend a copy on the connection.
        response.content  # noqa: B018
        response.close()
        retry = request.copy()
        retry.headers["Authorization"] = f"Bearer {self.token.get()}"
        retry._iflowtest_retried = True  # type: ignore[attr-defined]
        retry.hooks = {"response": []}
        if response.connection is None:
            return response
        followup: requests.Response = response.connection.send(retry, **kwargs)
        followup.history.append(response)
        followup.request = retry
        return followup


class BasicClientAuth(HTTPBasicAuth):
    """clientid/clientsecret sent straight to the iFlow (documented, not recommended for production)."""

    def __init__(self, key: ServiceKey) -> None:
        if key.clientsecret is None:
            raise ClientRejectedError(
                f"Basic authentication needs a clientsecret, but the key from {key.source} is a {key.key_type} key"
            )
        super().__init__(key.clientid, key.clientsecret.reveal())

    def __repr__(self) -> str:
        return "BasicClientAuth(***)"


def _refused_client_certificate(exc: BaseException) -> bool:
    # A server that refuses a client certificate ends the handshake with an alert (TLS 1.3 may only show it
    # as a reset on the first read); a failed check of the *server's* certificate is a different problem.
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return False
    return any(sign in text for sign in ("alert", "ALERT", "reset", "EOF", "Connection aborted"))


def drop_senseless_lifetime(response: requests.Response, token: dict[str, Any]) -> None:
    """Take an `expires_in` that is no finite number out of a token answer, before oauthlib reads it.

    oauthlib turns expires_in into an int and fails on anything else (NaN, Infinity, text); such a lifetime
    is treated as absent, so the documented default applies. This is what compliance hooks are for.
    """
    if "expires_in" in token and not math.isfinite(_lifetime(token["expires_in"], default=math.nan)):
        del token["expires_in"]
        response._content = json.dumps(token).encode()  # where requests keeps a read body


def _lifetime(value: Any, default: float = 3600.0) -> float:
    """Seconds a token lives: XSUAA always sends expires_in; a missing or senseless one is the documented default."""
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return max(seconds, 1.0) if math.isfinite(seconds) else default


def _excerpt(response: requests.Response) -> str:
    text = " ".join(response.text[:200].split())
    return redact_text(text) or "empty body"
