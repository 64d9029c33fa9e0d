"""A small Cloud Foundry V3 client (requests): API root discovery, a UAA token for the `cf` client, JSON calls.

The token comes from the cf CLI session (`cfsession.py`, refreshed with its refresh token when expired) or
from the password grant of client `cf` with an empty secret, user and password taken from the environment
only (requests-oauthlib does both grants). Every call passes `verify=` itself: requests lets
REQUESTS_CA_BUNDLE override a session's setting. Errors come back in the V3 envelope
`{"errors": [{"code", "title", "detail"}]}` and become `CloudFoundryError`; a 429 is retried after its
`Retry-After`, a 401 once after a token refresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import requests
from oauthlib.oauth2 import LegacyApplicationClient, OAuth2Error
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from iflowtest.bounds.answers import BoundedAdapter
from iflowtest.calls.session import HarnessAdapter
from iflowtest.credentials.tokens import drop_senseless_lifetime
from iflowtest.errors import CloudFoundryError, CloudFoundryUnreachableError, IflowCallError
from iflowtest.provisioning.cfsession import CfSession, token_expired
from iflowtest.redaction import Secret, error_reason, redact_text

CF_CLIENT: Final = "cf"
MAX_RATE_LIMIT_RETRIES: Final = 3
MAX_RETRY_AFTER_SECONDS: Final = 60.0


@dataclass(frozen=True)
class CfCredentials:
    """How to get a CF token: a user and password (environment), or a cf CLI session."""

    username: str | None = None
    password: Secret | None = None
    session: CfSession | None = None

    def describe(self) -> str:
        """Who is calling, for messages (never the password)."""
        if self.username:
            return f"user {self.username!r}"
        return f"the cf CLI session in {self.session.path}" if self.session else "nobody"


class CloudFoundryClient:
    """Talks to one Cloud Foundry API as one user; thread-safe."""

    def __init__(
        self,
        api: str,
        credentials: CfCredentials,
        *,
        verify: bool | str = True,
        timeout: tuple[float, float] = (10.0, 60.0),
        wait: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api.rstrip("/")
        self.credentials = credentials
        self.verify = verify
        self.timeout = timeout
        self._wait = wait
        self._http = requests.Session()
        self._http.mount("https://", HarnessAdapter())  # unverified calls: one TLS context, not one a call
        self._http.mount("http://", HarnessAdapter())  # answers read with bounds (bounds.answers)
        self._lock = threading.Lock()
        self._token: Secret | None = None
        self._refresh: Secret | None = credentials.session.refresh_token if credentials.session else None
        self._uaa: str | None = None
        if credentials.session is not None and credentials.session.bearer:
            self._token = Secret(credentials.session.bearer)

    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()

    # ------------------------------------------------------------ discovery and tokens
    def uaa_url(self) -> str:
        """The UAA base URL from the API root's `uaa` (or `login`) link."""
        if self._uaa is None:
            root = self._send("GET", self.api + "/", authenticated=False)
            links = root.get("links") if isinstance(root, dict) else None
            links = links if isinstance(links, dict) else {}
            link = links.get("uaa") or links.get("login") or {}
            href = link.get("href") if isinstance(link, dict) else None
            if not isinstance(href, str):
                raise CloudFoundryError(
                    f"{self.api}/ is not a Cloud Foundry API root (no links.uaa): set IFLOWTEST_CF_API to the API "
                    "URL `cf api` shows, such as https://api.cf.eu10.hana.ondemand.com"
                )
            self._uaa = href.rstrip("/")
        return self._uaa

    def token(self) -> str:
        """A valid access token: the cached one, a refreshed one, or a new one from the password grant."""
        with self._lock:
            if self._token is not None and not token_expired(self._token.reveal()):
                return self._token.reveal()
            if self._refresh is not None:
                self._fetch_token(refresh=True)
            elif self.credentials.username and self.credentials.password is not None:
                self._fetch_token(refresh=False)
            else:
                raise CloudFoundryError(
                    f"no usable Cloud Foundry login for {self.api}: the cf CLI session has no valid token; run "
                    f"`cf login -a {self.api}`, or set IFLOWTEST_CF_USERNAME and IFLOWTEST_CF_PASSWORD"
                )
            assert self._token is not None
            return self._token.reveal()

    def _drop_token(self, sent: str) -> None:
        with self._lock:
            if self._token is not None and self._token.reveal() == sent:
                self._token = None

    def _fetch_token(self, *, refresh: bool) -> None:
        token_url = self.uaa_url() + "/oauth/token"
        session = self.credentials.session
        client_id = session.uaa_client if session else CF_CLIENT
        client_secret = session.uaa_client_secret.reveal() if session else ""
        oauth = OAuth2Session(client=LegacyApplicationClient(client_id=client_id))
        for scheme in ("https://", "http://"):
            oauth.mount(scheme, BoundedAdapter())  # a token answer is read with bounds like any other
        who = self.credentials.describe()
        fix = (
            f"the refresh token of {who} is no longer valid: run `cf login -a {self.api}` again"
            if refresh
            else "check IFLOWTEST_CF_USERNAME and IFLOWTEST_CF_PASSWORD (2FA users append their passcode "
            f"to the password), or log in with `cf login -a {self.api}` and unset them"
        )

        def check(response: requests.Response) -> requests.Response:
            # Before oauthlib parses the answer: UAA's own status and error text make the message.
            if response.status_code != 200:
                try:
                    body = response.json()
                except ValueError:
                    body = {}
                error = body.get("error", "") if isinstance(body, dict) else ""
                description = body.get("error_description", "") if isinstance(body, dict) else ""
                raise CloudFoundryError(
                    f"Cloud Foundry UAA {token_url} rejected {who} ({response.status_code} {error}: "
                    f"{redact_text(str(description))}): {fix}",
                    status=response.status_code,
                )
            try:
                token = response.json()  # bounded (bounds.answers): oauthlib's own parse is not
            except ValueError as exc:
                token = exc
            if not isinstance(token, dict):
                raise CloudFoundryError(
                    f"Cloud Foundry UAA {token_url} answered no JSON token ({token if isinstance(token, ValueError) else type(token).__name__}): "
                    "IFLOWTEST_CF_API must be the Cloud Foundry API URL (its UAA answers the login)"
                )
            drop_senseless_lifetime(response, token)
            return response

        oauth.register_compliance_hook("access_token_response", check)
        oauth.register_compliance_hook("refresh_token_response", check)
        try:
            if refresh:
                assert self._refresh is not None
                answer: dict[str, Any] = oauth.refresh_token(
                    token_url,
                    refresh_token=self._refresh.reveal(),
                    auth=HTTPBasicAuth(client_id, client_secret),
                    timeout=self.timeout,
                    verify=self.verify,
                )
            else:
                assert self.credentials.username and self.credentials.password is not None
                answer = oauth.fetch_token(
                    token_url,
                    username=self.credentials.username,
                    password=self.credentials.password.reveal(),
                    auth=HTTPBasicAuth(client_id, client_secret),
                    include_client_id=False,
                    timeout=self.timeout,
                    verify=self.verify,
                )
        except OAuth2Error as exc:
            raise CloudFoundryError(
                f"Cloud Foundry UAA {token_url} rejected {who} ({exc.status_code} {exc.error}: "
                f"{redact_text(str(exc.description or ''))}): {fix}",
                status=exc.status_code,
            ) from None
        except requests.RequestException as exc:
            raise CloudFoundryUnreachableError(
                f"Cloud Foundry UAA {token_url} cannot be reached ({error_reason(exc)}): check IFLOWTEST_CF_API, "
                "your network and IFLOWTEST_CA_BUNDLE"
            ) from None
        except (IflowCallError, TypeError, AttributeError, ValueError, OverflowError) as exc:  # no readable token
            raise CloudFoundryError(
                f"Cloud Foundry UAA {token_url} answered no token the harness can read ({type(exc).__name__}): "
                "IFLOWTEST_CF_API must be the Cloud Foundry API URL (its UAA answers the login)"
            ) from None
        finally:
            oauth.close()
        if not isinstance(answer.get("access_token"), str):
            raise CloudFoundryError(
                f"Cloud Foundry UAA {token_url} answered without an access_token: check IFLOWTEST_CF_API"
            )
        self._token = Secret(str(answer["access_token"]))
        if answer.get("refresh_token"):
            self._refresh = Secret(str(answer["refresh_token"]))

    # ------------------------------------------------------------ calls
    def get(self, path: str, **params: str) -> Any:
        """GET a V3 path (such as `/v3/spaces`) or an absolute URL."""
        return self._send("GET", self._url(path), params=params or None)

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        """POST JSON; returns the response (202 answers carry the job in `Location`)."""
        return self._send("POST", self._url(path), json=body, raw=True)  # type: ignore[no-any-return]

    def delete(self, path: str) -> requests.Response:
        """DELETE; returns the response (202 + `Location` job, or 204)."""
        return self._send("DELETE", self._url(path), raw=True)  # type: ignore[no-any-return]

    def list(self, path: str, **params: str) -> Iterator[dict[str, Any]]:
        """Every resource of a paginated list, following `pagination.next`."""
        url = self._url(path)
        page: Any = self.get(url, **params)
        seen = {url}
        while True:
            resources = page.get("resources", []) if isinstance(page, dict) else None
            pagination = page.get("pagination") if isinstance(page, dict) else None
            following = pagination.get("next") if isinstance(pagination, dict) else None
            shaped = following is None or (isinstance(following, dict) and isinstance(following.get("href"), str))
            if not shaped or not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
                raise CloudFoundryError(
                    f"GET {url} answered no V3 list of resources: IFLOWTEST_CF_API must be the Cloud Foundry API URL"
                )
            yield from resources
            if not following:
                return
            link = urlsplit(following["href"])
            # The token goes with every page: it is read from the API's own host whatever host the link names.
            url = urlunsplit((*urlsplit(self.api)[:2], link.path, link.query, ""))
            if url in seen:
                raise CloudFoundryError(
                    f"GET {path}: the API's next-page links go round in a circle (back to {link.path})"
                )
            seen.add(url)
            page = self.get(url)

    def _url(self, path: str) -> str:
        return path if path.startswith(("https://", "http://")) else self.api + path

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        raw: bool = False,
        authenticated: bool = True,
    ) -> Any:
        refreshed = False
        attempts = 0
        while True:
            headers = {"Accept": "application/json"}
            sent = ""
            if authenticated:
                sent = self.token()
                headers["Authorization"] = f"bearer {sent}"
            try:
                response = self._http.request(
                    method, url, params=params, json=json, headers=headers, timeout=self.timeout, verify=self.verify
                )
            except requests.RequestException as exc:
                raise CloudFoundryUnreachableError(
                    f"Cloud Foundry API {self.api} cannot be reached ({error_reason(exc)}): check IFLOWTEST_CF_API "
                    "(`cf api` shows it), your network and IFLOWTEST_CA_BUNDLE"
                ) from None
            if response.status_code == 401 and authenticated and not refreshed:
                self._drop_token(sent)
                refreshed = True
                continue
            if response.status_code == 429 and attempts < MAX_RATE_LIMIT_RETRIES:
                attempts += 1
                self._wait(_retry_after(response))
                continue
            if response.status_code >= 400:
                raise self._error(method, url, response)
            if raw:
                return response
            try:
                return response.json()
            except ValueError as exc:
                raise CloudFoundryError(
                    f"{method} {url.split('?')[0]} answered {response.headers.get('Content-Type', 'no content type')} "
                    f"that is not JSON ({exc}): IFLOWTEST_CF_API must be the Cloud Foundry API URL"
                ) from None

    def _error(self, method: str, url: str, response: requests.Response) -> CloudFoundryError:
        status = response.status_code
        code, title, detail = envelope(response)
        what = f"{method} {url.split('?')[0]} answered {status} {title or ''}: {detail}".replace("  ", " ")
        who = self.credentials.describe()
        if status == 401:
            fix = f"the token of {who} was refused: log in again with `cf login -a {self.api}`, or check IFLOWTEST_CF_USERNAME/IFLOWTEST_CF_PASSWORD"
        elif status == 403:
            fix = (
                f"{who} lacks the Space Developer role in the target space: ask an org or space manager for it, "
                "then log in again with `cf login`"
            )
        elif status == 429:
            fix = f"Cloud Foundry kept rate-limiting after {MAX_RATE_LIMIT_RETRIES} retries: run again later"
        else:
            fix = ""
        message = f"{what}: {fix}" if fix else what
        return CloudFoundryError(redact_text(message), status=status, code=code, title=title)


def envelope(response: requests.Response) -> tuple[int | None, str | None, str]:
    """(code, title, detail) of the first error of a V3 error answer (detail falls back to the body)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        code = first.get("code")
        return (code if isinstance(code, int) else None, first.get("title"), str(first.get("detail", "")))
    return None, None, " ".join(response.text[:200].split()) or "empty body"


def _retry_after(response: requests.Response) -> float:
    value = response.headers.get("Retry-After", "1")
    try:
        seconds = float(value)
    except ValueError:
        seconds = 1.0  # an HTTP-date: rare on CF; a short pause is enough to try again
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)
