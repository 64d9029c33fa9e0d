"""Service keys as CPI issues them, from files, JSON strings and mappings; errors name source and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iflowtest import ServiceKey, ServiceKeyError
from iflowtest.redaction import MASK

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "servicekeys"
SECRET = "9b1f2e3d-4c5b-6a79-8e0f-1a2b3c4d5e6f$FAKEfakeFAKEfakeFAKEfakeFAKEfake_-12345="
# Built at run time so no PEM block is stored in the repository.
FAKE_CERT = "-----BEGIN " + "CERTIFICATE-----\nRkFLRQ==\n-----END CERTIFICATE-----\n"
FAKE_KEY = "-----BEGIN RSA " + "PRIVATE KEY-----\nRkFLRQ==\n-----END RSA PRIVATE KEY-----\n"


def test_integration_flow_key_from_file() -> None:
    key = ServiceKey.from_file(FIXTURES / "FAKE-integration-flow-key.json")
    assert key.clientid.startswith("sb-3f0c2d7e")
    assert key.url == "https://acme-dev-x1y2z3.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com"
    assert key.tokenurl.endswith("/oauth/token")
    assert key.createdate == "2025-07-02T00:17:31.919Z"
    assert key.key_type == "secret"
    assert key.clientsecret is not None and key.clientsecret.reveal() == SECRET
    assert not key.is_api_plan


def test_api_plan_key_is_recognised() -> None:
    key = ServiceKey.from_file(FIXTURES / "FAKE-api-key.json")
    assert key.is_api_plan
    assert "-rt." not in key.url


def test_certificate_key_has_no_secret() -> None:
    data = {
        "oauth": {
            "clientid": "sb-cert!b1|it-rt-acme!b196",
            "certificate": FAKE_CERT,
            "key": FAKE_KEY,
            "url": "https://acme.it-cpi018-rt.cfapps.eu10.hana.ondemand.com",
            "tokenurl": "https://acme.authentication.cert.eu10.hana.ondemand.com/oauth/token",
            "createdate": "2026-01-01T00:00:00.000Z",
            "certificatedetails": {
                "issuerdn": "CN=SAP PKI Certificate Service Client CA,OU=SAP BTP Clients,O=SAP SE,L=cf-us10,C=DE",
                "subjectdn": "CN=xyz,L=sap-uaa,OU=uvw,OU=SAP Cloud Platform Clients,O=SAP SE,C=DE",
                "validuntil": "2027-06-24T12:56:52.000Z",
                "serialnumber": "0xABCD1234",
            },
        }
    }
    key = ServiceKey.from_mapping(data, "test")
    assert key.key_type == "certificate"
    assert key.clientsecret is None
    assert key.certificatedetails is not None and key.certificatedetails.serialnumber == "0xABCD1234"
    assert "PRIVATE" not in repr(key) and "RkFLRQ" not in repr(key)
    external = ServiceKey.from_mapping({"oauth": {**data["oauth"], "key": None, "certificatedetails": None}}, "t")
    assert external.key_type == "certificate_external"


def test_cf_details_envelope_is_accepted() -> None:
    inner = json.loads((FIXTURES / "FAKE-integration-flow-key.json").read_text())
    key = ServiceKey.from_mapping({"credentials": inner, "syslog_drain_url": None}, "cf details")
    assert key.clientid.startswith("sb-")


def test_json_string_with_bom_from_environment() -> None:
    text = "\ufeff" + (FIXTURES / "FAKE-integration-flow-key.json").read_text()
    key = ServiceKey.from_reference(text, "IFLOWTEST_CLIENT_SENDER_KEY")
    assert key.source == "IFLOWTEST_CLIENT_SENDER_KEY"


def test_reference_resolves_relative_paths_against_base() -> None:
    key = ServiceKey.from_reference("fixtures/servicekeys/FAKE-api-key.json", "setting", base=FIXTURES.parents[1])
    assert key.is_api_plan


def _write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "sender.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def test_missing_field_names_file_and_field(tmp_path: Path) -> None:
    oauth = json.loads((FIXTURES / "FAKE-integration-flow-key.json").read_text())["oauth"]
    del oauth["tokenurl"]
    path = _write(tmp_path, {"oauth": oauth})
    with pytest.raises(ServiceKeyError) as info:
        ServiceKey.from_file(path)
    assert str(info.value) == (
        f"service key from {path}: field 'oauth.tokenurl' is missing: copy the whole key from the BTP cockpit"
    )


def test_wrong_type_names_field_without_echoing_the_value(tmp_path: Path) -> None:
    oauth = json.loads((FIXTURES / "FAKE-integration-flow-key.json").read_text())["oauth"]
    oauth["clientsecret"] = [SECRET]
    path = _write(tmp_path, {"oauth": oauth})
    with pytest.raises(ServiceKeyError, match=r"field 'oauth.clientsecret' must be a non-empty string, got a list"):
        ServiceKey.from_file(path)
    with pytest.raises(ServiceKeyError) as info:
        ServiceKey.from_file(path)
    assert SECRET not in str(info.value)


def test_not_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"oauth": {"clientid": "x",}')
    with pytest.raises(ServiceKeyError, match=rf"service key from {path} is not valid JSON \(line 1, column"):
        ServiceKey.from_file(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[]", "is a JSON list, expected an object with an 'oauth' member"),
        ('{"clientsecret": "x"}', "has no 'oauth' object"),
        ("", "is empty"),
        (
            '{"oauth": {"clientid": "a", "url": "ftp://x", "tokenurl": "https://t/oauth/token", "clientsecret": "s"}}',
            "field 'oauth.url' must be an http(s) URL, got 'ftp://x'",
        ),
        (
            '{"oauth": {"clientid": "a", "url": "https://x", "tokenurl": "https://t/oauth/token"}}',
            "has neither 'clientsecret' nor 'certificate'",
        ),
        (
            '{"oauth": {"clientid": "", "url": "https://x", "tokenurl": "https://t", "clientsecret": "s"}}',
            "field 'oauth.clientid' must be a non-empty string, got an empty string",
        ),
    ],
)
def test_malformed_keys(tmp_path: Path, content: str, expected: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(ServiceKeyError) as info:
        ServiceKey.from_file(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_missing_file_and_bad_reference(tmp_path: Path) -> None:
    with pytest.raises(ServiceKeyError, match="does not exist: check the path or create the key"):
        ServiceKey.from_file(tmp_path / "nope.json")
    with pytest.raises(ServiceKeyError, match="from IFLOWTEST_CLIENT_X_KEY is neither JSON nor an existing file"):
        ServiceKey.from_reference("nope.json", "IFLOWTEST_CLIENT_X_KEY", base=tmp_path)


def test_secret_never_in_repr_or_str() -> None:
    key = ServiceKey.from_file(FIXTURES / "FAKE-integration-flow-key.json")
    for text in (repr(key), str(key), f"{key}", repr(key.clientsecret), str(key.clientsecret)):
        assert SECRET not in text
    assert str(key.clientsecret) == MASK
    assert key.masked_clientid == "sb-3f0…b196"


def test_a_key_nested_too_deep_is_one_line(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "deep.json").write_text(deep)
    for read in (
        lambda: ServiceKey.from_json(deep, "IFLOWTEST_CLIENT_X_KEY"),
        lambda: ServiceKey.from_file(tmp_path / "deep.json"),
    ):
        with pytest.raises(ServiceKeyError, match=r"is not a service key \(the JSON document nests deeper than 200"):
            read()
