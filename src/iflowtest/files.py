"""How iflowtest writes files: `write_atomically` for files others read, `write_private` for keys and secrets;
which files a suite may name (`inside_project`), and file names made from test names (`safe_file_name`).

The emulator may import this module (with `errors`, the only harness modules it may import).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from iflowtest.errors import ConfigError


class OutsideProjectError(ConfigError):
    """Raised when a suite names a file outside the project folder and the folders `allowed_paths` lists."""


def inside_project(path: str | os.PathLike[str], root: Path, allowed: Iterable[Path] = (), *, what: str) -> Path:
    """`path` taken from the project `root`, or OutsideProjectError when it leads out of root and `allowed`.

    The one gate for every file a suite names (bodies, tables, schemas, XSDs and their includes, baselines):
    `..`, absolute paths and symbolic links are followed before the check, so none leads elsewhere.
    """
    candidate = Path(path)
    full = candidate if candidate.is_absolute() else root / candidate
    try:
        resolved = full.resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a NUL byte
        raise ConfigError(f"{what} {os.fspath(path)!r} cannot be resolved ({exc}): check the path") from None
    folders = [root.resolve(), *(Path(a).resolve() for a in allowed)]
    if not any(resolved.is_relative_to(folder) for folder in folders):
        raise OutsideProjectError(
            f"{what} {os.fspath(path)} is outside the project ({root}): keep it under the project folder, or allow "
            'its folder explicitly with allowed_paths = ["..."] in [tool.iflowtest]'
        )
    return full


# What a file name may not hold on common file systems (and what a shell or URL treats specially).
_FORBIDDEN: Final = re.compile(r"""[<>?%*:|"'/\\\x00-\x1f]""")
MAX_NAME: Final = 150  # bytes; well under the 255 of common file systems, with room for a suffix


def safe_file_name(name: str, limit: int = MAX_NAME) -> str:
    """A file name for a test or case name: as written when it can be, else readable, short and distinct.

    A name without forbidden characters and within `limit` bytes stays as it is (cassettes recorded before
    keep their names). Otherwise forbidden characters become `-` and a digest of the whole name is added,
    so "read a/b" and "read a:b" never share a file, nor do two long names with the same beginning.
    """
    readable = _FORBIDDEN.sub("-", name)
    if readable == name and len(name.encode("utf-8", "surrogatepass")) <= limit and name.strip(". "):
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    shortened = readable.encode("utf-8", "surrogatepass")[: limit - 11].decode("utf-8", "ignore").strip(". ")
    return f"{shortened}-{digest}"


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
