"""SOAP calls and their expectations, shared by YAML cases (`request: soap:`) and Python tests.

    from iflowtest.soap.call import expect_soap_fault, expect_soap_signature, expect_wsdl, soap_call

    response = soap_call(iflow, body=GET_REQUEST, version="1.2", action="urn:iflowtest:costcenters:GetCostCenter")
    expect_soap_fault(response, code="soap:Sender", string={"contains": "does not exist"})

    response = soap_call(iflow, body=GET_REQUEST, sign=True)       # signed with the client's certificate key
    expect_soap_signature(response, trust=iflow.session.verify)     # the tenant's signing certificate or its CA
    expect_wsdl(response, "fixtures/costcenters/soap/costcenters.wsdl")

Each `expect_*` raises `ExpectationError` (an AssertionError) saying what did not hold; input mistakes (no
such file, a WSDL that does not parse, a certificate without its private key) are one `SoapInputError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from lxml import etree

from iflowtest.calls.client import IflowClient
from iflowtest.checks.assertions import ExpectationError, query_xpath
from iflowtest.checks.matchers import KEYWORDS, matcher, show
from iflowtest.soap.envelope import (
    SoapFault,
    SoapInputError,
    body_payload,
    build_envelope,
    check_version,
    fault_of,
    parse_xml,
    request_headers,
    serialize,
    version_of,
)
from iflowtest.soap.security import SignedAnswer, SigningKey, load_trust, sign_envelope, verify_answer
from iflowtest.soap.wsdl import Operation, Wsdl

FAULT_KEYS = ("code", "subcode", "string", "detail")


@dataclass(frozen=True)
class SoapRequest:
    """A request ready to send: the envelope, its headers, and the WSDL operation it was checked against."""

    envelope: bytes
    headers: dict[str, str]
    version: str
    wsdl: Wsdl | None = None
    operation: Operation | None = None


def build_request(
    body: str | bytes | None = None,
    *,
    envelope: str | bytes | None = None,
    version: str | None = None,
    action: str | None = None,
    sign: SigningKey | None = None,
    algorithm: str = "SHA256",
    wsdl: str | Path | None = None,
    operation: str | None = None,
) -> SoapRequest:
    """Build (and check, and sign) a SOAP request from a body or a whole envelope."""
    if (body is None) == (envelope is None):
        raise SoapInputError("a SOAP request needs either a body or a whole envelope, not both or neither")
    if envelope is not None:
        root = parse_xml(envelope, "the SOAP envelope")
        found = version_of(root)
        if version is not None and check_version(version) != found:
            raise SoapInputError(f"the envelope is SOAP {found} but version {version} was asked for: drop one of them")
        version, data = found, serialize(root)
    else:
        version = check_version(version or "1.1")
        assert body is not None
        data = build_envelope(body, version)
    checked, chosen = None, None
    if wsdl is not None:
        checked = Wsdl.load(wsdl)
        payload = body_payload(parse_xml(data, "the SOAP envelope"))
        chosen = checked.operation_for(payload, action=action, name=operation)
        problems = checked.check_request(payload, chosen)
        if problems:
            raise ExpectationError([f"wsdl {checked.source}: {p}" for p in problems])
        if action is None and len(chosen.actions) == 1:
            action = next(iter(chosen.actions))  # the WSDL's soapAction, as a generated client would send it
    if sign is not None:
        data = sign_envelope(data, sign, algorithm)
    return SoapRequest(data, request_headers(version, action), version, checked, chosen)


def client_signing_key(client: IflowClient) -> SigningKey:
    """The certificate and key a client calls with (certificate service keys), to sign with."""
    pair = client.session.cert
    if not isinstance(pair, tuple) or len(pair) != 2:
        raise SoapInputError(
            f"client {client.client_name!r} has no client certificate to sign with: declare it with "
            "key_type = 'certificate' in [tool.iflowtest.clients.NAME], or give a certificate and key to sign with"
        )
    return SigningKey.from_files(pair[0], pair[1])


def soap_call(
    client: IflowClient,
    body: str | bytes | None = None,
    *,
    envelope: str | bytes | None = None,
    version: str | None = None,
    action: str | None = None,
    sign: bool | SigningKey = False,
    algorithm: str = "SHA256",
    wsdl: str | Path | None = None,
    operation: str | None = None,
    path: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """POST a SOAP request to the client's iFlow (or `path`); `sign=True` signs with the client's certificate."""
    key = client_signing_key(client) if sign is True else (sign or None)
    request = build_request(
        body,
        envelope=envelope,
        version=version,
        action=action,
        sign=key,
        algorithm=algorithm,
        wsdl=wsdl,
        operation=operation,
    )
    return client.post(path, data=request.envelope, headers={**request.headers, **(headers or {})})


# --------------------------------------------------------------------------- expectations
def expect_soap_fault(
    response: requests.Response,
    *,
    code: Any = None,
    subcode: Any = None,
    string: Any = None,
    detail: Any = None,
    namespaces: Mapping[str, str] | None = None,
) -> SoapFault:
    """The answer is a SOAP fault whose code, subcode, string and detail meet the specs given.

    `code: Client` compares the code's local name, `code: soap:Client` the shown code (prefix `soap` for the
    envelope's namespace, `wsse` for WS-Security's); a matcher mapping works on the shown code. `detail` is
    a matcher on the detail's text, or a mapping of XPath to specs, relative to the element in the detail
    (the fault message's element, such as CostCenterFault).
    """
    __tracebackhide__ = True
    fault = fault_of(response)
    if fault is None:
        kind = response.headers.get("Content-Type", "no Content-Type")
        raise ExpectationError(
            [
                f"soap_fault: expected a SOAP fault, got HTTP {response.status_code} ({kind}): {show(response.text[:200])}"
            ]
        )
    failures = []
    for name, spec, actual in (("code", code, fault.code), ("subcode", subcode, fault.subcode or "")):
        if spec is None:
            continue
        ok, why = _code_matches(spec, actual)
        if not ok:
            failures.append(f"soap_fault {name}: {why} ({fault.summary()})")
    if string is not None:
        ok, why = matcher(string)([fault.string])
        if not ok:
            failures.append(f"soap_fault string: {why}")
    if detail is not None:
        failures += _detail_failures(fault, detail, namespaces or {})
    if failures:
        raise ExpectationError(failures)
    return fault


def _code_matches(spec: Any, actual: str) -> tuple[bool, str]:
    if isinstance(spec, str) and ":" not in spec:
        local = actual.rpartition(":")[2]
        return (local == spec, f"expected {spec!r}, got {actual!r}")
    return matcher(spec)([actual])


def _detail_failures(fault: SoapFault, spec: Any, namespaces: Mapping[str, str]) -> list[str]:
    is_xpaths = isinstance(spec, Mapping) and not set(spec) <= set(KEYWORDS)
    if not is_xpaths:
        ok, why = matcher(spec)([fault.detail_text] if fault.detail is not None else [])
        return [] if ok else [f"soap_fault detail: {why}"]
    element = fault.detail_element
    if element is None:
        return ["soap_fault detail: the fault has no detail"]
    failures = []
    for path, inner in spec.items():
        ok, why = matcher(inner)(query_xpath(element, str(path), namespaces))
        if not ok:
            failures.append(f"soap_fault detail {path}: {why}")
    return failures


def expect_no_soap_fault(response: requests.Response) -> None:
    """The answer is not a SOAP fault (the failure names the fault when it is one)."""
    __tracebackhide__ = True
    fault = fault_of(response)
    if fault is not None:
        raise ExpectationError([f"expected no SOAP fault, got {fault.summary()}"])


def expect_soap_signature(response: requests.Response, *, trust: str | Path | bool | None) -> SignedAnswer:
    """The answer's Body is signed (WS-Security) by a certificate in the PEM file `trust`, or issued by one there.

    `trust` is the tenant's signing certificate (from its keystore) or the CA that issued it; a run's
    `iflow.session.verify` (its CA bundle) will do when that CA issues the tenant's signing certificate.
    """
    __tracebackhide__ = True
    if not isinstance(trust, str | Path):
        raise SoapInputError(
            "verifying a signed answer needs the tenant's signing certificate or its CA as a PEM file: give trust "
            "(YAML: soap_signature: {trust: fixtures/...pem}); the run has no CA bundle file to use instead"
        )
    return verify_answer(response.content, load_trust(trust, "trusted certificate file"), str(trust))


def expect_wsdl(response: requests.Response, wsdl: str | Path, *, operation: str | None = None) -> None:
    """The answer fits the WSDL: the operation's output element, or one of its declared faults."""
    __tracebackhide__ = True
    document = Wsdl.load(wsdl)
    request_body = response.request.body if response.request is not None else None
    payload = None
    if isinstance(request_body, bytes | str) and request_body:
        try:
            payload = body_payload(
                etree.fromstring(request_body.encode() if isinstance(request_body, str) else request_body)
            )
        except etree.XMLSyntaxError:
            payload = None
    chosen = document.operation_for(payload, name=operation) if operation or payload is not None else None
    if chosen is None:
        raise SoapInputError(
            f"the request of this answer is no SOAP envelope: name the operation of {wsdl} to check against"
        )
    problems = document.check_answer(response.content, chosen)
    if problems:
        raise ExpectationError([f"wsdl {document.source}: {p}" for p in problems])


def check_answer_against(request: SoapRequest, response: requests.Response) -> list[str]:
    """The WSDL problems of an answer to a request built with a WSDL ([] without one)."""
    if request.wsdl is None or request.operation is None:
        return []
    return [f"wsdl {request.wsdl.source}: {p}" for p in request.wsdl.check_answer(response.content, request.operation)]
