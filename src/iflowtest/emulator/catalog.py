"""The iFlows deployed on the emulated tenant, read from a YAML catalog (`iflows.yaml` by default).

Each entry names a flow, its sender address, the methods and role it accepts, whether CSRF protection is
on, and which behaviour from `flows.BEHAVIOURS` runs it; optionally its display name, the headers it lets
through (*Allowed Header(s)*) and what its runs write into the message log besides the standard fields,
its version and its deployment (STARTED unless a `deployment` says ERROR, for the runtime-artifact API).
The file is validated as a whole on load, and every problem names the file, the flow and the key.

A project adds its own flows in its `iflows.yaml` (`load_project`): the same format, stub behaviours
(`stubs.py`), files it names resolved inside the project, and no name or address that a sample flow has.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Final

import yaml

from iflowtest.bounds.yamlsize import bounded
from iflowtest.emulator.flows import BEHAVIOURS as SAMPLE_BEHAVIOURS
from iflowtest.emulator.flows import BehaviourSpec
from iflowtest.emulator.soap import SIGNATURE_ALGORITHMS, WsSecurity
from iflowtest.emulator.soap_flows import SOAP_BEHAVIOURS
from iflowtest.emulator.stubs import ALLOWED_HEADERS, BODY_BYTES, CASSETTE_DIR, FLOW_NAME, STUB_BEHAVIOURS
from iflowtest.errors import ConfigError

# Safe, and refusing alias bombs: a catalog or recording is a file someone else may have written.
_LOADER: Final = bounded(yaml.SafeLoader)  # pure Python: its messages name the problem the way users read it

DEFAULT_CATALOG: Final = "iflows.yaml"
# The sample flows' behaviours (HTTP, SOAP and IDoc) and the stubs a project's own flows use; any flow may use any.
BEHAVIOURS: Final[Mapping[str, BehaviourSpec]] = {**SAMPLE_BEHAVIOURS, **SOAP_BEHAVIOURS, **STUB_BEHAVIOURS}
# Runtime states of IntegrationRuntimeArtifacts (SAP's API: STARTING, STARTED, STOPPING, STOPPED, ERROR).
DEPLOYMENT_STATES: Final = ("STARTED", "STARTING", "STOPPING", "STOPPED", "ERROR")
METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_ROLE = re.compile(r"[A-Za-z0-9_.]+")
# Allowed characters per sender adapter; HTTPS allows `*` only as a last `/*` segment.
_ADDRESS = {
    "http": re.compile(r"(?i:/http)(/[A-Za-z0-9_~.$-]+)+(/\*)?"),
    "cxf": re.compile(r"(?i:/cxf)(/[A-Za-z0-9_~.$-]+)+"),
    "odata": re.compile(r"(?i:/gw/odata)(/[A-Za-z0-9_~.$;=,-]+)+"),
}
_KEYS: Final = (
    "name",
    "display_name",
    "address",
    "methods",
    "role",
    "csrf",
    "behaviour",
    "options",
    "allowed_headers",
    "message_log",
    "queue",
    "ws_security",
    "version",
    "deployment",
    "max_body_size",
)
_WS_SECURITY_KEYS: Final = ("type", "signature_algorithm", "check_timestamp")
_DEPLOYMENT_KEYS: Final = ("status", "error")
_MESSAGE_LOG_KEYS: Final = ("custom_header_properties", "attachments", "log_level")
LOG_LEVELS: Final = ("NONE", "ERROR", "INFO", "DEBUG", "TRACE")
_QUEUE = re.compile(r"[A-Za-z0-9_.-]{1,80}")
_ATTACHMENT_KEYS: Final = ("name", "content_type", "content")
_HEADER = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name (RFC 9110 token)
_CAMEL_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+")


class CatalogError(ConfigError):
    """Raised when an iFlow catalog file cannot be read or describes an impossible flow."""


@dataclass(frozen=True)
class AttachmentSpec:
    """An attachment every run of a flow writes to its message log (`MessageProcessingLogAttachments`)."""

    name: str
    content: str
    content_type: str = "text/plain"


@dataclass(frozen=True)
class FlowSpec:
    """One deployed iFlow as the runtime sees it; ``name`` is its artifact id (`IntegrationArtifact/Id`)."""

    name: str
    address: str
    methods: frozenset[str]
    role: str
    behaviour: str
    csrf: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)
    # The artifact's name as the Web UI shows it; the message log names the flow by it when the emulator's
    # `display_names` switch is on. Derived from the id ("ReadCostCenters" -> "Read Cost Centers") unless given.
    display_name: str = ""
    # *Allowed Header(s)* of the flow's runtime configuration: request headers that reach the flow (and so
    # the message log, for SAP_ApplicationID and its siblings); every other header stays at the adapter.
    allowed_headers: tuple[str, ...] = ()
    custom_header_properties: tuple[tuple[str, str], ...] = ()
    attachments: tuple[AttachmentSpec, ...] = ()
    # A JMS sender flow: it has no address and runs for each message put on this queue.
    queue: str = ""
    log_level: str = "INFO"  # the flow's log level; TRACE keeps the payloads of each run (`TraceMessages`)
    # The SOAP sender's WS-Security tab ("Verify Message and Sign Response"); None: no WS-Security.
    ws_security: WsSecurity | None = None
    version: str = "1.0.0"
    # The runtime artifact's status and, when it is ERROR, the error the runtime-artifact API reports.
    deployment_status: str = "STARTED"
    deployment_error: str = ""
    # *Body Size* of the sender adapter in MB (SAP's minimum is 1, its default 40); None means no limit here.
    max_body_size: float | None = None

    @property
    def shown_name(self) -> str:
        """The display name, or one derived from the artifact id."""
        return self.display_name or " ".join(_CAMEL_WORD.findall(self.name)) or self.name

    def allows_header(self, header: str) -> bool:
        """Whether the request header ``header`` reaches the flow (names compare case-insensitively)."""
        return any(allowed == "*" or allowed.lower() == header.lower() for allowed in self.allowed_headers)

    @property
    def adapter(self) -> str:
        """``http``, ``cxf``, ``odata`` or ``jms``: the sender adapter the flow listens with."""
        return "jms" if self.queue else adapter_of(self.address) or ""

    def allows(self, method: str) -> bool:
        """Whether the flow accepts ``method`` (HEAD rides along with GET, as in any servlet)."""
        return method in self.methods or (method == "HEAD" and "GET" in self.methods)


@dataclass(frozen=True)
class FlowMatch:
    """A flow found for a request path, with what follows its address."""

    flow: FlowSpec
    subpath: str


def adapter_of(path: str) -> str | None:
    """The sender adapter whose servlet serves ``path``, or None."""
    lowered = path.lower()
    if lowered.startswith("/http/"):
        return "http"
    if lowered.startswith("/cxf/"):
        return "cxf"
    if lowered.startswith("/gw/odata/"):
        return "odata"
    return None


class Catalog:
    """The flows of one tenant and the address lookup of its runtime."""

    def __init__(self, flows: Iterable[FlowSpec]) -> None:
        self._flows = tuple(flows)

    @property
    def flows(self) -> tuple[FlowSpec, ...]:
        """Every flow, in catalog order."""
        return self._flows

    def get(self, name: str) -> FlowSpec | None:
        """The flow called ``name``, or None."""
        return next((flow for flow in self._flows if flow.name == name), None)

    def match(self, path: str) -> FlowMatch | None:
        """The flow serving ``path``: an exact address first, then the longest matching prefix."""
        lowered = path.lower()
        best: FlowMatch | None = None
        best_length = -1
        for flow in self._flows:
            if flow.queue:
                continue  # a JMS sender has no address
            address = flow.address.lower()
            if flow.adapter == "http" and not address.endswith("/*"):
                if lowered == address:
                    return FlowMatch(flow, "")
                continue
            # `/x/*` (HTTPS) and every SOAP or OData address also serve what lies below them.
            base = address.removesuffix("/*")
            if (lowered == base or lowered.startswith(base + "/")) and len(base) > best_length:
                best, best_length = FlowMatch(flow, path[len(base) :]), len(base)
        return best

    @classmethod
    def load(cls, path: Path | None = None) -> Catalog:
        """Read and validate a catalog file; the bundled sample catalog when ``path`` is None."""
        if path is None:
            source = DEFAULT_CATALOG
            text = resources.files(__package__).joinpath(DEFAULT_CATALOG).read_text(encoding="utf-8")
        else:
            source = str(path)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise CatalogError(f"cannot read iFlow catalog {source}: {exc.strerror}") from exc
        return cls.from_data(_parse_yaml(text, source), source=source)

    @classmethod
    def load_project(cls, path: Path, root: Path) -> Catalog:
        """A project's own flows: `path` validated, `body_file` and replay cassettes resolved inside `root`."""
        source = _shown(path, root)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CatalogError(f"cannot read iFlow catalog {source}: {exc.strerror}") from exc
        catalog = cls.from_data(_parse_yaml(text, source), source=source)
        return cls(_resolve_files(flow, root, source) for flow in catalog.flows)

    def merged(self, own: Catalog, *, samples: str, project: str) -> Catalog:
        """This catalog with a project's flows added; a shared name or address names both files."""
        for flow in own.flows:
            clash = self.get(flow.name)
            if clash is not None:
                raise CatalogError(
                    f"{project}: flow {flow.name!r}, key 'name': a sample flow in {samples} has this name; "
                    "rename the flow in the project's catalog"
                )
            for other in self.flows:
                if other.address.lower().removesuffix("/*") == flow.address.lower().removesuffix("/*"):
                    raise CatalogError(
                        f"{project}: flow {flow.name!r}, key 'address': {flow.address} is already the address of "
                        f"flow {other.name!r} in {samples}; addresses must be unique across the tenant"
                    )
        return Catalog((*self.flows, *own.flows))

    @classmethod
    def from_data(cls, data: Any, *, source: str = "catalog") -> Catalog:
        """Validate already-parsed catalog data (a mapping with an ``iflows`` list)."""
        if not isinstance(data, dict) or not isinstance(data.get("iflows"), list):
            raise CatalogError(f"{source}: expected a mapping with an 'iflows' list of flows at the top level")
        flows = [_flow(entry, index, source) for index, entry in enumerate(data["iflows"])]
        seen_names: set[str] = set()
        seen_addresses: dict[str, str] = {}
        for flow in flows:
            if flow.name in seen_names:
                raise CatalogError(f"{source}: flow {flow.name!r}, key 'name': the name is used by another flow")
            seen_names.add(flow.name)
            if flow.queue:
                continue
            # CPI refuses to start a flow whose address another flow already has (case-insensitively).
            other = seen_addresses.setdefault(flow.address.lower().removesuffix("/*"), flow.name)
            if other != flow.name:
                raise CatalogError(
                    f"{source}: flow {flow.name!r}, key 'address': {flow.address} is already the address of "
                    f"flow {other!r}; addresses must be unique across the tenant (case-insensitive)"
                )
        return cls(flows)


def _flow(entry: Any, index: int, source: str) -> FlowSpec:
    label = f"{source}: flow #{index + 1}"
    if not isinstance(entry, dict):
        raise CatalogError(f"{label}: expected a mapping with keys {', '.join(_KEYS)}")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise CatalogError(f"{label}, key 'name': expected an iFlow name such as ReadCostCenters, got {name!r}")

    def problem(key: str, text: str) -> CatalogError:
        return CatalogError(f"{source}: flow {name!r}, key {key!r}: {text}")

    unknown = sorted(set(entry) - set(_KEYS))
    if unknown:
        raise problem(unknown[0], f"unknown key; allowed keys are {', '.join(_KEYS)}")
    if "queue" in entry:
        return _jms_flow(entry, name, problem)
    address = entry.get("address")
    adapter = adapter_of(address) if isinstance(address, str) else None
    if not isinstance(address, str) or adapter is None or not _ADDRESS[adapter].fullmatch(address):
        raise problem(
            "address",
            f"expected a sender address such as /http/costcenters, /http/orders/*, /cxf/orders or "
            f"/gw/odata/SAP/Orders;v=1 (letters, digits and _ ~ - . $ only, '*' only as a last '/*'), got {address!r}",
        )
    methods = entry.get("methods")
    if (
        not isinstance(methods, list)
        or not methods
        or not all(isinstance(m, str) and m.upper() in METHODS for m in methods)
    ):
        raise problem("methods", f"expected a list of HTTP methods from {', '.join(METHODS)}, got {methods!r}")
    role = entry.get("role")
    if not isinstance(role, str) or not _ROLE.fullmatch(role):
        raise problem("role", f"expected a role name of letters, digits, '_' and '.', got {role!r}")
    # The SOAP and IDoc sender adapters have no CSRF protection; the HTTPS sender has it on unless unticked.
    csrf = entry.get("csrf", adapter != "cxf")
    if not isinstance(csrf, bool):
        raise problem("csrf", f"expected true or false, got {csrf!r}")
    if csrf and adapter == "cxf":
        raise problem("csrf", "the SOAP and IDoc sender adapters (/cxf) have no CSRF protection: remove the key")
    ws_security = _ws_security(entry.get("ws_security"), adapter, problem)
    behaviour = entry.get("behaviour")
    if not isinstance(behaviour, str) or behaviour not in BEHAVIOURS:
        raise problem("behaviour", f"expected one of {', '.join(sorted(BEHAVIOURS))}, got {behaviour!r}")
    display_name = entry.get("display_name", "")
    if not isinstance(display_name, str):
        raise problem(
            "display_name", f"expected the artifact's name as text, such as 'Read cost centers', got {display_name!r}"
        )
    allowed_headers = entry.get("allowed_headers", [])
    if not isinstance(allowed_headers, list) or not all(
        isinstance(h, str) and (h == "*" or _HEADER.fullmatch(h)) for h in allowed_headers
    ):
        raise problem(
            "allowed_headers",
            f"expected a list of header names such as [SAP_ApplicationID] (or ['*']), got {allowed_headers!r}",
        )
    properties, attachments, log_level = _message_log(entry.get("message_log", {}), problem)
    max_body_size = entry.get("max_body_size")
    if max_body_size is not None and (
        not isinstance(max_body_size, int | float) or isinstance(max_body_size, bool) or max_body_size < 1
    ):
        raise problem(
            "max_body_size", f"expected the Body Size in MB, at least 1 (SAP's minimum), got {max_body_size!r}"
        )
    options = _options(entry, behaviour, problem)
    version = entry.get("version", "1.0.0")
    if not isinstance(version, str | int | float) or isinstance(version, bool):
        raise problem("version", f"expected a version such as '1.0.3', got {version!r}")
    status, error = _deployment(entry.get("deployment", {}), problem)
    return FlowSpec(
        name=name,
        address=address,
        methods=frozenset(m.upper() for m in methods),
        role=role,
        behaviour=behaviour,
        csrf=csrf,
        options=dict(options),
        display_name=display_name,
        allowed_headers=tuple(allowed_headers),
        custom_header_properties=properties,
        attachments=attachments,
        log_level=log_level,
        ws_security=ws_security,
        version=str(version),
        deployment_status=status,
        deployment_error=error,
        max_body_size=float(max_body_size) if max_body_size is not None else None,
    )


def _options(entry: Mapping[str, Any], behaviour: str, problem: Callable[[str, str], CatalogError]) -> dict[str, Any]:
    options = entry.get("options") or {}
    if not isinstance(options, dict):
        raise problem("options", f"expected a mapping of behaviour options, got {options!r}")
    allowed = BEHAVIOURS[behaviour].options
    for option, value in options.items():
        if option not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise problem(f"options.{option}", f"behaviour {behaviour!r} has no such option (it takes: {known})")
        wanted = allowed[option]
        if not isinstance(value, wanted) or (isinstance(value, bool) and bool not in _types(wanted)):
            names = " or ".join(t.__name__ for t in _types(wanted))
            raise problem(f"options.{option}", f"expected a {names}, got {value!r}")
    return dict(options)


def _jms_flow(entry: Mapping[str, Any], name: str, problem: Callable[[str, str], CatalogError]) -> FlowSpec:
    """A flow with a JMS sender: no address, methods, role or CSRF; it runs for each message on its queue."""
    queue = entry.get("queue")
    if not isinstance(queue, str) or not _QUEUE.fullmatch(queue):
        raise problem(
            "queue", f"expected a queue name such as CostCenterChanges (letters, digits, _ . -), got {queue!r}"
        )
    for key in ("address", "methods", "role", "csrf", "allowed_headers"):
        if key in entry:
            raise problem(key, "a flow with a JMS sender (queue) has no HTTP sender settings: remove the key")
    behaviour = entry.get("behaviour")
    if not isinstance(behaviour, str) or behaviour not in BEHAVIOURS:
        raise problem("behaviour", f"expected one of {', '.join(sorted(BEHAVIOURS))}, got {behaviour!r}")
    display_name = entry.get("display_name", "")
    if not isinstance(display_name, str):
        raise problem("display_name", f"expected the artifact's name as text, got {display_name!r}")
    properties, attachments, log_level = _message_log(entry.get("message_log", {}), problem)
    return FlowSpec(
        name=name,
        address="",
        methods=frozenset(),
        role="",
        behaviour=behaviour,
        csrf=False,
        options=_options(entry, behaviour, problem),
        display_name=display_name,
        custom_header_properties=properties,
        attachments=attachments,
        queue=queue,
        log_level=log_level,
    )


def _ws_security(section: Any, adapter: str, problem: Callable[[str, str], CatalogError]) -> WsSecurity | None:
    """The flow's WS-Security settings (SOAP senders only)."""
    if section is None:
        return None
    if adapter != "cxf":
        raise problem(
            "ws_security", "WS-Security is a setting of the SOAP sender adapter: give the flow a /cxf address"
        )
    if not isinstance(section, dict) or set(section) - set(_WS_SECURITY_KEYS):
        raise problem("ws_security", f"expected a mapping with {', '.join(_WS_SECURITY_KEYS)}, got {section!r}")
    if section.get("type", "verify_and_sign") != "verify_and_sign":
        raise problem(
            "ws_security.type",
            f"the emulator offers verify_and_sign (Verify Message and Sign Response), got {section['type']!r}",
        )
    algorithm = section.get("signature_algorithm", "SHA1")
    if algorithm not in SIGNATURE_ALGORITHMS:
        raise problem(
            "ws_security.signature_algorithm", f"expected one of {', '.join(SIGNATURE_ALGORITHMS)}, got {algorithm!r}"
        )
    check = section.get("check_timestamp", True)
    if not isinstance(check, bool):
        raise problem("ws_security.check_timestamp", f"expected true or false, got {check!r}")
    return WsSecurity(signature_algorithm=algorithm, check_timestamp=check)


def _types(wanted: type | tuple[type, ...]) -> tuple[type, ...]:
    return wanted if isinstance(wanted, tuple) else (wanted,)


def _deployment(section: Any, problem: Callable[[str, str], CatalogError]) -> tuple[str, str]:
    """The runtime status a flow is deployed with and its error text (for a flow in ERROR)."""
    if not isinstance(section, dict) or set(section) - set(_DEPLOYMENT_KEYS):
        raise problem("deployment", f"expected a mapping with status and optionally error, got {section!r}")
    status = section.get("status", "STARTED")
    if status not in DEPLOYMENT_STATES:
        raise problem("deployment.status", f"expected one of {', '.join(DEPLOYMENT_STATES)}, got {status!r}")
    error = section.get("error", "")
    if not isinstance(error, str):
        raise problem("deployment.error", f"expected the deployment error as text, got {error!r}")
    if status == "ERROR" and not error:
        error = "com.sap.it.op.agent.api.DeploymentException: the integration flow could not be started"
    return status, error


def _parse_yaml(text: str, source: str) -> Any:
    """Parsed YAML, or one line naming the file, the line and column, and the problem."""
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader, bounded)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CatalogError(f"{source}: not valid YAML{where}: {problem}") from None


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def inside(root: Path, relative: str, what: str) -> Path:
    """`relative` resolved inside the project `root`; a path leading out of it is a configuration error."""
    resolved = (root / relative).resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise CatalogError(f"{what}: {relative!r} lies outside the project {root}; use a path inside it")
    return resolved


def _resolve_files(flow: FlowSpec, root: Path, source: str) -> FlowSpec:
    """A project flow with the files its options name read or located inside the project."""
    options = dict(flow.options)
    if flow.behaviour in STUB_BEHAVIOURS:
        options[FLOW_NAME] = flow.name  # so that a stub's errors name the flow
        options[ALLOWED_HEADERS] = list(flow.allowed_headers)
    if "body_file" in options:
        if "body" in options:
            raise CatalogError(f"{source}: flow {flow.name!r}: give either options.body or options.body_file")
        what = f"{source}: flow {flow.name!r}, key 'options.body_file'"
        path = inside(root, options["body_file"], what)
        try:
            options[BODY_BYTES] = path.read_bytes()
        except OSError as exc:
            raise CatalogError(f"{what}: cannot read {options['body_file']}: {exc.strerror}") from None
    if flow.behaviour == "replay":
        what = f"{source}: flow {flow.name!r}, key 'options.cassettes'"
        options[CASSETTE_DIR] = str(inside(root, options.get("cassettes", "cassettes"), what))
    if flow.behaviour == "delay" and not 0 <= float(options.get("seconds", 1)) <= 300:
        raise CatalogError(f"{source}: flow {flow.name!r}, key 'options.seconds': expected 0 to 300 seconds")
    return replace(flow, options=options)


def _message_log(
    section: Any, problem: Callable[[str, str], CatalogError]
) -> tuple[tuple[tuple[str, str], ...], tuple[AttachmentSpec, ...], str]:
    """The custom header properties and attachments a flow's runs write into their message log."""
    if not isinstance(section, dict):
        raise problem("message_log", f"expected a mapping with {' and/or '.join(_MESSAGE_LOG_KEYS)}, got {section!r}")
    unknown = sorted(set(section) - set(_MESSAGE_LOG_KEYS))
    if unknown:
        raise problem(f"message_log.{unknown[0]}", f"unknown key; allowed keys are {', '.join(_MESSAGE_LOG_KEYS)}")
    properties = section.get("custom_header_properties", {})
    if not isinstance(properties, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str | int | float) and not isinstance(v, bool)
        for k, v in properties.items()
    ):
        raise problem(
            "message_log.custom_header_properties",
            f"expected a mapping of property names to values, such as {{po_number: '12345'}}, got {properties!r}",
        )
    attachments = section.get("attachments", [])
    if not isinstance(attachments, list):
        raise problem("message_log.attachments", f"expected a list of attachments, got {attachments!r}")
    specs = []
    for index, attachment in enumerate(attachments):
        key = f"message_log.attachments[{index}]"
        if (
            not isinstance(attachment, dict)
            or set(attachment) - set(_ATTACHMENT_KEYS)
            or not all(isinstance(attachment.get(k), str) for k in ("name", "content"))
            or not isinstance(attachment.get("content_type", ""), str)
        ):
            raise problem(
                key,
                f"expected a mapping with name and content (text) and optionally content_type, got {attachment!r}",
            )
        specs.append(
            AttachmentSpec(attachment["name"], attachment["content"], attachment.get("content_type") or "text/plain")
        )
    log_level = section.get("log_level", "INFO")
    if log_level not in LOG_LEVELS:
        raise problem("message_log.log_level", f"expected one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
    return tuple((k, str(v)) for k, v in properties.items()), tuple(specs), log_level
