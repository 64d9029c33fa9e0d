"""The run's keys: Ctrl-C while a run deletes its clients (issue 18, C1) still deletes every one of them.

Found by tests/test_interrupted_provisioning.py: with `-n 2`, Ctrl-C reaches a worker that is already
deleting its clients; the interrupted deletion used to abandon that client and every one after it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from iflowtest.emulator import Emulator
from iflowtest.provisioning.provisioner import ProvisionedClient, Provisioner
from iflowtest.provisioning.runkeys import RunKeys
from iflowtest.settings import resolve_settings
from tests.provisioning.test_provisioner import make_provisioner

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ("sender", "sender_basic", "monitor")


def left_in(emulator: Emulator) -> list[str]:
    """Instances listed through the CF API (a client of its own), other than those being deleted, and keys."""
    provisioner = make_provisioner(emulator, [])
    try:
        instances = list(provisioner.cf.list("/v3/service_instances"))
        keys = list(provisioner.cf.list("/v3/service_credential_bindings"))
    finally:
        provisioner.cf.close()
    kept = [str(i["name"]) for i in instances if i["last_operation"]["type"] != "delete"]
    return kept + [f"key {k['name']}" for k in keys]


def provisioned_run(emulator: Emulator) -> RunKeys:
    settings = resolve_settings(ROOT, environ={})
    keys = RunKeys(settings, make_provisioner(emulator, []), run_id="abc123")
    keys.prepare([settings.clients[name] for name in CLIENTS])
    assert len(left_in(emulator)) == 2 * len(CLIENTS)
    return keys


def interrupt_first_deletion(provisioner: Provisioner, after: str) -> list[str]:
    """Ctrl-C in the first `deprovision`, once its key (`after="key"`) or also its instance delete was sent."""
    real = provisioner.deprovision
    calls: list[str] = []

    def interrupted(item: ProvisionedClient) -> None:
        calls.append(item.client)
        if len(calls) > 1:
            real(item)
            return
        provisioner.cf.delete(f"/v3/service_credential_bindings/{item.key_guid}")
        if after == "instance":
            provisioner.cf.delete(f"/v3/service_instances/{item.instance_guid}")  # its job still runs
        raise KeyboardInterrupt

    provisioner.deprovision = interrupted  # type: ignore[method-assign]
    return calls


@pytest.mark.parametrize("after", ["key", "instance"])
def test_ctrl_c_while_deleting_the_clients_deletes_them_all_then_goes_on(fresh_emulator: Emulator, after: str) -> None:
    fresh_emulator.cloud_foundry.job_delay = 2  # on the emulator's clock: each job runs until a poll moves it on
    keys = provisioned_run(fresh_emulator)
    assert keys.provisioner is not None
    calls = interrupt_first_deletion(keys.provisioner, after)

    with pytest.raises(KeyboardInterrupt):
        keys.close()

    assert calls == ["monitor", "sender_basic", "sender"]  # the rest were deleted after the interruption
    assert left_in(fresh_emulator) == []
    fresh_emulator.advance_clock(2)  # the delete jobs finish: nothing at all is left
    assert left_in(fresh_emulator) == [] and fresh_emulator.cloud_foundry.instance_names() == []
    assert keys.close() == []  # and a second close has nothing to do


def test_a_second_ctrl_c_while_deleting_abandons_the_rest(fresh_emulator: Emulator) -> None:
    keys = provisioned_run(fresh_emulator)
    assert keys.provisioner is not None

    def always_interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    keys.provisioner.deprovision = always_interrupted  # type: ignore[method-assign]
    keys.provisioner.delete_instance = always_interrupted  # type: ignore[method-assign]

    with pytest.raises(KeyboardInterrupt):
        keys.close()

    assert len(left_in(fresh_emulator)) == 2 * len(CLIENTS)  # left to `iflowtest provision cleanup`
