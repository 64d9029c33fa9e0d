"""The clients and iFlows a suite names, checked against pyproject.toml before any test runs.

One rule for Python tests (`@pytest.mark.client`, `@pytest.mark.iflow`, `iflow_client(name, iflow=...)`)
and YAML cases (`client:`, `iflow:`): a client must be declared in `[tool.iflowtest.clients.NAME]` and an
iFlow in `[tool.iflowtest.iflows.NAME]`, whatever the target. That the emulator or a tenant happens to know
a name is not enough: a suite must mean the same against each of them, and a typo must never become a new
iFlow in the report (or a call as the default client).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from typing import Any, Final

import pytest

from iflowtest.cases.collector import YamlCaseItem
from iflowtest.errors import ConfigError
from iflowtest.settings import Settings

MARKERS: Final = ("client", "iflow")
WORKER_NAME_ERROR: Final = "iflowtest_name_error"  # xdist workeroutput: the unknown name a worker found


class NameCheck:
    """Ends a run that names an unknown client or iFlow as a usage error, before any test when it can.

    Markers and YAML cases are checked when collection ends; a fixture call (`iflow_client("sendr")`) when
    it is made, which fails that test and stops the run. On the controller (or without xdist) the mistake
    becomes a `pytest.UsageError`: one line on stderr, pytest exit 4, `iflowtest run` exit 2. An xdist
    worker cannot raise it (its controller would show an INTERNALERROR), so it collects nothing and hands
    the mistake to the controller.
    """

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.error: str | None = None

    @property
    def on_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    @pytest.hookimpl(tryfirst=True)  # before -k and -m deselect: a mistake anywhere in the suites is one
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        try:
            check_collected_names(items, self.settings)
        except ConfigError as exc:
            if not self.on_worker:
                raise pytest.UsageError(f"iflowtest: {exc}") from None
            self.error = str(exc)
            items.clear()

    def check_call(self, item: pytest.Item, client: str | None, iflow: str | None) -> None:
        """Stop the run when a fixture call names an unknown client or iFlow; the caller's test fails with it."""
        try:
            check_name(self.settings, "client", client)
            check_name(self.settings, "iflow", iflow)
        except ConfigError as exc:
            message = f"{item.nodeid} (iflow_client): {exc}"
            self.error = self.error or message
            item.session.shouldstop = "iflowtest: a test named an unknown client or iFlow"
            raise ConfigError(message) from None

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None and self.error:
            workeroutput[WORKER_NAME_ERROR] = self.error

    @pytest.hookimpl(optionalhook=True)  # an xdist hook
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        self.error = self.error or getattr(node, "workeroutput", {}).get(WORKER_NAME_ERROR)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self) -> Generator[None, Any, Any]:
        try:
            return (yield)
        finally:
            # Also in place of the interruption that stopping the run raises: the mistake is the verdict.
            if self.error and not self.on_worker:
                raise pytest.UsageError(f"iflowtest: {self.error}")


def check_collected_names(items: Iterable[pytest.Item], settings: Settings) -> None:
    """Raise one ConfigError naming the first unknown client or iFlow among `items` (and how many more)."""
    problems: dict[tuple[str, str], str] = {}  # (kind, name) -> message, each mistake once however often used
    for where, kind, name in _names(items):
        if (kind, name) not in problems:
            try:
                check_name(settings, kind, name)
            except ConfigError as exc:
                problems[(kind, name)] = f"{where}: {exc}"
    if problems:
        first, *others = problems.values()
        more = f" (and {len(others)} more unknown name{'s' if len(others) > 1 else ''})" if others else ""
        raise ConfigError(first + more)


def used_clients(items: Iterable[pytest.Item], settings: Settings) -> set[str]:
    """The declared clients the selected `items` name: YAML steps, `client` markers, the `iflow` and `mpl` fixtures.

    A client asked for inside a test (`iflow_client("x")`) is resolved when the call is made.
    """
    used: set[str] = set()
    for item in items:
        if isinstance(item, YamlCaseItem):
            used |= {step.client or settings.default_client for step in item.case.steps}
            continue
        fixtures = set(getattr(item, "fixturenames", ()))
        marker = item.get_closest_marker("client")
        if "iflow" in fixtures:
            used.add(str(marker.args[0]) if marker is not None and marker.args else settings.default_client)
        if "mpl" in fixtures:
            used |= {name for name, spec in settings.clients.items() if spec.plan == "api"}
    return {name for name in used if name in settings.clients}


def check_name(settings: Settings, kind: str, name: str | None) -> None:
    """A ConfigError when client or iFlow `name` is not declared (None: the default client, always declared)."""
    if name is None:
        return
    if kind == "client":
        settings.client(name)
    else:
        settings.declared_iflow(name)


def _names(items: Iterable[pytest.Item]) -> Iterator[tuple[str, str, str]]:
    for item in items:
        if isinstance(item, YamlCaseItem):
            label = f"case {item.case.name!r} ({item.suite.display}:{item.case.line})"
            steps = item.case.steps
            for number, step in enumerate(steps, start=1):
                where = f"step {number} of {label}" if len(steps) > 1 else label
                if step.client is not None:
                    yield where, "client", step.client
                if step.iflow is not None:
                    yield where, "iflow", step.iflow
            continue
        for kind in MARKERS:
            marker = item.get_closest_marker(kind)
            if marker is not None and marker.args:
                yield f"{item.nodeid} (@pytest.mark.{kind})", kind, str(marker.args[0])
