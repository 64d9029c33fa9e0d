"""The Message Processing Log OData API (`/api/v1/MessageProcessingLogs`) of the emulated tenant.

It serves the tenant's message log through the generic OData V2 engine (`odata.py`), with what the
real API adds on top (cpi-facts section 5): callers need an `api`-plan client with role
`MonitoringDataRead`; pages hold at most 1000 logs and continue with `$skiptoken`; datetime literals in
`$filter` are UTC without a zone suffix (a `...Z` literal is refused here, because CPI does not read it
correctly and a harness that sends one would silently filter the wrong window); `ErrorInformation`
answers 204 for messages without an error and `ErrorInformation/$value` the error text.

Messages of a flow can be held in `PROCESSING` (or `RETRY`) for a while (`Emulator.delay_messages`),
so that polling for a final status can be tested by moving the emulator's clock instead of sleeping.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote, unquote

from werkzeug.wrappers import Request, Response

from iflowtest.emulator.odata import EntitySet, ODataService, Property, ServiceModel
from iflowtest.emulator.tenant import MessageRecord, Tenant
from iflowtest.emulator.xsuaa import TokenEndpoint

API_ROOT: Final = "/api/v1"
REQUIRED_ROLE: Final = "MonitoringDataRead"
PAGE_SIZE: Final = 1000
INTERIM_STATUSES: Final = ("PROCESSING", "RETRY")
_NAMESPACE: Final = "com.sap.hci.api"
_ERROR_PATH = re.compile(r"MessageProcessingLogs\('(?P<guid>(?:[^']|'')*)'\)/ErrorInformation(?P<value>/\$value)?")
# A datetime literal with a zone suffix, e.g. datetime'2024-01-31T00:00:00Z' or ...+01:00'.
_ZONED_LITERAL = re.compile(r"datetime'[^']*(?:Z|[+-]\d\d:?\d\d)'", re.IGNORECASE)


def _string(name: str, max_length: int | None = None) -> Property:
    return Property(name, "Edm.String", max_length)


MPL_MODEL: Final = ServiceModel(
    namespace=_NAMESPACE,
    container="MessageProcessingLogs",
    entity_sets=(
        EntitySet(
            name="MessageProcessingLogs",
            entity_type="MessageProcessingLog",
            keys=("MessageGuid",),
            properties=(
                Property("MessageGuid", "Edm.String", 28, nullable=False),
                _string("CorrelationId", 28),
                _string("ApplicationMessageId"),
                _string("ApplicationMessageType"),
                Property("LogStart", "Edm.DateTime"),
                Property("LogEnd", "Edm.DateTime"),
                _string("Sender"),
                _string("Receiver"),
                _string("IntegrationFlowName"),
                _string("Status"),
                _string("AlternateWebLink"),
                _string("LogLevel"),
                _string("CustomStatus"),
                _string("TransactionId"),
            ),
        ),
    ),
)


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
        """Authenticate, check the role, then answer from the message log."""
        refused = self._refusal(request)
        if refused is not None:
            return refused
        subpath = unquote(request.path[len(API_ROOT) :]).strip("/")
        query = dict(request.args.items())
        base = request.host_url.rstrip("/")
        error_info = _ERROR_PATH.fullmatch(subpath)
        if error_info is not None:
            return self._error_information(error_info.group("guid").replace("''", "'"), bool(error_info.group("value")))
        if _ZONED_LITERAL.search(query.get("$filter", "")):
            return _odata_error(
                400,
                "InvalidFilter",
                "Invalid $filter: datetime literals are UTC and take no time zone suffix "
                f"({query['$filter']!r}); write datetime'2024-01-31T00:00:00' without 'Z' or an offset",
            )
        service = ODataService(
            MPL_MODEL,
            {"MessageProcessingLogs": self._rows(base)},
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

    def _rows(self, base: str) -> list[dict[str, Any]]:
        now = self._tenant.clock.now_utc()
        rows = []
        for record in self._tenant.messages.records():
            if not record.visible(now):
                continue
            status, log_end = status_at(record, now)
            rows.append(
                {
                    "MessageGuid": record.message_guid,
                    "CorrelationId": record.correlation_id,
                    "ApplicationMessageId": None,
                    "ApplicationMessageType": None,
                    "LogStart": record.log_start,
                    "LogEnd": log_end,
                    "Sender": None,
                    "Receiver": None,
                    "IntegrationFlowName": record.iflow,
                    "Status": status,
                    "AlternateWebLink": alternate_web_link(base, record.message_guid),
                    "LogLevel": "INFO",
                    "CustomStatus": status,
                    "TransactionId": record.correlation_id.lower()[:32],
                }
            )
        return rows

    def _error_information(self, guid: str, value: bool) -> Response:
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
        body = {
            "d": {"__metadata": {"type": f"{_NAMESPACE}.MessageProcessingLogErrorInformation"}, "MessageGuid": guid}
        }
        return Response(json.dumps(body), status=200, content_type="application/json;charset=utf-8")


def _odata_error(status: int, code: str, message: str) -> Response:
    body = {"error": {"code": code, "message": {"lang": "en", "value": message}}}
    return Response(json.dumps(body), status=status, content_type="application/json;charset=utf-8")
