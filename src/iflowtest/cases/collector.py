"""`*.iflow.yaml` files as pytest items: one item per case, or per data row of a parameterised case.

Only public pytest APIs (`pytest.File`, `pytest.Item`, `repr_failure`, `config.stash`): Tavern broke on
pytest 9.1 by importing `_pytest` internals. A failure is shown in the user's terms (the case as written,
the request sent, an excerpt of the answer, what did not hold), never as a Python traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
import requests

from iflowtest.calls.client import mpl_id_of
from iflowtest.cases.format import SUFFIX, Case, Suite, load_suite
from iflowtest.cases.imported import imported_property
from iflowtest.cases.run import CaseRun
from iflowtest.checks.assertions import elapsed_ms
from iflowtest.errors import ConfigError, IflowtestError
from iflowtest.redaction import redact_headers, redact_text
from iflowtest.reporting.details import pretty
from iflowtest.settings import display_path
from iflowtest.soap.envelope import fault_of
from iflowtest.stash import (
    CALLS_KEY,
    MPL_KEY,
    SEQUENCE_VALUES_KEY,
    SETTINGS_KEY,
    TARGET_KEY,
    UPDATE_BASELINES_KEY,
)
from iflowtest.tables import Row, default_id_columns, load_table, require_columns, row_id

BODY_EXCERPT: Final = 1500
WS_SECURITY_LIVE_ONLY: Final = (
    "WS-Security: a signed exchange is made anew on every call (timestamp, signature) and its signer is trusted "
    "by the live tenant only, so it is not replayed from a cassette: run this case live (it is called live, "
    "without a cassette, when recording)"
)
EXCERPT_LINES: Final = 40
# Transport chatter that says nothing about the case.
_QUIET_HEADERS: Final = frozenset({"user-agent", "accept-encoding", "connection", "server", "date", "content-length"})


def is_suite_file(path: Path) -> bool:
    """Whether pytest should collect `path` as a YAML suite."""
    return path.name.endswith(SUFFIX)


class YamlSuiteFile(pytest.File):
    """A `*.iflow.yaml` file."""

    def collect(self) -> Iterator[pytest.Item]:
        root = _project_root(self.config)
        suite = load_suite(self.path, display=display_path(self.path, root))
        _check_names(suite, self.config)
        _check_sequence(suite, self.config)
        for case in suite.cases:
            self._register_tags(case)
            if case.table is None:
                yield YamlCaseItem.from_parent(self, name=case.name, suite=suite, case=case, row=None)
                continue
            for index, (row, identity) in enumerate(self._rows(suite, case, root)):
                yield YamlCaseItem.from_parent(
                    self, name=f"{case.name}[{identity}]", suite=suite, case=case, row=row, row_index=index
                )

    def _rows(self, suite: Suite, case: Case, root: Path) -> list[tuple[Row, str]]:
        assert case.table is not None
        label = f"case {case.name!r} ({suite.display}:{case.line})"
        try:
            rows = load_table(case.table, base=root)
            columns = case.table_ids or default_id_columns(rows)
            require_columns(rows, columns, case.table, used_by=f"table_ids of {label}")
        except IflowtestError as exc:
            if label in str(exc):
                raise
            raise type(exc)(f"{exc} (table of {label})") from None
        identities = [row_id(row, columns) for row in rows]
        # Equal ids would make pytest-xdist and -k treat two rows as one test.
        seen: dict[str, int] = {}
        unique = []
        for identity in identities:
            seen[identity] = seen.get(identity, 0) + 1
            unique.append(identity if identities.count(identity) == 1 else f"{identity}-{seen[identity]}")
        return list(zip(rows, unique, strict=True))

    def _register_tags(self, case: Case) -> None:
        known = {line.split(":")[0].split("(")[0].strip() for line in self.config.getini("markers")}
        for tag in case.tags:
            if tag not in known:
                self.config.addinivalue_line("markers", f"{tag}: tag of *.iflow.yaml cases")

    # pytest.Collector narrows Node.repr_failure the same way (and silences mypy the same way).
    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        if isinstance(excinfo.value, IflowtestError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class YamlCaseItem(pytest.Item):
    """One case (or one data row of it)."""

    def __init__(self, *, suite: Suite, case: Case, row: Row | None, row_index: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite, self.case, self.row = suite, case, row
        self.row_index = row_index  # a sequence runs iteration by iteration, as Newman runs a data file
        self.run: CaseRun | None = None
        # Read by the cassette layer: such a case is called live when recording and skipped offline.
        self.live_only_reason = WS_SECURITY_LIVE_ONLY if _uses_ws_security(case) else None
        iflow = case.iflow or next((s.iflow for s in case.steps if s.iflow), None)
        if iflow:
            self.add_marker(pytest.mark.iflow(iflow))
        for tag in case.tags:
            self.add_marker(tag)
        if (imported := imported_property(case)) is not None:
            self.user_properties.append(imported)

    def runtest(self) -> None:
        from iflowtest.cassettes.recording import item_cassette

        settings = self.config.stash[SETTINGS_KEY]
        records = self.stash.setdefault(CALLS_KEY, [])
        pool = self.config.stash[TARGET_KEY].start().pool
        self.run = CaseRun(
            suite=self.suite,
            case=self.case,
            row=self.row,
            clients=pool,
            profile=settings.variables,
            base=settings.root,
            update_baselines=self.config.stash.get(UPDATE_BASELINES_KEY, False),
            on_call=lambda record, _response: records.append(record),
            mpl_checked=self.stash.setdefault(MPL_KEY, []),
        )
        if self.case.sequence is not None:
            # One store per sequence in this process: values saved by earlier cases, in sequence order.
            self.run.saved = self.config.stash.setdefault(SEQUENCE_VALUES_KEY, {}).setdefault(self.case.sequence, {})
        # Items take no fixtures, so the case opens its own cassette (a no-op in live runs).
        with item_cassette(self, pool.registry):
            self.run.run()
        for note in self.run.notes:
            self.add_report_section("call", "notes", note)  # baselines written, 202 steps not waited for

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"case {self.name}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, IflowtestError):
            return failure_view(self, excinfo.value)
        return super().repr_failure(excinfo, style=style)


class FormatErrorExit:
    """Ends a run whose YAML suites do not load as a usage error (pytest exit 4, `iflowtest run` exit 2).

    pytest reports collection errors as INTERRUPTED (the code of Ctrl-C), pytest-xdist as failed tests; a suite
    file with a mistake is the user's configuration error either way. Collect reports reach the xdist
    controller too, so the decision is made there.
    """

    def __init__(self) -> None:
        self.broken: list[str] = []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and report.nodeid.endswith(SUFFIX):
            self.broken.append(report.nodeid)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.broken and session.exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = pytest.ExitCode.USAGE_ERROR


def failure_view(item: YamlCaseItem, error: IflowtestError) -> str:
    """The case as written, the request sent (redacted), an excerpt of the answer, and what failed."""
    case, run = item.case, item.run
    exchange = run.exchanges[-1] if run is not None and run.exchanges else None
    step = ""
    if exchange is not None and len(case.steps) > 1:
        named = exchange.step.name != f"step {exchange.number}"
        step = f" at step {exchange.number}" + (f" ({exchange.step.name})" if named else "")
    lines = [f"case {item.name!r} ({item.suite.display}:{case.line}) failed{step}", "", case.source]
    if item.row is not None:
        lines += ["", "data row: " + ", ".join(f"{k}={v!r}" for k, v in item.row.items())]
    if run is not None and run.saved:
        lines += ["saved: " + ", ".join(f"{k}={redact_text(str(v))!r}" for k, v in run.saved.items())]
    response = exchange.response if exchange is not None else None
    if response is not None:
        lines += ["", *describe_request(response.request), "", *describe_response(response)]
        fault = fault_of(response)
        if fault is not None:
            lines += ["", fault.summary()]
    heading = "failed:" if isinstance(error, AssertionError) else "error:"
    lines += ["", heading, *(f"  {line}" for line in str(error).splitlines())]
    return redact_text("\n".join(lines))


def describe_request(request: requests.PreparedRequest) -> list[str]:
    """The request as sent, secrets masked."""
    lines = [f"request sent: {request.method} {redact_text(request.url or '')}"]
    lines += [f"  {k}: {v}" for k, v in redact_headers(request.headers).items() if k.lower() not in _QUIET_HEADERS]
    body = request.body
    if body:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        lines += ["  " + line for line in _excerpt(text).splitlines()]
    return lines


def describe_response(response: requests.Response) -> list[str]:
    """Status, timing, MPL id, headers and the start of the body."""
    mpl = mpl_id_of(response)
    lines = [
        f"response: {response.status_code} {response.reason or ''} in {elapsed_ms(response):.1f} ms"
        + (f", MPL {mpl}" if mpl else "")
    ]
    lines += [f"  {k}: {v}" for k, v in redact_headers(response.headers).items() if k.lower() not in _QUIET_HEADERS]
    text = pretty(response.text, response.headers.get("Content-Type", ""))
    lines += ["  " + line for line in _excerpt(text).splitlines()]
    return lines


def _excerpt(text: str) -> str:
    short = "\n".join(text[:BODY_EXCERPT].splitlines()[:EXCERPT_LINES])
    if len(short) >= len(text.rstrip()):
        return text
    return short + f"\n… ({len(text) - len(short)} more characters)"


def _uses_ws_security(case: Case) -> bool:
    """Whether a step signs its SOAP request or checks the answer's signature."""
    for step in case.steps:
        soap = step.request.get("soap")
        if (isinstance(soap, dict) and soap.get("sign")) or step.expect.get("soap_signature"):
            return True
    return False


def _check_names(suite: Suite, config: pytest.Config) -> None:
    """Steps without a request path need an iFlow with an address; unknown names are `names.py`'s, at collection end."""
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None:
        return
    for case in suite.cases:
        label = f"case {case.name!r} ({suite.display}:{case.line})"
        for number, step in enumerate(case.steps, start=1):
            where = f"step {number} of {label}" if len(case.steps) > 1 else label
            if "path" in step.request or "url" in step.request:
                continue
            if step.iflow is None:
                raise ConfigError(
                    f"{where} has no request path and no iflow: give request.path or an iflow with an address"
                )
            if step.iflow in settings.iflows and not settings.iflow(step.iflow).address:
                raise ConfigError(
                    f"{where} calls iFlow {step.iflow!r} without a request path, but the iFlow has no address: "
                    f"declare address in [tool.iflowtest.iflows.{step.iflow}] or give request.path"
                )


def _check_sequence(suite: Suite, config: pytest.Config) -> None:
    """The files of one sequence agree on `iterations` and, when independent, on the table their cases read."""
    if suite.sequence is None:
        return
    table = next(((c.table, c.table_ids) for c in suite.cases if c.table is not None), None)
    seen = config.stash.setdefault(_SEQUENCES_KEY, {})
    first = seen.setdefault(suite.sequence, (suite, table))
    other, other_table = first
    if other.independent != suite.independent:
        declaring, silent = (suite, other) if suite.independent else (other, suite)
        raise ConfigError(
            f"{declaring.display} declares 'iterations: independent' and {silent.display} does not, but both are "
            f"files of sequence {suite.sequence!r}: declare it in every file of the sequence or in none"
        )
    if suite.independent and table is not None:
        if other_table is None:
            seen[suite.sequence] = (suite, table)
        elif table != other_table:
            raise ConfigError(
                f"{suite.display} reads table {table[0]} and {other.display} table {other_table[0]}"
                + (" (other table_ids)" if table[0] == other_table[0] else "")
                + f", but sequence {suite.sequence!r} declares 'iterations: independent': every case of it reads "
                "the same table with the same table_ids, so that each iteration is one row of all of them"
            )


_SEQUENCES_KEY: Final = pytest.StashKey[dict[str, tuple[Suite, tuple[str | None, tuple[str, ...] | None] | None]]]()


def _project_root(config: pytest.Config) -> Path:
    settings = config.stash.get(SETTINGS_KEY, None)
    return settings.root if settings is not None else config.rootpath
