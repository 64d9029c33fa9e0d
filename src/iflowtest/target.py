"""One run's connection to its target: the bundled emulated tenant, or a real tenant from a profile."""

from __future__ import annotations

from typing import Any

from .clients import ClientRegistry, KeyProvider, check_key_fits, load_configured_key
from .servicekey import ServiceKey
from .settings import ClientSpec, Settings


class TargetSession:
    """Starts what the target needs (the emulator), owns the client registry, and undoes it all on close."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.emulator: Any = None  # iflowtest.emulator.Emulator when the target is the emulator
        self._registry: ClientRegistry | None = None
        # Set for offline replay: every client gets a placeholder key and nothing is started or contacted.
        self.offline_keys: KeyProvider | None = None

    @property
    def registry(self) -> ClientRegistry:
        """The run's clients (starts the target on first use)."""
        if self._registry is None:
            self.start()
        assert self._registry is not None
        return self._registry

    def start(self) -> TargetSession:
        """Start the emulator (emulator target) or check every configured key (tenant target)."""
        if self._registry is not None:
            return self
        if self.offline_keys is not None:
            self._registry = ClientRegistry(self.settings, self.offline_keys)
            return self
        if self.settings.target == "emulator":
            from .emulator import Emulator  # imported lazily: a tenant run never loads the emulator

            options = self.settings.emulator
            self.emulator = Emulator(
                token_lifetime=options.token_lifetime, mpl_header=options.mpl_header, tls=options.tls
            ).start()
            verify: bool | str = str(self.emulator.ca_file) if options.tls else True
            self._registry = ClientRegistry(self.settings, self._emulator_key, verify=verify)
        else:
            # Parse every key before the first test so a broken profile fails the run at once.
            keys = {name: load_configured_key(spec, self.settings) for name, spec in self.settings.clients.items()}
            self._registry = ClientRegistry(
                self.settings, lambda spec: keys[spec.name], verify=self.settings.ca_bundle or True
            )
        return self

    def _emulator_key(self, spec: ClientSpec) -> ServiceKey:
        issued = self.emulator.issue_service_key(
            spec.name,
            plan=spec.plan,
            roles=spec.roles,
            grant_types=spec.grant_types,
            key_type=spec.key_type,
            token_validity=spec.token_validity,
        )
        key = ServiceKey.from_mapping(issued, f"emulator key of client {spec.name!r}")
        check_key_fits(spec, key)
        return key

    def describe(self) -> dict[str, str]:
        """Facts for the report's environment table (never a secret)."""
        facts = {"Target": self.settings.target, "Profile": self.settings.profile or "(none)"}
        if self.emulator is not None:
            facts["Tenant"] = f"emulated tenant at {self.emulator.url}"
        if self.offline_keys is not None:
            facts["Tenant"] = "offline: answers replayed from cassettes"
        return facts

    def close(self) -> None:
        """Close connections and stop the emulator; safe to call twice."""
        try:
            if self._registry is not None:
                self._registry.close()
        finally:
            if self.emulator is not None:
                self.emulator.stop()
