"""The sample SOAP and IDoc iFlows: `GetCostCenter` (a WSDL-described SOAP service) and an IDoc receiver.

Both answer in the SOAP version of the request and turn every problem into a SOAP fault with HTTP 500, as
CXF does; a fault marks the message FAILED with its text. `GetCostCenter` dispatches on its WSDL: the Body
must hold a `GetCostCenterRequest` of the service's namespace, and a SOAPAction, when one is sent, must be
the operation's. The IDoc receiver takes IDoc-XML (one document type per flow, such as COSMAS01 for cost
center master data) and answers with the IDoc number it assigned.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from datetime import datetime
from importlib import resources
from typing import Any, Final

from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from iflowtest.emulator.costcenters import CostCenterService
from iflowtest.emulator.flows import BehaviourSpec, FlowRequest, FlowResponse
from iflowtest.emulator.soap import (
    SOAP_11,
    SoapFault,
    SoapMessage,
    SoapVersion,
    envelope_with,
    parse_request,
    serialize,
    understood_headers,
    version_of_request,
)

SERVICE_NS: Final = "urn:iflowtest:costcenters"
GET_COST_CENTER_ACTION: Final = f"{SERVICE_NS}:GetCostCenter"
WSDL_FILE: Final = "costcenters.wsdl"
_WSDL_LOCATION: Final = "https://tenant.invalid/cxf/costcenters"
# The IDoc-SOAP namespace SAP systems use for IDoc answers (the shape of the answer is UNCONFIRMED).
IDOC_SOAP_NS: Final = "urn:sap-com:document:sap:idoc:soap:messages"


def fault_response(fault: SoapFault, version: SoapVersion) -> FlowResponse:
    """CXF's answer to a fault: HTTP 500, the fault envelope, and a FAILED message carrying the fault's text."""
    return FlowResponse(500, fault.render(version), version.response_type, failure=fault.log)


def read_message(request: FlowRequest) -> SoapMessage:
    """The request envelope. A verified wsse:Security header was removed by the adapter (`Runtime`); one that
    is still there reached a flow without WS-Security, which does not understand it."""
    message = parse_request(request.body, request.headers.get("Content-Type", ""), request.headers.get("SOAPAction"))
    understood_headers(message, frozenset())
    return message


# ---------------------------------------------------------------- GetCostCenter
def wsdl_document(location: str) -> bytes:
    """The service's WSDL with the endpoint address of the request, as CXF serves it at `?wsdl`."""
    text = resources.files(__package__).joinpath(WSDL_FILE).read_text(encoding="utf-8")
    return text.replace(_WSDL_LOCATION, location).encode("utf-8")


def get_cost_center(request: FlowRequest, options: Mapping[str, Any], backend: CostCenterService) -> FlowResponse:
    """Answer a GetCostCenterRequest from the S/4 backend; an unknown cost center is a CostCenterFault."""
    version = version_of_request(request.headers.get("Content-Type", ""))
    try:
        message = read_message(request)
        version = message.version
        return _cost_center_answer(message, backend)
    except SoapFault as fault:
        return fault_response(fault, version)


def _cost_center_answer(message: SoapMessage, backend: CostCenterService) -> FlowResponse:
    if message.action and message.action != GET_COST_CENTER_ACTION:
        raise SoapFault(f"The given SOAPAction {message.action} does not match an operation.")
    payload = message.payload
    expected = f"{{{SERVICE_NS}}}GetCostCenterRequest"
    if payload is None or payload.tag != expected:
        found = payload.tag if payload is not None else "nothing"
        raise SoapFault(f"Unexpected wrapper element {found} found.   Expected {expected}.")
    area = (payload.findtext(f"{{{SERVICE_NS}}}ControllingArea") or "").strip()
    cost_center = (payload.findtext(f"{{{SERVICE_NS}}}CostCenter") or "").strip()
    language = (payload.findtext(f"{{{SERVICE_NS}}}Language") or "EN").strip().upper()
    row = backend.lookup(area, cost_center) if area and cost_center else None
    if row is None:
        text = f"Cost center {cost_center or '(none)'} does not exist in controlling area {area or '(none)'}"
        detail = etree.Element(f"{{{SERVICE_NS}}}CostCenterFault", nsmap={None: SERVICE_NS})
        for name, value in (("ControllingArea", area), ("CostCenter", cost_center), ("Message", text)):
            etree.SubElement(detail, f"{{{SERVICE_NS}}}{name}").text = value
        raise SoapFault(text, detail=detail, log=f"com.sap.it.rt.scc.exception.CostCenterFault: {text}")
    names = backend.names(area, cost_center)
    answer = etree.Element(f"{{{SERVICE_NS}}}GetCostCenterResponse", nsmap={None: SERVICE_NS})
    center = etree.SubElement(answer, f"{{{SERVICE_NS}}}CostCenter")
    fields = (
        ("ControllingArea", row["ControllingArea"]),
        ("CostCenter", row["CostCenter"]),
        ("Name", names.get(language) or names.get("EN", "")),
        ("CompanyCode", row["CompanyCode"]),
        ("Category", row["CostCenterCategory"]),
        ("Currency", row["CostCenterCurrency"]),
        ("ProfitCenter", row["ProfitCenter"]),
        ("ResponsiblePerson", row["CostCtrResponsiblePersonName"]),
        ("Country", row["Country"]),
        ("City", row["CityName"]),
        ("ValidFrom", _date(row["ValidityStartDate"])),
        ("ValidTo", _date(row["ValidityEndDate"])),
    )
    for name, value in fields:
        etree.SubElement(center, f"{{{SERVICE_NS}}}{name}").text = str(value or "")
    return FlowResponse(200, serialize(envelope_with(message.version, answer)), message.version.response_type)


def _date(value: Any) -> str:
    return value.date().isoformat() if isinstance(value, datetime) else str(value or "")


# ---------------------------------------------------------------- IDoc receiver
_DB_IDS = itertools.count(1)
_DB_IDS_LOCK = threading.Lock()


def receive_idoc(request: FlowRequest, options: Mapping[str, Any], backend: CostCenterService) -> FlowResponse:
    """Accept one IDoc-XML document of the flow's IDoc type and answer with the IDoc number assigned to it."""
    version = version_of_request(request.headers.get("Content-Type", ""))
    try:
        message = read_message(request)
        version = message.version
        return _idoc_answer(message, options, backend)
    except SoapFault as fault:
        return fault_response(fault, version)


def _idoc_answer(message: SoapMessage, options: Mapping[str, Any], backend: CostCenterService) -> FlowResponse:
    idoc_type = str(options.get("idoc_type", "COSMAS01"))
    message_type = str(options.get("message_type", "COSMAS"))
    document = message.payload
    if document is None or etree.QName(document).localname != idoc_type:
        found = etree.QName(document).localname if document is not None else "an empty Body"
        raise SoapFault(f"IDoc type {idoc_type} expected, got {found}")
    idocs = [child for child in document if isinstance(child.tag, str) and etree.QName(child).localname == "IDOC"]
    if len(idocs) != 1:
        raise SoapFault(
            f"exactly one IDOC element expected in {idoc_type}, got {len(idocs)} (bulk IDocs are not supported)"
        )
    idoc = idocs[0]
    control = _local_child(idoc, "EDI_DC40")
    if control is None:
        raise SoapFault("IDoc without control record EDI_DC40")
    declared = (_local_text(control, "IDOCTYP"), _local_text(control, "MESTYP"))
    if declared != (idoc_type, message_type):
        raise SoapFault(
            f"control record says IDOCTYP {declared[0] or '(empty)'} / MESTYP {declared[1] or '(empty)'}, "
            f"the flow takes {idoc_type} / {message_type}"
        )
    if idoc_type == "COSMAS01":
        _check_cost_centers(idoc, backend)
    with _DB_IDS_LOCK:
        db_id = f"{next(_DB_IDS):016d}"
    transfer_id = _local_text(control, "ARCKEY") or _local_text(control, "DOCNUM")
    answer = etree.Element(f"{{{IDOC_SOAP_NS}}}idocAssign", nsmap={"n0": IDOC_SOAP_NS})
    etree.SubElement(answer, "TransferId").text = transfer_id
    etree.SubElement(answer, "DbId").text = db_id
    return FlowResponse(200, serialize(envelope_with(message.version, answer)), message.version.response_type)


def _check_cost_centers(idoc: Any, backend: CostCenterService) -> None:
    segments = [child for child in idoc if isinstance(child.tag, str) and etree.QName(child).localname == "E1CSKSM"]
    if not segments:
        raise SoapFault("COSMAS01 IDoc without segment E1CSKSM")
    areas = set(backend.controlling_areas())
    for segment in segments:
        area, cost_center = _local_text(segment, "KOKRS"), _local_text(segment, "KOSTL")
        if not cost_center or len(cost_center) > 10:
            raise SoapFault(f"segment E1CSKSM: KOSTL {cost_center!r} must be 1 to 10 characters")
        if area not in areas:
            raise SoapFault(f"segment E1CSKSM: controlling area {area or '(empty)'} does not exist")


def _local_child(parent: Any, name: str) -> Any:
    return next((c for c in parent if isinstance(c.tag, str) and etree.QName(c).localname == name), None)


def _local_text(parent: Any, name: str) -> str:
    child = _local_child(parent, name)
    return (child.text or "").strip() if child is not None else ""


SOAP_BEHAVIOURS: Final[Mapping[str, BehaviourSpec]] = {
    "get_cost_center": BehaviourSpec(get_cost_center, {}),
    "receive_idoc": BehaviourSpec(receive_idoc, {"idoc_type": str, "message_type": str}),
}
WSDL_BEHAVIOURS: Final = frozenset({"get_cost_center"})  # flows that serve a WSDL at `?wsdl`
__all__ = ["SOAP_11", "SOAP_BEHAVIOURS", "WSDL_BEHAVIOURS", "fault_response", "wsdl_document"]
