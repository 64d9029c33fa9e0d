"""Issue 18, C1: Ctrl-C to a provisioning run with `-n 2` leaves no service instance and no key behind.

End to end: `iflowtest emulator` stands in a process of its own, so its Cloud Foundry landscape outlives
each run; `iflowtest run -n 2` provisions through its CF API with a profile, as it would on a real landscape
(each xdist worker provisions both clients), and its whole process group gets SIGINT, as a terminal sends
Ctrl-C, at a moment read from the landscape's state (`MOMENTS`: while provisioning, with every client
provisioned and tests running, while deleting). The landscape is then read through the CF V3 API: nothing
the runs created may be left. Ctrl-C while a worker deleted its clients left them behind until
`RunKeys.close` finished the deletions (tests/provisioning/test_runkeys.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from iflowtest.provisioning.cfapi import CloudFoundryClient
from iflowtest.provisioning.provisioner import STANDING, instance_name

from .servers import IFLOWTEST, StandingEmulator, cloud_foundry, standing_emulator, user_environ

# Two clients, so each worker provisions two instances (four a run, as in the finding). CF jobs take 0.3 s,
# as a broker's do, so a create can be caught in progress (Cloud Foundry refuses to delete it then).
PYPROJECT = """
[tool.iflowtest]
suites = ["suites"]
default_client = "sender"

[tool.iflowtest.clients.sender]
plan = "integration-flow"
roles = ["ESBMessaging.send"]
auth = "oauth"

[tool.iflowtest.clients.sender_basic]
plan = "integration-flow"
roles = ["ESBMessaging.send"]
auth = "basic"

[tool.iflowtest.emulator]
job_delay = 0.3
"""
SUITE = """
import pytest


@pytest.mark.parametrize("n", range(4))
def test_oauth(iflow, n):
    assert iflow.get("/http/costcenters", params={"companyCode": "1010"}).status_code == 200


@pytest.mark.client("sender_basic")
@pytest.mark.parametrize("n", range(4))
def test_basic(iflow, n):
    assert iflow.get("/http/costcenters", params={"companyCode": "1010"}).status_code == 200
"""
CLIENTS_A_RUN = 4  # two workers, two clients each
POLL = 0.05  # seconds between two reads of the landscape while a run goes on (sampling its state, not a delay)
STANDING_PREFIX = instance_name(STANDING, "")  # the emulator's own clients, which live as long as it does


@dataclass
class Landscape:
    """What runs created in the emulated space: instances by name with (last operation, state), and key names."""

    instances: dict[str, tuple[str, str]] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, cf: CloudFoundryClient) -> Landscape:
        """The landscape now, through the CF V3 API, without the standing emulator's own clients."""
        instances = {
            str(i["name"]): (str(i["last_operation"]["type"]), str(i["last_operation"]["state"]))
            for i in cf.list("/v3/service_instances")
            if not str(i["name"]).startswith(STANDING_PREFIX)
        }
        keys = [
            str(k["name"])
            for k in cf.list("/v3/service_credential_bindings")
            if not str(k["name"]).startswith(STANDING_PREFIX)
        ]
        return cls(instances, keys)

    def left_behind(self) -> list[str]:
        """Instances not on their way out (no delete running or done) and keys: what an ended run left."""
        kept = [n for n, (operation, state) in self.instances.items() if operation != "delete" or state == "failed"]
        return sorted(kept) + [f"key {k}" for k in sorted(self.keys)]


@dataclass
class Watch:
    """The landscape as a run goes on: the most keys it has held at once, and whether its teardown has begun."""

    now: Landscape = field(default_factory=Landscape)
    peak_keys: int = 0
    tearing_down: bool = False

    def update(self, landscape: Landscape) -> Watch:
        deleting = any(operation == "delete" for operation, _ in landscape.instances.values())
        self.tearing_down = self.tearing_down or deleting or len(landscape.keys) < self.peak_keys
        self.now, self.peak_keys = landscape, max(self.peak_keys, len(landscape.keys))
        return self

    def count(self, operation: str, state: str) -> int:
        return sum(found == (operation, state) for found in self.now.instances.values())


# The moments of a run's life at which Ctrl-C arrives, in the order they come; each lasts long enough to be
# seen (a create or delete job runs 0.3 s; the instant between a create's end and its key's is too short).
# A run's two workers provision at the same time; one may already delete its clients while the other runs tests.
MOMENTS: dict[str, Callable[[Watch], bool]] = {
    "a create in progress": lambda w: not w.tearing_down and w.count("create", "in progress") > 0,
    "the first key": lambda w: len(w.now.keys) >= 1,
    "two keys": lambda w: len(w.now.keys) >= 2,
    "the second client's create": lambda w: not w.tearing_down and len(w.now.instances) > CLIENTS_A_RUN // 2,
    "every client provisioned": lambda w: len(w.now.keys) == CLIENTS_A_RUN,
    "the first key deleted": lambda w: w.peak_keys == CLIENTS_A_RUN and len(w.now.keys) < CLIENTS_A_RUN,
    "an instance being deleted": lambda w: w.count("delete", "in progress") > 0,
    "half the clients deleted": lambda w: (
        w.peak_keys == CLIENTS_A_RUN and w.tearing_down and w.count("create", "succeeded") <= CLIENTS_A_RUN // 2
    ),
}


@dataclass
class Interrupted:
    """How one interrupted run ended."""

    moment: str
    sent: bool  # whether SIGINT reached the run while it ran (not after it had ended)
    returncode: int
    output: str


@pytest.fixture(scope="module")
def landscape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandingEmulator]:
    """`iflowtest emulator` serving a project with two clients and the suite; `.env.emu` points at its CF API."""
    folder = tmp_path_factory.mktemp("interrupted-provisioning")
    (folder / "pyproject.toml").write_text(PYPROJECT)
    (folder / "suites").mkdir()
    (folder / "suites" / "test_calls.py").write_text(SUITE)
    with standing_emulator(folder, env={"CF_HOME": str(folder)}) as emulator:  # CF_HOME: no user's cf session
        emulator.write_profile("emu")
        yield emulator


def interrupt_run(emulator: StandingEmulator, moment: str, attempt: int) -> Interrupted:
    """Start `iflowtest run -n 2`, send SIGINT to its process group once `moment` is seen, wait for it to end."""
    folder = emulator.folder
    environ = user_environ()
    environ["CF_HOME"] = str(folder)
    log = folder / f"run-{attempt}.log"
    reached = MOMENTS[moment]
    sent = False
    with log.open("w") as output, cloud_foundry(emulator.cf_profile) as cf:
        # A session of its own: the run and its workers form one process group, as a terminal's foreground job.
        process = subprocess.Popen(
            [IFLOWTEST, "run", "--iflow-env", "emu", "-n", "2", "-p", "no:randomly"],
            cwd=folder,
            env=environ,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            watch = Watch()
            while process.poll() is None:
                if reached(watch.update(Landscape.read(cf))):
                    try:
                        os.killpg(process.pid, signal.SIGINT)
                        sent = process.poll() is None
                    except ProcessLookupError:  # it ended between the two looks
                        pass
                    break
                time.sleep(POLL)
            returncode = process.wait(timeout=120)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return Interrupted(moment, sent, returncode, log.read_text())


def check_nothing_left(emulator: StandingEmulator, tries: int, moments: list[str]) -> None:
    """Interrupt `tries` runs, cycling through `moments`; after each, nothing the run created may be left."""
    for attempt in range(tries):
        moment = moments[attempt % len(moments)]
        run = interrupt_run(emulator, moment, attempt)
        with cloud_foundry(emulator.cf_profile) as cf:
            left = Landscape.read(cf).left_behind()
        where = f"try {attempt + 1} of {tries}, Ctrl-C at {moment!r}"
        assert run.sent, f"{where}: the run ended before that moment:\n{run.output[-3000:]}"
        assert left == [], f"{where}: left behind {left}:\n{run.output[-3000:]}"
        assert run.returncode in (130, 2), f"{where}: exit code {run.returncode}:\n{run.output[-3000:]}"
        assert "Traceback (most recent call last)" not in run.output, f"{where}:\n{run.output[-5000:]}"


def test_ctrl_c_while_provisioning_with_two_workers_leaves_nothing(landscape: StandingEmulator) -> None:
    """Two tries in the default run: Ctrl-C while the first creates run, and while the second clients are created."""
    check_nothing_left(landscape, 2, ["a create in progress", "the second client's create"])


@pytest.mark.slow
def test_twenty_ctrl_c_at_every_moment_of_a_provisioning_run_leave_nothing(landscape: StandingEmulator) -> None:
    """The finding's 20 tries (2 of them left 4 instances), Ctrl-C cycling through every moment of a run."""
    check_nothing_left(landscape, 20, list(MOMENTS))
