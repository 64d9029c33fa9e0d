"""How iflowtest writes files: `write_atomically` for files others read, `write_private` for keys and secrets.

The emulator may import this module (with `errors`, the only harness modules it may import).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    """Write `text` to `path` via a temporary file in the same folder and `os.replace`.

    A reader (a CI step, a replaying run) sees the old file or the new one, never half of either; a run
    killed mid-write leaves the old file. `mode` is set before the rename: mkstemp creates files 0600, and
    cassettes, baselines, histories and summaries are meant to be read and committed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_private(path: Path, text: str, *, replace: bool = False) -> None:
    """Write `text` to a file created with mode 0600 (no moment in which another user could read it)."""
    if replace:
        path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text if text.endswith("\n") else text + "\n")
