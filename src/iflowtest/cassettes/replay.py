"""The indexed cassette: vcrpy's `Cassette` with constant-time lookup, shared handshakes and clear misses.

vcrpy's `Cassette` finds a request's answer by scanning every stored interaction and running every
matcher on each, twice per request (`can_play_response_for`, then `play_response`), so replaying a
cassette of N interactions costs O(N²) (peers.md D: 2000 interactions, about 40 s). This subclass keeps
the interactions of each `RequestKey` (matching.py) in a dict with a cursor to the next unplayed one:
a lookup is one key computation and one dict access, however large the cassette.

It also answers OAuth token requests and CSRF fetches from the project's handshake store when replaying
(see cassettes.py for why), and raises `CassetteError` with a message naming the cassette, the request,
the closest recorded requests with the reason each did not match, and the command that records it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Protocol

from vcr.cassette import Cassette
from vcr.errors import UnhandledHTTPRequestError
from vcr.record_mode import RecordMode

from iflowtest.cassettes.matching import MONITORING_API_PATH, RequestKey, closeness, explain
from iflowtest.cassettes.modes import RecordingMode
from iflowtest.cassettes.scrub import HostMap
from iflowtest.errors import CassetteError

# Near misses shown in a failure message: enough to spot the change, few enough to read.
SHOWN_NEAR_MISSES = 3


class Handshakes(Protocol):
    """The run's shared token and CSRF answers (`store.HandshakeStore`)."""

    def kind(self, request: Any) -> tuple[str, str] | None: ...
    def save(self, handshake: tuple[str, str], request: Any, response: Any) -> None: ...
    def answer(self, handshake: tuple[str, str], request: Any, nodeid: str | None) -> Any: ...


class ReplaySession(Protocol):
    """What a cassette needs of its run; `store.CassetteSession` is the one implementation."""

    @property
    def mode(self) -> RecordingMode: ...
    @property
    def hosts(self) -> HostMap: ...
    @property
    def handshakes(self) -> Handshakes: ...
    def key(self, request: Any) -> RequestKey: ...
    def display_path(self, path: Path) -> str: ...
    def record_command(self, nodeid: str | None) -> str: ...


class IndexedCassette(Cassette):  # type: ignore[misc]  # vcrpy ships no type hints
    """A vcrpy cassette whose lookups are dict accesses; bound to a run by `CassetteSession.cassette_class`."""

    session: ClassVar[ReplaySession]
    nodeid: ClassVar[str | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._index: dict[RequestKey, list[int]] = {}
        self._cursor: dict[RequestKey, int] = {}
        self._loading = False
        super().__init__(*args, **kwargs)

    def key(self, request: Any) -> RequestKey:
        """The matching key of a vcrpy request."""
        return self.session.key(request)

    # ------------------------------------------------------------------ loading and recording
    def _load(self) -> None:
        self._loading = True
        try:
            # --record starts every cassette empty without deleting the file first (pytest-recording's
            # `rewrite` does delete it): the previous cassette stays until the new one replaces it atomically.
            if self.session.mode.name != "record":
                super()._load()
        finally:
            self._loading = False
        if not self.write_protected and not self.rewound:
            self._mark_recorded()  # a test that makes no call still gets its (empty) cassette

    def append(self, request: Any, response: Any) -> None:
        """Store a recorded interaction and index it; handshakes go to the shared store instead."""
        if not self._loading and response["status"]["code"] < 400:
            # A failed handshake (a rejected client, a role missing) is what its test is about: it stays in
            # the test's own cassette and is played from there.
            handshake = self.session.handshakes.kind(request)
            if handshake is not None:
                self.session.handshakes.save(handshake, request, response)
                return
        before = len(self.data)
        super().append(request, response)
        if len(self.data) > before:
            self._index.setdefault(self.key(self.data[-1][0]), []).append(before)
            if not self._loading:
                self._mark_recorded()

    def _mark_recorded(self) -> None:
        # `cassettes check` reports cassettes older than N days; file times do not survive a git clone.
        self._metadata["recorded_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.dirty = True

    # ------------------------------------------------------------------ lookup
    def _next_index(self, key: RequestKey) -> int | None:
        indices = self._index.get(key)
        if not indices:
            return None
        position = self._cursor.get(key, 0)
        if position < len(indices):
            return indices[position]
        polled = key.method == "GET" and MONITORING_API_PATH in key.path
        return indices[-1] if self.allow_playback_repeats or polled else None

    def _responses(self, request: Any) -> Iterator[tuple[int, Any]]:
        request = self._before_record_request(request)
        if request:
            for index in self._index.get(self.key(request), ()):
                yield index, self.data[index][1]

    def __contains__(self, request: Any) -> bool:
        request = self._before_record_request(request)
        return bool(request) and self._next_index(self.key(request)) is not None

    def can_play_response_for(self, request: Any) -> bool:
        """Whether a recorded answer exists; raises CassetteError where vcrpy would refuse the request."""
        if self._from_store(request):
            return True
        playable = (
            request in self and self.record_mode != RecordMode.ALL and (self.rewound or self.allow_playback_repeats)
        )
        if not playable and self.write_protected and self.filter_request(request):
            raise CassetteError(miss_message(self, request))
        return bool(playable)

    def play_response(self, request: Any) -> Any:
        """The next unplayed answer recorded for this request (the last one again with playback repeats)."""
        if self._from_store(request):
            handshake = self.session.handshakes.kind(request)
            assert handshake is not None
            return self.session.handshakes.answer(handshake, request, self.nodeid)
        request = self._before_record_request(request)
        key = self.key(request)
        index = self._next_index(key)
        if index is None:
            raise UnhandledHTTPRequestError(miss_message(self, request))
        self._cursor[key] = self._cursor.get(key, 0) + 1
        if self.play_counts[index] == 0 and index < self._loaded_count:
            self._played_interactions.append(self.data[index])  # for vcrpy's drop_unused_requests
        self.play_counts[index] += 1
        return self.data[index][1]

    def _from_store(self, request: Any) -> bool:
        # Replaying, a handshake comes from the shared store unless the test recorded its own (a failed one).
        return bool(self.write_protected and self.session.handshakes.kind(request) and request not in self)

    def rewind(self) -> None:
        """Play every interaction again from the first."""
        super().rewind()
        self._cursor.clear()


def miss_message(cassette: IndexedCassette, request: Any) -> str:
    """What a replay failure says: the cassette, the request, near misses and the command that records it."""
    session = cassette.session
    where = session.display_path(Path(cassette._path))
    shown = f"{request.method} {session.hosts.display(request.uri)}"
    mode = getattr(cassette.record_mode, "value", cassette.record_mode)
    key = cassette.key(request)
    near: list[str] = []
    if not cassette.rewound and len(cassette) == 0:
        state = "does not exist" if not Path(cassette._path).exists() else "holds no interactions"
        head = f"cassette {where} {state}, so {shown} has no recorded answer (record mode {mode!r})"
    elif key in cassette._index:
        times = len(cassette._index[key])
        head = (
            f"{shown} was recorded {times} time(s) in cassette {where} and the test sends it once more "
            f"(record mode {mode!r})"
        )
    else:
        head = f"no recorded answer for {shown} in cassette {where} (record mode {mode!r})"
        ranked = sorted(
            ((closeness(key, cassette.key(r)), i, r) for i, (r, _) in enumerate(cassette.data)),
            key=lambda item: (-item[0], item[1]),
        )
        for score, _, recorded in ranked[:SHOWN_NEAR_MISSES]:
            if score > 0:
                reasons = "; ".join(explain(key, cassette.key(recorded)))
                near.append(f"  {recorded.method} {session.hosts.display(recorded.uri)}: {reasons}")
    lines = [head]
    if near:
        lines += ["closest recorded requests:", *near]
    lines.append(f"record it with: {session.record_command(cassette.nodeid)}")
    return "\n".join(lines)
