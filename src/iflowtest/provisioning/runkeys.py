"""The service keys of one run: provisioned through Cloud Foundry for the run and deleted after it, or loaded.

`RunKeys.prepare` is the one call a target makes at session start; `close` deletes what `prepare` created
(keys, then instances), also after failures and Ctrl-C, unless `keep_clients` asks to keep them. The
emulator target provisions through the emulated tenant's own CF API over HTTP (`target.py` makes that
provisioner), so every default run takes the same path as a nightly run against a real landscape.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable

from iflowtest.credentials.registry import check_key_fits, load_configured_key
from iflowtest.credentials.servicekey import ServiceKey
from iflowtest.errors import CloudFoundryError, ConfigError, IflowtestError
from iflowtest.provisioning.cfapi import CfCredentials, CloudFoundryClient
from iflowtest.provisioning.cfsession import load_cf_session
from iflowtest.provisioning.provisioner import ClientRequest, ProvisionedClient, Provisioner, instance_name, new_run_id
from iflowtest.settings import ClientSpec, Settings, harness_verify


def client_request(spec: ClientSpec) -> ClientRequest:
    """What the broker needs for a declared client."""
    return ClientRequest(
        client=spec.name,
        plan=spec.plan,
        roles=spec.roles,
        grant_types=spec.grant_types,
        key_type=spec.key_type,
        validity=spec.validity,
        key_length=spec.key_length,
        token_validity=spec.token_validity,
        where=spec.table,
    )


def cloud_foundry_from_settings(settings: Settings) -> tuple[CloudFoundryClient, str | None, str | None]:
    """A CF client for the configured landscape, with the org and space to use (cf CLI session as fallback)."""
    cf = settings.cf
    session = load_cf_session(cf.config_path) if cf.config_path is not None else None
    api = cf.api or (session.api if session else None)
    if not api:
        raise ConfigError(
            "no Cloud Foundry API to provision clients with: set IFLOWTEST_CF_API (the URL `cf api` shows), or "
            "log in with `cf login -a API`"
        )
    if cf.username and cf.password is not None:
        credentials = CfCredentials(username=cf.username, password=cf.password)
    elif cf.username or cf.password is not None:
        raise ConfigError("set both IFLOWTEST_CF_USERNAME and IFLOWTEST_CF_PASSWORD, or neither (cf CLI session)")
    elif session is not None and (session.access_token or session.refresh_token):
        credentials = CfCredentials(session=session)
    else:
        raise ConfigError(
            f"no Cloud Foundry login for {api}: set IFLOWTEST_CF_USERNAME and IFLOWTEST_CF_PASSWORD in the "
            "environment, or log in with `cf login`"
        )
    org = cf.org or (session.org_guid or session.org_name if session else None)
    space = cf.space or (session.space_guid or session.space_name if session else None)
    client = CloudFoundryClient(
        api,
        credentials,
        verify=harness_verify(settings),
        timeout=(settings.connect_timeout, settings.read_timeout),
    )
    return client, org, space


def provisioner_from_settings(settings: Settings) -> Provisioner:
    """A provisioner for the configured landscape."""
    client, org, space = cloud_foundry_from_settings(settings)
    return Provisioner(client, org=org, space=space, job_timeout=settings.cf.job_timeout)


class RunKeys:
    """Provisions or loads each declared client's key once, and deletes what it provisioned."""

    def __init__(self, settings: Settings, provisioner: Provisioner | None, *, run_id: str | None = None) -> None:
        self.settings = settings
        self.provisioner = provisioner
        self.run_id = run_id or new_run_id()
        self.provisioned: list[ProvisionedClient] = []
        self._lock = threading.Lock()

    def prepare(self, specs: Iterable[ClientSpec], *, provision_all: bool = False) -> dict[str, ServiceKey]:
        """Every client's key: provisioned (source 'provision', or all with `provision_all`) or loaded."""
        keys: dict[str, ServiceKey] = {}
        for spec in specs:
            if provision_all or spec.source == "provision":
                if self.provisioner is None:
                    raise ConfigError(f"client {spec.name!r} is to be provisioned but no Cloud Foundry API is set")
                created = self._provision(spec)
                key = created.key
                check_key_fits(spec, key)
            else:
                key = load_configured_key(spec, self.settings)
            keys[spec.name] = key
        return keys

    def _provision(self, spec: ClientSpec) -> ProvisionedClient:
        """Provision one client and remember it at once: Ctrl-C right after the create must not lose it."""
        assert self.provisioner is not None
        created: ProvisionedClient | None = None
        try:
            created = self.provisioner.provision(client_request(spec), instance_name(self.run_id, spec.name))
            with self._lock:
                self.provisioned.append(created)
        except BaseException:
            with self._lock:
                lost = created is not None and created not in self.provisioned
            if lost and created is not None:
                # The interruption is what the user needs to see; the next run names a leftover.
                with contextlib.suppress(IflowtestError):
                    self._delete_interrupted(created)
            raise
        return created

    def close(self) -> list[str]:
        """Delete every provisioned key and instance (newest first); one line per problem.

        Ctrl-C in the middle (as it reaches every process of `-n` runs, also while they delete) does not
        abandon the clients still to delete: the interrupted one and the rest are deleted, then the
        KeyboardInterrupt goes on. It raises nothing else.
        """
        with self._lock:
            created, self.provisioned = list(self.provisioned), []
        problems: list[str] = []
        interrupted: KeyboardInterrupt | None = None
        try:
            if self.settings.keep_clients or self.provisioner is None:
                return problems
            for item in reversed(created):
                try:
                    try:
                        self.provisioner.deprovision(item)
                    except KeyboardInterrupt as exc:
                        if interrupted is not None:
                            raise  # a second Ctrl-C while finishing the deletes abandons them
                        interrupted = exc
                        self._delete_interrupted(item)
                except IflowtestError as exc:
                    problems.append(
                        f"could not delete service instance {item.instance_name!r} of client {item.client!r} ({exc}): "
                        "delete it with `iflowtest provision cleanup`"
                    )
        finally:
            if self.provisioner is not None:
                self.provisioner.cf.close()
        if interrupted is not None:
            raise interrupted
        return problems

    def _delete_interrupted(self, item: ProvisionedClient) -> None:
        """Delete a client whose deletion (or recording) was interrupted: its keys left, then its instance.

        An instance already gone, or already being deleted, is no problem; any other refusal raises.
        """
        assert self.provisioner is not None
        try:
            self.provisioner.delete_instance(item.instance_guid, item.instance_name)
        except CloudFoundryError as exc:
            if exc.status != 404 and exc.title != "CF-AsyncServiceInstanceOperationInProgress":
                raise
