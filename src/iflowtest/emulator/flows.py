"""What the sample iFlows do once the runtime has let a request through.

A behaviour is a function of the request, its catalog options and the S/4 backend. It answers with a
`FlowResponse`, or raises `FlowError` for a runtime error, which the runtime turns into SAP's 500 text and
a FAILED message. Catalog files name behaviours from `BEHAVIOURS` and set their options.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from http import HTTPStatus
from typing import Any, Final

from lxml import etree  # type: ignore[import-untyped, unused-ignore]
from werkzeug.datastructures import Headers

from iflowtest.emulator.costcenters import SERVICE_PATH, CostCenterService, cost_center_model


@dataclass(frozen=True)
class FlowRequest:
    """The message as the sender adapter hands it to the flow."""

    method: str
    subpath: str  # what follows the flow's address (CamelHttpPath for `/*` addresses)
    query: Mapping[str, str]
    headers: Headers
    body: bytes
    base_url: str  # scheme://host:port of the tenant the request reached
    address: str  # the flow's address as the catalog spells it


@dataclass(frozen=True)
class FlowResponse:
    """What the flow returns to the sender; ``failure`` marks the message FAILED without a 500."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    failure: str | None = None


class FlowError(Exception):
    """A runtime error inside a flow: the sender gets SAP's 500 text, the message log a FAILED entry."""


Behaviour = Callable[[FlowRequest, Mapping[str, Any], CostCenterService], FlowResponse]


@dataclass(frozen=True)
class BehaviourSpec:
    """A behaviour and the options a catalog may set for it (name -> expected type)."""

    run: Behaviour
    options: Mapping[str, type | tuple[type, ...]]


# ---------------------------------------------------------------- reading cost centers (HTTP sender)
# In CPI query parameters become message headers, whose names are case-insensitive.
_FILTER_PARAMS: Final = {
    "controllingarea": "ControllingArea",
    "companycode": "CompanyCode",
    "costcenter": "CostCenter",
}
_PAGING_OPTIONS: Final = ("top", "skip", "select", "orderby", "inlinecount")


def read_cost_centers(request: FlowRequest, options: Mapping[str, Any], backend: CostCenterService) -> FlowResponse:
    """Turn query parameters into an OData query on A_CostCenter and return the backend's JSON."""
    params = {name.lower(): value for name, value in request.query.items()}
    conditions = [
        f"{field_name} eq {_string_literal(params[param])}"
        for param, field_name in _FILTER_PARAMS.items()
        if param in params
    ]
    country = options.get("country")
    if country is not None:
        allowed = backend.company_codes(country)
        wanted = params.get("companycode")
        if not allowed or (wanted is not None and wanted not in allowed):
            return _empty_feed(params)
        if wanted is None:
            conditions.append("(" + " or ".join(f"CompanyCode eq {_string_literal(c)}" for c in allowed) + ")")
    query: dict[str, str] = {}
    if conditions:
        query["$filter"] = " and ".join(conditions)
    for name, value in params.items():
        if name.removeprefix("$") in _PAGING_OPTIONS:
            query["$" + name.removeprefix("$")] = value
    answer = backend.handle(
        "GET",
        "A_CostCenter",
        query,
        accept="application/json",
        service_root=request.base_url + SERVICE_PATH,
    )
    if answer.status != 200:
        raise FlowError(_receiver_error(answer.status, answer.body))
    return FlowResponse(200, answer.body, answer.headers.get("Content-Type", "application/json"))


def _string_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _empty_feed(params: Mapping[str, str]) -> FlowResponse:
    # What the backend answers for a filter nothing matches; built here because no query can express
    # "none of the allowed company codes" when the caller asked for a foreign one.
    feed: dict[str, Any] = {"results": []}
    if params.get("inlinecount", params.get("$inlinecount")) == "allpages":
        feed = {"__count": "0", **feed}
    return FlowResponse(200, json.dumps({"d": feed}, separators=(",", ":")).encode(), "application/json;charset=utf-8")


def _receiver_error(status: int, body: bytes) -> str:
    """The exception text CPI's OData receiver adapter raises for an error answer."""
    try:
        message = json.loads(body)["error"]["message"]["value"]
    except (ValueError, KeyError, TypeError):
        message = body.decode("utf-8", "replace").strip() or HTTPStatus(status).phrase
    return (
        "com.sap.gateway.core.ip.component.odata.exception.OsciException: "
        f"{message} : {status} : HTTP/1.1 {status} {HTTPStatus(status).phrase}"
    )


# ---------------------------------------------------------------- OData sender (API artifact)
def odata_passthrough(request: FlowRequest, options: Mapping[str, Any], backend: CostCenterService) -> FlowResponse:
    """Expose A_CostCenter as the flow's own OData service; errors stay OData errors."""
    answer = backend.handle(
        request.method,
        request.subpath.lstrip("/"),
        request.query,
        accept=request.headers.get("Accept"),
        service_root=request.base_url + request.address,
    )
    headers = {name: value for name, value in answer.headers.items() if name.lower() != "content-type"}
    content_type = answer.headers.get("Content-Type", "application/json")
    failure = _receiver_error(answer.status, answer.body) if answer.status >= 400 else None
    return FlowResponse(answer.status, answer.body, content_type, headers=headers, failure=failure)


# ---------------------------------------------------------------- change request (XML in, XML out)
# Keys, validity and creation data are the system's; every other A_CostCenter field may be changed.
_READ_ONLY_FIELDS: Final = frozenset(
    {
        "ControllingArea",
        "CostCenter",
        "ValidityEndDate",
        "ValidityStartDate",
        "CostCenterCreatedByUser",
        "CostCenterCreationDate",
    }
)


def _changeable_fields() -> dict[str, int]:
    """Changeable A_CostCenter fields and their maximum lengths, read from the backend's schema."""
    entity = cost_center_model().entity_set("A_CostCenter")
    properties = entity.properties if entity is not None else ()
    return {
        p.name: p.max_length
        for p in properties
        if p.edm_type == "Edm.String" and p.max_length is not None and p.name not in _READ_ONLY_FIELDS
    }


CHANGEABLE_FIELDS: Final = _changeable_fields()
_FLAG_FIELDS: Final = frozenset(name for name in CHANGEABLE_FIELDS if name.startswith(("IsB", "Consumption")))
_XML_TYPE: Final = "application/xml;charset=utf-8"


def _xml_parser() -> Any:
    # No DTDs, no entity expansion, no network: the same stance as CPI's hardened XML parsers.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def change_cost_center(request: FlowRequest, options: Mapping[str, Any], backend: CostCenterService) -> FlowResponse:
    """Validate a CostCenterChangeRequest against the backend and accept or reject it (nothing is stored)."""
    root = _parse_xml(request.body)
    errors: list[tuple[str, str]] = []
    if etree.QName(root).localname != "CostCenterChangeRequest":
        errors.append(("", f"root element must be CostCenterChangeRequest, not {etree.QName(root).localname}"))
        return _rejected(errors)
    area = _child_text(root, "ControllingArea")
    cost_center = _child_text(root, "CostCenter")
    valid_from_text = _child_text(root, "ValidFrom")
    for name, value in (("ControllingArea", area), ("CostCenter", cost_center), ("ValidFrom", valid_from_text)):
        if not value:
            errors.append((name, f"{name} is required"))
    row = backend.lookup(area, cost_center) if area and cost_center else None
    if area and cost_center and row is None:
        errors.append(("CostCenter", f"cost center {cost_center} does not exist in controlling area {area}"))
    if valid_from_text:
        errors.extend(_check_valid_from(valid_from_text, row))
    changes = _changes(root, errors)
    if errors or row is None:
        return _rejected(errors)
    response = etree.Element("CostCenterChangeResponse")
    etree.SubElement(response, "Status").text = "ACCEPTED"
    etree.SubElement(response, "RequestId").text = str(uuid.uuid4())
    etree.SubElement(response, "ControllingArea").text = area
    etree.SubElement(response, "CostCenter").text = cost_center
    etree.SubElement(response, "ValidFrom").text = valid_from_text
    changed = etree.SubElement(response, "Changes")
    for name, value in changes:
        element = etree.SubElement(changed, "Field", name=name, oldValue=str(row.get(name) or ""))
        element.text = value
    return FlowResponse(200, _serialize(response), _XML_TYPE)


def _parse_xml(body: bytes) -> Any:
    try:
        root = etree.fromstring(body, _xml_parser())
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        raise FlowError(
            f"org.xml.sax.SAXParseException; lineNumber: {line}; columnNumber: {column}; {exc.msg}"
        ) from exc
    if root.getroottree().docinfo.doctype:
        raise FlowError(
            "org.xml.sax.SAXParseException; lineNumber: 1; columnNumber: 10; DOCTYPE is disallowed when the "
            'feature "http://apache.org/xml/features/disallow-doctype-decl" set to true.'
        )
    return root


def _child(parent: Any, name: str) -> Any:
    return next((c for c in parent if isinstance(c.tag, str) and etree.QName(c).localname == name), None)


def _child_text(parent: Any, name: str) -> str:
    element = _child(parent, name)
    return (element.text or "").strip() if element is not None else ""


def _check_valid_from(text: str, row: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    try:
        valid_from = date.fromisoformat(text)
    except ValueError:
        return [("ValidFrom", f"ValidFrom {text!r} is not a date in the form YYYY-MM-DD")]
    if row is None:
        return []
    start, end = _as_date(row.get("ValidityStartDate")), _as_date(row.get("ValidityEndDate"))
    if start is not None and valid_from < start:
        return [("ValidFrom", f"ValidFrom {text} is before the cost center's validity start {start.isoformat()}")]
    if end is not None and valid_from > end:
        return [("ValidFrom", f"ValidFrom {text} is after the cost center's validity end {end.isoformat()}")]
    return []


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _changes(root: Any, errors: list[tuple[str, str]]) -> list[tuple[str, str]]:
    container = _child(root, "Changes")
    fields = [c for c in container if isinstance(c.tag, str)] if container is not None else []
    if not fields:
        errors.append(("Changes", "at least one Changes/Field is required"))
    changes: list[tuple[str, str]] = []
    for element in fields:
        name = element.get("name") or ""
        value = element.text or ""
        if etree.QName(element).localname != "Field" or not name:
            errors.append((name, 'each change must be a <Field name="..."> element'))
        elif name == "CostCenterName":
            errors.append((name, "CostCenterName is not a field of A_CostCenter: names live in A_CostCenterText"))
        elif name in _READ_ONLY_FIELDS:
            errors.append((name, f"{name} cannot be changed"))
        elif name not in CHANGEABLE_FIELDS:
            errors.append((name, f"{name} is not a field of A_CostCenter"))
        elif name in (n for n, _ in changes):
            errors.append((name, f"{name} is changed more than once"))
        elif len(value) > CHANGEABLE_FIELDS[name]:
            errors.append((name, f"{name} is longer than {CHANGEABLE_FIELDS[name]} characters"))
        elif name in _FLAG_FIELDS and value not in ("", "X"):
            errors.append((name, f"{name} must be 'X' or empty"))
        else:
            changes.append((name, value))
    return changes


def _rejected(errors: list[tuple[str, str]]) -> FlowResponse:
    # A business rejection is an answer of a healthy flow: the message still ends COMPLETED.
    response = etree.Element("CostCenterChangeResponse")
    etree.SubElement(response, "Status").text = "REJECTED"
    container = etree.SubElement(response, "Errors")
    for field_name, text in errors:
        etree.SubElement(container, "Error", field=field_name).text = text
    return FlowResponse(400, _serialize(response), _XML_TYPE)


def _serialize(element: Any) -> bytes:
    return bytes(etree.tostring(element, xml_declaration=True, encoding="UTF-8"))


# ---------------------------------------------------------------- a flow that always fails
DEFAULT_FAILURE: Final = (
    "com.sap.it.rt.adapter.http.api.exception.HttpResponseException: Receiver system S4H_COSTCENTER returned HTTP 503"
)


def fail(request: FlowRequest, options: Mapping[str, Any], backend: CostCenterService) -> FlowResponse:
    """Raise the configured runtime error, as a flow whose receiver is down would."""
    raise FlowError(options.get("error", DEFAULT_FAILURE))


BEHAVIOURS: Final[Mapping[str, BehaviourSpec]] = {
    "read_cost_centers": BehaviourSpec(read_cost_centers, {"country": str}),
    "odata_passthrough": BehaviourSpec(odata_passthrough, {}),
    "change_cost_center": BehaviourSpec(change_cost_center, {}),
    "fail": BehaviourSpec(fail, {"error": str}),
}
