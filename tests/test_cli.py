"""The `iflowtest` command as the README documents it, run as a real process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from iflowtest import OAuthToken, ServiceKey
from iflowtest.emulator import Emulator

from .servers import iflowtest, standing_emulator, user_environ, write_key_profile

ROOT = Path(__file__).resolve().parents[1]


def test_run_against_the_emulator_writes_the_reports(project: Path) -> None:
    result = iflowtest("run", cwd=project)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    html = project / "reports" / "latest" / "report.html"
    junit = project / "reports" / "latest" / "junit.xml"
    assert f"iflowtest: report {html}" in result.stdout
    assert f"iflowtest: junit  {junit}" in result.stdout
    page = html.read_text()
    assert "iflowtest: emulator" in page
    assert "ReadCostCentersDE" in page and "MPL id" in page
    assert re.search(r'<testsuite [^>]*failures="0"', junit.read_text())


def test_run_with_a_profile_against_a_tenant_leaks_no_secret(project: Path) -> None:
    # The emulated tenant stands in for a real one: keys come from .env.<profile>, as a user configures them.
    with Emulator() as emu:
        keys = write_key_profile(emu, project, "nightly")

        result = iflowtest("run", "--iflow-env", "nightly", "--log-cli-level=DEBUG", cwd=project)
        tokens_issued = emu.counters.tokens_issued()

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    # sender, sender_no_de, sender_cert and monitor use OAuth; sender_basic sends its secret directly
    assert tokens_issued == 4
    assert "Request headers were" in result.stdout  # requests-oauthlib's DEBUG lines were logged, scrubbed
    written = [p.read_text(errors="replace") for p in (project / "reports").rglob("*") if p.is_file()]
    written += [result.stdout, result.stderr]
    secrets = [
        k["oauth"].get("clientsecret") or k["oauth"]["key"] for k in keys.values()
    ]  # a certificate key's is its key
    for text in written:
        for secret in secrets:
            assert secret not in text
        assert not re.search(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ", text), "a JWT reached the reports"
    page = (project / "reports" / "latest" / "report.html").read_text()
    assert "iflowtest: tenant, profile nightly" in page


def test_bad_profile_is_one_line_and_exit_2(project: Path) -> None:
    result = iflowtest("run", "--iflow-env", "nope", cwd=project)

    assert result.returncode == 2
    assert result.stderr == (
        f"iflowtest: error: profile 'nope' was requested but {project / '.env.nope'} does not exist: "
        "copy .env.example to .env.nope and fill in its values\n"
    )


def test_broken_key_in_profile_names_the_variable_and_field(project: Path) -> None:
    keys = project / "fixtures" / "servicekeys"
    (project / ".env.dev").write_text(
        'IFLOWTEST_CLIENT_SENDER_KEY=\'{"oauth": {"clientid": "x"}}\'\n'
        f"IFLOWTEST_CLIENT_SENDER_BASIC_KEY={keys / 'FAKE-integration-flow-key.json'}\n"
        f"IFLOWTEST_CLIENT_SENDER_NO_DE_KEY={keys / 'FAKE-integration-flow-key.json'}\n"
        f"IFLOWTEST_CLIENT_SENDER_CERT_KEY={keys / 'FAKE-integration-flow-key.json'}\n"
        f"IFLOWTEST_CLIENT_MONITOR_KEY={keys / 'FAKE-api-key.json'}\n"
    )

    result = iflowtest("run", "--iflow-env", "dev", cwd=project)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "service key from IFLOWTEST_CLIENT_SENDER_KEY: field 'oauth.url' is missing" in result.stderr


def test_bad_options_are_exit_2(project: Path) -> None:
    bad_target = iflowtest("run", "--iflow-target", "cloud", cwd=project)
    unknown = iflowtest("run", "--no-such-option", cwd=project)

    assert bad_target.returncode == 2
    assert (
        bad_target.stderr == "iflowtest: error: target 'cloud' (--iflow-target) is not one of: emulator, tenant, auto\n"
    )
    assert unknown.returncode == 2
    assert "unrecognized arguments: --no-such-option" in unknown.stderr


def test_help_and_version(project: Path) -> None:
    assert iflowtest("run", "--help", cwd=project).returncode == 0
    version = iflowtest("--version", cwd=project)
    assert version.returncode == 0 and version.stdout.startswith("iflowtest ")
    assert iflowtest(cwd=project).returncode == 2


def test_emulator_command_serves_and_writes_keys(project: Path) -> None:
    keys = project / "keys"
    with standing_emulator(project, keys=keys) as emulator:
        key = ServiceKey.from_file(keys / "sender.json")
        assert OAuthToken(key, "sender", verify=emulator.ca_file).get()
        assert f"key of client 'sender_no_de' (ESBMessaging.send) -> {keys / 'sender_no_de.json'}" in emulator.output


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_emulator_command_names_its_mode_and_hosts(project: Path, mode: str) -> None:
    # Strict (the default) names three hosts, as real keys do; lenient serves all on one.
    with standing_emulator(project, *(["--mode", mode] if mode == "lenient" else [])) as emulator:
        output, runtime = emulator.output, emulator.shown("runtime")
        key = json.loads((project / "keys" / "sender.json").read_text())["oauth"]
    assert f"iflowtest emulator: mode      {mode}\n" in output
    assert key["url"] == runtime
    assert ("iflowtest emulator: api       " in output) == (mode == "strict")
    assert key["tokenurl"].startswith(runtime) == (mode == "lenient")


def test_emulator_refuses_a_non_loopback_host(project: Path) -> None:
    result = iflowtest("emulator", "--host", "0.0.0.0", cwd=project)
    assert result.returncode == 2
    assert "is not a loopback address" in result.stderr


def test_a_suite_file_that_does_not_import_is_exit_2_not_an_interruption(project: Path) -> None:
    (project / "suites" / "costcenters" / "test_broken.py").write_text("def test_x(:\n")

    result = iflowtest("run", "suites/costcenters/test_broken.py", cwd=project)

    assert result.returncode == 2, result.stdout[-2000:]
    assert "SyntaxError" in result.stdout


def test_junitxml_and_html_given_to_run_get_the_published_files(project: Path) -> None:
    result = iflowtest(
        "run",
        "suites/costcenters/test_failing_flow.py",
        "--junitxml",
        "ci/junit.xml",
        "--html=ci/page.html",
        cwd=project,
    )

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    latest = project / "reports" / "latest"
    assert f"iflowtest: copy   {project / 'ci' / 'page.html'}\n" in result.stdout
    assert f"iflowtest: copy   {project / 'ci' / 'junit.xml'}\n" in result.stdout
    assert (project / "ci" / "junit.xml").read_bytes() == (latest / "junit.xml").read_bytes()
    assert (project / "ci" / "page.html").read_bytes() == (latest / "report.html").read_bytes()
    assert (project / "ci" / "summary.json").read_bytes() == (latest / "summary.json").read_bytes()
    assert 'classname="costcenters/FailingFlow"' in (project / "ci" / "junit.xml").read_text()


def test_plain_pytest_with_iflow_reports_leaves_what_iflowtest_run_leaves(project: Path) -> None:
    suite = "suites/costcenters/test_failing_flow.py"
    command = [sys.executable, "-m", "pytest", suite, "--iflow-reports=plain", "-p", "no:cacheprovider"]
    plain = subprocess.run(command, cwd=project, env=user_environ(), capture_output=True, text=True, check=False)
    run = iflowtest("run", suite, cwd=project)

    assert plain.returncode == run.returncode == 0, plain.stdout[-2000:] + plain.stderr[-2000:]
    for reports in (project / "plain", project / "reports"):
        folders = [p for p in reports.iterdir() if p.name[:8].isdigit()]
        assert len(folders) == 1 and os.readlink(reports / "latest") == folders[0].name
        assert sorted(os.listdir(reports / "latest")) == ["junit.xml", "report.html", "summary.json"]
        assert len((reports / "history.jsonl").read_text().splitlines()) == 1
        assert 'classname="costcenters/FailingFlow"' in (reports / "latest" / "junit.xml").read_text()
    summaries = [
        json.loads((r / "latest" / "summary.json").read_text()) for r in (project / "plain", project / "reports")
    ]
    keep = ("tests", "passed", "failed", "target", "profile", "mode", "tls_verify")
    assert {k: summaries[0][k] for k in keep} == {k: summaries[1][k] for k in keep}
    assert [r["iflow"] for r in summaries[0]["iflows"]] == [r["iflow"] for r in summaries[1]["iflows"]]
