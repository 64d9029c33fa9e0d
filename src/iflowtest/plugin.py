"""The pytest plugin: options, markers and fixtures. The work lives in plain modules."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from iflowtest.calls.client import CallRecord, IflowClient
from iflowtest.calls.mpl import ClaimsFolder, monitor_options, share_claims
from iflowtest.calls.retrying import apply_case_markers
from iflowtest.calls.tlsverify import IGNORE_INSECURE_WARNINGS, TlsVerificationReport, silence_insecure_warnings
from iflowtest.cases.collector import FormatErrorExit, YamlSuiteFile, is_suite_file
from iflowtest.cases.imported import ImportedSummary
from iflowtest.cases.names import NameCheck, used_clients
from iflowtest.cases.sequence import SequenceScheduling, has_sequences, order_sequences, sequence_unit
from iflowtest.cassettes.modes import recording_mode
from iflowtest.cassettes.recording import install_recording
from iflowtest.checks.messages import MessageChecks
from iflowtest.credentials.registry import ClientRegistry
from iflowtest.errors import CassetteError, IflowtestError, UnreachableError
from iflowtest.pacing.limits import RateLimits
from iflowtest.pacing.pacer import WORKER_FOLDER as PACING_FOLDER
from iflowtest.pacing.pacer import Pacer, PacingReport, use_pacer
from iflowtest.provisioning.leftovers import LeftoverReport, provisions_through_cloud_foundry
from iflowtest.redaction import install_log_redaction, redact_report, redacting_stdio
from iflowtest.reporting.columns import ReportColumns, attach_calls
from iflowtest.reporting.dashboard import UNREACHABLE_PROPERTY, WORKER_HOSTS, RunDashboard
from iflowtest.reporting.details import attach_exchanges, attach_mpl
from iflowtest.reporting.notify import register_notifier
from iflowtest.reporting.publish import ReportPublisher, ReportWriteError
from iflowtest.reporting.shards import WORKER_HISTORY, Shard, ShardRecorder, ShardSelection
from iflowtest.reporting.targetline import TargetLines
from iflowtest.settings import Settings, check_client_keys, find_project_root, resolve_settings
from iflowtest.stash import CALLS_KEY, MPL_KEY, RESPONSES_KEY, SETTINGS_KEY, TARGET_KEY, UPDATE_BASELINES_KEY
from iflowtest.target import TargetSession

UNDO_REDACTION_KEY = pytest.StashKey[Callable[[], None]]()
UNDO_STDIO_KEY = pytest.StashKey[Callable[[], None]]()
# The target with what only the plugin may touch (emulator, offline keys, release); readers use stash.TARGET_KEY.
TARGET_SESSION_KEY = pytest.StashKey[TargetSession]()
UNDO_QUIET_TLS_KEY = pytest.StashKey[Callable[[], None]]()
UNDO_CLAIMS_KEY = pytest.StashKey[Callable[[], None]]()
UNDO_PACING_KEY = pytest.StashKey[Callable[[], None]]()
NAME_CHECK_KEY = pytest.StashKey[NameCheck]()
T = TypeVar("T")

IflowClientFactory = Callable[..., IflowClient]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("iflowtest", "SAP Cloud Integration iFlow tests")
    group.addoption("--iflow-env", dest="iflow_env", metavar="NAME", help="profile: load .env.NAME over .env")
    group.addoption(
        "--iflow-target",
        dest="iflow_target",
        choices=("emulator", "tenant", "auto"),
        help="emulator (bundled, default when no key is configured) or tenant",
    )
    group.addoption(
        "--iflow-client", dest="iflow_client", metavar="NAME", help="default client for the `iflow` fixture"
    )
    group.addoption("--iflow-connect-timeout", dest="iflow_connect_timeout", type=float, metavar="S")
    group.addoption("--iflow-read-timeout", dest="iflow_read_timeout", type=float, metavar="S")
    group.addoption(
        "--iflow-update-baselines",
        dest="iflow_update_baselines",
        action="store_true",
        help="(re)write baseline files from the live answers instead of comparing",
    )
    group.addoption(
        "--iflow-keep-clients",
        dest="iflow_keep_clients",
        action="store_true",
        default=None,
        help="keep provisioned service instances and keys after the run (for debugging)",
    )
    group.addoption(
        "--iflow-reports",
        dest="iflow_reports",
        metavar="DIR",
        help="write DIR/<run id>/ (report.html, junit.xml, summary.json), add the run to DIR/history.jsonl and "
        "point DIR/latest at it once complete (what `iflowtest run` does)",
    )
    group.addoption(
        "--iflow-history", dest="iflow_history", metavar="PATH", help="append this run to a history file (trends)"
    )
    group.addoption("--iflow-run-id", dest="iflow_run_id", metavar="ID", help="run id in history and summary.json")
    group.addoption(
        "--iflow-shard",
        dest="iflow_shard",
        metavar="K/N",
        help="run slice K of N (balanced by the history's durations) into DIR/shard-K-of-N/ for `iflowtest merge`",
    )
    group.addoption(
        "--iflow-progress", dest="iflow_progress", type=float, metavar="S", help="print a progress line every S seconds"
    )
    group.addoption(
        "--iflow-record", dest="iflow_record", action="store_true", help="call live and rewrite each test's cassette"
    )
    group.addoption(
        "--iflow-offline",
        dest="iflow_offline",
        action="store_true",
        help="replay cassettes only: network blocked, no emulator started",
    )
    group.addoption(
        "--iflow-no-tls-verify",
        dest="iflow_tls_verify",
        action="store_false",
        default=None,
        help="do not verify TLS certificates (warned about in the report); prefer IFLOWTEST_CA_BUNDLE",
    )


def pytest_cmdline_main(config: pytest.Config) -> None:
    # Before any pytest_configure: the terminal reporter takes sys.stdout there, so everything it prints
    # (failures, captured output, summaries) passes the redaction of the run's secrets.
    config.stash[UNDO_STDIO_KEY] = redacting_stdio()
    # Before any pytest_configure: pytest-html and junitxml read their paths there.
    shard = config.getoption("iflow_shard", None)
    if shard:
        try:
            Shard.parse(shard)
        except ValueError as exc:
            raise pytest.UsageError(f"iflowtest: {exc}") from None
    try:
        publisher = ReportPublisher.from_config(config)
    except ReportWriteError as exc:
        raise pytest.UsageError(f"iflowtest: {exc.sentence()}") from None
    if publisher is not None:
        config.pluginmanager.register(publisher, "iflowtest-publisher")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[UNDO_REDACTION_KEY] = install_log_redaction()
    config.addinivalue_line("markers", "iflow(name): the iFlow a test calls (report column, default address)")
    config.addinivalue_line("markers", "client(name): the declared OAuth client the `iflow` fixture calls as")
    config.addinivalue_line("markers", "retry_post: let the `iflow` fixture retry POST/PATCH on 429/502/503/504 too")
    config.addinivalue_line("markers", "iflow_timeout(connect=S, read=S): this case's limits for its iFlow calls")
    options = {
        "env": config.getoption("iflow_env"),
        "target": config.getoption("iflow_target"),
        "client": config.getoption("iflow_client"),
        "connect_timeout": config.getoption("iflow_connect_timeout"),
        "read_timeout": config.getoption("iflow_read_timeout"),
        "keep_clients": config.getoption("iflow_keep_clients"),
        "tls_verify": config.getoption("iflow_tls_verify"),
        "offline": config.getoption("iflow_offline") or None,
    }
    try:
        settings = resolve_settings(find_project_root(config.rootpath), options)
        target = TargetSession(settings)  # checks what the target alone can: the emulator's faults
    except IflowtestError as exc:
        raise pytest.UsageError(f"iflowtest: {exc}") from None
    config.stash[SETTINGS_KEY] = settings
    if not settings.tls_verify:
        # Said once by TlsVerificationReport instead of once per call: around tests, and outside them.
        config.addinivalue_line("filterwarnings", IGNORE_INSECURE_WARNINGS)
        config.stash[UNDO_QUIET_TLS_KEY] = silence_insecure_warnings()
    config.stash[TARGET_SESSION_KEY] = config.stash[TARGET_KEY] = target
    config.stash[UPDATE_BASELINES_KEY] = bool(config.getoption("iflow_update_baselines"))
    config.pluginmanager.register(FormatErrorExit(), "iflowtest-yaml-exit")
    config.stash[NAME_CHECK_KEY] = NameCheck(config, settings)
    config.pluginmanager.register(config.stash[NAME_CHECK_KEY], "iflowtest-names")
    try:
        mode = recording_mode(
            config.getoption("iflow_record"), config.getoption("iflow_offline"), config.getoption("record_mode", None)
        )
    except IflowtestError as exc:
        raise pytest.UsageError(f"iflowtest: {exc}") from None
    target.offline_keys = install_recording(config, settings, mode)
    target.deployment_gate = mode.name == "live"
    # Message logs are attributed to one call each, across xdist workers too: they share a claims folder.
    workerinput = getattr(config, "workerinput", None)
    shared = workerinput.get(ClaimsFolder.WORKER_INPUT) if workerinput is not None else None
    share_claims(Path(shared) if shared else None)  # afresh: no claim of an earlier run in this process
    config.stash[UNDO_CLAIMS_KEY] = lambda: share_claims(None)
    if workerinput is None and config.pluginmanager.hasplugin("xdist"):
        claims = ClaimsFolder()  # the controller runs no test: it only hands the folder to its workers
        config.pluginmanager.register(claims, "iflowtest-mpl-claims")
        config.stash[UNDO_CLAIMS_KEY] = claims.remove
    _start_pacing(config, settings, workerinput)
    publisher = config.pluginmanager.get_plugin("iflowtest-publisher")
    if config.getoption("iflow_shard"):
        _select_shard(config, settings, publisher)
    if publisher is not None and config.getoption("iflow_reports") and not config.pluginmanager.hasplugin("html"):
        raise pytest.UsageError(
            "iflowtest: --iflow-reports needs the pytest-html plugin, which is disabled: drop -p no:html"
        )
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(ImportedSummary(), "iflowtest-imported")
        config.pluginmanager.register(TargetLines(config, target.headline()), "iflowtest-target-lines")
        config.pluginmanager.register(TlsVerificationReport(config, settings), "iflowtest-tls")
        if provisions_through_cloud_foundry(settings) and target.offline_keys is None:
            config.pluginmanager.register(LeftoverReport(settings), "iflowtest-leftovers")
    # The HTML report is built on the controller only (xdist workers send their reports there).
    if config.pluginmanager.hasplugin("html") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(ReportColumns(config, settings), "iflowtest-report")
        history = config.getoption("iflow_history")
        dashboard = RunDashboard(
            config,
            settings,
            history=Path(history) if history else None,
            run_id=config.getoption("iflow_run_id"),
            progress_every=config.getoption("iflow_progress"),
            mode=mode.name,
        )
        for warning in dashboard.check_history():
            print(f"iflowtest: warning: {warning}", file=sys.stderr)
        pacing = config.pluginmanager.get_plugin("iflowtest-pacing")
        if isinstance(pacing, PacingReport):
            dashboard.pacing_source = pacing.figures
        config.pluginmanager.register(dashboard, "iflowtest-dashboard")
        if isinstance(publisher, ReportPublisher):
            publisher.dashboard = dashboard
            try:
                register_notifier(config, settings, publisher)
            except IflowtestError as exc:
                raise pytest.UsageError(f"iflowtest: {exc}") from None


def _start_pacing(config: pytest.Config, settings: Settings, workerinput: Any) -> None:
    """One pacer for the run: the controller makes the buckets' folder, xdist workers share it."""
    try:
        limits = RateLimits.from_settings(settings)
    except IflowtestError as exc:
        raise pytest.UsageError(f"iflowtest: {exc}") from None
    folder = workerinput.get(PACING_FOLDER) if workerinput is not None else None
    if folder:
        pacer = Pacer(limits, Path(folder))
    else:
        report = PacingReport.create(limits)
        config.pluginmanager.register(report, "iflowtest-pacing")
        pacer = report.pacer
    config.stash[UNDO_PACING_KEY] = use_pacer(pacer)


def _select_shard(config: pytest.Config, settings: Settings, publisher: object) -> None:
    """`--iflow-shard K/N`: keep slice K (every process plans alike); the controller's publisher writes shard.json."""
    workerinput = getattr(config, "workerinput", None)
    history = workerinput.get(WORKER_HISTORY) if workerinput is not None else config.getoption("iflow_history")
    selection = ShardSelection(
        Shard.parse(config.getoption("iflow_shard")),
        Path(history) if history else None,
        whole_files=any(spec.in_order for spec in settings.iflows.values()),
        together=sequence_unit,
    )
    config.pluginmanager.register(selection, "iflowtest-shard")
    if isinstance(publisher, ReportPublisher) and workerinput is None:
        publisher.shard = ShardRecorder(config, selection)
        config.pluginmanager.register(publisher.shard, "iflowtest-shard-recorder")


def pytest_collection_finish(session: pytest.Session) -> None:
    settings = session.config.stash[SETTINGS_KEY]
    target = session.config.stash[TARGET_SESSION_KEY]
    # An xdist controller runs no tests: only its workers provision (or load) the clients they call, and only
    # those the selected tests use; a broken one stops the run before any test.
    if settings.target != "tenant" or target.offline_keys is not None or not session.items:
        return
    if session.config.pluginmanager.hasplugin("dsession"):
        return
    try:
        names = used_clients(session.items, settings)
        check_client_keys(settings, names)
        target.prepare(names)
    except UnreachableError:
        pass  # not the user's mistake: each test fails with the cause and is counted unreachable (exit 3)
    except IflowtestError as exc:
        if hasattr(session.config, "workerinput"):
            return  # each test of this worker fails with the cause (a worker cannot stop the run with a line)
        raise pytest.UsageError(f"iflowtest: {exc}") from None


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Here, not in unconfigure: an xdist worker reports "finished" right after this hook, and its
    # controller may end the worker before unconfigure has deleted what the worker provisioned.
    target = session.config.stash.get(TARGET_SESSION_KEY, None)
    if target is not None:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: the controller's report names the hosts it called
            workeroutput[WORKER_HOSTS] = sorted(target.known_hosts())
        target.release_clients()


def pytest_unconfigure(config: pytest.Config) -> None:
    target = config.stash.get(TARGET_SESSION_KEY, None)
    try:
        if target is not None:
            target.close()
    finally:
        undo = config.stash.get(UNDO_REDACTION_KEY, None)
        if undo is not None:
            undo()
        undo_quiet = config.stash.get(UNDO_QUIET_TLS_KEY, None)
        if undo_quiet is not None:
            undo_quiet()
        undo_claims = config.stash.get(UNDO_CLAIMS_KEY, None)
        if undo_claims is not None:
            undo_claims()
        undo_stdio = config.stash.get(UNDO_STDIO_KEY, None)
        if undo_stdio is not None:
            undo_stdio()
        undo_pacing = config.stash.get(UNDO_PACING_KEY, None)
        if undo_pacing is not None:
            undo_pacing()


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, Any, Any]:
    # A full collection of Python's cyclic garbage collector walks every live object, and the plugin's imports
    # and the collected tests are most of them: 50 to 70 ms a full collection in a run of 1000 tests, which
    # fell inside the tests. Frozen (gc.freeze), those objects, which all live until the run ends, are left out
    # of every collection while the tests run; reference counting still frees them; unfrozen after the loop.
    gc.freeze()
    try:
        return (yield)
    finally:
        gc.unfreeze()


@pytest.hookimpl(trylast=True)  # after any plugin that shuffles (pytest-randomly): a sequence keeps its order
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    order_sequences(items)


@pytest.hookimpl(optionalhook=True)  # an xdist hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    # loadfile (which `iflowtest run -n` passes for sequences and in_order iFlows) with sequences kept whole;
    # plain `pytest -n` too when a suite of the project declares a sequence (its order is its verdict).
    dist = config.getoption("dist", None)
    if dist == "loadfile" or (dist == "load" and has_sequences(Path(config.rootpath))):
        return SequenceScheduling(config, log)
    return None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_suite_file(file_path):
        return YamlSuiteFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, UnreachableError):
        report.user_properties.append((UNREACHABLE_PROPERTY, "1"))
    if (
        report.failed
        and isinstance(item, pytest.Function)  # YAML cases have their own failure view
        and call.excinfo is not None
        and isinstance(call.excinfo.value, IflowtestError)
        # Expectation failures keep pytest's assertion view; the recording hook explains replay misses.
        and not isinstance(call.excinfo.value, (AssertionError, CassetteError))
    ):
        # Our errors already say what happened and the fix; a traceback through requests only hides that.
        location = f"{item.location[0]}:{(item.location[1] or 0) + 1}"
        report.longrepr = f"{location}: {call.excinfo.typename}: {call.excinfo.value}"
    if call.when == "call" or (call.when == "setup" and report.failed):
        marker = item.get_closest_marker("iflow")
        attach_calls(item, report, item.stash.get(CALLS_KEY, []), marker.args[0] if marker and marker.args else None)
        target = item.config.stash.get(TARGET_SESSION_KEY, None)
        emulator_url = target.emulator.url if target is not None and target.emulator is not None else None
        attach_mpl(
            item, report, item.stash.get(MPL_KEY, []), item.config.stash[SETTINGS_KEY].monitor_url or emulator_url
        )
        attach_exchanges(report, item.stash.get(RESPONSES_KEY, []))
    if call.when == "teardown":
        # The report holds what it needs; items live until the session ends, so let their responses go.
        stashed: tuple[pytest.StashKey[Any], ...] = (CALLS_KEY, RESPONSES_KEY, MPL_KEY)
        for key in stashed:
            if key in item.stash:
                del item.stash[key]
    redact_report(report)  # last: what the hooks above attached is scrubbed too
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, Any]:
    report = yield
    redact_report(report)
    return report


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def iflow_settings(pytestconfig: pytest.Config) -> Settings:
    """The resolved settings of this run."""
    return pytestconfig.stash[SETTINGS_KEY]


def _or_fail(make: Callable[[], T]) -> T:
    """`make()`, or the test fails with our error's message, once: not also as the failure's context."""
    try:
        return make()
    except UnreachableError:
        raise  # as it is, so that the report counts the test unreachable (`iflowtest run` exits 3)
    except IflowtestError as exc:
        cause = str(exc)
    pytest.fail(cause, pytrace=False)  # outside the except, so no "During handling of the above exception"


@pytest.fixture(scope="session")
def iflow_target(pytestconfig: pytest.Config) -> TargetSession:
    """The run's target (emulator started on first use)."""
    return _or_fail(pytestconfig.stash[TARGET_SESSION_KEY].start)


@pytest.fixture(scope="session")
def iflow_clients(iflow_target: TargetSession) -> ClientRegistry:
    """The declared OAuth clients: keys and one cached token each."""
    return iflow_target.registry


@pytest.fixture(scope="session")
def iflow_emulator(iflow_target: TargetSession) -> Any:
    """The emulated tenant (skips the test when the target is a real tenant)."""
    if iflow_target.emulator is None:
        reason = "offline replay" if iflow_target.offline_keys is not None else "target is 'tenant'"
        pytest.skip(f"needs the emulated tenant ({reason})")
    return iflow_target.emulator


def _client_factory(request: pytest.FixtureRequest, target: TargetSession) -> IflowClientFactory:
    """What `iflow_client` returns: a maker of clients whose calls land on the test's report."""
    records: list[CallRecord] = request.node.stash.setdefault(CALLS_KEY, [])
    responses: list[requests.Response] = request.node.stash.setdefault(RESPONSES_KEY, [])

    def make(name: str | None = None, iflow: str | None = None) -> IflowClient:
        names = request.config.stash[NAME_CHECK_KEY]
        _or_fail(lambda: names.check_call(request.node, name, iflow))
        client = _or_fail(lambda: target.pool.client(name, iflow))
        client.add_listener(lambda record, _response: records.append(record))
        client.add_listener(lambda _record, response: responses.append(response))
        apply_case_markers(request.node, client)
        return client

    return make


@pytest.fixture
def iflow_client(request: pytest.FixtureRequest, iflow_target: TargetSession) -> IflowClientFactory:
    """Factory: `iflow_client("sender_no_de", iflow="ReadCostCentersDE")` returns a client whose calls are reported."""
    return _client_factory(request, iflow_target)


@pytest.fixture
def iflow(request: pytest.FixtureRequest, iflow_target: TargetSession) -> IflowClient:
    """An iFlow client for the `client` marker's client (default client otherwise), tagged by the `iflow` marker."""
    # Made here, not through the `iflow_client` fixture: one fixture less to set up and tear down in every test.
    flow = request.node.get_closest_marker("iflow")
    chosen = request.node.get_closest_marker("client")
    return _client_factory(request, iflow_target)(
        chosen.args[0] if chosen and chosen.args else None,
        flow.args[0] if flow and flow.args else None,
    )


@pytest.fixture
def mpl(request: pytest.FixtureRequest, iflow_clients: ClientRegistry) -> Generator[MessageChecks, None, None]:
    """Message-log checks through the first 'api'-plan client: `mpl.expect_status(response, "COMPLETED")`,
    `mpl.expect_message(response, attachments=..., downstream=...)` and the other message-level expectations."""
    client = _or_fail(lambda: MessageChecks(**monitor_options(iflow_clients)))
    client.update_baselines = request.config.stash[UPDATE_BASELINES_KEY]
    client.checked = request.node.stash.setdefault(MPL_KEY, [])
    yield client
    client.close()
