"""Issue 18, answers a remote side controls (C2, C3, C5, C9, S4): a hostile tenant on loopback, real HTTP.

Each answer once crashed, hung or exhausted the run; now each case fails alone, in one readable line, and
the rest of the session runs.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
import yaml
from werkzeug.wrappers import Request, Response

from .servers import hostile_tenant, iflowtest

DEPTH = 100_000


def gzip_bomb(size: int) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as stream:
        block = b"\0" * (1024 * 1024)
        for _ in range(size // len(block)):
            stream.write(block)
    return buffer.getvalue()


BOMB = gzip_bomb(1024 * 1024 * 1024)  # 1 GiB of zeros, about 1 MB on the wire


def answers(request: Request) -> Response:
    if request.path == "/http/deep":
        return Response("[" * DEPTH + "]" * DEPTH, content_type="application/json")
    if request.path == "/http/bomb":
        return Response(BOMB, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    if request.path == "/http/aaa":
        return Response("a" * 40 + "!", content_type="text/plain")
    if request.path == "/http/entities":
        body = (
            '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>' + "&e;&u;" * 2000 + "</r>"
        )
        return Response(body, content_type="application/xml")
    if request.path == "/http/declared":  # parses: its entities are declared, and never resolved
        body = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>' + "&e;" * 2000 + "</r>"
        return Response(body, content_type="application/xml")
    return Response(json.dumps({"ok": True}), content_type="application/json")


def write_xsd(project: Path) -> None:
    """fixtures/r.xsd: one element `r` holding text."""
    (project / "fixtures").mkdir()
    (project / "fixtures" / "r.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="r" type="xs:string"/></xs:schema>'
    )


def suite(cases: list[dict[str, object]]) -> str:
    return yaml.safe_dump({"iflow": "Hostile", "client": "sender", "cases": cases}, sort_keys=False)


# One run per finding, each with a well-behaved case after it: a finding that stops the session (C2's
# INTERNALERROR) or hangs it (C5) cannot hide another.
HOSTILE = {
    "C2 deep json": (
        [
            {"name": "deep json", "request": {"path": "/http/deep"}, "expect": {"json": {"$[0]": {"count": 1}}}},
            {"name": "deep json in the failure view", "request": {"path": "/http/deep"}, "expect": {"status": 201}},
        ],
        ["nests deeper than"],
    ),
    "C3 gzip bomb": (
        [{"name": "gzip bomb", "request": {"path": "/http/bomb"}, "expect": {"status": 200}}],
        ["larger than", "once decompressed"],
    ),
    "C5 catastrophic regex": (
        [{"name": "catastrophic regex", "request": {"path": "/http/aaa"}, "expect": {"text": {"regex": "(a+)+$"}}}],
        ["text: expected to match /(a+)+$/, got 'aaaa"],  # answered at once: RE2 does not backtrack
    ),
    "C9 undefined entities": (
        [{"name": "entities", "request": {"path": "/http/entities"}, "expect": {"xsd": "fixtures/r.xsd"}}],
        ["body: expected XML, got application/xml that does not parse (Entity 'u' not defined"],
    ),
}


@pytest.mark.parametrize("finding", list(HOSTILE))
def test_hostile_answers_fail_their_case_alone_and_readably(tmp_path: Path, finding: str) -> None:
    hostile, expected = HOSTILE[finding]
    cases = [*hostile, {"name": "after it", "request": {"path": "/http/fine"}, "expect": {"status": 200}}]
    with hostile_tenant(answers, tmp_path) as env:
        write_xsd(tmp_path)
        (tmp_path / "suites" / "hostile.iflow.yaml").write_text(suite(cases))
        result = iflowtest("run", "-rA", cwd=tmp_path, env=env, timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out[-4000:]
    assert f"{len(hostile)} failed, 1 passed" in result.stdout, out[-4000:]
    assert "INTERNALERROR" not in out and "RecursionError" not in out and "MemoryError" not in out, out[-4000:]
    assert "Traceback" not in out, out[-4000:]
    for line in expected:
        assert line in out, out[-4000:]
    assert len(out) < 200_000, len(out)  # no 37 KB lxml traceback, no 100,000 brackets shown


MARKUP = "<img src=x onerror=alert(1)></script><script>alert(2)</script>"
CONTROLS = "\x1b[2J\x1b]0;pwned\x07\rPASSED"


def markup_and_controls(_request: Request) -> Response:
    return Response(json.dumps({"msg": MARKUP + CONTROLS}), content_type="application/json", headers={"X-Evil": MARKUP})


def test_markup_and_terminal_controls_in_answers_are_shown_not_obeyed(tmp_path: Path) -> None:
    """An answer (or a case name) with HTML and terminal escape sequences: the report shows them as text, and the
    terminal gets them as visible escapes, never a cleared screen, a new window title or an overwritten line."""
    cases: list[dict[str, object]] = [
        {"name": MARKUP[:30], "request": {"path": "/http/x"}, "expect": {"status": 201, "json": {"$.msg": "x"}}}
    ]
    test = (
        "import pytest\n\n@pytest.mark.iflow('Hostile')\ndef test_prints_it(iflow):\n"
        "    answer = iflow.get('/http/x').json()['msg']\n    print(answer)\n    assert answer == 'x'\n"
    )
    with hostile_tenant(markup_and_controls, tmp_path) as env:
        (tmp_path / "suites" / "hostile.iflow.yaml").write_text(suite(cases))
        (tmp_path / "suites" / "test_prints.py").write_text(test)
        result = iflowtest("run", "-rA", cwd=tmp_path, env=env, timeout=240)
    out = result.stdout + result.stderr
    assert "2 failed" in result.stdout, out[-3000:]
    assert "\x1b" not in out and "\x07" not in out and "\rPASSED" not in out, out[-3000:]
    assert "\\x1b[2J" in out  # shown, as an escape
    report = next((tmp_path / "reports").glob("*/report.html")).read_text(encoding="utf-8")
    assert "<img src=x" not in report and "<script>alert" not in report
    assert "img src=x" in report  # the text is there, escaped


def test_c9_an_xsd_check_on_unresolved_entities_fails_its_case_in_one_line(tmp_path: Path) -> None:
    """C9 alone: entities in the answer fail the `xsd:` check in one line, with no 37 KB lxml traceback.

    Declared ones parse (they are never resolved) and then stop libxml2's validator; undefined ones do not parse.
    """
    cases: list[dict[str, object]] = [
        {"name": "declared entities", "request": {"path": "/http/declared"}, "expect": {"xsd": "fixtures/r.xsd"}},
        {"name": "undefined entities", "request": {"path": "/http/entities"}, "expect": {"xsd": "fixtures/r.xsd"}},
        {"name": "after them", "request": {"path": "/http/fine"}, "expect": {"status": 200}},
    ]
    with hostile_tenant(answers, tmp_path) as env:
        write_xsd(tmp_path)
        (tmp_path / "suites" / "entities.iflow.yaml").write_text(suite(cases))
        result = iflowtest("run", "-rA", "-p", "no:randomly", cwd=tmp_path, env=env, timeout=240)
    out = result.stdout + result.stderr
    assert result.returncode == 1 and "2 failed, 1 passed" in result.stdout, out[-4000:]
    assert "Traceback" not in out and "lxml.etree" not in out and "XMLSchemaValidateError" not in out, out[-4000:]
    assert (
        "xsd fixtures/r.xsd: the answer cannot be validated: it uses entities declared in its DOCTYPE, which are "
        "never resolved (no file or network is read for an answer)"
    ) in out
    assert "body: expected XML, got application/xml that does not parse (Entity 'u' not defined" in out
    assert len(out) < 30_000, len(out)  # no 37 KB traceback (the two answers are shown cut short)
