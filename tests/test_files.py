"""write_atomically: readable files, and the old file kept when a write fails."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from iflowtest.files import write_atomically


def test_the_file_is_replaced_whole_and_readable(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "cassette.yaml"
    old_umask = os.umask(0o077)  # even a private umask: cassettes and baselines are committed, history is read
    try:
        write_atomically(target, "first\n")
        write_atomically(target, "second\n")
    finally:
        os.umask(old_umask)

    assert target.read_text() == "second\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["cassette.yaml"]  # no temporary left


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "history.jsonl"
    write_atomically(target, "kept\n")

    with pytest.raises(UnicodeEncodeError):
        write_atomically(target, "broken \ud800\n")  # a lone surrogate cannot be written as UTF-8

    assert target.read_text() == "kept\n"
    assert [p.name for p in tmp_path.iterdir()] == ["history.jsonl"]
