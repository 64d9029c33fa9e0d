"""`Emulator`: one emulated CPI tenant served over real HTTP on loopback.

Modelled on pytest-httpserver: port 0 by default, `start()` returns only after a real request has been
answered, usable as a `with` block, and an exception raised while handling a request is kept and
re-raised in the caller's thread by `check_errors()` (the client meanwhile gets a 500 "emulator bug").

Real tenants only speak HTTPS, so the emulator serves TLS by default with a throw-away CA of its own
(`ca_file`, for `verify=`); `tls=False` serves plain HTTP for tools without a CA option.

One WSGI app serves every host the service keys name (runtime, API, token URL), because their paths
never collide: `/_emulator/*` for the emulator's own use, `/oauth/token` and `/token_keys`, the S/4 backend
under `/sap/opu/odata/...`, the message log API under `/api/v1`, the Cloud Foundry API and its UAA under
`/cf`, and the runtime for everything else. By default one port serves them all; with `separate_hosts`
the runtime, the API and the token endpoint each listen on their own port and answer only their own paths,
as a tenant's three hosts do.
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from werkzeug.wrappers import Request, Response

from iflowtest.emulator.broker import ProcessIntegrationBroker
from iflowtest.emulator.catalog import Catalog
from iflowtest.emulator.cloudfoundry import CF_PREFIX, CloudFoundry
from iflowtest.emulator.costcenters import SERVICE_PATH, CostCenterService
from iflowtest.emulator.faults import JOBS, Fault, FaultPlan, cut_short
from iflowtest.emulator.mpl import API_ROOT, INTERIM_STATUSES, ODATA_ERROR_SHAPES, MplApi
from iflowtest.emulator.odata import NEXT_LINK_FORMS
from iflowtest.emulator.runtime import BODY_LIMIT_STATUSES, Runtime, tomcat_page
from iflowtest.emulator.runtime_api import Deployments, RuntimeApi
from iflowtest.emulator.serving import HttpServer
from iflowtest.emulator.tenant import Counters, MessageRecord, Tenant
from iflowtest.emulator.tls import EmulatorTls, create_tls
from iflowtest.emulator.xsuaa import BAD_SECRET_ERRORS, TOKEN_KEYS_PATH, TOKEN_PATH, TokenEndpoint

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

HEALTH_PATH: Final = "/_emulator/health"
COUNTERS_PATH: Final = "/_emulator/counters"
_SUBDOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_READY_TIMEOUT: Final = 5.0
# The hosts a tenant's keys name, and the endpoints (see `_endpoint`) each serves when they are separate;
# the runtime host also keeps what is no part of the tenant (the S/4 backend, the CF API).
HOSTS: Final = ("runtime", "api", "token")
_HOST_ENDPOINTS: Final = {"api": ("api", "emulator"), "token": ("token", "emulator")}

# Fault targets besides the iFlows: the tenant's endpoints and its CF jobs.
ENDPOINT_TARGETS: Final = ("token", "api", "cf", "backend", JOBS)


class Emulator:
    """An emulated tenant: XSUAA token endpoint, iFlow runtime and the S/4 backend behind the flows.

    Switches for behaviours a real tenant does not promise (cpi-facts, the UNCONFIRMED rows); each default
    keeps the convenient form, the other is the form least convenient for a client ("strict"):

    - ``mpl_header`` (default True): successful flow answers carry ``SAP_MessageProcessingLogID``; False
      leaves the MPL id only in the text of a failed call's 500.
    - ``next_links`` (default "absolute"): how the MPL API writes ``__next``; "relative" keeps the query
      options, "bare" is relative with only ``$skiptoken``.
    - ``log_delay`` (default 0): seconds (emulator clock) before a message log appears in the MPL API;
      `delay_messages` also holds a flow's logs in PROCESSING.
    - ``display_names`` (default False): the message log's ``IntegrationFlowName`` shows the artifact's
      display name (the catalog's ``display_name``) instead of its id; ``IntegrationArtifact/Id`` keeps the id.
    - ``separate_hosts`` (default False, constructor only): runtime, API and token URL listen on three ports,
      each answering only its own paths, and the service keys name the three URLs as real keys do.
    - ``cloud_foundry.job_delay`` (default 0): seconds before a CF job completes, so that instance creates
      and deletes are observably asynchronous.
    - ``body_limit_status`` (attribute, default 413): the answer to a body over a flow's ``max_body_size``;
      500 carries SAP's error text and a FAILED message instead.
    - ``odata_errors`` (attribute, default "odata"): the MPL API's JSON error shape; "converted" is the XML
      error in JSON (``{"code", "message": {"@lang", "#text"}}``).
    - ``bad_secret_error`` (attribute): the token endpoint's ``error`` for a bad secret.

    The first four are also attributes that can change while the emulator runs.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        token_lifetime: int = 3599,
        mpl_header: bool = True,
        catalog: Path | None = None,
        project_catalog: Path | None = None,
        project_root: Path | None = None,
        subdomain: str = "emulated-tenant",
        tls: bool = True,
        next_links: str = "absolute",
        log_delay: float = 0.0,
        display_names: bool = False,
        separate_hosts: bool = False,
        processing: float = 0.0,
    ) -> None:
        if not _SUBDOMAIN.fullmatch(subdomain):
            raise ValueError(
                f"invalid subdomain {subdomain!r}: use lower-case letters, digits and '-' (at most 63 characters)"
            )
        self._host = host
        self._port = port
        self._tenant = Tenant(subdomain, token_lifetime=_lifetime(token_lifetime), mpl_header=mpl_header)
        self.next_links = next_links
        self.log_delay = log_delay
        self.display_names = display_names
        self.processing = processing
        self._separate_hosts = bool(separate_hosts)
        self._tokens = TokenEndpoint(self._tenant)
        self._backend = CostCenterService()
        flows = Catalog.load(catalog)
        self.project_flows: tuple[str, ...] = ()  # names of the project's own flows (its iflows.yaml)
        if project_catalog is not None:
            # A project's own flows (its iflows.yaml) join the sample flows, files resolved inside the project.
            own = Catalog.load_project(project_catalog, project_root or project_catalog.parent)
            self.project_flows = tuple(f.name for f in own.flows)
            flows = flows.merged(
                own,
                samples=str(catalog or "iflowtest's sample iflows.yaml"),
                project=own_source(project_catalog, project_root),
            )
        self.deployments = Deployments(flows)
        self._runtime = Runtime(self._tenant, flows, self._tokens, self._backend, self.deployments.started)
        self._runtime_api = RuntimeApi(self._tenant, self._tokens, flows, self.deployments)
        # The tenant's user roles are the ones its deployed flows require (plus the predefined ones).
        broker = ProcessIntegrationBroker(
            self.issue_service_key, self._tenant.clients.revoke, custom_roles=[f.role for f in flows.flows if f.role]
        )
        self._cloud_foundry = CloudFoundry(self._tenant.clock, broker, self._tenant.signing_key)
        self._mpl_api = MplApi(self._tenant, self._tokens)
        self._flows = flows
        # Deployed flows with a JMS adapter create their queues on the tenant's broker.
        for queue in {f.queue or f.options.get("queue", "") for f in flows.flows} - {""}:
            self._tenant.queues.declare(str(queue))
        self._faults = FaultPlan(self._tenant.clock.now)
        self._cloud_foundry.faults = self._faults  # `cf-jobs` faults
        self._servers: dict[str, HttpServer] = {}
        self._urls: dict[str, str] = {}
        self._url: str | None = None
        self._lifecycle = threading.Lock()
        self._errors: list[Exception] = []
        self._errors_lock = threading.Lock()
        self._log_requests = False
        self._stopped = threading.Event()
        self._stopped.set()
        self._tls: EmulatorTls | None = None
        if tls:
            # Owned by this object: the directory goes when the emulator is garbage-collected or at exit.
            self._tls_dir = tempfile.TemporaryDirectory(prefix="iflowtest-tls-")
            self._tls = create_tls(_certificate_hosts(host), Path(self._tls_dir.name))
            if self._tls.keystore is not None:
                self._runtime.keystore = self._tls.keystore  # SOAP answers signed by a key the CA vouches for

    def __repr__(self) -> str:
        return f"<Emulator {self._url or 'not started'}>"

    # ------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        """Base URL of the tenant, such as ``https://127.0.0.1:50123``."""
        if self._url is None:
            raise RuntimeError("the emulator has not been started: call start() or use it in a with block")
        return self._url

    @property
    def api_url(self) -> str:
        """Base URL of the tenant's API host (an `api`-plan key's ``url``); the runtime URL unless `separate_hosts`."""
        runtime = self.url  # raises the not-started error
        return self._urls.get("api", runtime)

    @property
    def token_host_url(self) -> str:
        """Base URL of the token host (``tokenurl`` without its path); the runtime URL unless `separate_hosts`."""
        runtime = self.url  # raises the not-started error
        return self._urls.get("token", runtime)

    @property
    def separate_hosts(self) -> bool:
        """Whether runtime, API and token endpoint listen on separate ports (set at construction)."""
        return self._separate_hosts

    def start(self) -> Emulator:
        """Serve in background threads; returns once every server has answered a health check."""
        with self._lifecycle:
            if self._servers:
                raise RuntimeError(f"the emulator is already running at {self._url}")
            servers: dict[str, HttpServer] = {}
            try:
                for host in HOSTS if self._separate_hosts else HOSTS[:1]:
                    servers[host] = self._bind(host, self._port if host == "runtime" else 0)
            except BaseException:
                for bound in servers.values():
                    bound.close()
                raise
            self._servers = servers
            self._urls = {host: self._url_of(server) for host, server in servers.items()}
            self._url = self._urls["runtime"]
            self._stopped.clear()
            for server in servers.values():
                server.start()
        try:
            for server in servers.values():
                self._wait_until_ready(server)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Shut the servers down, closing kept-alive connections, and wait for their threads; again does nothing."""
        with self._lifecycle:
            servers = self._servers
            self._servers = {}
        if not servers:
            return
        self._faults.clear()  # release requests hanging on an injected fault
        for server in servers.values():
            server.stop()
        self._stopped.set()

    def serve_forever(self) -> None:
        """Serve with an access log until Ctrl-C or `stop()` from another thread.

        Starts the emulator unless it was started before, so a caller can start it, print its URL and
        issue keys, then block here. Serving stays in the background thread either way, so `stop()` and
        Ctrl-C behave the same in both cases.
        """
        self._log_requests = True
        if self._url is None:
            self.start()
        try:
            self._stopped.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _bind(self, served: str, port: int) -> HttpServer:
        def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            return self._wsgi_app(environ, start_response, served if self._separate_hosts else None)

        tls = (self._tls.server_context(), self._tls.cert_file, self._tls.key_file) if self._tls else None
        return HttpServer(self._host, port, app, tls=tls)

    def _url_of(self, server: HttpServer) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{'https' if self._tls else 'http'}://{host}:{server.port}"

    def _wait_until_ready(self, server: HttpServer) -> None:
        # Connect to loopback even when bound to a wildcard address (a lookup, not a bind).
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self._host, self._host)  # noqa: S104
        connection: http.client.HTTPConnection
        if self._tls:
            context = ssl.create_default_context(cafile=str(self._tls.ca_file))
            connection = http.client.HTTPSConnection(host, server.port, timeout=_READY_TIMEOUT, context=context)
        else:
            connection = http.client.HTTPConnection(host, server.port, timeout=_READY_TIMEOUT)
        try:
            connection.request("GET", HEALTH_PATH)
            status = connection.getresponse().status
        except OSError as exc:
            raise RuntimeError(f"the emulator at {self._url} did not answer its health check: {exc}") from exc
        finally:
            connection.close()
        if status != 200:
            raise RuntimeError(f"the emulator at {self._url} answered its health check with HTTP {status}")

    @property
    def ca_file(self) -> Path:
        """The CA certificate that signed the server certificate: pass it to `requests` as ``verify=``."""
        if self._tls is None:
            raise RuntimeError("this emulator serves plain HTTP (tls=False): there is no CA file to trust")
        return self._tls.ca_file

    # ------------------------------------------------------------ errors raised in the server thread
    def check_errors(self) -> None:
        """Re-raise the oldest unexpected exception a request handler raised; each is raised once."""
        with self._errors_lock:
            error = self._errors.pop(0) if self._errors else None
        if error is not None:
            raise error

    def _wsgi_app(
        self, environ: WSGIEnvironment, start_response: StartResponse, served: str | None = None
    ) -> Iterable[bytes]:
        request = Request(environ)
        if self._log_requests:
            start_response = _access_logged(request, start_response)
        if served is not None and not _serves(served, _endpoint(request.path)):
            # Another host's path: the runtime's Tomcat does not know it, nor do the API and token hosts.
            refused = (
                tomcat_page(404, f"The requested resource [{request.path}] is not available")
                if served == "runtime"
                else Response("Not Found", status=404, content_type="text/plain;charset=UTF-8")
            )
            return refused(environ, start_response)
        # Outside the try below: an injected reset must reach the server as a dropped connection.
        injected = self._faults.apply(request, self._fault_target(request.path), _client_of(request))
        try:
            response = injected or self._dispatch(request)
        except Exception as exc:
            with self._errors_lock:
                self._errors.append(exc)
            response = Response(
                f"emulator bug: {type(exc).__name__}: {exc}\n"
                "The exception is re-raised by Emulator.check_errors() in the thread that owns the emulator.\n",
                status=500,
                content_type="text/plain;charset=UTF-8",
            )
        return cut_short(environ, response(environ, start_response))  # an injected mid-body reset

    def _dispatch(self, request: Request) -> Response:
        path = request.path
        if path == HEALTH_PATH:
            return Response("ok", content_type="text/plain")
        if path == COUNTERS_PATH:
            return Response(json.dumps(self.counters.snapshot()), content_type="application/json")
        handlers = {
            "token": self._tokens.handle,
            "cf": self._cloud_foundry.handle,
            "backend": self._serve_backend,
            "api": self._serve_api,
        }
        return handlers.get(_endpoint(path), self._runtime.handle)(request)

    def _serve_api(self, request: Request) -> Response:
        subpath = request.path[len(API_ROOT) :]
        if RuntimeApi.serves(subpath):
            return self._runtime_api.handle(request, subpath, self.url)
        return self._mpl_api.handle(request)

    def set_deployment(self, iflow: str, status: str = "ERROR", error: str = "") -> None:
        """Put ``iflow``'s runtime artifact into ``status`` (ERROR with ``error``); "" undeploys it.

        A flow that is not STARTED answers 404 and is left out of `ServiceEndpoints`; the runtime-artifact
        API shows its status and, for ERROR, the error.
        """
        if self._flows.get(iflow) is None:
            raise ValueError(
                f"no iFlow {iflow!r} on this tenant: known are {', '.join(f.name for f in self._flows.flows)}"
            )
        self.deployments.set(iflow, status, error or "com.sap.it.op.agent.api.DeploymentException: deployment failed")

    @property
    def flows(self) -> Catalog:
        """The tenant's flows: the samples and the project's own."""
        return self._flows

    def _fault_target(self, path: str) -> str | None:
        endpoint = _endpoint(path)
        if endpoint == "emulator":
            return None
        if endpoint != "runtime":
            return endpoint
        match = self._flows.match(path)
        return match.flow.name if match else None

    # ------------------------------------------------------------ faults
    def fault_targets(self) -> tuple[str, ...]:
        """What a fault may target: the tenant's iFlows by name, its endpoints and `cf-jobs`."""
        return (*(flow.name for flow in self._flows.flows), *ENDPOINT_TARGETS)

    def inject(self, target: str, **fault: Any) -> Fault:
        """Inject a fault on an iFlow (by name), endpoint (`token`, `cf`, `api`, `backend`) or `cf-jobs`; see `Fault`.

        ``inject("ReadCostCenters", status=503, share=0.05)``, ``inject("token", status=503)``,
        ``inject("ReadCostCenters", reset=True, times=1)``, ``inject("ReadCostCenters", reset_after_bytes=100)``
        (a reset mid-body), ``inject("cf-jobs", hang=True)`` (CF jobs that never finish); returns the Fault (its
        `fired` counts hits).
        """
        return self._faults.inject(target, Fault(**fault))

    @property
    def faults(self) -> FaultPlan:
        """The injected faults (`inject`, `redeploy` and `clear_faults` are the short forms)."""
        return self._faults

    def redeploy(self, iflow: str, seconds: float, status: int = 404) -> None:
        """Answer ``status`` for ``iflow`` until the emulator clock has moved ``seconds`` on (a redeployment).

        404 (Tomcat's page, as seen on tenants) or 503: which one an undeployed flow gives is UNCONFIRMED.
        """
        self._faults.redeploy(iflow, seconds, status)

    def clear_faults(self) -> None:
        """Remove every injected fault and release hanging requests."""
        self._faults.clear()

    def _serve_backend(self, request: Request) -> Response:
        answer = self._backend.handle(
            request.method,
            request.path[len(SERVICE_PATH) :].lstrip("/"),
            dict(request.args.items()),
            accept=request.headers.get("Accept"),
            service_root=request.host_url.rstrip("/") + SERVICE_PATH,
        )
        return Response(answer.body, status=answer.status, headers=answer.headers)

    # ------------------------------------------------------------ clients
    def issue_service_key(
        self,
        name: str,
        *,
        plan: str = "integration-flow",
        roles: Sequence[str] = ("ESBMessaging.send",),
        grant_types: Sequence[str] = ("client_credentials",),
        key_type: str = "secret",
        token_validity: int | None = None,
        validity: int = 365,
        key_length: int = 2048,
    ) -> dict[str, Any]:
        """Create a service instance called ``name`` with one key and return the key as CPI shows it.

        A ``certificate`` key carries a client certificate signed by the emulator's client CA (needs TLS)
        and its private key instead of a clientsecret; ``validity`` (days) and ``key_length`` apply to it.
        """
        url = self.api_url if plan == "api" else self.url
        tokenurl = self.token_host_url + TOKEN_PATH
        if key_type == "certificate" and (self._tls is None or self._tls.client_ca is None):
            raise ValueError("certificate keys need TLS: this emulator serves plain HTTP (tls=False)")
        client = self._tenant.clients.issue(
            name,
            plan=plan,
            roles=roles,
            grant_types=grant_types,
            key_type=key_type,
            token_validity=token_validity,
            created=self._tenant.clock.now_utc(),
        )
        createdate = client.created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if key_type == "certificate":
            assert self._tls is not None and self._tls.client_ca is not None
            issued = self._tls.client_ca.issue(client.clientid, validity_days=validity, key_length=key_length)
            self._tenant.clients.add_certificate(client.clientid, issued.fingerprint)
            return {
                "oauth": {
                    "clientid": client.clientid,
                    "certificate": issued.certificate_pem,
                    "key": issued.private_key_pem,
                    "url": url,
                    "createdate": createdate,
                    "tokenurl": tokenurl,
                    "certificatedetails": {
                        "issuerdn": issued.issuerdn,
                        "subjectdn": issued.subjectdn,
                        "validuntil": issued.validuntil,
                        "serialnumber": issued.serialnumber,
                    },
                }
            }
        return {
            "oauth": {
                "clientid": client.clientid,
                "clientsecret": client.clientsecret,
                "url": url,
                "createdate": createdate,
                "tokenurl": tokenurl,
            }
        }

    def set_roles(self, clientid: str, roles: Sequence[str]) -> None:
        """Give a client new roles; they apply to its next call (real tenants cache them up to an hour)."""
        self._tenant.clients.set_roles(clientid, roles)

    def revoke_client(self, clientid: str) -> None:
        """Delete a client's instance: its token requests, Basic calls and tokens are refused from now on."""
        self._tenant.clients.revoke(clientid)

    # ------------------------------------------------------------ knobs and observations
    @property
    def token_lifetime(self) -> int:
        """``expires_in`` of tokens issued from now on to clients without their own token validity."""
        return self._tenant.token_lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: int) -> None:
        self._tenant.token_lifetime = _lifetime(seconds)

    @property
    def mpl_header(self) -> bool:
        """Whether flow responses carry ``SAP_MessageProcessingLogID`` (real tenants do not promise it)."""
        return self._tenant.mpl_header

    @mpl_header.setter
    def mpl_header(self, enabled: bool) -> None:
        self._tenant.mpl_header = bool(enabled)

    @property
    def bad_secret_error(self) -> str:
        """The `error` of the token endpoint's 401 for a bad secret: unauthorized, unauthorized_client or invalid_client."""
        return self._tenant.bad_secret_error

    @bad_secret_error.setter
    def bad_secret_error(self, code: str) -> None:
        if code not in BAD_SECRET_ERRORS:
            raise ValueError(f"bad_secret_error must be one of {', '.join(BAD_SECRET_ERRORS)}, got {code!r}")
        self._tenant.bad_secret_error = code

    @property
    def body_limit_status(self) -> int:
        """The status of the answer to a body over a flow's `max_body_size`: 413, or 500 with SAP's error text."""
        return self._tenant.body_limit_status

    @body_limit_status.setter
    def body_limit_status(self, status: int) -> None:
        if status not in BODY_LIMIT_STATUSES:
            raise ValueError(f"body_limit_status must be 413 or 500, got {status!r}")
        self._tenant.body_limit_status = status

    @property
    def odata_errors(self) -> str:
        """The MPL API's JSON error shape: "odata" (OData V2's `error` object) or "converted" (an XML error in JSON)."""
        return self._tenant.odata_errors

    @odata_errors.setter
    def odata_errors(self, shape: str) -> None:
        if shape not in ODATA_ERROR_SHAPES:
            raise ValueError(f"odata_errors must be one of {', '.join(ODATA_ERROR_SHAPES)}, got {shape!r}")
        self._tenant.odata_errors = shape

    @property
    def processing(self) -> float:
        """Seconds (emulator clock) every message stays PROCESSING before its final status shows.

        A flow's own `delay_messages` wins; 0 turns it off.
        """
        return self._tenant.processing

    @processing.setter
    def processing(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"processing must be ≥ 0 seconds, got {seconds!r}")
        self._tenant.processing = float(seconds)

    @property
    def next_links(self) -> str:
        """How the MPL API writes `__next` links: "absolute", "relative" or "bare" (relative, only $skiptoken)."""
        return self._tenant.next_links

    @next_links.setter
    def next_links(self, form: str) -> None:
        if form not in NEXT_LINK_FORMS:
            raise ValueError(f"next_links must be one of {', '.join(NEXT_LINK_FORMS)}, got {form!r}")
        self._tenant.next_links = form

    @property
    def display_names(self) -> bool:
        """Whether the message log's `IntegrationFlowName` shows display names rather than artifact ids."""
        return self._tenant.display_names

    @display_names.setter
    def display_names(self, enabled: bool) -> None:
        self._tenant.display_names = bool(enabled)

    @property
    def log_delay(self) -> float:
        """Seconds (emulator clock) between a flow's answer and its message log appearing in the MPL API."""
        return self._tenant.log_delay

    @log_delay.setter
    def log_delay(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"log_delay must be ≥ 0 seconds, got {seconds!r}")
        self._tenant.log_delay = float(seconds)

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's now (token expiry, message times) without sleeping."""
        self._tenant.clock.advance(seconds)

    def delay_messages(self, iflow: str, seconds: float, interim_status: str = "PROCESSING") -> None:
        """Keep the messages of ``iflow`` run from now on in ``interim_status`` for ``seconds`` (emulator clock).

        Their final status shows once the clock has moved past it (`advance_clock`), so polling the
        message log can be tested without sleeping. ``seconds=0`` turns the delay off.
        """
        if interim_status not in INTERIM_STATUSES:
            raise ValueError(f"interim status {interim_status!r} is not one of {', '.join(INTERIM_STATUSES)}")
        if seconds < 0:
            raise ValueError(f"seconds must be ≥ 0, got {seconds!r}")
        if seconds:
            self._tenant.message_delays[iflow] = (float(seconds), interim_status)
        else:
            self._tenant.message_delays.pop(iflow, None)

    def trace(self, iflow: str, enabled: bool = True) -> None:
        """Set the log level of ``iflow`` to Trace (or back to its catalog level), as the monitor does.

        Runs from now on keep their payloads (`TraceMessages`, for about an hour); the catalog's
        ``message_log.log_level: TRACE`` does the same from the start.
        """
        if self._flows.get(iflow) is None:
            raise ValueError(f"no iFlow {iflow!r} is deployed on this emulator")
        if enabled:
            self._tenant.traced.add(iflow)
        else:
            self._tenant.traced.discard(iflow)

    @property
    def jms_delay(self) -> float:
        """Seconds (emulator clock) before a flow with a JMS sender takes a queued message and runs."""
        return self._tenant.jms_delay

    @jms_delay.setter
    def jms_delay(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"jms_delay must be ≥ 0 seconds, got {seconds!r}")
        self._tenant.jms_delay = float(seconds)

    def invalidate_csrf_tokens(self) -> None:
        """Make every CSRF token handed out so far invalid, as a session timeout would."""
        self._tenant.csrf.invalidate_all()

    @property
    def cloud_foundry(self) -> CloudFoundry:
        """The emulated Cloud Foundry landscape (org, space, user, it-rt instances and keys, knobs)."""
        return self._cloud_foundry

    @property
    def cf_api(self) -> str:
        """The Cloud Foundry API root (``GET`` it for the V3 and UAA links)."""
        return self.url + CF_PREFIX

    @property
    def tenant(self) -> Tenant:
        """The tenant's state (clients, clock, CSRF sessions, message log), for later API layers and tests."""
        return self._tenant

    @property
    def counters(self) -> Counters:
        """What the tenant has served so far."""
        return self._tenant.counters

    @property
    def messages(self) -> list[MessageRecord]:
        """The message processing log, oldest first (a copy)."""
        return self._tenant.messages.records()


def own_source(path: Path, root: Path | None) -> str:
    """A project catalog's path as messages name it (relative to the project)."""
    try:
        return str(path.resolve().relative_to((root or path.parent).resolve()))
    except ValueError:
        return str(path)


def _endpoint(path: str) -> str:
    """Which part of the tenant a path belongs to: the fault targets' names, `runtime` or `emulator`."""
    if path.startswith("/_emulator/"):
        return "emulator"
    if path in (TOKEN_PATH, TOKEN_KEYS_PATH):
        return "token"
    for prefix, endpoint in ((CF_PREFIX, "cf"), (SERVICE_PATH, "backend"), (API_ROOT, "api")):
        if path == prefix or path.startswith(prefix + "/"):
            return endpoint
    return "runtime"


def _serves(host: str, endpoint: str) -> bool:
    """Whether ``host`` (one of HOSTS) answers ``endpoint`` when the hosts are separate."""
    if host in _HOST_ENDPOINTS:
        return endpoint in _HOST_ENDPOINTS[host]
    return endpoint not in ("api", "token")


def _client_of(request: Request) -> str | None:
    # Which client a token request is for: Basic client authentication, or client_id in the form (mTLS).
    if request.authorization is not None and request.authorization.username:
        return request.authorization.username
    if request.path == TOKEN_PATH and request.method == "POST":
        return request.form.get("client_id")
    return None


def _lifetime(seconds: int) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
        raise ValueError(f"token_lifetime must be a whole number of seconds ≥ 1, got {seconds!r}")
    return seconds


def _certificate_hosts(host: str) -> tuple[str, ...]:
    loopback = ("127.0.0.1", "localhost", "::1")
    if host in ("", "0.0.0.0", "::") or host in loopback:  # noqa: S104 (names, not a bind)
        return loopback
    return (host, *loopback)


def _access_logged(request: Request, start_response: StartResponse) -> StartResponse:
    """`start_response` that also writes one access-log line to stderr (`iflowtest emulator` in the foreground)."""

    def logged(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        when = time.strftime("%d/%b/%Y %H:%M:%S")
        line = f'{request.remote_addr} - - [{when}] "{request.method} {request.full_path.rstrip("?")}" {status[:3]}'
        print(line, file=sys.stderr, flush=True)
        return start_response(status, headers, exc_info)

    return logged
