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

import base64
import hashlib
import json
import re
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote, unquote

from werkzeug.wrappers import Request, Response

from iflowtest.emulator.odata import ComplexType, EntitySet, Navigation, ODataService, Property, ServiceModel
from iflowtest.emulator.tenant import MessageRecord, Tenant
from iflowtest.emulator.xsuaa import TokenEndpoint

API_ROOT: Final = "/api/v1"
REQUIRED_ROLE: Final = "MonitoringDataRead"
PAGE_SIZE: Final = 1000
INTERIM_STATUSES: Final = ("PROCESSING", "RETRY")
ODATA_ERROR_SHAPES: Final = ("odata", "converted")
_NAMESPACE: Final = "com.sap.hci.api"
_QUOTED = r"'(?P<key>(?:[^']|'')*)'"
_ERROR_PATH = re.compile(
    rf"(?:MessageProcessingLogs\({_QUOTED}\)/ErrorInformation(?P<value>/\$value)?"
    rf"|MessageProcessingLogErrorInformations\({_QUOTED.replace('key', 'set_key')}\)/\$value)"
)
_LOGS_ONLY = re.compile(r"MessageProcessingLogs(?:\('(?:[^']|'')*'\))?(?:/\$count)?")
_ATTACHMENT_VALUE = re.compile(rf"MessageProcessingLogAttachments\({_QUOTED}\)/\$value")
PAYLOAD_ROLE: Final = "MessagePayloadsRead"
# A datetime literal with a zone suffix, e.g. datetime'2024-01-31T00:00:00Z' or ...+01:00'.
_ZONED_LITERAL = re.compile(r"datetime'[^']*(?:Z|[+-]\d\d:?\d\d)'", re.IGNORECASE)


def _string(name: str, max_length: int | None = None) -> Property:
    return Property(name, "Edm.String", max_length)


def _to_log(name: str) -> Navigation:
    # Child rows carry their message's MessageGuid, declared or not, so navigation joins on it both ways.
    return Navigation(name, "MessageProcessingLogs", (("MessageGuid", "MessageGuid"),), many=False)


def _children(name: str, target: str, *, many: bool = True) -> Navigation:
    return Navigation(name, target, (("MessageGuid", "MessageGuid"),), many=many)


# The entity sets, types and property order of SAP's MessageProcessingLogs API (its EDMX as public clients
# import it; the field order of the MessageProcessingLog follows a real answer, cpi-facts section 5).
MPL_MODEL: Final = ServiceModel(
    namespace=_NAMESPACE,
    container="MessageProcessingLogs",
    complex_types=(
        ComplexType(
            "IntegrationArtifact",
            (_string("Id"), _string("Name"), _string("Type"), _string("PackageId"), _string("PackageName")),
        ),
    ),
    entity_sets=(
        EntitySet(
            name="MessageProcessingLogs",
            entity_type="MessageProcessingLog",
            keys=("MessageGuid",),
            properties=(
                Property("MessageGuid", "Edm.String", 28, nullable=False),
                _string("CorrelationId", 28),
                _string("ApplicationMessageId"),
                _string("PredecessorMessageGuid"),
                _string("ApplicationMessageType"),
                Property("LogStart", "Edm.DateTime"),
                Property("LogEnd", "Edm.DateTime"),
                _string("Sender"),
                _string("Receiver"),
                _string("IntegrationFlowName"),
                _string("Status"),
                _string("AlternateWebLink"),
                Property("IntegrationArtifact", f"{_NAMESPACE}.IntegrationArtifact", nullable=False),
                _string("LogLevel"),
                _string("CustomStatus"),
                _string("ArchivingStatus"),
                Property("ArchivingSenderChannelMessages", "Edm.Boolean"),
                Property("ArchivingReceiverChannelMessages", "Edm.Boolean"),
                Property("ArchivingLogAttachments", "Edm.Boolean"),
                Property("ArchivingPersistedMessages", "Edm.Boolean"),
                _string("TransactionId"),
                _string("PreviousComponentName"),
                _string("LocalComponentName"),
                _string("OriginComponentName"),
            ),
            navigations=(
                _children("CustomHeaderProperties", "MessageProcessingLogCustomHeaderProperties"),
                _children("MessageStoreEntries", "MessageStoreEntries"),
                _children("ErrorInformation", "MessageProcessingLogErrorInformations", many=False),
                _children("AdapterAttributes", "MessageProcessingLogAdapterAttributes"),
                _children("Attachments", "MessageProcessingLogAttachments"),
                _children("Runs", "MessageProcessingLogRuns"),
            ),
        ),
        EntitySet(
            name="MessageProcessingLogErrorInformations",
            entity_type="MessageProcessingLogErrorInformation",
            keys=("MessageGuid",),
            properties=(Property("MessageGuid", nullable=False), _string("Type"), _string("LastErrorModelStepId")),
            has_stream=True,
        ),
        EntitySet(
            name="MessageProcessingLogAdapterAttributes",
            entity_type="MessageProcessingLogAdapterAttribute",
            keys=("Id",),
            properties=(
                Property("Id", nullable=False),
                _string("AdapterId"),
                _string("AdapterMessageId"),
                _string("Name"),
                _string("Value"),
            ),
            navigations=(_to_log("MessageProcessingLog"),),
        ),
        EntitySet(
            name="MessageProcessingLogAttachments",
            entity_type="MessageProcessingLogAttachment",
            keys=("Id",),
            properties=(
                Property("Id", nullable=False),
                _string("MessageGuid"),
                Property("TimeStamp", "Edm.DateTime"),
                _string("Name"),
                _string("ContentType"),
                Property("PayloadSize", "Edm.Int64"),
            ),
            has_stream=True,
        ),
        EntitySet(
            name="MessageProcessingLogCustomHeaderProperties",
            entity_type="MessageProcessingLogCustomHeaderProperty",
            keys=("Id",),
            properties=(Property("Id", nullable=False), _string("Name"), _string("Value")),
            navigations=(_to_log("Log"),),
        ),
        EntitySet(
            name="MessageStoreEntries",
            entity_type="MessageStoreEntry",
            keys=("Id",),
            properties=(
                Property("Id", nullable=False),
                _string("MessageGuid"),
                _string("MessageStoreId"),
                Property("TimeStamp", "Edm.DateTime"),
                Property("HasAttachments", "Edm.Boolean"),
            ),
            has_stream=True,
        ),
        EntitySet(
            name="MessageProcessingLogRuns",
            entity_type="MessageProcessingLogRun",
            keys=("Id",),
            properties=(
                Property("Id", nullable=False),
                Property("RunStart", "Edm.DateTime"),
                Property("RunStop", "Edm.DateTime"),
                _string("LogLevel"),
                _string("OverallState"),
                _string("ProcessId"),
            ),
        ),
    ),
)
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
        attachment = _ATTACHMENT_VALUE.fullmatch(subpath)
        if attachment is not None:
            return self._attachment_value(request, attachment.group("key").replace("''", "'"))
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
        if client.plan != "api" or REQUIRED_ROLE not in client.roles:
            return Response(
                f"Forbidden: the API needs an 'api'-plan client with role {REQUIRED_ROLE}",
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
                for name, children in _child_rows(record, status, log_end).items():
                    rows[name].extend(children)
        return rows

    def _log_row(self, record: MessageRecord, base: str, status: str, log_end: datetime) -> dict[str, Any]:
        name = record.display_name if self._tenant.display_names and record.display_name else record.iflow
        component = f"CPI_{self._tenant.subdomain}"
        return {
            "MessageGuid": record.message_guid,
            "CorrelationId": record.correlation_id,
            "ApplicationMessageId": record.application_message_id,
            "PredecessorMessageGuid": None,
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
            "LogLevel": "INFO",
            "CustomStatus": status,
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

    def _attachment_value(self, request: Request, attachment_id: str) -> Response:
        client = self._tokens.authenticate_request(request)
        if client is None or PAYLOAD_ROLE not in client.roles:
            return Response(
                f"Forbidden: attachments need role {PAYLOAD_ROLE}", status=403, content_type="text/plain;charset=UTF-8"
            )
        now = self._tenant.clock.now_utc()
        for record in self._tenant.messages.records():
            for index, (_, content_type, content) in enumerate(record.attachments):
                if record.visible(now) and _attachment_id(record, index) == attachment_id:
                    return Response(content.encode(), status=200, content_type=content_type)
        return _odata_error(
            404,
            "ResourceNotFound",
            f"Resource not found for segment \"MessageProcessingLogAttachments('{attachment_id}')\"",
        )


def _needs_children(subpath: str, query: dict[str, str]) -> bool:
    """Whether a request reaches past the logs themselves (navigation, $expand, a child set).

    Most requests read only logs, and a tenant's log holds thousands: their child rows are not built for them.
    """
    if subpath in ("", "$metadata"):
        return False
    return "$expand" in query or _LOGS_ONLY.fullmatch(subpath) is None


def _derived_id(record: MessageRecord, salt: str) -> str:
    digest = hashlib.sha256(f"{record.message_guid}/{salt}".encode()).digest()
    return base64.urlsafe_b64encode(b"\x00" + digest[:20]).decode()


def _attachment_id(record: MessageRecord, index: int) -> str:
    return f"sap-it-res:msg:{record.message_guid}:{index + 1}"


def _child_rows(record: MessageRecord, status: str, log_end: datetime) -> dict[str, list[dict[str, Any]]]:
    """The rows a message's navigation properties lead to (MessageGuid joins them, declared or not)."""
    guid = record.message_guid
    errors = []
    if status == "FAILED" and record.error_text:
        errors.append({"MessageGuid": guid, "Type": None, "LastErrorModelStepId": None})
    return {
        "MessageProcessingLogErrorInformations": errors,
        "MessageProcessingLogCustomHeaderProperties": [
            {"Id": f"{_derived_id(record, 'header')}-{index + 1}", "MessageGuid": guid, "Name": name, "Value": value}
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
            }
            for index, (name, content_type, content) in enumerate(record.attachments)
        ],
        "MessageProcessingLogRuns": [
            {
                "Id": _derived_id(record, "run"),
                "MessageGuid": guid,
                "RunStart": record.log_start,
                "RunStop": log_end,
                "LogLevel": "INFO",
                "OverallState": status,
                "ProcessId": _derived_id(record, "process").encode().hex()[:32],
            }
        ],
    }


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
