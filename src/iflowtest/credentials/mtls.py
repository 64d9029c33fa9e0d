"""Client certificates of `certificate` service keys, on disk only as long as the run needs them.

requests (and the ssl module under it) take a client certificate only as file paths, so the key's
certificate chain and private key are written to a private folder (0700) as files with mode 0600, and
removed again by `remove()` at the end of the run.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from iflowtest.credentials.servicekey import ServiceKey
from iflowtest.errors import ServiceKeyError
from iflowtest.files import write_private


@dataclass(frozen=True)
class CertificateFiles:
    """The certificate and private key files of one client."""

    folder: Path
    certificate: Path
    private_key: Path

    @property
    def pair(self) -> tuple[str, str]:
        """(certificate, key) as requests' `cert=` takes it."""
        return str(self.certificate), str(self.private_key)

    @classmethod
    def write(cls, key: ServiceKey, client: str) -> CertificateFiles:
        """Write the key's certificate and private key (mode 0600) to a new private folder."""
        if key.certificate is None or key.key is None:
            raise ServiceKeyError(
                f"client {client!r}: the key from {key.source} has no certificate with a private key (it is a "
                f"{key.key_type} key): create a key with key type 'certificate' for mTLS"
            )
        folder = Path(tempfile.mkdtemp(prefix=f"iflowtest-{client}-"))  # mkdtemp creates it with mode 0700
        certificate = folder / "certificate.pem"
        private_key = folder / "key.pem"
        write_private(certificate, key.certificate)
        write_private(private_key, key.key.reveal())
        return cls(folder, certificate, private_key)

    def remove(self) -> None:
        """Delete both files and their folder; safe to call twice."""
        shutil.rmtree(self.folder, ignore_errors=True)
