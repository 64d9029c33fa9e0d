"""Issue 18, settings and keys: a broken key, `.env` or setting is one line and exit 2, and never shows a secret.

Each case here reproduced a finding of the adversarial pass (S2, S3, C6, C7) before its fix.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from .servers import iflowtest, standing_emulator

ROOT = Path(__file__).resolve().parents[1]
SECRET = "S3cr3t-Unique-7f1e9a2b-findings"
KEY = {"oauth": {"clientid": "sb-x!b1|it-rt-x!b2", "clientsecret": SECRET, "url": "https://x", "tokenurl": "https://t"}}


def project(tmp_path: Path, pyproject_extra: str = "", dotenv: bytes | None = None) -> Path:
    text = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(text + pyproject_extra)
    (tmp_path / "suites").mkdir()
    if dotenv is not None:
        (tmp_path / ".env").write_bytes(dotenv)
    return tmp_path


def keys_env(sender: str) -> dict[str, str]:
    """A tenant target with `sender`'s key as given and a valid key for every other sample client."""
    others = {f"IFLOWTEST_CLIENT_{n}_KEY": json.dumps(KEY) for n in ("SENDER_BASIC", "SENDER_NO_DE", "MONITOR")}
    return {"IFLOWTEST_TARGET": "tenant", "IFLOWTEST_CLIENT_SENDER_KEY": sender, **others}


def one_line_exit_2(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    stderr: str = result.stderr
    assert "Traceback" not in stderr and stderr.count("\n") == 1, stderr
    assert SECRET not in stderr + result.stdout, stderr
    return stderr


def not_echoed(value: str, stderr: str) -> None:
    """No stretch of 12 characters of `value` is in `stderr`: the redactor masking the secret is not enough,
    the key's other fields (a private key, a password under another name) must not be shown either."""
    shown = [value[i : i + 12] for i in range(len(value) - 11) if value[i : i + 12] in stderr]
    assert not shown, stderr


def test_s2_a_key_with_literal_quotes_around_its_json_is_read_or_refused_without_echo(tmp_path: Path) -> None:
    root = project(tmp_path)
    quoted = "'" + json.dumps({**KEY, "oauth": {**KEY["oauth"], "url": "nope"}}) + "'"  # as docker --env-file keeps it
    result = iflowtest("run", cwd=root, env=keys_env(quoted))
    stderr = one_line_exit_2(result)
    assert "IFLOWTEST_CLIENT_SENDER_KEY" in stderr
    not_echoed(quoted, stderr)


def test_s2_a_key_that_is_neither_json_nor_a_file_is_not_echoed(tmp_path: Path) -> None:
    root = project(tmp_path)
    broken = '{"oauth": {"clientsecret": "' + SECRET + '"'[:-1]  # cut JSON without the leading brace test
    for value in (broken[1:], "x" + broken):
        result = iflowtest("run", cwd=root, env=keys_env(value))
        stderr = one_line_exit_2(result)
        assert "IFLOWTEST_CLIENT_SENDER_KEY" in stderr
        not_echoed(value, stderr)


def test_s3_a_service_key_table_in_pyproject_is_refused_without_showing_it(tmp_path: Path) -> None:
    extra = (
        "\n[tool.iflowtest.clients.extra]\nservice_key = "
        + json.dumps(KEY)
        .replace('":', '" =')
        .replace('{"oauth" = ', "{oauth = ")
        .replace('"clientid" =', "clientid =")
        .replace('"clientsecret" =', "clientsecret =")
        .replace('"url" =', "url =")
        .replace('"tokenurl" =', "tokenurl =")
        + "\n"
    )
    root = project(tmp_path, extra)
    stderr = one_line_exit_2(iflowtest("run", cwd=root))
    assert "service_key" in stderr and "table" in stderr
    shown = [value for value in KEY["oauth"].values() if value in stderr]
    assert not shown, stderr  # none of the table's fields, not only its masked secret


def test_c6_a_long_key_value_that_is_not_json_is_one_line(tmp_path: Path) -> None:
    root = project(tmp_path)
    value = "k" * 300
    result = iflowtest("run", cwd=root, env=keys_env(value))
    stderr = one_line_exit_2(result)
    assert "IFLOWTEST_CLIENT_SENDER_KEY" in stderr and value not in stderr


def test_c6_a_dotenv_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    root = project(tmp_path, dotenv=b"IFLOWTEST_READ_TIMEOUT=30\nNAME=caf\xff\n")
    stderr = one_line_exit_2(iflowtest("run", cwd=root))
    assert ".env" in stderr and "UTF-8" in stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [("IFLOWTEST_CONNECT_TIMEOUT", "nan"), ("IFLOWTEST_READ_TIMEOUT", "inf"), ("IFLOWTEST_READ_TIMEOUT", "-inf")],
)
def test_c7_timeouts_that_are_not_finite_are_refused(tmp_path: Path, variable: str, value: str) -> None:
    root = project(tmp_path)
    stderr = one_line_exit_2(iflowtest("run", cwd=root, env={variable: value}))
    assert variable in stderr


def test_an_unreadable_suite_path_is_one_line(tmp_path: Path) -> None:
    root = project(tmp_path)
    shutil.rmtree(root / "suites")
    (root / "suites").write_text("not a folder")
    result = iflowtest("run", "suites/x" * 40, cwd=root)
    assert "Traceback" not in result.stderr


def test_c4_nested_yaml_aliases_in_a_suite_are_refused_at_once(tmp_path: Path) -> None:
    root = project(tmp_path)
    lines = ["variables:", '  a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"  a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    lines += ["iflow: ReadCostCenters", "cases:", "  - name: bomb", "    request: {body: {json: *a8}}"]
    (root / "suites" / "bomb.iflow.yaml").write_text("\n".join(lines) + "\n")
    result = iflowtest("run", cwd=root, timeout=120)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "anchors and aliases expand to more than" in result.stdout + result.stderr


def test_c11_sigterm_to_the_emulator_removes_its_tls_folder(tmp_path: Path) -> None:
    root = project(tmp_path)
    with standing_emulator(root, keys=tmp_path / "keys") as emulator:
        ca_file = Path(emulator.ca_file)
        assert ca_file.exists()
        emulator.stop(signal.SIGTERM, timeout=60)
        left = sorted(p.name for p in ca_file.parent.iterdir()) if ca_file.parent.exists() else []
        assert not left, left  # the folder with the server's private key
    # (standing_emulator checks the exit code: 0 after SIGTERM too)


def test_provision_cleanup_leaves_a_running_emulators_own_clients(tmp_path: Path) -> None:
    root = project(tmp_path)
    keys = tmp_path / "keys"
    with standing_emulator(root, keys=keys) as emulator:
        emulator.write_profile("standing")
        cleaned = iflowtest("provision", "cleanup", "--older-than", "0h", "--iflow-env", "standing", cwd=root)
        assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
        oauth = json.loads((keys / "sender.json").read_text())["oauth"]
        answer = requests.post(
            oauth["tokenurl"],
            data={"grant_type": "client_credentials"},
            auth=(oauth["clientid"], oauth["clientsecret"]),
            verify=emulator.ca_file,
            timeout=30,
        )
    assert answer.status_code == 200, answer.text


def test_unclear_messages_name_the_real_problem(tmp_path: Path) -> None:
    root = project(tmp_path)
    created = iflowtest("provision", "create", "a/../../b", "--out", str(tmp_path / "k.json"), cwd=root)
    assert created.returncode == 2 and "holds '/'" in created.stderr, created.stderr


def test_cassettes_check_takes_iflow_env(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / ".env.other").write_text("IFLOWTEST_READ_TIMEOUT=30\n")
    checked = iflowtest("cassettes", "check", "--iflow-env", "other", cwd=root)
    assert "unrecognized arguments" not in checked.stderr and "Traceback" not in checked.stderr, checked.stderr
    missing = iflowtest("cassettes", "check", "--iflow-env", "nope", cwd=root)
    assert missing.returncode == 2 and ".env.nope does not exist" in missing.stderr, missing.stderr
