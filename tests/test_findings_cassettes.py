"""Issue 18, cassettes and names (S4, S5, D3, C11): what is recorded holds no secret, names never collide or overflow."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import yaml
from werkzeug.wrappers import Request, Response

from .servers import hostile_tenant, iflowtest

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "pw-Unique-5e7b2c91d0"
LIST = {"query": {"companyCode": "1010", "$top": "1"}}


def test_names_from_cases_and_tables_make_distinct_short_secret_free_cassettes(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "suites").mkdir()
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "users.csv").write_text(f"company,password\n1010,{PASSWORD}\n1710,{PASSWORD}x\n")
    long_name = "a case whose name goes on " + "and on " * 40
    cases = [
        {"name": "read a/b", "request": LIST, "expect": {"status": 200}},
        {"name": "read a:b", "request": {"query": {"companyCode": "1710", "$top": "1"}}, "expect": {"status": 200}},
        {"name": long_name, "request": LIST, "expect": {"status": 200}},
        {
            "name": "with a password column",
            "table": "fixtures/users.csv",
            "request": {"query": {"companyCode": "${company}"}},
            "expect": {"status": 200},
        },
    ]
    suite = {"iflow": "ReadCostCenters", "client": "sender", "cases": cases}
    (tmp_path / "suites" / "names.iflow.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))

    recorded = iflowtest("run", "--record", "-rA", cwd=tmp_path, timeout=300)
    cassettes = sorted((tmp_path / "cassettes").rglob("*.yaml"))
    names = [p.name for p in cassettes if "_handshakes" not in p.parts]
    replayed = iflowtest("run", "--offline", "-rA", cwd=tmp_path, timeout=300)
    checked = iflowtest("cassettes", "check", cwd=tmp_path, timeout=300)
    written = [str(p.relative_to(tmp_path)) + p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()]
    written = [w for w in written if not w.startswith("fixtures")]
    outputs = [recorded.stdout, recorded.stderr, replayed.stdout, replayed.stderr, checked.stdout]

    # Each finding on its own line, so that one (say C11 stopping the recording) cannot hide another.
    suite_id = "suites/names.iflow.yaml::"
    findings = {
        "C11: the long-named case records": f"PASSED {suite_id}{long_name[:40]}" in recorded.stdout,
        "C11: no cassette name over 160 bytes": all(len(n.encode()) <= 160 for n in names),
        "D3: 'read a/b' replays offline": f"PASSED {suite_id}read a/b" in replayed.stdout,
        "D3: 'read a:b' replays offline": f"PASSED {suite_id}read a:b" in replayed.stdout,
        "D3: five cassettes (a/b and a:b apart, one per table row)": len(names) == 5,
        "S5: the password column reaches no id, file name or output": not any(PASSWORD in w for w in written + outputs),
        "the recording, the replay and `cassettes check` pass": (
            (recorded.returncode, replayed.returncode, checked.returncode) == (0, 0, 0)
        ),
    }
    failed = [finding for finding, holds in findings.items() if not holds]
    shown = [w[:120] for w in written + outputs if PASSWORD in w]
    assert failed == [], (
        f"{failed}\n{names}\n{shown}\n{recorded.stdout[-3000:]}{replayed.stdout[-3000:]}{checked.stdout}"
    )


def echo(request: Request) -> Response:
    """A receiver that echoes what it was sent: the credentials in a header, the body, and a binary body."""
    sent = request.headers.get("Authorization", "")
    if request.path == "/http/binary":
        return Response(b"\xff\xfe" + sent.encode() + b"\x00", content_type="application/octet-stream")
    return Response(
        json.dumps({"you sent": sent, "headers": dict(request.headers)}),
        content_type="application/json",
        headers={"X-Echo": sent},
    )


def test_s4_echoed_credentials_are_not_recorded_and_check_finds_hidden_ones(tmp_path: Path) -> None:
    cases = [
        {"name": "echo", "request": {"path": "/http/echo"}, "expect": {"status": 200}},
        {"name": "binary echo", "request": {"path": "/http/binary"}, "expect": {"status": 200}},
    ]
    with hostile_tenant(echo, tmp_path) as env:
        suite = {"iflow": "Hostile", "client": "sender", "cases": cases}
        (tmp_path / "suites" / "echo.iflow.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
        secret, token = env.pop("HOSTILE_SECRET"), env.pop("HOSTILE_TOKEN")
        result = iflowtest("run", "--record", cwd=tmp_path, env=env, timeout=300)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        texts = {p: p.read_text(errors="replace") for p in (tmp_path / "cassettes").rglob("*.yaml")}
        assert texts
        decoded = {p: base64.b64decode(b).decode("latin-1") for p, t in texts.items() for b in _binaries(t)}
        for form in (secret, token, *token.split(".")[1:]):
            assert [str(p) for p, t in {**texts, **decoded}.items() if form in t] == []

        # A cassette recorded by an older version, with a token hidden in a binary body: `check` finds it.
        name = next(p for p in texts if p.name.startswith("binary echo"))
        hidden = base64.b64encode(b"\xff\xfeBearer " + token.encode() + b"\x00").decode()
        name.write_text(texts[name] + f"hidden: !!binary |\n  {hidden}\n")
        checked = iflowtest("cassettes", "check", cwd=tmp_path, env=env, timeout=300)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "looks like it holds a bearer token (in a binary body)" in checked.stdout


def _binaries(text: str) -> list[str]:
    blocks, lines = [], text.splitlines()
    for index, line in enumerate(lines):
        if line.rstrip().endswith("!!binary |"):
            block = []
            for following in lines[index + 1 :]:
                if not following.startswith(" " * (len(line) - len(line.lstrip()) + 1)):
                    break
                block.append(following.strip())
            blocks.append("".join(block))
    return blocks
