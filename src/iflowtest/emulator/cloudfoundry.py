"""The Cloud Foundry V3 API of the emulated landscape, under `/cf`, with its UAA under `/cf/uaa`.

Just what provisioning a Process Integration Runtime client takes (cpi-facts §6): the root document with
its login/uaa links, the UAA of the `cf` client (`cfuaa.py`), one org with one space,
`service_plans` with their filters, managed `service_instances`, `jobs` that move PROCESSING → POLLING →
COMPLETE|FAILED after a configurable delay (or an injected `cf-jobs` fault: `faults.py`), `service_credential_bindings` of type key with `/details`, and
deletes. Errors use the V3 envelope `{"errors": [{"code", "title", "detail"}]}` with Cloud Controller's texts.
Instance and key requests go to the it-rt broker (`broker.py`); its refusals fail the job.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from werkzeug.wrappers import Request, Response

from iflowtest.emulator.broker import OFFERING, BrokerError, ProcessIntegrationBroker
from iflowtest.emulator.cfuaa import CfError, CfUaa, json_response
from iflowtest.emulator.faults import Fault, FaultPlan
from iflowtest.emulator.tenant import PLANS, Clock

CF_PREFIX: Final = "/cf"
_PER_PAGE: Final = 50


@dataclass
class _Job:
    guid: str
    operation: str
    created: float
    failure: dict[str, Any] | None
    resource: str | None
    fault: Fault | None = None  # an injected `cf-jobs` fault that decides how long this job takes


@dataclass
class _Instance:
    guid: str
    name: str
    plan: str
    parameters: dict[str, Any]
    created: datetime
    job: str  # the job of its last operation: the create, or a delete in progress
    failed: str | None = None
    operation: str = "create"


@dataclass
class _Binding:
    guid: str
    name: str
    instance: str
    credentials: dict[str, Any] = field(repr=False)
    created: datetime


def _not_found(what: str) -> CfError:
    return CfError(404, 10010, "CF-ResourceNotFound", f"{what} not found")


def _unprocessable(detail: str) -> CfError:
    return CfError(422, 10008, "CF-UnprocessableEntity", detail)


class CloudFoundry:
    """One org with one space, a user who is Space Developer there, and the it-rt service offering."""

    def __init__(self, clock: Clock, broker: ProcessIntegrationBroker, signing_key: bytes) -> None:
        self._clock = clock
        self.broker = broker
        self._lock = threading.RLock()
        self.org_name, self.org_guid = "iflowtest-org", str(uuid.uuid4())
        self.space_name, self.space_guid = "dev", str(uuid.uuid4())
        self.uaa = CfUaa(clock, signing_key)
        self.username, self.password = self.uaa.username, self.uaa.password
        self._plans = {name: str(uuid.uuid4()) for name in PLANS}
        self.offering_guid = str(uuid.uuid4())
        self.entitled_plans: set[str] = set(PLANS)
        self.services_quota: int | None = None
        self.space_services_quota: int | None = None
        self.job_delay = 0.0
        self.faults: FaultPlan | None = None  # the emulator's, for `cf-jobs` faults
        self._rate_limited = 0
        self._retry_after = 1
        self._instances: dict[str, _Instance] = {}
        self._bindings: dict[str, _Binding] = {}
        self._jobs: dict[str, _Job] = {}

    # ------------------------------------------------------------ knobs and observations
    def add_user(self, username: str, password: str, *, space_developer: bool = True) -> None:
        """Another CF user (without Space Developer, writes are refused with 403)."""
        self.uaa.add_user(username, password, space_developer=space_developer)

    def issue_refresh_token(self, username: str | None = None) -> str:
        """A refresh token for `username` (default: the space developer), as a cf session would hold one."""
        return self.uaa.issue_refresh_token(username)

    def rate_limit(self, requests: int, retry_after: int = 1) -> None:
        """Answer the next `requests` V3 requests with 429 and `Retry-After: retry_after`."""
        with self._lock:
            self._rate_limited, self._retry_after = requests, retry_after

    def instance_names(self) -> list[str]:
        """Names of the service instances that exist now, oldest first."""
        with self._lock:
            return [i.name for i in sorted(self._instances.values(), key=lambda i: i.created)]

    def key_count(self) -> int:
        """Service keys that exist now."""
        with self._lock:
            return len(self._bindings)

    def set_created_at(self, name: str, when: datetime) -> None:
        """Backdate an instance (tests of `provision cleanup --older-than`)."""
        with self._lock:
            for instance in self._instances.values():
                if instance.name == name:
                    instance.created = when

    # ------------------------------------------------------------ HTTP
    def handle(self, request: Request) -> Response:
        """Answer one request under `/cf`."""
        base = request.host_url.rstrip("/") + CF_PREFIX
        path = request.path[len(CF_PREFIX) :].rstrip("/")
        try:
            if path == "":
                return json_response(200, _root(base))
            if path == "/uaa/oauth/token":
                return self.uaa.token(request)
            if not path.startswith("/v3/"):
                raise CfError(404, 10000, "CF-NotFound", "Unknown request")
            user = self.uaa.authenticate(request)
            with self._lock:
                if self._rate_limited > 0:
                    self._rate_limited -= 1
                    raise CfError(
                        429,
                        20008,
                        "CF-UaaRateLimited",
                        "Rate Limit Exceeded",
                        {"Retry-After": str(self._retry_after)},
                    )
                return self._v3(request, path[len("/v3") :], base, user)
        except CfError as exc:
            return json_response(
                exc.status, {"errors": [{"code": exc.code, "title": exc.title, "detail": exc.detail}]}, exc.headers
            )

    def _v3(self, request: Request, path: str, base: str, user: tuple[str, bool]) -> Response:
        method = request.method
        parts = path.strip("/").split("/")
        if method in ("POST", "DELETE") and not user[1]:
            raise CfError(403, 10003, "CF-NotAuthorized", "You are not authorized to perform the requested action")
        self._purge_deleted()
        resource = parts[0]
        if resource == "organizations" and len(parts) == 1 and method == "GET":
            return self._page(request, base, [self._org(base)], {"names": "name", "guids": "guid"})
        if resource == "spaces" and len(parts) == 1 and method == "GET":
            return self._page(
                request,
                base,
                [self._space(base)],
                {"names": "name", "guids": "guid", "organization_guids": "org_guid"},
            )
        if resource == "service_plans" and len(parts) == 1 and method == "GET":
            plans = [self._plan(name, base) for name in PLANS if name in self.entitled_plans]
            return self._page(
                request,
                base,
                plans,
                {
                    "names": "name",
                    "service_offering_names": "offering_name",
                    "service_offering_guids": "relationships.service_offering.data.guid",
                    "space_guids": "space_guid",
                    "organization_guids": "org_guid",
                },
            )
        if resource == "service_offerings" and len(parts) == 1 and method == "GET":
            return self._page(
                request,
                base,
                [self._offering(base)],
                {
                    "names": "name",
                    "guids": "guid",
                    "service_broker_names": "broker_catalog.metadata.broker",
                    "space_guids": "space_guid",
                    "organization_guids": "org_guid",
                },
            )
        if resource == "jobs" and len(parts) == 2 and method == "GET":
            job = self._jobs.get(parts[1])
            if job is None:
                raise _not_found("Job")
            return json_response(200, self._job(job, base))
        if resource == "service_instances":
            return self._service_instances(request, parts[1:], base)
        if resource == "service_credential_bindings":
            return self._bindings_endpoint(request, parts[1:], base)
        raise CfError(404, 10000, "CF-NotFound", "Unknown request")

    # ------------------------------------------------------------ service instances
    def _service_instances(self, request: Request, rest: list[str], base: str) -> Response:
        method = request.method
        if not rest and method == "POST":
            return self._create_instance(_body(request), base)
        if not rest and method == "GET":
            resources = [self._instance(i, base) for i in sorted(self._instances.values(), key=lambda i: i.created)]
            return self._page(
                request,
                base,
                resources,
                {
                    "names": "name",
                    "space_guids": "space_guid",
                    "service_plan_guids": "relationships.service_plan.data.guid",
                    "type": "type",
                },
            )
        instance = self._instances.get(rest[0]) if rest else None
        if instance is None:
            raise _not_found("Service instance")
        if len(rest) == 1 and method == "GET":
            return json_response(200, self._instance(instance, base))
        if len(rest) == 1 and method == "DELETE":
            # Asynchronous, as Cloud Controller runs it: the instance stays, its last operation "delete in
            # progress", until the job completes; a delete while another operation runs is refused.
            if self._state(self._jobs[instance.job]) not in ("COMPLETE", "FAILED"):
                raise CfError(
                    422,
                    60016,
                    "CF-AsyncServiceInstanceOperationInProgress",
                    "There is an operation in progress for the service instance.",
                )
            for binding in [b for b in self._bindings.values() if b.instance == instance.guid]:
                self._delete_binding(binding)
            job = self._new_job("service_instance.delete", None, instance.guid)
            instance.job, instance.operation, instance.failed = job.guid, "delete", None
            return self._accepted(job, base)
        raise CfError(404, 10000, "CF-NotFound", "Unknown request")

    def _purge_deleted(self) -> None:
        """Forget instances whose delete job has completed (a failed delete leaves the instance)."""
        for instance in list(self._instances.values()):
            if instance.operation == "delete" and self._state(self._jobs[instance.job]) == "COMPLETE":
                del self._instances[instance.guid]

    def _create_instance(self, body: dict[str, Any], base: str) -> Response:
        name = body.get("name")
        if body.get("type") != "managed" or not isinstance(name, str) or not name:
            raise _unprocessable("Type must be one of 'managed', 'user-provided'; Name must be a non-empty string")
        relationships = body.get("relationships") or {}
        space = ((relationships.get("space") or {}).get("data") or {}).get("guid")
        plan_guid = ((relationships.get("service_plan") or {}).get("data") or {}).get("guid")
        if space != self.space_guid:
            raise _unprocessable("Invalid space. Ensure that the space exists and you have access to it.")
        plan = next((n for n, g in self._plans.items() if g == plan_guid and n in self.entitled_plans), None)
        if plan is None:
            raise _unprocessable(
                "Invalid service plan. Ensure that the service plan exists, is available, and you have access to it."
            )
        if any(i.name == name for i in self._instances.values()):
            raise _unprocessable(f"The service instance name is taken: {name}.")
        if self.services_quota is not None and len(self._instances) >= self.services_quota:
            raise _unprocessable("You have exceeded your organization's services limit.")
        if self.space_services_quota is not None and len(self._instances) >= self.space_services_quota:
            raise _unprocessable("You have exceeded your space's services limit.")
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise _unprocessable("Parameters must be an object")
        failure: dict[str, Any] | None = None
        try:
            self.broker.check_instance(plan, parameters)
        except BrokerError as exc:
            failure = {"code": 10001, "title": "CF-ServiceBrokerBadResponse", "detail": f"Service broker error: {exc}"}
        guid = str(uuid.uuid4())
        job = self._new_job("service_instance.create", failure, guid)
        self._instances[guid] = _Instance(
            guid, name, plan, dict(parameters), self._clock.now_utc(), job.guid, failure["detail"] if failure else None
        )
        return self._accepted(job, base)

    # ------------------------------------------------------------ service credential bindings (keys)
    def _bindings_endpoint(self, request: Request, rest: list[str], base: str) -> Response:
        method = request.method
        if not rest and method == "POST":
            return self._create_key(_body(request), base)
        if not rest and method == "GET":
            resources = [self._binding(b, base) for b in sorted(self._bindings.values(), key=lambda b: b.created)]
            return self._page(
                request, base, resources, {"names": "name", "service_instance_guids": "instance_guid", "type": "type"}
            )
        binding = self._bindings.get(rest[0]) if rest else None
        if binding is None:
            raise _not_found("Service credential binding")
        if len(rest) == 2 and rest[1] == "details" and method == "GET":
            return json_response(
                200, {"credentials": binding.credentials, "syslog_drain_url": None, "volume_mounts": []}
            )
        if len(rest) == 1 and method == "GET":
            return json_response(200, self._binding(binding, base))
        if len(rest) == 1 and method == "DELETE":
            self._delete_binding(binding)
            return self._accepted(self._new_job("service_keys.delete", None, binding.guid), base)
        raise CfError(404, 10000, "CF-NotFound", "Unknown request")

    def _create_key(self, body: dict[str, Any], base: str) -> Response:
        name = body.get("name")
        if body.get("type") != "key" or not isinstance(name, str) or not name:
            raise _unprocessable("Type must be 'key' or 'app'; Name must be a non-empty string")
        relationships = body.get("relationships") or {}
        instance_guid = ((relationships.get("service_instance") or {}).get("data") or {}).get("guid")
        instance = self._instances.get(instance_guid or "")
        if instance is None:
            raise _unprocessable(f"The service instance could not be found: '{instance_guid}'.")
        if instance.failed:
            raise _unprocessable("Service instance is not ready: its last operation failed.")
        if any(b.instance == instance.guid and b.name == name for b in self._bindings.values()):
            raise _unprocessable(
                "The binding name is invalid. Key binding names must be unique. The service instance already has a "
                f"key binding with name '{name}'."
            )
        parameters = body.get("parameters") or {}
        guid = str(uuid.uuid4())
        try:
            credentials = self.broker.issue(instance.name, instance.plan, instance.parameters, parameters)
        except BrokerError as exc:
            failure = {"code": 10001, "title": "CF-ServiceBrokerBadResponse", "detail": f"Service broker error: {exc}"}
            return self._accepted(self._new_job("service_keys.create", failure, guid), base)
        self._bindings[guid] = _Binding(guid, name, instance.guid, credentials, self._clock.now_utc())
        return self._accepted(self._new_job("service_keys.create", None, guid), base)

    def _delete_binding(self, binding: _Binding) -> None:
        self.broker.revoke(binding.credentials)
        del self._bindings[binding.guid]

    # ------------------------------------------------------------ jobs
    def _new_job(self, operation: str, failure: dict[str, Any] | None, resource: str | None) -> _Job:
        fault = self.faults.job_fault() if self.faults is not None else None
        job = _Job(str(uuid.uuid4()), operation, self._clock.now(), failure, resource, fault)
        self._jobs[job.guid] = job
        return job

    def _accepted(self, job: _Job, base: str) -> Response:
        # Cloud Controller's 202 for an asynchronous operation has no body: only the job in `Location`.
        return Response(b"", status=202, headers={"Location": f"{base}/v3/jobs/{job.guid}"})

    def _state(self, job: _Job) -> str:
        elapsed = self._clock.now() - job.created
        injected = self.faults.job_delay(job.fault) if self.faults is not None and job.fault is not None else None
        delay = self.job_delay if injected is None else injected
        if elapsed < delay / 2:
            return "PROCESSING"
        if elapsed < delay:
            return "POLLING"
        return "FAILED" if job.failure else "COMPLETE"

    def _job(self, job: _Job, base: str) -> dict[str, Any]:
        state = self._state(job)
        stamp = _stamp(datetime.fromtimestamp(job.created, UTC))
        return {
            "guid": job.guid,
            "created_at": stamp,
            "updated_at": stamp,
            "operation": job.operation,
            "state": state,
            "errors": [job.failure] if state == "FAILED" and job.failure else [],
            "warnings": [],
            "links": {"self": {"href": f"{base}/v3/jobs/{job.guid}"}},
        }

    # ------------------------------------------------------------ representations
    def _org(self, base: str) -> dict[str, Any]:
        return {
            "guid": self.org_guid,
            "name": self.org_name,
            "links": {"self": {"href": f"{base}/v3/organizations/{self.org_guid}"}},
        }

    def _space(self, base: str) -> dict[str, Any]:
        return {
            "guid": self.space_guid,
            "name": self.space_name,
            "org_guid": self.org_guid,
            "relationships": {"organization": {"data": {"guid": self.org_guid}}},
            "links": {"self": {"href": f"{base}/v3/spaces/{self.space_guid}"}},
        }

    def _plan(self, name: str, base: str) -> dict[str, Any]:
        guid = self._plans[name]
        return {
            "guid": guid,
            "name": name,
            "available": True,
            "offering_name": OFFERING,
            "space_guid": self.space_guid,
            "org_guid": self.org_guid,
            "broker_catalog": {"id": f"{OFFERING}-{name}"},
            "metadata": {"labels": {}, "annotations": {}},
            "relationships": {"service_offering": {"data": {"guid": self.offering_guid}}},
            "links": {"self": {"href": f"{base}/v3/service_plans/{guid}"}},
        }

    def _offering(self, base: str) -> dict[str, Any]:
        return {
            "guid": self.offering_guid,
            "name": OFFERING,
            "description": "SAP Process Integration Runtime",
            "available": True,
            "space_guid": self.space_guid,
            "org_guid": self.org_guid,
            "broker_catalog": {"id": OFFERING, "metadata": {"broker": "it-rt-broker"}},
            "metadata": {"labels": {}, "annotations": {}},
            "links": {
                "self": {"href": f"{base}/v3/service_offerings/{self.offering_guid}"},
                "service_plans": {"href": f"{base}/v3/service_plans?service_offering_guids={self.offering_guid}"},
            },
        }

    def _instance(self, instance: _Instance, base: str) -> dict[str, Any]:
        state = self._state(self._jobs[instance.job])
        operation_state = {"COMPLETE": "succeeded", "FAILED": "failed"}.get(state, "in progress")
        return {
            "guid": instance.guid,
            "name": instance.name,
            "type": "managed",
            "created_at": _stamp(instance.created),
            "updated_at": _stamp(instance.created),
            "space_guid": self.space_guid,
            "tags": [],
            "last_operation": {
                "type": instance.operation,
                "state": operation_state,
                "description": instance.failed or "",
            },
            "metadata": {"labels": {}, "annotations": {}},
            "relationships": {
                "space": {"data": {"guid": self.space_guid}},
                "service_plan": {"data": {"guid": self._plans[instance.plan]}},
            },
            "links": {"self": {"href": f"{base}/v3/service_instances/{instance.guid}"}},
        }

    def _binding(self, binding: _Binding, base: str) -> dict[str, Any]:
        return {
            "guid": binding.guid,
            "name": binding.name,
            "type": "key",
            "instance_guid": binding.instance,
            "created_at": _stamp(binding.created),
            "last_operation": {"type": "create", "state": "succeeded"},
            "metadata": {"labels": {}, "annotations": {}},
            "relationships": {"service_instance": {"data": {"guid": binding.instance}}},
            "links": {
                "self": {"href": f"{base}/v3/service_credential_bindings/{binding.guid}"},
                "details": {"href": f"{base}/v3/service_credential_bindings/{binding.guid}/details"},
            },
        }

    def _page(self, request: Request, base: str, resources: list[dict[str, Any]], filters: dict[str, str]) -> Response:
        """A V3 list: filters (attribute paths with dots reach into the resource), `label_selector`, pagination.

        `fields[...]` (extra fields of related resources in `included`) is accepted and answered with no
        `included`: the cf CLI asks for it, the harness does not read it.
        """
        for parameter, attribute in filters.items():
            wanted = request.args.get(parameter)
            if wanted is not None:
                values = set(wanted.split(","))
                resources = [r for r in resources if str(_attribute(r, attribute)) in values]
        selector = request.args.get("label_selector")
        if selector is not None:
            resources = [r for r in resources if _labels_match(r.get("metadata", {}).get("labels", {}), selector)]
        fields = {name for name in request.args if re.fullmatch(r"fields\[[a-z_.]+\]", name)}
        known = {"page", "per_page", "include", "available", "order_by", "label_selector"}
        unknown = set(request.args) - set(filters) - known - fields
        if unknown:
            raise CfError(
                400,
                10005,
                "CF-BadQueryParameter",
                f"The query parameter is invalid: Unknown query parameter(s): '{', '.join(sorted(unknown))}'",
            )
        try:
            page = max(int(request.args.get("page", 1)), 1)
            per_page = min(max(int(request.args.get("per_page", _PER_PAGE)), 1), 5000)
        except ValueError:
            raise CfError(
                400, 10005, "CF-BadQueryParameter", "The query parameter is invalid: Page must be an integer"
            ) from None
        total = len(resources)
        pages = max((total + per_page - 1) // per_page, 1)
        url = base + request.path[len(CF_PREFIX) :]
        query = "&".join(f"{k}={v}" for k, v in request.args.items() if k not in ("page", "per_page"))

        def link(number: int) -> dict[str, str]:
            return {"href": f"{url}?{query + '&' if query else ''}page={number}&per_page={per_page}"}

        body = {
            "pagination": {
                "total_results": total,
                "total_pages": pages,
                "first": link(1),
                "last": link(pages),
                "next": link(page + 1) if page < pages else None,
                "previous": link(page - 1) if page > 1 else None,
            },
            "resources": resources[(page - 1) * per_page : page * per_page],
        }
        return json_response(200, body)


def _attribute(resource: dict[str, Any], path: str) -> Any:
    value: Any = resource
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _labels_match(labels: dict[str, str], selector: str) -> bool:
    """CF's label selector: comma-separated `key`, `!key`, `key=value`, `key!=value`, `key in (a,b)` terms."""
    terms = re.findall(r"[^,(]+(?:\([^)]*\))?", selector)
    for term in (t.strip() for t in terms if t.strip()):
        if match := re.fullmatch(r"(\S+)\s+(notin|in)\s+\(([^)]*)\)", term):
            key, operator, values = match.groups()
            inside = labels.get(key) in {v.strip() for v in values.split(",")}
            if inside != (operator == "in"):
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.strip().rstrip("=")) != value.strip().lstrip("="):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _root(base: str) -> dict[str, Any]:
    return {
        "links": {
            "self": {"href": base},
            "cloud_controller_v3": {"href": base + "/v3", "meta": {"version": "3.180.0"}},
            "login": {"href": base + "/uaa"},
            "uaa": {"href": base + "/uaa"},
        }
    }


def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data(as_text=True) or "{}")
    except json.JSONDecodeError:
        raise CfError(
            400, 1001, "CF-MessageParseError", "Request invalid due to parse error: invalid request body"
        ) from None
    if not isinstance(body, dict):
        raise CfError(400, 1001, "CF-MessageParseError", "Request invalid due to parse error: invalid request body")
    return body


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
