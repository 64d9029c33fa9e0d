"""The runtime-artifact and service-endpoint OData APIs of the emulated tenant, and the flows' deployments.

`/api/v1/IntegrationRuntimeArtifacts` lists the deployed artifacts (`Id`, `Version`, `Name`, `Type`,
`DeployedBy`, `DeployedOn`, `Status`, and `ErrorInformation`, whose `$value` is the deployment error as
the runtime writes it: a JSON text with `message` and `parameter`, as SAP's CI steps read it).
`/api/v1/ServiceEndpoints` lists one endpoint per started flow (`Name` the artifact id, `Id`
`<id>$endpointAddress=<address>`, `Protocol` REST, SOAP or ODATAV2 by sender adapter), `EntryPoints` its
URL on the runtime host and `ApiDefinitions` (a WSDL or EDMX link for SOAP and OData senders). Shapes follow
SAP's docs (ServiceEndpoints example requests) and SAP's own CI tool (jenkins-library's CPI mocks).

`Deployments` holds each flow's runtime status: STARTED unless the catalog or `Emulator.set_deployment`
says otherwise. The runtime serves only STARTED flows; a flow in ERROR answers 404, as an endpoint that
never started does.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from iflowtest.emulator.catalog import DEPLOYMENT_STATES, Catalog, FlowSpec
from iflowtest.emulator.mpl_model import API_NAMESPACE
from iflowtest.emulator.odata import EntitySet, Navigation, ODataService, Property, ServiceModel
from iflowtest.emulator.tenant import Tenant
from iflowtest.emulator.xsuaa import TokenEndpoint

ENTITY_SETS: Final = (
    "IntegrationRuntimeArtifacts",
    "RuntimeArtifactErrorInformations",
    "ServiceEndpoints",
    "EntryPoints",
)
REQUIRED_ROLE: Final = "MonitoringDataRead"
_ERROR_VALUE = re.compile(
    r"IntegrationRuntimeArtifacts\('(?P<key>(?:[^']|'')*)'\)/ErrorInformation(?P<value>/\$value)?"
)
_PROTOCOLS: Final = {"http": "REST", "cxf": "SOAP", "odata": "ODATAV2"}
_DEPLOYED_ON: Final = datetime(2026, 1, 5, 8, 30, tzinfo=UTC)


RUNTIME_MODEL: Final = ServiceModel(
    namespace=API_NAMESPACE,
    container="RuntimeArtifacts",
    complex_types=(),
    entity_sets=(
        EntitySet(
            name="IntegrationRuntimeArtifacts",
            entity_type="IntegrationRuntimeArtifact",
            keys=("Id",),
            properties=(
                Property("Id", nullable=False),
                Property("Version"),
                Property("Name"),
                Property("Type"),
                Property("DeployedBy"),
                Property("DeployedOn", "Edm.DateTime"),
                Property("Status"),
            ),
            navigations=(
                Navigation("ErrorInformation", "RuntimeArtifactErrorInformations", (("Id", "Id"),), many=False),
            ),
            has_stream=True,
        ),
        EntitySet(
            name="RuntimeArtifactErrorInformations",
            entity_type="RuntimeArtifactErrorInformation",
            keys=("Id",),
            properties=(Property("Id", nullable=False),),
            has_stream=True,
        ),
        EntitySet(
            name="ServiceEndpoints",
            entity_type="ServiceEndpoint",
            keys=("Id",),
            properties=(
                Property("Name"),
                Property("Id", nullable=False),
                Property("Title"),
                Property("Version"),
                Property("Summary"),
                Property("Description"),
                Property("LastUpdated", "Edm.DateTime"),
                Property("Protocol"),
            ),
            navigations=(
                Navigation("EntryPoints", "EntryPoints", (("Id", "EndpointId"),)),
                Navigation("ApiDefinitions", "APIDefinitions", (("Id", "EndpointId"),)),
            ),
        ),
        EntitySet(
            name="EntryPoints",
            entity_type="EntryPoint",
            keys=("Url",),
            properties=(
                Property("Name"),
                Property("Url", nullable=False),
                Property("Type"),
                Property("AdditionalInformation"),
            ),
        ),
        EntitySet(
            name="APIDefinitions",
            entity_type="APIDefinition",
            keys=("Url",),
            properties=(Property("Url", nullable=False), Property("Name"), Property("Type")),
        ),
    ),
)


class Deployments:
    """The runtime status (and deployment error) of every flow of the tenant; thread-safe."""

    def __init__(self, catalog: Catalog) -> None:
        self._lock = threading.Lock()
        self._state = {f.name: (f.deployment_status, f.deployment_error) for f in catalog.flows}

    def status(self, iflow: str) -> tuple[str, str]:
        """(status, error text) of ``iflow``; ("", "") when it is not deployed."""
        with self._lock:
            return self._state.get(iflow, ("", ""))

    def set(self, iflow: str, status: str, error: str = "") -> None:
        """Put ``iflow`` into ``status`` (ERROR with ``error``); status "" undeploys it."""
        if status and status not in DEPLOYMENT_STATES:
            raise ValueError(
                f"status must be one of {', '.join(DEPLOYMENT_STATES)} (or '' to undeploy), got {status!r}"
            )
        with self._lock:
            if status:
                self._state[iflow] = (status, error)
            else:
                self._state.pop(iflow, None)

    def started(self, iflow: str) -> bool:
        """Whether the runtime serves ``iflow``."""
        return self.status(iflow)[0] == "STARTED"


def error_document(iflow: str, error: str) -> str:
    """The deployment error as `ErrorInformation/$value` gives it (the shape SAP's CI steps parse)."""
    instance = {
        "message": "ERROR",
        "childMessageInstances": [
            {"message": "EXCEPTION", "parameters": [error], "childMessageInstances": []},
        ],
    }
    return json.dumps(
        {
            "message": {
                "subsystemName": "CONTENT",
                "subsytemPartName": "CONTENT_DEPLOY",  # SAP's spelling
                "messageId": "InstanceError",
                "messageText": f"Error while starting integration flow {iflow}",
            },
            "parameter": [json.dumps(instance, separators=(",", ":"))],
        },
        indent=1,
    )


class RuntimeApi:
    """Answers `/api/v1/IntegrationRuntimeArtifacts...` and `/api/v1/ServiceEndpoints...`."""

    def __init__(self, tenant: Tenant, tokens: TokenEndpoint, catalog: Catalog, deployments: Deployments) -> None:
        self._tenant = tenant
        self._tokens = tokens
        self._catalog = catalog
        self._deployments = deployments

    @staticmethod
    def serves(subpath: str) -> bool:
        """Whether a path below `/api/v1/` belongs to this API."""
        head = re.split(r"[(/?]", subpath.lstrip("/"), maxsplit=1)[0]
        return head in ENTITY_SETS or head == "APIDefinitions"

    def handle(self, request: Request, subpath: str, runtime_url: str) -> Response:
        """Authenticate, check the role, answer; ``runtime_url`` is the host the entry points name."""
        client = self._tokens.authenticate_request(request)
        if client is None:
            return Response("Unauthorized", status=401, content_type="text/plain;charset=UTF-8")
        if client.plan != "api" or REQUIRED_ROLE not in client.roles:
            return Response(
                f"Forbidden: the API needs an 'api'-plan client with role {REQUIRED_ROLE}",
                status=403,
                content_type="text/plain;charset=UTF-8",
            )
        if request.method not in ("GET", "HEAD"):
            return _odata_error(405, "MethodNotAllowed", f"{request.method} is not allowed here")
        subpath = unquote(subpath).strip("/")
        error = _ERROR_VALUE.fullmatch(subpath)
        if error is not None and error.group("value"):
            iflow = error.group("key").replace("''", "'")
            status, text = self._deployments.status(iflow)
            if not status:
                return _odata_error(404, "Not Found", f"Integration runtime artifact '{iflow}' is not deployed")
            if status != "ERROR":
                return Response(b"", status=204)
            return Response(error_document(iflow, text), status=200, content_type="text/plain;charset=UTF-8")
        base = request.host_url.rstrip("/")
        service = ODataService(RUNTIME_MODEL, self._rows(runtime_url.rstrip("/")))
        answer = service.handle(
            request.method,
            subpath,
            dict(request.args.items()),
            accept=request.headers.get("Accept"),
            service_root=base + "/api/v1",
        )
        return Response(answer.body, status=answer.status, headers=answer.headers)

    def _rows(self, runtime_url: str) -> dict[str, list[dict[str, Any]]]:
        rows: dict[str, list[dict[str, Any]]] = {s.name: [] for s in RUNTIME_MODEL.entity_sets}
        for flow in self._catalog.flows:
            status, error = self._deployments.status(flow.name)
            if not status:
                continue
            rows["IntegrationRuntimeArtifacts"].append(
                {
                    "Id": flow.name,
                    "Version": flow.version,
                    "Name": flow.shown_name,
                    "Type": "INTEGRATION_FLOW",
                    "DeployedBy": f"sb-iflowtest!b1|it!b{len(flow.name)}",
                    "DeployedOn": _DEPLOYED_ON,
                    "Status": status,
                }
            )
            if status == "ERROR" and error:
                rows["RuntimeArtifactErrorInformations"].append({"Id": flow.name})
            if status == "STARTED" and not flow.queue:  # a JMS sender has no endpoint to call
                self._endpoint_rows(flow, runtime_url, rows)
        return rows

    def _endpoint_rows(self, flow: FlowSpec, runtime_url: str, rows: dict[str, list[dict[str, Any]]]) -> None:
        address = flow.address.removesuffix("/*")
        endpoint_id = f"{flow.name}$endpointAddress={address.split('/', 2)[-1]}"
        protocol = _PROTOCOLS.get(flow.adapter, "REST")
        rows["ServiceEndpoints"].append(
            {
                "Name": flow.name,
                "Id": endpoint_id,
                "Title": flow.shown_name,
                "Version": flow.version,
                "Summary": "",
                "Description": "",
                "LastUpdated": _DEPLOYED_ON,
                "Protocol": protocol,
            }
        )
        url = runtime_url + address
        rows["EntryPoints"].append(
            {"Name": flow.name, "Url": url, "Type": "PROD", "AdditionalInformation": "", "EndpointId": endpoint_id}
        )
        if protocol == "SOAP":
            rows["APIDefinitions"].append(
                {"Url": url + "?wsdl", "Name": flow.name, "Type": "wsdl", "EndpointId": endpoint_id}
            )
        elif protocol == "ODATAV2":
            rows["APIDefinitions"].append(
                {"Url": url + "/$metadata", "Name": flow.name, "Type": "edmx", "EndpointId": endpoint_id}
            )


def _odata_error(status: int, code: str, message: str) -> Response:
    body = {"error": {"code": code, "message": {"lang": "en", "value": message}}}
    return Response(json.dumps(body), status=status, content_type="application/json;charset=utf-8")
