"""The `iflowtest` command: a thin shell over `pytest.main` and the library.

    iflowtest run [SUITES...] [pytest options]   run suites against the target, write reports/<run id>/ and latest/
    iflowtest emulator [--host H] [--port P]      run the emulated tenant in the foreground
    iflowtest provision create|list|delete|cleanup manage OAuth clients through the Cloud Foundry API
    iflowtest screenshot [REPORT] [-o PNG]        a PNG of the report, taken by headless Chromium
    iflowtest cassettes check [--max-age DAYS]    find orphaned, missing, old or leaking cassettes
    iflowtest init [DIR]                          start a project of one's own (never overwrites a file)
    iflowtest discover [--iflow-env P] [--write]  the tenant's deployed iFlows; --write declares them
    iflowtest schema --write PATH                 the YAML suite JSON Schema, for editors

A user's mistake (bad option, bad profile, broken key) is one clear line on stderr and exit code 2.
`iflowtest run` exits 0 when all passed, 1 on failures, 2 on usage or configuration errors (a suite that does
not load included), 3 when the tenant or its token endpoint could not be reached, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from iflowtest import __version__
from iflowtest.calls.mpl import monitoring_client_name
from iflowtest.cases.sequence import has_sequences
from iflowtest.credentials.registry import load_configured_key
from iflowtest.errors import IflowtestError, UnreachableError
from iflowtest.files import write_atomically, write_private
from iflowtest.project.discover import SMOKE_SUITE, discover, listing, smoke_suite, write_smoke_suite, write_tables
from iflowtest.project.init import describe as describe_init
from iflowtest.project.init import init_project, schema_text
from iflowtest.provisioning.cli import add_parser as add_provision_parser
from iflowtest.provisioning.cli import run_provision
from iflowtest.redaction import redacting_stdio
from iflowtest.reporting.merge import MergeSession, check_shards, read_shard
from iflowtest.reporting.nightly import exit_code, pytest_options
from iflowtest.reporting.notify import NotifySettings
from iflowtest.reporting.publish import ReportPublisher, published_files
from iflowtest.reporting.summary import one_line
from iflowtest.settings import display_path, find_project_root, resolve_settings
from iflowtest.stash import LAST_LINES_KEY
from iflowtest.target import (
    TargetSession,
    check_emulator_faults,
    check_project_iflows,
    emulator_cf_profile,
    emulator_service_keys,
    new_emulator,
    parse_emulator_fault,
)

USAGE_ERROR = 2
_PREFLIGHT_OPTIONS = {"--iflow-env": "env", "--iflow-target": "target", "--iflow-client": "client"}
# `iflowtest run`'s short flags for the plugin's options.
_RUN_ALIASES = {
    "--record": "--iflow-record",
    "--offline": "--iflow-offline",
    "--insecure": "--iflow-no-tls-verify",
    "--shard": "--iflow-shard",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse exits 2 already; keep our one-line style
        self.exit(USAGE_ERROR, f"iflowtest: error: {message} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `iflowtest` script: every line it prints passes the redaction of the run's secrets."""
    undo = redacting_stdio()
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:  # outside pytest's own handling (while reports are finished): no traceback
        print("iflowtest: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a user's path that cannot be read or written: what and why, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc}: check the path and its permissions")
    finally:
        undo()


def _main(args: list[str]) -> int:
    parser = _Parser(prog="iflowtest", description="Test SAP Cloud Integration iFlows with pytest.")
    parser.add_argument("--version", action="version", version=f"iflowtest {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="run suites against the target and write reports/latest/",
        description=(
            "Run suites (default: [tool.iflowtest] suites) with pytest; other options go to pytest. "
            "--record calls live and rewrites each test's cassette; --offline replays cassettes only; "
            "--insecure turns TLS verification off (a warning in the report; prefer IFLOWTEST_CA_BUNDLE)."
        ),
    )
    run.add_argument("rest", nargs=argparse.REMAINDER, help="suites and pytest options (e.g. -k, -n auto, --iflow-env)")
    emulator = commands.add_parser("emulator", help="run the emulated tenant in the foreground")
    emulator.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    emulator.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    emulator.add_argument("--keys-dir", type=Path, default=Path("emulator-keys"), help="where to write service keys")
    emulator.add_argument("--no-tls", action="store_true", help="serve plain HTTP (for tools without a CA option)")
    emulator.add_argument("--token-lifetime", type=int, default=None, help="expires_in of issued tokens (s)")
    emulator.add_argument(
        "--mode",
        choices=("strict", "lenient"),
        default=None,
        help="strict (default): what tenants do not promise, in its least convenient form; lenient: for demos",
    )
    emulator.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="TARGET:SPEC",
        help="inject a fault, e.g. ReadCostCenters:status=503,share=0.05, token:reset or cf-jobs:hang (repeatable)",
    )
    add_provision_parser(commands, _Parser)

    screenshot = commands.add_parser(
        "screenshot",
        help="save a PNG of an HTML report (headless Chromium)",
        description="Render a report in headless Chromium and save the top of it as a PNG.",
    )
    screenshot.add_argument("report", nargs="?", type=Path, default=None, help="default: reports/latest/report.html")
    screenshot.add_argument("--output", "-o", type=Path, default=None, help="default: next to the report, .png")
    screenshot.add_argument("--width", type=int, default=1280, help="window width in pixels (default 1280)")
    screenshot.add_argument("--height", type=int, default=1800, help="window height in pixels (default 1800)")
    screenshot.add_argument("--browser", default=None, help="Chromium executable (default: chromium on PATH)")
    cassettes = commands.add_parser("cassettes", help="inspect recorded cassettes")
    cassette_actions = cassettes.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = cassette_actions.add_parser(
        "check", help="cassettes without a test, tests without a cassette, old cassettes, secrets"
    )
    check.add_argument("suites", nargs="*", help="suites to collect (default: [tool.iflowtest] suites)")
    check.add_argument("--max-age", type=int, metavar="DAYS", help="oldest acceptable recording (default 90)")
    check.add_argument("--iflow-env", dest="env", metavar="NAME", help="profile: load .env.NAME over .env")
    merge = commands.add_parser(
        "merge",
        help="combine the shard folders of one run into one report, JUnit file, summary and history entry",
        description=(
            "Merge the folders `iflowtest run --shard K/N` wrote (reports/shard-K-of-N) into OUT/<run id>/ "
            "(report.html, junit.xml, summary.json), add one entry to OUT/history.jsonl and switch OUT/latest."
        ),
    )
    merge.add_argument("shards", nargs="+", type=Path, metavar="DIR", help="shard folders, every slice of one run")
    merge.add_argument("--out", type=Path, default=None, help="reports folder (default: [tool.iflowtest] reports)")
    postman = commands.add_parser("import-postman", help="write a Postman collection as YAML suites")
    postman.add_argument("collection", type=Path, help="exported collection (v2.0/v2.1 JSON) or a v3 folder")
    postman.add_argument(
        "--environment", type=Path, default=None, help="Postman environment: exported JSON or v3 *.environment.yaml"
    )
    postman.add_argument(
        "--globals", type=Path, default=None, help="Postman globals: exported JSON or v3 *.globals.yaml"
    )
    postman.add_argument("--data", type=Path, default=None, help="iteration data (.csv or .json): one test per row")
    postman.add_argument("--out", type=Path, required=True, help="suite folder to write, e.g. suites/orders")
    postman.add_argument(
        "--force", action="store_true", help="replace the files an earlier import into --out wrote (never others)"
    )
    postman.add_argument(
        "--iterations-in-order",
        action="store_true",
        help="run the data file's iterations one after another also with -n, as Newman does (for iterations that "
        "depend on each other through the tenant); by default iterations that save no value run in parallel",
    )
    init = commands.add_parser("init", help="start a project: settings, suites, iflows.yaml, CI examples")
    init.add_argument("dir", nargs="?", type=Path, default=Path(), help="folder of the project (default: here)")
    discover = commands.add_parser(
        "discover",
        help="list the iFlows deployed on a tenant and their endpoints",
        description="Read IntegrationRuntimeArtifacts and ServiceEndpoints through the profile's 'api'-plan client.",
    )
    discover.add_argument("--iflow-env", dest="env", default=None, help="profile (.env.<name>) naming the tenant")
    discover.add_argument("--iflow-target", dest="target", default=None, help="emulator or tenant (default auto)")
    discover.add_argument("--client", default=None, help="the 'api'-plan client to read with (default: the first)")
    discover.add_argument(
        "--write", action="store_true", help=f"declare undeclared iFlows in pyproject.toml and write {SMOKE_SUITE}"
    )
    discover.add_argument("--no-smoke", action="store_true", help="with --write: no smoke suite")
    schema = commands.add_parser("schema", help="write the JSON Schema of *.iflow.yaml suites (for editors)")
    schema.add_argument(
        "--write", type=Path, metavar="PATH", required=True, help="file to write, e.g. schema/iflow-suite.schema.json"
    )

    if not args:
        parser.print_help()
        return USAGE_ERROR
    if args[0] == "run":
        # argparse would swallow pytest's own options; everything after `run` belongs to pytest.
        if args[1:2] in (["-h"], ["--help"]):
            run.print_help()
            return 0
        return run_suites(args[1:])
    parsed = parser.parse_args(args)
    if parsed.command == "emulator":
        return run_emulator(parsed)
    if parsed.command == "provision":
        return run_provision(parsed)
    if parsed.command == "screenshot":
        return run_screenshot(parsed)
    if parsed.command == "cassettes":
        return check_cassettes_command(parsed)
    if parsed.command == "import-postman":
        return import_postman_command(parsed)
    if parsed.command == "merge":
        return merge_shards(parsed.shards, parsed.out)
    if parsed.command == "init":
        return init_command(parsed.dir)
    if parsed.command == "discover":
        return discover_command(parsed)
    if parsed.command == "schema":
        return schema_command(parsed.write)
    parser.print_help()
    return USAGE_ERROR


def _preflight_options(args: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for index, arg in enumerate(args):
        name, _, value = arg.partition("=")
        if name in _PREFLIGHT_OPTIONS:
            if not value and index + 1 < len(args):
                value = args[index + 1]
            found[_PREFLIGHT_OPTIONS[name]] = value
        if name == "--iflow-no-tls-verify":
            found["tls_verify"] = "false"
        if name == "--iflow-offline":
            found["offline"] = "true"
    return found


def _fail(message: str) -> int:
    print(f"iflowtest: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def run_suites(args: list[str], cwd: Path | None = None) -> int:
    """`iflowtest run`: resolve settings, run pytest with reports, print where they are."""
    try:
        return _run_suites(args, cwd)
    except _RunUsageError as exc:
        return _fail(f"{exc} (see iflowtest run --help)")


def _run_suites(args: list[str], cwd: Path | None) -> int:
    root = find_project_root(cwd or Path.cwd())
    args = [_RUN_ALIASES.get(a, a) for a in args]
    args = ["--iflow-shard=" + a.partition("=")[2] if a.startswith("--shard=") else a for a in args]
    try:
        settings = resolve_settings(root, _preflight_options(args))
        if settings.target == "emulator" and "--iflow-offline" not in args:
            check_project_iflows(settings)
        if settings.target == "tenant" and "--iflow-offline" not in args:
            for spec in settings.clients.values():
                if spec.source == "load":  # provisioned clients are created at session start
                    load_configured_key(spec, settings)
    except IflowtestError as exc:
        return _fail(str(exc))
    suites = [a for a in args if not a.startswith("-") and Path(a.split("::")[0]).exists()]
    if not suites:
        suites = [str(root / s) for s in settings.suites]
        missing = [s for s in suites if not Path(s).exists()]
        if missing:
            return _fail(
                f"suite folder {missing[0]} does not exist: create it, pass suites on the command line, or set "
                "suites in [tool.iflowtest]"
            )
        args = [*args, *suites]
    watcher = _InterruptWatcher()
    # Sequences (imported Postman collections) and in_order iFlows keep their cases on one worker, in order.
    in_order = any(i.in_order for i in settings.iflows.values()) or any(
        has_sequences(Path(s.split("::")[0])) for s in suites
    )
    code = pytest.main(
        [
            f"--rootdir={root}",
            # This command imported iflowtest before pytest could mark it for assertion rewriting; the
            # plugin has no asserts to rewrite, so the warning would only confuse users.
            "-W",
            "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning",
            *args,
            # The plugin writes reports/<run id>/ and switches reports/latest (the user's --html and
            # --junitxml get copies), so plain `pytest --iflow-reports` leaves the same files.
            *pytest_options(settings.reports_dir, args, in_order=in_order),
        ],
        plugins=[watcher],
    )
    return finish_run(int(code), watcher)


def merge_shards(folders: Sequence[Path], out: Path | None, cwd: Path | None = None) -> int:
    """`iflowtest merge`: check the shards, replay their reports into one published run."""
    root = find_project_root(cwd or Path.cwd())
    try:
        settings = resolve_settings(root, {})
        NotifySettings.from_settings(settings)  # a bad [tool.iflowtest.notify] is said before anything is written
        shards = [read_shard(folder) for folder in folders]
        check_shards(shards)
    except IflowtestError as exc:
        return _fail(str(exc))
    watcher = _InterruptWatcher()
    code = pytest.main(
        [
            f"--rootdir={root}",
            # The plugin would start the target; the merge only reports what the shards ran.
            "-p",
            "no:iflowtest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-W",
            "ignore::pytest.PytestAssertRewriteWarning",
            str(root),  # not the project's testpaths: nothing is collected
        ],
        plugins=[watcher, MergeSession(shards, settings, out or settings.reports_dir)],
    )
    print(f"iflowtest: merged {len(shards)} shards of one run ({sum(len(s.planned) for s in shards)} tests)")
    return finish_run(int(code), watcher)


def finish_run(code: int, watcher: _InterruptWatcher) -> int:
    """Say what the run left behind, print the one-line summary, and turn pytest's code into ours."""
    publisher = watcher.publisher
    if code == pytest.ExitCode.USAGE_ERROR:
        return USAGE_ERROR  # pytest or the publisher said why, in one line
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print(
            "iflowtest: error: no test was selected: check the suite paths and the -k/-m expressions", file=sys.stderr
        )
    summary = publisher.dashboard.summary if publisher is not None and publisher.dashboard is not None else None
    if summary is not None and summary["tests"]:
        print(one_line(summary))
    files = published_files(publisher)
    if files:
        print(f"iflowtest: report {files[0]}")
        print(f"iflowtest: junit  {files[1]}")
        for copy in files[2:]:
            print(f"iflowtest: copy   {copy}")
    elif publisher is not None and publisher.kept_partial and publisher.folder is not None:
        print(
            f"iflowtest: interrupted: partial report {publisher.folder.html}; reports/latest and the run history "
            "are unchanged"
        )
    for line in watcher.last_lines:  # the target, last, as on the first line
        print(line)
    unreachable = summary is not None and summary.get("unreachable", 0) > 0
    return exit_code(code, unreachable, keyboard_interrupt=watcher.interrupted)


class _InterruptWatcher:
    """Tells Ctrl-C apart from collection errors, which pytest both reports as INTERRUPTED; keeps the publisher and the last lines."""

    interrupted = False
    publisher: ReportPublisher | None = None

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        found = config.pluginmanager.get_plugin("iflowtest-publisher")
        self.publisher = found if isinstance(found, ReportPublisher) else None

    def __init__(self) -> None:
        self.last_lines: list[str] = []

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[LAST_LINES_KEY] = self.last_lines

    @pytest.hookimpl(wrapper=True)
    def pytest_cmdline_parse(self) -> Generator[None, pytest.Config, pytest.Config]:
        # pytest would print its own usage text, naming the program "pytest.main()"; the user typed `iflowtest run`.
        try:
            return (yield)
        except pytest.UsageError as exc:
            lines = str(exc).splitlines()
            said = next((line.split(": error: ", 1)[1] for line in lines if ": error: " in line), lines[0])
            raise _RunUsageError(said) from None

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # Collection errors arrive here too, as Session.Interrupted (a KeyboardInterrupt subclass).
        if not isinstance(excinfo.value, pytest.Session.Interrupted):
            self.interrupted = True


class _RunUsageError(Exception):
    """pytest refused the command line of `iflowtest run` (an unknown option, a missing value)."""


def run_screenshot(parsed: argparse.Namespace) -> int:
    """`iflowtest screenshot`: a PNG of the latest (or a given) report."""
    from iflowtest.reporting.screenshot import take_screenshot

    try:
        report = (
            parsed.report or resolve_settings(find_project_root(Path.cwd()), {}).reports_dir / "latest" / "report.html"
        )
        output = parsed.output or report.with_suffix(".png")
        take_screenshot(report, output, width=parsed.width, height=parsed.height, browser=parsed.browser)
    except IflowtestError as exc:
        return _fail(str(exc))
    print(f"iflowtest: screenshot {output}")
    return 0


def run_emulator(parsed: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """`iflowtest emulator`: serve until Ctrl-C, with keys for the declared clients written to a folder."""
    mode = getattr(parsed, "mode", None)  # callers that build the namespace by hand may leave it out
    environ = {**os.environ, "IFLOWTEST_EMULATOR_MODE": mode} if mode else None
    try:
        settings = resolve_settings(find_project_root(Path.cwd()), {}, environ)
        check_emulator_faults(settings)
        check_project_iflows(settings)
    except IflowtestError as exc:
        return _fail(str(exc))
    if parsed.host not in ("127.0.0.1", "localhost", "::1") and not parsed.host.startswith("127."):
        return _fail(f"--host {parsed.host} is not a loopback address: the emulator only serves this machine")
    lifetime = parsed.token_lifetime or settings.emulator.token_lifetime
    try:
        faults = [parse_emulator_fault(text) for text in (*settings.emulator.faults, *parsed.fault)]
    except ValueError as exc:
        return _fail(f"--fault: {exc}")
    emu = new_emulator(settings, parsed.host, parsed.port, token_lifetime=lifetime, tls=not parsed.no_tls)
    unknown = next((target for target, _ in faults if target not in emu.fault_targets()), None)
    if unknown is not None:
        return _fail(
            f"--fault: unknown target {unknown!r}: use one of the tenant's iFlows or endpoints: "
            f"{', '.join(emu.fault_targets())}"
        )
    # SIGTERM (docker stop, systemd, kill) ends it like Ctrl-C: the TLS folder with the server's private key
    # is removed on the way out, not left in the temporary folder.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        return _serve_emulator(parsed, settings, emu, faults, stop)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(_signal: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _serve_emulator(
    parsed: argparse.Namespace, settings: Any, emu: Any, faults: list[tuple[str, Any]], stop: threading.Event | None
) -> int:
    try:
        emu.start()
    except OSError as exc:
        return _fail(f"cannot listen on {parsed.host}:{parsed.port} ({exc.strerror}): choose another --port")
    try:
        folder: Path = parsed.keys_dir
        folder.mkdir(parents=True, exist_ok=True)
        print(f"iflowtest emulator: mode      {settings.emulator.mode}")
        print(f"iflowtest emulator: runtime   {emu.url}")
        if emu.api_url != emu.url:
            print(f"iflowtest emulator: api       {emu.api_url}")
        print(f"iflowtest emulator: token url {emu.token_host_url}/oauth/token")
        print(f"iflowtest emulator: counters  {emu.url}/_emulator/counters")
        if settings.emulator.iflows is not None:
            own = emu.project_flows
            where = display_path(settings.emulator.iflows, settings.root)
            print(f"iflowtest emulator: iflows    {where}: {', '.join(own) or 'none'} (besides the sample flows)")
        if not parsed.no_tls:
            print(f"iflowtest emulator: CA file   {emu.ca_file} (pass it as verify= / --cacert)")
        for spec, credentials in emulator_service_keys(emu, settings, tls=not parsed.no_tls):
            path = folder / f"{spec.name}.json"
            write_private(path, json.dumps(credentials, indent=2) + "\n", replace=True)
            print(f"iflowtest emulator: key of client {spec.name!r} ({', '.join(spec.roles)}) -> {path}")
        if not parsed.no_tls:
            profile = folder / "cf.env"
            write_private(profile, emulator_cf_profile(emu), replace=True)
            print(f"iflowtest emulator: cf api    {emu.cf_api} (copy {profile} to .env.<profile> to provision here)")
        # After the emulator's own keys: faults are for the runs against it (`cf-jobs:hang` would stop it here).
        for target, fault in faults:
            emu.faults.inject(target, fault)
            print(f"iflowtest emulator: fault     {target}: {fault.describe()}")
        print("iflowtest emulator: press Ctrl-C to stop", flush=True)
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        pass
    except IflowtestError as exc:
        return _fail(str(exc))
    finally:
        emu.stop()
    return 0


def init_command(folder: Path) -> int:
    """`iflowtest init [DIR]`: write the project template; what exists is kept or merged, never replaced."""
    try:
        result = init_project(folder)
    except IflowtestError as exc:
        return _fail(str(exc))
    print("\n".join(describe_init(result, folder.resolve())))
    return 0


def schema_command(path: Path) -> int:
    """`iflowtest schema --write PATH`: the suite schema, for `# yaml-language-server: $schema=PATH`."""
    try:
        write_atomically(path, schema_text())
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror}")
    print(f"iflowtest: wrote the *.iflow.yaml JSON Schema to {path}")
    return 0


def discover_command(parsed: argparse.Namespace, cwd: Path | None = None) -> int:
    """`iflowtest discover`: the tenant's deployed iFlows; `--write` declares the new ones and a smoke suite."""
    root = find_project_root(cwd or Path.cwd())
    target: TargetSession | None = None
    try:
        settings = resolve_settings(root, {"env": parsed.env, "target": parsed.target})
        client = parsed.client or monitoring_client_name(settings.clients)
        if settings.target == "emulator":
            return _fail(
                "discover reads a tenant: give a profile (--iflow-env NAME) whose keys or Cloud Foundry landscape "
                "name it; against `iflowtest emulator`, copy its cf.env to .env.emu and pass --iflow-env emu"
            )
        target = TargetSession(settings).start()
        iflows = discover(target.registry, client)
        host = urlsplit(target.registry.resolve(client).url).hostname or "the tenant"
        print("\n".join(listing(iflows, host)))
        if parsed.write:
            added = write_tables(settings, iflows)
            print(
                f"iflowtest: declared {len(added)} iFlows in pyproject.toml"
                + (f": {', '.join(added)}" if added else "")
            )
            if not parsed.no_smoke:
                names = {spec.artifact_id: name for name, spec in settings.iflows.items()} | {i: i for i in added}
                path = write_smoke_suite(root, smoke_suite(iflows, names))
                print(
                    f"iflowtest: wrote the smoke suite {display_path(path, root)} (run it: iflowtest run {display_path(path, root)})"
                )
    except UnreachableError as exc:
        print(f"iflowtest: error: {exc}", file=sys.stderr)
        return 3
    except IflowtestError as exc:
        return _fail(str(exc))
    finally:
        if target is not None:
            target.close()
    return 0


def check_cassettes_command(parsed: argparse.Namespace, cwd: Path | None = None) -> int:
    """`iflowtest cassettes check`: one line per problem; exit 1 when there are any, 0 when clean."""
    from iflowtest.cassettes.check import check_cassettes, collect_tests
    from iflowtest.cassettes.modes import CassetteOptions
    from iflowtest.settings import load_pyproject_table

    root = find_project_root(cwd or Path.cwd())
    try:
        settings = resolve_settings(root, {"env": getattr(parsed, "env", None)})
        options = CassetteOptions.from_table(root, load_pyproject_table(root).get("cassettes", {}))
    except IflowtestError as exc:
        return _fail(str(exc))
    if parsed.max_age is not None and parsed.max_age < 1:
        return _fail(f"--max-age must be a whole number of days ≥ 1, got {parsed.max_age}")
    suites = parsed.suites or [str(root / s) for s in settings.suites]
    missing = [s for s in suites if not Path(s).exists()]
    if missing:
        return _fail(f"suite {missing[0]} does not exist: pass existing suite folders or files")
    for spec in settings.clients.values():
        if spec.service_key:  # its secret is then known to the scan, in every form it travels in
            with contextlib.suppress(IflowtestError):
                load_configured_key(spec, settings)
    tests, failure = collect_tests(settings, options, suites)
    if failure:
        return _fail("the suites cannot be collected, so cassettes cannot be checked:\n" + failure.strip())
    problems = check_cassettes(settings, options, tests, parsed.max_age or options.max_age_days)
    for problem in problems:
        print(f"iflowtest cassettes: {problem}")
    verdict = f"{len(problems)} problem(s)" if problems else "no problems"
    where = options.folder.relative_to(root) if options.folder.is_relative_to(root) else options.folder
    print(f"iflowtest cassettes: {len(tests)} tests checked against {where}/: {verdict}")
    return 1 if problems else 0


def import_postman_command(parsed: argparse.Namespace) -> int:
    """`iflowtest import-postman`: print the conversion summary; a bad input file exits 2."""
    from iflowtest.postman.importer import import_collection

    try:
        result = import_collection(
            parsed.collection,
            parsed.out,
            environment=parsed.environment,
            data=parsed.data,
            force=parsed.force,
            globals_file=parsed.globals,
            iterations_in_order=parsed.iterations_in_order,
        )
    except IflowtestError as exc:
        return _fail(str(exc))
    for item in result.items:
        if item.outcome != "converted":
            print(f"iflowtest import-postman: {item.label}: {item.outcome}: " + "; ".join(w for w, _ in item.left))
    print(f"iflowtest import-postman: {result.summary()}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
