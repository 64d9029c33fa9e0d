"""The plugin, run with pytester against the emulated tenant: the sample suite, tokens, hints and options."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path
from typing import Any

import pytest

from iflowtest.plugin import TARGET_SESSION_KEY as TARGET_KEY
from iflowtest.target import TargetSession

ROOT = Path(__file__).resolve().parents[1]


class TargetSpy:
    """Keeps the run's TargetSession so the test can read the emulator's counters afterwards."""

    target: TargetSession | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.target = session.config.stash[TARGET_KEY]


def sample_project(pytester: pytest.Pytester) -> Path:
    shutil.copy(ROOT / "pyproject.toml", pytester.path / "pyproject.toml")
    shutil.copytree(ROOT / "suites", pytester.path / "suites")
    shutil.copytree(ROOT / "fixtures", pytester.path / "fixtures")
    return pytester.path


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, Any]:
    spy = TargetSpy()
    result = pytester.runpytest_inprocess(*args, plugins=[spy])
    assert spy.target is not None and spy.target.emulator is not None
    return result, spy.target.emulator


def test_sample_suite_fetches_exactly_one_token_per_client(pytester: pytest.Pytester) -> None:
    sample_project(pytester)

    result, emulator = run(pytester, "suites", "-p", "no:randomly")

    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, result.stdout.str()[-3000:]
    assert outcomes["passed"] >= 30
    issued = emulator.counters.snapshot()
    # Instances are named iflowtest-<run id>-<client>.
    by_client = {client.name.split("-", 2)[2]: client for client in emulator.tenant.clients.all()}
    assert emulator.counters.tokens_issued(by_client["sender"].clientid) == 1
    assert emulator.counters.tokens_issued(by_client["sender_no_de"].clientid) == 1
    assert emulator.counters.tokens_issued(by_client["sender_basic"].clientid) == 0, issued
    # Provisioned through the emulator's CF API at the start, deleted at the end.
    assert sorted(by_client) == ["monitor", "sender", "sender_basic", "sender_cert", "sender_no_de"]
    assert all(client.revoked for client in emulator.tenant.clients.all())
    assert emulator.cloud_foundry.instance_names() == []


def test_token_expiring_mid_run_is_refreshed_without_failures(pytester: pytest.Pytester) -> None:
    sample_project(pytester)
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(autouse=True)
        def age_the_tenant(iflow_emulator):
            yield
            iflow_emulator.advance_clock(2000)  # every second test finds the cached token expired
        """
    )

    result, emulator = run(pytester, "suites/costcenters/test_read_costcenters.py")

    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()[-3000:]
    sender = next(c for c in emulator.tenant.clients.all() if c.name.endswith("-sender"))
    assert emulator.counters.tokens_issued(sender.clientid) > 3
    assert emulator.counters.calls("ReadCostCenters", 401) > 0


def test_failure_names_the_missing_role(pytester: pytest.Pytester) -> None:
    sample_project(pytester)
    pytester.makepyfile(
        test_forbidden="""
        import pytest

        @pytest.mark.iflow("ReadCostCentersDE")
        @pytest.mark.client("sender_no_de")
        def test_reads_german_cost_centers(iflow):
            assert iflow.get(params={"companyCode": "1010"}).status_code == 200
        """
    )

    result, emulator = run(pytester, "test_forbidden.py")

    result.assert_outcomes(failed=1)
    assert emulator.cloud_foundry.instance_names() == []  # deleted after a failing run too
    result.stdout.fnmatch_lines(
        [
            "*iflow calls*",
            "GET */http/de/costcenters?companyCode=1010 -> 403 in * ms as sender_no_de*",
        ]
    )
    assert (
        "    hint: 403 from /http/de/costcenters: client 'sender_no_de' (roles ESBMessaging.send) lacks role "
        "ESBMessaging_DE required by iFlow 'ReadCostCentersDE': add it to roles of "
        "[tool.iflowtest.clients.sender_no_de] and re-provision"
    ) in result.stdout.lines


def test_unknown_client_marker_is_a_usage_error_before_any_test(pytester: pytest.Pytester) -> None:
    sample_project(pytester)
    pytester.makepyfile(
        test_typo="""
        import pytest

        @pytest.mark.client("sendr")
        def test_typo(iflow):
            pass
        """
    )

    result = pytester.runpytest_inprocess("test_typo.py")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.parseoutcomes().get("passed", 0) == 0
    result.stderr.fnmatch_lines(
        [
            "ERROR: iflowtest: test_typo.py::test_typo (@pytest.mark.client): unknown client 'sendr': declared "
            "clients are monitor, sender, sender_basic, sender_cert, sender_no_de*(did you mean 'sender'?)"
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_bad_setting_is_a_usage_error(pytester: pytest.Pytester) -> None:
    sample_project(pytester)
    pytester.makepyfile(test_x="def test_x(iflow): pass\n\ndef test_y(): pass")

    result = pytester.runpytest_inprocess("test_x.py", "--iflow-target", "tenant")
    unused = pytester.runpytest_inprocess("test_x.py", "--iflow-target", "tenant", "-k", "test_y")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*iflowtest: target 'tenant' needs a service key for every client the selected tests use*"
            "IFLOWTEST_CLIENT_SENDER_KEY*"
        ]
    )
    assert unused.ret == pytest.ExitCode.OK  # a test that calls no client needs no key


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    sample_project(pytester)
    result = pytester.runpytest_inprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.iflow(name):*", "@pytest.mark.client(name):*"])


def test_junit_carries_iflow_properties(pytester: pytest.Pytester) -> None:
    sample_project(pytester)
    junit = pytester.path / "junit.xml"

    run(pytester, "suites/costcenters/test_failing_flow.py", f"--junitxml={junit}")

    text = junit.read_text()
    assert '<property name="iflowtest.iflow" value="FailingFlow"' in text
    assert '<property name="iflowtest.http_status" value="500"' in text
    assert '<property name="iflowtest.mpl_id" value="AG' in text


def test_keep_clients_keeps_the_instances(pytester: pytest.Pytester) -> None:
    sample_project(pytester)
    pytester.makepyfile(test_x="def test_x(iflow_clients): iflow_clients.resolve('sender')")

    result, emulator = run(pytester, "test_x.py", "--iflow-keep-clients")

    result.assert_outcomes(passed=1)
    names = emulator.cloud_foundry.instance_names()
    assert len(names) == 5 and all(name.startswith("iflowtest-") for name in names)


def test_client_the_broker_refuses_fails_the_tests_with_its_text(pytester: pytest.Pytester) -> None:
    sample_project(pytester)
    with (pytester.path / "pyproject.toml").open("a") as handle:
        handle.write('\n[tool.iflowtest.clients.sender_fr]\nroles = ["ESBMessaging_FR"]\n')
    pytester.makepyfile(test_x="def test_x(iflow): pass")

    result, emulator = run(pytester, "test_x.py")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*creating service instance 'iflowtest-*-sender_fr' for client 'sender_fr' failed (CF-ServiceBrokerBadResponse: "
            "Service broker error: Role 'ESBMessaging_FR' does not exist in this tenant*"
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert emulator.cloud_foundry.instance_names() == []


def test_emulator_landscape_knobs_from_pyproject(pytester: pytest.Pytester) -> None:
    sample_project(pytester)
    with (pytester.path / "pyproject.toml").open("a") as handle:
        handle.write("\n[tool.iflowtest.emulator]\nservices_quota = 2\njob_delay = 0.05\n")
    pytester.makepyfile(test_x="def test_x(iflow): pass")

    result, emulator = run(pytester, "test_x.py")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*service instance 'iflowtest-*-sender_no_de' for client 'sender_no_de' could not be created (*422 "
            "CF-UnprocessableEntity: You have exceeded your organization's services limit.): the org or space quota*"
        ]
    )
    assert emulator.cloud_foundry.job_delay == 0.05
    assert emulator.cloud_foundry.instance_names() == []


def test_emulator_without_tls_issues_keys_in_process(pytester: pytest.Pytester) -> None:
    sample_project(pytester)
    with (pytester.path / "pyproject.toml").open("a") as handle:
        handle.write("\n[tool.iflowtest.emulator]\ntls = false\n")
    pytester.makepyfile(
        test_x="""
        def test_basic_over_http(iflow_client):
            assert iflow_client("sender_basic").get("/http/costcenters", params={"companyCode": "1010"}).ok
        """
    )

    result, emulator = run(pytester, "test_x.py")

    result.assert_outcomes(passed=1)
    assert emulator.url.startswith("http://") and emulator.cloud_foundry.instance_names() == []


def test_harness_errors_fail_in_one_line_without_a_traceback(pytester: pytest.Pytester) -> None:
    sample_project(pytester)
    pytester.makepyfile(
        test_rejected="""
        from iflowtest import ClientRejectedError

        def test_token(iflow_settings):
            raise ClientRejectedError("client 'sender' was rejected by https://t/oauth/token: create a new key")
        """
    )

    result = pytester.runpytest_inprocess("test_rejected.py", "-p", "no:hypothesispytest")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "test_rejected.py:3: ClientRejectedError: client 'sender' was rejected by https://t/oauth/token: create a new key"
        ]
    )
    assert "raise ClientRejectedError" not in result.stdout.str()


def test_objects_older_than_the_tests_are_frozen_while_they_run_and_unfrozen_after(pytester: pytest.Pytester) -> None:
    sample_project(pytester)
    pytester.makepyfile(
        test_x="""
import gc


def test_frozen():
    assert gc.get_freeze_count() > 10000  # the modules, the plugin and the collected tests
"""
    )

    result = pytester.runpytest_inprocess("test_x.py", "-p", "no:randomly")

    result.assert_outcomes(passed=1)
    assert gc.get_freeze_count() == 0  # the garbage collector sees every object again
