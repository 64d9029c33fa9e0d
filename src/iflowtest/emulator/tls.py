"""A throw-away certificate authority for the emulated tenant.

Real tenants only speak HTTPS, and requests-oauthlib refuses to send client credentials over plain HTTP,
so the emulator serves TLS by default with a CA generated per process. The CA certificate is written to a
file that callers pass to `requests` as `verify=`; nothing is added to any system trust store.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from iflowtest.files import write_private

# EC keys: generating RSA-2048 costs ~50 ms per key, which every test session would pay.
_CURVE = ec.SECP256R1()


@dataclass(frozen=True)
class EmulatorTls:
    """Files of one emulator CA and its server certificate."""

    directory: Path
    ca_file: Path
    cert_file: Path
    key_file: Path
    client_ca: ClientCertificateAuthority | None = field(default=None, compare=False)
    keystore: TenantKeystore | None = field(default=None, compare=False)

    def server_context(self) -> ssl.SSLContext:
        """An SSL context serving the leaf certificate (and asking for, not requiring, a client certificate)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        if self.client_ca is not None:
            # Optional at the TLS layer: secret-key clients send no certificate. A certificate that is sent
            # must chain to the client CA; which key it belongs to is checked per request.
            context.verify_mode = ssl.CERT_OPTIONAL
            context.load_verify_locations(self.client_ca.ca_file)
        return context


@dataclass(frozen=True)
class IssuedCertificate:
    """A client certificate of a `certificate` service key, with its private key and CPI's details block."""

    certificate_pem: str
    private_key_pem: str
    fingerprint: str
    issuerdn: str
    subjectdn: str
    validuntil: str
    serialnumber: str


class ClientCertificateAuthority:
    """The emulator's stand-in for "SAP PKI Certificate Service Client CA": signs certificate-key certificates."""

    def __init__(self, directory: Path) -> None:
        self._key = ec.generate_private_key(_CURVE)
        self._name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "iflowtest emulated tenant (not a real CA)"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "SAP BTP Clients"),
                x509.NameAttribute(NameOID.COMMON_NAME, "iflowtest emulator Client CA"),
            ]
        )
        now = dt.datetime.now(dt.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=366))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_file = directory / "emulator-client-ca.pem"
        self.ca_file.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self._lock = threading.Lock()

    def issue(self, common_name: str, *, validity_days: int, key_length: int) -> IssuedCertificate:
        """A new RSA key (PKCS#1 PEM, as CPI hands it out) and a client certificate for it."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=key_length)
        now = dt.datetime.now(dt.UTC)
        serial = x509.random_serial_number()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SAP SE"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "SAP Cloud Platform Clients"),
                x509.NameAttribute(NameOID.LOCALITY_NAME, "sap-uaa"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
            ]
        )
        not_after = now + dt.timedelta(days=validity_days)
        with self._lock:
            cert = (
                x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(self._name)
                .public_key(key.public_key())
                .serial_number(serial)
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(not_after)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(self._key, hashes.SHA256())
            )
        pem = serialization.Encoding.PEM
        return IssuedCertificate(
            certificate_pem=cert.public_bytes(pem).decode() + self._cert.public_bytes(pem).decode(),
            private_key_pem=key.private_bytes(
                pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
            ).decode(),
            fingerprint=certificate_fingerprint(cert.public_bytes(pem).decode()),
            issuerdn=self._name.rfc4514_string(),
            subjectdn=subject.rfc4514_string(),
            validuntil=not_after.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            serialnumber=f"0x{serial:X}",
        )


class TenantKeystore:
    """The tenant's own key pair (CPI's `sap_cloudintegrationcertificate`), made on first use.

    The SOAP sender signs its answers with it. Issued by the emulator's TLS CA when there is one, so a client
    that trusts the emulator's CA file trusts the signature too; self-signed on a plain-HTTP emulator.
    """

    ALIAS: Final = "sap_cloudintegrationcertificate"

    def __init__(self, issuer_key: ec.EllipticCurvePrivateKey | None = None, issuer: x509.Name | None = None) -> None:
        self._issuer_key, self._issuer = issuer_key, issuer
        self._pair: tuple[rsa.RSAPrivateKey, x509.Certificate] | None = None
        self._lock = threading.Lock()

    def pair(self) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
        """The private key and its certificate (RSA, as CPI's default key pair)."""
        with self._lock:
            if self._pair is None:
                self._pair = self._make()
            return self._pair

    def _make(self) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = dt.datetime.now(dt.UTC)
        subject = _name(self.ALIAS)
        signer: Any = self._issuer_key or key
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._issuer or subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,
                    key_cert_sign=False,
                    crl_sign=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(signer, hashes.SHA256())
        )
        return key, cert


def certificate_fingerprint(pem: str) -> str:
    """SHA-256 of the first certificate in `pem` (how the tenant recognises a client certificate)."""
    cert = x509.load_pem_x509_certificate(pem.encode())
    return cert.fingerprint(hashes.SHA256()).hex()


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "iflowtest emulated tenant (not a real CA)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def create_tls(
    hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1"), directory: Path | None = None
) -> EmulatorTls:
    """Generate a CA and a server certificate for `hosts`, valid for two days, written under `directory`."""
    folder = directory or Path(tempfile.mkdtemp(prefix="iflowtest-tls-"))
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    validity = (now - dt.timedelta(minutes=5), now + dt.timedelta(days=2))

    ca_key = ec.generate_private_key(_CURVE)
    ca_name = _name("iflowtest emulator CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    leaf_key = ec.generate_private_key(_CURVE)
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    ca_file = folder / "emulator-ca.pem"
    cert_file = folder / "emulator-server.pem"
    key_file = folder / "emulator-server.key"
    ca_file.write_bytes(ca_cert.public_bytes(pem))
    cert_file.write_bytes(leaf_cert.public_bytes(pem))
    # Created 0600 (not chmod after writing): no moment in which another user could read the private key.
    private = leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_private(key_file, private.decode("ascii"), replace=True)
    return EmulatorTls(
        folder, ca_file, cert_file, key_file, ClientCertificateAuthority(folder), TenantKeystore(ca_key, ca_name)
    )
