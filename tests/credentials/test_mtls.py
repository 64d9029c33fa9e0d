"""Certificate keys end to end: provisioned through the emulated CF API, token over mTLS, iFlow calls."""

from __future__ import annotations

import datetime as dt
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from iflowtest import ClientRejectedError, OAuthToken, ServiceKey, ServiceKeyError, TokenEndpointError, record_of
from iflowtest.credentials.mtls import CertificateFiles
from iflowtest.emulator import Emulator
from iflowtest.provisioning.provisioner import ClientRequest
from iflowtest.settings import resolve_settings
from iflowtest.target import TargetSession, emulator_provisioner

PYPROJECT = """
[tool.iflowtest]
default_client = "cert_oauth"

[tool.iflowtest.clients.cert_oauth]
roles = ["ESBMessaging.send"]
key_type = "certificate"
auth = "oauth"

[tool.iflowtest.clients.cert_only]
roles = ["ESBMessaging.send"]
auth = "certificate"
validity = 30
"""


@pytest.fixture
def target(tmp_path: Path) -> TargetSession:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    return TargetSession(resolve_settings(tmp_path, {"target": "emulator"}, {}))


def test_certificate_clients_get_tokens_over_mtls_and_call_iflows(target: TargetSession) -> None:
    target.start()
    try:
        emu: Emulator = target.emulator
        registry = target.registry
        with_token = target.pool.client("cert_oauth").get("/http/costcenters", params={"companyCode": "1010"})
        with_certificate = target.pool.client("cert_only").get("/http/costcenters", params={"companyCode": "1010"})
        resolved = registry.resolve("cert_only")
        files = resolved.certificate
        assert files is not None
        modes = [stat.S_IMODE(p.stat().st_mode) for p in (files.certificate, files.private_key)]
        oauth_client = next(c for c in emu.tenant.clients.all() if c.name.endswith("-cert_oauth"))

        assert with_token.status_code == 200, with_token.text
        assert with_certificate.status_code == 200, with_certificate.text
        assert with_token.request.headers["Authorization"].startswith("Bearer ")
        assert "Authorization" not in with_certificate.request.headers
        assert emu.counters.tokens_issued(oauth_client.clientid) == 1
        assert resolved.key.key_type == "certificate" and resolved.key.certificatedetails is not None
        assert modes == [0o600, 0o600]
        assert stat.S_IMODE(files.folder.stat().st_mode) == 0o700

        emu.revoke_client(resolved.key.clientid)
        refused = target.pool.client("cert_only").get("/http/costcenters", params={"companyCode": "1010"})
        assert refused.status_code == 401
        assert record_of(refused).hint == (
            "401 from /http/costcenters: the runtime did not accept client 'cert_only' (its client certificate): "
            "check that the key belongs to this tenant and was not deleted"
        )
    finally:
        target.close()

    assert not files.folder.exists()
    assert emu.cloud_foundry.instance_names() == []


def foreign_key(emu: Emulator, tmp_path: Path) -> ServiceKey:
    """A certificate key whose certificate comes from a CA the emulator never heard of."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some Other CA")])
    now = dt.datetime.now(dt.UTC)
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intruder")]))
        .issuer_name(name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return ServiceKey.from_mapping(
        {
            "oauth": {
                "clientid": "sb-intruder!b1|it-rt-emulated-tenant!b196",
                "certificate": leaf.public_bytes(pem).decode(),
                "key": leaf_key.private_bytes(
                    pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
                ).decode(),
                "url": emu.url,
                "tokenurl": emu.url + "/oauth/token",
            }
        },
        "a key from elsewhere",
    )


def test_certificate_the_emulator_did_not_issue_is_refused(emulator: Emulator, tmp_path: Path) -> None:
    key = foreign_key(emulator, tmp_path)
    files = CertificateFiles.write(key, "intruder")
    try:
        token = OAuthToken(key, "intruder", verify=str(emulator.ca_file), cert=files.pair)
        with pytest.raises(TokenEndpointError) as caught:
            token.get()
    finally:
        files.remove()

    text = str(caught.value)
    assert text.startswith(
        f"token endpoint {emulator.url}/oauth/token for client 'intruder' (sb-int…b196) refused the TLS handshake "
        "with the client certificate ("
    )
    assert text.endswith(
        "): the certificate in a key from elsewhere was not issued by this tenant's certificate service, or its key "
        "was deleted: create a new certificate key (or re-provision the client)"
    )


def test_certificate_of_a_deleted_key_is_rejected(fresh_emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.iflowtest]\n")
    provisioner = emulator_provisioner(fresh_emulator, resolve_settings(tmp_path, {"target": "emulator"}, {}))
    created = provisioner.provision(ClientRequest("gone", key_type="certificate"), "iflowtest-abc123-gone")
    provisioner.deprovision(created)
    files = CertificateFiles.write(created.key, "gone")
    try:
        token = OAuthToken(created.key, "gone", verify=str(fresh_emulator.ca_file), cert=files.pair)
        with pytest.raises(ClientRejectedError) as caught:
            token.get()
        direct = requests.get(
            fresh_emulator.url + "/http/costcenters", cert=files.pair, verify=str(fresh_emulator.ca_file), timeout=10
        )
    finally:
        files.remove()

    assert direct.status_code == 401  # the runtime no longer accepts the certificate either

    assert (
        f"was rejected by {fresh_emulator.url}/oauth/token (401 invalid_client: Either the client certificate is "
        in str(caught.value)
    )
    assert str(caught.value).endswith(
        "the client certificate of its key (service key 'iflowtest-abc123-gone' of client 'gone' (CF /details)) "
        "belongs to no live service key; create a new certificate key or re-provision the client"
    )


def test_secret_key_cannot_be_written_as_certificate_files(
    issue_key: Callable[..., ServiceKey], emulator: Emulator
) -> None:
    with pytest.raises(ServiceKeyError, match="has no certificate with a private key \\(it is a secret key\\)"):
        CertificateFiles.write(issue_key(emulator, "plain"), "plain")
