"""Answers read with bounds over real HTTP: deep JSON is one clear error for every kind of caller, bombs stop."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.wrappers import Request, Response

from iflowtest.bounds.answers import BoundedAdapter, BoundedResponse, TooDeepJSONError
from iflowtest.bounds.nesting import MAX_DEPTH, TooDeepError
from iflowtest.calls.session import HarnessSession
from iflowtest.emulator.tls import create_tls
from iflowtest.errors import IflowCallError
from tests.servers import serve

DEEP = "[" * 100_000 + "]" * 100_000


def answers(request: Request) -> Response:
    if request.path == "/deep":
        return Response(DEEP, content_type="application/json")
    if request.path == "/just-deep-enough":
        return Response("[" * MAX_DEPTH + "]" * MAX_DEPTH, content_type="application/json")
    if request.path == "/bomb":
        return Response(gzip.compress(b"\0" * (3 * 1024 * 1024)), headers={"Content-Encoding": "gzip"})
    return Response(json.dumps({"ok": [1, {"two": 2}]}), content_type="application/json")


def bounded_session(limit: int | None = None) -> requests.Session:
    session = requests.Session()
    adapter = BoundedAdapter()
    if limit is not None:
        adapter.max_body_bytes = limit
    session.mount("http://", adapter)
    return session


@pytest.mark.parametrize("make", [bounded_session, HarnessSession], ids=["bounded", "harness"])
def test_deep_json_is_refused_as_every_caller_expects(make: type[requests.Session]) -> None:
    with serve(answers) as url, make() as session:
        response = session.get(url + "/deep", timeout=10)
        assert isinstance(response, BoundedResponse)
        # One error, whichever way a caller spells "not JSON": requests', json's, ValueError, or the bound's.
        for caught in (requests.exceptions.JSONDecodeError, json.JSONDecodeError, ValueError, TooDeepError):
            with pytest.raises(caught):
                response.json()
        with pytest.raises(TooDeepJSONError) as info:
            response.json()
        assert (
            str(info.value) == f"the JSON document nests deeper than {MAX_DEPTH} levels; expected at most {MAX_DEPTH}"
        )
        assert session.get(url + "/fine", timeout=10).json() == {"ok": [1, {"two": 2}]}
        assert len(json.dumps(session.get(url + "/just-deep-enough", timeout=10).json())) == 2 * MAX_DEPTH


def test_a_body_past_the_bound_is_one_line_however_it_was_compressed() -> None:
    with serve(answers) as url, bounded_session(limit=1024 * 1024) as session:
        with pytest.raises(IflowCallError) as info:
            session.get(url + "/bomb", timeout=10)
        assert str(info.value) == (
            f"GET {url}/bomb: the answer is larger than 1 MiB once decompressed (Content-Encoding gzip); "
            "check what the endpoint sends"
        )
        streamed = session.get(url + "/bomb", timeout=10, stream=True)  # a caller that streams reads it itself
        assert streamed.raw is not None
        streamed.close()


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_body_that_keeps_trickling_is_cut_at_the_deadline_and_the_connection_is_not_reused(
    scheme: str, tmp_path: Path
) -> None:
    stop = threading.Event()
    tls = create_tls(directory=tmp_path) if scheme == "https" else None

    def trickle(request: Request) -> Response:
        if request.path == "/fine":
            return Response("fine")

        def drip() -> Iterator[bytes]:
            while not stop.is_set():
                yield b"x"
                stop.wait(0.05)  # a byte every 50 ms: each wait is far within the read timeout

        return Response(drip(), headers={"Content-Length": str(10**9)}, direct_passthrough=True)

    class Impatient(HarnessSession):
        def __init__(self) -> None:
            super().__init__()
            for adapter in self.adapters.values():
                adapter.max_body_seconds = 0.5  # type: ignore[attr-defined]

    with serve(trickle, tls) as url, Impatient() as session:
        verify = str(tls.ca_file) if tls else True
        started = time.monotonic()
        try:
            with pytest.raises(IflowCallError) as info:
                session.get(url + "/drip", timeout=(5, 2), verify=verify)
        finally:
            stop.set()
        assert time.monotonic() - started < 30  # cut at its deadline, not held for a billion bytes
        assert str(info.value).startswith(f"GET {url}/drip: the answer's body was still arriving after 0.5 s (")
        assert str(info.value).endswith("bytes so far); check what the endpoint sends")
        # The next call gets a sound connection.
        assert session.get(url + "/fine", timeout=5, verify=verify).text == "fine"


def test_the_watchdog_keeps_no_more_than_the_calls_in_flight() -> None:
    from iflowtest.bounds.answers import WATCHDOG

    with serve(answers) as url, HarnessSession() as session:
        for _ in range(200):
            session.get(url + "/fine", timeout=5)
        assert len(WATCHDOG._heap) <= 2  # finished calls leave no entry behind (other tests may run in threads)


def test_calls_one_after_another_do_not_wake_the_watchdog_and_an_earlier_deadline_does() -> None:
    from iflowtest.bounds.answers import Watchdog

    class Counting(threading.Condition):
        notified = 0

        def notify(self, n: int = 1) -> None:
            Counting.notified += 1
            super().notify(n)

    watchdog = Watchdog()
    watchdog._lock = Counting()
    for _ in range(100):  # calls read in time, each arming in an emptied heap
        watchdog.disarm(watchdog.arm(requests.Response(), 300.0))
    assert Counting.notified <= 2  # the first call (and its thread's start), not one a call
    # A shorter deadline than the one slept toward wakes the thread, and is kept.
    shut = threading.Event()

    class Body:  # a response's raw body with no socket under it: the watchdog closes it instead
        def close(self) -> None:
            shut.set()

    response = requests.Response()
    response.raw = Body()
    started = time.monotonic()
    ticket = watchdog.arm(response, 0.2)
    assert shut.wait(10) and ticket.fired
    assert 0.15 < time.monotonic() - started < 5
