"""Recording and replaying the sample suite: no secret on disk, portable hosts, offline runs, clear misses."""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from iflowtest.plugin import TARGET_SESSION_KEY as TARGET_KEY
from iflowtest.target import TargetSession
from tests.servers import iflowtest

ROOT = Path(__file__).resolve().parents[2]
READ_TEST = "suites/costcenters/test_read_costcenters.py::test_unknown_company_code_gives_an_empty_list"
READ_CASSETTE = "cassettes/costcenters/test_read_costcenters/test_unknown_company_code_gives_an_empty_list.yaml"


class TargetSpy:
    """Keeps the run's TargetSession so the test can look at what was started."""

    target: TargetSession | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.target = session.config.stash[TARGET_KEY]


class TrafficSpy:
    """Every token, CSRF token and cookie value the tenant hands out during a recording run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.values: set[str] = set()
        send = requests.Session.send

        def spying_send(session: requests.Session, request: Any, **kwargs: Any) -> requests.Response:
            response = send(session, request, **kwargs)
            if response.url.endswith("/oauth/token") and response.status_code == 200:
                self.values.add(response.json()["access_token"])
            csrf = response.headers.get("X-CSRF-Token", "")
            if csrf.lower() not in ("", "required", "fetch"):
                self.values.add(csrf)
            self.values.update(cookie.value for cookie in response.cookies if cookie.value)
            return response

        monkeypatch.setattr(requests.Session, "send", spying_send)


def sample_project(pytester: pytest.Pytester, *, cassettes: bool = False) -> Path:
    shutil.copy(ROOT / "pyproject.toml", pytester.path / "pyproject.toml")
    shutil.copytree(ROOT / "suites", pytester.path / "suites")
    shutil.copytree(ROOT / "fixtures", pytester.path / "fixtures")
    if cassettes:
        shutil.copytree(ROOT / "cassettes", pytester.path / "cassettes")
    return pytester.path


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, TargetSession]:
    spy = TargetSpy()
    result = pytester.runpytest_inprocess(*args, "-p", "no:randomly", plugins=[spy])
    assert spy.target is not None
    return result, spy.target


def cassette_texts(folder: Path) -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in folder.rglob("*.yaml")}


def test_recording_the_sample_suite_leaves_no_secret_in_any_cassette(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample_project(pytester)
    traffic = TrafficSpy(monkeypatch)

    result, target = run(pytester, "suites", "--iflow-record")

    outcomes = result.parseoutcomes()
    assert outcomes["passed"] >= 30 and "failed" not in outcomes and "errors" not in outcomes
    secrets = {client.clientsecret for client in target.emulator.tenant.clients.all()} | traffic.values
    assert len(traffic.values) >= 5  # two access tokens, a CSRF token and three cookies at least
    texts = cassette_texts(pytester.path / "cassettes")
    handshakes = [p for p in texts if p.parent.name == "_handshakes"]
    assert len(texts) - len(handshakes) == outcomes["passed"]  # one cassette per test
    assert {p.name for p in handshakes} >= {"token-sender.yaml", "csrf-http-costcenters-changerequest.yaml"}
    leaks = [(path.name, secret[:6]) for path, text in texts.items() for secret in secrets if secret in text]
    assert leaks == []
    everything = "\n".join(texts.values())
    assert not re.search(r"eyJ[A-Za-z0-9_-]+\.eyJ", everything)
    assert not re.search(r"(?i)bearer [A-Za-z0-9._~+/=-]{20,}", everything)
    assert "127.0.0.1" not in everything
    assert "Bearer {access_token}" in everything and "JSESSIONID={cookie}" in everything


def test_a_cassette_recorded_on_one_emulator_port_replays_against_another(pytester: pytest.Pytester) -> None:
    sample_project(pytester)
    recorded, first = run(pytester, "suites/costcenters/test_change_costcenter.py", "--iflow-record")
    recorded.assert_outcomes(passed=2)

    replayed, second = run(pytester, "suites/costcenters/test_change_costcenter.py", "--record-mode", "none")

    replayed.assert_outcomes(passed=2)
    assert first.emulator.url != second.emulator.url
    assert second.emulator.counters.token_requests() == 0  # nothing reached the second tenant
    assert second.emulator.counters.calls() == 0


def test_any_subset_and_order_replays_because_handshakes_are_shared(pytester: pytest.Pytester) -> None:
    sample_project(pytester, cassettes=True)

    # The second test's cassette was recorded with the CSRF token the first one fetched; run it first.
    reversed_order, target = run(
        pytester,
        "suites/costcenters/test_change_costcenter.py::test_invalid_change_is_rejected_with_the_field_named",
        "suites/costcenters/test_change_costcenter.py::test_change_request_is_accepted",
        "suites/costcenters/test_read_costcenters_de.py",
        "--iflow-offline",
    )

    reversed_order.assert_outcomes(passed=7)
    assert target.emulator is None


def test_repeated_token_requests_and_csrf_handshakes_replay(pytester: pytest.Pytester) -> None:
    sample_project(pytester)
    pytester.makepyfile(
        **{
            "suites/test_repeats": """
            import pytest

            BODY = b"<CostCenterChangeRequest><ControllingArea>A000</ControllingArea><CostCenter>10101101</CostCenter><ValidFrom>2026-01-01</ValidFrom><Changes><Field name='CostCtrResponsiblePersonName'>X</Field></Changes></CostCenterChangeRequest>"

            @pytest.mark.iflow("ChangeCostCenter")
            def test_repeats(iflow, iflow_clients, iflow_target):
                token = iflow_clients.resolve("sender").token
                for _ in range(3):
                    token.invalidate(token.get())  # three token requests in one test
                for _ in range(3):
                    if iflow_target.emulator is not None:
                        iflow_target.emulator.invalidate_csrf_tokens()  # forces 403 Required and a new fetch
                    response = iflow.post(data=BODY, headers={"Content-Type": "application/xml"})
                    assert response.status_code == 200, response.text
            """
        }
    )
    recorded, first = run(pytester, "suites/test_repeats.py", "--iflow-record")
    recorded.assert_outcomes(passed=1)
    assert first.emulator.counters.csrf_fetches() == 3

    replayed, _ = run(pytester, "suites/test_repeats.py", "--iflow-offline")

    replayed.assert_outcomes(passed=1)


def test_a_broken_interaction_names_cassette_request_near_misses_and_command(pytester: pytest.Pytester) -> None:
    sample_project(pytester, cassettes=True)
    cassette = pytester.path / READ_CASSETTE
    cassette.write_text(cassette.read_text().replace("companyCode=9999", "companyCode=9998"))

    result, _ = run(pytester, READ_TEST, "--iflow-offline")

    result.assert_outcomes(failed=1)
    lines = result.stdout.lines
    assert (
        "iflowtest: no recorded answer for GET {runtime}/http/costcenters?companyCode=9999 in cassette "
        f"{READ_CASSETTE} (record mode 'none')"
    ) in lines
    assert "closest recorded requests:" in lines
    assert (
        "  GET {runtime}/http/costcenters?companyCode=9998: query parameter companyCode is '9999', recorded '9998'"
    ) in lines
    assert f"record it with: iflowtest run --record {READ_TEST}" in lines
    assert "Traceback" not in result.stdout.str() and "vcr/stubs" not in result.stdout.str()


YAML_CASE = "suites/costcenters/costcenters.iflow.yaml::unknown company code gives an empty list"
YAML_CASSETTE = "cassettes/costcenters/costcenters.iflow/unknown company code gives an empty list.yaml"


def test_a_yaml_case_replays_its_own_cassette(pytester: pytest.Pytester) -> None:
    sample_project(pytester, cassettes=True)

    result, target = run(pytester, YAML_CASE, "--iflow-offline")

    result.assert_outcomes(passed=1)
    assert target.emulator is None


def test_a_broken_yaml_case_interaction_names_its_cassette_and_command(pytester: pytest.Pytester) -> None:
    sample_project(pytester, cassettes=True)
    cassette = pytester.path / YAML_CASSETTE
    cassette.write_text(cassette.read_text().replace("companyCode=9999", "companyCode=9998"))

    result, _ = run(pytester, YAML_CASE, "--iflow-offline")

    result.assert_outcomes(failed=1)
    lines = result.stdout.lines
    assert (
        "iflowtest: no recorded answer for GET {runtime}/http/costcenters?companyCode=9999 in cassette "
        f"{YAML_CASSETTE} (record mode 'none')"
    ) in lines
    assert (
        "  GET {runtime}/http/costcenters?companyCode=9998: query parameter companyCode is '9999', recorded '9998'"
    ) in lines
    assert f"record it with: iflowtest run --record '{YAML_CASE}'" in lines
    assert "Traceback" not in result.stdout.str() and "vcr/stubs" not in result.stdout.str()


def test_recording_a_yaml_case_rewrites_only_its_cassette(pytester: pytest.Pytester) -> None:
    sample_project(pytester, cassettes=True)
    before = cassette_texts(pytester.path / "cassettes")
    cassette = pytester.path / YAML_CASSETTE
    cassette.unlink()

    # The command a replay miss prints (quoted there, one argument here).
    result = iflowtest("run", "--record", YAML_CASE, cwd=pytester.path)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "iflowtest: 1 tests, 1 passed, 0 failed, 0 skipped;" in result.stdout
    after = cassette_texts(pytester.path / "cassettes")
    changed = {path for path in after if after[path] != before.get(path) and "_handshakes" not in path.parts}
    assert changed == {cassette}  # handshakes (the token the case used) are rewritten too, as for Python tests
    assert "companyCode=9999" in after[cassette] and "{access_token}" in after[cassette]


def test_a_missing_cassette_says_so_and_how_to_record_it(pytester: pytest.Pytester) -> None:
    sample_project(pytester, cassettes=True)
    (pytester.path / READ_CASSETTE).unlink()

    result, _ = run(pytester, READ_TEST, "--iflow-offline")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"iflowtest: cassette {READ_CASSETTE} does not exist, so GET "
            "{runtime}/http/costcenters?companyCode=9999 has no recorded answer (record mode 'none')",
            f"record it with: iflowtest run --record {READ_TEST}",
        ]
    )


def test_a_missing_handshake_names_the_store_file(pytester: pytest.Pytester) -> None:
    sample_project(pytester, cassettes=True)
    (pytester.path / "cassettes/_handshakes/token-sender.yaml").unlink()

    result, _ = run(pytester, READ_TEST, "--iflow-offline")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "iflowtest: no recorded token answer of client 'sender' for POST {tokenurl}: "
            "cassettes/_handshakes/token-sender.yaml does not exist (handshakes are shared by all cassettes); "
            f"record it with: iflowtest run --record {READ_TEST}"
        ]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--record", "--offline"], "--record and --offline exclude each other"),
        (["--offline", "--record-mode", "once"], "--offline sets the record mode itself (none); drop --record-mode"),
    ],
)
def test_conflicting_modes_are_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "suites", tmp_path / "suites")
    shutil.copytree(ROOT / "fixtures", tmp_path / "fixtures")

    result = iflowtest("run", *args, cwd=tmp_path)

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_iflowtest_run_offline_passes_in_a_fresh_clone(tmp_path: Path) -> None:
    # What a clone holds: the committed files only (so an uncommitted cassette makes this fail).
    listed = subprocess.run(
        ["git", "ls-files", "pyproject.toml", "suites", "fixtures", "cassettes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout: no committed files to clone")
    for name in listed.stdout.splitlines():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)

    result = iflowtest("run", "--offline", cwd=tmp_path)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    # Every test passes from its cassette, Python tests and YAML cases alike: nothing is skipped.
    assert re.search(r"=+ \d+ passed in ", result.stdout), result.stdout[-2000:]
    junit = (tmp_path / "reports/latest/junit.xml").read_text()
    assert "<skipped" not in junit
    assert 'name="unknown company code gives an empty list"' in junit
    assert "offline: answers replayed from cassettes" in (tmp_path / "reports/latest/report.html").read_text()

    cassette = tmp_path / "cassettes/costcenters/test_failing_flow/test_failure_carries_the_mpl_id.yaml"
    committed = cassette.read_text()
    cassette.write_text(committed.replace("code: 500", "code: 599"))
    recorded = iflowtest("run", "--record", "suites/costcenters/test_failing_flow.py", cwd=tmp_path)
    assert recorded.returncode == 0, recorded.stdout[-3000:] + recorded.stderr[-2000:]
    # Rewritten, and as committed but for the recording date: ids and times are stand-ins.
    assert without_date(cassette.read_text()) == without_date(committed)
    assert cassette.read_text() != committed.replace("code: 500", "code: 599")


def without_date(text: str) -> str:
    return re.sub(r"(?m)^  recorded_at: .*$", "", text)


def test_recording_twice_without_a_change_gives_identical_cassettes(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "suites", "fixtures"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, tmp_path / name)

    first = iflowtest("run", "--record", cwd=tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    recorded = {path: path.read_bytes() for path in (tmp_path / "cassettes").rglob("*.yaml")}
    # Again, in two workers: other tests first in each process, other connections, new ids and times.
    second = iflowtest("run", "--record", "-n", "2", cwd=tmp_path)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-2000:]
    again = {path: path.read_bytes() for path in (tmp_path / "cassettes").rglob("*.yaml")}

    assert len(recorded) > 50
    changed = sorted(
        str(p.relative_to(tmp_path)) for p in recorded.keys() | again.keys() if recorded.get(p) != again.get(p)
    )
    first_change = next(iter(changed), None)
    diff = (
        "".join(
            difflib.unified_diff(
                recorded.get(tmp_path / first_change, b"").decode().splitlines(keepends=True),
                again.get(tmp_path / first_change, b"").decode().splitlines(keepends=True),
            )
        )
        if first_change
        else ""
    )
    assert changed == [], diff[:4000]
    offline = iflowtest("run", "--offline", cwd=tmp_path)
    assert offline.returncode == 0, offline.stdout[-3000:] + offline.stderr[-2000:]


def test_offline_blocks_the_network_and_skips_emulator_tests(pytester: pytest.Pytester) -> None:
    sample_project(pytester, cassettes=True)
    pytester.makepyfile(
        **{
            "suites/test_network": """
            import socket

            import pytest

            def test_no_socket_reaches_anything():
                with pytest.raises(RuntimeError, match="Network is disabled for host '127.0.0.1'"):
                    socket.create_connection(("127.0.0.1", 9), timeout=1)

            def test_needs_the_emulator(iflow_emulator):
                pass
            """
        }
    )

    result, _ = run(pytester, "suites/test_network.py", "--iflow-offline", "-rs")

    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*needs the emulated tenant (offline replay)*"])


def test_a_failed_token_request_stays_in_the_tests_own_cassette(pytester: pytest.Pytester) -> None:
    sample_project(pytester)
    pytester.makepyfile(
        **{
            "suites/costcenters/test_a_revoked": """
            import pytest

            from iflowtest import ClientRejectedError

            def test_revoked_client_is_rejected(iflow_clients, iflow_target):
                client = iflow_clients.resolve("sender_no_de")
                if iflow_target.emulator is not None:
                    iflow_target.emulator.revoke_client(client.key.clientid)
                with pytest.raises(ClientRejectedError, match="was rejected by"):
                    client.token.get()
            """
        }
    )
    good, _ = run(pytester, "suites/costcenters/test_read_costcenters_de.py", "--iflow-record")
    revoked, _ = run(pytester, "suites/costcenters/test_a_revoked.py", "--iflow-record")
    good.assert_outcomes(passed=5)
    revoked.assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes/costcenters/test_a_revoked/test_revoked_client_is_rejected.yaml"
    assert "uri: '{tokenurl}'" in cassette.read_text() and "code: 401" in cassette.read_text()

    # The revoked test runs first (file order): its 401 comes from its cassette, the good token from the store.
    replayed, _ = run(
        pytester,
        "suites/costcenters/test_a_revoked.py",
        "suites/costcenters/test_read_costcenters_de.py",
        "--iflow-offline",
    )

    replayed.assert_outcomes(passed=6)


def test_offline_with_a_real_tenant_profile_uses_placeholder_keys(pytester: pytest.Pytester) -> None:
    sample_project(pytester, cassettes=True)
    key = (
        '{"oauth":{"clientid":"sb-1!b1|it-rt-acme!b196","clientsecret":"never-sent-anywhere",'
        '"url":"https://acme.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com",'
        '"tokenurl":"https://acme.authentication.eu10.hana.ondemand.com/oauth/token"}}'
    )
    names = ("SENDER", "SENDER_BASIC", "SENDER_NO_DE")
    (pytester.path / ".env.dev").write_text("".join(f"IFLOWTEST_CLIENT_{n}_KEY='{key}'\n" for n in names))

    result, target = run(
        pytester, "suites/costcenters/test_change_costcenter.py", "--iflow-env", "dev", "--iflow-offline"
    )

    result.assert_outcomes(passed=2)
    assert target.settings.target == "tenant" and target.emulator is None
    assert target.registry.resolve("sender").key.url == "https://runtime.offline.invalid"
