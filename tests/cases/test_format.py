"""The suite format: every error names file, line and key (with a suggestion), and no input makes a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iflowtest.cases.format import SuiteFormatError, load_schema, load_suite, parse_suite

FILE = "suites/costcenters/costcenters.iflow.yaml"
ROOT = Path(__file__).resolve().parents[2]


# libyaml (used when PyYAML has it) and the pure-Python parser word this problem differently.
UNFINISHED = (
    "did not find expected node content"
    if yaml.__with_libyaml__
    else "expected the node content, but found '<stream end>'"
)


def parse(text: str) -> Any:
    return parse_suite(text, Path(FILE), FILE)


def error_of(text: str) -> str:
    with pytest.raises(SuiteFormatError) as caught:
        parse(text)
    return str(caught.value)


def test_the_example_from_the_issue() -> None:
    text = (
        "iflow: ReadCostCenters\n"
        + "\n" * 8
        + (
            "cases:\n  - name: list A000\n    request:\n      query: {controllingArea: A000}\n    expcet:\n      status: 200\n"
        )
    )
    assert error_of(text) == (
        "unknown key 'expcet' in case 'list A000' (suites/costcenters/costcenters.iflow.yaml:14): did you mean 'expect'?"
    )


ERRORS = [
    (
        "cases:\n  - name: a\n    request: {}\n    expect: {status: 20}\n",
        "key 'status' in case 'a' (suites/costcenters/costcenters.iflow.yaml:4) must be a status such as 200, '2xx', '200-204' or a list of those, got 20",
    ),
    (
        "cases:\n  - name: a\n    request: {method: FETCH}\n",
        "key 'method' in case 'a' (suites/costcenters/costcenters.iflow.yaml:3) must be one of GET, POST, PUT, PATCH, DELETE, HEAD, got 'FETCH'",
    ),
    (
        "cases:\n  - name: a\n    request: {}\n    expect:\n      json:\n        $.a: {regx: b}\n",
        "unknown matcher 'regx' in case 'a' (suites/costcenters/costcenters.iflow.yaml:6): did you mean 'regex'?",
    ),
    (
        "cases:\n  - name: a\n    request: {}\n    expect: {mpl: {stauts: COMPLETED}}\n",
        "unknown key 'stauts' in case 'a' (suites/costcenters/costcenters.iflow.yaml:4): did you mean 'status'?",
    ),
    (
        "cases:\n  - name: a\n    request: {}\n    expect: {mpl: {status: DONE}}\n",
        "key 'status' in case 'a' (suites/costcenters/costcenters.iflow.yaml:4) must be one of COMPLETED, FAILED, "
        "ESCALATED, CANCELLED, DISCARDED, ABANDONED, got 'DONE'",
    ),
    (
        "cases:\n  - name: a\n",
        "case 'a' (suites/costcenters/costcenters.iflow.yaml:2) needs either 'request' (one call) or 'steps' (several), not both or neither",
    ),
    ("cases:\n  - request: {}\n", "case #1 (suites/costcenters/costcenters.iflow.yaml:2) lacks key 'name': add it"),
    (
        "cases:\n  - name: a\n    steps:\n      - request: {}\n      - request: {}\n        sav: {}\n",
        "unknown key 'sav' in step 2 of case 'a' (suites/costcenters/costcenters.iflow.yaml:6): did you mean 'save'?",
    ),
    (
        "cases: [\n",
        f"suites/costcenters/costcenters.iflow.yaml:2: not valid YAML ({UNFINISHED}): fix the syntax",
    ),
    (
        "- a\n",
        "suites/costcenters/costcenters.iflow.yaml:1: a suite is a mapping with 'cases' (and defaults such as 'iflow'), got a list",
    ),
    ("cases: []\n", "key 'cases' in the suite (suites/costcenters/costcenters.iflow.yaml:1) must not be empty"),
    (
        "on: 1\ncases: []\n",
        "suites/costcenters/costcenters.iflow.yaml:1: a key read as True must be text (YAML reads unquoted yes/no/on/off as true/false): quote it",
    ),
    (
        "clent: sender\ncases: []\n",
        "unknown key 'clent' in the suite (suites/costcenters/costcenters.iflow.yaml:1): did you mean 'client'?",
    ),
    (
        "cases:\n  - name: a\n    request: {}\n  - name: a\n    request: {}\n",
        "case 'a' (suites/costcenters/costcenters.iflow.yaml:4) has the same name as the case at line 2: names are test ids and must differ",
    ),
    (
        "cases:\n  - name: a\n    request: {body: {json: 1, xml: <a/>}}\n",
        "the body of case 'a' (suites/costcenters/costcenters.iflow.yaml:2) (line 2) needs exactly one of json, xml, text, form, multipart, file, got json and xml",
    ),
    (
        "cases:\n  - name: a\n    request: {}\n    save: {id: {json: $.a, header: X}}\n",
        'key \'id\' in case \'a\' (suites/costcenters/costcenters.iflow.yaml:4) must name exactly one source (json, xpath, header or regex), got {"json": "$.a", "header": "X"}',
    ),
    (
        "cases:\n  - name: a\n    request: {}\n    expect: {json: {'$.[': 1}}\n",
        "JSONPath '$.[' does not parse (Parse error near the end of string!): write it like $.d.results[0].CostCenter (in case 'a' (suites/costcenters/costcenters.iflow.yaml:2))",
    ),
    (
        "cases:\n  - name: a\n    request: {}\n    expect: {xpath: {'//p:Status': A}}\n",
        "XPath '//p:Status' in case 'a' (suites/costcenters/costcenters.iflow.yaml:2) does not compile (Undefined namespace prefix); declared prefixes: none",
    ),
    (
        "cases:\n  - name: a\n    request: {}\n    baseline: {file: a.json}\n",
        "key 'file' in case 'a' (suites/costcenters/costcenters.iflow.yaml:4) must name a file ending in .baseline.json or .baseline.xml, got 'a.json'",
    ),
    (
        "cases:\n  - name: a\n    request: {}\n    baseline: a.json\n",
        "the baseline of case 'a' (suites/costcenters/costcenters.iflow.yaml:2) must end in .baseline.json or .baseline.xml, got 'a.json'",
    ),
    (
        "cases:\n  - name: a\n    tags: [not a marker]\n    request: {}\n",
        "key 'tags' in case 'a' (suites/costcenters/costcenters.iflow.yaml:3) must match ^[A-Za-z_][A-Za-z0-9_]*$, got 'not a marker'",
    ),
    (
        "cases:\n  - name: a\n    request: {body: !!binary aGVsbG8=}\n",
        "suites/costcenters/costcenters.iflow.yaml:3: bytes values are not part of the format: write text, numbers, true/false, lists or mappings",
    ),
    (
        "cases:\n  - name: a\n    request: {}\n    expect: {status: 200}\n    save: {}\n    baseline: x.baseline.json\n    steps: []\n",
        "key 'steps' in case 'a' (suites/costcenters/costcenters.iflow.yaml:7) must not be empty",
    ),
    (
        "cases: &a\n  - *a\n",
        "suites/costcenters/costcenters.iflow.yaml: the document is nested too deeply or refers to itself",
    ),
    (
        "iterations: independent\ncases:\n  - name: a\n    request: {}\n",
        "'iterations: independent' (suites/costcenters/costcenters.iflow.yaml:1) applies to a sequence: add 'sequence: NAME' or remove it",
    ),
    (
        "sequence: s\niterations: independent\ncases:\n  - name: a\n    steps:\n      - request: {}\n        save: {cc: {json: $.a}}\n",
        "case 'a' (suites/costcenters/costcenters.iflow.yaml:4) saves 'cc', but the file declares 'iterations: independent' (suites/costcenters/costcenters.iflow.yaml:2): a later iteration would not see the value; remove 'iterations: independent' to run the iterations in order",
    ),
    (
        "sequence: s\niterations: independent\ncases:\n  - {name: a, table: a.csv, request: {}}\n  - {name: b, table: a.csv, table_ids: [x], request: {}}\n",
        "case 'b' (suites/costcenters/costcenters.iflow.yaml:5) reads table a.csv (table_ids x) but case 'a' reads table a.csv: with 'iterations: independent' (suites/costcenters/costcenters.iflow.yaml:2) every case reads the same table with the same table_ids, so that each iteration is one row of all of them",
    ),
    (
        "sequence: s\niterations: sometimes\ncases:\n  - name: a\n    request: {}\n",
        "key 'iterations' in the suite (suites/costcenters/costcenters.iflow.yaml:2) must be one of in_order, independent, got 'sometimes'",
    ),
]


@pytest.mark.parametrize(("text", "message"), ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_format_errors_name_file_line_and_key(text: str, message: str) -> None:
    assert error_of(text) == message


def test_defaults_apply_and_cases_override() -> None:
    suite = parse(
        "iflow: A\nclient: c1\nauth: none\nheaders: {Accept: x, X-A: '1'}\ntags: [t1]\nvariables: {v: 1}\n"
        "cases:\n  - name: one\n    client: c2\n    headers: {Accept: y}\n    tags: [t2, t1]\n    variables: {w: 2}\n"
        "    steps:\n      - request: {}\n      - request: {}\n        iflow: B\n        auth: client\n"
    )
    [case] = suite.cases
    assert (case.iflow, case.tags, dict(case.headers), dict(case.variables)) == (
        "A",
        ("t1", "t2"),
        {"Accept": "y", "X-A": "1"},
        {"v": 1, "w": 2},
    )
    assert [(s.name, s.iflow, s.client, s.auth) for s in case.steps] == [
        ("step 1", "A", "c2", "none"),
        ("step 2", "B", "c2", "client"),
    ]
    assert case.source.startswith("  - name: one\n    client: c2") and case.line == 8


def test_dates_stay_text() -> None:
    suite = parse("cases:\n  - name: a\n    request: {query: {from: 2026-01-01}}\n")
    assert suite.cases[0].steps[0].request["query"]["from"] == "2026-01-01"


def test_the_shipped_schema_is_valid_and_the_sample_suite_follows_it() -> None:
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    sample = ROOT / "suites" / "costcenters" / "costcenters.iflow.yaml"
    jsonschema.validate(yaml.safe_load(sample.read_text()), schema)
    suite = load_suite(sample, "sample")
    assert len(suite.cases) >= 12


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SuiteFormatError, match=r"x\.iflow\.yaml cannot be read"):
        load_suite(tmp_path / "x.iflow.yaml", "x.iflow.yaml")


# ---------------------------------------------------------------------------------------------- properties
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["GET", "2xx", "$.d.results", "//a", "${x}", "name", "request", "expect", "cases"]),
)
KEYS = st.one_of(
    st.sampled_from(
        [
            "cases",
            "name",
            "request",
            "expect",
            "steps",
            "save",
            "baseline",
            "status",
            "json",
            "xpath",
            "headers",
            "method",
            "path",
            "query",
            "body",
            "xml",
            "text",
            "form",
            "file",
            "iflow",
            "client",
            "auth",
            "tags",
            "table",
            "table_ids",
            "regex",
            "count",
            "every",
            "odata",
            "ignore",
            "namespaces",
            "variables",
            "expcet",
        ]
    ),
    st.text(max_size=8),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=15,
)
SUITE_LIKE = st.fixed_dictionaries(
    {"cases": st.lists(st.dictionaries(KEYS, DOCUMENTS, max_size=5), max_size=3)},
    optional={"iflow": SCALARS, "headers": DOCUMENTS, "namespaces": DOCUMENTS},
)


NAMES = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=10)
REQUESTS = st.fixed_dictionaries(
    {},
    optional={
        "method": st.sampled_from(["GET", "post", "FETCH"]),
        "path": st.text(max_size=10),
        "query": st.dictionaries(st.text(max_size=5), SCALARS, max_size=2),
        "body": st.dictionaries(st.sampled_from(["json", "xml", "text", "form", "file"]), DOCUMENTS, max_size=2),
    },
)
EXPECTS = st.fixed_dictionaries(
    {},
    optional={
        "status": st.one_of(st.integers(90, 610), st.sampled_from(["2xx", "200-204", "abc", "${s}"])),
        "json": st.dictionaries(st.sampled_from(["$.a", "$..b[0]", "$.[", "$.a[?(@.x > 1)]"]), DOCUMENTS, max_size=2),
        "xpath": st.dictionaries(st.sampled_from(["/a", "//p:b", "count(//c)", "//["]), DOCUMENTS, max_size=2),
        "odata": st.dictionaries(st.sampled_from(["count", "every", "inlinecount", "evry"]), DOCUMENTS, max_size=2),
        "text": DOCUMENTS,
        "max_ms": SCALARS,
    },
)
CASES = st.fixed_dictionaries(
    {"name": NAMES, "request": REQUESTS},
    optional={
        "expect": EXPECTS,
        "save": st.dictionaries(
            st.text(max_size=4),
            st.dictionaries(
                st.sampled_from(["json", "xpath", "header", "regex"]),
                st.sampled_from(["$.a", "//a", "X-A", "(", "a(b)"]),
                max_size=2,
            ),
            max_size=2,
        ),
        "baseline": st.one_of(st.sampled_from(["a.baseline.json", "b.baseline.xml", "c.json"]), DOCUMENTS),
        "table_ids": st.lists(st.text(max_size=4), max_size=2),
        "tags": st.lists(st.sampled_from(["smoke", "nightly", "bad tag"]), max_size=2),
    },
)
NEAR_VALID = st.fixed_dictionaries(
    {"cases": st.lists(CASES, min_size=1, max_size=3)},
    optional={
        "iflow": NAMES,
        "namespaces": st.dictionaries(st.sampled_from(["p", "q"]), st.text(max_size=8), max_size=2),
    },
)


def outcome(text: str) -> str:
    try:
        parse(text)
    except SuiteFormatError as exc:
        message = str(exc)
        assert message and "Traceback" not in message
        return "format error"
    return "suite"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(DOCUMENTS, SUITE_LIKE))
def test_any_yaml_document_is_a_suite_or_a_format_error(document: Any) -> None:
    outcome(yaml.safe_dump(document, allow_unicode=True))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("cases:- name{}[]&*!|>'\"\n #%@`?,.${}0aé\t")), max_size=80))
def test_any_text_is_a_suite_or_a_format_error(text: str) -> None:
    outcome(text)


@settings(max_examples=50, deadline=None)
@given(SUITE_LIKE)
def test_json_documents_too(document: Any) -> None:
    outcome(json.dumps(document))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NEAR_VALID)
def test_nearly_valid_suites_are_collected_or_explained(document: Any) -> None:
    outcome(yaml.safe_dump(document, allow_unicode=True))


def test_flow_style_cases_keep_their_source_line() -> None:
    suite = parse("cases: [{name: a, request: {}}, {name: b, request: {}}]\n")
    assert [c.source for c in suite.cases] == ["cases: [{name: a, request: {}}, {name: b, request: {}}]"] * 2


MESSAGE_ERRORS = [
    (
        "cases:\n  - name: a\n    request: {}\n    expect:\n      message:\n        atachments: {}\n",
        "unknown key 'atachments' in case 'a' (suites/costcenters/costcenters.iflow.yaml:6): did you mean 'attachments'?",
    ),
    (
        "cases:\n  - name: a\n    request: {}\n    expect:\n      message:\n        attachments:\n          Payload: {jsn: {}}\n",
        "unknown key 'jsn' in case 'a' (suites/costcenters/costcenters.iflow.yaml:7): did you mean 'json'?",
    ),
    (
        "cases:\n  - name: a\n    request: {}\n    expect:\n      message:\n        downstream:\n          - status: COMPLETED\n",
        "case 'a' (suites/costcenters/costcenters.iflow.yaml:7) lacks key 'iflow': add it",
    ),
    (
        "cases:\n  - name: a\n    request: {}\n    expect:\n      message:\n        status: DONE\n",
        "key 'status' in case 'a' (suites/costcenters/costcenters.iflow.yaml:6) must be one of COMPLETED, FAILED, "
        "ESCALATED, CANCELLED, DISCARDED, ABANDONED, got 'DONE'",
    ),
    (
        "cases:\n  - name: a\n    request: {}\n    expect:\n      message:\n        store:\n          Persist1: {xpath: {'//a[': x}}\n",
        "XPath '//a[' in message message store entry 'Persist1' of case 'a'",
    ),
]


@pytest.mark.parametrize(("text", "message"), MESSAGE_ERRORS)
def test_message_expectations_are_checked_in_the_users_terms(text: str, message: str) -> None:
    assert error_of(text).startswith(message)


def test_a_message_expectation_with_every_kind_parses() -> None:
    text = """\
cases:
  - name: a
    request: {}
    expect:
      status: 202
      message:
        status: COMPLETED
        custom_status: {regex: "OK|COMPLETED"}
        timeout: 30
        properties: {CostCenter: "10101101"}
        attachments:
          Payload: {xpath: {/a: b}, content_type: {regex: xml}, baseline: fixtures/x.baseline.xml}
          Gone: {absent: true}
        store: {Persist1: null}
        trace: {EndEvent_2: {text: {contains: x}}}
        data_store: {Store: {id: "${id}", json: {$.a: 1}}}
        queues: {Q: {failed: 0, scope: queue}}
        downstream:
          - iflow: Next
            count: 1
            downstream: [{iflow: Third}]
"""
    [case] = parse(text).cases
    assert case.steps[0].expect["message"]["downstream"][0]["iflow"] == "Next"
