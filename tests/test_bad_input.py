"""Bad input, property-based: every parser answers a clear error of its own kind, never a traceback or a secret.

Broken Postman files (collections, environments, data files, --out) are in test_postman_bad_input.py.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iflowtest.cases.format import SuiteFormatError, parse_suite
from iflowtest.credentials.servicekey import ServiceKey
from iflowtest.emulator.faults import Fault, parse_fault
from iflowtest.errors import ConfigError, ServiceKeyError
from iflowtest.provisioning.provisioner import parse_duration
from iflowtest.settings import resolve_settings
from iflowtest.tables import load_table

from .servers import iflowtest

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cr3t-Hypothesis-2f9c1e"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
SUITE_KEYS = ("iflow", "client", "cases", "name", "request", "expect", "status", "method", "path", "body", "json")
FIELDS = ("clientid", "clientsecret", "url", "tokenurl", "createdate", "certificate", "key")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_a_key_or_a_key_error(text: str) -> None:
    error = error_of(lambda: ServiceKey.from_json(text, "IFLOWTEST_CLIENT_SENDER_KEY"))
    assert error is None or (isinstance(error, ServiceKeyError) and "IFLOWTEST_CLIENT_SENDER_KEY" in str(error))


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6),
    st.booleans(),
    st.booleans(),
)
def test_malformed_keys_name_the_problem_and_never_the_secret(fields: dict[str, object], nest: bool, bom: bool) -> None:
    oauth = {**fields, "clientsecret": SECRET} if "clientsecret" in fields else fields
    text = ("\ufeff" if bom else "") + json.dumps({"oauth": oauth} if nest else oauth)
    error = error_of(lambda: ServiceKey.from_json(text, "key.json"))
    if error is not None:
        assert isinstance(error, ServiceKeyError), repr(error)
        assert "key.json" in str(error) and SECRET not in str(error)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_fault_spec_parses_or_says_why(text: str) -> None:
    parsed: list[tuple[str, Fault]] = []
    error = error_of(lambda: parsed.append(parse_fault(text)))
    if error is None:
        assert parsed[0][0] and isinstance(parsed[0][1], Fault)
    else:
        assert type(error) is ValueError and str(error).startswith(f"fault {text!r}"), repr(error)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(("status", "share", "retry_after", "latency", "times")), st.text(max_size=12))
def test_fault_values_of_the_wrong_type_say_why(key: str, value: str) -> None:
    text = f"ReadCostCenters:reset,{key}={value}"
    error = error_of(lambda: parse_fault(text))
    assert error is None or (type(error) is ValueError and str(error).startswith(f"fault {text!r}: ")), repr(error)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(("IFLOWTEST_READ_TIMEOUT", "IFLOWTEST_CONNECT_TIMEOUT", "IFLOWTEST_TARGET")),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
)
def test_broken_env_values_are_config_errors(name: str, value: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
        (root / ".env").write_text(f"{name}={json.dumps(value)}\n")
        error = error_of(lambda: resolve_settings(root, {}, environ={}))
        assert error is None or (isinstance(error, ConfigError) and name in str(error)), repr(error)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(("connect_timeout", "read_timeout", "target")), json_values)
def test_invalid_pyproject_settings_are_config_errors(key: str, value: object) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        text = (ROOT / "pyproject.toml").read_text()
        (root / "pyproject.toml").write_text(
            text.replace("[tool.iflowtest]\n", f"[tool.iflowtest]\n{key} = {toml(value)}\n", 1)
        )
        error = error_of(lambda: resolve_settings(root, {}, environ={}))
        valid = isinstance(error, ConfigError) and (key in str(error) or "is not valid TOML" in str(error))
        assert error is None or valid, repr(error)


def error_of(call: Callable[[], object]) -> Exception | None:
    """The exception `call` raised, or None: any type but the expected one then fails the assertion."""
    try:
        call()
    except Exception as exc:
        return exc
    return None


def toml(value: object) -> str:
    # json is valid TOML for strings, numbers, booleans and arrays of one type; anything else is quoted.
    if value is None or isinstance(value, dict) or (isinstance(value, list) and len({type(v) for v in value}) > 1):
        return json.dumps(json.dumps(value), ensure_ascii=False)
    if isinstance(value, list) and any(v is None or isinstance(v, (dict, list)) for v in value):
        return json.dumps(json.dumps(value), ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


def test_a_bad_fault_on_the_command_line_exits_2_without_a_traceback(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    result = iflowtest("emulator", "--fault", "ReadCostCenters:status=418", cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "iflowtest: error: --fault: fault 'ReadCostCenters:status=418': status 418 is not injectable: use one of"
    )
    assert "Traceback" not in result.stderr


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=15),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(SUITE_KEYS), inner, max_size=4),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=120), yaml_values.map(lambda v: yaml.safe_dump(v, allow_unicode=True))))
def test_any_yaml_suite_is_a_suite_or_a_format_error(text: str) -> None:
    error = error_of(lambda: parse_suite(text, Path("suites/x/cases.yaml"), "suites/x/cases.yaml"))
    assert error is None or (isinstance(error, SuiteFormatError) and "suites/x/cases.yaml" in str(error)), repr(error)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    suffix=st.sampled_from([".csv", ".json", ".yaml"]),
    text=st.text(max_size=120)
    | st.lists(st.lists(st.text(max_size=6), max_size=4), max_size=4).map(
        lambda rows: "\n".join(",".join(cells) for cells in rows)
    )
    | json_values.map(json.dumps),
)
def test_any_data_table_is_rows_or_a_config_error(suffix: str, text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"rows{suffix}"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        rows: list[object] = []
        error = error_of(lambda: rows.extend(load_table(path)))
    if error is None:
        assert rows and all(isinstance(row, dict) for row in rows)
    else:
        assert type(error) is ConfigError and str(error).startswith(f"data table {path}"), repr(error)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30) | st.from_regex(r"\s*\d{1,30}\s*[smhd]?\s*", fullmatch=True))
def test_any_duration_parses_or_says_how_to_write_one(text: str) -> None:
    parsed: list[timedelta] = []
    error = error_of(lambda: parsed.append(parse_duration(text)))
    if error is None:
        assert parsed[0].total_seconds() >= 0
    else:
        assert type(error) is ValueError and str(error).startswith(f"{text!r} is not a duration"), repr(error)


# --------------------------------------------------------------------------- issue 18: more parsers, fuzzed
dotenv_lines = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.tuples(st.from_regex(r"[A-Z_]{1,12}", fullmatch=True), st.text(max_size=30)).map(
            lambda kv: f"{kv[0]}={kv[1]}"
        ),
    ),
    max_size=6,
)


@settings(max_examples=80, deadline=None)
@given(dotenv_lines, st.binary(max_size=8))
def test_any_dotenv_is_variables_or_a_config_error(lines: list[str], junk: bytes) -> None:
    from iflowtest.settings import read_dotenv

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ".env"
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + junk)
        result: list[dict[str, str]] = []
        error = error_of(lambda: result.append(read_dotenv(path)))
    assert error is None or (type(error) is ConfigError and str(path) in str(error)), repr(error)


history_lines = st.one_of(
    st.text(max_size=80),
    json_values.map(json.dumps),
    st.integers(1, 3000).map(lambda depth: "[" * depth + "]" * depth),
    st.fixed_dictionaries({"run_id": st.text(max_size=8), "cases": json_values}).map(json.dumps),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(history_lines, max_size=5))
def test_any_history_line_is_a_run_or_a_warning(lines: list[str]) -> None:
    from iflowtest.reporting.history import HistoryStore

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
        store = HistoryStore(path)
        runs = store.runs()
        assert len(runs) + len(store.skipped) == sum(1 for line in lines for part in line.splitlines() if part.strip())


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(2, 12), st.sampled_from(["variables", "cases"]))
def test_yaml_suites_with_nested_aliases_parse_or_are_refused_quickly(levels: int, width: int, where: str) -> None:
    lines = [f"a0: &a0 {json.dumps(['x'] * width)}"]
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    body = "\n".join("  " + line for line in lines)
    text = f"iflow: X\nvariables:\n{body}\ncases:\n  - name: c\n    request: {{body: {{json: *a{levels - 1}}}}}\n"
    error = error_of(lambda: parse_suite(text, Path("suites/x/a.iflow.yaml"), "suites/x/a.iflow.yaml"))
    assert error is None or isinstance(error, SuiteFormatError), repr(error)
    if width**levels > 1_000_000:
        assert error is not None and "expand to more than" in str(error)
