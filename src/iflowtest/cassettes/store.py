"""Recorded cassettes: modes, where cassettes live, offline keys, the handshake store, and vcrpy wiring.

Modes (`iflowtest run`): live (default, no cassettes); `--record` (live calls, each test's cassette
rewritten: pytest-recording's `rewrite`); `--offline` (replay only: record mode `none`, network blocked,
no emulator started, placeholder service keys); `--record-mode MODE` passes any pytest-recording mode
through for experts. One cassette per test: `cassettes/<suite path>/<module>/<test name>.yaml`.

Tokens and CSRF (why a shared handshake store). The harness fetches one token per client per process and
keeps each client's CSRF token across tests, so whether a test's own traffic contains a token request or
a CSRF fetch depends on test order, `-k` and `-n`. Those two handshakes therefore never go into a test's
cassette: when recorded they are scrubbed and saved once per client (token) or per path (CSRF fetch) in
`cassettes/_handshakes/`, and when replaying every token request and CSRF fetch is answered from there,
however often a test repeats it. What stays in a test's cassette is what the test itself caused; a `403 X-CSRF-Token: Required` that
the harness answered by fetching a token and repeating the call is left out too (whether a call met it
depends on the tokens cached before, serializer.py), and replay answers the repeated call either way, so
any subset of tests replays in any order.

Offline keys. With `--offline` nothing is contacted, so every client gets a key on placeholder hosts
(`https://runtime.offline.invalid`, ...) and a fake secret; loading a cassette maps `{runtime}`,
`{tokenurl}`, `{api}` and `{cf}` to those hosts (scrub.py), whatever target or profile recorded it.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import functools
import re
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

from vcr.persisters.filesystem import FilesystemPersister
from vcr.serialize import deserialize, serialize

from iflowtest.cassettes import serializer as cassette_yaml
from iflowtest.cassettes.matching import MODIFYING, RequestKey, explain, request_key
from iflowtest.cassettes.modes import OFFLINE_URLS, CassetteOptions, RecordingMode, record_command
from iflowtest.cassettes.replay import IndexedCassette
from iflowtest.cassettes.scrub import (
    HostMap,
    restore_request,
    restore_response,
    scrub_body,
    scrub_request,
    scrub_response,
)
from iflowtest.cassettes.volatile import StandIns
from iflowtest.credentials.registry import ClientRegistry
from iflowtest.errors import CassetteError
from iflowtest.files import write_atomically
from iflowtest.settings import Settings, display_path

HANDSHAKES_FOLDER: Final = "_handshakes"
_RECORDED_AT: Final = re.compile(r"(?m)^  recorded_at: (.+)$")


def host_map(settings: Settings, registry: ClientRegistry, offline: bool) -> HostMap:
    """The profile's hosts and client ids, from every declared client's key (runtime URLs first)."""
    hosts = HostMap()
    specs = sorted(settings.clients.values(), key=lambda s: s.plan == "api")
    for spec in specs:
        key = registry.resolve(spec.name).key
        hosts.add("{api}" if spec.plan == "api" else "{runtime}", key.url)
        hosts.add("{tokenurl}", key.tokenurl)
        hosts.clients[key.clientid] = spec.name
    if offline:
        for placeholder, url in OFFLINE_URLS.items():
            hosts.add(placeholder, url)
    return hosts


class HandshakeStore:
    """Token and CSRF-fetch answers shared by every cassette of the project (see the module docstring)."""

    def __init__(self, session: CassetteSession) -> None:
        self.session = session
        self.folder = session.options.folder / HANDSHAKES_FOLDER
        self._answers: dict[tuple[str, str], Any] = {}

    def kind(self, request: Any) -> tuple[str, str] | None:
        """('token', client name) or ('csrf', path slug) for a handshake request, None for anything else."""
        method = request.method.upper()
        if method == "POST" and request.uri.split("?", 1)[0].rstrip("/") in self.session.hosts.token_urls:
            return "token", self._client_of(request)
        if method in ("GET", "HEAD") and str(request.headers.get("X-CSRF-Token", "")).strip().lower() == "fetch":
            path = urlsplit(request.uri).path
            return "csrf", re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-").lower() or "root"
        return None

    def path(self, handshake: tuple[str, str]) -> Path:
        """The file holding one handshake."""
        return self.folder / f"{handshake[0]}-{handshake[1]}.yaml"

    def save(self, handshake: tuple[str, str], request: Any, response: Any) -> None:
        """Scrub and store a recorded handshake (atomically: xdist workers may record the same one)."""
        request, response = self.session.scrub(_copy(request), _copy(response))
        text = serialize({"requests": [request], "responses": [response]}, self.session.serializer)
        path = self.path(handshake)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_atomically(path, text)
        self._answers.pop(handshake, None)

    def answer(self, handshake: tuple[str, str], request: Any, nodeid: str | None) -> Any:
        """The recorded answer to a handshake, with this profile's hosts, as often as it is asked for."""
        stored = self._answers.get(handshake)
        if stored is None:
            path = self.path(handshake)
            if not path.is_file():
                what = f"token answer of client {handshake[1]!r}" if handshake[0] == "token" else "CSRF fetch answer"
                raise CassetteError(
                    f"no recorded {what} for {request.method} {self.session.hosts.display(request.uri)}: "
                    f"{self.session.display_path(path)} does not exist (handshakes are shared by all cassettes); "
                    f"record it with: {self.session.record_command(nodeid)}"
                )
            requests, responses, *_ = deserialize(path.read_text(encoding="utf-8"), self.session.serializer)
            _, stored = self.session.restore(requests[0], responses[0])
            self._answers[handshake] = stored
        return _copy(stored)

    def _client_of(self, request: Any) -> str:
        authorization = str(request.headers.get("Authorization", ""))
        clientid = None
        if authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
                clientid = unquote(decoded.split(":", 1)[0])
            except (ValueError, UnicodeDecodeError):
                clientid = None
        elif isinstance(request.body, bytes):
            clientid = dict(parse_qsl(request.body.decode("utf-8", "replace"))).get("client_id")
        return self.session.hosts.clients.get(clientid or "", "unknown-client")


class CassetteSession:
    """What every cassette of one run shares: options, hosts, handshakes, and the vcrpy wiring."""

    def __init__(self, root: Path, mode: RecordingMode, options: CassetteOptions, hosts: HostMap) -> None:
        self.root = root
        self.mode = mode
        self.options = options
        self.rules = options.rules
        self.hosts = hosts
        self.serializer = cassette_yaml.CassetteSerializer(StandIns(options.rules))
        self.handshakes = HandshakeStore(self)

    def display_path(self, path: Path) -> str:
        """A path relative to the project root, for messages."""
        return display_path(path, self.root)

    def record_command(self, nodeid: str | None) -> str:
        """The command that records the cassette of test `nodeid`."""
        return record_command(nodeid)

    def scrub(self, request: Any, response: Any) -> tuple[Any, Any]:
        """vcrpy `before_save_interaction` hook: secrets and hosts out."""
        return scrub_request(request, self.hosts), scrub_response(response, self.hosts)

    def restore(self, request: Any, response: Any) -> tuple[Any, Any]:
        """vcrpy `after_load_interaction` hook: this profile's hosts in."""
        return restore_request(request, self.hosts), restore_response(response, self.hosts)

    def install(self, vcr: Any) -> None:
        """Wire a pytest-recording VCR instance: readable serializer, atomic persister, indexed cassettes."""
        vcr.register_serializer("yaml", self.serializer)  # same name, so cassette files keep the .yaml suffix
        # Half the age `cassettes check` accepts: a cassette re-recorded that often is never reported old.
        vcr.register_persister(AtomicPersister(dt.timedelta(days=self.options.max_age_days / 2)))
        vcr.register_matcher("iflowtest", self._match)
        # VCR.use_cassette always builds vcrpy's own Cassette; this instance (one per test) builds ours
        # from the same public pieces: get_merged_config and Cassette.use_arg_getter.
        vcr.use_cassette = functools.partial(self._use_cassette, vcr)

    def _use_cassette(self, vcr: Any, path: str, **kwargs: Any) -> Any:
        nodeid = kwargs.pop("iflowtest_test", None)
        cassette_class: Any = type("IflowtestCassette", (IndexedCassette,), {"session": self, "nodeid": nodeid})
        kwargs["match_on"] = ("iflowtest",)
        kwargs.setdefault("decode_compressed_response", True)
        # Scrubbing runs after the user's save hooks and restoring before their load hooks, so it cannot
        # be configured away and user hooks see real values.
        kwargs["before_save_interaction"] = [*_hooks(kwargs.get("before_save_interaction")), self.scrub]
        kwargs["after_load_interaction"] = [self.restore, *_hooks(kwargs.get("after_load_interaction"))]
        return cassette_class.use_arg_getter(functools.partial(vcr.get_merged_config, path=path, **kwargs))

    def _match(self, first: Any, second: Any) -> None:
        # vcrpy matcher protocol (used by its own bookkeeping): raise AssertionError saying why two differ.
        reasons = explain(self.key(first), self.key(second))
        if reasons:
            raise AssertionError("; ".join(reasons))

    def key(self, request: Any) -> RequestKey:
        """The matching key of a vcrpy request under this run's rules."""
        # body_bytes: a file or iterator body compares by its content, not by the object holding it.
        body = getattr(request, "body_bytes", request.body)
        if request.method.upper() in MODIFYING and body:
            # As the cassette stores it: a secret or JWT in a live body must equal its stored placeholder.
            raw = body.encode("utf-8") if isinstance(body, str) else body
            body = scrub_body(raw, request.headers.get("Content-Type", "") or "", self.hosts)
        return request_key(request.method, request.uri, request.headers, body, self.rules)


class AtomicPersister(FilesystemPersister):  # type: ignore[misc]  # vcrpy ships no type hints
    """vcrpy's file persister, saving through a temporary file so no reader ever sees half a cassette.

    Used instead of pytest-recording's persister, whose loader expects two lists and breaks on cassettes
    carrying metadata (our `recorded_at`). A recording equal to the file's, but for `recorded_at`, leaves the
    file as it is, so re-recording unchanged behaviour changes nothing in git; `recorded_at` is moved on only
    once it is older than `refresh_after`, so that `iflowtest cassettes check --max-age` never reports a
    cassette that is re-recorded regularly.
    """

    def __init__(self, refresh_after: dt.timedelta) -> None:
        self.refresh_after = refresh_after

    def save_cassette(self, cassette_path: str, cassette_dict: dict[str, Any], serializer: Any) -> None:
        """Serialize and replace the file atomically, unless it holds the same recording already."""
        path = Path(cassette_path)
        text = serialize(cassette_dict, serializer)
        if not self.same_recording(path, text):
            write_atomically(path, text)

    def same_recording(self, path: Path, text: str) -> bool:
        """Whether the file at `path` holds `text` but for a `recorded_at` younger than `refresh_after`."""
        try:
            old = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return False
        found = _RECORDED_AT.search(old)
        if found is None or _RECORDED_AT.sub("", old) != _RECORDED_AT.sub("", text):
            return False
        try:
            recorded = dt.datetime.fromisoformat(found.group(1).strip("'\""))
        except ValueError:
            return False
        if recorded.tzinfo is None:
            recorded = recorded.replace(tzinfo=dt.UTC)
        return dt.datetime.now(dt.UTC) - recorded < self.refresh_after


def _hooks(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _copy(value: Any) -> Any:
    return copy.deepcopy(value)
