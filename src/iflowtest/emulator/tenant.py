"""The state of one emulated tenant: issued clients, its clock, counters, CSRF sessions and message log.

Every class here is shared by the server's request threads, so each guards its own state with a lock
and hands out copies, never its live containers.
"""

from __future__ import annotations

import base64
import dataclasses
import hmac
import re
import secrets
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

PLANS: Final = ("integration-flow", "api")
KEY_TYPES: Final = ("secret", "certificate")
# JSON spellings of the grant types SAP lists for it-rt instances (only client_credentials is
# exercised; the others are accepted on the key so a catalog of clients can mirror a real tenant).
GRANT_TYPES: Final = frozenset(
    {
        "client_credentials",
        "password",
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:saml2-bearer",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    }
)
_ROLE = re.compile(r"[A-Za-z0-9_.]+")
_INSTANCE_NAME = re.compile(r"[A-Za-z0-9._-]{1,32}")
# The xsappname suffix of the it-rt runtime app; real tenants show small numbers like !b196.
_RUNTIME_APP_BUILD: Final = 196
_API_APP_BUILD: Final = 117


class Clock:
    """Wall-clock time plus an offset, so tests can expire tokens without sleeping."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch as the emulator sees them."""
        with self._lock:
            return time.time() + self._offset

    def now_utc(self) -> datetime:
        """The emulator's notion of now as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now(), UTC)

    def advance(self, seconds: float) -> None:
        """Move the emulator's now by ``seconds`` (negative moves it back)."""
        with self._lock:
            self._offset += seconds


@dataclass(frozen=True)
class IssuedClient:
    """One service instance with its single service key, as the tenant sees it."""

    name: str  # the service instance name
    clientid: str
    clientsecret: str
    instance_id: str
    plan: str
    roles: tuple[str, ...]
    grant_types: tuple[str, ...]
    token_validity: int | None
    xsappname: str
    created: datetime
    revoked: bool = False

    def scopes(self) -> list[str]:
        """Token scopes: one ``<xsappname>.<role>`` per role, like XSUAA grants them."""
        return [f"{self.xsappname}.{role}" for role in self.roles]


def validate_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """Roles as a tuple, or ValueError naming the first role CPI would refuse."""
    if isinstance(roles, str):
        raise ValueError(f"roles must be a list of role names, not the string {roles!r}")
    checked = tuple(roles)
    for role in checked:
        if not isinstance(role, str) or not _ROLE.fullmatch(role):
            raise ValueError(f"invalid role name {role!r}: CPI allows only letters, digits, '_' and '.'")
    return checked


class ClientRegistry:
    """The clients (service instances) issued by this tenant, keyed by clientid."""

    def __init__(self, subdomain: str) -> None:
        self._subdomain = subdomain
        self._clients: dict[str, IssuedClient] = {}
        self._certificates: dict[str, str] = {}  # SHA-256 fingerprint -> clientid
        self._lock = threading.Lock()

    def issue(
        self,
        name: str,
        *,
        plan: str,
        roles: Iterable[str],
        grant_types: Iterable[str],
        key_type: str,
        token_validity: int | None,
        created: datetime,
    ) -> IssuedClient:
        """Create a service instance with one key; ValueError when CPI would refuse the parameters."""
        if not _INSTANCE_NAME.fullmatch(name):
            raise ValueError(f"invalid service instance name {name!r}: use up to 32 characters from A-Z a-z 0-9 . _ -")
        if plan not in PLANS:
            raise ValueError(f"unknown plan {plan!r} for service it-rt: use one of {', '.join(PLANS)}")
        if key_type not in KEY_TYPES:
            raise ValueError(f"unknown key type {key_type!r}: use one of {', '.join(KEY_TYPES)}")
        checked_roles = validate_roles(roles)
        checked_grants = self._validate_grant_types(grant_types)
        if token_validity is not None and (isinstance(token_validity, bool) or token_validity < 1):
            raise ValueError(f"token_validity must be a positive number of seconds, got {token_validity!r}")
        xsappname = f"it!b{_API_APP_BUILD}" if plan == "api" else f"it-rt-{self._subdomain}!b{_RUNTIME_APP_BUILD}"
        # Real keys: clientid "sb-<uuid>!b<n>|<xsappname>", secret "<uuid>$<base64url of 32 bytes>".
        build = secrets.randbelow(900_000) + 100_000
        client = IssuedClient(
            name=name,
            clientid=f"sb-{uuid.uuid4()}!b{build}|{xsappname}",
            clientsecret=f"{uuid.uuid4()}${base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}",
            instance_id=str(uuid.uuid4()),
            plan=plan,
            roles=checked_roles,
            grant_types=checked_grants,
            token_validity=token_validity,
            xsappname=xsappname,
            created=created,
        )
        with self._lock:
            self._clients[client.clientid] = client
        return client

    @staticmethod
    def _validate_grant_types(grant_types: Iterable[str]) -> tuple[str, ...]:
        if isinstance(grant_types, str):
            raise ValueError(f"grant_types must be a list, not the string {grant_types!r}")
        checked = tuple(grant_types)
        for grant in checked:
            if grant == "client_x509":
                raise ValueError(
                    "grant type 'client_x509' is deprecated: new service keys cannot be created for "
                    "instances that use it; use 'client_credentials' instead"
                )
            if grant not in GRANT_TYPES:
                raise ValueError(f"unknown grant type {grant!r}: use one of {', '.join(sorted(GRANT_TYPES))}")
        if not checked:
            raise ValueError("grant_types must not be empty: use ['client_credentials']")
        return checked

    def all(self) -> list[IssuedClient]:
        """Every client issued so far, revoked ones included, oldest first."""
        with self._lock:
            return list(self._clients.values())

    def get(self, clientid: str) -> IssuedClient | None:
        """The client with this id, revoked or not."""
        with self._lock:
            return self._clients.get(clientid)

    def authenticate(self, clientid: str, clientsecret: str) -> IssuedClient | None:
        """The live client whose id and secret match, else None."""
        client = self.get(clientid)
        if client is None or client.revoked:
            return None
        if not hmac.compare_digest(client.clientsecret.encode(), clientsecret.encode()):
            return None
        return client

    def add_certificate(self, clientid: str, fingerprint: str) -> None:
        """Accept the client certificate with this SHA-256 fingerprint as ``clientid`` (a certificate key)."""
        with self._lock:
            if clientid not in self._clients:
                raise ValueError(f"no client {clientid!r} was issued by this emulator")
            self._certificates[fingerprint] = clientid

    def remove_certificate(self, fingerprint: str) -> None:
        """Forget a certificate (its service key was deleted)."""
        with self._lock:
            self._certificates.pop(fingerprint, None)

    def authenticate_certificate(self, fingerprint: str, clientid: str | None = None) -> IssuedClient | None:
        """The live client a certificate was issued to (and whose id is ``clientid`` when given), else None."""
        with self._lock:
            owner = self._certificates.get(fingerprint)
            client = self._clients.get(owner) if owner else None
        if client is None or client.revoked or (clientid is not None and client.clientid != clientid):
            return None
        return client

    def set_roles(self, clientid: str, roles: Iterable[str]) -> None:
        """Replace the roles of a client; they apply to its next request."""
        checked = validate_roles(roles)
        self._update(clientid, roles=checked)

    def revoke(self, clientid: str) -> None:
        """Delete the client's instance: its secret and tokens stop working."""
        self._update(clientid, revoked=True)

    def _update(self, clientid: str, **changes: Any) -> None:
        with self._lock:
            client = self._clients.get(clientid)
            if client is None:
                raise ValueError(f"no client {clientid!r} was issued by this emulator")
            self._clients[clientid] = dataclasses.replace(client, **changes)


class Counters:
    """What the tenant has served, for assertions and benchmarks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens_issued: Counter[str | None] = Counter()
        self._token_requests: Counter[str | None] = Counter()
        self._calls: Counter[tuple[str | None, int]] = Counter()
        self._csrf_fetches = 0

    def count_token_request(self, clientid: str | None, *, issued: bool) -> None:
        """Record one request to the token endpoint and whether it yielded a token."""
        with self._lock:
            self._token_requests[clientid] += 1
            if issued:
                self._tokens_issued[clientid] += 1

    def count_call(self, iflow: str | None, status: int) -> None:
        """Record one runtime request; ``iflow`` is None when no flow matched."""
        with self._lock:
            self._calls[(iflow, status)] += 1

    def count_csrf_fetch(self) -> None:
        """Record one CSRF token handed out."""
        with self._lock:
            self._csrf_fetches += 1

    def tokens_issued(self, clientid: str | None = None) -> int:
        """Tokens issued, to one client or (None) to all."""
        with self._lock:
            return self._tokens_issued[clientid] if clientid else sum(self._tokens_issued.values())

    def token_requests(self, clientid: str | None = None) -> int:
        """Token requests including rejected ones, by one client or (None) by all."""
        with self._lock:
            return self._token_requests[clientid] if clientid else sum(self._token_requests.values())

    def calls(self, iflow: str | None = None, status: int | None = None) -> int:
        """Runtime requests, optionally only those for one flow and/or with one status."""
        with self._lock:
            return sum(
                count
                for (flow, code), count in self._calls.items()
                if (iflow is None or flow == iflow) and (status is None or code == status)
            )

    def csrf_fetches(self) -> int:
        """CSRF tokens handed out."""
        with self._lock:
            return self._csrf_fetches

    def snapshot(self) -> dict[str, Any]:
        """Everything counted so far as JSON-ready data (flow ``null`` = no flow matched)."""
        with self._lock:
            return {
                "tokens_issued": {"total": sum(self._tokens_issued.values()), **_by_client(self._tokens_issued)},
                "token_requests": {"total": sum(self._token_requests.values()), **_by_client(self._token_requests)},
                "calls": {
                    "total": sum(self._calls.values()),
                    "by_iflow_and_status": [
                        {"iflow": flow, "status": code, "count": count}
                        for (flow, code), count in sorted(self._calls.items(), key=lambda item: str(item[0]))
                    ],
                },
                "csrf_fetches": self._csrf_fetches,
            }

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self._tokens_issued.clear()
            self._token_requests.clear()
            self._calls.clear()
            self._csrf_fetches = 0


def _by_client(counter: Counter[str | None]) -> dict[str, Any]:
    return {"by_client": {str(clientid): count for clientid, count in sorted(counter.items(), key=str)}}


class CsrfSessions:
    """CSRF tokens bound to the JSESSIONID of the session that fetched them."""

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def fetch(self, session_id: str | None) -> tuple[str, str, bool]:
        """(session id, token, new session?): an existing session keeps its token."""
        with self._lock:
            if session_id is not None and session_id in self._tokens:
                return session_id, self._tokens[session_id], False
            new_session = secrets.token_hex(16).upper()
            token = secrets.token_hex(16).upper()
            self._tokens[new_session] = token
            return new_session, token, True

    def is_valid(self, session_id: str | None, token: str | None) -> bool:
        """Whether ``token`` is the one handed to the session ``session_id``."""
        if not session_id or not token:
            return False
        with self._lock:
            expected = self._tokens.get(session_id)
        return expected is not None and hmac.compare_digest(expected.encode(), token.encode())

    def invalidate_all(self) -> None:
        """Forget every session, as a tenant restart or session timeout would."""
        with self._lock:
            self._tokens.clear()


def new_message_id(now: float) -> str:
    """A 28-character MPL id shaped like CPI's: base64url of 0x00, 4 bytes of seconds, 16 random bytes.

    Real ids start with "AG" because the seconds of 2021-2029 begin with 0x6; the high nibble is pinned
    so ids keep that shape even when a test moves the clock far away.
    """
    seconds = (int(now) & 0x0FFFFFFF) | 0x60000000
    raw = b"\x00" + seconds.to_bytes(4, "big") + secrets.token_bytes(16)
    return base64.urlsafe_b64encode(raw).decode()


@dataclass(frozen=True)
class MessageRecord:
    """One message processing log (MPL) entry of a flow run."""

    message_guid: str
    correlation_id: str
    iflow: str
    status: str
    log_start: datetime
    log_end: datetime
    error_text: str | None = None
    http_status: int = 200
    # Held messages show `interim_status` until `completes_at` (emulator clock), then `status`.
    completes_at: datetime | None = None
    interim_status: str = "PROCESSING"
    # The log is written a moment after the answer (Emulator.log_delay): until then the API knows nothing of it.
    visible_at: datetime | None = None
    # The artifact's display name (IntegrationFlowName when Emulator.display_names is on); `iflow` is its id.
    display_name: str = ""
    # From SAP_ApplicationID, SAP_MessageType, SAP_Sender, SAP_Receiver when the flow allows those headers.
    application_message_id: str | None = None
    application_message_type: str | None = None
    sender: str | None = None
    receiver: str | None = None
    # What the flow writes besides: custom header properties (name, value), attachments (name, type, content).
    custom_header_properties: tuple[tuple[str, str], ...] = ()
    attachments: tuple[tuple[str, str, str], ...] = ()

    def visible(self, now: datetime) -> bool:
        """Whether the message log API shows this record at `now` (emulator clock)."""
        return self.visible_at is None or now >= self.visible_at


class MessageLog:
    """The MPL records of the newest `keep` flow runs, oldest first.

    Bounded so a long run against the in-process emulator (the soak's 20,000 calls) does not grow without
    end; a test looks at the messages of its own recent calls.
    """

    def __init__(self, keep: int = 5000) -> None:
        self._records: deque[MessageRecord] = deque()
        self._by_guid: dict[str, MessageRecord] = {}
        self._keep = keep
        self._lock = threading.Lock()

    def add(self, record: MessageRecord) -> None:
        """Append one finished run; the oldest record goes when `keep` are held."""
        with self._lock:
            if len(self._records) >= self._keep:
                self._by_guid.pop(self._records.popleft().message_guid, None)
            self._records.append(record)
            self._by_guid[record.message_guid] = record

    def records(self) -> list[MessageRecord]:
        """A copy of all records, oldest first."""
        with self._lock:
            return list(self._records)

    def get(self, message_guid: str) -> MessageRecord | None:
        """The record with this MPL id, or None."""
        with self._lock:
            return self._by_guid.get(message_guid)


class Tenant:
    """Everything one emulated tenant remembers between requests."""

    def __init__(self, subdomain: str, *, token_lifetime: int, mpl_header: bool) -> None:
        self.subdomain = subdomain
        # The subaccount (zone) id XSUAA puts into tokens as `zid`.
        self.zone_id = str(uuid.uuid4())
        self.clock = Clock()
        self.clients = ClientRegistry(subdomain)
        self.counters = Counters()
        self.csrf = CsrfSessions()
        self.messages = MessageLog()
        # iFlow name -> (seconds a message stays in flight, interim status), see Emulator.delay_messages.
        self.message_delays: dict[str, tuple[float, str]] = {}
        # Per emulator, so tokens of one emulator are worthless on another one: the CF UAA's HMAC key, and the
        # `kid` of XSUAA's RS256 key (the RSA key itself is made once per process, see xsuaa.signing_key).
        self.signing_key = secrets.token_bytes(32)
        self.token_kid = f"key-{secrets.token_hex(8)}"
        self.token_lifetime = token_lifetime
        self.mpl_header = mpl_header
        # How the MPL API writes `__next`: "absolute", "relative" (with the query options) or "bare" (only
        # $skiptoken); and seconds (emulator clock) between a flow's answer and its log appearing.
        self.next_links = "absolute"
        self.processing = 0.0  # seconds every message stays PROCESSING (Emulator.processing)
        # The `error` of a 401 for a bad client secret: XSUAA's `unauthorized`, upstream UAA's newer
        # `unauthorized_client`, or RFC 6749's `invalid_client` (cpi-facts: which a tenant sends is UNCONFIRMED).
        self.bad_secret_error = "unauthorized"
        # The status of an answer to a body over a flow's Body Size: 413, or 500 with SAP's error text and a
        # FAILED message (cpi-facts: which one a tenant sends is UNCONFIRMED).
        self.body_limit_status = 413
        # The JSON error body of the MPL API: "odata" (OData V2's {"error": {"code", "message": {"lang",
        # "value"}}}) or "converted" (the XML error converted, {"code", "message": {"@lang", "#text"}}, as
        # SAP's CI library's mocks answer); cpi-facts §5 leaves the real shape UNCONFIRMED.
        self.odata_errors = "odata"
        self.log_delay = 0.0
        # Whether the message log names flows by their display name (IntegrationFlowName) instead of the id.
        self.display_names = False
