"""The indexed cassette: lookups independent of cassette size, order kept, repeats and misses explained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from vcr.record_mode import RecordMode
from vcr.request import Request

from iflowtest import CassetteError
from iflowtest.cassettes.matching import MatchRules
from iflowtest.cassettes.modes import CassetteOptions, RecordingMode
from iflowtest.cassettes.replay import IndexedCassette
from iflowtest.cassettes.scrub import HostMap
from iflowtest.cassettes.store import CassetteSession

RUNTIME = "https://127.0.0.1:50123"


def answer(text: str) -> dict[str, Any]:
    return {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": text.encode()}}


def get(query: str) -> Request:
    return Request("GET", f"{RUNTIME}/http/costcenters?{query}", None, {})


class CountingSession(CassetteSession):
    keys_computed = 0

    def key(self, request: Any) -> Any:
        type(self).keys_computed += 1
        return super().key(request)


def replaying_cassette(tmp_path: Path, interactions: int, **options: Any) -> Any:
    hosts = HostMap()
    hosts.add("{runtime}", RUNTIME)
    hosts.add("{tokenurl}", RUNTIME + "/oauth/token")
    session = CountingSession(
        tmp_path, RecordingMode("offline", "none"), CassetteOptions(tmp_path, MatchRules()), hosts
    )
    cassette_class: Any = type("Cassette", (IndexedCassette,), {"session": session, "nodeid": "suites/t.py::test_x"})
    cassette = cassette_class(str(tmp_path / "t.yaml"), record_mode=RecordMode.NONE, **options)
    cassette._loading = True  # as if read from the file
    for i in range(interactions):
        cassette.append(get(f"call={i}"), answer(f"answer {i}"))
    cassette._loading = False
    cassette.rewound = True
    return cassette


@pytest.mark.parametrize("size", [10, 2000])
def test_a_lookup_costs_the_same_whatever_the_cassette_size(tmp_path: Path, size: int) -> None:
    cassette = replaying_cassette(tmp_path, size)
    CountingSession.keys_computed = 0

    request = get("call=7")
    assert cassette.can_play_response_for(request)
    assert cassette.play_response(request)["body"]["string"] == b"answer 7"

    assert CountingSession.keys_computed == 2  # one per call, never one per stored interaction


def test_repeated_requests_replay_in_recorded_order_then_explain_the_extra_call(tmp_path: Path) -> None:
    cassette = replaying_cassette(tmp_path, 0)
    cassette._loading = True
    for text in ("first", "second"):
        cassette.append(get("companyCode=1010"), answer(text))
    cassette._loading = False

    played = [cassette.play_response(get("companyCode=1010"))["body"]["string"] for _ in range(2)]

    assert played == [b"first", b"second"]
    with pytest.raises(CassetteError) as caught:
        cassette.can_play_response_for(get("companyCode=1010"))
    assert str(caught.value).splitlines() == [
        "GET {runtime}/http/costcenters?companyCode=1010 was recorded 2 time(s) in cassette t.yaml and the test "
        "sends it once more (record mode 'none')",
        "record it with: iflowtest run --record suites/t.py::test_x",
    ]


def test_playback_repeats_replay_the_last_answer(tmp_path: Path) -> None:
    cassette = replaying_cassette(tmp_path, 3, allow_playback_repeats=True)

    for _ in range(3):
        assert cassette.play_response(get("call=2"))["body"]["string"] == b"answer 2"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", "n": 1}'),
        ("application/xml", b"<a><pw>supersecretvalue-1f3a</pw></a>"),
        ("application/json", b'{"key": "-----BEGIN PRIVATE KEY-----\\nMIIB\\n-----END PRIVATE KEY-----"}'),
    ],
)
def test_a_post_whose_body_held_a_secret_matches_its_scrubbed_recording(
    tmp_path: Path, content_type: str, body: bytes
) -> None:
    from iflowtest.cassettes.scrub import restore_request, scrub_request
    from iflowtest.redaction import Secret

    Secret("supersecretvalue-1f3a")  # registered, as profile values and client secrets are
    cassette = replaying_cassette(tmp_path, 0)
    live = Request("POST", f"{RUNTIME}/http/partner", body, {"Content-Type": content_type})
    hosts = cassette.session.hosts
    saved = scrub_request(Request("POST", f"{RUNTIME}/http/partner", body, {"Content-Type": content_type}), hosts)
    stored = restore_request(saved, hosts)  # as vcrpy hands it over after loading the cassette

    assert saved.body != body  # the cassette holds a placeholder, not the secret
    assert cassette.session.key(live) == cassette.session.key(stored)
