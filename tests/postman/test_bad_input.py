"""Broken Postman files: `iflowtest import-postman` exits 2 with one line saying what to fix, and writes nothing.

A curated corpus runs through the command line; hypothesis then fuzzes collection structure (random JSON,
and the sample collection, environment and data file with keys deleted or values of other JSON types): the
importer converts (and the report accounts for every item) or raises PostmanError, never another exception.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iflowtest.cases.format import load_schema
from iflowtest.cli import main
from iflowtest.errors import PostmanError
from iflowtest.postman.check import write_all
from iflowtest.postman.importer import import_collection
from tests.servers import iflowtest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "fixtures" / "postman"
V21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
FIX = "; fix it in Postman (or in the file) and export it again with Export → Collection v2.1"
INVALID = "c.json is not a valid Postman collection: "
SUITE_SCHEMA = jsonschema.validators.validator_for(load_schema())(load_schema())  # checks the schema once


def collection(*items: Any, **extra: Any) -> dict[str, Any]:
    return {"info": {"name": "broken", "schema": V21}, "item": list(items), **extra}


def get(name: str = "read", **request: Any) -> dict[str, Any]:
    return {"name": name, "request": {"method": "GET", "url": "{{baseUrl}}/http/x", **request}}


def as_json(data: Any) -> bytes:
    return json.dumps(data).encode()


def nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = get()
    for level in range(depth):
        node = {"name": f"f{level}", "item": [node]}
    return collection(node)


# (collection bytes, the message after "iflowtest: error: <folder>/") — each message says what to do.
COLLECTIONS: dict[str, tuple[bytes, str]] = {
    "truncated JSON": (
        as_json(collection(get()))[:40],
        "c.json is not JSON (Unterminated string starting at: line 1 column 39 (char 38)): "
        "export it again from Postman (Export → Collection v2.1)",
    ),
    "not JSON": (
        b"<html>500</html>",
        "c.json is not JSON (Expecting value: line 1 column 1 (char 0)): export it again",
    ),
    "a JSON list": (
        b"[1, 2]",
        "c.json is JSON but not a Postman collection (expected an object with 'item')",
    ),
    "a v1 collection": (
        as_json({"id": "1", "name": "old", "order": [], "requests": [{"url": "x"}]}),
        "c.json is a Postman v1 collection, which iflowtest does not read: open it in Postman and export it again "
        "with Export → Collection v2.1",
    ),
    "an unknown schema URL": (
        as_json({"info": {"schema": "https://example.org/collection/v3.0.0/x.json"}, "item": []}),
        "c.json has the unknown collection schema 'https://example.org/collection/v3.0.0/x.json'; expected v2.0.0 "
        "or v2.1.0: export it again",
    ),
    "item of the wrong type": (
        as_json({**collection(), "item": {"name": "x"}}),
        INVALID + "item 'x': the item has neither 'request' (a request) nor 'item' (a folder)" + FIX,
    ),
    "an item that is text": (
        as_json(collection(get(), "GET /x")),
        INVALID + "item 'item 2': the item is text, expected an object (a request or a folder)" + FIX,
    ),
    "an item without request": (
        as_json(collection({"name": "lost", "response": []})),
        INVALID + "item 'lost': the item has neither 'request' (a request) nor 'item' (a folder)" + FIX,
    ),
    "a folder's item of the wrong type": (
        as_json(collection({"name": "F", "item": "all"})),
        INVALID + "item 'F': 'item' is text, expected a list of items and folders" + FIX,
    ),
    "request of the wrong type": (
        as_json(collection({"name": "F", "item": [{"name": "r", "request": 42}]})),
        INVALID + "item 'F / r': 'request' is a number, expected an object or a URL string" + FIX,
    ),
    "url of the wrong type": (
        as_json(collection(get(url=["http://x"]))),
        INVALID + "item 'read': 'url' is a list, expected a URL string or an object with 'raw'" + FIX,
    ),
    "url host of the wrong type": (
        as_json(collection(get(url={"raw": "http://x/a", "host": {"name": "x"}}))),
        INVALID + "item 'read': 'url.host' is an object, expected text or a list of segments" + FIX,
    ),
    "url path segment of the wrong type": (
        as_json(collection(get(url={"raw": "http://x/a", "path": ["a", ["b"]]}))),
        INVALID + "item 'read': a segment of 'url.path' is a list, expected text" + FIX,
    ),
    "url query of the wrong type": (
        as_json(collection(get(url={"raw": "http://x/a", "query": "a=1"}))),
        INVALID + "item 'read': 'url.query' is text, expected a list of {key, value} objects" + FIX,
    ),
    "url query entry of the wrong type": (
        as_json(collection(get(url={"raw": "http://x/a", "query": [["a", "1"]]}))),
        INVALID + "item 'read': 'url.query' entry 1 is a list, expected a {key, value} object" + FIX,
    ),
    "url raw of the wrong type": (
        as_json(collection(get(url={"raw": 7}))),
        INVALID + "item 'read': 'url.raw' is a number, expected the URL as text" + FIX,
    ),
    "a header array with a non-object": (
        as_json(collection(get(header=[{"key": "Accept", "value": "x"}, "Accept: y"]))),
        INVALID + "item 'read': header 2 is text, expected a {key, value} object" + FIX,
    ),
    "a header without a text key": (
        as_json(collection(get(header=[{"key": ["Accept"], "value": "x"}]))),
        INVALID + "item 'read': header 1 has the key a list, expected text" + FIX,
    ),
    "auth of the wrong shape": (
        as_json(collection(get(auth={"type": "basic", "basic": "user:pass"}))),
        INVALID + "item 'read': 'auth.basic' is text, expected a list of {key, value} objects" + FIX,
    ),
    "auth attributes of the wrong shape": (
        as_json(collection({"name": "F", "auth": {"type": "bearer", "bearer": [["token", "t"]]}, "item": [get()]})),
        INVALID + "item 'F': 'auth.bearer' entry 1 is not a {key, value} object with a text key" + FIX,
    ),
    "auth that is text": (
        as_json(collection(get(auth="basic"))),
        INVALID + "item 'read': 'auth' is text, expected an object with 'type'" + FIX,
    ),
    "script lines of the wrong type": (
        as_json(collection(get(), event=[{"listen": "test", "script": {"exec": ["ok", 3]}}])),
        INVALID + "the collection: 'exec' of event 1 is not text or a list of lines" + FIX,
    ),
    "body of the wrong type": (
        as_json(collection(get(body="{}"))),
        INVALID + "item 'read': 'body' is text, expected an object with 'mode'" + FIX,
    ),
    "body of an unknown mode": (
        as_json(collection(get(body={"mode": "binary"}))),
        INVALID + "item 'read': body mode 'binary' is not one of Postman's (raw, urlencoded, formdata, file, graphql)",
    ),
    "form fields of the wrong type": (
        as_json(collection(get(body={"mode": "urlencoded", "urlencoded": {"a": "1"}}))),
        INVALID + "item 'read': 'body.urlencoded' field 1 has the key null, expected text" + FIX,
    ),
    "body options of the wrong type": (
        as_json(collection(get(body={"mode": "raw", "raw": "x", "options": {"raw": "json"}}))),
        INVALID + 'item \'read\': \'body.options\' is not an object like {"raw": {"language": "json"}}' + FIX,
    ),
    "a method of the wrong type": (
        as_json(collection(get(method=["GET"]))),
        INVALID + "item 'read': 'method' is a list, expected text such as GET" + FIX,
    ),
    "a name of the wrong type": (
        as_json(collection({**get(), "name": {"en": "x"}})),
        INVALID + "item 'item 1': 'name' is an object, expected text" + FIX,
    ),
    "a BOM and garbage": (
        b"\xef\xbb\xbf\x00garbage",
        "c.json is not JSON (Expecting value: line 1 column 1 (char 0)): export it again from Postman",
    ),
    "UTF-16 garbage": (
        b"\xff\xfe\x00\xd8x",
        "c.json is not JSON ('utf-16-le' codec can't decode byte 0x78 in position 4: truncated data): export it again",
    ),
    "a lone surrogate escape": (
        as_json(collection(get(name="\ud800"))),
        "c.json is not JSON ('utf-8' codec can't encode character '\\ud800' in position ",
    ),
    "huge nesting depth of JSON": (
        b"[" * 100_000,
        "c.json nests arrays or objects too deep to read: export it again from Postman (Export → Collection v2.1)",
    ),
    "huge nesting depth of folders": (
        as_json(nested(200)),
        INVALID + "item 'f199 / f198 / f197 / ",
    ),
}


def run(project: Path, *args: str) -> tuple[int, str, Callable[[], list[Path]]]:
    """Run the command with --out suites/x; the third value lists the files and folders it added."""
    out = project / "suites" / "x"

    def written() -> list[Path]:
        return sorted(p for p in project.rglob("*") if p.name not in ("pyproject.toml", "c.json", "e.json"))

    before = written()
    code = main(["import-postman", *args, "--out", str(out)])
    return code, str(out), lambda: [p for p in written() if p not in before]


def assert_one_line_error(capsys: pytest.CaptureFixture[str], message: str) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("iflowtest: error: "), captured.err
    assert message in captured.err, captured.err
    assert "Traceback" not in captured.err
    return captured.err


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.iflowtest]\n")
    return tmp_path


@pytest.mark.parametrize("case", COLLECTIONS, ids=list(COLLECTIONS))
def test_a_broken_collection_exits_2_with_one_line_and_writes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    content, message = COLLECTIONS[case]
    (project / "c.json").write_bytes(content)

    code, _, new_files = run(project, str(project / "c.json"))

    assert code == 2
    assert_one_line_error(capsys, message)
    assert new_files() == []


def test_the_installed_command_exits_2_without_a_traceback(project: Path) -> None:
    (project / "c.json").write_bytes(b"[" * 100_000)
    result = iflowtest("import-postman", "c.json", "--out", "suites/x", cwd=project)

    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        "iflowtest: error: the collection c.json nests arrays or objects too deep to read: export it again from "
        "Postman (Export → Collection v2.1)\n"
    )
    assert not (project / "suites").exists()


SAMPLE_COLLECTION = SAMPLE / "cpi-costcenters.postman_collection.json"
ENVIRONMENTS: dict[str, tuple[bytes, str]] = {
    "a collection as environment": (
        SAMPLE_COLLECTION.read_bytes(),
        "e.json is JSON but not a Postman environment (expected an object with a 'values' list): export the "
        "environment from Postman with Export on the environment's menu",
    ),
    "values that are not objects": (
        as_json({"name": "e", "values": [{"key": "a", "value": "1"}, "b=2"]}),
        "e.json is not a valid Postman environment: value 2 is text, expected a {key, value} object; fix it in "
        "Postman (or in the file) and export the environment again",
    ),
    "a value without a text key": (
        as_json({"name": "e", "values": [{"key": None, "value": "1"}]}),
        "e.json is not a valid Postman environment: value 1 has the key null, expected text",
    ),
    "UTF-16 garbage": (b"\xfe\xff\xd8\x00", "e.json is not JSON (Expecting value: line 1 column 1 (char 0))"),
}


@pytest.mark.parametrize("case", ENVIRONMENTS, ids=list(ENVIRONMENTS))
def test_a_broken_environment_exits_2_with_one_line_and_writes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    content, message = ENVIRONMENTS[case]
    (project / "e.json").write_bytes(content)

    code, _, new_files = run(project, str(SAMPLE_COLLECTION), "--environment", str(project / "e.json"))

    assert code == 2
    assert_one_line_error(capsys, message)
    assert new_files() == []


DATA: dict[str, tuple[str, bytes, str]] = {
    "a CSV with ragged rows": (
        "d.csv",
        b"companyCode,region\n1010,EU\n1710\n",
        "d.csv line 3 has 1 cells where the header has 2: fix the row",
    ),
    "a CSV of binary junk": (
        "d.csv",
        bytes(range(256)),
        "the data file {data} is not UTF-8 text (byte 128): save it as UTF-8 (CSV UTF-8 in Excel)",
    ),
    "a CSV with NUL bytes": (
        "d.csv",
        b"companyCode\n10\x0010\n",
        "the data file {data} holds binary data (a NUL byte): pass the .csv or .json text file",
    ),
    "a CSV with a header only": (
        "d.csv",
        b"companyCode\n",
        "d.csv has no rows: a parameterised case needs at least one",
    ),
    "a JSON object": (
        "d.json",
        b'{"companyCode": "1010"}',
        "d.json must be a list of rows or an object with 'rows' (and optional 'types'); unknown key 'companyCode'",
    ),
    "a JSON list of lists": ("d.json", b"[[1010], [1710]]", "d.json must be a list of objects (one per row)"),
    "JSON that is not JSON": ("d.json", b"[{", "d.json is not valid JSON (line 1: Expecting property name enclosed"),
}


@pytest.mark.parametrize("case", DATA, ids=list(DATA))
def test_a_broken_data_file_exits_2_with_one_line_and_writes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    name, content, message = DATA[case]
    data = project / name
    data.write_bytes(content)

    code, _, new_files = run(project, str(SAMPLE_COLLECTION), "--data", str(data))

    assert code == 2
    assert_one_line_error(capsys, message.format(data=data))
    assert new_files() == []


def test_an_out_folder_that_is_a_file_exits_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "suites").mkdir()
    (project / "suites" / "x").write_text("keep me")

    code, out, new_files = run(project, str(SAMPLE_COLLECTION))

    assert code == 2
    assert_one_line_error(
        capsys, f"--out {out} is a file, not a folder: pass a folder for the suite (created if missing)"
    )
    assert (project / "suites" / "x").read_text() == "keep me" and new_files() == []


def test_an_out_folder_below_a_file_exits_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "suites").write_text("keep me")

    code, out, _ = run(project, str(SAMPLE_COLLECTION))

    assert code == 2
    assert_one_line_error(
        capsys, f"--out {out} cannot be created: {project / 'suites'} is a file; pass a folder path for the suite"
    )
    assert (project / "suites").read_text() == "keep me"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_out_folder_without_write_access_exits_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "suites").mkdir()
    (project / "suites").chmod(0o500)
    try:
        code, out, new_files = run(project, str(SAMPLE_COLLECTION))
    finally:
        (project / "suites").chmod(0o700)

    assert code == 2
    assert_one_line_error(capsys, f"--out {out} is not writable ({project / 'suites'} denies write access)")
    assert new_files() == [project / "suites"]


def test_a_write_that_fails_midway_leaves_no_file_and_no_folder(tmp_path: Path) -> None:
    out = tmp_path / "suites" / "x"
    (tmp_path / "blocker").write_text("a file where a folder is needed")
    files: dict[Path, str | bytes] = {out / "a.iflow.yaml": "cases: []\n", tmp_path / "blocker" / "b.json": b"{}"}

    with pytest.raises(PostmanError) as raised:
        write_all(files, out)

    assert str(raised.value).startswith(f"cannot write the suite into {out}: {tmp_path / 'blocker'}/.b.json.")
    assert str(raised.value).endswith(
        ": Not a directory; nothing was written: free space, move what is in the way or pass another --out folder"
    )
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["blocker"]


def test_a_folder_in_the_way_of_a_file_leaves_everything_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "x"
    (out / "CONVERSION.md").mkdir(parents=True)
    files: dict[Path, str | bytes] = {out / "x.iflow.yaml": "cases: []\n", out / "CONVERSION.md": "# report\n"}

    with pytest.raises(PostmanError) as raised:
        write_all(files, out)

    assert str(raised.value) == (
        f"cannot write the suite into {out}: {out / 'CONVERSION.md'}: a folder is in the way; nothing was written: "
        "free space, move what is in the way or pass another --out folder"
    )
    assert sorted(p.name for p in out.iterdir()) == ["CONVERSION.md"]


# --- property-based: the importer converts or raises PostmanError, never anything else ---

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
KEYS = ("name", "item", "request", "url", "raw", "host", "path", "query", "variable", "header", "method", "body")
KEYS += ("mode", "auth", "type", "basic", "oauth2", "event", "listen", "script", "exec", "key", "value", "disabled")
postman_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.sampled_from(("raw", "basic", "test")),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=14,
)
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def plausible(*shapes: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """One of Postman's shapes for a field, or (less often) any JSON value."""
    shape = st.one_of(*shapes)
    return st.integers(0, 6).flatmap(lambda n: shape if n else json_values)  # one_of(shapes * 6) has a huge repr


pairs = st.lists(
    plausible(
        st.fixed_dictionaries(
            {"key": st.text(max_size=8)},
            optional={"value": plausible(st.text(max_size=12)), "disabled": st.booleans(), "type": st.text(max_size=5)},
        )
    ),
    max_size=3,
)
auths = st.fixed_dictionaries(
    {"type": plausible(st.sampled_from(("basic", "bearer", "oauth2", "noauth", "apikey")))},
    optional={
        kind: plausible(pairs, st.dictionaries(st.text(max_size=8), json_values)) for kind in ("basic", "oauth2")
    },
)
events = st.lists(
    st.fixed_dictionaries(
        {"listen": plausible(st.sampled_from(("test", "prerequest")))},
        optional={"script": plausible(st.fixed_dictionaries({"exec": plausible(st.lists(st.text(max_size=40)))}))},
    ),
    max_size=2,
)
urls = plausible(
    st.text(max_size=30),
    st.fixed_dictionaries(
        {},
        optional={
            "raw": plausible(st.text(max_size=30)),
            "host": plausible(st.lists(st.text(max_size=6), max_size=3), st.text(max_size=10)),
            "path": plausible(st.lists(st.text(max_size=6) | st.fixed_dictionaries({"value": st.text()}), max_size=3)),
            "query": plausible(pairs),
            "variable": plausible(pairs),
        },
    ),
)
bodies = st.fixed_dictionaries(
    {"mode": plausible(st.sampled_from(("raw", "urlencoded", "formdata", "file", "graphql")))},
    optional={
        "raw": plausible(st.text(max_size=40), json_values.map(json.dumps)),
        "urlencoded": plausible(pairs),
        "formdata": plausible(pairs),
        "file": plausible(st.fixed_dictionaries({"src": st.text(max_size=8)})),
        "graphql": plausible(st.fixed_dictionaries({"query": st.text(max_size=20), "variables": st.text(max_size=20)})),
        "options": plausible(st.fixed_dictionaries({"raw": st.fixed_dictionaries({"language": st.text(max_size=5)})})),
    },
)
requests = plausible(
    st.text(max_size=30),
    st.fixed_dictionaries(
        {},
        optional={
            "method": plausible(st.sampled_from(("GET", "POST", "OPTIONS", "get"))),
            "url": urls,
            "header": plausible(pairs, st.text(max_size=30)),
            "body": plausible(bodies),
            "auth": plausible(auths),
        },
    ),
)
request_items = st.fixed_dictionaries(
    {"name": plausible(st.text(max_size=10)), "request": requests}, optional={"event": plausible(events)}
)
item_trees = st.lists(
    st.recursive(
        request_items,
        lambda inner: st.fixed_dictionaries(
            {"name": st.text(max_size=10), "item": st.lists(inner, max_size=3)},
            optional={"auth": plausible(auths), "event": plausible(events)},
        ),
        max_leaves=6,
    ),
    max_size=4,
)


def import_or_error(content: Any, *, environment: Any = None, data: Any = None) -> None:
    """Import `content` (and environment/data JSON); a result must account for every request item."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "pyproject.toml").write_text("")
        path = root / "c.json"
        path.write_text(json.dumps(content))
        extra: dict[str, Path] = {}
        if environment is not None:
            (root / "e.json").write_text(json.dumps(environment))
            extra["environment"] = root / "e.json"
        if data is not None:
            (root / "d.json").write_text(json.dumps(data))
            extra["data"] = root / "d.json"
        try:
            result = import_collection(path, root / "suites" / "x", **extra)
        except PostmanError:
            assert not (root / "suites").exists()  # nothing half-written
            return
        assert len(result.items) == count_requests(content["item"])
        report = result.report.read_text()
        for entry in result.items:
            label = " ".join(entry.label.replace("|", "\\|").splitlines())
            assert f"| {label} | {entry.outcome} |" in report
        for suite in (root / "suites").rglob("*.iflow.yaml"):
            SUITE_SCHEMA.validate(yaml.safe_load(suite.read_text()))


def count_requests(items: list[Any]) -> int:
    return sum(count_requests(i["item"]) if "item" in i else 1 for i in items)


@settings(FUZZ, max_examples=30)
@given(st.one_of(json_values, postman_like))
def test_any_json_is_a_collection_or_a_postman_error(value: Any) -> None:
    import_or_error(value)


@settings(FUZZ, max_examples=200)
@given(
    st.one_of(item_trees, item_trees, postman_like), st.sampled_from(("v2.0.0", "v2.1.0")), plausible(st.none(), auths)
)
def test_any_item_structure_converts_or_is_a_postman_error(items: Any, version: str, auth: Any) -> None:
    schema = f"https://schema.getpostman.com/json/collection/{version}/collection.json"
    items = items if isinstance(items, list) else [items]
    import_or_error({"info": {"name": "fuzz", "schema": schema}, "item": items, "auth": auth})


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path into a JSON value, the value itself first."""
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, name: str) -> Any:
    """The sample file `name` with one to three places deleted or replaced by a JSON value of any type."""
    value = copy.deepcopy(SAMPLES[name])  # by name: hypothesis shows a strategy's arguments in its repr
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(value)[1:]))
        parent = value
        for step in where[:-1]:
            parent = parent[step]
        if draw(st.booleans()):
            del parent[where[-1]]
        else:
            parent[where[-1]] = draw(json_values)
        if not paths(value)[1:]:
            break
    return value


SAMPLES = {
    "collection": json.loads(SAMPLE_COLLECTION.read_text()),
    "environment": json.loads((SAMPLE / "cpi.postman_environment.json").read_text()),
    "data": json.loads((SAMPLE / "company_codes.json").read_text()),
}


@FUZZ
@given(mutated("collection"))
def test_the_sample_collection_mutated_converts_or_is_a_postman_error(value: Any) -> None:
    import_or_error(value)


@FUZZ
@given(st.one_of(mutated("environment").map(lambda e: ("env", e)), mutated("data").map(lambda d: ("data", d))))
def test_the_sample_environment_and_data_mutated_convert_or_are_postman_errors(which: tuple[str, Any]) -> None:
    kind, value = which
    import_or_error(SAMPLES["collection"], **({"environment": value} if kind == "env" else {"data": value}))


@pytest.mark.parametrize("field", ["path", "host", "query", "variable"])
def test_a_url_part_that_is_null_is_read_as_absent(field: str) -> None:
    # Found by the mutation test above: `"path": null` crashed the importer with a TypeError.
    collection = json.loads(SAMPLE_COLLECTION.read_text())
    first = collection["item"][0]["item"][0]
    first["request"]["url"][field] = None
    import_or_error(collection)
