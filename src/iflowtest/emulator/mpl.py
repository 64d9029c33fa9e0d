"""The Message Processing Log OData API (`/api/v1/MessageProcessingLogs`) of the emulated tenant.

It serves the tenant's message log through the generic OData V2 engine (`odata.py`), with what the
real API adds on top (cpi-facts section 5): callers need an `api`-plan client with role
`MonitoringDataRead`; pages hold at most 1000 logs and continue with `$skiptoken`; datetime literals in
`$filter` are UTC without a zone suffix (a `...Z` literal is refused here, because CPI does not read it
correctly and a harness that sends one would silently filter the wrong window); `ErrorInformation`
answers 204 for messages without an error and `ErrorInformation/$value` the error text.

`MessageProcessingLog` has SAP's fields (`IntegrationArtifact` as a complex value, `PredecessorMessageGuid`,
the component names) and navigation properties, each with its entity set: `ErrorInformation`,
`AdapterAttributes`, `Attachments` (`$value` needs role `MessagePayloadsRead`), `CustomHeaderProperties`,
`MessageStoreEntries` and `Runs` (one per message). Custom header properties and attachments are what the
flow declares in the catalog; `ApplicationMessageId` and its siblings come from SAP_ApplicationID & co.
when the flow's *Allowed Header(s)* let them through. With `Emulator.display_names` on,
`IntegrationFlowName` shows the artifact's display name, and only `IntegrationArtifact/Id` its id.

Messages of a flow can be held in `PROCESSING` (or `RETRY`) for a while (`Emulator.delay_messages`),
so that polling for a final status can be tested by moving the emulator's clock instead of sleeping.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import quote, unquote

from werkzeug.wrappers import Request, Response

from iflowtest.emulator.mpl_model import MPL_MODEL
from iflowtest.emulator.odata import ODataService, ServiceResponse
from iflowtest.emulator.odata_filter import ODataError, parse_key_predicate
from iflowtest.emulator.stores import BROKER
from iflowtest.emulator.tenant import MessageRecord, Tenant
from iflowtest.emulator.xsuaa import TokenEndpoint

API_ROOT: Final = "/api/v1"
REQUIRED_ROLE: Final = "MonitoringDataRead"
PAGE_SIZE: Final = 1000
INTERIM_STATUSES: Final = ("PROCESSING", "RETRY")
ODATA_ERROR_SHAPES: Final = ("odata", "converted")
_QUOTED = r"'(?P<key>(?:[^']|'')*)'"
_ERROR_PATH = re.compile(
    rf"(?:MessageProcessingLogs\({_QUOTED}\)/ErrorInformation(?P<value>/\$value)?"
    rf"|MessageProcessingLogErrorInformations\({_QUOTED.replace('key', 'set_key')}\)/\$value)"
)
_LOGS_ONLY = re.compile(r"MessageProcessingLogs(?:\('(?:[^']|'')*'\))?(?:/\$count)?")
# A media entity's content: an attachment, a message store entry, a trace payload, a data store entry.
_MEDIA_VALUE = re.compile(r"(?P<set>[A-Za-z]+)\((?P<keys>(?:[^'()]|'(?:[^']|'')*')*)\)/\$value")
PAYLOAD_ROLE: Final = "MessagePayloadsRead"
TRACE_ROLE: Final = "TraceConfigurationRead"
STORES_ROLE: Final = "DataStoresAndQueuesRead"
STORE_PAYLOAD_ROLE: Final = "DataStorePayloadsRead"
_STORE_SETS: Final = frozenset({"DataStoreEntries", "JmsBrokers", "QueueStates", "JmsMessages"})
_PAYLOAD_SETS: Final = frozenset({"MessageProcessingLogAttachments", "MessageStoreEntries", "TraceMessages"})
TRACE_RETENTION: Final = timedelta(hours=1)  # trace payloads expire long before their message log
# A datetime literal with a zone suffix, e.g. datetime'2024-01-31T00:00:00Z' or ...+01:00'.
_ZONED_LITERAL = re.compile(r"datetime'[^']*(?:Z|[+-]\d\d:?\d\d)'", re.IGNORECASE)


_CHILD_SETS: Final = tuple(s.name for s in MPL_MODEL.entity_sets[1:])
# Package of the emulated tenant's flows (IntegrationArtifact/PackageId and PackageName).
PACKAGE_ID: Final = "iflowtest.samples"
PACKAGE_NAME: Final = "iflowtest samples"


def status_at(record: MessageRecord, now: datetime) -> tuple[str, datetime]:
    """(status, LogEnd) of a message as the API shows it at ``now``: held messages are still in flight."""
    if record.completes_at is not None and now < record.completes_at:
        return record.interim_status, now
    return record.status, record.completes_at or record.log_end


def alternate_web_link(base_url: str, message_guid: str) -> str:
    """The message monitor link a tenant gives each message (`AlternateWebLink`).

    The harness builds the same shape for messages it did not look up (`calls.mpl.monitor_link`), and
    tests/calls/test_mpl.py checks that the two agree; the emulator keeps its own so it imports no harness code.
    """
    identifier = json.dumps({"identifier": message_guid}, separators=(",", ":"))
    return f"{base_url.rstrip('/')}/shell/monitoring/Messages/{quote(identifier, safe='')}"


class MplApi:
    """Answers `/api/v1/...` requests over the tenant's message log."""

    def __init__(self, tenant: Tenant, tokens: TokenEndpoint) -> None:
        self._tenant = tenant
        self._tokens = tokens
        # The worker node every run ran on (`ProcessId`): one per tenant.
        self._worker = hashlib.sha256(tenant.subdomain.encode()).hexdigest()[:32]

    def handle(self, request: Request) -> Response:
        """The answer of `_answer`, its JSON error body in the tenant's error shape (`Tenant.odata_errors`)."""
        answer = self._answer(request)
        return converted_error(answer) if self._tenant.odata_errors == "converted" else answer

    def _answer(self, request: Request) -> Response:
        """Authenticate, check the role, then answer from the message log."""
        refused = self._refusal(request)
        if refused is not None:
            return refused
        subpath = unquote(request.path[len(API_ROOT) :]).strip("/")
        query = dict(request.args.items())
        base = request.host_url.rstrip("/")
        error_info = _ERROR_PATH.fullmatch(subpath)
        if error_info is not None:
            guid = (error_info.group("key") or error_info.group("set_key") or "").replace("''", "'")
            answered = self._error_information(
                guid, value=error_info.group("key") is None or bool(error_info.group("value"))
            )
            if answered is not None:
                return answered
        media = _MEDIA_VALUE.fullmatch(subpath)
        if media is not None and media.group("set") != "MessageProcessingLogErrorInformations":
            return self._media_value(base, media.group("set"), media.group("keys"))
        if _ZONED_LITERAL.search(query.get("$filter", "")):
            return _odata_error(
                400,
                "InvalidFilter",
                "Invalid $filter: datetime literals are UTC and take no time zone suffix "
                f"({query['$filter']!r}); write datetime'2024-01-31T00:00:00' without 'Z' or an offset",
            )
        service = ODataService(
            MPL_MODEL,
            self._rows(base, related=_needs_children(subpath, query)),
            page_size=PAGE_SIZE,
            next_links=self._tenant.next_links,
        )
        answer = service.handle(
            request.method, subpath, query, accept=request.headers.get("Accept"), service_root=base + API_ROOT
        )
        return Response(answer.body, status=answer.status, headers=answer.headers)

    def _refusal(self, request: Request) -> Response | None:
        client = self._tokens.authenticate_request(request)
        if client is None:
            return Response("Unauthorized", status=401, content_type="text/plain;charset=UTF-8")
        needed = required_roles(unquote(request.path[len(API_ROOT) :]).strip("/"), dict(request.args.items()))
        missing = [role for role in needed if role not in client.roles]
        if client.plan != "api" or missing:
            return Response(
                f"Forbidden: the API needs an 'api'-plan client with role {' and '.join(missing or needed)}",
                status=403,
                content_type="text/plain;charset=UTF-8",
            )
        if request.method not in ("GET", "HEAD"):
            return _odata_error(405, "MethodNotAllowed", f"{request.method} is not allowed: message logs are read-only")
        return None

    def _rows(self, base: str, *, related: bool) -> dict[str, list[dict[str, Any]]]:
        """The rows of every entity set at the emulator's now; child sets only when the request needs them."""
        now = self._tenant.clock.now_utc()
        rows: dict[str, list[dict[str, Any]]] = {name: [] for name in ("MessageProcessingLogs", *_CHILD_SETS)}
        for record in self._tenant.messages.records():
            if not record.visible(now):
                continue
            status, log_end = status_at(record, now)
            rows["MessageProcessingLogs"].append(self._log_row(record, base, status, log_end))
            if related:
                for name, children in _child_rows(record, status, log_end, now, self._worker).items():
                    rows[name].extend(children)
        if related:
            rows.update(self._store_rows(now))
        return rows

    def _store_rows(self, now: datetime) -> dict[str, list[dict[str, Any]]]:
        """Data store entries and the JMS broker's queues and messages at `now`."""
        entries = [
            {
                "Id": e.entry_id,
                "DataStoreName": e.store,
                "IntegrationFlow": e.iflow,
                "Type": "",
                "Status": "Stored",
                "MessageId": e.message_guid,
                "DueAt": None,
                "CreatedAt": e.created_at,
                "RetainUntil": e.retain_until,
                "$content": _data_store_archive(e.content, e.headers),
                "$type": "application/zip",
            }
            for e in self._tenant.data_stores.entries()
            if e.created_at <= now
        ]
        on_queue = self._tenant.queues.messages(now)
        queues = self._tenant.queues.names()
        return {
            "DataStoreEntries": entries,
            "JmsBrokers": [
                {
                    "Key": BROKER,
                    "Capacity": 1024 * len(on_queue),
                    "MaxCapacity": 9_500_000_000,
                    "QueueNumber": len(queues),
                    "MaxQueueNumber": 30,
                }
            ],
            "QueueStates": [{"Name": name, "Broker": BROKER, "State": 0} for name in queues],
            "JmsMessages": [
                {
                    "Id": m.jms_id,
                    "Name": m.queue,
                    "MessageId": m.message_guid,
                    "Failed": m.failed_at(now),
                    "RetryCount": m.retry_count if m.failed_at(now) else 0,
                    "NextRetry": m.next_retry if m.failed_at(now) else None,
                    "CreatedAt": m.created_at,
                }
                for m in on_queue
            ],
        }

    def _log_row(self, record: MessageRecord, base: str, status: str, log_end: datetime) -> dict[str, Any]:
        name = record.display_name if self._tenant.display_names and record.display_name else record.iflow
        component = f"CPI_{self._tenant.subdomain}"
        return {
            "MessageGuid": record.message_guid,
            "CorrelationId": record.correlation_id,
            "ApplicationMessageId": record.application_message_id,
            "PredecessorMessageGuid": record.predecessor_guid,
            "ApplicationMessageType": record.application_message_type,
            "LogStart": record.log_start,
            "LogEnd": log_end,
            "Sender": record.sender,
            "Receiver": record.receiver,
            "IntegrationFlowName": name,
            "Status": status,
            "AlternateWebLink": alternate_web_link(base, record.message_guid),
            "IntegrationArtifact": {
                "Id": record.iflow,
                "Name": name,
                "Type": "INTEGRATION_FLOW",
                "PackageId": PACKAGE_ID,
                "PackageName": PACKAGE_NAME,
            },
            "LogLevel": record.log_level,
            "CustomStatus": record.custom_status if record.custom_status and status not in INTERIM_STATUSES else status,
            "ArchivingStatus": "NOT_RELEVANT",
            "ArchivingSenderChannelMessages": False,
            "ArchivingReceiverChannelMessages": False,
            "ArchivingLogAttachments": False,
            "ArchivingPersistedMessages": False,
            "TransactionId": record.correlation_id.lower()[:32],
            "PreviousComponentName": component,
            "LocalComponentName": component,
            "OriginComponentName": component,
        }

    def _error_information(self, guid: str, *, value: bool) -> Response | None:
        """404, 204 (no error) or the error text; None leaves the error entity itself to the OData engine."""
        record = self._tenant.messages.get(guid)
        if record is None or not record.visible(self._tenant.clock.now_utc()):
            return _odata_error(
                404, "ResourceNotFound", f"Resource not found for segment \"MessageProcessingLogs('{guid}')\""
            )
        status, _ = status_at(record, self._tenant.clock.now_utc())
        if status != "FAILED" or not record.error_text:
            return Response(b"", status=204)
        if value:
            return Response(record.error_text, status=200, content_type="text/plain;charset=UTF-8")
        return None

    def _media_value(self, base: str, set_name: str, keys: str) -> Response:
        """The content of one media entity (`...('id')/$value`), or the OData error a tenant gives."""
        entity_set = MPL_MODEL.entity_set(set_name)
        service = ODataService(MPL_MODEL, self._rows(base, related=True))
        try:
            if entity_set is None or not entity_set.has_stream:
                raise ODataError(404, "ResourceNotFound", f"Resource not found for segment '{set_name}'")
            row = service.find(set_name, parse_key_predicate(keys, entity_set))
            if row is None:
                raise ODataError(404, "ResourceNotFound", f"Resource not found for segment '{set_name}({keys})'")
        except ODataError as error:
            answer: ServiceResponse = service.error_response(error, "json")
            return Response(answer.body, status=answer.status, headers=answer.headers)
        return Response(row["$content"], status=200, content_type=row["$type"])


def _needs_children(subpath: str, query: dict[str, str]) -> bool:
    """Whether a request reaches past the logs themselves (navigation, $expand, a child set).

    Most requests read only logs, and a tenant's log holds thousands: their child rows are not built for them.
    """
    if subpath in ("", "$metadata"):
        return False
    return "$expand" in query or _LOGS_ONLY.fullmatch(subpath) is None


def _attachment_id(record: MessageRecord, index: int) -> str:
    return f"sap-it-res:msg:{record.message_guid}:{index + 1}"


def _child_rows(
    record: MessageRecord, status: str, log_end: datetime, now: datetime, worker: str = ""
) -> dict[str, list[dict[str, Any]]]:
    """The rows a message's navigation properties lead to (MessageGuid joins them, declared or not)."""
    guid = record.message_guid
    errors = []
    if status == "FAILED" and record.error_text:
        errors.append({"MessageGuid": guid, "Type": None, "LastErrorModelStepId": None})
    run_id = f"{guid}-1"  # ids of a message's parts embed its id, as attachment ids do on tenants
    return {
        "MessageProcessingLogErrorInformations": errors,
        "MessageProcessingLogCustomHeaderProperties": [
            {"Id": f"{guid}-{index + 1}", "MessageGuid": guid, "Name": name, "Value": value}
            for index, (name, value) in enumerate(record.custom_header_properties)
        ],
        "MessageProcessingLogAttachments": [
            {
                "Id": _attachment_id(record, index),
                "MessageGuid": guid,
                "TimeStamp": log_end,
                "Name": name,
                "ContentType": content_type,
                "PayloadSize": len(content.encode()),
                "$content": content.encode(),
                "$type": content_type,
            }
            for index, (name, content_type, content) in enumerate(record.attachments)
        ],
        "MessageStoreEntries": [
            {
                "Id": f"sap-it-{guid}-{index + 1}",
                "MessageGuid": guid,
                "MessageStoreId": store_id,
                "TimeStamp": log_end,
                "HasAttachments": bool(record.attachments),
                "$content": content.encode(),
                "$type": content_type,
            }
            for index, (store_id, content_type, content) in enumerate(record.store_entries)
        ],
        "MessageProcessingLogRuns": [
            {
                "Id": run_id,
                "MessageGuid": guid,
                "RunStart": record.log_start,
                "RunStop": log_end,
                "LogLevel": record.log_level,
                "OverallState": status,
                "ProcessId": worker,
            }
        ],
        "MessageProcessingLogRunSteps": _run_steps(record, run_id, status, log_end),
        # Trace payloads expire about an hour after the run; the log and its steps stay.
        "TraceMessages": []
        if now > log_end + TRACE_RETENTION
        else [
            {
                "TraceId": _trace_id(record, index),
                "MplId": guid,
                "RunId": run_id,
                "ChildCount": index + 1,
                "ModelStepId": step,
                "PayloadSize": len(payload.encode()),
                "MimeType": content_type,
                "ProcessingDate": log_end,
                "$content": payload.encode(),
                "$type": content_type,
            }
            for index, (step, content_type, payload) in enumerate(record.trace)
        ],
    }


def _run_steps(record: MessageRecord, run_id: str, status: str, log_end: datetime) -> list[dict[str, Any]]:
    """The steps of the message's run: its traced steps, or a start and an end event."""
    steps = [step for step, _, _ in record.trace] or ["StartEvent_2", "EndEvent_2"]
    failed = status == "FAILED"
    return [
        {
            "RunId": run_id,
            "ChildCount": index + 1,
            "StepStart": record.log_start,
            "StepStop": log_end,
            "StepId": f"MPL_{index + 1}",
            "ModelStepId": step,
            "BranchId": "1",
            "Status": "FAILED" if failed and index == len(steps) - 1 else "COMPLETED",
            "Error": record.error_text if failed and index == len(steps) - 1 else None,
            "Activity": "StartEvent" if step.startswith("Start") else "EndEvent" if step.startswith("End") else "Step",
        }
        for index, step in enumerate(steps)
    ]


def _trace_id(record: MessageRecord, index: int) -> int:
    """A 15-digit trace id, the same for the same message (a fixed length keeps cassette stand-ins stable)."""
    digest = int.from_bytes(hashlib.sha256(f"{record.message_guid}/trace/{index}".encode()).digest()[:8], "big")
    return 10**14 + digest % (9 * 10**14)


def _data_store_archive(content: str, headers: tuple[tuple[str, str], ...]) -> bytes:
    """A data store entry's `$value`: a zip holding `body` and `headers.prop`, as a tenant answers it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("body", content)
        archive.writestr("headers.prop", "".join(f"{name}={value}\n" for name, value in headers))
    return buffer.getvalue()


def required_roles(subpath: str, query: dict[str, str]) -> tuple[str, ...]:
    """The roles a tenant checks for one request of its monitoring API (SAP's role table, ISD CI personas).

    Message logs need MonitoringDataRead; payloads (attachments, message store entries) MessagePayloadsRead;
    data stores and JMS queues DataStoresAndQueuesRead, a data store entry's content DataStorePayloadsRead.
    Trace payloads are payloads; which role a tenant checks besides is UNCONFIRMED, so the emulator also
    wants TraceConfigurationRead for anything about traces (the least convenient form).
    """
    first = subpath.split("(", 1)[0].split("/", 1)[0]
    value = subpath.endswith("/$value")
    if first in _STORE_SETS:
        return (STORES_ROLE, STORE_PAYLOAD_ROLE) if value else (STORES_ROLE,)
    roles = [REQUIRED_ROLE]
    tracing = "TraceMessages" in subpath or "TraceMessages" in query.get("$expand", "")
    if tracing:
        roles.append(TRACE_ROLE)
    if value and (first in _PAYLOAD_SETS or tracing):
        roles.append(PAYLOAD_ROLE)
    return tuple(roles)


def converted_error(response: Response) -> Response:
    """An OData V2 JSON error rewritten as an XML error converted to JSON: `{"code", "message": {"@lang", "#text"}}`."""
    if response.status_code < 400 or "json" not in (response.content_type or ""):
        return response
    try:
        error = json.loads(response.get_data())["error"]
        body = {
            "code": error["code"],
            "message": {"@lang": error["message"]["lang"], "#text": error["message"]["value"]},
        }
    except (ValueError, KeyError, TypeError):
        return response
    response.set_data(json.dumps(body))
    return response


def _odata_error(status: int, code: str, message: str) -> Response:
    body = {"error": {"code": code, "message": {"lang": "en", "value": message}}}
    return Response(json.dumps(body), status=status, content_type="application/json;charset=utf-8")
