"""The cassette persister: an unchanged re-recording leaves the file as it was, so git sees no change."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from iflowtest.cassettes.store import AtomicPersister

CASSETTE = """version: 1
interactions:
- request:
    method: GET
    uri: '{{runtime}}/http/x'
    body: null
    headers: {{}}
  response:
    status:
      code: 200
      message: OK
    headers: {{}}
    body:
      string: {body}
metadata:
  recorded_at: '{when}'
"""


def cassette(when: dt.datetime, body: str = "ok") -> str:
    return CASSETTE.format(body=body, when=when.isoformat(timespec="seconds"))


def test_the_same_recording_keeps_the_file_and_its_date(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    now = dt.datetime.now(dt.UTC)
    path.write_text(cassette(now - dt.timedelta(days=3)))
    persister = AtomicPersister(dt.timedelta(days=45))

    assert persister.same_recording(path, cassette(now))
    assert not persister.same_recording(path, cassette(now, body="changed"))
    assert not persister.same_recording(tmp_path / "missing.yaml", cassette(now))


def test_an_unchanged_recording_moves_its_date_on_once_it_is_old(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    now = dt.datetime.now(dt.UTC)
    path.write_text(cassette(now - dt.timedelta(days=46)))

    assert not AtomicPersister(dt.timedelta(days=45)).same_recording(path, cassette(now))
