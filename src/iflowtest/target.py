"""One run's connection to its target: the bundled emulated tenant, or a real tenant from a profile.

This module is the harness's one gate to `iflowtest.emulator`: the plugin's fixtures, `iflowtest run` and
`iflowtest emulator` reach the emulated tenant only through the functions and the session here, and the
emulator is imported lazily, so a run against a tenant never loads it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from iflowtest.calls.deployments import DeploymentGate, read_runtime_artifacts
from iflowtest.calls.pool import IflowClientPool
from iflowtest.credentials.registry import ClientRegistry, KeyProvider, check_key_fits, load_configured_key
from iflowtest.credentials.servicekey import ServiceKey
from iflowtest.errors import ConfigError, IflowtestError
from iflowtest.provisioning.cfapi import CfCredentials, CloudFoundryClient
from iflowtest.provisioning.provisioner import STANDING, Provisioner
from iflowtest.provisioning.runkeys import RunKeys, provisioner_from_settings
from iflowtest.redaction import Secret
from iflowtest.settings import ClientSpec, Settings, harness_verify


class TargetSession:
    """Starts what the target needs (the emulator), owns the client registry, and undoes it all on close."""

    def __init__(self, settings: Settings) -> None:
        check_emulator_faults(settings)
        if settings.target == "emulator":
            check_project_iflows(settings)
        self.settings = settings
        self.emulator: Any = None  # iflowtest.emulator.Emulator when the target is the emulator
        self._registry: ClientRegistry | None = None
        self._pool: IflowClientPool | None = None
        self.keys: RunKeys | None = None  # the run's provisioned or loaded keys
        # Set for offline replay: every client gets a placeholder key and nothing is started or contacted.
        self.offline_keys: KeyProvider | None = None
        self._failure: IflowtestError | None = None  # why the start failed, for every later test
        # Whether the run reads the iFlows' runtime status (live calls with an 'api'-plan client); the plugin
        # turns it off when recording, so the read never lands in a test's cassette.
        self.deployment_gate = True
        self.gate: DeploymentGate | None = None

    @property
    def registry(self) -> ClientRegistry:
        """The run's clients (starts the target on first use)."""
        if self._registry is None:
            self.start()
        assert self._registry is not None
        return self._registry

    @property
    def pool(self) -> IflowClientPool:
        """The iFlow clients of the run's declared clients (starts the target on first use)."""
        if self._pool is None:
            self._pool = IflowClientPool(self.registry, gate=self._deployment_gate())
        return self._pool

    def _deployment_gate(self) -> DeploymentGate | None:
        monitors = [spec.name for spec in self.settings.clients.values() if spec.plan == "api"]
        if not self.deployment_gate or self.offline_keys is not None or not monitors:
            return None
        registry = self.registry
        self.gate = DeploymentGate(lambda: read_runtime_artifacts(registry, monitors[0]))
        return self.gate

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
            options = self.settings.emulator
            self.emulator = new_emulator(self.settings).start()
            verify = harness_verify(self.settings, str(self.emulator.ca_file) if options.tls else None)
            for text in options.faults:  # before provisioning: `cf-jobs` faults concern it
                self.emulator.faults.inject(*parse_emulator_fault(text))
            if options.tls:
                # Every default run provisions its clients through the emulator's CF API, over HTTP.
                self.keys = RunKeys(self.settings, emulator_provisioner(self.emulator, self.settings))
                issued = self.keys.prepare(self.settings.clients.values(), provision_all=True)
            else:
                issued = keys_issued_in_process(self.emulator, self.settings)
            self._registry = ClientRegistry(self.settings, lambda spec: issued[spec.name], verify=verify)
        else:
            # Only the clients the run uses get keys, each on first use (`prepare` does it for the clients the
            # selected tests name as soon as collection ends, so a broken profile still fails before any test).
            self.keys = RunKeys(self.settings, None)
            self._registry = ClientRegistry(self.settings, self._tenant_key, verify=harness_verify(self.settings))
        return self

    def prepare(self, names: Iterable[str]) -> None:
        """Resolve the clients `names` now (keys loaded or provisioned): a broken one fails before any test."""
        registry = self.start().registry
        for name in sorted(set(names)):
            registry.resolve(name)

    def _tenant_key(self, spec: ClientSpec) -> ServiceKey:
        assert self.keys is not None
        if spec.source == "provision" and self.keys.provisioner is None:
            self.keys.provisioner = provisioner_from_settings(self.settings)  # only when a client needs it
        return self.keys.prepare([spec])[spec.name]

    def describe(self) -> dict[str, str]:
        """Facts for the report's environment table (never a secret)."""
        facts = {"Target": self.settings.target, "Profile": self.settings.profile or "(none)"}
        if self.emulator is not None:
            facts["Tenant"] = f"emulated tenant at {self.emulator.url}"
        if self.offline_keys is not None:
            facts["Tenant"] = "offline: answers replayed from cassettes"
        if self.gate is not None and self.gate.unread:
            facts["Deployments"] = f"not read: {self.gate.unread}"
        elif self.gate is not None and self.gate.statuses:
            wanted = {spec.artifact_id for spec in self.settings.iflows.values()}
            facts["Deployments"] = ", ".join(
                f"{s.id} {s.status}" for s in sorted(self.gate.statuses.values(), key=lambda s: s.id) if s.id in wanted
            )
        return facts

    def headline(self) -> str:
        """The run's first and last line: the target, the profile and where the calls go (never a secret)."""
        settings = self.settings
        if self.offline_keys is not None:
            where = "offline: cassettes"
        elif settings.target == "emulator":
            where = "emulated tenant"
        else:
            hosts = sorted(configured_hosts(settings))
            if hosts:
                where = ("host " if len(hosts) == 1 else "hosts ") + ", ".join(hosts)
            else:
                cf = urlsplit(settings.cf.api).hostname if settings.cf.api else None
                where = f"clients provisioned through {cf or 'the cf CLI session'}"
        return f"iflowtest: target {settings.target}, profile {settings.profile or 'none'}, {where}"

    def release_clients(self) -> None:
        """Close connections, remove certificate files and delete provisioned clients; safe to call twice."""
        try:
            if self._pool is not None:
                self._pool.close()
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


def configured_hosts(settings: Settings) -> set[str]:
    """The runtime hosts of the keys a profile configures (the 'api'-plan hosts when it has no other)."""
    hosts: dict[str, set[str]] = {"integration-flow": set(), "api": set()}
    for spec in settings.clients.values():
        if not spec.service_key and spec.source != "variables":
            continue
        try:
            key = load_configured_key(spec, settings)
        except IflowtestError:
            continue  # the target's start names the broken key; the headline only names hosts
        hosts[spec.plan].add(urlsplit(key.url).hostname or "")
    return (hosts["integration-flow"] or hosts["api"]) - {""}


# ---------------------------------------------------------------- the emulated tenant
def parse_emulator_fault(text: str) -> tuple[str, Any]:
    """A fault in the `iflowtest emulator --fault` syntax as (target, fault); ValueError says what is wrong."""
    from iflowtest.emulator.faults import parse_fault

    return parse_fault(text)


def check_emulator_faults(settings: Settings) -> None:
    """Refuse `[tool.iflowtest.emulator] faults` the emulator cannot inject, before anything starts."""
    if not settings.emulator.faults:
        return
    from iflowtest.emulator.server import ENDPOINT_TARGETS

    targets = (*(flow.name for flow in emulator_catalog(settings).flows), *ENDPOINT_TARGETS)
    for text in settings.emulator.faults:
        try:
            target, _ = parse_emulator_fault(text)
        except ValueError as exc:
            raise ConfigError(f"[tool.iflowtest.emulator] faults: {exc}") from None
        if target not in targets:
            raise ConfigError(
                f"[tool.iflowtest.emulator] faults: unknown target {target!r}: use one of the tenant's iFlows or "
                f"endpoints: {', '.join(targets)}"
            )


def check_project_iflows(settings: Settings) -> None:
    """Refuse a project `iflows.yaml` the emulator cannot deploy (typo, clash, unknown behaviour), before any test."""
    if settings.emulator.iflows is not None:  # the samples alone need no check (and no emulator import)
        emulator_catalog(settings)


def emulator_catalog(settings: Settings) -> Any:
    """The flows the emulator deploys for this project: the samples and those of its `iflows.yaml`."""
    from iflowtest.emulator.catalog import Catalog
    from iflowtest.emulator.server import own_source

    path = settings.emulator.iflows
    if path is None:
        return Catalog.load()
    return Catalog.load().merged(
        Catalog.load_project(path, settings.root),
        samples="iflowtest's sample iflows.yaml",
        project=own_source(path, settings.root),
    )


def new_emulator(settings: Settings, host: str = "127.0.0.1", port: int = 0, **options: Any) -> Any:
    """An emulated tenant (not started) set up from `[tool.iflowtest.emulator]`; `options` override it."""
    from iflowtest.emulator import Emulator

    table = settings.emulator
    # Switches that are attributes of a running emulator, not constructor arguments.
    body_limit_status = options.pop("body_limit_status", table.body_limit_status)
    odata_errors = options.pop("odata_errors", table.odata_errors)
    chosen: dict[str, Any] = {
        "token_lifetime": table.token_lifetime,
        "mpl_header": table.mpl_header,
        "tls": table.tls,
        "next_links": table.next_links,
        "log_delay": table.log_delay,
        "processing": table.processing,
        "display_names": table.display_names,
        "separate_hosts": table.separate_hosts,
        "project_catalog": table.iflows,
        "project_root": settings.root,
    } | options
    emulator = Emulator(host, port, **chosen)
    emulator.body_limit_status = body_limit_status
    emulator.odata_errors = odata_errors
    emulator.cloud_foundry.job_delay = table.job_delay
    emulator.cloud_foundry.services_quota = table.services_quota
    return emulator


def emulator_provisioner(emulator: Any, settings: Settings) -> Provisioner:
    """A provisioner that reaches the emulated tenant's CF API over HTTP, as its space developer."""
    landscape = emulator.cloud_foundry
    client = CloudFoundryClient(
        emulator.cf_api,
        CfCredentials(username=landscape.username, password=Secret(landscape.password)),
        verify=harness_verify(settings, str(emulator.ca_file)),
        timeout=(settings.connect_timeout, settings.read_timeout),
    )
    return Provisioner(client, org=landscape.org_name, space=landscape.space_name, job_timeout=settings.cf.job_timeout)


def emulator_service_keys(emu: Any, settings: Settings, *, tls: bool) -> list[tuple[ClientSpec, dict[str, Any]]]:
    """Keys for every declared client of a standing emulator (`iflowtest emulator`), as CPI shows them."""
    if not tls:
        # requests-oauthlib refuses the CF password grant over plain HTTP, so without TLS the keys are
        # issued in-process (the broker's own primitive).
        return [
            (
                spec,
                emu.issue_service_key(
                    spec.name,
                    plan=spec.plan,
                    roles=spec.roles,
                    grant_types=spec.grant_types,
                    token_validity=spec.token_validity,
                ),
            )
            for spec in settings.clients.values()
        ]
    # Provisioned through the emulator's own CF API, as every run does.
    # They stay until the emulator stops, so nothing deletes them here.
    provisioner = emulator_provisioner(emu, settings)
    keys = RunKeys(settings, provisioner, run_id=STANDING)  # not leftovers to `provision cleanup`
    try:
        keys.prepare(settings.clients.values(), provision_all=True)
    finally:
        provisioner.cf.close()
    return [(settings.clients[c.client], c.credentials) for c in keys.provisioned]


def emulator_cf_profile(emu: Any) -> str:
    """A profile that points the harness at the emulator's CF API (a throw-away landscape's password)."""
    landscape = emu.cloud_foundry
    return (
        "# The emulated landscape of `iflowtest emulator`; valid while it runs.\n"
        f"IFLOWTEST_CF_API={emu.cf_api}\n"
        f"IFLOWTEST_CF_ORG={landscape.org_name}\n"
        f"IFLOWTEST_CF_SPACE={landscape.space_name}\n"
        f"IFLOWTEST_CF_USERNAME={landscape.username}\n"
        f"IFLOWTEST_CF_PASSWORD={landscape.password}\n"
        f"IFLOWTEST_CA_BUNDLE={emu.ca_file}\n"
    )


def keys_issued_in_process(emu: Any, settings: Settings) -> dict[str, ServiceKey]:
    """Keys of an emulator without TLS (requests-oauthlib refuses the CF password grant over plain HTTP)."""
    keys = {}
    for spec, credentials in emulator_service_keys(emu, settings, tls=False):
        key = ServiceKey.from_mapping(credentials, f"emulator key of client {spec.name!r}")
        check_key_fits(spec, key)
        keys[spec.name] = key
    return keys
