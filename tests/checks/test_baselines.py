"""Baselines: ignore rules, precision, empty-equals-missing, unordered lists, readable diffs, and rewriting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree
from werkzeug.wrappers import Request, Response

from iflowtest.checks.assertions import ExpectationError
from iflowtest.checks.baselines import BaselineRules, compare_baseline, diff_json, diff_xml
from iflowtest.errors import ConfigError
from tests.servers import serve

ANSWER = {
    "d": {
        "results": [
            {"CostCenter": "10101101", "Amount": 10.504, "RequestId": "a1", "Note": None},
            {"CostCenter": "10101102", "Amount": 3.0, "RequestId": "b2", "Note": ""},
        ]
    }
}
XML = b"<Answer><Status>ACCEPTED</Status><RequestId>r-1</RequestId><Field name='P' old='x'>J. Smith</Field></Answer>"


@pytest.fixture(scope="module")
def answers() -> Iterator[dict[str, requests.Response]]:
    def app(request: Request) -> Response:
        if request.path == "/xml":
            return Response(XML, content_type="application/xml")
        return Response(json.dumps(ANSWER), content_type="application/json")

    with serve(app) as url, requests.Session() as session:
        session.trust_env = False
        yield {"json": session.get(url + "/json", timeout=5), "xml": session.get(url + "/xml", timeout=5)}


def xml(text: str) -> Any:
    return etree.fromstring(text)


def test_json_diff_names_each_difference_by_path() -> None:
    expected = {"a": 1, "b": {"c": "x"}, "list": [1, 2], "gone": True}
    actual = {"a": 2, "b": {"c": "x", "new": 1}, "list": [1]}

    assert diff_json(expected, actual, BaselineRules()) == [
        "$.a: expected 1, got 2",
        "$.b.new: not in the baseline (response has 1)",
        "$.list[1]: missing in the response (baseline has 2)",
        "$.gone: missing in the response (baseline has true)",
    ]


def test_json_rules() -> None:
    expected = {"items": [{"id": 2, "at": "09:00"}, {"id": 1, "at": "09:01"}], "total": 1.004, "memo": ""}
    actual = {"items": [{"id": 1, "at": "10:00"}, {"id": 2, "at": "10:05"}], "total": 1.0}

    assert diff_json(expected, actual, BaselineRules()) != []
    rules = BaselineRules(ignore=("$.items[*].at",), precision=2, empty_equals_missing=True, unordered=("$.items",))
    assert diff_json(expected, actual, rules) == []


def test_long_texts_are_shown_from_their_first_difference() -> None:
    base = "https://tenant.example/sap/opu/odata/sap/API_COSTCENTER_SRV/A_CostCenter('"
    [line] = diff_json({"uri": base + "1')"}, {"uri": base + "2')"}, BaselineRules())
    assert line == "$.uri: expected …\"R_SRV/A_CostCenter('1')\", got …\"R_SRV/A_CostCenter('2')\" (from character 54)"


def test_xml_diff_and_rules() -> None:
    expected = xml("<A><Id>1</Id><B x='1'>t</B><C>1.001</C><L><i>b</i><i>a</i></L><E/></A>")
    actual = xml("<A><Id>2</Id><B x='2' y='3'>u</B><C>1.0</C><L><i>a</i><i>b</i></L></A>")

    assert diff_xml(expected, actual, BaselineRules()) == [
        "/A/Id[1]: text expected '1', got '2'",
        "/A/B[1]/@x: expected '1', got '2'",
        "/A/B[1]/@y: not in the baseline (response has '3')",
        "/A/B[1]: text expected 't', got 'u'",
        "/A/C[1]: text expected '1.001', got '1.0'",
        "/A/L[1]/i[1]: text expected 'b', got 'a'",
        "/A/L[1]/i[2]: text expected 'a', got 'b'",
        "/A/E: missing in the response",
    ]
    rules = BaselineRules(
        ignore=("/A/Id", "//B/@x", "//B/@y", "//B"), precision=2, empty_equals_missing=True, unordered=("/A/L",)
    )
    assert diff_xml(expected, actual, rules) == []


def test_xml_ignore_rule_must_select_nodes() -> None:
    with pytest.raises(ConfigError, match="XPath 'count\\(//a\\)' must select elements or attributes"):
        diff_xml(xml("<a/>"), xml("<a/>"), BaselineRules(ignore=("count(//a)",)))


def test_compare_update_and_mismatch(answers: dict[str, requests.Response], tmp_path: Path) -> None:
    baseline = "fixtures/x/list.baseline.json"
    with pytest.raises(ConfigError) as missing:
        compare_baseline(answers["json"], baseline, base=tmp_path)
    assert str(missing.value) == (
        "baseline fixtures/x/list.baseline.json does not exist: run once with --iflow-update-baselines to record it "
        "from the live answer, review it and commit it"
    )

    note = compare_baseline(answers["json"], baseline, update=True, base=tmp_path)
    assert note is not None and note.startswith("baseline fixtures/x/list.baseline.json written from the response")
    assert json.loads((tmp_path / baseline).read_text()) == ANSWER
    assert compare_baseline(answers["json"], baseline, base=tmp_path) is None

    stored = json.loads((tmp_path / baseline).read_text())
    stored["d"]["results"][0]["RequestId"] = "zz"
    stored["d"]["results"][1]["Amount"] = 3.001
    (tmp_path / baseline).write_text(json.dumps(stored))
    with pytest.raises(ExpectationError) as caught:
        compare_baseline(answers["json"], baseline, base=tmp_path)
    assert str(caught.value).splitlines() == [
        "baseline fixtures/x/list.baseline.json: the response differs in 2 place(s):",
        "  $.d.results[0].RequestId: expected 'zz', got 'a1'",
        "  $.d.results[1].Amount: expected 3.001, got 3.0",
        "  (if the change is intended, rerun with --iflow-update-baselines and review the diff)",
    ]
    rules = BaselineRules(ignore=("$..RequestId",), precision=2)
    assert compare_baseline(answers["json"], baseline, rules, base=tmp_path) is None


def test_xml_baseline_round_trip(answers: dict[str, requests.Response], tmp_path: Path) -> None:
    baseline = tmp_path / "change.baseline.xml"
    compare_baseline(answers["xml"], baseline, update=True)
    assert baseline.read_text().startswith("<Answer>\n  <Status>ACCEPTED</Status>")
    baseline.write_text(baseline.read_text().replace("r-1", "r-2"))

    with pytest.raises(ExpectationError, match=r"/Answer/RequestId\[1\]: text expected 'r-2', got 'r-1'"):
        compare_baseline(answers["xml"], baseline)
    compare_baseline(answers["xml"], baseline, BaselineRules(ignore=("/Answer/RequestId",)))


def test_baseline_names_must_say_their_format(answers: dict[str, requests.Response], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"must end in \.baseline\.json or \.baseline\.xml"):
        compare_baseline(answers["json"], tmp_path / "list.baseline.txt")
