"""Service instances that killed runs left behind, reported by the next run for `iflowtest provision cleanup`.

A run deletes what it provisioned at its end, also after failures and Ctrl-C; after SIGKILL (an OOM kill, a
CI job's timeout) it cannot. So a run that provisions through Cloud Foundry looks, once its own clients are
gone, for run-named instances older than `provision cleanup`'s default age and names them on the terminal.
The age keeps runs going on at the same time in the same space (or its own xdist workers) out of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from iflowtest.errors import IflowtestError
from iflowtest.provisioning.provisioner import CLEANUP_AGE, InstanceInfo, Provisioner, parse_duration
from iflowtest.provisioning.runkeys import provisioner_from_settings
from iflowtest.settings import Settings

_NAMES_SHOWN: Final = 5


def leftover_instances(provisioner: Provisioner, now: datetime | None = None) -> list[InstanceInfo]:
    """Run-named instances (`iflowtest-<run id>-<client>`) older than `provision cleanup`'s default age."""
    return provisioner.instances_older_than(parse_duration(CLEANUP_AGE), now)


def leftover_message(found: list[InstanceInfo], profile: str | None) -> str | None:
    """The one line naming what is left and the command that deletes it (None when nothing is)."""
    if not found:
        return None
    names = ", ".join(info.name for info in found[:_NAMES_SHOWN])
    more = f" and {len(found) - _NAMES_SHOWN} more" if len(found) > _NAMES_SHOWN else ""
    env = f" --iflow-env {profile}" if profile else ""
    return (
        f"iflowtest: {len(found)} service instance(s) of earlier runs, older than {CLEANUP_AGE}, are still in the "
        f"space ({names}{more}): a run was killed before it could delete its clients, or kept them; delete them "
        f"with `iflowtest provision cleanup{env}`"
    )


def provisions_through_cloud_foundry(settings: Settings) -> bool:
    """Whether this run provisions clients in a real (or profile-given) Cloud Foundry space."""
    return settings.target == "tenant" and any(c.source == "provision" for c in settings.clients.values())


class LeftoverReport:
    """Controller hook: at the end of a provisioning run, name the instances crashed runs left behind."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        try:
            provisioner = provisioner_from_settings(self.settings)
        except IflowtestError:
            return  # the run itself has said what is wrong with the landscape
        try:
            message = leftover_message(leftover_instances(provisioner), self.settings.profile)
        except IflowtestError as exc:
            message = f"iflowtest: could not look for instances that killed runs left behind ({exc})"
        finally:
            provisioner.cf.close()
        if message:
            terminalreporter.write_line(message, yellow=True)
