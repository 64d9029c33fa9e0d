"""What the next run says about instances that killed runs left behind (the end-to-end case is in
test_killed_run_leftovers.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from iflowtest.emulator import Emulator
from iflowtest.provisioning.leftovers import leftover_instances, leftover_message
from iflowtest.provisioning.provisioner import ClientRequest, InstanceInfo
from iflowtest.settings import resolve_settings
from iflowtest.target import emulator_provisioner

OLD = datetime(2026, 1, 1, tzinfo=UTC)


def test_nothing_left_says_nothing() -> None:
    assert leftover_message([], "nightly") is None


def test_names_the_first_five_and_the_command() -> None:
    found = [InstanceInfo(f"iflowtest-abc123-client{i}", f"guid-{i}", OLD, "succeeded") for i in range(7)]

    assert leftover_message(found, None) == (
        "iflowtest: 7 service instance(s) of earlier runs, older than 6h, are still in the space ("
        "iflowtest-abc123-client0, iflowtest-abc123-client1, iflowtest-abc123-client2, iflowtest-abc123-client3, "
        "iflowtest-abc123-client4 and 2 more): a run was killed before it could delete its clients, or kept them; "
        "delete them with `iflowtest provision cleanup`"
    )


def test_only_run_named_instances_older_than_six_hours(fresh_emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.iflowtest]\n")
    provisioner = emulator_provisioner(fresh_emulator, resolve_settings(tmp_path, environ={}))
    try:
        for name in ("iflowtest-old111-sender", "iflowtest-new222-sender", "by_hand"):
            provisioner.provision(ClientRequest("sender"), name)
        landscape = fresh_emulator.cloud_foundry
        landscape.set_created_at("iflowtest-old111-sender", datetime.now(UTC) - timedelta(hours=6, minutes=1))
        landscape.set_created_at("by_hand", datetime.now(UTC) - timedelta(days=30))

        found = leftover_instances(provisioner)
    finally:
        provisioner.cf.close()

    assert [info.name for info in found] == ["iflowtest-old111-sender"]
