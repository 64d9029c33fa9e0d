"""`iflowtest import-postman`: a Postman collection written as YAML suites, fixtures, clients and a conversion report.

Folders become sub-folders of the suite, each with one `*.iflow.yaml`; bodies over a few lines go to
`fixtures/<suite>/`; Postman auth becomes client definitions (`clients.toml`, to copy into pyproject.toml)
and their service-key entries in `.env.example`. Secret values (type `secret`, passwords, client secrets,
tokens) are never written: only referenced as `${NAME}`. Every item appears in the report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from iflowtest.errors import PostmanError
from iflowtest.postman.check import check_data, check_out, write_all
from iflowtest.postman.collection import (
    Auth,
    Body,
    PostmanRequest,
    is_secret_name,
    load_collection,
    load_environment,
    to_template,
    variables,
    walk,
)
from iflowtest.postman.conversion import ImportResult, ItemReport, report_text
from iflowtest.postman.scripts import convert
from iflowtest.redaction import SECRET_HEADERS
from iflowtest.settings import find_project_root

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
INLINE_BODY_LINES = 5
REPORT_NAME = "CONVERSION.md"
_STEP_KEYS = ("request", "expect", "save", "imported_assertions", "unconverted")
_USED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}")


def slug(name: str) -> str:
    """A file-system name from a Postman name."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "item"


class _Importer:
    def __init__(self, out: Path, environment: dict[str, tuple[str, bool]]) -> None:
        self.out = out
        self.root = find_project_root(out.parent if not out.exists() else out)
        self.fixtures = self.root / "fixtures" / out.name
        self.environment = environment
        self.clients: dict[tuple[str, str], tuple[str, Auth]] = {}
        self.secrets: set[str] = {name for name, (_, secret) in environment.items() if secret}
        self.table: str | None = None
        self.pending: dict[Path, str | bytes] = {}  # written together at the end: a bad input writes nothing

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else path.as_posix()

    def fixture(self, name: str, text: str) -> str:
        target = self.fixtures / name
        stem, suffix, n = target.stem, target.suffix, 2
        while target in self.pending:
            target, n = self.fixtures / f"{stem}-{n}{suffix}", n + 1
        self.pending[target] = text
        return self.relative(target)

    def client_for(self, auth: Auth | None, report: ItemReport) -> dict[str, Any]:
        if auth is None or auth.type == "noauth":
            return {"auth": "none"}
        if auth.type not in ("basic", "bearer", "oauth2"):
            report.left.append((f"auth {auth.type}", "only basic, bearer and oauth2 client_credentials become clients"))
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
            base = f"postman_{auth.type}"
            taken = sum(1 for name, _ in self.clients.values() if name.startswith(base))
            self.clients[key] = (base if not taken else f"{base}_{taken + 1}", auth)
        return {"client": self.clients[key][0]}

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
        if body.mode in ("urlencoded", "formdata"):
            files = [p for p in body.pairs if p.get("type") == "file"]
            if files:
                report.left.append(
                    (f"{body.mode} file field {files[0].get('key')!r}", "file fields of form bodies are not supported")
                )
            if body.mode == "formdata":
                report.left.append(("formdata body", "sent url-encoded, not as multipart/form-data"))
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
        case: dict[str, Any] = {"name": request.name}
        case |= self.client_for(request.auth, report)
        if self.table:
            case["table"] = self.table
        spec: dict[str, Any] = {"method": request.method, "path": request.path}
        if request.query:
            spec["query"] = request.query
        headers = {k: self.header_value(k, v) for k, v in request.headers.items()}
        if headers:
            spec["headers"] = headers
        if request.body is not None and (body := self.body(request.body, request.label, report)):
            spec["body"] = body
        case["request"] = spec
        for note in request.notes:
            report.left.append((note, "the collection gives no value"))
        if request.prerequest:
            report.left.append(("pre-request script", "scripts do not run in YAML suites; kept as a comment"))
            comments += ["pre-request script (not converted):", *request.prerequest]
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
        return case, comments


def import_collection(
    collection: Path, out: Path, *, environment: Path | None = None, data: Path | None = None
) -> ImportResult:
    """Write the collection as YAML suites under `out`; see the module docstring."""
    raw, version = load_collection(collection)
    env = load_environment(environment) if environment else {}
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
    collection_vars = variables(raw.get("variable"))
    importer.secrets |= {name for name, (_, secret) in collection_vars.items() if secret}
    file_vars = {name: to_template(value) for name, (value, secret) in collection_vars.items() if not secret}
    name = str(raw["info"].get("name") or collection.stem)

    groups: dict[tuple[str, ...], list[tuple[dict[str, Any], list[str]]]] = {}
    dropped: dict[tuple[str, ...], list[str]] = {}
    reports: list[ItemReport] = []
    saved: dict[str, tuple[tuple[str, ...], int, str]] = {}  # variable → (folders, case index, item) that saves it
    for entry in walk(raw):
        report = ItemReport(entry.label, "converted")
        reports.append(report)
        if entry.method not in METHODS:
            report.outcome = "unsupported"
            report.left.append((f"method {entry.method}", f"YAML suites send {', '.join(METHODS)}"))
            dropped.setdefault(entry.folders, []).append(f"{entry.name}: method {entry.method} is not supported")
            continue
        case, comments = importer.case(entry, report)
        group = groups.setdefault(entry.folders, [])
        index = _chain(group, case, comments, report, saved, entry.folders)
        for variable in case.get("save", {}) if index == len(group) else group[index][0]["steps"][-1].get("save", {}):
            saved[variable] = (entry.folders, index, entry.label)
        if index == len(group):
            group.append((case, comments))
        if report.left:
            report.outcome = "partly converted"

    # A folder of unsupported items only gets no suite (a suite needs a case); the report lists its items.
    for folders in sorted(groups):
        folder = out.joinpath(*(slug(f) for f in folders))
        path = folder / f"{slug(folders[-1] if folders else name)}.iflow.yaml"
        importer.pending[path] = _suite_text(
            name, version, folders, file_vars, groups[folders], dropped.get(folders, [])
        )
    _write_clients(importer, out, name)
    _write_env_example(importer, out, env, collection_vars)
    report_path = out / REPORT_NAME
    notes = []
    if data is not None and data.suffix.lower() == ".csv":
        notes.append(
            'Newman reads a CSV cell such as 1010 as the number 1010, so `pm.expect(...).to.eql("1010")` fails '
            'there; the table keeps cells as text and `equals` takes "1010" and 1010 as equal. A JSON data '
            "file behaves the same in both."
        )
    result = ImportResult(reports, report_path, notes)
    importer.pending[report_path] = report_text(name, collection, result)
    write_all(importer.pending, out)
    return result


def _chain(
    group: list[tuple[dict[str, Any], list[str]]],
    case: dict[str, Any],
    comments: list[str],
    report: ItemReport,
    saved: Mapping[str, tuple[tuple[str, ...], int, str]],
    folders: tuple[str, ...],
) -> int:
    """The index of the case this request joins as a step (it uses a value saved there), or len(group) for its own.

    Saved values live within one case (`save:` feeds the following steps), so a request using a value an
    earlier request of its folder saved becomes a step of that request's case.
    """
    uses = set(_USED.findall(json.dumps({k: case[k] for k in ("request", "expect") if k in case})))
    sources = [saved[v] for v in sorted(uses) if v in saved]
    for where, _, label in sources:
        if where != folders:
            report.left.append(
                (f"a value saved by {label}", "that request is in another folder (another file): set it in .env")
            )
    indexes = sorted({i for where, i, _ in sources if where == folders})
    if not indexes:
        return len(group)
    target, target_comments = group[indexes[-1]]
    if "steps" not in target:
        first = {k: target.pop(k) for k in _STEP_KEYS if k in target}
        target["steps"] = [{"name": target["name"], **first}]
    step: dict[str, Any] = {"name": case["name"]}
    if "client" in case:
        step["client"] = case["client"]
    step["auth"] = "none" if case.get("auth") == "none" else "client"
    step |= {k: case[k] for k in _STEP_KEYS if k in case}
    target["steps"].append(step)
    target_comments.append(f"step {case['name']!r} is the request of that name: it uses values saved by a step before")
    target_comments.extend(comments)
    for index in indexes[:-1]:
        report.left.append((f"values saved by case {group[index][0]['name']!r}", "only one earlier case can be joined"))
    return indexes[-1]


def _suite_text(
    name: str,
    version: str,
    folders: tuple[str, ...],
    file_vars: Mapping[str, str],
    cases: list[tuple[dict[str, Any], list[str]]],
    dropped: list[str],
) -> str:
    lines = [
        _comment(
            f"# Imported from the Postman collection {name!r} (v{version})"
            + (f", folder {' / '.join(folders)}" if folders else "")
        )
    ]
    lines += [_comment(f"# not imported: {d}") for d in dropped]
    head: dict[str, Any] = {}
    if file_vars:
        head["variables"] = dict(file_vars)
    text = "\n".join(lines) + "\n"
    if head:
        text += _dump(head)
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


def _reference(value: Any, label: str, secret: bool) -> str:
    text = str(value or "")
    if "{{" in text:
        return to_template(text)
    return "(set in .env, not written here)" if secret else text or f"(no {label})"


def _write_clients(importer: _Importer, out: Path, name: str) -> None:
    if not importer.clients:
        return
    lines = [
        f"# Clients of the suite imported from {name!r}: copy these tables into pyproject.toml.",
        "# Each needs its service key in IFLOWTEST_CLIENT_<NAME>_KEY (see .env.example); adjust roles to the iFlows.",
    ]
    for client, auth in importer.clients.values():
        a = auth.attributes
        if auth.type == "basic":
            source = f"basic auth (username {_reference(a.get('username'), 'username', False)}, password {_reference(a.get('password'), 'password', True)})"
        elif auth.type == "bearer":
            source = f"bearer token {_reference(a.get('token'), 'token', True)}; the harness fetches its own token"
        else:
            source = (
                f"oauth2 client_credentials (token URL {_reference(a.get('accessTokenUrl'), 'token URL', False)}, "
                f"client id {_reference(a.get('clientId'), 'client id', False)}, "
                f"client secret {_reference(a.get('clientSecret'), 'client secret', True)})"
            )
        lines += [
            "",
            f"# From Postman {source}, set on {auth.origin}.",
            f"[tool.iflowtest.clients.{client}]",
            'plan = "integration-flow"',
            'roles = ["ESBMessaging.send"]',
            'grant_types = ["client_credentials"]',
            f'auth = "{"basic" if auth.type == "basic" else "oauth"}"',
        ]
    importer.pending[out / "clients.toml"] = "\n".join(lines) + "\n"


def _write_env_example(
    importer: _Importer, out: Path, env: Mapping[str, tuple[str, bool]], collection_vars: Mapping[str, tuple[str, bool]]
) -> None:
    lines = ["# Values for the imported suite: copy to .env (or .env.<profile>) at the project root and fill in."]
    for client, _ in importer.clients.values():
        lines.append(f"# service key (JSON or file path) of client {client}")
        lines.append(f"IFLOWTEST_CLIENT_{client.upper()}_KEY=")
    if env:
        lines.append("# from the Postman environment")
    for name, (value, secret) in env.items():
        lines.append(f"{name}=" + ("" if secret or name in importer.secrets else _env_value(value)))
    extra = sorted(importer.secrets - set(env))
    if extra:
        lines.append("# secrets the collection uses: never written into the suite")
    lines += [f"{name}=" for name in extra]
    importer.pending[out / ".env.example"] = "\n".join(lines) + "\n"


def _env_value(value: str) -> str:
    # ensure_ascii=False: python-dotenv reads "\u00fc" back as those six characters, not as ü
    return json.dumps(value, ensure_ascii=False) if re.search(r"[\s#'\"]", value) else value
