"""The iFlow runtime: what happens between a sender's request and the flow, and what the sender gets back.

Checks run in the order the real worker applies them: an unknown address is a Tomcat 404 (no message),
a method the flow does not take a 405, then authentication (401), the flow's role (403) and CSRF
protection (403 + `X-CSRF-Token: Required`). A CSRF fetch answers without running the flow. Every run
writes a message processing log entry; a runtime error becomes SAP's plain-text 500 naming the MPL id.

SOAP and IDoc flows (`/cxf`) run behind CXF: `GET ...?wsdl` answers the service's WSDL without running the
flow, WS-Security (when the flow has it) verifies the request's signature before the flow and signs its
answer after, and a runtime error is a SOAP fault instead of SAP's text.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from lxml import etree  # type: ignore[import-untyped, unused-ignore]
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from iflowtest.emulator.catalog import BEHAVIOURS, Catalog, FlowSpec
from iflowtest.emulator.costcenters import CostCenterService
from iflowtest.emulator.flows import FlowError, FlowRequest, FlowResponse
from iflowtest.emulator.soap import (
    SoapFault,
    parse_request,
    security_header,
    serialize,
    sign_envelope,
    verify_request,
    version_of_request,
)
from iflowtest.emulator.soap_flows import WSDL_BEHAVIOURS, fault_response, wsdl_document
from iflowtest.emulator.stores import DataStoreEntry, QueuedMessage
from iflowtest.emulator.tenant import MessageRecord, Tenant, new_message_id
from iflowtest.emulator.tls import TenantKeystore
from iflowtest.emulator.xsuaa import TokenEndpoint, client_certificate_fingerprint

MPL_HEADER: Final = "SAP_MessageProcessingLogID"
# The WSGI environ key under which the server keeps every request header as sent, "_" in names included.
SENT_HEADERS: Final = "iflowtest.sent_headers"
# Headers a sender may set for the message log, if the flow's *Allowed Header(s)* let them through.
MPL_FIELD_HEADERS: Final = {
    "SAP_ApplicationID": "application_message_id",
    "SAP_MessageType": "application_message_type",
    "SAP_Sender": "sender",
    "SAP_Receiver": "receiver",
}
CSRF_HEADER: Final = "X-CSRF-Token"
DATA_STORE_RETENTION: Final = timedelta(days=90)  # a Write step's default "Retention Threshold for Alerting"
JMS_RETRY_INTERVAL: Final = 60.0  # seconds until a failed JMS message is retried (the JMS sender's default: 1 min)
BODY_LIMIT_STATUSES: Final = (413, 500)
# SAP's text for a body over the sender adapter's Body Size (cpi-facts §4), the limit in MB with one decimal.
BODY_LIMIT_TEXT: Final = "Message body exceeds configured size limit ({limit:.1f} MB)"
MODIFYING_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_REALM: Final = 'Basic realm="SAP Cloud Integration"'
# The two lines after the exception text are SAP's, including the spelling "occured".
FAILURE_TEXT: Final = (
    "An internal server error occured: {error}.\n"
    "The MPL ID for the failed message is : {mpl_id}\n"
    "For more details please check tail log."
)

_TOMCAT_STYLE: Final = (
    "body {font-family:Tahoma,Arial,sans-serif;} h1, h2, h3, b {color:white;background-color:#525D76;} "
    "h1 {font-size:22px;} h2 {font-size:16px;} h3 {font-size:14px;} p {font-size:12px;} "
    "a {color:black;} .line {height:1px;background-color:#525D76;border:none;}"
)
_TOMCAT_DESCRIPTIONS: Final = {
    401: "The request has not been applied to the target resource because it lacks valid authentication "
    "credentials for that resource.",
    403: "The server understood the request but refuses to authorize it.",
    404: "The origin server did not find a current representation for the target resource or is not "
    "willing to disclose that one exists.",
    405: "The method received in the request-line is known by the origin server but not supported by the "
    "target resource.",
}


def tomcat_page(status: int, message: str = "", *, headers: dict[str, str] | None = None) -> Response:
    """An error page in the shape of Tomcat's ErrorReportValve (server info hidden, as on CPI)."""
    title = f"HTTP Status {status} – {HTTPStatus(status).phrase}"
    message_html = f"<p><b>Message</b> {html.escape(message)}</p>" if message else ""
    body = (
        f'<!doctype html><html lang="en"><head><title>{title}</title>'
        f'<style type="text/css">{_TOMCAT_STYLE}</style></head>'
        f'<body><h1>{title}</h1><hr class="line" /><p><b>Type</b> Status Report</p>{message_html}'
        f"<p><b>Description</b> {_TOMCAT_DESCRIPTIONS.get(status, HTTPStatus(status).description)}</p>"
        '<hr class="line" /></body></html>'
    )
    response = Response(body, status=status, content_type="text/html;charset=utf-8", headers=headers)
    response.headers["Content-Language"] = "en"
    return response


class Runtime:
    """Dispatches runtime requests (`/http`, `/cxf`, `/gw/odata` and anything unknown) to the flows."""

    def __init__(
        self,
        tenant: Tenant,
        catalog: Catalog,
        tokens: TokenEndpoint,
        backend: CostCenterService,
        started: Callable[[str], bool] = lambda _: True,
    ) -> None:
        self._tenant = tenant
        self._catalog = catalog
        self._tokens = tokens
        self._backend = backend
        self.keystore = TenantKeystore()  # the server hands over one issued by its CA when it serves TLS
        self._started = started  # whether a flow's runtime artifact is STARTED (runtime_api.Deployments)

    def handle(self, request: Request) -> Response:
        """Answer one runtime request and count it under its flow (None when no flow matched)."""
        match = self._catalog.match(request.path)
        if match is None or not self._started(match.flow.name):
            # A flow whose deployment failed (or was undeployed) has no servlet: Tomcat's 404, no message.
            return self._counted(None, tomcat_page(404, f"The requested resource [{request.path}] is not available"))
        flow = match.flow
        response = self._guard(request, flow)
        if response is None:
            response = self._over_limit(request, flow) or self._run(request, flow, match.subpath)
        return self._counted(flow.name, response)

    def _counted(self, iflow: str | None, response: Response) -> Response:
        self._tenant.counters.count_call(iflow, response.status_code)
        return response

    def _guard(self, request: Request, flow: FlowSpec) -> Response | None:
        """The answer of the adapter when it stops the request before the flow, else None."""
        method = request.method
        # The adapter answers a CSRF fetch itself, so a POST-only flow still hands out tokens on GET.
        fetch = (
            flow.csrf and method in ("GET", "HEAD") and request.headers.get(CSRF_HEADER, "").strip().lower() == "fetch"
        )
        # CXF answers `?wsdl` itself: no flow runs, no message is written.
        wsdl = flow.adapter == "cxf" and method == "GET" and any(k.lower() == "wsdl" for k in request.args)
        if not fetch and not wsdl and not flow.allows(method):
            allowed = sorted(flow.methods | ({"HEAD"} if "GET" in flow.methods else set()))
            return tomcat_page(
                405, f"HTTP method {method} is not supported by this URL", headers={"Allow": ", ".join(allowed)}
            )
        fingerprint = client_certificate_fingerprint(request)
        if "Authorization" in request.headers:
            client = self._tokens.authenticate_request(request)
        elif fingerprint is not None:
            # Client-certificate authentication: the certificate must belong to a live service key.
            client = self._tenant.clients.authenticate_certificate(fingerprint)
        else:
            return tomcat_page(401, "Unauthorized", headers={"WWW-Authenticate": _REALM})
        if client is None:
            return tomcat_page(401, "Unauthorized")
        if flow.role not in client.roles:
            return tomcat_page(403, "Forbidden")
        if fetch:
            return self._csrf_fetch(request)
        if wsdl:
            return self._wsdl(request, flow)
        if flow.csrf and method in MODIFYING_METHODS:
            token = request.headers.get(CSRF_HEADER)
            if not self._tenant.csrf.is_valid(request.cookies.get("JSESSIONID"), token):
                return tomcat_page(403, "Forbidden", headers={CSRF_HEADER: "Required"})
        return None

    def _over_limit(self, request: Request, flow: FlowSpec) -> Response | None:
        """The adapter's answer to a body over the flow's Body Size, else None.

        413 with SAP's text, or (`Emulator.body_limit_status = 500`) SAP's 500 text naming a FAILED message.
        """
        if flow.max_body_size is None or len(request.get_data()) <= flow.max_body_size * 1024 * 1024:
            return None
        error = BODY_LIMIT_TEXT.format(limit=flow.max_body_size)
        mpl_id = new_message_id(self._tenant.clock.now())
        log_start = self._tenant.clock.now_utc()
        status = self._tenant.body_limit_status
        text = FAILURE_TEXT.format(error=error, mpl_id=mpl_id) if status == 500 else error
        flow_request = _flow_request(request, flow, "")
        fields = _sent_fields(request, flow)
        self._log(flow, flow_request, None, mpl_id, log_start, "FAILED", error, status, fields, None)
        response = Response(text, status=status, content_type="text/plain;charset=UTF-8")
        if self._tenant.mpl_header:
            response.headers[MPL_HEADER] = mpl_id
        return response

    def _csrf_fetch(self, request: Request) -> Response:
        session_id, token, new_session = self._tenant.csrf.fetch(request.cookies.get("JSESSIONID"))
        self._tenant.counters.count_csrf_fetch()
        response = Response(b"", status=200, content_type="text/plain")
        response.headers[CSRF_HEADER] = token
        if new_session:
            # The three cookies a CF tenant sets: the worker session, the gorouter's sticky-session
            # instance id, and the tenant session. The token is bound to JSESSIONID only.
            secure = request.scheme == "https"  # clients drop Secure cookies over plain HTTP
            response.set_cookie("JSESSIONID", session_id, httponly=True, secure=secure)
            response.set_cookie("__VCAP_ID__", secrets.token_hex(14), httponly=True, secure=secure)
            response.set_cookie(
                f"JTENANTSESSIONID_{self._tenant.subdomain}", secrets.token_urlsafe(24), httponly=True, secure=secure
            )
        return response

    def _wsdl(self, request: Request, flow: FlowSpec) -> Response:
        if flow.behaviour not in WSDL_BEHAVIOURS:
            return tomcat_page(404, f"The requested resource [{request.path}] is not available")
        location = request.host_url.rstrip("/") + request.path
        return Response(wsdl_document(location), status=200, content_type="text/xml;charset=UTF-8")

    def _run(self, request: Request, flow: FlowSpec, subpath: str) -> Response:
        clock = self._tenant.clock
        log_start = clock.now_utc()
        mpl_id = new_message_id(clock.now())
        flow_request = _flow_request(request, flow, subpath)
        fields = _sent_fields(request, flow)
        version = version_of_request(request.headers.get("Content-Type", ""))
        try:
            flow_request = replace(flow_request, body=self._verified(request, flow, flow_request.body))
        except SoapFault as fault:
            refused = fault_response(fault, version)
            self._log(
                flow, flow_request, refused, mpl_id, log_start, "FAILED", refused.failure, refused.status, fields, None
            )
            return _to_response(refused)
        run = self.run_flow(flow, flow_request, mpl_id, log_start, fields=fields)
        if run.error is not None:
            if flow.adapter == "cxf":  # CXF turns the exception into a SOAP fault
                response = _to_response(fault_response(SoapFault(run.error, sender=False), version))
            else:
                response = Response(
                    FAILURE_TEXT.format(error=run.error, mpl_id=mpl_id),
                    status=500,
                    content_type="text/plain;charset=UTF-8",
                )
        else:
            assert run.result is not None
            response = _to_response(self._signed(flow, run.result))
        if self._tenant.mpl_header:
            response.headers[MPL_HEADER] = mpl_id
        return response

    def run_flow(
        self,
        flow: FlowSpec,
        flow_request: FlowRequest,
        mpl_id: str,
        log_start: datetime,
        *,
        fields: dict[str, str] | None = None,
        predecessor: str | None = None,
    ) -> FlowRun:
        """Run `flow` on one message and write its log, data store entries and queued messages."""
        error: str | None
        try:
            result: FlowResponse | None = BEHAVIOURS[flow.behaviour].run(flow_request, flow.options, self._backend)
        except FlowError as exc:
            result, error = None, str(exc)
            status, http_status = "FAILED", 500
        else:
            assert result is not None
            # A flow started by a queue has nobody to answer: an error answer is its failure.
            failure = result.failure or (_answer_failure(result) if predecessor is not None else None)
            error, status, http_status = failure, ("FAILED" if failure else "COMPLETED"), result.status
        self._log(flow, flow_request, result, mpl_id, log_start, status, error, http_status, fields or {}, predecessor)
        if result is not None:
            self._write_data_stores(flow, result, mpl_id, log_start)
            self._hand_over(result, flow_request, mpl_id, log_start)
        return FlowRun(result, error if result is None else None)

    def _log(
        self,
        flow: FlowSpec,
        flow_request: FlowRequest,
        result: FlowResponse | None,
        mpl_id: str,
        log_start: datetime,
        status: str,
        error: str | None,
        http_status: int,
        fields: dict[str, str],
        predecessor: str | None,
    ) -> None:
        clock = self._tenant.clock
        seconds, interim = self._tenant.message_delays.get(flow.name, (self._tenant.processing, "PROCESSING"))
        # A queued message's run starts when the JMS sender takes it: its log starts (and appears) then.
        log_end = max(clock.now_utc(), log_start)
        visible = log_end + timedelta(seconds=self._tenant.log_delay)
        traced = flow.log_level == "TRACE" or flow.name in self._tenant.traced
        trace: tuple[tuple[str, str, str], ...] = ()
        if traced:
            received = flow_request.headers.get("Content-Type") or "application/octet-stream"
            trace = (("StartEvent_2", received, flow_request.body.decode("utf-8", "replace")),)
            if result is not None:
                trace += (("EndEvent_2", result.content_type, result.body.decode("utf-8", "replace")),)
        self._tenant.messages.add(
            MessageRecord(
                message_guid=mpl_id,
                correlation_id=new_message_id(clock.now()),
                iflow=flow.name,
                status=status,
                log_start=log_start,
                log_end=log_end,
                error_text=error,
                http_status=http_status,
                completes_at=log_end + timedelta(seconds=seconds) if seconds else None,
                interim_status=interim,
                visible_at=visible if visible > clock.now_utc() else None,
                display_name=flow.shown_name,
                custom_header_properties=(
                    *flow.custom_header_properties,
                    *(result.properties if result is not None else ()),
                ),
                attachments=(
                    *((a.name, a.content_type, a.content) for a in flow.attachments),
                    *(result.attachments if result is not None else ()),
                ),
                predecessor_guid=predecessor,
                custom_status=result.custom_status if result is not None else None,
                log_level="TRACE" if traced else flow.log_level,
                store_entries=result.store if result is not None else (),
                trace=trace,
                **fields,
            )
        )

    def _write_data_stores(self, flow: FlowSpec, result: FlowResponse, mpl_id: str, log_start: datetime) -> None:
        for store, entry_id, content_type, content in result.data_store:
            self._tenant.data_stores.write(
                DataStoreEntry(
                    store=store,
                    entry_id=entry_id,
                    iflow=flow.name,
                    message_guid=mpl_id,
                    content=content,
                    content_type=content_type,
                    created_at=log_start,
                    retain_until=log_start + DATA_STORE_RETENTION,
                    headers=(("SAP_MessageProcessingLogID", mpl_id),),
                )
            )

    def _hand_over(self, result: FlowResponse, flow_request: FlowRequest, mpl_id: str, log_start: datetime) -> None:
        """Queue what a JMS receiver sent, and run the flows reading those queues a moment later."""
        for index, (queue, content_type, body) in enumerate(result.enqueue):
            taken = log_start + timedelta(seconds=self._tenant.jms_delay)
            jms_id = f"ID:{mpl_id}:{index + 1}"  # one JMS message per queue the run sent to
            self._tenant.queues.put(
                QueuedMessage(queue=queue, jms_id=jms_id, message_guid=mpl_id, created_at=log_start, taken_at=taken)
            )
            for consumer in (f for f in self._catalog.flows if f.queue == queue):
                request = FlowRequest(
                    method="POST",
                    subpath="",
                    query={},
                    headers=Headers({"Content-Type": content_type, "JMSMessageID": jms_id}),
                    body=body,
                    base_url=flow_request.base_url,
                    address="",
                )
                run = self.run_flow(consumer, request, new_message_id(taken.timestamp()), taken, predecessor=mpl_id)
                if run.failed:
                    self._tenant.queues.update(
                        jms_id, failed=True, retry_count=1, next_retry=taken + timedelta(seconds=JMS_RETRY_INTERVAL)
                    )

    def _verified(self, request: Request, flow: FlowSpec, body: bytes) -> bytes:
        """With WS-Security: the request verified (a SoapFault if not) and its Security header removed."""
        if flow.ws_security is None:
            return body
        message = parse_request(body, request.headers.get("Content-Type", ""), request.headers.get("SOAPAction"))
        verify_request(message, self._trusted, self._tenant.clock.now_utc(), flow.ws_security)
        security = security_header(message)
        security.getparent().remove(security)
        return serialize(message.envelope)

    def _trusted(self, certificate: x509.Certificate) -> bool:
        # The tenant trusts the certificates of its live certificate service keys, as for mTLS.
        fingerprint = certificate.fingerprint(hashes.SHA256()).hex()
        return self._tenant.clients.authenticate_certificate(fingerprint) is not None

    def _signed(self, flow: FlowSpec, result: FlowResponse) -> FlowResponse:
        """ "Sign Response": a successful SOAP answer signed with the tenant's key; faults go out unsigned."""
        if flow.ws_security is None or result.status >= 300 or result.failure:
            return result
        key, certificate = self.keystore.pair()
        envelope = etree.fromstring(result.body)
        signed = sign_envelope(
            envelope, key, certificate, flow.ws_security.signature_algorithm, self._tenant.clock.now_utc()
        )
        return FlowResponse(result.status, signed, result.content_type, result.headers, result.failure)


def _to_response(result: FlowResponse) -> Response:
    response = Response(result.body, status=result.status, content_type=result.content_type)
    for name, value in result.headers.items():
        response.headers[name] = value
    return response


def _flow_request(request: Request, flow: FlowSpec, subpath: str) -> FlowRequest:
    return FlowRequest(
        method=request.method,
        subpath=subpath,
        query=dict(request.args.items()),
        headers=Headers(request.headers),
        body=request.get_data(),
        base_url=request.host_url.rstrip("/"),
        address=flow.address,
    )


def _sent_fields(request: Request, flow: FlowSpec) -> dict[str, str]:
    """As on a tenant: SAP_ApplicationID & co. reach the log only through the flow's Allowed Header(s)."""
    sent = Headers(request.environ.get(SENT_HEADERS, request.headers))
    return {
        field: sent[header]
        for header, field in MPL_FIELD_HEADERS.items()
        if header in sent and flow.allows_header(header)
    }


def _answer_failure(result: FlowResponse) -> str | None:
    """The error of a run nobody waits for: an answer of 400 or more is an exception in the flow."""
    if result.status < 400:
        return None
    text = result.body.decode("utf-8", "replace").strip()
    return f"com.sap.it.rt.scc.exception: the flow ended with HTTP {result.status}: {text[:500]}"


@dataclass(frozen=True)
class FlowRun:
    """The outcome of one flow run: its answer, or the runtime error that ended it."""

    result: FlowResponse | None
    error: str | None

    @property
    def failed(self) -> bool:
        """Whether the run ended in an error (raised, or an error answer for a queued message)."""
        return self.result is None or self.result.failure is not None or self.result.status >= 400
