"""SOAP and IDoc through real HTTP against the emulated tenant: both versions, faults, WSDL, WS-Security, IDoc."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from iflowtest.calls.client import IflowClient
from iflowtest.checks.assertions import ExpectationError
from iflowtest.emulator import Emulator
from iflowtest.settings import resolve_settings
from iflowtest.soap.call import (
    build_request,
    expect_no_soap_fault,
    expect_soap_fault,
    expect_soap_signature,
    expect_wsdl,
    soap_call,
)
from iflowtest.soap.envelope import SoapInputError, fault_of
from iflowtest.soap.security import SigningKey
from iflowtest.soap.wsdl import Wsdl
from iflowtest.target import TargetSession

ROOT = Path(__file__).resolve().parents[2]
WSDL = ROOT / "fixtures" / "costcenters" / "soap" / "costcenters.wsdl"
IDOC = (ROOT / "fixtures" / "costcenters" / "soap" / "cosmas01.idoc.xml").read_text(encoding="utf-8")
NS = "urn:iflowtest:costcenters"
ACTION = f"{NS}:GetCostCenter"
PYPROJECT = """
[tool.iflowtest]
default_client = "sender"

[tool.iflowtest.clients.sender]
roles = ["ESBMessaging.send"]
auth = "basic"

[tool.iflowtest.clients.signer]
roles = ["ESBMessaging.send"]
key_type = "certificate"
auth = "oauth"

[tool.iflowtest.iflows.GetCostCenter]
address = "/cxf/costcenters"

[tool.iflowtest.iflows.GetCostCenterSigned]
address = "/cxf/signed/costcenters"

[tool.iflowtest.iflows.CostCenterIDoc]
address = "/cxf/idoc/costcenters"
"""


def request_body(cost_center: str = "10101101", area: str = "A000") -> str:
    return (
        f'<GetCostCenterRequest xmlns="{NS}"><ControllingArea>{area}</ControllingArea>'
        f"<CostCenter>{cost_center}</CostCenter></GetCostCenterRequest>"
    )


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TargetSession]:
    folder = tmp_path_factory.mktemp("soap")
    (folder / "pyproject.toml").write_text(PYPROJECT)
    session = TargetSession(resolve_settings(folder, {"target": "emulator"}, {}))
    session.start()
    yield session
    session.close()


@pytest.fixture
def soap(target: TargetSession) -> IflowClient:
    return target.pool.client("sender", "GetCostCenter")


@pytest.fixture
def signer(target: TargetSession) -> IflowClient:
    return target.pool.client("signer", "GetCostCenterSigned")


# --------------------------------------------------------------------------- both versions
@pytest.mark.parametrize(("version", "content_type"), [("1.1", "text/xml"), ("1.2", "application/soap+xml")])
def test_both_soap_versions_answer_in_their_version(soap: IflowClient, version: str, content_type: str) -> None:
    response = soap_call(soap, request_body(), version=version, action=ACTION)

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith(content_type)
    sent = response.request.headers
    if version == "1.1":
        assert sent["SOAPAction"] == f'"{ACTION}"' and sent["Content-Type"].startswith("text/xml")
    else:
        assert "SOAPAction" not in sent and sent["Content-Type"].endswith(f'action="{ACTION}"')
    expect_no_soap_fault(response)
    root = etree.fromstring(response.content)
    assert root.findtext(f".//{{{NS}}}CompanyCode") == "1010"


def test_a_version_mismatch_is_a_fault(soap: IflowClient) -> None:
    request = build_request(request_body(), version="1.2")
    response = soap.post(data=request.envelope, headers={"Content-Type": "text/xml"})

    fault = expect_soap_fault(response, code="soap:VersionMismatch")
    assert "SOAP 1.2 message is not valid when sent to a SOAP 1.1 endpoint" in fault.string


def test_a_wrong_soap_action_is_a_fault(soap: IflowClient) -> None:
    response = soap_call(soap, request_body(), action="urn:nope")

    expect_soap_fault(response, code="Client", string="The given SOAPAction urn:nope does not match an operation.")


def test_the_wsdl_is_served_at_question_wsdl_without_a_message(soap: IflowClient, target: TargetSession) -> None:
    emu: Emulator = target.emulator
    before = len(emu.tenant.messages.records())
    response = soap.get(params={"wsdl": ""})

    assert response.status_code == 200
    served = etree.fromstring(response.content)
    shipped = etree.parse(str(WSDL)).getroot()
    assert served.find("{http://schemas.xmlsoap.org/wsdl/}types") is not None
    assert etree.tostring(served.find("{http://schemas.xmlsoap.org/wsdl/}types")) == etree.tostring(
        shipped.find("{http://schemas.xmlsoap.org/wsdl/}types")
    )
    assert response.url.split("?")[0] in response.text  # the address as the client called it
    assert len(emu.tenant.messages.records()) == before


# --------------------------------------------------------------------------- faults
def test_an_unknown_cost_center_is_a_fault_that_meets_its_expectation(soap: IflowClient) -> None:
    response = soap_call(soap, request_body("99999999"), version="1.2")

    assert response.status_code == 500
    fault = expect_soap_fault(
        response,
        code="soap:Sender",
        string={"contains": "Cost center 99999999 does not exist"},
        detail={"cc:CostCenter": "99999999", "cc:ControllingArea": "A000"},
        namespaces={"cc": NS},
    )
    assert fault.summary().startswith("SOAP 1.2 fault soap:Sender: Cost center 99999999 does not exist")


def test_a_fault_that_differs_from_the_expectation_fails_in_the_users_terms(soap: IflowClient) -> None:
    response = soap_call(soap, request_body("99999999"))

    with pytest.raises(ExpectationError) as caught:
        expect_soap_fault(response, code="soap:Server", string={"contains": "is blocked"})

    assert caught.value.failures[0].startswith("soap_fault code: expected 'soap:Server', got 'soap:Client'")
    assert caught.value.failures[1].startswith("soap_fault string: ")


def test_an_answer_that_is_no_fault_fails_the_fault_expectation(soap: IflowClient) -> None:
    response = soap_call(soap, request_body())

    with pytest.raises(ExpectationError, match=r"soap_fault: expected a SOAP fault, got HTTP 200"):
        expect_soap_fault(response, code="Client")


# --------------------------------------------------------------------------- WSDL
def test_the_wsdl_check_passes_for_answers_and_declared_faults(soap: IflowClient) -> None:
    good = soap_call(soap, request_body(), wsdl=WSDL)
    fault = soap_call(soap, request_body("99999999"), wsdl=WSDL)

    expect_wsdl(good, WSDL)
    expect_wsdl(fault, WSDL)
    assert good.request.headers["SOAPAction"] == f'"{ACTION}"'  # taken from the WSDL


def test_the_wsdl_check_fails_a_request_and_an_answer_that_do_not_fit(soap: IflowClient, tmp_path: Path) -> None:
    with pytest.raises(
        ExpectationError, match=r"pattern .*\[A-Z0-9\]\{4\}.* \(at /GetCostCenterRequest/ControllingArea\)"
    ):
        soap_call(soap, request_body(area="a0"), wsdl=WSDL)

    # A WSDL whose answer element wants a field the service does not send.
    stricter = WSDL.read_text().replace(
        '<xsd:element name="ValidTo" type="xsd:date"/>',
        '<xsd:element name="ValidTo" type="xsd:date"/><xsd:element name="Owner" type="xsd:string"/>',
    )
    (tmp_path / "stricter.wsdl").write_text(stricter)
    response = soap_call(soap, request_body())
    with pytest.raises(ExpectationError, match=r"answer of GetCostCenter: .*Tag 'tns:Owner' expected"):
        expect_wsdl(response, tmp_path / "stricter.wsdl")


# --------------------------------------------------------------------------- WS-Security
def test_a_signed_request_is_accepted_and_its_signed_answer_verifies(
    signer: IflowClient, target: TargetSession
) -> None:
    response = soap_call(signer, request_body(), sign=True, wsdl=WSDL)

    assert response.status_code == 200, response.text
    assert b"BinarySecurityToken" in response.request.body
    checked = expect_soap_signature(response, trust=target.registry.verify)  # the emulator's CA file
    assert "sap_cloudintegrationcertificate" in checked.signer
    assert checked.algorithm == "rsa-sha256" and checked.timestamp_signed
    expect_wsdl(response, WSDL)


def test_a_tampered_signed_request_is_rejected(signer: IflowClient, target: TargetSession) -> None:
    key = SigningKey.from_files(*signer.session.cert)  # type: ignore[misc]
    request = build_request(request_body(), sign=key)
    tampered = request.envelope.replace(b"10101101", b"10101102")

    response = signer.post(data=tampered, headers=request.headers)

    expect_soap_fault(response, code="wsse:FailedCheck", string="The signature or decryption was invalid")
    log = target.emulator.tenant.messages.records()[-1]
    assert log.status == "FAILED" and "signature does not verify" in (log.error_text or "")


def test_unsigned_and_foreign_signed_requests_are_refused(
    signer: IflowClient, soap: IflowClient, tmp_path: Path
) -> None:
    unsigned = soap_call(signer, request_body())
    expect_soap_fault(unsigned, code="wsse:InvalidSecurity")

    # A certificate the tenant has no service key for (self-made), and a signed request to a flow without WS-Security.
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(private, hashes.SHA256())
    )
    key = SigningKey(certificate, private, "stranger")
    foreign = soap_call(signer, request_body(), sign=key)
    expect_soap_fault(foreign, code="wsse:FailedAuthentication")
    not_understood = soap_call(soap, request_body(), sign=key)
    expect_soap_fault(not_understood, code="soap:MustUnderstand", string={"contains": "Security] are not understood"})


def test_a_tampered_signed_answer_is_detected(signer: IflowClient, target: TargetSession, tmp_path: Path) -> None:
    response = soap_call(signer, request_body(), sign=True)
    response._content = response.content.replace(b"Walldorf", b"Mannheim")  # a changed answer

    with pytest.raises(
        ExpectationError, match=r"soap_signature: the signature does not verify: .*changed after signing"
    ):
        expect_soap_signature(response, trust=target.registry.verify)

    # A genuine answer, but from a signer the given trust does not vouch for.
    genuine = soap_call(signer, request_body(), sign=True)
    other_ca = tmp_path / "other.pem"
    other_ca.write_bytes(
        SigningKey.from_files(*signer.session.cert).certificate.public_bytes(serialization.Encoding.PEM)
    )  # type: ignore[misc]
    with pytest.raises(
        ExpectationError,
        match=r"soap_signature: the signer .*sap_cloudintegrationcertificate.* is neither pinned nor issued",
    ):
        expect_soap_signature(genuine, trust=other_ca)
    # An unsigned answer.
    plain = soap_call(target.pool.client("sender", "GetCostCenter"), request_body())
    with pytest.raises(ExpectationError, match=r"soap_signature: the answer is not signed"):
        expect_soap_signature(plain, trust=target.registry.verify)


# --------------------------------------------------------------------------- IDoc
def test_an_idoc_is_received_at_its_cxf_address(target: TargetSession) -> None:
    client = target.pool.client("sender", "CostCenterIDoc")
    idoc = (
        IDOC.replace("${controlling_area}", "A000")
        .replace("${cost_center}", "10109999")
        .replace("${message_id}", "m-1")
    )

    response = soap_call(client, idoc)

    assert response.status_code == 200, response.text
    answer = etree.fromstring(response.content)
    assert answer.findtext(".//TransferId") == "urn:sap.com:msgid=m-1"
    assert len(answer.findtext(".//DbId") or "") == 16
    wrong = soap_call(client, idoc.replace("<IDOCTYP>COSMAS01</IDOCTYP>", "<IDOCTYP>DEBMAS07</IDOCTYP>"))
    expect_soap_fault(wrong, code="soap:Client", string={"contains": "control record says IDOCTYP DEBMAS07"})


def test_an_idoc_receiver_also_works_at_an_http_address(tmp_path: Path) -> None:
    # cpi-facts: the IDoc sender's /cxf path is UNCONFIRMED; the harness takes whatever address is declared.
    catalog = tmp_path / "iflows.yaml"
    catalog.write_text(
        "iflows:\n  - name: CostCenterIDoc\n    address: /http/idoc/costcenters\n    methods: [POST]\n"
        "    role: ESBMessaging.send\n    csrf: false\n    behaviour: receive_idoc\n"
    )
    with Emulator(catalog=catalog) as emu:
        key = emu.issue_service_key("idoc")
        auth = base64.b64encode(f"{key['oauth']['clientid']}:{key['oauth']['clientsecret']}".encode()).decode()
        request = build_request(
            IDOC.replace("${controlling_area}", "A000").replace("${cost_center}", "1").replace("${message_id}", "x")
        )
        client = IflowClient(emu.url, _Header(auth), verify=str(emu.ca_file), default_path="/http/idoc/costcenters")
        response = client.post(data=request.envelope, headers=request.headers)
        client.close()

    assert response.status_code == 200, response.text
    assert fault_of(response) is None


class _Header:
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request):  # type: ignore[no-untyped-def]
        request.headers["Authorization"] = f"Basic {self.token}"
        return request


# --------------------------------------------------------------------------- bad input: one clear line
def test_a_certificate_without_private_key_cannot_sign(tmp_path: Path, signer: IflowClient, soap: IflowClient) -> None:
    certificate_only = tmp_path / "cert.pem"
    certificate_only.write_text(Path(signer.session.cert[0]).read_text())  # type: ignore[index]

    with pytest.raises(SoapInputError) as caught:
        SigningKey.from_files(certificate_only)
    assert str(caught.value) == (
        f"certificate file {certificate_only} holds a certificate without a private key: signing needs both; use "
        "a client with a 'certificate' service key (key_type = 'certificate'), or give key: with the private key's "
        "PEM file"
    )
    with pytest.raises(SoapInputError, match=r"^client 'sender' has no client certificate to sign with: declare it"):
        soap_call(soap, request_body(), sign=True)


def test_a_wsdl_that_does_not_parse_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.wsdl"
    broken.write_text("<definitions><unclosed></definitions>")
    other = tmp_path / "schema.wsdl"
    other.write_text('<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema"/>')

    with pytest.raises(SoapInputError) as caught:
        Wsdl.load(broken)
    assert str(caught.value).startswith(f"WSDL {broken} does not parse (") and "\n" not in str(caught.value)
    with pytest.raises(
        SoapInputError, match=r"is not a WSDL 1.1 document \(its root is \{http://www.w3.org/2001/XMLSchema\}schema\)"
    ):
        Wsdl.load(other)
    with pytest.raises(SoapInputError, match=r"^WSDL .*missing.wsdl cannot be read \(No such file or directory\)"):
        Wsdl.load(tmp_path / "missing.wsdl")
