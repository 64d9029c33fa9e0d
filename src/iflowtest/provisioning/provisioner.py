"""Provisioning a declared OAuth client: one Process Integration Runtime instance with one service key.

Everything is checked locally before the first call (cpi-facts §1, §6): the plan, role names, grant types
(`client_x509` is refused: it reached its end of life in January 2026), instance and key names. Then the
plan is looked up, the instance created and its job polled with backoff up to an overall timeout, one key
created (ClientId/Secret, or certificate with validity and key length) and its credentials read from
`/details`. One instance per client, never a second key on an instance (keys of one instance share its
credentials). Instance names carry the run prefix `iflowtest-<run id>-<client>`, which is how
`cleanup` finds what crashed runs left behind.
"""

from __future__ import annotations

import re
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import requests

from iflowtest.credentials.servicekey import ServiceKey
from iflowtest.errors import CloudFoundryError, ProvisioningError
from iflowtest.provisioning.cfapi import CloudFoundryClient
from iflowtest.settings import KEY_TYPES, PLANS, ROLE_PATTERN

OFFERING: Final = "it-rt"
RUN_PREFIX: Final = "iflowtest-"
CLEANUP_AGE: Final = "6h"  # the default of `iflowtest provision cleanup --older-than`, and what the next run reports
NAME_LIMIT: Final = 32
# JSON spellings of the grant types the docs list (cpi-facts §1; only the first two are confirmed).
GRANT_TYPES: Final = (
    "client_credentials",
    "password",
    "authorization_code",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:saml2-bearer",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
)
_NAME = re.compile(r"[A-Za-z0-9._-]+")
_RUN_ID_ALPHABET: Final = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class ClientRequest:
    """What one client needs from the broker: plan, roles, grant types and the kind of key."""

    client: str
    plan: str = "integration-flow"
    roles: tuple[str, ...] = ("ESBMessaging.send",)
    grant_types: tuple[str, ...] = ("client_credentials",)
    key_type: str = "secret"
    validity: int = 365
    key_length: int = 2048
    token_validity: int | None = None
    where: str = "the command line"

    def parameters(self) -> dict[str, Any]:
        """The instance parameters in the broker's hyphenated JSON."""
        parameters: dict[str, Any] = {"grant-types": list(self.grant_types), "roles": list(self.roles)}
        if self.token_validity is not None:
            parameters["token-validity"] = self.token_validity
        return parameters

    def key_parameters(self) -> dict[str, Any]:
        """The key parameters: none for a ClientId/Secret key."""
        if self.key_type == "certificate":
            return {"key-type": "certificate", "validity": self.validity, "key-length": self.key_length}
        return {}


@dataclass(frozen=True)
class InstanceInfo:
    """A service instance as listed by Cloud Foundry."""

    name: str
    guid: str
    created_at: datetime
    state: str


@dataclass
class ProvisionedClient:
    """A client's instance and key, created for this run."""

    client: str
    instance_name: str
    instance_guid: str
    key_name: str
    key_guid: str
    key: ServiceKey
    credentials: dict[str, Any] = field(repr=False)


# The broker's hyphenated parameter names and the settings keys a user writes for them.
_SETTING_OF_PARAMETER: Final = {
    "token-validity": "token_validity",
    "grant-types": "grant_types",
    "redirect-uris": "redirect_uris",
    "key-type": "key_type",
    "key-length": "key_length",
    "validity": "validity",
    "roles": "roles",
}


def _broker_fix(detail: str, request: ClientRequest | None) -> str:
    """What to change after the broker refused a job: the settings keys its text names, else the usual suspects.

    The broker's own texts are not documented (cpi-facts §1, UNCONFIRMED), so the parameter names are looked
    for anywhere in the text rather than in one expected sentence.
    """
    if request is None:
        return "see the error text"
    named = [
        setting
        for parameter, setting in _SETTING_OF_PARAMETER.items()
        if re.search(rf"(?<![\w-]){re.escape(parameter)}(?![\w-])", detail)
    ]
    if "token_validity" in named:
        return (
            f"the broker does not accept token_validity ('token-validity' is not confirmed by SAP's docs): remove "
            f"token_validity from {request.where} (the plan's default validity applies) and run again"
        )
    what = ", ".join(named) if named else "roles, grant_types or the key type"
    return (
        f"the Process Integration Runtime broker refused the parameters: fix {what} in {request.where} (a custom "
        "role must first exist under Monitor > Manage Security > User Roles) and run again"
    )


def new_run_id() -> str:
    """Six random lower-case letters and digits: short enough to leave room for client names."""
    return "".join(secrets.choice(_RUN_ID_ALPHABET) for _ in range(6))


def instance_name(run_id: str, client: str) -> str:
    """`iflowtest-<run id>-<client>`."""
    return f"{RUN_PREFIX}{run_id}-{client}"


def validate(request: ClientRequest, name: str) -> None:
    """Refuse, before any call, what the broker or Cloud Foundry would refuse later."""
    where = f"client {request.client!r} ({request.where})"
    if request.plan not in PLANS:
        raise ProvisioningError(
            f"{where}: plan {request.plan!r} is not a plan of {OFFERING}: use one of {', '.join(PLANS)}"
        )
    if not request.roles:
        raise ProvisioningError(f"{where}: roles is empty: give at least one role, such as ESBMessaging.send")
    for role in request.roles:
        if not ROLE_PATTERN.match(role):
            raise ProvisioningError(f"{where}: role {role!r} may only use letters, digits, '_' and '.'")
    if "client_x509" in request.grant_types:
        raise ProvisioningError(
            f"{where}: grant type 'client_x509' reached its end of life in January 2026 and no new keys can be "
            "created with it: use grant types ['client_credentials'] with key type 'certificate' (a certificate "
            "key with client_credentials replaces it)"
        )
    if not request.grant_types:
        raise ProvisioningError(f"{where}: grant types are empty: use ['client_credentials']")
    for grant in request.grant_types:
        if grant not in GRANT_TYPES:
            raise ProvisioningError(f"{where}: unknown grant type {grant!r}: use one of {', '.join(GRANT_TYPES)}")
    if request.key_type not in KEY_TYPES:
        raise ProvisioningError(f"{where}: key type {request.key_type!r} is not one of: {', '.join(KEY_TYPES)}")
    if request.key_type == "certificate":
        if "client_credentials" not in request.grant_types:
            raise ProvisioningError(f"{where}: a certificate key needs the grant type client_credentials")
        if not 1 <= request.validity <= 365:
            raise ProvisioningError(f"{where}: certificate validity must be 1 to 365 days, got {request.validity}")
        if request.key_length not in (2048, 3072, 4096):
            raise ProvisioningError(f"{where}: key length must be 2048, 3072 or 4096, got {request.key_length}")
    if request.token_validity is not None and not 3600 <= request.token_validity <= 86400:
        raise ProvisioningError(f"{where}: token validity must be 3600 to 86400 seconds, got {request.token_validity}")
    if len(name) > NAME_LIMIT or not _NAME.fullmatch(name):
        raise ProvisioningError(
            f"{where}: service instance name {name!r} has {len(name)} characters; CF-friendly names have at most "
            f"{NAME_LIMIT} characters from A-Z a-z 0-9 . _ -: use a shorter client name"
        )


class Provisioner:
    """Creates and deletes client instances and keys in one space."""

    def __init__(
        self,
        cf: CloudFoundryClient,
        *,
        org: str | None,
        space: str | None,
        job_timeout: float = 300.0,
        first_poll: float = 0.1,
        max_poll: float = 5.0,
        wait: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cf = cf
        self._org, self._space = org, space
        self._space_guid: str | None = None
        self.job_timeout = job_timeout
        self._first_poll, self._max_poll = first_poll, max_poll
        self._wait, self._clock = wait, clock

    # ------------------------------------------------------------ org and space
    def space_guid(self) -> str:
        """The GUID of the target space (by name or GUID, inside the org)."""
        if self._space_guid is None:
            if not self._org or not self._space:
                raise ProvisioningError(
                    "no Cloud Foundry org and space to provision in: set IFLOWTEST_CF_ORG and IFLOWTEST_CF_SPACE, "
                    "or choose them with `cf target -o ORG -s SPACE`"
                )
            org = self._find("/v3/organizations", self._org, "organization", "IFLOWTEST_CF_ORG", "cf orgs")
            self._space_guid = self._find(
                "/v3/spaces", self._space, "space", "IFLOWTEST_CF_SPACE", "cf spaces", organization_guids=org
            )
        return self._space_guid

    def _find(self, path: str, wanted: str, kind: str, variable: str, command: str, **params: str) -> str:
        by = "guids" if _looks_like_guid(wanted) else "names"
        found = list(self.cf.list(path, **{by: wanted}, **params))
        if not found:
            raise ProvisioningError(
                f"{kind} {wanted!r} was not found at {self.cf.api} or {self.cf.credentials.describe()} cannot see "
                f"it: check {variable} (`{command}` lists yours)"
            )
        return str(found[0]["guid"])

    # ------------------------------------------------------------ create
    def provision(self, request: ClientRequest, name: str) -> ProvisionedClient:
        """Create the client's instance and its one key, and read the key's credentials."""
        validate(request, name)
        space = self.space_guid()
        plan = self._plan_guid(request)
        try:
            response = self.cf.post(
                "/v3/service_instances",
                {
                    "type": "managed",
                    "name": name,
                    "parameters": request.parameters(),
                    "tags": ["iflowtest"],
                    "relationships": {
                        "space": {"data": {"guid": space}},
                        "service_plan": {"data": {"guid": plan}},
                    },
                },
            )
        except CloudFoundryError as exc:
            raise self._create_error(exc, request, name) from None
        instance = self._instance_by_name(name)
        try:
            self._await(response, f"creating service instance {name!r} for client {request.client!r}", request)
            created = self._create_key(request, name, instance)
        except CloudFoundryError as exc:
            left = self._delete_quietly(instance)  # a failed create leaves nothing behind, or says so
            if left is None:
                raise
            raise ProvisioningError(
                f"{exc}; the half-created instance {name!r} may be left behind ({left}): "
                "`iflowtest provision cleanup` removes it",
                status=exc.status,
                code=exc.code,
                title=exc.title,
            ) from None
        except BaseException:
            self._delete_quietly(instance)  # an interrupted create leaves nothing behind either
            raise
        return created

    def _create_key(self, request: ClientRequest, name: str, instance: str) -> ProvisionedClient:
        body: dict[str, Any] = {
            "type": "key",
            "name": name,
            "relationships": {"service_instance": {"data": {"guid": instance}}},
        }
        if request.key_parameters():
            body["parameters"] = request.key_parameters()
        response = self.cf.post("/v3/service_credential_bindings", body)
        self._await(response, f"creating service key {name!r} for client {request.client!r}", request)
        keys = list(self.cf.list("/v3/service_credential_bindings", service_instance_guids=instance, names=name))
        if not keys:
            raise ProvisioningError(f"service key {name!r} was created but is not listed: run again")
        key_guid = str(keys[0]["guid"])
        details = self.cf.get(f"/v3/service_credential_bindings/{key_guid}/details")
        credentials = details.get("credentials") if isinstance(details, dict) else None
        key = ServiceKey.from_mapping(details, f"service key {name!r} of client {request.client!r} (CF /details)")
        return ProvisionedClient(request.client, name, instance, name, key_guid, key, dict(credentials or {}))

    def _plan_guid(self, request: ClientRequest) -> str:
        plans = list(
            self.cf.list(
                "/v3/service_plans",
                service_offering_names=OFFERING,
                names=request.plan,
                space_guids=self.space_guid(),
            )
        )
        if not plans:
            raise ProvisioningError(
                f"plan {request.plan!r} of {OFFERING} is not available in space {self._space!r} for client "
                f"{request.client!r}: check the subaccount's entitlements for Process Integration Runtime (plan "
                f"{request.plan}) and assign it to the subaccount"
            )
        return str(plans[0]["guid"])

    def find_instance(self, name: str) -> str | None:
        """The guid of the space's service instance called `name` (one filtered query), or None."""
        found = list(self.cf.list("/v3/service_instances", names=name, space_guids=self.space_guid()))
        return str(found[0]["guid"]) if found else None

    def _instance_by_name(self, name: str) -> str:
        guid = self.find_instance(name)
        if guid is None:
            raise ProvisioningError(f"service instance {name!r} was accepted but is not listed: run again")
        return guid

    def _create_error(self, exc: CloudFoundryError, request: ClientRequest, name: str) -> CloudFoundryError:
        text = str(exc)
        where = f"service instance {name!r} for client {request.client!r} could not be created"
        if "Invalid service plan" in text:
            return ProvisioningError(
                f"{where} ({text}): check the subaccount's entitlements for Process Integration Runtime "
                f"(plan {request.plan}) and that the plan is visible in space {self._space!r}"
            )
        if "name is taken" in text:
            return ProvisioningError(
                f"{where}: the name is taken in space {self._space!r}: delete the old instance with `iflowtest "
                f"provision delete {name}` (or `iflowtest provision cleanup` for leftovers of crashed runs)"
            )
        if "services limit" in text:
            return ProvisioningError(
                f"{where} ({text}): the org or space quota allows no more service instances: delete unused "
                "instances (`iflowtest provision cleanup`) or ask an org manager for a quota plan with more services"
            )
        return exc

    # ------------------------------------------------------------ jobs
    def _await(self, response: requests.Response, what: str, request: ClientRequest | None = None) -> None:
        location = response.headers.get("Location")
        if response.status_code != 202 or not location:
            return  # synchronous answer (201/204): nothing to wait for
        deadline = self._clock() + self.job_timeout
        pause = self._first_poll
        while True:
            job = self.cf.get(location)
            state = job.get("state")
            if state == "COMPLETE":
                return
            if state == "FAILED":
                errors = job.get("errors") or [{}]
                first = errors[0] if isinstance(errors[0], dict) else {}
                detail = str(first.get("detail", ""))
                raise ProvisioningError(
                    f"{what} failed ({first.get('title', 'job failed')}: {detail}): {_broker_fix(detail, request)}"
                )
            if self._clock() + pause > deadline:
                raise ProvisioningError(
                    f"{what} is still {state} after {self.job_timeout:g} s: the broker is slow or stuck; raise "
                    "IFLOWTEST_CF_JOB_TIMEOUT, or check the instance with `cf service NAME`"
                )
            self._wait(pause)
            pause = min(pause * 2, self._max_poll)

    # ------------------------------------------------------------ delete, list, cleanup
    def deprovision(self, provisioned: ProvisionedClient) -> None:
        """Delete the client's key, then its instance, and wait for both."""
        self._await(
            self.cf.delete(f"/v3/service_credential_bindings/{provisioned.key_guid}"),
            f"deleting service key {provisioned.key_name!r}",
        )
        self._await(
            self.cf.delete(f"/v3/service_instances/{provisioned.instance_guid}"),
            f"deleting service instance {provisioned.instance_name!r}",
        )

    def delete_instance(self, guid: str, name: str) -> None:
        """Delete an instance's keys, then the instance."""
        for key in list(self.cf.list("/v3/service_credential_bindings", service_instance_guids=guid, type="key")):
            self._await(
                self.cf.delete(f"/v3/service_credential_bindings/{key['guid']}"),
                f"deleting service key {key['name']!r}",
            )
        self._await(self.cf.delete(f"/v3/service_instances/{guid}"), f"deleting service instance {name!r}")

    def _delete_quietly(self, guid: str) -> str | None:
        """Delete a half-created instance; None when it is gone, else why not (the caller's error comes first)."""
        try:
            self._await(self.cf.delete(f"/v3/service_instances/{guid}"), "deleting a failed service instance")
        except CloudFoundryError as exc:
            if exc.title == "CF-AsyncServiceInstanceOperationInProgress":
                return "Cloud Foundry refuses to delete it while its creation is still in progress"
            return str(exc).split(": ", 1)[0]  # what happened, without the advice meant for a create
        return None

    def instances(self, prefix: str = RUN_PREFIX) -> list[InstanceInfo]:
        """The instances in the space whose names start with `prefix`, oldest first."""
        found = []
        for item in self.cf.list("/v3/service_instances", space_guids=self.space_guid()):
            name = str(item.get("name", ""))
            if name.startswith(prefix):
                state = (item.get("last_operation") or {}).get("state", "")
                found.append(InstanceInfo(name, str(item["guid"]), _parse_time(item.get("created_at")), str(state)))
        return sorted(found, key=lambda i: i.created_at)

    def instances_older_than(self, age: timedelta, now: datetime | None = None) -> list[InstanceInfo]:
        """Run-prefixed instances created more than `age` ago, oldest first."""
        cutoff = (now or datetime.now(UTC)) - age
        return [info for info in self.instances() if info.created_at <= cutoff]

    def cleanup(self, older_than: timedelta, now: datetime | None = None) -> list[str]:
        """Delete run-prefixed instances (and their keys) created more than `older_than` ago; their names."""
        deleted = []
        for info in self.instances_older_than(older_than, now):
            self.delete_instance(info.guid, info.name)
            deleted.append(info.name)
        return deleted


_LONGEST_DURATION_S: Final = 36500 * 86400


def parse_duration(text: str) -> timedelta:
    """`30m`, `6h`, `2d` (or plain seconds) as a timedelta; ValueError otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if not match:
        raise ValueError(f"{text!r} is not a duration: use a number with s, m, h or d, such as 6h")
    amount, unit = int(match.group(1)), match.group(2) or "s"
    seconds = amount * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    if seconds > _LONGEST_DURATION_S:
        raise ValueError(f"{text!r} is not a duration iflowtest can use: at most 36500d (a hundred years)")
    return timedelta(seconds=seconds)


def _looks_like_guid(value: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", value))


def _parse_time(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    return datetime.now(UTC)  # unknown age: never old enough to be cleaned up by mistake
