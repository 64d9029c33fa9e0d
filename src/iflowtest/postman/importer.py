"""`iflowtest import-postman`: a Postman collection written as YAML suites, fixtures, clients and a conversion report.

Folders become sub-folders of the suite, each with one `*.iflow.yaml`; bodies over a few lines go to
`fixtures/<suite>/`; Postman auth becomes client definitions (`clients.toml`, to copy into pyproject.toml)
that take their url, client id, secret and token URL from the profile as the Postman environment holds them.
Secret values (type `secret`, passwords, client secrets, tokens) are never written: only referenced as
`${NAME}`. Every item appears in the report.

Newman's semantics are kept: all files of one import are one `sequence` (collection order, values saved by a
request seen by every later one), collection variables are `defaults` (the profile, Postman's environment,
overrides them), URLs on other hosts than the CPI runtime stay full URLs, and every variable used and defined
nowhere is listed. The import writes only files it wrote before (a manifest in the suite folder says which),
and replaces those only with `force`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import yaml

from iflowtest.bounds import nesting
from iflowtest.errors import PostmanError
from iflowtest.postman.check import check_data, check_out, write_all
from iflowtest.postman.collection import (
    Auth,
    Body,
    PostmanRequest,
    is_secret_name,
    load_collection,
    load_environment,
    parse_url,
    to_template,
    variables,
    walk,
)
from iflowtest.postman.conversion import ImportResult, ItemReport, report_text
from iflowtest.postman.prerequest import SentRequest, send_requests
from iflowtest.postman.scripts import convert
from iflowtest.redaction import SECRET_HEADERS
from iflowtest.settings import find_project_root
from iflowtest.tables import load_table

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
INLINE_BODY_LINES = 5
REPORT_NAME = "CONVERSION.md"
MANIFEST_NAME: Final = ".postman-import.json"
_USED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
_SINGLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
# Hosts of SAP Cloud Integration runtimes (cpi-facts: <tenant>.it-cpi0NN-rt.cfapps.<region>.hana.ondemand.com).
_CPI_RUNTIME: Final = re.compile(r"(?i)(-rt\.|\.it-cpi|\.hana\.ondemand\.com$|\.cfapps\.)")
# Paths of the runtime: HTTP, SOAP, OData and REST adapters of iFlows (cpi-facts).
_CPI_PATH: Final = re.compile(r"^/(?:http|cxf|gw|odata)/")
# Postman's dynamic variables ({{$guid}}, {{$timestamp}}, ...) are not variables anyone defines.
_DYNAMIC: Final = re.compile(r"\$\{\$[A-Za-z]+\}")


def slug(name: str) -> str:
    """A file-system name from a Postman name."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "item"


def distinct_slugs(names: list[str]) -> list[str]:
    """A slug per name, distinct where the names differ ("Orders", "orders!", "ORDERS" → orders, orders-2, orders-3).

    Slugs are lowercase, so they also stay distinct on file systems that ignore case.
    """
    taken: dict[str, str] = {}  # slug → the name that has it
    result = []
    for name in names:
        base = candidate = slug(name)
        n = 2
        while candidate in taken and taken[candidate] != name:
            candidate, n = f"{base}-{n}", n + 1
        taken[candidate] = name
        result.append(candidate)
    return result


def client_prefix(out: Path, root: Path) -> str:
    """`pm_<suite>`: the clients of one import, named apart from another import's in the same project.

    Short: a provisioned client's service instance is `iflowtest-<run>-<client>`, at most 32 characters.
    """
    resolved, base = out.resolve(), root.resolve()
    parts = resolved.relative_to(base).parts if resolved.is_relative_to(base) else (out.name,)
    if len(parts) > 1 and parts[0] == "suites":
        parts = parts[1:]
    where = "/".join(parts)
    name = re.sub(r"[^a-z0-9]+", "", where.lower()) or "suite"
    if len(name) > 5 or name != where.lower():
        name = name[:2] + hashlib.sha256(where.encode()).hexdigest()[:3]
    return f"pm_{name}"


class _Importer:
    def __init__(self, out: Path, environment: dict[str, tuple[str, bool]], root: Path | None = None) -> None:
        self.out = out
        self.root = root or find_project_root(out.parent if not out.exists() else out)
        self.fixtures = self.root / "fixtures" / out.name
        self.environment = environment
        self.prefix = client_prefix(out, self.root)
        self.clients: dict[tuple[str, str], tuple[str, Auth, dict[str, str]]] = {}
        self.secrets: set[str] = {name for name, (_, secret) in environment.items() if secret}
        self.table: str | None = None
        self.pending: dict[Path, str | bytes] = {}  # written together at the end: a bad input writes nothing
        self.known: dict[str, str] = {name: value for name, (value, _) in environment.items()}
        self.runtime: str | None = None  # the host (a template) taken as the CPI runtime
        self.runtime_hosts: set[str] = set()  # literal hosts called on the runtime's paths
        self.full_urls: list[tuple[str, str]] = []  # (item, URL) kept as full URLs

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else path.as_posix()

    def fixture(self, name: str, text: str) -> str:
        target = self.fixtures / name
        stem, suffix, n = target.stem, target.suffix, 2
        while target in self.pending:
            target, n = self.fixtures / f"{stem}-{n}{suffix}", n + 1
        self.pending[target] = text
        return self.relative(target)

    # ------------------------------------------------------------------ where requests go
    def choose_runtime(self, requests: list[PostmanRequest]) -> None:
        """The host taken as the CPI runtime: a CPI runtime host, else the variable most requests start with."""
        hosts = Counter(r.host for r in requests if r.host and r.path != "/")
        # Literal hosts called on the runtime's paths: a custom domain in front of the tenant, or a tenant.
        self.runtime_hosts = {
            h for h in hosts if "${" not in h and any(_CPI_PATH.match(r.path) for r in requests if r.host == h)
        }
        by_pattern = [h for h, _ in hosts.most_common() if _CPI_RUNTIME.search(_origin(self.value_of(h) or h)[0])]
        single = [h for h, _ in hosts.most_common() if _SINGLE.fullmatch(h)]
        on_paths = [h for h, _ in hosts.most_common() if h in self.runtime_hosts]
        self.runtime = next(iter(by_pattern or single or on_paths), None)

    def value_of(self, template: str) -> str | None:
        """The import-time value of a host template (`${baseUrl}` from the environment or collection), if known."""
        match = _SINGLE.fullmatch(template)
        if match is None:
            return None if "${" in template else template
        return self.known.get(match.group(1)) or None

    def on_runtime(self, request: PostmanRequest) -> bool:
        """Whether the request goes to the CPI runtime (then it is a path below the run's target)."""
        host = request.host
        if not host:
            return True
        single = _SINGLE.fullmatch(host)
        value = self.value_of(host)
        if single and value and _path_of(value) not in ("", "/"):
            return False  # a whole URL in one variable ({{url}} = https://host/path)
        if host == self.runtime or host in self.runtime_hosts:
            return True
        if single and request.path == "/":
            return False  # a request whose URL is one variable: wherever that variable points
        runtime_value = self.value_of(self.runtime) if self.runtime else None
        if value and runtime_value and _origin(value) == _origin(runtime_value):
            return True
        return bool(_CPI_RUNTIME.search(_origin(value or host)[0]))

    # ------------------------------------------------------------------ auth
    def client_for(self, auth: Auth | None, report: ItemReport) -> dict[str, Any]:
        if auth is None or auth.type == "noauth":
            return {"auth": "none"}
        if auth.type == "bearer":
            # As Postman sends it: the token of the collection or environment, no client of the harness.
            token = self.secret_template(auth.attributes.get("token"), f"{self.prefix}_TOKEN")
            return {"auth": "none", "_headers": {"Authorization": f"Bearer {token}"}}
        if auth.type not in ("basic", "oauth2"):
            report.left.append((f"auth {auth.type}", "only basic, bearer and oauth2 client_credentials are converted"))
            return {"auth": "none"}
        if (
            auth.type == "oauth2"
            and str(auth.attributes.get("grant_type", "client_credentials")) != "client_credentials"
        ):
            report.left.append(
                (f"oauth2 grant {auth.attributes.get('grant_type')}", "only client_credentials is supported")
            )
        key = (auth.type, json.dumps(dict(auth.attributes), sort_keys=True, default=str))
        if key not in self.clients:
            base = f"{self.prefix}_{'basic' if auth.type == 'basic' else 'oauth'}"
            taken = sum(1 for name, _, _ in self.clients.values() if name.startswith(base))
            name = base if not taken else f"{base}{taken + 1}"
            self.clients[key] = (name, auth, self.key_fields(name, auth))
        return {"client": self.clients[key][0]}

    def key_fields(self, client: str, auth: Auth) -> dict[str, str]:
        """Where a variables client takes url, client id, secret and token URL from (templates over the profile)."""
        a = auth.attributes
        ident, secret = ("username", "password") if auth.type == "basic" else ("clientId", "clientSecret")
        fields = {
            "url": self.runtime if self.runtime and _SINGLE.fullmatch(self.runtime) else self.runtime_url(),
            "clientid": self.plain_template(a.get(ident), f"{client.upper()}_CLIENTID"),
            "clientsecret": self.secret_template(a.get(secret), f"{client.upper()}_CLIENTSECRET"),
        }
        if auth.type == "oauth2":
            fields["tokenurl"] = self.plain_template(a.get("accessTokenUrl"), f"{client.upper()}_TOKENURL")
        return fields

    def runtime_url(self) -> str:
        if self.runtime and "${" not in self.runtime:
            return self.runtime if "//" in self.runtime else f"https://{self.runtime}"
        return "${baseUrl}"

    def plain_template(self, value: Any, fallback: str) -> str:
        text = str(value or "")
        return to_template(text) if text else "${" + fallback + "}"

    def secret_template(self, value: Any, fallback: str) -> str:
        """A secret as a `${NAME}` reference: its variable, or a new .env entry for a literal (never written)."""
        text = str(value or "")
        match = _SINGLE.fullmatch(to_template(text).strip())
        if match:
            self.secrets.add(match.group(1))
            return match.group(0)
        self.secrets.add(fallback)
        return "${" + fallback + "}"

    def header_value(self, name: str, value: str) -> str:
        """A header's value (already a template); a literal secret becomes a reference to a .env entry."""
        return self._secret_reference(name, value) or value

    def form_value(self, name: str, value: str) -> str:
        """A form field's value; a literal secret (client_secret=...) becomes a reference to a .env entry."""
        return self._secret_reference(name, value) or to_template(value)

    def _secret_reference(self, name: str, value: str) -> str | None:
        literal = value and "{{" not in value and "${" not in value
        # "X-CSRF-Token: Fetch" is the protocol's word, not a token
        if not literal or value.strip().lower() in ("fetch", "required"):
            return None
        if name.lower() not in SECRET_HEADERS and not is_secret_name(name):
            return None
        variable = slug(name).upper().replace("-", "_")
        self.secrets.add(variable)
        return "${" + variable + "}"

    def body(self, body: Body, name: str, report: ItemReport) -> dict[str, Any] | None:
        if body.mode == "raw":
            text = to_template(body.raw)
            many = text.count("\n") >= INLINE_BODY_LINES
            ext = {"json": "json", "xml": "xml"}.get(body.language, "txt")
            if many:
                return {"file": self.fixture(f"{slug(name)}.{ext}", text)} | (
                    {"content_type": {"json": "application/json", "xml": "application/xml"}[ext]}
                    if ext != "txt"
                    else {}
                )
            if body.language == "json":
                try:
                    return {"json": json.loads(text)}
                except json.JSONDecodeError:
                    return {"text": text, "content_type": "application/json"}
            return {"xml": text} if body.language == "xml" else {"text": text}
        if body.mode == "formdata":
            # multipart/form-data, as Postman sends it; a file field names its file below fixtures/
            parts: dict[str, Any] = {}
            for p in body.pairs:
                key = str(p["key"])
                if p.get("type") == "file":
                    src = p.get("src")
                    src = src[0] if isinstance(src, list) and src else src
                    if not src:
                        report.left.append((f"formdata file field {key!r}", "the collection names no file"))
                        continue
                    where = f"{self.relative(self.fixtures)}/{Path(str(src)).name}"
                    report.left.append((f"formdata file {src}", f"copy the file to {where}"))
                    part: dict[str, Any] = {"file": where}
                    if p.get("contentType"):
                        part["content_type"] = str(p["contentType"])
                    parts[key] = part
                else:
                    parts[key] = self.form_value(key, str(p.get("value") or ""))
            return {"multipart": parts}
        if body.mode == "urlencoded":
            return {
                "form": {
                    str(p["key"]): self.form_value(str(p["key"]), str(p.get("value") or ""))
                    for p in body.pairs
                    if p.get("type") != "file"
                }
            }
        if body.mode == "file":
            if not body.file_src:
                report.left.append(("file body", "the collection names no file"))
                return None
            report.left.append((f"file body {body.file_src}", f"copy the file to {self.relative(self.fixtures)}/"))
            return {"file": f"{self.relative(self.fixtures)}/{Path(body.file_src).name}"}
        if body.mode == "graphql":
            graphql = body.graphql
            payload: dict[str, Any] = {"query": to_template(str(graphql.get("query", "")))}
            if graphql.get("operationName"):
                payload["operationName"] = graphql["operationName"]
            if graphql.get("variables"):
                try:
                    payload["variables"] = json.loads(str(graphql["variables"]))
                except json.JSONDecodeError:
                    report.left.append(("graphql variables", "not JSON"))
            return {"json": payload}
        report.left.append((f"body mode {body.mode}", "unknown body mode"))
        return None

    def case(self, request: PostmanRequest, report: ItemReport) -> tuple[dict[str, Any], list[str]]:
        comments: list[str] = []
        case: dict[str, Any] = {"name": request.name, "order": request.order}
        chosen = self.client_for(request.auth, report)
        auth_headers = chosen.pop("_headers", {})
        case |= chosen
        if self.table:
            case["table"] = self.table
        spec: dict[str, Any] = {"method": request.method}
        if self.on_runtime(request):
            spec["path"] = request.path
        else:
            spec["url"] = request.full_url
            self.full_urls.append((request.label, request.full_url))
        if request.query:
            spec["query"] = request.query
        headers = {**auth_headers, **{k: self.header_value(k, v) for k, v in request.headers.items()}}
        if headers:
            spec["headers"] = headers
        if request.body is not None and (body := self.body(request.body, request.label, report)):
            spec["body"] = body
        case["request"] = spec
        for note in request.notes:
            report.left.append((note, "the collection gives no value"))
        sent, others = send_requests(request.prerequest) if request.prerequest else ([], [])
        if others:
            report.left.append(("pre-request script", "scripts do not run in YAML suites; kept as a comment"))
            comments += ["pre-request script (not converted):", *others]
        scripts = convert(request.tests)
        if scripts.expect:
            case["expect"] = scripts.expect
        if scripts.save:
            case["save"] = scripts.save
        if scripts.assertions:
            case["imported_assertions"] = len(scripts.assertions)
        if scripts.unconverted:
            case["unconverted"] = scripts.unconverted
        report.assertions += len(scripts.assertions)
        report.converted += scripts.converted
        report.left.extend(scripts.kept)
        if scripts.kept:
            comments += ["test script parts not converted:", *(what for what, _ in scripts.kept)]
        if sent:
            self.precede(case, sent, request, report)
            comments.append("the steps before the last are the pm.sendRequest calls of its pre-request script")
        return case, comments

    def cases(self, request: PostmanRequest, report: ItemReport) -> list[tuple[dict[str, Any], list[str]]]:
        """The item's case (a list, for the importer's loop)."""
        return [self.case(request, report)]

    def precede(
        self, case: dict[str, Any], sent: list[SentRequest], request: PostmanRequest, report: ItemReport
    ) -> None:
        """Turn the case into steps: each `pm.sendRequest` of the pre-request script, then the request itself."""
        own = {k: case.pop(k) for k in list(case) if k not in ("name", "order", "table", "client", "auth")}
        main: dict[str, Any] = {"name": case["name"]}
        if "client" in case:
            main["client"] = case.pop("client")
        main["auth"] = case.pop("auth", "client")
        steps = []
        for number, call in enumerate(sent, start=1):
            scheme, host, port, path, query, _ = parse_url(call.url)
            target = PostmanRequest(
                (), "", call.method, host, path, query, {}, None, None, [], [], scheme=scheme, port=port
            )
            spec: dict[str, Any] = {"method": call.method}
            spec |= {"path": path} if self.on_runtime(target) else {"url": target.full_url}
            if query:
                spec["query"] = query
            if call.headers:
                spec["headers"] = {k: self.header_value(k, to_template(v)) for k, v in call.headers.items()}
            if call.body is not None:
                spec["body"] = _templates(call.body)
            step: dict[str, Any] = {"name": f"pm.sendRequest {number}", "auth": "none", "request": spec}
            if call.save:
                step["save"] = call.save
            steps.append(step)
            for part in call.left:
                report.left.append((f"pm.sendRequest callback `{part}`", "no declarative form"))
        case["steps"] = [*steps, main | own]


def import_collection(
    collection: Path,
    out: Path,
    *,
    environment: Path | None = None,
    data: Path | None = None,
    force: bool = False,
    globals_file: Path | None = None,
    iterations_in_order: bool = False,
) -> ImportResult:
    """Write the collection (a v2.0/v2.1 file or a v3 folder) as YAML suites under `out`; see the module docstring."""
    raw, version = load_collection(collection)
    env = load_environment(environment) if environment else {}
    global_vars = load_environment(globals_file, "globals") if globals_file else {}
    check_out(out)
    importer = _Importer(out, env)
    if data is not None:
        if data.suffix.lower() not in (".csv", ".json"):
            raise PostmanError(f"the data file {data} must be .csv or .json (Newman's iteration data formats)")
        if not data.is_file():
            raise PostmanError(f"cannot read the data file {data}: no such file; pass an existing .csv or .json")
        rows = check_data(data)
        check_out(importer.fixtures)
        importer.pending[importer.fixtures / f"data{data.suffix.lower()}"] = rows
        importer.table = importer.relative(importer.fixtures / f"data{data.suffix.lower()}")
    # Globals sit below the collection's variables: both are the suite's defaults, the collection's winning.
    collection_vars = {**global_vars, **variables(raw.get("variable"))}
    importer.secrets |= {name for name, (_, secret) in collection_vars.items() if secret}
    # Postman: global < collection < environment < data < local. Collection variables are the suite's
    # defaults, below the profile, where the environment's values go.
    defaults = {name: to_template(value) for name, (value, secret) in collection_vars.items() if not secret}
    importer.known = {**{n: v for n, (v, _) in collection_vars.items()}, **importer.known}
    name = str(raw["info"].get("name") or collection.stem)
    sequence = importer.relative(out) if out.is_absolute() else out.as_posix()

    entries = list(walk(raw))
    for index, entry in enumerate(entries):
        entry.order = index
    importer.choose_runtime(entries)
    groups: dict[tuple[str, ...], list[tuple[dict[str, Any], list[str]]]] = {}
    dropped: dict[tuple[str, ...], list[str]] = {}
    reports: list[ItemReport] = []
    for entry in entries:
        report = ItemReport(entry.label, "converted")
        reports.append(report)
        if entry.method not in METHODS:
            report.outcome = "unsupported"
            report.left.append((f"method {entry.method}", f"YAML suites send {', '.join(METHODS)}"))
            dropped.setdefault(entry.folders, []).append(f"{entry.name}: method {entry.method} is not supported")
            continue
        group = groups.setdefault(entry.folders, [])
        group.extend(importer.cases(entry, report))
        if report.left:
            report.outcome = "partly converted"

    # Iterations that save no value see nothing of each other (the values a case reads come from the profile,
    # the defaults and its data row), so each may run on its own worker; Newman's strict order is a flag away.
    independent = data is not None and not iterations_in_order and not _saves(groups)
    # A folder of unsupported items only gets no suite (a suite needs a case); the report lists its items.
    paths = _suite_paths(out, name, sorted(groups))
    for folders in sorted(groups):
        head = _Head(name, version, folders, defaults, sequence, independent)
        importer.pending[paths[folders]] = _suite_text(head, groups[folders], dropped.get(folders, []))
    undefined = _undefined(importer, groups, env, collection_vars, data)
    _write_clients(importer, out, name)
    _write_env_example(importer, out, env, undefined)
    report_path = out / REPORT_NAME
    notes = []
    if data is not None and data.suffix.lower() == ".csv":
        notes.append(
            'Newman reads a CSV cell such as 1010 as the number 1010, so `pm.expect(...).to.eql("1010")` fails '
            'there; the table keeps cells as text and `equals` takes "1010" and 1010 as equal. A JSON data '
            "file behaves the same in both."
        )
    notes += _semantics_notes(importer, sequence, undefined, independent=independent)
    result = ImportResult(reports, report_path, notes)
    importer.pending[report_path] = report_text(name, collection, result)
    _check_overwrites(importer, out, force)
    importer.pending[out / MANIFEST_NAME] = _manifest(importer)
    write_all(importer.pending, out)
    return result


def _suite_paths(out: Path, name: str, folder_paths: list[tuple[str, ...]]) -> dict[tuple[str, ...], Path]:
    """One file per folder; names that differ only in case or punctuation get distinct files (orders, orders-2)."""
    by_parent: dict[tuple[str, ...], list[str]] = {}
    for folders in folder_paths:
        for depth in range(len(folders)):
            siblings = by_parent.setdefault(folders[:depth], [])
            if folders[depth] not in siblings:
                siblings.append(folders[depth])
    slugs = {parent: dict(zip(names, distinct_slugs(names), strict=True)) for parent, names in by_parent.items()}
    paths = {}
    for folders in folder_paths:
        parts = [slugs[folders[:depth]][folders[depth]] for depth in range(len(folders))]
        paths[folders] = out.joinpath(*parts) / f"{parts[-1] if parts else slug(name)}.iflow.yaml"
    return paths


def _undefined(
    importer: _Importer,
    groups: Mapping[tuple[str, ...], list[tuple[dict[str, Any], list[str]]]],
    env: Mapping[str, Any],
    collection_vars: Mapping[str, Any],
    data: Path | None,
) -> list[str]:
    """Variables the suite uses that neither the environment, the collection, the data file nor a save defines."""
    used: set[str] = set()
    saved: set[str] = set()
    for cases in groups.values():
        for case, _ in cases:
            steps = case.get("steps", [case])
            text = json.dumps([{k: s.get(k) for k in ("request", "expect")} for s in steps])
            used |= set(_USED.findall(_DYNAMIC.sub("", text)))
            for step in steps:
                saved |= set(step.get("save", {}))
    for _, _, fields in importer.clients.values():
        used |= set(_USED.findall(json.dumps(fields)))
    columns: set[str] = set()
    if data is not None:
        rows = load_table(data.resolve())
        columns = set(rows[0]) if rows else set()
    defined = set(env) | set(collection_vars) | saved | columns
    return sorted(used - defined)


def _saves(groups: Mapping[tuple[str, ...], list[tuple[dict[str, Any], list[str]]]]) -> bool:
    """Whether any request of the import saves a value (a test script's or a pm.sendRequest callback's `set`)."""
    return any(step.get("save") for cases in groups.values() for case, _ in cases for step in case.get("steps", [case]))


def _semantics_notes(importer: _Importer, sequence: str, undefined: list[str], *, independent: bool) -> list[str]:
    order = "within each iteration they run" if independent else "they run"
    notes = [
        f"The suite's files are one sequence ({sequence!r}): {order} in collection order, also with `-n`, and a "
        "value one request saves is seen by every later request, as in a Newman run. Collection variables are "
        "the suite's `defaults`: the profile (the Postman environment's values, in .env) overrides them."
    ]
    if independent:
        notes.append(
            "No request saves a value, so the data file's iterations are independent (`iterations: independent`): "
            "with `-n` each iteration (its requests in collection order) may run on another worker, at the same "
            "time as others. Newman runs them one after another; if an iteration depends on what an earlier one "
            "did on the tenant, import again with --iterations-in-order."
        )
    if importer.runtime:
        notes.append(
            f"Requests on `{importer.runtime}` are taken as the CPI runtime: they go to the run's target (the "
            "emulated tenant, or the tenant of the profile)."
        )
    if importer.full_urls:
        listed = "; ".join(f"{item}: `{url}`" for item, url in importer.full_urls)
        notes.append(f"Kept as full URLs (another host than the CPI runtime): {listed}.")
    if undefined:
        notes.append(
            "Variables used and defined nowhere (not in the environment, the collection, the data file or a "
            f"saved value): {', '.join(undefined)}. They are listed in .env.example: set them in .env."
        )
    return notes


def _check_overwrites(importer: _Importer, out: Path, force: bool) -> None:
    """Refuse to replace a file this import did not write before, or one it wrote without `force`."""
    earlier = _read_manifest(out)
    for path in importer.pending:
        if not path.exists():
            continue
        shown = importer.relative(path)
        written = earlier.get(shown)
        if written is None:
            raise PostmanError(
                f"{shown} exists and was not written by an import into {importer.relative(out)}: nothing was "
                "written; move it away or pass another --out folder"
            )
        if not force:
            raise PostmanError(
                f"{importer.relative(out)} holds an earlier import ({shown} and others): nothing was written; pass "
                "--force to replace the files that import wrote"
            )
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() != written:
            raise PostmanError(
                f"{shown} was changed after the import wrote it: nothing was written; keep your changes elsewhere "
                "and delete it, then import again with --force"
            )


def _read_manifest(out: Path) -> dict[str, str]:
    try:
        data = nesting.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def _manifest(importer: _Importer) -> str:
    files = {
        importer.relative(path): hashlib.sha256(
            content.encode("utf-8") if isinstance(content, str) else content
        ).hexdigest()
        for path, content in importer.pending.items()
    }
    files[importer.relative(importer.out / MANIFEST_NAME)] = ""  # itself: rewritten by every import
    return json.dumps({"written_by": "iflowtest import-postman", "files": files}, indent=2) + "\n"


@dataclass(frozen=True)
class _Head:
    """What the top of every suite file of an import says."""

    name: str
    version: str
    folders: tuple[str, ...]
    defaults: Mapping[str, str]
    sequence: str
    independent: bool


def _suite_text(head: _Head, cases: list[tuple[dict[str, Any], list[str]]], dropped: list[str]) -> str:
    lines = [
        _comment(
            f"# Imported from the Postman collection {head.name!r} (v{head.version})"
            + (f", folder {' / '.join(head.folders)}" if head.folders else "")
        )
    ]
    lines += [_comment(f"# not imported: {d}") for d in dropped]
    top: dict[str, Any] = {"sequence": head.sequence}
    if head.independent:
        top["iterations"] = "independent"
    if head.defaults:
        top["defaults"] = dict(head.defaults)
    text = "\n".join(lines) + "\n" + _dump(top)
    text += "cases:" + (" []\n" if not cases else "\n")
    seen: dict[str, int] = {}
    for case, comments in cases:
        count = seen[case["name"]] = seen.get(case["name"], 0) + 1
        if count > 1:
            case["name"] = f"{case['name']} ({count})"
        # The comments go below `- name:` so the failure view, which shows a case's own lines, shows them too.
        first, *rest = _dump([case]).splitlines()
        text += f"  {first}\n" + "".join(f"    {_comment(f'# {c}')}\n" for c in comments)
        text += "".join(f"  {line}\n" if line else "\n" for line in rest)
    return text


def _comment(text: str) -> str:
    """A YAML comment line: a control character or line break from a name or script would break the file."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False, width=120)


def _templates(value: Any) -> Any:
    """Postman's `{{name}}` as `${name}` through a JSON value."""
    if isinstance(value, str):
        return to_template(value)
    if isinstance(value, list):
        return [_templates(v) for v in value]
    if isinstance(value, dict):
        return {to_template(str(k)): _templates(v) for k, v in value.items()}
    return value


def _origin(url: str) -> tuple[str, str]:
    """(host name, port) of a URL or host, ("", "") when it is no URL at all."""
    try:
        parts = urlsplit(url if "//" in url else f"//{url}")
        return (parts.hostname or "", str(parts.port or ""))
    except ValueError:  # a port that is no number, brackets that are no IPv6 address
        return ("", "")


def _path_of(url: str) -> str:
    try:
        return urlsplit(url if "//" in url else f"//{url}").path
    except ValueError:
        return ""


def _write_clients(importer: _Importer, out: Path, name: str) -> None:
    if not importer.clients:
        return
    lines = [
        f"# Clients of the suite imported from {name!r}: copy these tables into pyproject.toml.",
        "# On a tenant each takes its url, client id, secret and token URL from the profile (.env.<profile>),",
        "# the values of the Postman environment; the emulated tenant provisions its own. Adjust roles to the iFlows.",
    ]
    for client, auth, fields in importer.clients.values():
        lines += [
            "",
            f"# From Postman {auth.type} auth set on {_comment(auth.origin)}.",
            f"[tool.iflowtest.clients.{client}]",
            'plan = "integration-flow"',
            'roles = ["ESBMessaging.send"]',
            'grant_types = ["client_credentials"]',
            f'auth = "{"basic" if auth.type == "basic" else "oauth"}"',
            'source = "variables"',
            *(f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in fields.items()),
        ]
    importer.pending[out / "clients.toml"] = "\n".join(lines) + "\n"


def _write_env_example(
    importer: _Importer, out: Path, env: Mapping[str, tuple[str, bool]], undefined: list[str]
) -> None:
    lines = ["# Values for the imported suite: copy to .env (or .env.<profile>) at the project root and fill in."]
    if env:
        lines.append("# from the Postman environment")
    for name, (value, secret) in env.items():
        lines.append(f"{name}=" + ("" if secret or name in importer.secrets else _env_value(value)))
    extra = sorted(importer.secrets - set(env) - set(undefined))
    if extra:
        lines.append("# secrets the collection uses: never written into the suite")
    lines += [f"{name}=" for name in extra]
    missing = [name for name in undefined if name not in env]
    if missing:
        lines.append("# used by the collection and defined nowhere (not in the environment, collection or data)")
    lines += [f"{name}=" for name in missing]
    importer.pending[out / ".env.example"] = "\n".join(lines) + "\n"


def _env_value(value: str) -> str:
    # ensure_ascii=False: python-dotenv reads "\u00fc" back as those six characters, not as ü
    return json.dumps(value, ensure_ascii=False) if re.search(r"[\s#'\"]", value) else value
