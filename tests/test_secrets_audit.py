"""The secrets audit: record the sample suite with unique secrets, then scan everything the run wrote."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

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
