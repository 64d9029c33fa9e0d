"""One run's connection to its target: the bundled emulated tenant, or a real tenant from a profile."""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import urlsplit

from iflowtest.credentials.registry import ClientRegistry, KeyProvider
from iflowtest.errors import IflowtestError
from iflowtest.provisioning.runkeys import (
    RunKeys,
    emulator_provisioner,
    keys_issued_in_process,
    provisioner_from_settings,
)
from iflowtest.settings import Settings, harness_verify


class TargetSession:
    """Starts what the target needs (the emulator), owns the client registry, and undoes it all on close."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.emulator: Any = None  # iflowtest.emulator.Emulator when the target is the emulator
        self._registry: ClientRegistry | None = None
        self.keys: RunKeys | None = None  # the run's provisioned or loaded keys
        # Set for offline replay: every client gets a placeholder key and nothing is started or contacted.
        self.offline_keys: KeyProvider | None = None
        self._failure: IflowtestError | None = None  # why the start failed, for every later test

    @property
    def registry(self) -> ClientRegistry:
        """The run's clients (starts the target on first use)."""
        if self._registry is None:
            self.start()
        assert self._registry is not None
        return self._registry

    def known_hosts(self) -> set[str]:
        """Hosts of the keys resolved so far, without starting or provisioning anything.

        The xdist controller runs no test, so asking it to start the target only to name hosts in the
        report would provision a set of clients for nothing.
        """
        if self._registry is None:
            return set()
        return {urlsplit(key.url).hostname or "" for key in self._registry.resolved_keys()} - {""}

    def start(self) -> TargetSession:
        """Start the emulator (emulator target) or check every configured key (tenant target)."""
        if self._registry is not None:
            return self
        if self._failure is not None:
            # Fail fast per cause: a start that failed (say, CF jobs that never finish) is not tried again
            # for every test, each waiting out the same timeout.
            raise self._failure
        try:
            return self._start()
        except IflowtestError as exc:
            self._failure = exc
            raise

    def _start(self) -> TargetSession:
        if self.offline_keys is not None:
            self._registry = ClientRegistry(self.settings, self.offline_keys)
            return self
        if self.settings.target == "emulator":
            from iflowtest.emulator import Emulator  # imported lazily: a tenant run never loads the emulator
            from iflowtest.emulator.faults import parse_fault

            options = self.settings.emulator
            self.emulator = Emulator(
                token_lifetime=options.token_lifetime, mpl_header=options.mpl_header, tls=options.tls
            ).start()
            verify = harness_verify(self.settings, str(self.emulator.ca_file) if options.tls else None)
            self.emulator.cloud_foundry.job_delay = options.job_delay
            self.emulator.cloud_foundry.services_quota = options.services_quota
            for text in options.faults:  # before provisioning: `cf-jobs` faults concern it
                self.emulator.faults.inject(*parse_fault(text))
            if options.tls:
                # Every default run provisions its clients through the emulator's CF API, over HTTP.
                self.keys = RunKeys(self.settings, emulator_provisioner(self.emulator, self.settings))
                issued = self.keys.prepare(self.settings.clients.values(), provision_all=True)
            else:
                issued = keys_issued_in_process(self.emulator, self.settings)
            self._registry = ClientRegistry(self.settings, lambda spec: issued[spec.name], verify=verify)
        else:
            # Provision or parse every key before the first test so a broken profile fails the run at once.
            needs_cf = any(spec.source == "provision" for spec in self.settings.clients.values())
            self.keys = RunKeys(self.settings, provisioner_from_settings(self.settings) if needs_cf else None)
            keys = self.keys.prepare(self.settings.clients.values())
            self._registry = ClientRegistry(
                self.settings, lambda spec: keys[spec.name], verify=harness_verify(self.settings)
            )
        return self

    def describe(self) -> dict[str, str]:
        """Facts for the report's environment table (never a secret)."""
        facts = {"Target": self.settings.target, "Profile": self.settings.profile or "(none)"}
        if self.emulator is not None:
            facts["Tenant"] = f"emulated tenant at {self.emulator.url}"
        if self.offline_keys is not None:
            facts["Tenant"] = "offline: answers replayed from cassettes"
        return facts

    def release_clients(self) -> None:
        """Close connections, remove certificate files and delete provisioned clients; safe to call twice."""
        try:
            if self._registry is not None:
                self._registry.close()
        finally:
            if self.keys is not None:
                for problem in self.keys.close():
                    print(f"iflowtest: {problem}", file=sys.stderr)

    def close(self) -> None:
        """Release the clients and stop the emulator; safe to call twice."""
        try:
            self.release_clients()
        finally:
            if self.emulator is not None:
                self.emulator.stop()
