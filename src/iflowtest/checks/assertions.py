"""Assertions on iFlow responses: the one implementation behind YAML `expect:` blocks and Python tests.

    from iflowtest.checks.assertions import check_response, expect_json
    from iflowtest.checks.matchers import regex

    check_response(response, {"status": "2xx", "json": {"$.d.results[*].CompanyCode": {"every": "1010"}}})
    expect_json(response, "$.d.results[0].CostCenter", regex(r"\\d{8}"))

Each `expect_*` raises `ExpectationError` (an `AssertionError`, so pytest reports it as a failure) with one
line per unmet expectation; `check_response` runs every expectation of a spec and reports all that fail.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import jsonschema
import requests
from lxml import etree

from iflowtest.bounds import nesting
from iflowtest.calls.client import record_of
from iflowtest.checks.matchers import Found, matcher, show
from iflowtest.errors import ConfigError, IflowtestError
from iflowtest.files import OutsideProjectError
from iflowtest.redaction import redact_text
from iflowtest.settings import project_file

_STATUS_CLASS: Final = re.compile(r"^([1-5])xx$", re.I)
_STATUS_RANGE: Final = re.compile(r"^(\d{3})-(\d{3})$")
EXPECT_KEYS: Final = ("status", "max_ms", "headers", "json", "xpath", "text", "odata", "json_schema", "xsd", "reason")


class ExpectationError(IflowtestError, AssertionError):
    """Raised when a response does not meet an expectation (status, header, value, schema or baseline)."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        super().__init__("\n".join(failures))


# --------------------------------------------------------------------------- parsing the response
def response_json(response: requests.Response) -> Any:
    """The response body as JSON, or an ExpectationError saying what it is instead."""
    try:
        nesting.check(response.content)
        return response.json()
    except nesting.TooDeepError as exc:
        raise ExpectationError([f"body: {exc}: the answer is not a usable JSON document"]) from None
    except RecursionError:
        raise ExpectationError([f"body: {nesting.TooDeepError(nesting.MAX_DEPTH)}"]) from None
    except ValueError:
        kind = response.headers.get("Content-Type", "no Content-Type")
        raise ExpectationError([f"body: expected JSON, got {kind}: {show(response.text[:200])}"]) from None


_XML_PARSER: Final = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def response_xml(response: requests.Response) -> Any:
    """The response body as an lxml element (entities and network access disabled)."""
    try:
        return etree.fromstring(response.content, _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        kind = response.headers.get("Content-Type", "no Content-Type")
        raise ExpectationError([f"body: expected XML, got {kind} that does not parse ({exc})"]) from None


@functools.lru_cache(maxsize=512)
def compile_jsonpath(path: str) -> Any:
    """A compiled JSONPath (jsonpath-ng, with filters), or a ConfigError naming the path."""
    # Here, not at the top: jsonpath-ng and its parser tables load in every process that loads the plugin
    # otherwise (adding loggers that pytest walks at every test phase), while only some checks use a path.
    from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
    from jsonpath_ng.ext.parser import parse as parse_jsonpath

    try:
        return parse_jsonpath(path)
    except (JsonPathLexerError, JsonPathParserError, Exception) as exc:  # the parser raises bare Exception too
        raise ConfigError(
            f"JSONPath {path!r} does not parse ({exc}): write it like $.d.results[0].CostCenter"
        ) from None


def query_json(document: Any, path: str) -> Found:
    """Every value `path` matches in `document`."""
    return [match.value for match in compile_jsonpath(path).find(document)]


def _xpath_value(node: Any) -> Any:
    if isinstance(node, etree._Element):
        return "".join(node.itertext())
    if isinstance(node, float) and node.is_integer():
        return int(node)
    return str(node) if isinstance(node, str) else node


def query_xpath(root: Any, path: str, namespaces: Mapping[str, str] | None = None) -> Found:
    """Every value `path` matches: element text, attribute values, or the number/string/boolean it computes."""
    try:
        result = root.xpath(path, namespaces=dict(namespaces or {}))
    except etree.XPathError as exc:
        known = f" (declared prefixes: {', '.join(namespaces)})" if namespaces else ""
        raise ConfigError(
            f"XPath {path!r} cannot be evaluated ({exc}){known}: check the expression and declare each prefix "
            "under namespaces"
        ) from None
    values = result if isinstance(result, list) else [result]
    return [_xpath_value(v) for v in values]


# --------------------------------------------------------------------------- single expectations
def _fail_if(reason: tuple[bool, str], subject: str) -> None:
    __tracebackhide__ = True
    ok, why = reason
    if not ok:
        raise ExpectationError([f"{subject}: {why}"])


def status_matches(spec: Any, status: int) -> bool:
    """Whether `status` meets a status spec: 200, "2xx", "200-204", or a list of those."""
    __tracebackhide__ = True  # pytest shows the user's line, not this library's
    if isinstance(spec, list):
        return any(status_matches(s, status) for s in spec)
    text = str(spec).strip()
    if text.isdigit():
        return status == int(text)
    if match := _STATUS_CLASS.match(text):
        return status // 100 == int(match.group(1))
    if match := _STATUS_RANGE.match(text):
        return int(match.group(1)) <= status <= int(match.group(2))
    raise ConfigError(f"status {spec!r} is not a status: write 200, '2xx', '200-204' or a list of those")


def expect_status(response: requests.Response, spec: Any) -> None:
    """The status is `spec`: 200, "2xx", "200-204" or a list of those."""
    __tracebackhide__ = True
    if not status_matches(spec, response.status_code):
        shown = " or ".join(str(s) for s in spec) if isinstance(spec, list) else str(spec)
        raise ExpectationError(
            [f"status: expected {shown}, got {response.status_code} {response.reason or ''}".rstrip()]
        )


def expect_reason(response: requests.Response, spec: Any) -> None:
    """The status line's reason phrase ("OK", "Not Found") meets `spec`."""
    __tracebackhide__ = True
    _fail_if(matcher(spec)([response.reason or ""]), "reason")


def expect_header(response: requests.Response, name: str, spec: Any) -> None:
    """Header `name` (any case) meets `spec`: a value, a matcher spec, `{present: true}` or `{absent: true}`."""
    __tracebackhide__ = True
    value = response.headers.get(name)
    _fail_if(matcher(spec)([] if value is None else [value]), f"header {name}")


def expect_json(response: requests.Response, path: str, spec: Any) -> None:
    """The values JSONPath `path` matches in the JSON body meet `spec`."""
    __tracebackhide__ = True
    _fail_if(matcher(spec)(query_json(response_json(response), path)), f"json {path}")


def expect_xpath(
    response: requests.Response, path: str, spec: Any, namespaces: Mapping[str, str] | None = None
) -> None:
    """The values XPath `path` matches in the XML body meet `spec` (prefixes from `namespaces`)."""
    __tracebackhide__ = True
    _fail_if(matcher(spec)(query_xpath(response_xml(response), path, namespaces)), f"xpath {path}")


def expect_text(response: requests.Response, spec: Any) -> None:
    """The body text meets `spec` (`{contains: ...}`, `{regex: ...}` or the exact text)."""
    __tracebackhide__ = True
    _fail_if(matcher(spec)([response.text]), "text")


def elapsed_ms(response: requests.Response) -> float:
    """How long the call took: the harness's own timing when it made the call, else requests' timing."""
    record = record_of(response)
    return record.elapsed_ms if record is not None else response.elapsed.total_seconds() * 1000.0


def expect_max_ms(response: requests.Response, limit: float) -> None:
    """The call took at most `limit` milliseconds."""
    __tracebackhide__ = True
    took = elapsed_ms(response)
    if took > limit:
        raise ExpectationError([f"max_ms: expected at most {limit:g} ms, took {took:.1f} ms"])


def odata_results(document: Any) -> list[Any]:
    """The entities of an OData JSON answer: V2 `d.results` (or a single `d`), or V4 `value`."""
    if isinstance(document, Mapping):
        inner = document.get("d")
        if isinstance(inner, Mapping):
            results = inner.get("results")
            return list(results) if isinstance(results, list) else [inner]
        if isinstance(document.get("value"), list):
            return list(document["value"])
    raise ExpectationError([f"odata: expected an OData JSON answer (d.results or value), got {show(document)}"])


def expect_odata(
    response: requests.Response,
    *,
    count: Any = None,
    inlinecount: Any = None,
    every: Mapping[str, Any] | None = None,
) -> None:
    """OData conveniences: result count, `$inlinecount` total, and fields every result must meet."""
    __tracebackhide__ = True
    document = response_json(response)
    results = odata_results(document)
    failures = []
    if count is not None:
        ok, why = matcher(count)([len(results)])
        if not ok:
            failures.append(f"odata count: {why}")
    if inlinecount is not None:
        inner = document.get("d") if isinstance(document.get("d"), Mapping) else document
        total = inner.get("__count", inner.get("@odata.count"))
        ok, why = matcher(inlinecount)([] if total is None else [int(total)])
        if not ok:
            failures.append(
                f"odata inlinecount: {why} (request $inlinecount=allpages)"
                if total is None
                else f"odata inlinecount: {why}"
            )
    for name, spec in (every or {}).items():
        check = matcher(spec)
        if not results:
            failures.append(f"odata every {name}: expected results, got none")
            break
        for index, entity in enumerate(results):
            ok, why = check([entity[name]] if isinstance(entity, Mapping) and name in entity else [])
            if not ok:
                failures.append(f"odata every {name}: result [{index}] of {len(results)}: {why}")
                break
    if failures:
        raise ExpectationError(failures)


def project_path(path: str | Path, base: Path | None = None, *, what: str = "file") -> Path:
    """A relative path taken from `base`, by default the project root (the folder with pyproject.toml).

    Refused (OutsideProjectError) when it leads outside the project and the folders of `allowed_paths`.
    """
    return project_file(path, base, what=what)


def _load_document(spec: Any, base: Path | None, what: str) -> tuple[Any, str]:
    if not isinstance(spec, str | Path):
        return spec, "inline schema"
    path = project_path(spec, base, what=what)
    try:
        return path.read_bytes(), str(spec)
    except OSError as exc:
        raise ConfigError(
            f"{what} {spec} cannot be read ({exc.strerror}): put it under fixtures/ and check the path"
        ) from None


def expect_json_schema(response: requests.Response, schema: Any, *, base: Path | None = None) -> None:
    """The JSON body is valid against a JSON Schema (a mapping, or the path of a .json file)."""
    __tracebackhide__ = True
    loaded, name = _load_document(schema, base, "JSON Schema")
    if isinstance(loaded, bytes):
        try:
            loaded = nesting.loads(loaded)
        except ValueError as exc:
            raise ConfigError(f"JSON Schema {name} is not JSON ({exc})") from None
    validator_class = jsonschema.validators.validator_for(loaded)
    try:
        validator_class.check_schema(loaded)
    except jsonschema.SchemaError as exc:
        raise ConfigError(f"JSON Schema {name} is not a valid schema: {exc.message}") from None
    errors = sorted(validator_class(loaded).iter_errors(response_json(response)), key=lambda e: list(e.absolute_path))
    if errors:
        raise ExpectationError(
            [f"json_schema {name}: {_json_location(e.absolute_path)}: {e.message[:300]}" for e in errors[:5]]
        )


def _json_location(path: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


class _ProjectFiles(etree.Resolver):
    """Lets an XSD include or import only files inside the project (and `allowed_paths`), nothing from the network."""

    def __init__(self, base: Path | None) -> None:
        super().__init__()
        self.base = base
        self.refused: OutsideProjectError | None = None

    def resolve(self, system_url: str | None, public_id: str | None, context: Any) -> Any:
        if not system_url:
            return None
        parts = urlsplit(system_url)
        if parts.scheme not in ("", "file"):
            self.refused = OutsideProjectError(
                f"XSD include {system_url} is not a file: schemas are read from files only"
            )
        else:
            try:
                return self.resolve_filename(
                    str(project_path(unquote(parts.path), self.base, what="XSD include")), context
                )
            except OutsideProjectError as exc:
                self.refused = exc
        return self.resolve_string("", context)  # an empty document: the schema then fails to load


def expect_xsd(response: requests.Response, xsd: str | Path, *, base: Path | None = None) -> None:
    """The XML body is valid against the XSD file `xsd` (its includes read from inside the project only)."""
    __tracebackhide__ = True
    loaded, name = _load_document(xsd, base, "XSD")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    resolver = _ProjectFiles(base)
    parser.resolvers.add(resolver)
    url = str(project_path(xsd, base, what="XSD")) if isinstance(xsd, str | Path) else None
    try:
        schema = etree.XMLSchema(etree.fromstring(loaded, parser, base_url=url))
    except (etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        if resolver.refused is not None:
            raise resolver.refused from None
        raise ConfigError(f"XSD {name} is not a valid schema ({_first_line(exc)})") from None
    document = response_xml(response)
    try:
        valid = schema.validate(document)
    except etree.XMLSchemaValidateError:
        # Entities are never resolved (no file or network reads); libxml2's validator refuses the entity
        # references left in the tree with an internal error, which was a 37 KB traceback (issue 18, C9).
        raise ExpectationError(
            [
                f"xsd {name}: the answer cannot be validated: it uses entities declared in its DOCTYPE, which are "
                "never resolved (no file or network is read for an answer)"
            ]
        ) from None
    if not valid:
        raise ExpectationError([f"xsd {name}: line {e.line}: {e.message}" for e in list(schema.error_log)[:5]])


def _first_line(exc: Exception) -> str:
    """An lxml error as one short line: its messages can run to kilobytes (every entity it could not resolve)."""
    return redact_text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)[:300]


# --------------------------------------------------------------------------- a whole expect: block
def check_response(
    response: requests.Response,
    expect: Mapping[str, Any],
    *,
    namespaces: Mapping[str, str] | None = None,
    base: Path | None = None,
) -> None:
    """Check every expectation of an `expect:` mapping and raise one ExpectationError listing all that fail.

    Keys: status, reason, max_ms, headers, json, xpath, text, odata, json_schema, xsd (see the README's format
    section); `base` is the folder relative schema paths start from.
    """
    __tracebackhide__ = True
    checks: list[Callable[[], None]] = []
    for key, spec in expect.items():
        if key not in EXPECT_KEYS:
            raise ConfigError(f"unknown expectation {key!r}: expectations are {', '.join(EXPECT_KEYS)}")
        checks.extend(_checks_for(response, key, spec, namespaces, base))
    failures: list[str] = []
    for check in checks:
        try:
            check()
        except ExpectationError as exc:
            failures.extend(exc.failures)
        except ValueError as exc:  # a matcher spec that does not make sense
            raise ConfigError(str(exc)) from None
    if failures:
        # One unreadable body fails every json/xpath check the same way: say it once.
        raise ExpectationError(list(dict.fromkeys(failures)))


def _checks_for(
    response: requests.Response,
    key: str,
    spec: Any,
    namespaces: Mapping[str, str] | None,
    base: Path | None,
) -> list[Callable[[], None]]:
    if key == "status":
        return [lambda: expect_status(response, spec)]
    if key == "reason":
        return [lambda: expect_reason(response, spec)]
    if key == "max_ms":
        return [lambda: expect_max_ms(response, float(spec))]
    if key == "text":
        return [lambda: expect_text(response, spec)]
    if key == "odata":
        return [lambda: expect_odata(response, **dict(spec))]
    if key == "json_schema":
        return [lambda: expect_json_schema(response, spec, base=base)]
    if key == "xsd":
        return [lambda: expect_xsd(response, spec, base=base)]
    single: dict[str, Callable[[str, Any], None]] = {
        "headers": lambda name, inner: expect_header(response, name, inner),
        "json": lambda path, inner: expect_json(response, path, inner),
        "xpath": lambda path, inner: expect_xpath(response, path, inner, namespaces),
    }
    run = single[key]
    return [functools.partial(run, name, inner) for name, inner in dict(spec).items()]
