"""A body checked against the WSDL a case names: the request before it goes out, the answer when it comes.

    from iflowtest.soap.wsdl import Wsdl

    wsdl = Wsdl.load("fixtures/costcenters/soap/costcenters.wsdl")
    operation = wsdl.operation_for(payload, action="urn:...:GetCostCenter")
    problems = wsdl.check_answer(response.content, operation)     # [] when it fits

The WSDL (messages, port types, the schema in its types) is read by xmlschema, which validates with every
facet of XML Schema. xmlschema reads SOAP 1.1 bindings only, so SOAP 1.2 bindings and their ports are set
aside before it reads the document; what they add (the soapAction of each operation) is read from them
directly. An answer fits when its Body holds the operation's output element, or is a fault whose detail is
one of the operation's declared faults (a fault without detail fits any operation).
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from xml.etree.ElementTree import ParseError

from lxml import etree

from iflowtest.soap.envelope import SoapInputError, body_payload, fault_of

WSDL_NS: Final = "http://schemas.xmlsoap.org/wsdl/"
SOAP12_BINDING_NS: Final = "http://schemas.xmlsoap.org/wsdl/soap12/"
_PARSER: Final = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass(frozen=True)
class Operation:
    """One operation of the WSDL: its name, message elements and SOAP actions."""

    name: str
    input: Any  # xmlschema XsdElement, or None
    output: Any
    faults: dict[str, Any] = field(default_factory=dict)
    actions: frozenset[str] = frozenset()


class Wsdl:
    """A parsed WSDL 1.1 document and its operations."""

    def __init__(self, source: str, operations: list[Operation]) -> None:
        self.source = source
        self.operations = operations

    @classmethod
    def load(cls, path: str | Path) -> Wsdl:
        """Read a WSDL file; one SoapInputError line when it cannot be read or does not parse."""
        resolved = Path(path)
        try:
            stamp = resolved.stat().st_mtime_ns
        except OSError as exc:
            raise SoapInputError(f"WSDL {path} cannot be read ({exc.strerror}): check the path") from None
        return _load(str(resolved), stamp, str(path))

    def operation_for(self, payload: Any, *, action: str | None = None, name: str | None = None) -> Operation:
        """The operation named `name`, else the one whose input element `payload` is (the SOAPAction decides ties)."""
        if name is not None:
            found = next((op for op in self.operations if op.name == name), None)
            if found is None:
                known = ", ".join(op.name for op in self.operations) or "none"
                raise SoapInputError(f"WSDL {self.source} has no operation {name!r} (operations: {known})")
            return found
        tag = payload.tag if payload is not None else None
        candidates = [op for op in self.operations if op.input is not None and op.input.name == tag]
        if action:
            candidates = [op for op in candidates if not op.actions or action in op.actions] or candidates
        if not candidates:
            inputs = ", ".join(str(op.input.name) for op in self.operations if op.input is not None) or "none"
            raise SoapInputError(
                f"WSDL {self.source}: no operation takes {tag or 'an empty Body'} (its input elements: {inputs}); "
                "fix the body or name the operation"
            )
        return candidates[0]

    def check_request(self, payload: Any, operation: Operation) -> list[str]:
        """What is wrong with a request payload for `operation` ([] when it fits)."""
        return _problems(operation.input, payload, f"request of {operation.name}")

    def check_answer(self, content: bytes, operation: Operation) -> list[str]:
        """What is wrong with an answer (output element, or a declared fault) for `operation`."""
        fault = fault_of(content)
        if fault is not None:
            details = [c for c in fault.detail if isinstance(c.tag, str)] if fault.detail is not None else []
            if not details:
                return []
            element = details[0]
            declared = next((f for f in operation.faults.values() if f is not None and f.name == element.tag), None)
            if declared is None:
                names = ", ".join(str(f.name) for f in operation.faults.values() if f is not None) or "none"
                return [f"the fault detail {element.tag} is not a fault of {operation.name} (declared: {names})"]
            return _problems(declared, element, f"fault detail of {operation.name}")
        try:
            envelope = etree.fromstring(content, _PARSER)
        except etree.XMLSyntaxError as exc:
            return [f"the answer is not XML ({exc})"]
        return _problems(operation.output, body_payload(envelope), f"answer of {operation.name}")


def _problems(declared: Any, element: Any, what: str) -> list[str]:
    if declared is None:
        return []
    if element is None:
        return [f"the {what} is empty; expected {declared.name}"]
    if element.tag != declared.name:
        return [f"the {what} is {element.tag}; expected {declared.name}"]
    return [
        f"the {what}: {error.reason or error.message} (at {error.path})"
        for error in list(declared.iter_errors(element))[:5]
    ]


@functools.lru_cache(maxsize=32)
def _load(path: str, stamp: int, shown: str) -> Wsdl:
    """Parse once per file version (`stamp` is its modification time)."""
    del stamp
    try:
        root = etree.parse(path, _PARSER).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise SoapInputError(f"WSDL {shown} does not parse ({exc}): give a WSDL 1.1 document") from None
    if etree.QName(root) != etree.QName(WSDL_NS, "definitions"):
        raise SoapInputError(
            f"WSDL {shown} is not a WSDL 1.1 document (its root is {etree.QName(root).text}): give a WSDL 1.1 document"
        )
    actions = _set_aside_soap12(root)
    # Here, not at the top: xmlschema (with elementpath) takes a tenth of a second to import, paid by every
    # pytest process and xdist worker loading the plugin, while only runs with a WSDL check read one.
    from xmlschema import XMLSchemaException
    from xmlschema.extras.wsdl import Wsdl11Document

    try:
        document = Wsdl11Document(  # type: ignore[no-untyped-call]
            io.BytesIO(etree.tostring(root)), base_url=str(Path(path).resolve().parent), validation="strict"
        )
    except (XMLSchemaException, ParseError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SoapInputError(f"WSDL {shown} does not parse ({first}): fix the document") from None
    for binding in document.bindings.values():
        for operation in binding.operations.values():
            if operation.soap_action:
                actions.setdefault(operation.local_name, set()).add(operation.soap_action)
    operations = []
    for port_type in document.port_types.values():
        for operation in port_type.operations.values():
            operations.append(
                Operation(
                    name=operation.local_name,
                    input=_element(operation.input),
                    output=_element(operation.output),
                    faults={name: _element(fault) for name, fault in operation.faults.items()},
                    actions=frozenset(actions.get(operation.local_name, ())),
                )
            )
    return Wsdl(shown, operations)


def _element(reference: Any) -> Any:
    """The element of a message reference's first part (document/literal has one), or None."""
    if reference is None or reference.message is None or not reference.message.parts:
        return None
    return next(iter(reference.message.parts.values()))


def _set_aside_soap12(root: Any) -> dict[str, set[str]]:
    """Remove SOAP 1.2 bindings (and the ports using them); return their operations' soapActions."""
    actions: dict[str, set[str]] = {}
    removed: set[str] = set()
    for binding in root.findall(f"{{{WSDL_NS}}}binding"):
        if binding.find(f"{{{SOAP12_BINDING_NS}}}binding") is None:
            continue
        for operation in binding.findall(f"{{{WSDL_NS}}}operation"):
            soap_operation = operation.find(f"{{{SOAP12_BINDING_NS}}}operation")
            if soap_operation is not None and soap_operation.get("soapAction"):
                actions.setdefault(operation.get("name", ""), set()).add(soap_operation.get("soapAction"))
        removed.add(binding.get("name", ""))
        root.remove(binding)
    for service in root.findall(f"{{{WSDL_NS}}}service"):
        for port in service.findall(f"{{{WSDL_NS}}}port"):
            if port.get("binding", "").rpartition(":")[2] in removed:
                service.remove(port)
    return actions
