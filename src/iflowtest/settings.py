"""Settings, resolved in one place and one order.

Order, first wins:
1. the command line (`--iflow-*` options),
2. the environment: the process environment, then `.env.<profile>`, then `.env` (python-dotenv; the
   profile comes from `--iflow-env` or `IFLOWTEST_ENV`),
3. `[tool.iflowtest]` in pyproject.toml,
4. defaults.

Every variable is documented in `.env.example`. Credentials use the service-key names the SAP docs use;
a client's key is given as `IFLOWTEST_CLIENT_<NAME>_KEY` (the key's JSON, or a path to its file).
"""

from __future__ import annotations

import difflib
import importlib.metadata
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from dotenv import dotenv_values

from iflowtest.errors import ConfigError
from iflowtest.files import inside_project
from iflowtest.redaction import Secret

Target = Literal["emulator", "tenant"]
AuthMode = Literal["basic", "oauth", "certificate"]
Source = Literal["provision", "load", "variables"]

TLS_FLAG: Final = "--iflow-no-tls-verify"  # what origins name the command-line switch
_TRUE: Final = ("1", "true", "yes", "on")
_FALSE: Final = ("0", "false", "no", "off")
PLANS: Final = ("integration-flow", "api")
AUTH_MODES: Final = ("basic", "oauth", "certificate")
KEY_TYPES: Final = ("secret", "certificate")
SOURCES: Final = ("provision", "load", "variables")
# source = "variables": the key's fields from the profile, as a Postman environment holds them (`${NAME}`).
KEY_FIELDS: Final = ("url", "clientid", "clientsecret", "tokenurl")
ROLE_PATTERN = re.compile(r"^[A-Za-z0-9_.]+$")  # what a role name may hold (provisioning checks it too)
_CLIENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
# Every IFLOWTEST_* variable the harness reads, besides IFLOWTEST_CLIENT_<NAME>_KEY of each declared client;
# `.env.example` documents each one (tests/test_settings.py keeps the two and the source in step).
KNOWN_VARIABLES: Final = frozenset(
    {
        "IFLOWTEST_ENV",
        "IFLOWTEST_TARGET",
        "IFLOWTEST_CLIENT",
        "IFLOWTEST_CONNECT_TIMEOUT",
        "IFLOWTEST_READ_TIMEOUT",
        "IFLOWTEST_CA_BUNDLE",
        "IFLOWTEST_TLS_VERIFY",
        "IFLOWTEST_SUITES",
        "IFLOWTEST_REPORTS",
        "IFLOWTEST_EMULATOR_TOKEN_LIFETIME",
        "IFLOWTEST_EMULATOR_MODE",
        "IFLOWTEST_CF_API",
        "IFLOWTEST_CF_ORG",
        "IFLOWTEST_CF_SPACE",
        "IFLOWTEST_CF_USERNAME",
        "IFLOWTEST_CF_PASSWORD",
        "IFLOWTEST_CF_JOB_TIMEOUT",
        "IFLOWTEST_KEEP_CLIENTS",
        "IFLOWTEST_MONITOR_URL",
        "IFLOWTEST_NOTIFY_WEBHOOK",
    }
)

_TOP_KEYS: Final = {
    "target": str,
    "suites": list,
    "reports": str,
    "default_client": str,
    "connect_timeout": (int, float),
    "read_timeout": (int, float),
    "ca_bundle": str,
    "tls_verify": bool,
    "clients": dict,
    "iflows": dict,
    "emulator": dict,
    "cf": dict,
    "keep_clients": bool,
    "monitor_url": str,
    "cassettes": dict,  # read by cassettes.CassetteOptions
    "allowed_paths": list,
    "notify": dict,  # read by reporting.notify.NotifySettings
    "rate_limits": dict,  # read by calls.pacing.RateLimits
}
_CLIENT_KEYS: Final = {
    "plan": str,
    "roles": list,
    "grant_types": list,
    "key_type": str,
    "auth": str,
    "service_key": str,
    "token_validity": int,
    "source": str,
    "validity": int,
    "key_length": int,
    "url": str,
    "clientid": str,
    "clientsecret": str,
    "tokenurl": str,
}
_CF_KEYS: Final = {"api": str, "org": str, "space": str, "job_timeout": (int, float)}
_IFLOW_KEYS: Final = {"address": str, "role": str, "in_order": bool, "id": str}
# What each mode sets; a switch given in [tool.iflowtest.emulator] wins. Strict takes, for each behaviour that
# cpi-facts marks UNCONFIRMED or that differs between tenants, the form least convenient for a client, so a
# pass against it means a pass against any tenant.
EMULATOR_MODES: Final[dict[str, dict[str, Any]]] = {
    "strict": {
        "mpl_header": False,
        "next_links": "relative",
        "log_delay": 0.3,
        "processing": 0.3,
        "display_names": True,
        "separate_hosts": True,
        "body_limit_status": 500,
        "odata_errors": "converted",
    },
    "lenient": {
        "mpl_header": True,
        "next_links": "absolute",
        "log_delay": 0.0,
        "processing": 0.0,
        "display_names": False,
        "separate_hosts": False,
        "body_limit_status": 413,
        "odata_errors": "odata",
    },
}
_EMULATOR_KEYS: Final = {
    "mode": str,
    "next_links": str,
    "log_delay": (int, float),
    "processing": (int, float),
    "display_names": bool,
    "separate_hosts": bool,
    "body_limit_status": int,
    "odata_errors": str,
    "token_lifetime": int,
    "mpl_header": bool,
    "tls": bool,
    "job_delay": (int, float),
    "services_quota": int,
    "faults": list,
    "iflows": str,
}


@dataclass(frozen=True)
class ClientSpec:
    """One named OAuth client, as declared in `[tool.iflowtest.clients.NAME]`."""

    name: str
    plan: str = "integration-flow"
    roles: tuple[str, ...] = ("ESBMessaging.send",)
    grant_types: tuple[str, ...] = ("client_credentials",)
    key_type: str = "secret"
    auth: AuthMode = "oauth"
    service_key: str | None = None
    service_key_origin: str | None = None
    token_validity: int | None = None
    source: Source = "provision"
    validity: int = 365
    key_length: int = 2048
    # source = "variables": each key field as a template over the profile (`${clientid}`), never a secret itself
    key_fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def env_var(self) -> str:
        """The variable that holds this client's service key."""
        return client_key_variable(self.name)

    @property
    def table(self) -> str:
        """Where the client is declared, for messages."""
        return f"[tool.iflowtest.clients.{self.name}]"


@dataclass(frozen=True)
class IflowSpec:
    """What the harness knows of a deployed iFlow: its address and the role its sender adapter requires."""

    name: str
    address: str | None = None
    role: str | None = None
    in_order: bool = False  # its cases share state: `iflowtest run -n` keeps each file's cases on one worker
    id: str | None = None  # the artifact id where it differs from the name (message logs are found by it)

    @property
    def artifact_id(self) -> str:
        """The iFlow's artifact id on the tenant: `id` when declared, else its name."""
        return self.id or self.name


@dataclass(frozen=True)
class EmulatorOptions:
    """How the bundled emulated tenant is started.

    `mode` "strict" (the default) gives every behaviour a real tenant does not promise in the form least
    convenient for a client (see EMULATOR_MODES); "lenient" keeps the conveniences, for demos. Each switch
    can be set on its own in [tool.iflowtest.emulator] and wins over the mode.
    """

    token_lifetime: int = 3599
    mpl_header: bool = True
    tls: bool = True
    mode: str = "lenient"
    next_links: str = "absolute"  # how the MPL API writes __next: absolute, relative or bare
    log_delay: float = 0.0  # seconds between a flow's answer and its message log appearing
    processing: float = 0.0  # seconds every message stays PROCESSING before its final status
    display_names: bool = False  # IntegrationFlowName a display name, not the artifact id
    separate_hosts: bool = False  # runtime, API and token URL on three hosts (ports), as real keys name them
    body_limit_status: int = 413  # a body over an iFlow's Body Size: 413, or 500 with SAP's text
    odata_errors: str = "odata"  # the MPL API's JSON errors: "odata" (V2 `error` object) or "converted" (from XML)
    job_delay: float = 0.0  # seconds until a CF job of the emulated landscape completes
    services_quota: int | None = None  # service instances the emulated org allows
    faults: tuple[str, ...] = ()  # injected at start, in the `iflowtest emulator --fault` syntax
    # The project's own iFlows on the emulator (its iflows.yaml): None when the default file does not exist.
    iflows: Path | None = None


@dataclass(frozen=True)
class CfSettings:
    """Where and as whom clients are provisioned: the Cloud Foundry API, org, space and login."""

    api: str | None = None
    org: str | None = None
    space: str | None = None
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    config_path: Path | None = None
    job_timeout: float = 300.0

    @property
    def configured(self) -> bool:
        """Whether an API is given, or a cf CLI session exists to take it from."""
        return bool(self.api) or (self.config_path is not None and self.config_path.is_file())


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know, resolved once."""

    root: Path
    profile: str | None
    target: Target
    clients: Mapping[str, ClientSpec]
    default_client: str
    iflows: Mapping[str, IflowSpec]
    suites: tuple[str, ...]
    reports_dir: Path
    connect_timeout: float
    read_timeout: float
    ca_bundle: str | None
    emulator: EmulatorOptions
    variables: Mapping[str, str] = field(repr=False)
    origins: Mapping[str, str] = field(default_factory=dict)
    cf: CfSettings = field(default_factory=CfSettings)
    keep_clients: bool = False
    # The Integration Suite web UI host, for message monitor links of messages the report did not look up.
    monitor_url: str | None = None
    tls_verify: bool = True  # False only when asked for explicitly (tlsverify.py)
    # Folders outside the project that suites may read and write (`allowed_paths`, relative to the project).
    allowed_paths: tuple[Path, ...] = ()

    def project_file(self, path: str | os.PathLike[str], *, what: str) -> Path:
        """A file a suite names, taken from the project root; refused when it leads outside the project."""
        return inside_project(path, self.root, self.allowed_paths, what=what)

    def client(self, name: str | None = None) -> ClientSpec:
        """The declared client `name` (default client when None), or a ConfigError naming the known ones."""
        wanted = name or self.default_client
        try:
            return self.clients[wanted]
        except KeyError:
            raise ConfigError(
                f"unknown client {wanted!r}: declared clients are {', '.join(sorted(self.clients))}; "
                f"declare it as [tool.iflowtest.clients.{wanted}] in pyproject.toml" + _suggest(wanted, self.clients)
            ) from None

    def iflow(self, name: str) -> IflowSpec:
        """What is declared about iFlow `name` (an empty spec when nothing is)."""
        return self.iflows.get(name) or IflowSpec(name)

    def declared_iflow(self, name: str) -> IflowSpec:
        """iFlow `name` as declared, or a ConfigError: a typo must not become a new iFlow in the report."""
        try:
            return self.iflows[name]
        except KeyError:
            declared = (
                f"declared iFlows are {', '.join(sorted(self.iflows))}" if self.iflows else "no iFlow is declared"
            )
            raise ConfigError(
                f"unknown iFlow {name!r}: {declared}; declare it as [tool.iflowtest.iflows.{name}] in pyproject.toml, "
                "an empty table will do" + _suggest(name, self.iflows)
            ) from None


def client_key_variable(name: str) -> str:
    """`IFLOWTEST_CLIENT_<NAME>_KEY`, with dashes turned into underscores."""
    return f"IFLOWTEST_CLIENT_{name.upper().replace('-', '_')}_KEY"


def display_path(path: Path, root: Path) -> str:
    """`path` relative to the project `root` for messages, or as given when it lies elsewhere."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def find_project_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding a pyproject.toml (or `start` itself)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


def load_pyproject_table(root: Path) -> dict[str, Any]:
    """The `[tool.iflowtest]` table of root/pyproject.toml ({} when absent)."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}): fix the syntax and run again") from None
    table = document.get("tool", {}).get("iflowtest", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.iflowtest] must be a table")
    return table


def environment_layers(
    root: Path, profile: str | None, environ: Mapping[str, str]
) -> list[tuple[str, Mapping[str, str]]]:
    """Where variables come from, first wins: the process environment, `.env.<profile>`, `.env`."""
    layers: list[tuple[str, Mapping[str, str]]] = [("the environment", environ)]
    if profile:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", profile):
            raise ConfigError(f"profile name {profile!r} is not a plain name: use letters, digits, '-', '_' or '.'")
        named = root / f".env.{profile}"
        if not named.is_file():
            raise ConfigError(
                f"profile {profile!r} was requested but {named} does not exist: "
                f"copy .env.example to .env.{profile} and fill in its values"
            )
        layers.append((named.name, read_dotenv(named)))
    base = root / ".env"
    if base.is_file():
        layers.append((base.name, read_dotenv(base)))
    return layers


def read_dotenv(path: Path) -> dict[str, str]:
    """The variables of a `.env` file (python-dotenv), or a ConfigError naming the file when it cannot be read."""
    try:
        return {k: v for k, v in dotenv_values(path, encoding="utf-8").items() if v is not None}
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte {exc.start} is {exc.object[exc.start : exc.start + 1]!r}): save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read ({exc.strerror}): check its permissions") from None


def check_variables(layers: list[tuple[str, Mapping[str, str]]], clients: Mapping[str, ClientSpec]) -> None:
    """Refuse an IFLOWTEST_* variable the harness does not read: a misspelt name would silently change the run."""
    keys = {client_key_variable(name): name for name in clients}
    known = KNOWN_VARIABLES | set(keys)
    problems = []
    for where, layer in layers:
        for name in sorted(layer):
            if name.startswith("IFLOWTEST_") and name not in known:
                problems.append(_unknown_variable(name, where, keys, known))
    if problems:
        raise ConfigError(
            "; ".join(problems) + ": fix the name (`.env.example` lists every variable iflowtest reads) or remove it"
        )


def _unknown_variable(name: str, where: str, keys: Mapping[str, str], known: frozenset[str] | set[str]) -> str:
    text = f"unknown variable {name} in {where}"
    match = re.fullmatch(r"IFLOWTEST_CLIENT_(.+)_KEY", name)
    if match:
        close = difflib.get_close_matches(name, list(keys), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        declared = ", ".join(sorted(keys.values()))
        return f"{text}{hint}: no client {match.group(1).lower()!r} is declared (declared clients: {declared})"
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return text + (f" (did you mean {close[0]}?)" if close else "")


def resolve_settings(
    root: Path, options: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Resolve every setting from the command line `options`, the environment and pyproject."""
    options = {k: v for k, v in (options or {}).items() if v is not None}
    environ = os.environ if environ is None else environ
    table = load_pyproject_table(root)
    _check_keys(table, _TOP_KEYS, "[tool.iflowtest]")
    profile = options.get("env") or environ.get("IFLOWTEST_ENV") or _dotenv_profile(root) or None
    layers = environment_layers(root, profile, environ)
    env: dict[str, str] = {}
    for _, layer in reversed(layers):
        env.update(layer)
    origins: dict[str, str] = {}

    def pick(option: str, variable: str, key: str, default: Any) -> Any:
        if option in options:
            origins[key] = f"--iflow-{option.replace('_', '-')}"
            return options[option]
        if env.get(variable, "") != "":
            origins[key] = variable
            return env[variable]
        if key in table:
            origins[key] = f"[tool.iflowtest] {key}"
            return table[key]
        origins[key] = "default"
        return default

    clients = _parse_clients(table.get("clients", {}), env)
    check_variables(layers, clients)
    iflows = _parse_iflows(table.get("iflows", {}))
    default_client = str(pick("client", "IFLOWTEST_CLIENT", "default_client", next(iter(clients))))
    if default_client not in clients:
        raise ConfigError(
            f"default client {default_client!r} ({origins['default_client']}) is not declared: declared clients "
            f"are {', '.join(sorted(clients))}" + _suggest(default_client, clients)
        )
    cf = _parse_cf(table.get("cf", {}), env)
    target = _parse_target(
        pick("target", "IFLOWTEST_TARGET", "target", "auto"),
        origins["target"],
        clients,
        cf,
        profile=profile,
    )
    keep_clients = _flag(pick("keep_clients", "IFLOWTEST_KEEP_CLIENTS", "keep_clients", False), origins)
    suites = pick("suites", "IFLOWTEST_SUITES", "suites", ["suites"])
    if isinstance(suites, str):
        suites = [s for s in re.split(r"[,\s]+", suites) if s]
    emulator = _parse_emulator(table.get("emulator", {}), env, root)
    ca_bundle = pick("ca_bundle", "IFLOWTEST_CA_BUNDLE", "ca_bundle", None)
    tls_verify = parse_tls_verify(pick("tls_verify", "IFLOWTEST_TLS_VERIFY", "tls_verify", True), origins)
    check_ca_bundle(tls_verify, ca_bundle, origins)
    if ca_bundle:
        ca_bundle = readable_ca_bundle(str(ca_bundle), origins.get("ca_bundle", "ca_bundle"), root)
    return Settings(
        root=root,
        profile=profile,
        target=target,
        clients=clients,
        default_client=default_client,
        iflows=iflows,
        suites=tuple(str(s) for s in suites),
        reports_dir=root / str(pick("reports", "IFLOWTEST_REPORTS", "reports", "reports")),
        connect_timeout=_positive(
            pick("connect_timeout", "IFLOWTEST_CONNECT_TIMEOUT", "connect_timeout", 10), origins["connect_timeout"]
        ),
        read_timeout=_positive(
            pick("read_timeout", "IFLOWTEST_READ_TIMEOUT", "read_timeout", 60), origins["read_timeout"]
        ),
        ca_bundle=ca_bundle,
        emulator=emulator,
        variables=env,
        origins=origins,
        cf=cf,
        keep_clients=keep_clients,
        monitor_url=pick("monitor_url", "IFLOWTEST_MONITOR_URL", "monitor_url", None),
        tls_verify=tls_verify,
        allowed_paths=allowed_paths(root, table),
    )


def allowed_paths(root: Path, table: Mapping[str, Any]) -> tuple[Path, ...]:
    """The folders of `allowed_paths` in [tool.iflowtest], relative to the project root."""
    return tuple(root / folder for folder in _strings(table.get("allowed_paths", []), "[tool.iflowtest] allowed_paths"))


def project_file(path: str | os.PathLike[str], root: Path | None = None, *, what: str) -> Path:
    """A file a suite names, from the project `root`, refused when it leads outside the project.

    YAML suites always pass their project's root: what they name is data and goes through the gate (the
    folders of `allowed_paths` read from the project's pyproject.toml). Without a root the caller is Python
    code, which may open any file anyway: its path is taken from the project root found from the current
    folder, as given.
    """
    if root is None:
        candidate = Path(path)
        return candidate if candidate.is_absolute() else find_project_root(Path.cwd()) / candidate
    return inside_project(path, root, allowed_paths(root, load_pyproject_table(root)), what=what)


def _dotenv_profile(root: Path) -> str | None:
    # The profile itself may be chosen in `.env` (a developer's usual tenant).
    base = root / ".env"
    return read_dotenv(base).get("IFLOWTEST_ENV") if base.is_file() else None


def _parse_target(
    value: Any, origin: str, clients: Mapping[str, ClientSpec], cf: CfSettings, *, profile: str | None
) -> Target:
    if value == "auto":
        # A profile names a tenant: falling back to the emulator when its keys are missing or misspelt would
        # turn a nightly against the tenant green without calling it.
        if profile:
            value, origin = "tenant", f"profile {profile!r}"
        else:
            # Missing keys are found when the target starts, naming the Cloud Foundry API they need.
            return "tenant" if cf.api or any(c.service_key for c in clients.values()) else "emulator"
    if value not in ("emulator", "tenant"):
        raise ConfigError(f"target {value!r} ({origin}) is not one of: emulator, tenant, auto")
    target: Target = value
    if target == "emulator" and profile and origin.startswith("[tool.iflowtest]"):
        raise ConfigError(
            f"profile {profile!r} names a tenant but {origin} = 'emulator': pass --iflow-target emulator (or set "
            f"IFLOWTEST_TARGET=emulator in .env.{profile}) to run the profile against the emulated tenant"
        )
    return target


def check_client_keys(settings: Settings, names: Iterable[str]) -> None:
    """A ConfigError when a client among `names` (those the selected tests use) has no way to a key on a tenant.

    Only the clients a run uses need keys: a suite that never calls `monitor` runs without its key.
    """
    if settings.target != "tenant":
        return
    profile, origin, cf = settings.profile, settings.origins.get("target", "target"), settings.cf
    clients = [settings.client(name) for name in sorted(set(names))]
    named_by_profile = profile and (origin.startswith("profile") or settings.origins.get("target") == "default")
    needs = f"profile {profile!r} names a tenant, which" if named_by_profile else "target 'tenant'"
    emulator = "; or run against the emulated tenant with --iflow-target emulator" if profile else ""
    loaded = [c for c in clients if c.source == "load" and not c.service_key]
    if loaded:
        lines = "; ".join(f"{c.name}: set {c.env_var} (key JSON or file path)" for c in loaded)
        raise ConfigError(
            f"clients with source = 'load' need a service key, missing for {lines}. "
            "Put them in .env.<profile> (see .env.example) or set service_key in the client's table" + emulator
        )
    missing = [c for c in clients if not c.service_key and c.source == "provision"]
    if missing and not cf.configured:
        lines = "; ".join(f"{c.name}: set {c.env_var} (key JSON or file path)" for c in missing)
        raise ConfigError(
            f"{needs} needs a service key for every client the selected tests use, missing for {lines}. "
            "Put them in .env.<profile> (see .env.example) or set service_key in the client's table; "
            "or have them provisioned: set IFLOWTEST_CF_API, IFLOWTEST_CF_ORG and IFLOWTEST_CF_SPACE "
            "(or log in with `cf login` and `cf target`)" + emulator
        )


def _parse_cf(raw: Any, env: Mapping[str, str]) -> CfSettings:
    _check_keys(raw, _CF_KEYS, "[tool.iflowtest.cf]")
    password = env.get("IFLOWTEST_CF_PASSWORD") or None
    timeout = env.get("IFLOWTEST_CF_JOB_TIMEOUT") or raw.get("job_timeout", 300)
    return CfSettings(
        api=(env.get("IFLOWTEST_CF_API") or raw.get("api") or None),
        org=env.get("IFLOWTEST_CF_ORG") or raw.get("org") or None,
        space=env.get("IFLOWTEST_CF_SPACE") or raw.get("space") or None,
        # User and password come from the environment only, never from pyproject.toml.
        username=env.get("IFLOWTEST_CF_USERNAME") or None,
        password=Secret(password) if password else None,
        config_path=cf_config_path(env),
        job_timeout=_positive(timeout, "IFLOWTEST_CF_JOB_TIMEOUT"),
    )


def _flag(value: Any, origins: Mapping[str, str]) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{origins.get('keep_clients', 'keep_clients')} must be true or false, got {value!r}")


def _parse_clients(raw: Any, env: Mapping[str, str]) -> dict[str, ClientSpec]:
    if not isinstance(raw, dict):
        raise ConfigError("[tool.iflowtest.clients] must be a table of tables, one per client name")
    if not raw:
        raw = {"default": {}}
    clients: dict[str, ClientSpec] = {}
    for name, body in raw.items():
        where = f"[tool.iflowtest.clients.{name}]"
        if not _CLIENT_NAME.match(name):
            raise ConfigError(f"{where}: client names start with a letter and use letters, digits, '-' or '_' (max 32)")
        if not isinstance(body, dict):
            raise ConfigError(f"{where} must be a table")
        _check_keys(body, _CLIENT_KEYS, where)
        plan = _choice(body.get("plan", "integration-flow"), PLANS, f"{where} plan")
        auth = _choice(body.get("auth", "oauth"), AUTH_MODES, f"{where} auth")
        key_type = _choice(
            body.get("key_type", "certificate" if auth == "certificate" else "secret"), KEY_TYPES, f"{where} key_type"
        )
        if auth == "certificate" and key_type != "certificate":
            raise ConfigError(f"{where}: auth = 'certificate' needs key_type = 'certificate'")
        roles = tuple(
            _strings(
                body.get("roles", ["MonitoringDataRead"] if plan == "api" else ["ESBMessaging.send"]), f"{where} roles"
            )
        )
        for role in roles:
            if not ROLE_PATTERN.match(role):
                raise ConfigError(f"{where}: role {role!r} may only use letters, digits, '_' and '.'")
        grant_types = tuple(_strings(body.get("grant_types", ["client_credentials"]), f"{where} grant_types"))
        variable = client_key_variable(name)
        key, origin = (
            (env[variable], variable) if env.get(variable) else (body.get("service_key"), f"{where} service_key")
        )
        fields = {name: body[name] for name in KEY_FIELDS if name in body}
        default_source = "load" if key else "variables" if fields else "provision"
        source = _choice(body.get("source", default_source), SOURCES, f"{where} source")
        _check_key_fields(fields, source, auth, where)
        clients[name] = ClientSpec(
            name=name,
            plan=plan,
            roles=roles,
            grant_types=grant_types,
            key_type=key_type,
            auth=auth,  # type: ignore[arg-type]  # checked by _choice
            service_key=key or None,
            service_key_origin=origin if key else None,
            token_validity=body.get("token_validity"),
            source=source,  # type: ignore[arg-type]  # checked by _choice
            validity=body.get("validity", 365),
            key_length=body.get("key_length", 2048),
            key_fields=fields,
        )
    return clients


def _check_key_fields(fields: Mapping[str, str], source: str, auth: str, where: str) -> None:
    """A variables client names where each key field comes from; its secret is always a `${NAME}` reference."""
    if source != "variables":
        if fields:
            raise ConfigError(
                f"{where}: {', '.join(fields)} belong to source = 'variables' (the key's fields taken from the "
                "profile): set source = 'variables' or remove them"
            )
        return
    needed = ["url", "clientid", "clientsecret"] + (["tokenurl"] if auth == "oauth" else [])
    missing = [name for name in needed if not fields.get(name)]
    if missing:
        raise ConfigError(
            f"{where}: source = 'variables' needs {', '.join(missing)}, each a value or a profile variable such as "
            f'{missing[0]} = "${{{missing[0]}}}"'
        )
    if auth == "certificate":
        raise ConfigError(f"{where}: source = 'variables' takes a client id and secret: use auth = 'basic' or 'oauth'")
    if not re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_.-]*\}", fields["clientsecret"].strip()):
        raise ConfigError(
            f'{where}: clientsecret must name a profile variable, such as clientsecret = "${{clientsecret}}": '
            "a secret never goes into pyproject.toml; put its value in .env.<profile>"
        )


def _parse_iflows(raw: Any) -> dict[str, IflowSpec]:
    if not isinstance(raw, dict):
        raise ConfigError("[tool.iflowtest.iflows] must be a table of tables, one per iFlow name")
    iflows: dict[str, IflowSpec] = {}
    for name, body in raw.items():
        where = f"[tool.iflowtest.iflows.{name}]"
        if not isinstance(body, dict):
            raise ConfigError(f"{where} must be a table")
        _check_keys(body, _IFLOW_KEYS, where)
        address = body.get("address")
        if address is not None and not address.startswith("/"):
            raise ConfigError(f"{where}: address must start with '/' (e.g. '/http/costcenters'), got {address!r}")
        iflows[name] = IflowSpec(
            name=name,
            address=address,
            role=body.get("role"),
            in_order=body.get("in_order", False),
            id=body.get("id"),
        )
    return iflows


def _project_iflows(raw: Mapping[str, Any], root: Path) -> Path | None:
    """The project's iflows.yaml: the configured path must exist and lie inside the project."""
    given = raw.get("iflows")
    path = (root / (given or "iflows.yaml")).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ConfigError(
            f"[tool.iflowtest.emulator] iflows = {given!r} lies outside the project {root}: use a path inside it"
        )
    if not path.is_file():
        if given:
            raise ConfigError(
                f"[tool.iflowtest.emulator] iflows = {given!r}: no such file in {root}; create it (`iflowtest init` "
                "writes an example) or remove the setting"
            )
        return None
    return path


def _parse_emulator(raw: Any, env: Mapping[str, str], root: Path = Path()) -> EmulatorOptions:
    _check_keys(raw, _EMULATOR_KEYS, "[tool.iflowtest.emulator]")
    lifetime = env.get("IFLOWTEST_EMULATOR_TOKEN_LIFETIME") or raw.get("token_lifetime", 3599)
    try:
        lifetime = int(lifetime)
    except ValueError:
        raise ConfigError(f"IFLOWTEST_EMULATOR_TOKEN_LIFETIME must be whole seconds, got {lifetime!r}") from None
    if lifetime < 1:
        raise ConfigError(f"emulator token lifetime must be at least 1 second, got {lifetime}")
    mode = env.get("IFLOWTEST_EMULATOR_MODE") or raw.get("mode", "strict")
    if mode not in EMULATOR_MODES:
        where = "IFLOWTEST_EMULATOR_MODE" if env.get("IFLOWTEST_EMULATOR_MODE") else "[tool.iflowtest.emulator] mode"
        raise ConfigError(f"{where} = {mode!r} is not a mode: use 'strict' (the default) or 'lenient'")
    switches = {**EMULATOR_MODES[mode], **{k: raw[k] for k in EMULATOR_MODES[mode] if k in raw}}
    if switches["next_links"] not in ("absolute", "relative", "bare"):
        raise ConfigError(
            f"[tool.iflowtest.emulator] next_links = {switches['next_links']!r}: use 'absolute', 'relative' or 'bare'"
        )
    if switches["body_limit_status"] not in (413, 500):
        raise ConfigError(
            f"[tool.iflowtest.emulator] body_limit_status = {switches['body_limit_status']!r}: use 413 or 500"
        )
    if switches["odata_errors"] not in ("odata", "converted"):
        raise ConfigError(
            f"[tool.iflowtest.emulator] odata_errors = {switches['odata_errors']!r}: use 'odata' or 'converted'"
        )
    for name in ("log_delay", "processing"):
        if switches[name] < 0:
            raise ConfigError(f"[tool.iflowtest.emulator] {name} must be ≥ 0 seconds, got {switches[name]!r}")
    return EmulatorOptions(
        token_lifetime=lifetime,
        mpl_header=bool(switches["mpl_header"]),
        tls=bool(raw.get("tls", True)),
        mode=mode,
        next_links=switches["next_links"],
        log_delay=float(switches["log_delay"]),
        processing=float(switches["processing"]),
        display_names=bool(switches["display_names"]),
        separate_hosts=bool(switches["separate_hosts"]),
        body_limit_status=int(switches["body_limit_status"]),
        odata_errors=str(switches["odata_errors"]),
        job_delay=float(raw.get("job_delay", 0.0)),
        services_quota=raw.get("services_quota"),
        faults=_emulator_faults(raw.get("faults", [])),
        iflows=_project_iflows(raw, root),
    )


def _emulator_faults(texts: list[Any]) -> tuple[str, ...]:
    if not texts:
        return ()
    # Only their type here: what each one says is checked by the target (`check_emulator_faults`), which
    # alone may load the emulator.
    for text in texts:
        if not isinstance(text, str):
            raise ConfigError(f"[tool.iflowtest.emulator] faults must be strings such as 'cf-jobs:hang', got {text!r}")
    return tuple(texts)


def _check_keys(table: Mapping[str, Any], known: Mapping[str, Any], where: str) -> None:
    for key, value in table.items():
        if key not in known:
            raise ConfigError(
                f"unknown key {key!r} in {where}" + _suggest(key, known) + f"; known keys: {', '.join(known)}"
            )
        if not isinstance(value, known[key]):
            expected = known[key]
            names = " or ".join(t.__name__ for t in expected) if isinstance(expected, tuple) else expected.__name__
            kind = _TOML_KINDS.get(type(value).__name__, type(value).__name__)
            # A value is shown only when it is small and plain: a table or a key's field may hold a secret.
            shown = "" if isinstance(value, dict | list) or _SECRET_KEY.search(key) else f" {value!r}"
            fix = (
                ": keep service keys out of pyproject.toml; set IFLOWTEST_CLIENT_<NAME>_KEY or give the key file's path"
                if key == "service_key"
                else ""
            )
            raise ConfigError(f"{where} {key} must be a {names}, got a {kind}{shown}{fix}")


_TOML_KINDS: Final = {"dict": "table", "list": "array", "str": "string", "bool": "boolean", "int": "integer"}
_SECRET_KEY: Final = re.compile(r"(?i)secret|password|token|key|credential")


def _choice(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{where} = {value!r} is not one of: {', '.join(allowed)}" + _suggest(str(value), allowed))
    return str(value)


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where} must be a list of non-empty strings, got {value!r}")
    return list(value)


def _positive(value: Any, origin: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{origin} must be a number of seconds, got {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{origin} must be a finite number of seconds, got {value!r}")
    if number <= 0:
        raise ConfigError(f"{origin} must be greater than 0, got {value!r}")
    return number


def _suggest(word: str, candidates: Any) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_tls_verify(value: Any, origins: MutableMapping[str, str]) -> bool:
    """The `tls_verify` setting as a bool; a ConfigError for anything but true or false."""
    if origins.get("tls_verify") == "--iflow-tls-verify":  # settings names options after their key
        origins["tls_verify"] = TLS_FLAG
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(
        f"{origins.get('tls_verify', 'tls_verify')} = {value!r} is not true or false: leave it unset to verify "
        "TLS certificates (the default), or set it to false to turn verification off"
    )


def check_ca_bundle(tls_verify: bool, ca_bundle: str | None, origins: MutableMapping[str, str]) -> None:
    """Refuse a CA bundle together with verification turned off: one of the two is a mistake."""
    if tls_verify or not ca_bundle:
        return
    raise ConfigError(
        f"TLS verification is turned off ({origins.get('tls_verify', 'tls_verify')}) but a CA bundle is given "
        f"({origins.get('ca_bundle', 'ca_bundle')} = {ca_bundle}), which is only used to verify: remove the CA "
        "bundle to connect without verification, or turn verification back on to verify with the bundle"
    )


def readable_ca_bundle(value: str, origin: str, root: Path) -> str:
    """The CA bundle's path (relative to the project), or a ConfigError before any call would fail on it."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = root / path
    fix = f"set {origin} to your CA bundle (a PEM file), or remove it to verify with the default CA certificates"
    if path.is_dir():  # a c_rehash folder of certificates, as OpenSSL takes it
        return str(path)
    try:
        with path.open("rb") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise ConfigError(f"CA bundle {path} ({origin}) does not exist: {fix}") from None
    except OSError as exc:
        raise ConfigError(f"CA bundle {path} ({origin}) cannot be read ({exc.strerror or exc}): {fix}") from None
    if b"-----BEGIN CERTIFICATE-----" not in text:
        raise ConfigError(f"CA bundle {path} ({origin}) holds no PEM certificate: {fix}")
    return str(path)


def harness_verify(settings: Settings, ca_file: str | None = None) -> bool | str:
    """requests' `verify=` for the harness's calls: False when turned off, else `ca_file`, the CA bundle or True."""
    if not settings.tls_verify:
        return False
    return ca_file or settings.ca_bundle or True


def cf_config_path(environ: Mapping[str, str]) -> Path:
    """Where the cf CLI keeps its session: `$CF_HOME/.cf/config.json`, else `$HOME/.cf/config.json`."""
    home = environ.get("CF_HOME") or environ.get("HOME") or str(Path.home())
    return Path(home) / ".cf" / "config.json"


def installed_version() -> str:
    """The installed iflowtest's version, or "0+unknown" in a source tree that was never installed."""
    try:
        return importlib.metadata.version("iflowtest")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"
