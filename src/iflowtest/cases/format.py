"""The `*.iflow.yaml` format: parse, check against the shipped JSON Schema, and turn into Suite/Case/Step.

The schema (`iflowtest/schema/iflow-suite.schema.json`) is the single description of the format; editors
can use it too. Its errors are translated into the user's terms: the file, the line, the key and the case
it belongs to, with the nearest valid key suggested.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

import jsonschema
import yaml
from lxml import etree

from iflowtest.bounds.patterns import compile_safe
from iflowtest.bounds.yamlsize import bounded
from iflowtest.checks.assertions import compile_jsonpath
from iflowtest.checks.baselines import BaselineRules
from iflowtest.checks.matchers import show
from iflowtest.errors import ConfigError

SCHEMA_FILE: Final = "iflow-suite.schema.json"
SUFFIX: Final = ".iflow.yaml"
BODY_KINDS: Final = ("json", "xml", "text", "form", "multipart", "file")

Path_ = tuple[str | int, ...]


class SuiteFormatError(ConfigError):
    """Raised when a *.iflow.yaml file is not valid YAML or does not follow the suite format."""


# libyaml's parser when PyYAML was built with it: large generated suites load several times faster.
# Bounded: a document whose aliases expand past a size is refused before anything walks it.
_BaseLoader: Any = bounded(getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class _Loader(_BaseLoader):  # type: ignore[misc]
    """A safe loader without the timestamp resolver: an unquoted 2026-01-01 stays the text it is."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Baseline:
    """A baseline file and the rules it is compared by."""

    file: str
    rules: BaselineRules


@dataclass(frozen=True)
class Step:
    """One request of a case, its expectations, the values it saves and its baseline."""

    name: str
    iflow: str | None
    client: str | None
    auth: str
    request: Mapping[str, Any]
    expect: Mapping[str, Any]
    save: Mapping[str, Mapping[str, str]]
    baseline: Baseline | None
    imported_assertions: int | None = None
    unconverted: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    """One case as written (defaults of the file applied), before its data table is expanded."""

    name: str
    line: int
    source: str
    iflow: str | None
    tags: tuple[str, ...]
    headers: Mapping[str, str]
    variables: Mapping[str, Any]
    table: str | None
    table_ids: tuple[str, ...] | None
    steps: tuple[Step, ...]
    defaults: Mapping[str, Any] = field(default_factory=dict)  # below the profile: Postman's collection variables
    sequence: str | None = None  # the run-wide sequence it belongs to (shared saved values, fixed order)
    order: int = 0  # its position in that sequence


@dataclass(frozen=True)
class Suite:
    """A parsed `*.iflow.yaml` file."""

    path: Path
    display: str
    description: str
    base_path: str
    namespaces: Mapping[str, str]
    cases: tuple[Case, ...] = field(default_factory=tuple)
    sequence: str | None = None
    independent: bool = False  # `iterations: independent`: each data row of the sequence is a work unit of its own


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """The shipped JSON Schema of the format."""
    text = resources.files("iflowtest").joinpath("schema", SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@lru_cache(maxsize=1)
def _validator() -> Any:
    return jsonschema.Draft202012Validator(load_schema())


def load_suite(path: Path, display: str | None = None) -> Suite:
    """Parse and check one suite file; raise SuiteFormatError naming file, line and key."""
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteFormatError(f"{shown} cannot be read ({exc}): check the file") from None
    return parse_suite(text, path, shown)


def parse_suite(text: str, path: Path, display: str) -> Suite:
    """Parse suite text (`path` is where it lives, `display` how messages name it)."""
    try:
        data, lines = _parse_yaml(text, display)
        _check_plain(data, (), lines, display)
    except RecursionError:
        raise SuiteFormatError(f"{display}: the document is nested too deeply or refers to itself") from None
    if not isinstance(data, dict):
        raise SuiteFormatError(
            f"{display}:1: a suite is a mapping with 'cases' (and defaults such as 'iflow'), got {_kind(data)}"
        )
    errors = sorted(_validator().iter_errors(data), key=lambda e: _line_of(lines, tuple(e.absolute_path)))
    if errors:
        raise SuiteFormatError(_explain(_deepest(errors[0]), data, lines, display))
    return _build(data, lines, text, path, display)


# --------------------------------------------------------------------------- YAML with line numbers
def _parse_yaml(text: str, display: str) -> tuple[Any, dict[Path_, int]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SuiteFormatError(f"{display}{line}: not valid YAML ({problem}): fix the syntax") from None
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    if node is not None:
        _map_lines(node, (), lines, set())
    return data, lines


def _map_lines(node: Any, path: Path_, lines: dict[Path_, int], seen: set[int]) -> None:
    if id(node) in seen:  # an alias seen before: its lines are mapped already
        return
    seen.add(id(node))
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else "?"
            lines[(*path, name)] = key.start_mark.line + 1
            _map_lines(value, (*path, name), lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _map_lines(item, (*path, index), lines, seen)


def _line_of(lines: Mapping[Path_, int], path: Path_) -> int:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "text", bool: "true/false", type(None): "nothing"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


def _check_plain(value: Any, path: Path_, lines: Mapping[Path_, int], display: str) -> None:
    """Only what JSON can hold: YAML also makes sets, bytes and non-text keys, which no request can carry."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(key, str):
                why = " (YAML reads unquoted yes/no/on/off as true/false)" if isinstance(key, bool) else ""
                raise SuiteFormatError(
                    f"{display}:{_line_of(lines, path)}: a key read as {key!r} must be text{why}: quote it"
                )
            _check_plain(inner, (*path, key), lines, display)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _check_plain(inner, (*path, index), lines, display)
    elif not isinstance(value, str | int | float | bool | type(None)):
        raise SuiteFormatError(
            f"{display}:{_line_of(lines, path)}: {type(value).__name__} values are not part of the format: "
            "write text, numbers, true/false, lists or mappings"
        )


# --------------------------------------------------------------------------- schema errors in the user's terms
def _deepest(error: Any) -> Any:
    # oneOf/anyOf report "not valid under any"; the closest alternative says what is really wrong.
    while error.context:
        # Prefer the alternative whose type fits the value: a mapping is explained by the mapping branch.
        fitting = [e for e in error.context if e.validator != "type"] or error.context
        best = jsonschema.exceptions.best_match(fitting)
        if best is None:
            break
        error = best
    return error


def _owner(path: Path_, data: Any) -> str:
    if len(path) >= 2 and path[0] == "cases" and isinstance(path[1], int):
        case = data["cases"][path[1]] if isinstance(data.get("cases"), list) else None
        name = case.get("name") if isinstance(case, dict) else None
        label = f"case {name!r}" if isinstance(name, str) else f"case #{path[1] + 1}"
        if len(path) >= 4 and path[2] == "steps" and isinstance(path[3], int):
            return f"step {path[3] + 1} of {label}"
        return label
    return "the suite"


def _explain(error: Any, data: Any, lines: Mapping[Path_, int], display: str) -> str:
    path: Path_ = tuple(error.absolute_path)
    owner = _owner(path, data)
    keys = [p for p in path if isinstance(p, str)]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(error.schema.get("properties", {}))
        unknown = next(k for k in error.instance if k not in allowed)
        where = f"{display}:{_line_of(lines, (*path, unknown))}"
        what = "matcher" if "regex" in allowed else "key"
        close = difflib.get_close_matches(unknown, allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"valid {what}s are {', '.join(allowed)}"
        return f"unknown {what} {unknown!r} in {owner} ({where}): {hint}"
    where = f"{display}:{_line_of(lines, path)}"
    if error.validator == "required":
        missing = next(k for k in error.validator_value if k not in error.instance)
        return f"{owner} ({where}) lacks key {missing!r}: add it"
    key = f"key {keys[-1]!r}" if keys else "the document"
    return f"{key} in {owner} ({where}) {_expected(error, keys)}"


def _expected(error: Any, keys: list[str]) -> str:
    got = show(error.instance, 60)
    rule, value = error.validator, error.validator_value
    if keys and keys[-1] == "status" and "mpl" not in keys and "message" not in keys and "downstream" not in keys:
        return f"must be a status such as 200, '2xx', '200-204' or a list of those, got {got}"
    if rule == "type":
        wanted = value if isinstance(value, list) else [value]
        names = {
            "object": "a mapping",
            "array": "a list",
            "string": "text",
            "integer": "a whole number",
            "number": "a number",
            "boolean": "true/false",
            "null": "nothing",
        }
        return f"must be {' or '.join(names.get(str(w), str(w)) for w in wanted)}, got {got}"
    if rule == "enum":
        shown = dict.fromkeys(str(v).upper() if keys and keys[-1] == "method" else str(v) for v in value)
        return f"must be one of {', '.join(shown)}, got {got}"
    if rule == "const":
        return f"must be {json.dumps(value)}, got {got}"
    if rule == "pattern":
        if keys and keys[-1] == "file":
            return f"must name a file ending in .baseline.json or .baseline.xml, got {got}"
        return f"must match {value}, got {got}"
    if rule in ("minItems", "minProperties"):
        return "must not be empty"
    if rule == "maxProperties":
        return f"must name exactly one source (json, xpath, header or regex), got {got}"
    if rule in ("minimum", "maximum", "exclusiveMinimum", "minLength"):
        return f"is out of range ({rule} {value}), got {got}"
    return f"is invalid: {error.message[:200]}"


# --------------------------------------------------------------------------- building the model
def _build(data: dict[str, Any], lines: Mapping[Path_, int], text: str, path: Path, display: str) -> Suite:
    source_lines = text.splitlines()
    namespaces = {str(k): str(v) for k, v in (data.get("namespaces") or {}).items()}
    cases = []
    names: dict[str, int] = {}
    for index, raw in enumerate(data["cases"]):
        at: Path_ = ("cases", index)
        line = _line_of(lines, at)
        name = raw["name"]
        if name in names:
            raise SuiteFormatError(
                f"case {name!r} ({display}:{line}) has the same name as the case at line {names[name]}: names are "
                "test ids and must differ"
            )
        names[name] = line
        label = f"case {name!r} ({display}:{line})"
        if ("request" in raw) == ("steps" in raw):
            raise SuiteFormatError(
                f"{label} needs either 'request' (one call) or 'steps' (several), not both or neither"
            )
        if "steps" in raw:
            stray = [k for k in ("expect", "save", "baseline", "imported_assertions", "unconverted") if k in raw]
            if stray:
                raise SuiteFormatError(f"{label}: {stray[0]!r} belongs inside a step when the case has 'steps'")
        raw_steps = raw.get("steps", [raw])
        steps = []
        for number, step in enumerate(raw_steps, start=1):
            step_at = (*at, "steps", number - 1) if "steps" in raw else at
            step_label = f"step {number} of {label}" if "steps" in raw else label
            steps.append(_step(step, data, raw, number, step_label, namespaces, _line_of(lines, step_at), display))
        end = max(line, _case_end(lines, index, len(data["cases"]), len(source_lines)))
        cases.append(
            Case(
                name=name,
                line=line,
                source="\n".join(source_lines[line - 1 : end]).rstrip(),
                iflow=raw.get("iflow", data.get("iflow")),
                tags=tuple(dict.fromkeys([*data.get("tags", []), *raw.get("tags", [])])),
                headers={k: str(v) for k, v in {**data.get("headers", {}), **raw.get("headers", {})}.items()},
                variables={**data.get("variables", {}), **raw.get("variables", {})},
                table=raw.get("table"),
                table_ids=tuple(raw["table_ids"]) if "table_ids" in raw else None,
                steps=tuple(steps),
                defaults=dict(data.get("defaults", {})),
                sequence=data.get("sequence"),
                order=raw.get("order", index),
            )
        )
    independent = data.get("iterations") == "independent"
    if independent:
        _check_independent(cases, data, lines, display)
    return Suite(
        path=path,
        display=display,
        description=data.get("description", ""),
        base_path=data.get("base_path", ""),
        namespaces=namespaces,
        cases=tuple(cases),
        sequence=data.get("sequence"),
        independent=independent,
    )


def _check_independent(cases: list[Case], data: dict[str, Any], lines: Mapping[Path_, int], display: str) -> None:
    """`iterations: independent` holds only where no iteration can see another: a sequence whose cases save nothing
    and read one table with one choice of id columns (the ids tell a worker's iterations apart)."""
    where = f"{display}:{_line_of(lines, ('iterations',))}"
    if data.get("sequence") is None:
        raise SuiteFormatError(
            f"'iterations: independent' ({where}) applies to a sequence: add 'sequence: NAME' or remove it"
        )
    for case in cases:
        saving = next((s for s in case.steps if s.save), None)
        if saving is not None:
            raise SuiteFormatError(
                f"case {case.name!r} ({display}:{case.line}) saves {', '.join(map(repr, saving.save))}, but the file "
                f"declares 'iterations: independent' ({where}): a later iteration would not see the value; remove "
                "'iterations: independent' to run the iterations in order"
            )
    tabled = [c for c in cases if c.table is not None]
    for case in tabled[1:]:
        if (case.table, case.table_ids) != (tabled[0].table, tabled[0].table_ids):
            raise SuiteFormatError(
                f"case {case.name!r} ({display}:{case.line}) reads {_table_text(case)} but case {tabled[0].name!r} "
                f"reads {_table_text(tabled[0])}: with 'iterations: independent' ({where}) every case reads the same "
                "table with the same table_ids, so that each iteration is one row of all of them"
            )


def _table_text(case: Case) -> str:
    ids = f" (table_ids {', '.join(case.table_ids)})" if case.table_ids else ""
    return f"table {case.table}{ids}"


def _case_end(lines: Mapping[Path_, int], index: int, total: int, last: int) -> int:
    if index + 1 < total:
        return _line_of(lines, ("cases", index + 1)) - 1
    return last


def _step(
    raw: Mapping[str, Any],
    suite: Mapping[str, Any],
    case: Mapping[str, Any],
    number: int,
    label: str,
    namespaces: Mapping[str, str],
    line: int,
    display: str,
) -> Step:
    if "path" in raw["request"] and "url" in raw["request"]:
        raise SuiteFormatError(
            f"the request of {label} (line {line}) has both 'path' and 'url': give 'path' below the runtime or "
            "'url' for a full URL, not both"
        )
    body = raw["request"].get("body")
    soap = raw["request"].get("soap")
    if body is not None and soap is not None:
        raise SuiteFormatError(
            f"{label} (line {line}) has both body and soap: a SOAP request's body goes under soap (body, file or envelope)"
        )
    if soap is not None:
        sources = [k for k in ("body", "file", "envelope") if k in soap]
        if len(sources) != 1:
            raise SuiteFormatError(
                f"the soap request of {label} (line {line}) needs exactly one of body, file, envelope"
                + (f", got {' and '.join(sources)}" if sources else "")
            )
    if body is not None:
        kinds = [k for k in BODY_KINDS if k in body]
        if len(kinds) != 1:
            raise SuiteFormatError(
                f"the body of {label} (line {line}) needs exactly one of {', '.join(BODY_KINDS)}"
                + (f", got {' and '.join(kinds)}" if kinds else "")
            )
    expect = raw.get("expect", {})
    _check_queries(expect, raw.get("save", {}), namespaces, label)
    baseline = raw.get("baseline")
    return Step(
        name=raw.get("name", f"step {number}"),
        iflow=raw.get("iflow", case.get("iflow", suite.get("iflow"))),
        client=raw.get("client", case.get("client", suite.get("client"))),
        auth=raw.get("auth", case.get("auth", suite.get("auth", "client"))),
        request=raw["request"],
        expect=expect,
        save=raw.get("save", {}),
        baseline=_baseline(baseline, namespaces, label) if baseline is not None else None,
        imported_assertions=raw.get("imported_assertions"),
        unconverted=tuple(raw.get("unconverted", ())),
    )


def _baseline(raw: Any, namespaces: Mapping[str, str], label: str) -> Baseline:
    spec: dict[str, Any] = {"file": raw} if isinstance(raw, str) else dict(raw)
    if not re.search(r"\.baseline\.(json|xml)$", spec["file"]):
        raise SuiteFormatError(
            f"the baseline of {label} must end in .baseline.json or .baseline.xml, got {spec['file']!r}"
        )
    rules = BaselineRules(
        ignore=tuple(spec.get("ignore", ())),
        precision=spec.get("precision"),
        empty_equals_missing=spec.get("empty_equals_missing", False),
        unordered=tuple(spec.get("unordered", ())),
        namespaces=namespaces,
    )
    is_json = spec["file"].endswith(".json")
    for rule in (*rules.ignore, *rules.unordered):
        _check_query(rule, "json" if is_json else "xpath", namespaces, f"baseline rule of {label}")
    return Baseline(spec["file"], rules)


def _check_queries(
    expect: Mapping[str, Any], save: Mapping[str, Mapping[str, str]], namespaces: Mapping[str, str], label: str
) -> None:
    for kind in ("json", "xpath"):
        for query in expect.get(kind, {}):
            _check_query(query, kind, namespaces, label)
    for where, document in _message_documents(expect.get("message") or {}, "message"):
        for kind in ("json", "xpath"):
            for query in (document or {}).get(kind, {}):
                _check_query(query, kind, namespaces, f"{where} of {label}")
    for name, source in save.items():
        for kind, query in source.items():
            if kind in ("json", "xpath"):
                _check_query(query, kind, namespaces, f"save {name!r} of {label}")
            elif kind == "regex":
                try:
                    compile_safe(query)
                except ConfigError as exc:
                    raise SuiteFormatError(f"save {name!r} of {label}: {exc}") from None


def _message_documents(message: Mapping[str, Any], where: str) -> list[tuple[str, Mapping[str, Any]]]:
    """Every document check of a `message:` expectation (downstream ones included), with where it stands."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    for key, kind in (("attachments", "attachment"), ("store", "message store entry"), ("trace", "trace payload")):
        for name, document in (message.get(key) or {}).items():
            found.append((f"{where} {kind} {name!r}", document or {}))
    for name, document in (message.get("data_store") or {}).items():
        found.append((f"{where} data store {name!r}", document or {}))
    for index, downstream in enumerate(message.get("downstream") or []):
        found += _message_documents(downstream, f"{where} downstream #{index + 1}")
    return found


def _check_query(query: str, kind: str, namespaces: Mapping[str, str], label: str) -> None:
    if "${" in query:
        return  # completed by variables at run time
    try:
        if kind == "json":
            compile_jsonpath(query)
        else:
            # Evaluated once on an empty element: compiling alone does not notice an undeclared prefix.
            etree.XPath(query, namespaces=dict(namespaces))(etree.Element("probe"))
    except ConfigError as exc:
        raise SuiteFormatError(f"{exc} (in {label})") from None
    except (etree.XPathError, ValueError, TypeError) as exc:
        declared = ", ".join(namespaces) or "none"
        raise SuiteFormatError(
            f"XPath {query!r} in {label} does not compile ({exc}); declared prefixes: {declared}"
        ) from None
