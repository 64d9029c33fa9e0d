"""The SOAP sender adapter's protocol side: envelopes of both versions, faults, and WS-Security.

CPI's SOAP 1.x and IDoc sender adapters run on Apache CXF: one endpoint takes SOAP 1.1 (`text/xml` with a
`SOAPAction` header) and SOAP 1.2 (`application/soap+xml; action="..."`), answers faults with HTTP 500 in
the request's version, and, with WS-Security "Verify Message and Sign Response", rejects a request whose
body is not signed by a trusted certificate and signs its answer with the tenant's key. Signatures are
made and checked with signxml (XML-DSig, over lxml and cryptography); the WS-Security framing around them
(the `wsse:Security` header, the X.509 token, the timestamp) is a few elements written here rather than
through zeep's `wsse`, which needs xmlsec and a libxml2 matching lxml's.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree  # type: ignore[import-untyped, unused-ignore]
from signxml.algorithms import DigestAlgorithm, SignatureConstructionMethod, SignatureMethod
from signxml.exceptions import InvalidInput, SignXMLException
from signxml.signer import XMLSigner
from signxml.verifier import SignatureConfiguration, XMLVerifier

SOAP11: Final = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12: Final = "http://www.w3.org/2003/05/soap-envelope"
WSSE: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS: Final = "http://www.w3.org/2000/09/xmldsig#"
X509_TOKEN: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64_BINARY: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
EXC_C14N: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
# The texts WSS4J (CXF's WS-Security engine) answers with; the details go to the message log only.
INVALID_SECURITY: Final = "An error was discovered processing the <wsse:Security> header"
FAILED_CHECK: Final = "The signature or decryption was invalid"
FAILED_AUTHENTICATION: Final = "The security token could not be authenticated or authorized"
SIGNATURE_ALGORITHMS: Final = ("SHA1", "SHA256", "SHA512")


@dataclass(frozen=True)
class SoapVersion:
    """What differs between SOAP 1.1 and 1.2 on the wire."""

    name: str
    namespace: str
    content_type: str
    client: str  # the fault code for the sender's mistakes
    server: str  # the fault code for the receiver's

    @property
    def response_type(self) -> str:
        """The Content-Type of an answer in this version."""
        return f"{self.content_type};charset=UTF-8"


SOAP_11: Final = SoapVersion("1.1", SOAP11, "text/xml", "Client", "Server")
SOAP_12: Final = SoapVersion("1.2", SOAP12, "application/soap+xml", "Sender", "Receiver")


def version_of_request(content_type: str) -> SoapVersion:
    """The version a request's Content-Type announces (1.1 unless it says application/soap+xml)."""
    return SOAP_12 if "application/soap+xml" in content_type.lower() else SOAP_11


class SoapFault(Exception):
    """A fault the adapter or the flow answers with; rendered in the request's SOAP version."""

    def __init__(
        self,
        string: str,
        *,
        sender: bool = True,
        subcode: tuple[str, str, str] | None = None,  # (namespace, prefix, local name), e.g. wsse:FailedCheck
        detail: Any = None,
        log: str | None = None,
        code: str | None = None,  # a code of the envelope namespace instead of Client/Server (MustUnderstand)
    ) -> None:
        super().__init__(string)
        self.string = string
        self.sender = sender
        self.subcode = subcode
        self.detail = detail
        self.code = code
        self.log = log or string  # what the message log's error text says

    def render(self, version: SoapVersion) -> bytes:
        """The fault envelope, as CXF writes it (prefix `soap`)."""
        soap = f"{{{version.namespace}}}"
        nsmap = {"soap": version.namespace}
        if self.subcode is not None:
            nsmap[self.subcode[1]] = self.subcode[0]
        envelope = etree.Element(soap + "Envelope", nsmap=nsmap)
        fault = etree.SubElement(etree.SubElement(envelope, soap + "Body"), soap + "Fault")
        main = "soap:" + (self.code or (version.client if self.sender else version.server))
        if version is SOAP_11:
            code = f"{self.subcode[1]}:{self.subcode[2]}" if self.subcode else main
            etree.SubElement(fault, "faultcode").text = code
            etree.SubElement(fault, "faultstring").text = self.string
            if self.detail is not None:
                etree.SubElement(fault, "detail").append(self.detail)
        else:
            code_element = etree.SubElement(fault, soap + "Code")
            etree.SubElement(code_element, soap + "Value").text = main
            if self.subcode is not None:
                sub = etree.SubElement(code_element, soap + "Subcode")
                etree.SubElement(sub, soap + "Value").text = f"{self.subcode[1]}:{self.subcode[2]}"
            reason = etree.SubElement(fault, soap + "Reason")
            text = etree.SubElement(reason, soap + "Text")
            text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
            text.text = self.string
            if self.detail is not None:
                etree.SubElement(fault, soap + "Detail").append(self.detail)
        return serialize(envelope)


def wsse_fault(local: str, string: str, log: str) -> SoapFault:
    """A WS-Security fault (`wsse:InvalidSecurity`, `wsse:FailedCheck`, ...) whose reason goes to the log only."""
    return SoapFault(string, subcode=(WSSE, "wsse", local), log=f"WS-Security: {log}")


@dataclass(frozen=True)
class SoapMessage:
    """A parsed request envelope."""

    version: SoapVersion
    envelope: Any
    header: Any  # None when the envelope has no Header
    payload: Any  # the first element in the Body (None for an empty Body)
    action: str | None  # SOAPAction (1.1) or the action parameter (1.2), without quotes

    @property
    def body(self) -> Any:
        """The Body element."""
        return self.envelope.find(f"{{{self.version.namespace}}}Body")


def parser() -> Any:
    """No DTDs, entities or network: CPI's parsers are hardened the same way."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def serialize(element: Any) -> bytes:
    """An element as UTF-8 XML with a declaration."""
    return bytes(etree.tostring(element, xml_declaration=True, encoding="UTF-8"))


def parse_request(body: bytes, content_type: str, soap_action: str | None) -> SoapMessage:
    """Parse a request the way CXF reads it; a SoapFault says what is wrong (in the announced version)."""
    announced = version_of_request(content_type)
    try:
        envelope = etree.fromstring(body, parser())
    except etree.XMLSyntaxError as exc:
        raise SoapFault(f"Error reading XMLStreamReader: {exc.msg}") from None
    name = etree.QName(envelope)
    if name.localname != "Envelope" or name.namespace not in (SOAP11, SOAP12):
        raise SoapFault(
            f"Message part {{{name.namespace or ''}}}{name.localname} was not recognized.  (Does it exist in service WSDL?)"
        )
    version = SOAP_11 if name.namespace == SOAP11 else SOAP_12
    if version is not announced:
        # CXF checks the envelope's namespace against the Content-Type the request came with.
        raise SoapFault(
            f"A SOAP {version.name} message is not valid when sent to a SOAP {announced.name} endpoint "
            f"(Content-Type {content_type or 'missing'})",
            code="VersionMismatch",
        )
    header = envelope.find(f"{{{version.namespace}}}Header")
    body_element = envelope.find(f"{{{version.namespace}}}Body")
    if body_element is None:
        raise SoapFault("No SOAP Body element in the envelope")
    payload = next((child for child in body_element if isinstance(child.tag, str)), None)
    action = soap_action if version is SOAP_11 else _action_parameter(content_type)
    return SoapMessage(version, envelope, header, payload, action.strip().strip('"') if action is not None else None)


def _action_parameter(content_type: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "action":
            return value.strip()
    return None


def envelope_with(version: SoapVersion, payload: Any) -> Any:
    """A response envelope holding ``payload`` in its Body."""
    soap = f"{{{version.namespace}}}"
    envelope = etree.Element(soap + "Envelope", nsmap={"soap": version.namespace})
    etree.SubElement(envelope, soap + "Body").append(payload)
    return envelope


def understood_headers(message: SoapMessage, understood: frozenset[str]) -> None:
    """CXF's MustUnderstand check: a header marked mustUnderstand that no interceptor handles is a fault."""
    if message.header is None:
        return
    flag = f"{{{message.version.namespace}}}mustUnderstand"
    for element in message.header:
        if not isinstance(element.tag, str) or element.get(flag) not in ("1", "true"):
            continue
        if element.tag not in understood:
            raise SoapFault(f"MustUnderstand headers: [{element.tag}] are not understood.", code="MustUnderstand")


# ---------------------------------------------------------------- WS-Security
@dataclass(frozen=True)
class WsSecurity:
    """The WS-Security tab of a SOAP sender: Verify Message and Sign Response."""

    signature_algorithm: str = "SHA1"  # CPI's default for signing the response
    check_timestamp: bool = True


class _Signer(XMLSigner):
    """signxml refuses SHA-1 unless asked; CPI's SOAP sender signs with SHA-1 by default."""

    def check_deprecated_methods(self) -> None:
        pass


_ANY_METHOD: Final = SignatureConfiguration(
    expect_references=True,
    signature_methods=frozenset(SignatureMethod),
    digest_algorithms=frozenset(DigestAlgorithm),
)


def security_header(message: SoapMessage) -> Any:
    """The request's wsse:Security header, or None."""
    return None if message.header is None else message.header.find(f"{{{WSSE}}}Security")


def verify_request(
    message: SoapMessage, trusted: Callable[[x509.Certificate], bool], now: datetime, settings: WsSecurity
) -> x509.Certificate:
    """Check that the Body (and the timestamp, when checked) is signed by a trusted X.509 token."""
    security = security_header(message)
    if security is None:
        raise wsse_fault("InvalidSecurity", INVALID_SECURITY, "the request has no wsse:Security header")
    signature = security.find(f"{{{DS}}}Signature")
    if signature is None:
        raise wsse_fault("InvalidSecurity", INVALID_SECURITY, "the wsse:Security header holds no ds:Signature")
    certificate = _token_certificate(security, signature)
    if not trusted(certificate):
        raise wsse_fault(
            "FailedAuthentication",
            FAILED_AUTHENTICATION,
            f"the signing certificate {certificate.subject.rfc4514_string()} belongs to no service key of this tenant",
        )
    try:
        verified = XMLVerifier().verify(message.envelope, x509_cert=certificate, expect_config=_ANY_METHOD)
    except (SignXMLException, InvalidInput, ValueError) as exc:
        raise wsse_fault("FailedCheck", FAILED_CHECK, f"the signature does not verify ({exc})") from None
    results = verified if isinstance(verified, list) else [verified]
    signed_ids = {_id_of(result.signed_xml) for result in results}
    body_id = _id_of(message.body)
    if body_id is None or body_id not in signed_ids:
        raise wsse_fault("FailedCheck", FAILED_CHECK, "the SOAP Body is not covered by the signature")
    if settings.check_timestamp:
        _check_timestamp(security, signed_ids, now)
    return certificate


def _id_of(element: Any) -> str | None:
    return None if element is None else element.get(f"{{{WSU}}}Id")


def _token_certificate(security: Any, signature: Any) -> x509.Certificate:
    reference = signature.find(f"{{{DS}}}KeyInfo/{{{WSSE}}}SecurityTokenReference/{{{WSSE}}}Reference")
    uri = reference.get("URI", "") if reference is not None else ""
    token = next(
        (t for t in security.iter(f"{{{WSSE}}}BinarySecurityToken") if uri and _id_of(t) == uri.lstrip("#")), None
    )
    if token is None or token.get("ValueType") != X509_TOKEN:
        raise wsse_fault(
            "SecurityTokenUnavailable",
            INVALID_SECURITY,
            "the signature's KeyInfo refers to no X.509 BinarySecurityToken in the header",
        )
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join((token.text or "").split())))
    except ValueError as exc:
        raise wsse_fault("InvalidSecurityToken", INVALID_SECURITY, f"the X.509 token does not parse ({exc})") from None


def _check_timestamp(security: Any, signed_ids: set[str | None], now: datetime) -> None:
    timestamp = security.find(f"{{{WSU}}}Timestamp")
    if timestamp is None or _id_of(timestamp) not in signed_ids:
        raise wsse_fault(
            "InvalidSecurity", INVALID_SECURITY, "Check Time Stamp is on: a signed wsu:Timestamp is required"
        )
    expires = timestamp.findtext(f"{{{WSU}}}Expires")
    try:
        expiry = datetime.fromisoformat((expires or "").replace("Z", "+00:00"))
    except ValueError:
        raise wsse_fault(
            "InvalidSecurity", INVALID_SECURITY, f"the timestamp's Expires {expires!r} is not a date"
        ) from None
    if expiry <= now:
        raise wsse_fault("MessageExpired", "The message has expired", f"the timestamp expired at {expires}")


def sign_envelope(envelope: Any, key: Any, certificate: x509.Certificate, algorithm: str, now: datetime) -> bytes:
    """Add a wsse:Security header signing the Body and a timestamp, with the certificate as X.509 token."""
    namespace = etree.QName(envelope).namespace
    soap = f"{{{namespace}}}"
    header = envelope.find(soap + "Header")
    if header is None:
        header = etree.Element(soap + "Header")
        envelope.insert(0, header)
    security = etree.SubElement(header, f"{{{WSSE}}}Security", nsmap={"wsse": WSSE, "wsu": WSU})
    security.set(soap + "mustUnderstand", "1" if namespace == SOAP11 else "true")
    token_id, stamp_id, body_id = (f"{kind}-{uuid.uuid4().hex}" for kind in ("X509", "TS", "Body"))
    token = etree.SubElement(
        security, f"{{{WSSE}}}BinarySecurityToken", EncodingType=BASE64_BINARY, ValueType=X509_TOKEN
    )
    token.set(f"{{{WSU}}}Id", token_id)
    token.text = base64.b64encode(certificate.public_bytes(Encoding.DER)).decode("ascii")
    stamp = etree.SubElement(security, f"{{{WSU}}}Timestamp")
    stamp.set(f"{{{WSU}}}Id", stamp_id)
    etree.SubElement(stamp, f"{{{WSU}}}Created").text = _instant(now)
    etree.SubElement(stamp, f"{{{WSU}}}Expires").text = _instant(now + timedelta(minutes=5))
    body = envelope.find(soap + "Body")
    body.set(f"{{{WSU}}}Id", body_id)
    key_info = etree.Element(f"{{{DS}}}KeyInfo")
    reference = etree.SubElement(
        etree.SubElement(key_info, f"{{{WSSE}}}SecurityTokenReference"), f"{{{WSSE}}}Reference"
    )
    reference.set("URI", f"#{token_id}")
    reference.set("ValueType", X509_TOKEN)
    kind = "ecdsa" if isinstance(key, ec.EllipticCurvePrivateKey) else "rsa"
    signer = _Signer(
        method=SignatureConstructionMethod.detached,
        signature_algorithm=f"{kind}-{algorithm.lower()}",
        digest_algorithm=algorithm.lower(),
        c14n_algorithm=EXC_C14N,
    )
    signature = signer.sign(envelope, key=key, reference_uri=[f"#{stamp_id}", f"#{body_id}"], key_info=key_info)
    security.append(signature)
    return serialize(envelope)


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
