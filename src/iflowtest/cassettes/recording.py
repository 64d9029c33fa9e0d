"""The pytest side of cassettes: registered by plugin.py only when a run records or replays.

It builds on pytest-recording: every test gets its `vcr` marker, `vcr_cassette_dir` mirrors the suite
folders under `cassettes/`, `vcr_config` (override it in a conftest as usual) names the test for failure
messages, and `pytest_recording_configure` hands each test's VCR instance to `CassetteSession.install`.
Registered after pytest-recording, so these fixtures take precedence over its defaults.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from iflowtest.cassettes.modes import CassetteOptions, RecordingMode, cassette_folder, offline_key
from iflowtest.credentials.registry import ClientRegistry, KeyProvider
from iflowtest.errors import CassetteError, IflowtestError
from iflowtest.files import safe_file_name
from iflowtest.redaction import redact_text
from iflowtest.settings import Settings, load_pyproject_table
from iflowtest.stash import SETTINGS_KEY

if TYPE_CHECKING:
    from iflowtest.cassettes.store import CassetteSession

MODE_KEY = pytest.StashKey[RecordingMode]()
OPTIONS_KEY = pytest.StashKey[CassetteOptions]()
SESSION_KEY = pytest.StashKey["CassetteSession"]()


def install_recording(config: pytest.Config, settings: Settings, mode: RecordingMode) -> KeyProvider | None:
    """Set pytest-recording's options for `mode` and register this module; nothing happens when live.

    Returns the placeholder keys the target gives every client when offline (None otherwise).
    """
    if not mode.uses_cassettes:
        return None
    if not config.pluginmanager.hasplugin("recording"):
        raise pytest.UsageError(
            f"iflowtest: {mode.name} mode needs the pytest-recording plugin, which is disabled: drop -p no:recording"
        )
    try:
        options = CassetteOptions.from_table(settings.root, load_pyproject_table(settings.root).get("cassettes", {}))
    except IflowtestError as exc:
        raise pytest.UsageError(f"iflowtest: {exc}") from None
    config.stash[MODE_KEY] = mode
    config.stash[OPTIONS_KEY] = options
    config.option.record_mode = mode.record_mode
    if mode.offline:
        config.option.block_network = True
    config.pluginmanager.register(_this_module(), "iflowtest-recording")
    return offline_key if mode.offline else None


def cassette_path(settings: Settings, options: CassetteOptions, test_file: Path, name: str, cls: Any) -> Path:
    """Where the cassette of one test lives (the `cassettes check` command uses the same rule)."""
    folder = cassette_folder(settings.root, settings.suites, options.folder, test_file)
    return folder / f"{cassette_name(cls, name)}.yaml"


def cassette_name(cls: Any, name: str) -> str:
    """A test's cassette file name: the test name, secrets masked, distinct and short enough for any file system.

    pytest-recording's own rule turns forbidden characters into '-' (so "read a/b" and "read a:b" shared
    a cassette) and keeps any length; names it leaves alone are kept, so recorded cassettes keep theirs.
    """
    return safe_file_name(redact_text(f"{cls.__name__}.{name}" if cls else name))


def session_of(config: pytest.Config, registry: ClientRegistry) -> CassetteSession:
    """The run's cassette session, built on first use (by the `iflow_cassettes` fixture or a YAML case)."""
    if SESSION_KEY not in config.stash:
        from iflowtest.cassettes.store import (  # vcrpy is imported only by runs that use cassettes
            CassetteSession,
            host_map,
        )

        mode = config.stash[MODE_KEY]
        settings = config.stash[SETTINGS_KEY]
        hosts = host_map(settings, registry, mode.offline)
        config.stash[SESSION_KEY] = CassetteSession(settings.root, mode, config.stash[OPTIONS_KEY], hosts)
    return config.stash[SESSION_KEY]


@contextlib.contextmanager
def item_cassette(item: pytest.Item, registry: ClientRegistry) -> Iterator[None]:
    """Run the body inside `item`'s own cassette, for items that take no fixtures (YAML cases).

    Python tests get the same context from pytest-recording's `vcr` and `block_network` fixtures; this opens
    it through pytest-recording's own `use_cassette` (rewrite handling, `pytest_recording_configure`, so
    `CassetteSession.install`), with the same cassette path and options as `vcr_cassette_dir`/`vcr_config`.
    Nothing happens in live runs.
    """
    mode = item.config.stash.get(MODE_KEY, None)
    if mode is None or not mode.uses_cassettes:
        yield
        return
    live_only = live_only_reason(item)
    if live_only is not None:
        if mode.offline:
            pytest.skip(live_only)
        yield  # recording: called live, and no cassette is written that could not be replayed
        return
    from pytest_recording import network
    from pytest_recording._vcr import use_cassette  # the function pytest-recording's `vcr` fixture calls

    session = session_of(item.config, registry)
    path = cassette_path(item.config.stash[SETTINGS_KEY], session.options, item.path, item.name, None)
    record_mode = item.config.getoption("record_mode", None) or "none"
    markers = list(item.iter_markers(name="vcr"))
    with contextlib.ExitStack() as stack:
        if item.config.getoption("block_network", False) and record_mode == "none":
            stack.enter_context(network.blocking_context(allowed_hosts=None))
        config = {"iflowtest_test": item.nodeid}
        stack.enter_context(use_cassette(path.stem, str(path.parent), record_mode, markers, config, item.config))
        yield


def live_only_reason(item: pytest.Item) -> str | None:
    """Why a test's exchanges cannot be replayed from a cassette (a YAML case's `live_only_reason`), or None."""
    reason = getattr(item, "live_only_reason", None)
    return reason if isinstance(reason, str) else None


def _this_module() -> Any:
    import sys

    return sys.modules[__name__]


# ---------------------------------------------------------------------------------------- hooks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test runs in its own cassette."""
    for item in items:
        if item.get_closest_marker("vcr") is None:
            item.add_marker(pytest.mark.vcr)


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """Each test's VCR instance gets the readable serializer, the indexed cassette and the scrubbing."""
    config.stash[SESSION_KEY].install(vcr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """A replay miss is shown as its message, not as a traceback through requests and vcrpy."""
    report = yield
    if report.failed and call.excinfo is not None and call.excinfo.errisinstance(CassetteError):
        report.longrepr = f"iflowtest: {call.excinfo.value}"
    return report


# ------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def iflow_cassettes(pytestconfig: pytest.Config, iflow_clients: ClientRegistry) -> CassetteSession:
    """The run's cassette session: hosts of every declared client, handshake store, matching rules."""
    try:
        return session_of(pytestconfig, iflow_clients)
    except IflowtestError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest, iflow_cassettes: CassetteSession) -> str:
    """`cassettes/<path under the suite folder>/<module>/`."""
    settings = request.config.stash[SETTINGS_KEY]
    return str(cassette_folder(settings.root, settings.suites, iflow_cassettes.options.folder, request.node.path))


@pytest.fixture
def default_cassette_name(request: pytest.FixtureRequest) -> str:
    """pytest-recording's fixture, with the harness's rule for names (`cassette_name`)."""
    return cassette_name(request.cls, request.node.name)


@pytest.fixture
def vcr_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Options for vcrpy's `use_cassette`; the test id lets a replay miss name the command that records it."""
    return {"iflowtest_test": request.node.nodeid}
