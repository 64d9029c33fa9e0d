"""CF jobs that never finish, as an injected fault: the provisioner's timeout, and a whole run that fails fast."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from iflowtest import ConfigError
from iflowtest.emulator.faults import Fault, parse_fault
from iflowtest.emulator.server import Emulator
from iflowtest.errors import ProvisioningError
from iflowtest.provisioning.provisioner import ClientRequest, Provisioner
from iflowtest.settings import resolve_settings
from iflowtest.target import TargetSession
from tests.provisioning.test_provisioner import make_provisioner
from tests.servers import iflowtest, instance_names, read_tests, standing_emulator

ROOT = Path(__file__).resolve().parents[2]
SENDER = ClientRequest("sender", roles=("ESBMessaging.send",), where="[tool.iflowtest.clients.sender]")
STUCK = (
    "is still PROCESSING after {timeout} s: the broker is slow or stuck; raise IFLOWTEST_CF_JOB_TIMEOUT, or check "
    "the instance with `cf service NAME`"
)


def provisioner(emu: Emulator, waits: list[float]) -> Provisioner:
    """A provisioner whose waits move the emulator's clock instead of sleeping."""
    return make_provisioner(emu, waits)


def test_hanging_jobs_time_out_and_leave_the_instance_to_the_cleanup(fresh_emulator: Emulator) -> None:
    fault = fresh_emulator.inject("cf-jobs", hang=True)
    waits: list[float] = []
    cf = provisioner(fresh_emulator, waits)

    with pytest.raises(ProvisioningError) as caught:
        cf.provision(SENDER, "iflowtest-abc123-sender")

    assert str(caught.value) == (
        "creating service instance 'iflowtest-abc123-sender' for client 'sender' "
        + STUCK.format(timeout=30)
        + "; the half-created instance 'iflowtest-abc123-sender' may be left behind (Cloud Foundry refuses to "
        "delete it while its creation is still in progress): `iflowtest provision cleanup` removes it"
    )
    # As Cloud Controller does: a delete during the create is a 422, so the instance stays for the cleanup.
    assert fault.fired == 1
    assert fresh_emulator.cloud_foundry.instance_names() == ["iflowtest-abc123-sender"]
    assert sum(waits) < 2 * 30  # on the emulator's clock

    fresh_emulator.clear_faults()  # jobs finish again
    assert cf.cleanup(timedelta(0)) == ["iflowtest-abc123-sender"]
    created = cf.provision(SENDER, "iflowtest-abc123-sender")
    assert fresh_emulator.cloud_foundry.instance_names() == [created.instance_name]
    cf.cf.close()


def test_slow_jobs_finish_after_their_latency(fresh_emulator: Emulator) -> None:
    fresh_emulator.inject("cf-jobs", latency=20, times=1)
    waits: list[float] = []
    cf = provisioner(fresh_emulator, waits)

    created = cf.provision(SENDER, "iflowtest-abc123-sender")

    assert created.key.clientid and sum(waits) >= 20
    cf.cf.close()


def test_cf_job_fault_specs() -> None:
    assert parse_fault("cf-jobs:hang") == ("cf-jobs", Fault(hang=True))
    assert parse_fault("cf-jobs:latency=45,times=1") == ("cf-jobs", Fault(latency=45, times=1))
    with pytest.raises(ValueError, match=r"^fault 'cf-jobs:status=503': ") as caught:
        parse_fault("cf-jobs:status=503")
    assert str(caught.value) == (
        "fault 'cf-jobs:status=503': cf-jobs takes hang (jobs never finish) or latency=S (jobs finish after S "
        "seconds of the emulator clock), with share and times; got status=503: for the answers of the CF API use "
        "the target cf"
    )


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        (
            '["cf-jobs:reset"]',
            "[tool.iflowtest.emulator] faults: fault 'cf-jobs:reset': cf-jobs takes hang (jobs never finish) or",
        ),
        ('["cf-jobs"]', "[tool.iflowtest.emulator] faults: fault 'cf-jobs' has no target or no settings"),
        ("[1]", "[tool.iflowtest.emulator] faults must be strings such as 'cf-jobs:hang', got 1"),
        ('"cf-jobs:hang"', "[tool.iflowtest.emulator] faults must be a list, got a string 'cf-jobs:hang'"),
    ],
)
def test_bad_emulator_faults_in_pyproject(tmp_path: Path, faults: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "x"\n[tool.iflowtest.emulator]\nfaults = {faults}\n')
    with pytest.raises(ConfigError) as caught:
        TargetSession(resolve_settings(tmp_path, environ={}))  # settings check types, the target what they say
    assert str(caught.value).startswith(message)


CASES = read_tests(2)

SUITE = """
iflow: ReadCostCenters
cases:
  - name: first
    request: {}
    expect: {status: 200}
  - name: second
    request: {}
    expect: {status: 200}
"""


class TargetSpy:
    """Keeps the run's target so the test can look at its emulator after the run."""

    fired: list[int] | None = None
    instances: list[str] | None = None

    @pytest.hookimpl(trylast=True)  # after the plugin's own, which deletes what the run provisioned
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from iflowtest.plugin import TARGET_SESSION_KEY as TARGET_KEY

        emulator = session.config.stash[TARGET_KEY].emulator
        self.fired = [f.fired for f in emulator.faults.injected("cf-jobs")]
        self.instances = emulator.cloud_foundry.instance_names()


def test_a_run_whose_cf_jobs_never_finish_fails_fast_with_one_cause(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (pytester.path / "pyproject.toml").write_text(
        pyproject + '\n[tool.iflowtest.emulator]\nfaults = ["cf-jobs:hang"]\n'
    )
    pytester.makepyfile(test_cases=CASES)
    (pytester.path / "read.iflow.yaml").write_text(SUITE)
    monkeypatch.setenv("IFLOWTEST_CF_JOB_TIMEOUT", "0.3")
    spy = TargetSpy()

    result = pytester.runpytest_inprocess("-p", "no:randomly", "-rA", plugins=[spy])

    outcomes = result.parseoutcomes()
    assert outcomes.get("errors") == 2 and outcomes.get("failed") == 2 and "passed" not in outcomes, result.stdout
    text = result.stdout.str()
    cause = re.compile(
        r"creating service instance 'iflowtest-\w+-\w+' for client '\w+' " + re.escape(STUCK.format(timeout=0.3))
    )
    assert len(cause.findall(text)) >= 4, text  # every test names the one cause
    assert len(set(cause.findall(text))) == 1  # the same instance: provisioned once, not once per test
    assert "Traceback" not in text
    assert "During handling" not in text
    # One creation job for the whole run; Cloud Foundry refuses to delete an instance while it is being
    # created, so that one instance is left, and the message says so and names the cleanup.
    assert spy.fired == [1] and len(spy.instances) == 1
    assert "may be left behind (Cloud Foundry refuses to delete it while its creation is still in progress)" in text


def test_iflowtest_emulator_with_hanging_jobs_stops_a_run_at_once(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "test_cases.py").write_text(CASES)
    # CF_HOME: no cf CLI session of the machine's user
    with standing_emulator(tmp_path, "--fault", "cf-jobs:hang", env={"CF_HOME": str(tmp_path)}) as emulator:
        assert "iflowtest emulator: fault     cf-jobs: hang\n" in emulator.output  # after its own keys were provisioned
        emulator.write_profile("emu")
        before = instance_names(tmp_path / ".env.emu")
        assert len(before) == 5  # one per declared client
        run = iflowtest(
            *("run", "test_cases.py", "--iflow-env", "emu", "-p", "no:randomly"),
            cwd=tmp_path,
            env={"CF_HOME": str(tmp_path), "IFLOWTEST_CF_JOB_TIMEOUT": "0.3"},
        )
        assert run.returncode == 2, run.stdout + run.stderr
        assert re.search(
            r"iflowtest: creating service instance 'iflowtest-\w+-\w+' for client '\w+' "
            + re.escape(STUCK.format(timeout=0.3)),
            run.stderr,
        ), run.stderr
        assert "Traceback" not in run.stdout + run.stderr
        # The stuck creation cannot be deleted yet (a 422, as on Cloud Foundry): the run names it and the cleanup.
        assert "`iflowtest provision cleanup` removes it" in run.stderr
        left = sorted(set(instance_names(tmp_path / ".env.emu")) - set(before))
        assert len(left) == 1 and left[0] in run.stderr
