"""The secrets audit: record the sample suite with unique secrets, then scan everything the run wrote."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

from iflowtest.emulator.server import Emulator

from .servers import iflowtest, write_key_profile

ROOT = Path(__file__).resolve().parents[1]


def test_a_recorded_run_writes_no_secret_anywhere(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "suites", tmp_path / "suites")
    shutil.copytree(ROOT / "fixtures", tmp_path / "fixtures")
    with Emulator() as emu:
        # Fresh keys: secrets unique to this run, issued by the emulated tenant standing in for a real one.
        keys = write_key_profile(emu, tmp_path, "audit")
        result = iflowtest(
            *("run", "--record", "--iflow-env", "audit", f"--log-file={tmp_path / 'run.log'}"),
            *("--log-file-level=DEBUG", "--log-cli-level=DEBUG"),
            cwd=tmp_path,
            timeout=600,
        )
        # The tenant's side of the traffic: CSRF tokens and the session cookies they belong to.
        sessions = dict(emu.tenant.csrf._tokens)  # the emulator's own state, read for the audit only

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    secrets = {f"secret of {n}": k["oauth"].get("clientsecret") or k["oauth"]["key"] for n, k in keys.items()}
    secrets |= {f"CSRF token {i}": token for i, token in enumerate(sessions.values())}
    secrets |= {f"session cookie {i}": cookie for i, cookie in enumerate(sessions)}
    assert len(sessions) >= 1 and all(len(s) >= 16 for s in secrets.values())
    written = {p: p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".py"}
    written = {p: t for p, t in written.items() if p.name != ".env.audit" and "fixtures" not in p.parts}
    kinds = {p.suffix for p in written}
    assert {".yaml", ".html", ".xml", ".json", ".log"} <= kinds, kinds  # cassettes, reports, summary, log
    assert (tmp_path / "reports" / "history.jsonl") in written and (tmp_path / "run.log") in written
    texts = {**{str(p.relative_to(tmp_path)): t for p, t in written.items()}, "stdout": result.stdout}
    texts["stderr"] = result.stderr
    assert "Request headers were" in texts["run.log"]  # DEBUG logging of the token exchange was on, scrubbed
    hits = [(where, what) for where, text in texts.items() for what, secret in secrets.items() if secret in text]
    hits += [(where, "JWT") for where, text in texts.items() if re.search(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ", text)]
    hits += [
        (where, "bearer") for where, text in texts.items() if re.search(r"(?i)bearer [A-Za-z0-9._~+/=-]{20,}", text)
    ]
    hits += [(where, "private key") for where, text in texts.items() if "PRIVATE KEY-----" in text]
    assert hits == []


LEAKY_TESTS = """
import sys
from urllib.parse import quote

import pytest


@pytest.mark.iflow("ChangeCostCenter")
def test_prints_and_asserts_on_what_it_sent(iflow, iflow_clients, iflow_client):
    response = iflow.post(data=b"<x/>", headers={"Content-Type": "application/xml"})
    sent = dict(response.request.headers)
    print("sent:", sent)
    print("cookie:", response.request.headers.get("Cookie"), file=sys.stderr)
    basic = iflow_client("sender_basic", iflow="ReadCostCenters").get(params={"companyCode": "1010"})
    print("basic:", basic.request.headers["Authorization"])
    secret = iflow_clients.resolve("sender").key.clientsecret.reveal()
    print("secret:", secret, quote(secret, safe=""), repr(secret))
    token = sent["Authorization"].split()[1]
    print("payload:", token.split(".")[1], "signature:", token.split(".")[2])
    assert sent["Authorization"] == "nothing", f"token {token} csrf {sent.get('X-CSRF-Token')} secret {secret}"


def test_raises_with_the_secret(iflow_clients):
    raise RuntimeError("the secret is " + iflow_clients.resolve("sender_basic").key.clientsecret.reveal())


def test_skips_naming_the_secret(iflow_clients):
    pytest.skip("secret " + iflow_clients.resolve("monitor").key.clientsecret.reveal())
"""


def leaked(texts: dict[str, str], secrets: dict[str, str]) -> list[tuple[str, str]]:
    """Which secret (or credential-shaped text) appears where."""
    hits = [(where, what) for where, text in texts.items() for what, secret in secrets.items() if secret in text]
    hits += [(where, "JWT") for where, text in texts.items() if re.search(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ", text)]
    hits += [(where, "JWT segment") for where, text in texts.items() if re.search(r"eyJ[A-Za-z0-9_-]{40,}", text)]
    hits += [
        (where, "bearer") for where, text in texts.items() if re.search(r"(?i)bearer [A-Za-z0-9._~+/=-]{20,}", text)
    ]
    return hits


def secret_forms(name: str, key: dict[str, Any]) -> dict[str, str]:
    """A key's secret as it travels: clear, URL-encoded, inside a Basic header."""
    oauth = key["oauth"]
    if "clientsecret" not in oauth:
        # A certificate key: its private key is the secret; a line from the middle of the PEM marks it.
        lines = [line for line in oauth["key"].splitlines() if line and not line.startswith("-----")]
        return {f"private key of {name}": lines[len(lines) // 2]}
    basic = base64.b64encode(f"{oauth['clientid']}:{oauth['clientsecret']}".encode()).decode()
    return {
        f"clientsecret of {name}": oauth["clientsecret"],
        f"url-encoded clientsecret of {name}": quote(oauth["clientsecret"], safe=""),
        f"Basic value of {name}": basic,
    }


def test_a_test_that_prints_raises_or_skips_with_credentials_leaks_none_of_them(tmp_path: Path) -> None:
    """S1: captured output, tracebacks, assertion text and skip reasons are scrubbed in every file and the terminal."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "test_leaky.py").write_text(LEAKY_TESTS)
    with Emulator() as emu:
        keys = write_key_profile(emu, tmp_path, "audit")
        result = iflowtest("run", "--iflow-env", "audit", "-rA", cwd=tmp_path, timeout=300)
        sessions = dict(emu.tenant.csrf._tokens)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 failed" in result.stdout and "1 skipped" in result.stdout, result.stdout[-2000:]
    secrets = {what: form for name, key in keys.items() for what, form in secret_forms(name, key).items()}
    secrets |= {f"CSRF token {i}": token for i, token in enumerate(sessions.values())}
    secrets |= {f"session cookie {i}": cookie for i, cookie in enumerate(sessions)}
    written = {str(p.relative_to(tmp_path)): p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()}
    texts = {k: v for k, v in written.items() if not k.startswith((".env", "suites"))}
    texts |= {"stdout": result.stdout, "stderr": result.stderr}
    assert any(k.endswith("report.html") for k in texts) and any(k.endswith("junit.xml") for k in texts)
    assert "sent:" in texts["stdout"] and "***" in texts["stdout"]  # the output is shown, scrubbed
    assert leaked(texts, secrets) == []


def test_the_sample_live_with_two_workers_then_replayed_writes_no_secret_anywhere(tmp_path: Path) -> None:
    """Issue 18: the sample suite live with `-n 2` (secrets known only to the workers), then offline from its cassettes."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "suites", tmp_path / "suites")
    shutil.copytree(ROOT / "fixtures", tmp_path / "fixtures")
    outputs: dict[str, str] = {}
    with Emulator() as emu:
        keys = write_key_profile(emu, tmp_path, "audit")
        for name, flags in {"record": ("--record", "-n", "2"), "live": ("-n", "2")}.items():
            leaky = tmp_path / "suites" / "test_leaky.py"
            if name == "live":  # S1 with workers: tests that show secrets only the worker running them knows
                leaky.write_text(LEAKY_TESTS)
            result = iflowtest("run", *flags, "--iflow-env", "audit", "-rA", cwd=tmp_path, timeout=600)
            assert result.returncode == (1 if name == "live" else 0), result.stdout[-3000:] + result.stderr[-2000:]
            if name == "live":
                assert "2 failed" in result.stdout and "1 skipped" in result.stdout, result.stdout[-2000:]
                leaky.unlink()
            outputs |= {f"{name} stdout": result.stdout, f"{name} stderr": result.stderr}
        sessions = dict(emu.tenant.csrf._tokens)
    replayed = iflowtest("run", "--offline", "--iflow-env", "audit", "-rA", cwd=tmp_path, timeout=600)
    assert replayed.returncode == 0, replayed.stdout[-3000:] + replayed.stderr[-2000:]
    outputs |= {"offline stdout": replayed.stdout, "offline stderr": replayed.stderr}
    secrets = {what: form for name, key in keys.items() for what, form in secret_forms(name, key).items()}
    secrets |= {f"CSRF token {i}": token for i, token in enumerate(sessions.values())}
    secrets |= {f"session cookie {i}": cookie for i, cookie in enumerate(sessions)}
    written = {
        str(p.relative_to(tmp_path)): p.read_text(errors="replace")
        for p in tmp_path.rglob("*")
        if p.is_file() and p.suffix != ".py" and not p.name.startswith(".env") and "fixtures" not in p.parts
    }
    assert any(k.startswith("cassettes") for k in written) and any(k.endswith("junit.xml") for k in written)
    assert leaked({**written, **outputs}, secrets) == []
