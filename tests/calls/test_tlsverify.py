"""TLS verification: on by default, turned off only explicitly, and a run without it says so everywhere."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest
from urllib3.exceptions import InsecureRequestWarning

from iflowtest import ConfigError
from iflowtest.calls.tlsverify import silence_insecure_warnings
from iflowtest.cli import main
from iflowtest.emulator import Emulator
from iflowtest.settings import harness_verify, resolve_settings
from iflowtest.target import TargetSession
from tests.servers import IFLOWTEST, user_environ, write_key_profile

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SUITE = """
import pytest


@pytest.mark.iflow("ReadCostCenters")
def test_oauth_client(iflow):
    assert iflow.get(params={"companyCode": "1010", "$top": "1"}).status_code == 200


@pytest.mark.iflow("ReadCostCenters")
@pytest.mark.client("sender_basic")
def test_basic_client(iflow):
    assert iflow.get(params={"companyCode": "1010", "$top": "1"}).status_code == 200
"""
WARNING = (
    "iflowtest: WARNING: TLS verification is turned off ({origin}): the certificates of the tenant, token and "
    "Cloud Foundry hosts were not checked; remove the setting, or set IFLOWTEST_CA_BUNDLE to your corporate CA "
    "bundle, to verify again"
)


def project(tmp_path: Path, table: str = "") -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.iflowtest]\n' + table, encoding="utf-8")
    return tmp_path


# ---------------------------------------------------------------------------- settings
def test_verification_is_on_by_default(tmp_path: Path) -> None:
    settings = resolve_settings(project(tmp_path), environ={})

    assert settings.tls_verify is True
    assert settings.origins["tls_verify"] == "default"
    assert harness_verify(settings) is True
    assert harness_verify(settings, "/tmp/emulator-ca.pem") == "/tmp/emulator-ca.pem"


@pytest.mark.parametrize(
    ("table", "environ", "options", "origin"),
    [
        ("tls_verify = false\n", {}, {}, "[tool.iflowtest] tls_verify"),
        ("", {"IFLOWTEST_TLS_VERIFY": "false"}, {}, "IFLOWTEST_TLS_VERIFY"),
        ("", {"IFLOWTEST_TLS_VERIFY": "0"}, {}, "IFLOWTEST_TLS_VERIFY"),
        ("tls_verify = true\n", {}, {"tls_verify": False}, "--iflow-no-tls-verify"),
    ],
)
def test_turned_off_explicitly(
    tmp_path: Path, table: str, environ: dict[str, str], options: dict[str, Any], origin: str
) -> None:
    settings = resolve_settings(project(tmp_path, table), options, environ=environ)

    assert settings.tls_verify is False
    assert settings.origins["tls_verify"] == origin
    assert harness_verify(settings) is False
    assert harness_verify(settings, "/tmp/emulator-ca.pem") is False  # the emulator's CA is not used either


def test_a_ca_bundle_verifies_with_it(tmp_path: Path) -> None:
    bundle = tmp_path / "corp.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    settings = resolve_settings(project(tmp_path), environ={"IFLOWTEST_CA_BUNDLE": "corp.pem"})

    assert harness_verify(settings) == str(bundle)  # relative to the project


def test_a_bad_value_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        resolve_settings(project(tmp_path), environ={"IFLOWTEST_TLS_VERIFY": "maybe"})

    assert str(error.value) == (
        "IFLOWTEST_TLS_VERIFY = 'maybe' is not true or false: leave it unset to verify TLS certificates (the "
        "default), or set it to false to turn verification off"
    )
    with pytest.raises(ConfigError, match=r"\[tool.iflowtest\] tls_verify must be a bool, got str 'no'"):
        resolve_settings(project(tmp_path, 'tls_verify = "no"\n'), environ={})


def test_turned_off_with_a_ca_bundle_is_a_contradiction(tmp_path: Path) -> None:
    root = project(tmp_path, 'ca_bundle = "/etc/ssl/corp.pem"\n')

    with pytest.raises(ConfigError) as error:
        resolve_settings(root, environ={"IFLOWTEST_TLS_VERIFY": "false"})

    assert str(error.value) == (
        "TLS verification is turned off (IFLOWTEST_TLS_VERIFY) but a CA bundle is given ([tool.iflowtest] "
        "ca_bundle = /etc/ssl/corp.pem), which is only used to verify: remove the CA bundle to connect without "
        "verification, or turn verification back on to verify with the bundle"
    )


# ---------------------------------------------------------------------------- the command line
def test_run_refuses_a_bad_value_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project(tmp_path))
    monkeypatch.setenv("IFLOWTEST_TLS_VERIFY", "maybe")

    assert main(["run"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("iflowtest: error: IFLOWTEST_TLS_VERIFY = 'maybe' is not true or false")
    assert "Traceback" not in err


def test_run_insecure_with_a_ca_bundle_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project(tmp_path))
    monkeypatch.delenv("IFLOWTEST_TLS_VERIFY", raising=False)
    monkeypatch.setenv("IFLOWTEST_CA_BUNDLE", "/etc/ssl/corp.pem")

    assert main(["run", "--insecure"]) == 2

    assert capsys.readouterr().err.startswith(
        "iflowtest: error: TLS verification is turned off (--iflow-no-tls-verify) but a CA bundle is given "
        "(IFLOWTEST_CA_BUNDLE = /etc/ssl/corp.pem)"
    )


# ---------------------------------------------------------------------------- real HTTPS against the emulator
def documented_command() -> list[str]:
    """The README's `iflowtest run ... --insecure` line, as a user would type it."""
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    line = next(line for block in blocks for line in block.splitlines() if "--insecure" in line)
    return shlex.split(line.split("#")[0])


def tenant_project(folder: Path, emu: Emulator) -> dict[str, dict[str, Any]]:
    """The sample clients with keys of `emu` in `.env.dev`, but without its CA: a certificate no one trusts."""
    shutil.copy(ROOT / "pyproject.toml", folder / "pyproject.toml")
    (folder / "suites").mkdir()
    (folder / "suites" / "test_tls.py").write_text(SUITE)
    keys = write_key_profile(emu, folder, "dev")
    profile = folder / ".env.dev"
    profile.write_text("".join(line for line in profile.read_text().splitlines(True) if "CA_BUNDLE" not in line))
    return keys


def start(command: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [IFLOWTEST, *command[1:]],
        cwd=cwd,
        env=user_environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_untrusted_tenant_fails_clearly_and_insecure_runs_with_warnings(emulator: Emulator, tmp_path: Path) -> None:
    command = documented_command()
    assert command[:2] == ["iflowtest", "run"] and "--iflow-env" in command and command[-1] == "--insecure"
    verified, insecure = tmp_path / "verified", tmp_path / "insecure"
    verified.mkdir()
    insecure.mkdir()
    secrets = [k["oauth"]["clientsecret"] for k in tenant_project(verified, emulator).values()]
    secrets += [k["oauth"]["clientsecret"] for k in tenant_project(insecure, emulator).values()]
    # Both at once: each process spends most of its time importing.
    # The insecure run on two xdist workers: they make the calls, the controller reports.
    processes = [start(command[:-1], verified), start([*command, "-n", "2"], insecure)]
    (out_verified, err_verified), (out_insecure, err_insecure) = (p.communicate(timeout=120) for p in processes)

    # Without the flag: the emulator's certificate is not trusted and the run says why.
    assert processes[0].returncode != 0, out_verified[-3000:]
    assert re.search(
        r"token endpoint https://127\.0\.0\.1:\d+/oauth/token for client 'sender' \(\S+\) TLS verification failed "
        r"\(SSLError: .*CERTIFICATE_VERIFY_FAILED.*\): set IFLOWTEST_CA_BUNDLE to your corporate CA bundle",
        out_verified,
    ), out_verified[-3000:]
    assert "TLS verification is turned off" not in out_verified
    summary = json.loads((verified / "reports" / "latest" / "summary.json").read_text())
    assert summary["tls_verify"] is True
    assert 'id="tls-warning"' not in (verified / "reports" / "latest" / "report.html").read_text()

    # With it: the calls pass, the terminal says so once, urllib3 does not say so per call.
    assert processes[1].returncode == 0, out_insecure[-3000:] + err_insecure[-2000:]
    assert "2 passed" in out_insecure
    warning = WARNING.format(origin="--iflow-no-tls-verify")
    assert out_insecure.count(warning) == 1
    assert "InsecureRequestWarning" not in out_insecure + err_insecure
    report = (insecure / "reports" / "latest" / "report.html").read_text()
    assert '<div id="tls-warning" style="' in report
    assert '<h1 id="title">iflowtest: tenant, profile dev (TLS verification OFF)</h1>' in report
    assert warning.replace("'", "&#x27;") in report or warning in report
    assert "TLS verification" in report and "OFF (--iflow-no-tls-verify): certificates were not checked" in report
    summary = json.loads((insecure / "reports" / "latest" / "summary.json").read_text())
    assert summary["tls_verify"] is False and summary["passed"] == 2

    # And no secret anywhere.
    written = [out_verified, err_verified, out_insecure, err_insecure]
    written += [p.read_text(errors="replace") for p in tmp_path.rglob("reports/**/*") if p.is_file()]
    for secret in secrets:
        assert not any(secret in text for text in written)


def unverified_cf_environ(emulator: Emulator) -> dict[str, str]:
    """Settings that reach the emulator's CF API as a landscape user, with TLS verification turned off."""
    landscape = emulator.cloud_foundry
    return {
        "IFLOWTEST_CF_API": emulator.cf_api,
        "IFLOWTEST_CF_ORG": landscape.org_name,
        "IFLOWTEST_CF_SPACE": landscape.space_name,
        "IFLOWTEST_CF_USERNAME": landscape.username,
        "IFLOWTEST_CF_PASSWORD": landscape.password,
        "IFLOWTEST_TLS_VERIFY": "false",
    }


def test_provisioning_tokens_and_calls_skip_verification_when_off(
    fresh_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tenant target that provisions its clients through the CF API of an emulator whose CA nobody trusts.
    landscape = fresh_emulator.cloud_foundry
    monkeypatch.setenv("CF_HOME", str(tmp_path))
    environ = unverified_cf_environ(fresh_emulator)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    settings = resolve_settings(tmp_path, environ=environ)
    target = TargetSession(settings)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InsecureRequestWarning)
        try:
            target.start()
            response = target.pool.client("sender", "ReadCostCenters").get(params={"companyCode": "1010"})
            provisioned = sorted(n.split("-", 2)[2] for n in landscape.instance_names())
        finally:
            target.close()
    assert target.registry.verify is False
    assert response.status_code == 200
    # Only the clients the run used (the sender, and the 'api'-plan client that reads the deployments): the
    # others need no key.
    assert provisioned == ["monitor", "sender"]
    assert landscape.instance_names() == []  # deleted at the end, through the same unverified API
    # urllib3 warns on every unverified HTTPS request: CF API, token and iFlow calls all went out unverified.
    insecure = {str(w.message).split("'")[1] for w in caught if issubclass(w.category, InsecureRequestWarning)}
    assert insecure == {"127.0.0.1"}


def test_provision_command_warns_once_without_verification(
    fresh_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project(tmp_path))
    monkeypatch.setenv("CF_HOME", str(tmp_path))
    monkeypatch.delenv("IFLOWTEST_CA_BUNDLE", raising=False)
    for name, value in unverified_cf_environ(fresh_emulator).items():
        monkeypatch.setenv(name, value)

    with warnings.catch_warnings(record=True) as caught:
        code = main(["provision", "list"])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert out == "iflowtest: no service instances in the space\n"
    assert err == WARNING.format(origin="IFLOWTEST_TLS_VERIFY") + "\n"
    assert [w for w in caught if issubclass(w.category, InsecureRequestWarning)] == []


def test_emulator_target_without_verification(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CF_HOME", str(tmp_path))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = TargetSession(resolve_settings(tmp_path, {"target": "emulator", "tls_verify": False}, environ={}))
    undo = silence_insecure_warnings()
    try:
        target.start()  # provisions through the emulator's CF API, without its CA
        response = target.pool.client("sender", "ReadCostCenters").get(params={"companyCode": "1010"})
    finally:
        target.close()
        undo()

    assert target.registry.verify is False
    assert response.status_code == 200
