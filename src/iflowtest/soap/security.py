"""WS-Security on the sender side: requests signed with the client certificate, signed answers verified.

CPI's SOAP 1.x sender with "Verify Message and Sign Response" expects the Body (and a timestamp) signed by
an X.509 certificate sent along as a `wsse:BinarySecurityToken`, and signs its answer the same way with the
tenant's key. The XML signature itself (canonicalisation, digests, RSA/ECDSA) is signxml's, which needs only
lxml and cryptography; the header around it is written here. The Python library that writes WS-Security
headers (zeep's `wsse`) sits on xmlsec, a binding of the C library whose wheels bundle a libxml2 that must
match lxml's, which is more to keep working on a fresh machine than these few elements.
"""

from __future__ import annotations

import base64
import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from lxml import etree

from iflowtest.checks.assertions import ExpectationError
from iflowtest.soap.envelope import WSSE, SoapInputError, parse_xml, serialize, version_of

if TYPE_CHECKING:
    from cryptography import x509

WSU: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS: Final = "http://www.w3.org/2000/09/xmldsig#"
X509_TOKEN: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64_BINARY: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
EXC_C14N: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
ALGORITHMS: Final = ("SHA256", "SHA512")
# signxml and cryptography's X.509 are imported by the functions that sign or verify, not at the top: they take
# tens of milliseconds to import, paid by every pytest process and xdist worker loading the plugin, while few
# runs sign anything.


@functools.cache
def _answer_config() -> Any:
    """What an answer's signature may use: CPI signs with SHA-1 unless its channel says otherwise, so accepted."""
    from signxml.algorithms import DigestAlgorithm, SignatureMethod
    from signxml.verifier import SignatureConfiguration

    return SignatureConfiguration(
        expect_references=True,
        signature_methods=frozenset(m for m in SignatureMethod if not m.name.startswith("HMAC")),
        digest_algorithms=frozenset(DigestAlgorithm),
    )


@dataclass(frozen=True)
class SigningKey:
    """A certificate and its private key, to sign requests with."""

    certificate: x509.Certificate
    private_key: Any
    source: str

    @classmethod
    def from_pem(cls, certificate_pem: str, key_pem: str | None, source: str) -> SigningKey:
        """From PEM text: the first certificate of a chain and its private key (one PEM may hold both)."""
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        try:
            certificates = x509.load_pem_x509_certificates(certificate_pem.encode())
        except ValueError:
            raise SoapInputError(
                f"{source} holds no PEM certificate: give the client certificate (-----BEGIN CERTIFICATE-----)"
            ) from None
        key_text = key_pem if key_pem is not None else certificate_pem
        if "PRIVATE KEY-----" not in key_text:
            raise SoapInputError(
                f"{source} holds a certificate without a private key: signing needs both; use a client with a "
                "'certificate' service key (key_type = 'certificate'), or give key: with the private key's PEM file"
            )
        try:
            key = load_pem_private_key(key_text.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise SoapInputError(
                f"the private key of {source} cannot be read ({exc}): give an unencrypted PEM key"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise SoapInputError(f"the private key of {source} is neither RSA nor EC: sign with an RSA or EC key")
        if key.public_key().public_numbers() != certificates[0].public_key().public_numbers():  # type: ignore[union-attr]
            raise SoapInputError(
                f"the private key of {source} does not belong to its certificate: give the matching pair"
            )
        return cls(certificates[0], key, source)

    @classmethod
    def from_files(cls, certificate: str | Path, key: str | Path | None = None) -> SigningKey:
        """From PEM files; without `key`, the certificate file must hold the private key too."""
        texts: list[str | None] = []
        for path in (certificate, key):
            if path is None:
                texts.append(None)
                continue
            try:
                texts.append(Path(path).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                raise SoapInputError(f"signing file {path} cannot be read ({exc}): check the path") from None
        assert texts[0] is not None
        return cls.from_pem(texts[0], texts[1], f"certificate file {certificate}")


def sign_envelope(envelope: bytes, key: SigningKey, algorithm: str = "SHA256", *, lifetime: int = 300) -> bytes:
    """`envelope` with a wsse:Security header: the Body and a timestamp signed, the certificate as X.509 token."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from signxml.algorithms import SignatureConstructionMethod
    from signxml.signer import XMLSigner

    if algorithm not in ALGORITHMS:
        raise SoapInputError(f"signature algorithm {algorithm!r} is not one of {', '.join(ALGORITHMS)}")
    root = parse_xml(envelope, "the SOAP envelope to sign")
    version = version_of(root)
    soap = f"{{{etree.QName(root).namespace}}}"
    header = root.find(soap + "Header")
    if header is None:
        header = etree.Element(soap + "Header")
        root.insert(0, header)
    security = etree.SubElement(header, f"{{{WSSE}}}Security", nsmap={"wsse": WSSE, "wsu": WSU})
    security.set(soap + "mustUnderstand", "1" if version == "1.1" else "true")
    ids = {kind: f"{kind}-{uuid.uuid4().hex}" for kind in ("X509", "TS", "Body")}
    token = etree.SubElement(
        security, f"{{{WSSE}}}BinarySecurityToken", EncodingType=BASE64_BINARY, ValueType=X509_TOKEN
    )
    token.set(f"{{{WSU}}}Id", ids["X509"])
    token.text = base64.b64encode(key.certificate.public_bytes(Encoding.DER)).decode("ascii")
    now = datetime.now(UTC)
    stamp = etree.SubElement(security, f"{{{WSU}}}Timestamp")
    stamp.set(f"{{{WSU}}}Id", ids["TS"])
    etree.SubElement(stamp, f"{{{WSU}}}Created").text = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    etree.SubElement(stamp, f"{{{WSU}}}Expires").text = (now + timedelta(seconds=lifetime)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    body = root.find(soap + "Body")
    if body is None:
        raise SoapInputError("the SOAP envelope to sign has no Body")
    body.set(f"{{{WSU}}}Id", ids["Body"])
    key_info = etree.Element(f"{{{DS}}}KeyInfo")
    reference = etree.SubElement(
        etree.SubElement(key_info, f"{{{WSSE}}}SecurityTokenReference"), f"{{{WSSE}}}Reference"
    )
    reference.set("URI", "#" + ids["X509"])
    reference.set("ValueType", X509_TOKEN)
    kind = "ecdsa" if isinstance(key.private_key, ec.EllipticCurvePrivateKey) else "rsa"
    signer = XMLSigner(
        method=SignatureConstructionMethod.detached,
        signature_algorithm=f"{kind}-{algorithm.lower()}",
        digest_algorithm=algorithm.lower(),
        c14n_algorithm=EXC_C14N,
    )
    security.append(
        signer.sign(root, key=key.private_key, reference_uri=["#" + ids["TS"], "#" + ids["Body"]], key_info=key_info)
    )
    return serialize(root)


# --------------------------------------------------------------------------- verifying answers
@dataclass(frozen=True)
class SignedAnswer:
    """What a verified answer's signature says."""

    signer: str  # the certificate's subject
    algorithm: str  # e.g. rsa-sha256
    timestamp_signed: bool


def load_trust(path: str | Path, what: str) -> list[x509.Certificate]:
    """The certificates of a PEM file: pinned signers or the CAs that issue them."""
    from cryptography import x509

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SoapInputError(f"{what} {path} cannot be read ({exc.strerror}): check the path") from None
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise SoapInputError(
            f"{what} {path} holds no PEM certificate: give the tenant's signing certificate or its CA"
        ) from None


def verify_answer(content: bytes, trust: list[x509.Certificate], trust_source: str) -> SignedAnswer:
    """Check that a SOAP answer's Body is signed by a certificate `trust` pins or issued; else ExpectationError."""
    from cryptography import x509
    from signxml.exceptions import InvalidInput, SignXMLException
    from signxml.verifier import XMLVerifier

    def fail(why: str) -> ExpectationError:
        return ExpectationError([f"soap_signature: {why}"])

    try:
        root = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
        version_of(root, "the answer")
    except (etree.XMLSyntaxError, SoapInputError) as exc:
        raise fail(f"the answer is not a SOAP envelope ({exc})") from None
    soap = f"{{{etree.QName(root).namespace}}}"
    security = root.find(f"{soap}Header/{{{WSSE}}}Security")
    signature = security.find(f"{{{DS}}}Signature") if security is not None else None
    if security is None or signature is None:
        raise fail("the answer is not signed (no wsse:Security header with a ds:Signature)")
    reference = signature.find(f"{{{DS}}}KeyInfo/{{{WSSE}}}SecurityTokenReference/{{{WSSE}}}Reference")
    token_id = (reference.get("URI") or "").lstrip("#") if reference is not None else ""
    token = next(
        (t for t in security.iter(f"{{{WSSE}}}BinarySecurityToken") if token_id and t.get(f"{{{WSU}}}Id") == token_id),
        None,
    )
    if token is None:
        raise fail(
            "the signature names no X.509 BinarySecurityToken of the header (a pinned certificate cannot be guessed)"
        )
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode("".join((token.text or "").split())))
    except ValueError as exc:
        raise fail(f"the X.509 token does not parse ({exc})") from None
    subject = certificate.subject.rfc4514_string()
    if not _trusted(certificate, trust):
        raise fail(f"the signer {subject} is neither pinned nor issued by a certificate in {trust_source}")
    try:
        verified = XMLVerifier().verify(root, x509_cert=certificate, expect_config=_answer_config())
    except (SignXMLException, InvalidInput, ValueError) as exc:
        raise fail(
            f"the signature does not verify: {exc} (the answer was changed after signing, or signed with another key)"
        ) from None
    results = verified if isinstance(verified, list) else [verified]
    signed = {r.signed_xml.get(f"{{{WSU}}}Id") for r in results if r.signed_xml is not None}
    body = root.find(soap + "Body")
    if body is None or body.get(f"{{{WSU}}}Id") not in signed:
        raise fail("the signature does not cover the SOAP Body")
    stamp = security.find(f"{{{WSU}}}Timestamp")
    method = signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
    algorithm = (method.get("Algorithm") or "").rpartition("#")[2] if method is not None else ""
    if stamp is not None:
        expires = stamp.findtext(f"{{{WSU}}}Expires") or ""
        try:
            expired = datetime.fromisoformat(expires.replace("Z", "+00:00")) <= datetime.now(UTC)
        except ValueError:
            raise fail(f"the timestamp's Expires {expires!r} is not a date") from None
        if expired:
            raise fail(f"the answer's timestamp expired at {expires}")
    return SignedAnswer(subject, algorithm, stamp is not None and stamp.get(f"{{{WSU}}}Id") in signed)


def _trusted(certificate: x509.Certificate, trust: list[x509.Certificate]) -> bool:
    from cryptography.exceptions import InvalidSignature as InvalidSignatureError
    from cryptography.hazmat.primitives import hashes

    now = datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        return False
    fingerprint = certificate.fingerprint(hashes.SHA256())
    for anchor in trust:
        if anchor.fingerprint(hashes.SHA256()) == fingerprint:
            return True
        try:
            certificate.verify_directly_issued_by(anchor)
        except (ValueError, TypeError, InvalidSignatureError):
            continue
        return True
    return False


__all__ = ["SignedAnswer", "SigningKey", "load_trust", "sign_envelope", "verify_answer"]
