"""SOAP envelopes: built from a template for SOAP 1.1 or 1.2, and faults read as such.

    from iflowtest.soap.envelope import build_envelope, fault_of

    envelope = build_envelope("<GetCostCenterRequest xmlns='urn:...'>...</GetCostCenterRequest>", version="1.2")
    fault = fault_of(response)          # None unless the answer is a SOAP fault
    fault.code, fault.string, fault.detail_text

A request body goes into the Body of the built-in envelope of its version, or a whole envelope is given
(a template file, its `${NAME}` values already filled in) and its version read from its namespace. The
headers follow the version: SOAP 1.1 sends `Content-Type: text/xml` and a `SOAPAction` header, SOAP 1.2
`Content-Type: application/soap+xml` with the action as its parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import requests
from lxml import etree

from iflowtest.errors import ConfigError

SOAP11: Final = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12: Final = "http://www.w3.org/2003/05/soap-envelope"
VERSIONS: Final = {"1.1": SOAP11, "1.2": SOAP12}
WSSE: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
# How fault codes are shown whatever prefix the answer used: `soap:Client`, `wsse:FailedCheck`.
_SHOWN_PREFIXES: Final = {SOAP11: "soap", SOAP12: "soap", WSSE: "wsse"}
_PARSER: Final = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class SoapInputError(ConfigError):
    """Raised when a SOAP request cannot be built: a body or envelope that is not XML, a version mismatch."""


def parse_xml(text: str | bytes, what: str) -> Any:
    """`text` as an element (no DTDs, entities or network), or a SoapInputError naming `what`."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        return etree.fromstring(data.strip(), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SoapInputError(f"{what} is not XML ({exc}): give a well-formed XML element") from None


def version_of(envelope: Any, what: str = "the envelope") -> str:
    """ "1.1" or "1.2" from the envelope's namespace; a SoapInputError for anything that is no envelope."""
    name = etree.QName(envelope)
    for version, namespace in VERSIONS.items():
        if name.namespace == namespace and name.localname == "Envelope":
            return version
    raise SoapInputError(
        f"{what} is not a SOAP envelope: its root is {{{name.namespace or ''}}}{name.localname}, expected an "
        f"Envelope of {SOAP11} (SOAP 1.1) or {SOAP12} (SOAP 1.2)"
    )


def check_version(version: str) -> str:
    """The version as text, "1.1" or "1.2"; a SoapInputError otherwise (YAML may read 1.1 as a number)."""
    text = str(version)
    if text not in VERSIONS:
        raise SoapInputError(f'SOAP version {version!r} is not one of 1.1, 1.2: write version: "1.1" or "1.2"')
    return text


def build_envelope(body: str | bytes | Any, version: str = "1.1") -> bytes:
    """The built-in envelope of `version` with `body` (XML text or an element) as the content of its Body."""
    namespace = VERSIONS[check_version(version)]
    payload = parse_xml(body, "the SOAP body") if isinstance(body, str | bytes) else body
    envelope = etree.Element(f"{{{namespace}}}Envelope", nsmap={"soapenv": namespace})
    etree.SubElement(envelope, f"{{{namespace}}}Header")
    etree.SubElement(envelope, f"{{{namespace}}}Body").append(payload)
    return serialize(envelope)


def serialize(element: Any) -> bytes:
    """An element as UTF-8 XML with a declaration."""
    return bytes(etree.tostring(element, xml_declaration=True, encoding="UTF-8"))


def request_headers(version: str, action: str | None) -> dict[str, str]:
    """Content-Type (and SOAPAction for 1.1) as the version wants them."""
    if check_version(version) == "1.1":
        return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action or ""}"'}
    content_type = "application/soap+xml; charset=utf-8"
    return {"Content-Type": content_type + (f'; action="{action}"' if action else "")}


def body_payload(envelope: Any) -> Any:
    """The first element inside the envelope's Body, or None."""
    body = envelope.find(f"{{{etree.QName(envelope).namespace}}}Body")
    return None if body is None else next((c for c in body if isinstance(c.tag, str)), None)


# --------------------------------------------------------------------------- faults
@dataclass(frozen=True)
class SoapFault:
    """A SOAP fault as the answer carried it, in terms that are the same for both versions."""

    version: str
    code: str  # `soap:Client` (1.1 faultcode) or `soap:Sender` (1.2 Code/Value), prefixes normalised
    string: str  # faultstring (1.1) or Reason/Text (1.2)
    subcode: str | None = None  # 1.2 Code/Subcode/Value, e.g. `wsse:FailedCheck`
    detail: Any = None  # the detail (1.1) or Detail (1.2) element, or None

    @property
    def detail_element(self) -> Any:
        """The first element in the detail (the fault message's element, as a WSDL declares it), or None."""
        if self.detail is None:
            return None
        return next((child for child in self.detail if isinstance(child.tag, str)), None)

    @property
    def local_code(self) -> str:
        """The code without its prefix: `Client`, `Sender`, `FailedCheck`."""
        return self.code.rpartition(":")[2]

    @property
    def detail_text(self) -> str:
        """The detail as compact XML text (empty when there is none)."""
        if self.detail is None:
            return ""
        return "".join(
            # exclusive c14n: each element with the namespaces it uses, not those of the envelope around it
            etree.tostring(child, method="c14n", exclusive=True).decode("utf-8").strip()
            for child in self.detail
            if isinstance(child.tag, str)
        )

    def summary(self) -> str:
        """One line: `SOAP 1.1 fault soap:Client: Cost center 999 does not exist (detail: <...>)`."""
        code = self.code + (f" / {self.subcode}" if self.subcode else "")
        detail = f" (detail: {self.detail_text[:300]})" if self.detail_text else ""
        return f"SOAP {self.version} fault {code}: {self.string}{detail}"


def fault_of(answer: requests.Response | bytes) -> SoapFault | None:
    """The SOAP fault an answer carries, or None (not XML, not an envelope, or no Fault in its Body)."""
    content = answer.content if isinstance(answer, requests.Response) else answer
    try:
        envelope = etree.fromstring(content, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    namespace = etree.QName(envelope).namespace
    if namespace not in (SOAP11, SOAP12):
        return None
    fault = envelope.find(f"{{{namespace}}}Body/{{{namespace}}}Fault")
    if fault is None:
        return None
    if namespace == SOAP11:
        code_element = fault.find("faultcode")
        return SoapFault(
            "1.1",
            _qname_text(code_element),
            (fault.findtext("faultstring") or "").strip(),
            detail=fault.find("detail"),
        )
    soap = f"{{{SOAP12}}}"
    sub = fault.find(f"{soap}Code/{soap}Subcode/{soap}Value")
    return SoapFault(
        "1.2",
        _qname_text(fault.find(f"{soap}Code/{soap}Value")),
        (fault.findtext(f"{soap}Reason/{soap}Text") or "").strip(),
        subcode=_qname_text(sub) if sub is not None else None,
        detail=fault.find(f"{soap}Detail"),
    )


def _qname_text(element: Any) -> str:
    """A QName-valued element's text with its prefix shown as `soap` or `wsse` when it names those namespaces."""
    if element is None:
        return ""
    text = (element.text or "").strip()
    prefix, _, local = text.rpartition(":")
    namespace = element.nsmap.get(prefix or None)
    shown = _SHOWN_PREFIXES.get(namespace or "", prefix)
    return f"{shown}:{local}" if shown else local
