"""Every file the harness writes a key or secret into is created with mode 0600, not made private afterwards.

Places (found with `grep -rn "write_text\\|write_bytes\\|open(\\|mkstemp" src/iflowtest`): the key of
`iflowtest provision create --out` (also tested in test_provisioncli.py), the service keys and `cf.env` of
`iflowtest emulator --keys-dir`, the certificate and private key of certificate clients (mtls.py, also
tested in test_mtls.py) and the emulator's own TLS server key. All go through `mtls.write_private`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from iflowtest.cli import run_emulator
from iflowtest.credentials.mtls import CertificateFiles
from iflowtest.credentials.servicekey import ServiceKey
from iflowtest.emulator.tls import create_tls
from iflowtest.files import write_private

ROOT = Path(__file__).resolve().parents[1]
PRIVATE = 0o600


@pytest.fixture
def created(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, tuple[int, int]]]:
    """Files opened for creation while the test runs: path -> (flags, mode), with a umask that hides nothing."""
    opened: dict[str, tuple[int, int]] = {}
    real_open = os.open

    def spy(path: str | os.PathLike[str], flags: int, mode: int = 0o777, *args: object, **kwargs: object) -> int:
        if flags & os.O_CREAT:
            opened[os.fspath(path)] = (flags, mode)
        return real_open(path, flags, mode, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", spy)
    previous = os.umask(0)  # a permissive umask: the mode must come from the code, not the environment
    try:
        yield opened
    finally:
        os.umask(previous)


def assert_created_private(path: Path, opened: dict[str, tuple[int, int]]) -> None:
    """`path` is 0600 now and was created 0600 and exclusively (no window, no following a planted file)."""
    assert stat.S_IMODE(path.stat().st_mode) == PRIVATE, path
    flags, mode = opened[str(path)]
    assert mode == PRIVATE and flags & os.O_EXCL, (path, oct(mode), flags)


def test_write_private_creates_the_file_0600_and_replaces_a_readable_one(
    tmp_path: Path, created: dict[str, tuple[int, int]]
) -> None:
    path = tmp_path / "key.json"
    path.write_text("old")
    path.chmod(0o644)

    write_private(path, '{"clientsecret": "s"}', replace=True)

    assert_created_private(path, created)
    assert path.read_text() == '{"clientsecret": "s"}\n'
    with pytest.raises(FileExistsError):  # without replace it never overwrites
        write_private(path, "other")


def test_emulator_command_writes_keys_and_cf_profile_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, created: dict[str, tuple[int, int]]
) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for name in [n for n in os.environ if n.startswith("IFLOWTEST_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "sender.json").write_text("{}")  # from an earlier start, readable by all
    (keys / "sender.json").chmod(0o644)
    stop = threading.Event()
    stop.set()  # serve no longer than it takes to write the files
    parsed = argparse.Namespace(host="127.0.0.1", port=0, keys_dir=keys, no_tls=False, token_lifetime=None, fault=[])

    assert run_emulator(parsed, stop) == 0

    written = sorted(p.name for p in keys.iterdir())
    assert written == [
        "cf.env",
        "monitor.json",
        "sender.json",
        "sender_basic.json",
        "sender_cert.json",
        "sender_no_de.json",
    ]
    for path in keys.iterdir():
        assert_created_private(path, created)
    assert "IFLOWTEST_CF_PASSWORD=" in (keys / "cf.env").read_text()
    assert ServiceKey.from_file(keys / "sender.json").clientsecret is not None


def test_emulator_tls_server_key_is_created_0600(tmp_path: Path, created: dict[str, tuple[int, int]]) -> None:
    tls = create_tls(directory=tmp_path)

    assert_created_private(tls.key_file, created)
    assert tls.key_file.read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_certificate_files_are_created_0600_in_a_0700_folder(
    tmp_path: Path, created: dict[str, tuple[int, int]]
) -> None:
    from iflowtest.emulator import Emulator

    with Emulator() as emu:
        key = ServiceKey.from_mapping(emu.issue_service_key("cert", key_type="certificate"), "emulator key of cert")
    files = CertificateFiles.write(key, "cert")
    try:
        assert_created_private(files.certificate, created)
        assert_created_private(files.private_key, created)
        assert stat.S_IMODE(files.folder.stat().st_mode) == 0o700
    finally:
        files.remove()
