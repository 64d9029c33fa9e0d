"""Message-log checks: did CPI finish the message, not just answer the call?

A call can return 200 while the message fails later inside CPI (asynchronous steps, retries). `MplClient`
reads the Message Processing Log OData API of the tenant (`<api-plan url>/api/v1`, role
MonitoringDataRead): one log by id, polling until a final status, a query by iFlow name and time window
(UTC literals without `Z`, `$inlinecount`, `$skiptoken` paging) and the error text of failed messages.

`expect_status` is the assertion for tests (the `mpl` fixture wraps it); `check_status` is the same check
as a plain function for the declarative suites. When a call's answer carries no MPL id, the message is
found by the iFlow name and the time window of the call.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urljoin, urlsplit, urlunsplit

import pytest
import requests
from requests.auth import AuthBase

from iflowtest.calls import odata
from iflowtest.calls.client import APPLICATION_ID_PREFIX, CallRecord, record_of
from iflowtest.calls.session import HarnessSession
from iflowtest.credentials.registry import ClientRegistry
from iflowtest.errors import ConfigError, IflowtestError, UnreachableError
from iflowtest.redaction import error_reason, redact_text
from iflowtest.settings import ClientSpec

FINAL_STATUSES: Final = frozenset({"COMPLETED", "FAILED", "ESCALATED", "CANCELLED", "DISCARDED", "ABANDONED"})
PENDING_STATUSES: Final = frozenset({"PROCESSING", "RETRY"})
API_PATH: Final = "/api/v1"
MONITORING_ROLE: Final = "MonitoringDataRead"
MONITOR_PATH: Final = "/shell/monitoring/Messages/"
# Seconds added around a call's own time span when looking its message up by time: the tenant's clock and
# ours differ a little, and CPI rounds LogStart to the millisecond.
WINDOW_MARGIN: Final = 5.0
# Seconds a call that sent a SAP_ApplicationID is looked up by that id alone, before the time window is tried
# too (for iFlows that do not keep the header).
APPLICATION_ID_GRACE: Final = 2.0
_ODATA_DATE = re.compile(r"/Date\((-?\d{1,16})")


class MplError(IflowtestError):
    """Raised when the message log API cannot be read (refused, unreachable, unexpected answer)."""


class MplUnreachableError(MplError, UnreachableError):
    """Raised when no connection to the message log API of the tenant can be made."""


class MplPermissionError(MplError):
    """Raised when the tenant refuses a read for a role the client lacks (403); the message names the role."""


class MplNotFoundError(MplError):
    """Raised when no message log matches an id, or a call's time window holds none or several."""


class MplTimeoutError(MplError):
    """Raised when a message is still PROCESSING or RETRY when the wait for a final status ends."""


class MplStatusError(MplError, AssertionError):
    """Raised when a message ends in another status than the one `expect_status` was told to expect."""


@dataclass(frozen=True)
class MessageLog:
    """One message processing log, as the harness reports it."""

    message_guid: str
    iflow: str | None  # the artifact id (`IntegrationArtifact/Id`), or the name where a tenant gives no artifact
    status: str
    log_start: datetime | None
    log_end: datetime | None
    correlation_id: str | None = None
    web_link: str | None = None
    error_text: str | None = None
    application_id: str | None = None  # ApplicationMessageId: the SAP_ApplicationID the call sent, when allowed
    found_by: str | None = None  # how the harness tied this log to its call, for the report
    display_name: str | None = None  # IntegrationFlowName: may differ from the artifact id
    predecessor: str | None = None  # PredecessorMessageGuid: the message that triggered this one (2025-10)
    custom_status: str | None = None
    log_level: str | None = None  # TRACE when the run kept its payloads

    @property
    def final(self) -> bool:
        """Whether the message has left PROCESSING/RETRY for good."""
        return self.status not in PENDING_STATUSES

    @classmethod
    def from_json(cls, entity: dict[str, Any]) -> MessageLog:
        """A log from one entity of the OData V2 JSON answer."""
        artifact = entity.get("IntegrationArtifact")
        field = partial(odata.text_field, entity)
        return cls(
            message_guid=field("MessageGuid") or "",
            iflow=(odata.text_field(artifact, "Id") if isinstance(artifact, dict) else None)
            or field("IntegrationFlowName"),
            status=field("Status") or "",
            log_start=parse_odata_datetime(entity.get("LogStart")),
            log_end=parse_odata_datetime(entity.get("LogEnd")),
            correlation_id=field("CorrelationId"),
            web_link=field("AlternateWebLink"),
            application_id=field("ApplicationMessageId") or None,
            display_name=field("IntegrationFlowName"),
            predecessor=field("PredecessorMessageGuid") or None,
            custom_status=field("CustomStatus"),
            log_level=field("LogLevel"),
        )


def parse_odata_datetime(value: Any) -> datetime | None:
    """`/Date(1765786792442)/` (optionally with an offset) as an aware UTC datetime."""
    match = _ODATA_DATE.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    try:
        return datetime.fromtimestamp(int(match.group(1)) / 1000.0, UTC)
    except (OverflowError, OSError, ValueError):  # a moment no calendar holds: as unknown as a missing one
        return None


def monitor_link(base_url: str, message_guid: str) -> str:
    """The message monitor deep link of a message, shaped like CPI's `AlternateWebLink`."""
    identifier = json.dumps({"identifier": message_guid}, separators=(",", ":"))
    return f"{base_url.rstrip('/')}{MONITOR_PATH}{quote(identifier, safe='')}"


def odata_literal(moment: datetime) -> str:
    """A `datetime'...'` literal in UTC without zone suffix, the only form the MPL API reads correctly."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return f"datetime'{utc.strftime('%Y-%m-%dT%H:%M:%S')}'"


class Claims:
    """Which call each message log was attributed to: a log is never attributed to two calls of a run.

    Within a process the claims are a dict; with a `directory` (one per run, shared by xdist workers) a claim is
    also a file created exclusively there, holding the call's key, so two workers cannot take the same log.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self._owners: dict[str, str] = {}
        self._lock = threading.Lock()

    def claim(self, message_guid: str, call: str) -> bool:
        """Attribute the log to `call`; False when another call has it already."""
        with self._lock:
            owner = self._owners.get(message_guid)
            path = self._file(message_guid)
            if owner is None and path is not None:
                try:
                    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                except FileExistsError:
                    owner = path.read_text(encoding="utf-8")
                else:
                    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                        handle.write(call)
                    owner = call
            owner = self._owners.setdefault(message_guid, owner or call)
            return owner == call

    def taken(self, message_guid: str, call: str) -> bool:
        """Whether another call has the log (without claiming it)."""
        with self._lock:
            owner = self._owners.get(message_guid)
            path = self._file(message_guid)
            if owner is None and path is not None and path.exists():
                owner = path.read_text(encoding="utf-8")
            return owner is not None and owner != call

    def restart(self, directory: Path | None) -> None:
        """Forget every claim (an earlier run in this process gave its logs to its calls) and use `directory`."""
        with self._lock:
            self.directory = directory
            self._owners = {}

    def _file(self, message_guid: str) -> Path | None:
        # Hashed: a message id may hold characters a file name must not.
        return self.directory / hashlib.sha256(message_guid.encode()).hexdigest() if self.directory else None


# The claims of this process's run; the plugin shares them between xdist workers (`share_claims`).
RUN_CLAIMS = Claims()


def share_claims(directory: Path | None) -> None:
    """Start the run's claims afresh, kept in `directory` (the same for every xdist worker) or in memory only."""
    RUN_CLAIMS.restart(directory)


class ClaimsFolder:
    """On the xdist controller: one claims folder for every worker of the run, removed when the run ends."""

    WORKER_INPUT: Final = "iflowtest_mpl_claims"

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="iflowtest-mpl-claims-"))

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[self.WORKER_INPUT] = str(self.folder)

    def remove(self) -> None:
        """Delete the folder and its claims."""
        shutil.rmtree(self.folder, ignore_errors=True)


def call_key(record: CallRecord) -> str:
    """What identifies one call of the run across processes."""
    return f"{record.application_id or ''}|{record.started_at!r}|{record.method} {record.url}|{record.client}"


class MplClient:
    """Reads message logs through an `api`-plan client; `sleep`/`monotonic` are injectable for tests."""

    def __init__(
        self,
        api_url: str,
        auth: AuthBase,
        *,
        client_name: str = "api",
        verify: bool | str = True,
        timeout: tuple[float, float] = (10.0, 60.0),
        poll_interval: float = 2.0,
        first_poll: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        claims: Claims | None = None,
        artifact_ids: Callable[[str], str] | None = None,
    ) -> None:
        self.claims = claims or RUN_CLAIMS
        # The iFlow names of the suite → artifact ids on the tenant ([tool.iflowtest.iflows.NAME] id).
        self._artifact_id = artifact_ids or (lambda name: name)
        self.base_url = api_url.rstrip("/") + API_PATH
        self.client_name = client_name
        self.poll_interval = poll_interval
        # The first pause of a wait; each next one doubles, up to poll_interval (a log usually comes quickly).
        self.first_poll = min(first_poll, poll_interval) if first_poll else poll_interval
        self._sleep = sleep
        self._monotonic = monotonic
        self._timeout = timeout
        self._verify = verify
        self.session = HarnessSession()
        self.session.auth = auth
        self.session.headers["Accept"] = "application/json"
        self.checked: list[MessageLog] = []  # every log a check looked at, for the report

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    # ------------------------------------------------------------ reads
    def get(self, message_guid: str) -> MessageLog:
        """The log of one message; MplNotFoundError when the tenant has none with this id."""
        response = self._get(f"{self.base_url}/MessageProcessingLogs('{_quote_key(message_guid)}')")
        if response.status_code == 404:
            raise MplNotFoundError(
                f"no message processing log with id {message_guid!r} on {self.base_url}: check that the id comes "
                "from this tenant, and that the log was not deleted (logs expire after 30 days)"
            )
        self._check(response, "read message log " + message_guid)
        return MessageLog.from_json(odata.entity(response, f"cannot read message log {message_guid}", MplError))

    def error_text(self, message_guid: str) -> str | None:
        """The error text of a failed message (`ErrorInformation/$value`); None when it has none."""
        url = f"{self.base_url}/MessageProcessingLogs('{_quote_key(message_guid)}')/ErrorInformation/$value"
        response = self._get(url, accept="text/plain")
        if response.status_code in (204, 404):
            return None
        self._check(response, "read the error of message " + message_guid, json_body=False)
        return response.text

    def query(self, **filters: Any) -> list[MessageLog]:
        """Every log `iter_query` yields for the same filters (iFlow, status, application id, window), as a list."""
        return list(self.iter_query(**filters))

    def iter_query(
        self,
        *,
        iflow: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        status: str | None = None,
        application_id: str | None = None,
    ) -> Iterator[MessageLog]:
        """Like `query`, one page at a time."""
        terms = []
        if iflow:
            # By artifact id, as SAP's own CI steps filter: IntegrationFlowName is a display name that may differ.
            artifact = self._artifact_id(iflow)
            terms.append(f"IntegrationArtifact/Id eq '{artifact.replace(chr(39), chr(39) * 2)}'")
        if application_id:
            terms.append(f"ApplicationMessageId eq '{application_id.replace(chr(39), chr(39) * 2)}'")
        if status:
            terms.append(f"Status eq '{status}'")
        if since:
            terms.append(f"LogStart ge {odata_literal(since)}")
        if until:
            terms.append(f"LogStart le {odata_literal(until)}")
        params = {"$inlinecount": "allpages", "$orderby": "LogStart"}
        if terms:
            params["$filter"] = " and ".join(terms)
        url: str | None = f"{self.base_url}/MessageProcessingLogs"
        pages = Pages("query message logs")
        while url is not None:
            pages.visit(url, params)
            response = self._get(url, params=params)
            self._check(response, "query message logs")
            body = odata.entity(response, "cannot query message logs", MplError)
            yield from (MessageLog.from_json(row) for row in odata.rows(body, "cannot query message logs", MplError))
            link = body.get("__next")
            url, params = next_page(response.url, link, params) if link else (None, params)

    # ------------------------------------------------------------ waiting and finding
    def wait_for_final(self, message_guid: str, timeout: float = 60.0) -> MessageLog:
        """Poll the log until it leaves PROCESSING/RETRY; MplTimeoutError after `timeout` seconds.

        A log the tenant has not written yet (404 right after the call) is waited for within the same limit.
        """
        deadline = self._monotonic() + timeout
        pauses = self._pauses()
        while True:
            log = self._get_when_written(message_guid, deadline, timeout)
            if log.final:
                return log
            if self._monotonic() >= deadline:
                raise MplTimeoutError(
                    f"message {message_guid} of iFlow {log.iflow!r} is still {log.status} after {timeout:g} s: "
                    f"open it in the message monitor ({log.web_link or 'no link'}), or raise the timeout if the "
                    "iFlow retries by design"
                )
            self._sleep(next(pauses))

    def _pauses(self) -> Iterator[float]:
        pause = self.first_poll
        while True:
            yield pause
            pause = min(pause * 2, self.poll_interval)

    def _get_when_written(self, message_guid: str, deadline: float, timeout: float) -> MessageLog:
        """`get`, polling while the tenant answers 404 for a log it has not written yet, until `deadline`."""
        pauses = self._pauses()
        while True:
            try:
                return self.get(message_guid)
            except MplNotFoundError:
                if timeout <= 0:
                    raise
                if self._monotonic() >= deadline:
                    raise MplNotFoundError(
                        f"no message processing log with id {message_guid!r} on {self.base_url} after waiting "
                        f"{timeout:g} s: check that the id comes from this tenant, or raise the timeout if the "
                        "tenant writes its logs late"
                    ) from None
                self._sleep(next(pauses))

    def find_for_call(self, record: CallRecord, timeout: float = 0.0) -> MessageLog:
        """The message of a call, found the surest way its answer allows.

        1. the MPL id of the answer (the `SAP_MessageProcessingLogID` header, or SAP's error text);
        2. the `SAP_ApplicationID` the call sent, as the log's ApplicationMessageId (iFlows that allow the header);
        3. the iFlow name and the call's time window, never taking a log the run gave to another call.
        The tenant writes a log a moment after it answers: a search that finds nothing is repeated until
        `timeout` seconds have passed.
        """
        deadline = self._monotonic() + timeout
        call = call_key(record)
        if record.mpl_id:
            log = self._get_when_written(record.mpl_id, deadline, timeout)
            self.claims.claim(log.message_guid, call)
            return replace(log, found_by=f"MPL id ({record.mpl_id_from or 'header'})")
        if (not record.iflow and not record.application_id) or record.started_at is None:
            raise MplNotFoundError(
                f"the answer of {record.method} {record.url} carries no MPL id and the call has no iFlow name to "
                "look its message up by: mark the test with @pytest.mark.iflow(NAME), or make the iFlow return "
                "SAP_MessageProcessingLogID"
            )
        started = datetime.fromtimestamp(record.started_at, UTC)
        since = started - timedelta(seconds=WINDOW_MARGIN)
        until = started + timedelta(milliseconds=record.elapsed_ms, seconds=WINDOW_MARGIN)
        pauses = self._pauses()
        searching_since = self._monotonic()
        while True:
            if record.application_id:
                by_id = self.query(application_id=record.application_id, since=since)
                if len(by_id) == 1:
                    self.claims.claim(by_id[0].message_guid, call)
                    return replace(by_id[0], found_by="application id (SAP_ApplicationID)")
            window: list[MessageLog] = []
            # The id is the sure way: the window (whose content depends on every other call of the moment) is
            # asked only once the log has had APPLICATION_ID_GRACE seconds to appear under the call's own id.
            by_id_only = record.application_id and self._monotonic() - searching_since < APPLICATION_ID_GRACE
            if record.iflow and not by_id_only:
                window = self.query(iflow=record.iflow, since=since, until=until)
            # An iFlow that keeps the harness's application ids keeps them for every call: then this call's
            # log is the one with its own id, and a log without one is never this call's.
            sent_ids = any((log.application_id or "").startswith(APPLICATION_ID_PREFIX) for log in window)
            free = [] if sent_ids else [log for log in window if not self.claims.taken(log.message_guid, call)]
            if len(free) == 1 and self.claims.claim(free[0].message_guid, call):
                return replace(free[0], found_by="iFlow and time window")
            if len(free) > 1:
                raise MplNotFoundError(
                    f"the answer of {record.method} {record.url} carries no MPL id, and the message log holds "
                    f"{len(free)} messages ({', '.join(m.message_guid for m in free)}) of iFlow {record.iflow!r} between "
                    f"{since:%H:%M:%S} and {until:%H:%M:%S} UTC that no other call of this run was given: make the "
                    "iFlow return SAP_MessageProcessingLogID, or add SAP_ApplicationID to its allowed headers "
                    "(Runtime Configuration), or do not call it from parallel tests"
                )
            if self._monotonic() >= deadline:
                what = "no message" if not window else f"only messages of other calls ({len(window)})"
                raise MplNotFoundError(
                    f"the answer of {record.method} {record.url} carries no MPL id, and the message log holds {what} "
                    f"of iFlow {record.iflow!r} between {since:%H:%M:%S} and {until:%H:%M:%S} UTC"
                    + (f" after waiting {timeout:g} s" if timeout > 0 else "")
                    + ": make the iFlow return SAP_MessageProcessingLogID, or add SAP_ApplicationID to its allowed "
                    "headers (Runtime Configuration)"
                )
            self._sleep(next(pauses))

    def expect_status(
        self, call: requests.Response | CallRecord | str, status: str = "COMPLETED", *, timeout: float = 60.0
    ) -> MessageLog:
        """Wait for the message of a call (response, record or MPL id) to finish; fail unless it ends in `status`."""
        started = self._monotonic()
        if isinstance(call, str):
            guid, how = call, "MPL id (given)"
        else:
            found = self.find_for_call(call_record(call), timeout)
            guid, how = found.message_guid, found.found_by or ""
        log = replace(self.wait_for_final(guid, max(0.0, timeout - (self._monotonic() - started))), found_by=how)
        if log.status == "FAILED":
            log = replace(log, error_text=self.error_text(guid))
        self.checked.append(log)
        if log.status != status:
            error = f"; error: {log.error_text}" if log.error_text else ""
            raise MplStatusError(
                f"message {guid} of iFlow {log.iflow!r} ended {log.status}, expected {status}{error} "
                f"(message monitor: {log.web_link or 'no link'})"
            )
        return log

    # ------------------------------------------------------------ internals
    def _get(self, url: str, *, params: dict[str, str] | None = None, accept: str | None = None) -> requests.Response:
        headers = {"Accept": accept} if accept else None
        try:
            # Explicit verify: requests lets REQUESTS_CA_BUNDLE override a session's verify, not an argument.
            return self.session.get(url, params=params, headers=headers, timeout=self._timeout, verify=self._verify)
        except requests.exceptions.RequestException as exc:
            error = MplUnreachableError if isinstance(exc, requests.exceptions.ConnectionError) else MplError
            raise error(
                f"cannot reach the message log API {self.base_url} ({type(exc).__name__}: "
                f"{error_reason(exc)}): check the url of the 'api'-plan key of client {self.client_name!r}"
            ) from None

    def _check(
        self, response: requests.Response, what: str, *, json_body: bool = True, role: str = MONITORING_ROLE
    ) -> None:
        if response.status_code == 401:
            raise MplError(
                f"cannot {what}: {self.base_url} refused client {self.client_name!r} (401): check that its key is an "
                "'api'-plan key of this tenant"
            )
        if response.status_code == 403:
            raise MplPermissionError(
                f"cannot {what}: client {self.client_name!r} lacks role {role} (403): add it to roles of "
                f"[tool.iflowtest.clients.{self.client_name}] and re-provision"
            )
        if response.status_code != 200 or (json_body and "json" not in response.headers.get("Content-Type", "")):
            said = odata_error_text(response)
            if said is not None:
                raise MplError(
                    f"cannot {what}: {self.base_url} answered {response.status_code}: {redact_text(said[:300])}"
                )
            raise MplError(
                f"cannot {what}: {self.base_url} answered {response.status_code} "
                f"({redact_text(response.text[:200])!r}), expected JSON: check the url of the 'api'-plan key"
            )


def check_status(mpl: MplClient, call: requests.Response | CallRecord | str, expected: dict[str, Any]) -> MessageLog:
    """The `mpl:` assertion of a declarative case, e.g. ``{"status": "COMPLETED", "timeout": 30}``."""
    unknown = sorted(set(expected) - {"status", "timeout"})
    if unknown:
        raise IflowtestError(f"unknown key {unknown[0]!r} in mpl assertion: use status and timeout")
    return mpl.expect_status(call, str(expected.get("status", "COMPLETED")), timeout=float(expected.get("timeout", 60)))


def odata_error_text(response: requests.Response) -> str | None:
    """The message of an OData error answer in either JSON shape, else None.

    OData V2 writes `{"error": {"code", "message": {"lang", "value"}}}`; an XML error converted to JSON (as
    SAP's CI library's mocks answer) is `{"code", "message": {"@lang", "#text"}}`. Which one the MPL API
    sends is not documented (cpi-facts §5, UNCONFIRMED), so both are read.
    """
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    error = data.get("error", data) if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    message = error.get("message")
    if isinstance(message, dict):
        message = message.get("value", message.get("#text"))
    if not isinstance(message, str):
        return None
    code = error.get("code")
    return f"{code}: {message}" if isinstance(code, str) and code else message


def next_page(current: str, link: str, params: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The URL and query of the page a `__next` link points to.

    The link may be absolute or relative to the page that carried it, and may omit the query options of the
    first request (SAP's docs show `MessageProcessingLogs?$skiptoken=1000`): options the link leaves out are
    sent again, so the next page is filtered and ordered like the first. It is always read from the host of
    the page that carried the link.
    """
    parts = urlsplit(urljoin(current, str(link)))
    here = urlsplit(current)
    query = {**params, **dict(parse_qsl(parts.query, keep_blank_values=True))}
    # The page is read from the API's own host whatever host the link names: the client's credentials go with
    # every page, and a link elsewhere (a hostile answer, or a proxy's internal name) must not receive them.
    return urlunsplit((here.scheme, here.netloc, parts.path, "", "")), query


class Pages:
    """The pages of one query seen so far: a `__next` link back to a page already read is an error, not a loop."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()

    def visit(self, url: str, params: Mapping[str, str]) -> None:
        """Note a page about to be read; MplError when it was read before."""
        key = (url, tuple(sorted(params.items())))
        if key in self._seen:
            raise MplError(f"cannot {self.what}: the API's next-page links go round in a circle (back to {url})")
        self._seen.add(key)


def call_record(call: requests.Response | CallRecord) -> CallRecord:
    """The harness's record of a call (its MPL id, application id, iFlow and time), from a response or a record."""
    if isinstance(call, CallRecord):
        return call
    record = record_of(call)
    if record is None:
        raise MplError(
            "this response did not come from an iflowtest client, so its MPL id is unknown: call the iFlow "
            "through the `iflow` fixture, or pass the MPL id"
        )
    return record


def _quote_key(guid: str) -> str:
    return quote(guid.replace("'", "''"), safe="")


def monitoring_client_name(clients: Mapping[str, ClientSpec]) -> str:
    """The declared client that reads message logs: the first one of plan 'api'."""
    for spec in clients.values():
        if spec.plan == "api":
            return spec.name
    raise ConfigError(
        "no client of plan 'api' is declared, so message logs cannot be read: declare one, e.g. "
        '[tool.iflowtest.clients.monitor] with plan = "api" and roles = ["MonitoringDataRead"], and give it a '
        "service key of an 'api'-plan instance (IFLOWTEST_CLIENT_MONITOR_KEY)"
    )


def monitor_options(registry: ClientRegistry, name: str | None = None) -> dict[str, Any]:
    """The arguments of a message-log reader for the declared 'api'-plan client `name` (the first one when None)."""
    resolved = registry.resolve(name or monitoring_client_name(registry.settings.clients))
    if resolved.spec.plan != "api":
        raise ConfigError(
            f"client {resolved.spec.name!r} has plan {resolved.spec.plan!r}: message logs need an 'api'-plan client; "
            f"set plan = 'api' in {resolved.spec.table} or name another client"
        )
    return {
        "api_url": resolved.url,
        "auth": resolved.auth(),
        "client_name": resolved.name,
        "verify": resolved.verify,
        "timeout": resolved.timeout,
        "artifact_ids": lambda iflow: registry.settings.iflow(iflow).artifact_id,
        "first_poll": 0.25,
    }


def mpl_client(registry: ClientRegistry, name: str | None = None, **options: Any) -> MplClient:
    """An MplClient for the declared 'api'-plan client `name` (the first one when None)."""
    return MplClient(**{**monitor_options(registry, name), **options})
