"""Baselines: compare a response with a recorded `NAME.baseline.json|xml`, under ignore rules, and rewrite it.

This is how the SAP testing tools (Figaf, Int4) work: a stored expected answer plus rules for what changes on
every call. Both documents are normalised by the same rules before a structural comparison:

- `ignore`: JSONPath (JSON) or XPath (XML) expressions; matched values/elements/attributes are removed;
- `precision`: numbers (XML: numeric text) rounded to that many decimals;
- `empty_equals_missing`: null, "", [] and {} (XML: empty elements) count as absent;
- `unordered`: lists (XML: the children of the selected elements) compared as bags.

No diff library knows JSONPath/XPath ignore rules, so the walk is written here; parsing and path evaluation
come from jsonpath-ng and lxml.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import requests
from lxml import etree

from iflowtest.bounds import nesting
from iflowtest.checks.assertions import ExpectationError, compile_jsonpath, project_path, response_json, response_xml
from iflowtest.checks.matchers import show
from iflowtest.errors import ConfigError
from iflowtest.files import write_atomically
from iflowtest.redaction import redact_text

MAX_DIFFERENCES: Final = 20
_PRETTY_PARSER: Final = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)


@dataclass(frozen=True)
class BaselineRules:
    """How a response is compared with its baseline."""

    ignore: tuple[str, ...] = ()
    precision: int | None = None
    empty_equals_missing: bool = False
    unordered: tuple[str, ...] = ()
    namespaces: Mapping[str, str] = field(default_factory=dict)


def baseline_kind(path: Path) -> str:
    """'json' or 'xml' from the file name (`NAME.baseline.json` / `NAME.baseline.xml`)."""
    suffix = path.suffix.lower()
    if suffix not in (".json", ".xml"):
        raise ConfigError(f"baseline {path} must end in .baseline.json or .baseline.xml")
    return suffix[1:]


def compare_baseline(
    response: requests.Response,
    path: str | Path,
    rules: BaselineRules | None = None,
    *,
    update: bool = False,
    base: Path | None = None,
) -> str | None:
    """Raise ExpectationError with a structural diff when the response differs from the baseline at `path`.

    With `update`, (re)write the baseline from the response instead and return a note saying so. A relative
    `path` is taken from `base`, by default the project root.
    """
    __tracebackhide__ = True  # pytest shows the user's line, not this library's
    rules = rules or BaselineRules()
    source = Path(path)
    target = project_path(source, base, what="baseline")
    kind = baseline_kind(target)
    if update:
        write_baseline(response, target, kind)
        return f"baseline {source} written from the response ({len(response.content)} bytes)"
    try:
        stored = target.read_bytes()
    except OSError:
        raise ConfigError(
            f"baseline {source} does not exist: run once with --iflow-update-baselines to record it from the live "
            "answer, review it and commit it"
        ) from None
    if kind == "json":
        try:
            expected = nesting.loads(stored)
        except ValueError as exc:
            raise ConfigError(f"baseline {source} is not valid JSON ({exc})") from None
        differences = diff_json(expected, response_json(response), rules)
    else:
        try:
            expected_root = etree.fromstring(stored, _PRETTY_PARSER)
        except etree.XMLSyntaxError as exc:
            raise ConfigError(f"baseline {source} is not valid XML ({exc})") from None
        differences = diff_xml(expected_root, response_xml(response), rules)
    if differences:
        shown = differences[:MAX_DIFFERENCES]
        more = len(differences) - len(shown)
        lines = [f"baseline {source}: the response differs in {len(differences)} place(s):"]
        lines += [f"  {d}" for d in shown] + ([f"  … and {more} more"] if more else [])
        lines.append("  (if the change is intended, rerun with --iflow-update-baselines and review the diff)")
        raise ExpectationError(lines)
    return None


def write_baseline(response: requests.Response, target: Path, kind: str) -> None:
    """Write the response as a readable baseline (indented JSON, pretty-printed XML), secrets scrubbed."""
    if kind == "json":
        text = json.dumps(response_json(response), indent=2, ensure_ascii=False) + "\n"
    else:
        root = etree.fromstring(response.content, _PRETTY_PARSER)
        text = etree.tostring(root, pretty_print=True, encoding="unicode")
    write_atomically(target, redact_text(text))  # an interrupted update never leaves half a baseline


# --------------------------------------------------------------------------- JSON
def diff_json(expected: Any, actual: Any, rules: BaselineRules) -> list[str]:
    """The differences between two JSON documents after normalising both by `rules`."""
    left, right = _normalise_json(expected, rules), _normalise_json(actual, rules)
    differences: list[str] = []
    _walk_json(left, right, "$", differences)
    return differences


def _normalise_json(document: Any, rules: BaselineRules) -> Any:
    document = copy.deepcopy(document)
    for path in rules.ignore:
        document = compile_jsonpath(path).filter(lambda _value: True, document)
    document = _clean_json(document, rules)
    for path in rules.unordered:
        for match in compile_jsonpath(path).find(document):
            if isinstance(match.value, list):
                match.value.sort(key=_canonical)
    return document


def _clean_json(value: Any, rules: BaselineRules) -> Any:
    if isinstance(value, Mapping):
        cleaned = {k: _clean_json(v, rules) for k, v in value.items()}
        if rules.empty_equals_missing:
            cleaned = {k: v for k, v in cleaned.items() if v not in (None, "", [], {})}
        return cleaned
    if isinstance(value, list):
        return [_clean_json(v, rules) for v in value]
    if isinstance(value, float) and rules.precision is not None:
        return round(value, rules.precision)
    return value


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _walk_json(expected: Any, actual: Any, where: str, out: list[str]) -> None:
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        for key in expected:
            child = f"{where}.{key}"
            if key not in actual:
                out.append(f"{child}: missing in the response (baseline has {show(expected[key], 60)})")
            else:
                _walk_json(expected[key], actual[key], child, out)
        for key in actual:
            if key not in expected:
                out.append(f"{where}.{key}: not in the baseline (response has {show(actual[key], 60)})")
        return
    if isinstance(expected, list) and isinstance(actual, list):
        for index, (left, right) in enumerate(zip(expected, actual, strict=False)):
            _walk_json(left, right, f"{where}[{index}]", out)
        for index in range(len(actual), len(expected)):
            out.append(f"{where}[{index}]: missing in the response (baseline has {show(expected[index], 60)})")
        for index in range(len(expected), len(actual)):
            out.append(f"{where}[{index}]: not in the baseline (response has {show(actual[index], 60)})")
        return
    if type(expected) is not type(actual) or expected != actual:
        out.append(f"{where}: {_pair(expected, actual)}")


def _pair(expected: Any, actual: Any) -> str:
    """'expected X, got Y'; long texts are shown from shortly before their first difference."""
    if isinstance(expected, str) and isinstance(actual, str) and max(len(expected), len(actual)) > 60:
        start = next((i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b), 0)
        start = max(0, min(start, len(expected), len(actual)) - 20)
        if start:
            return f"expected …{show(expected[start:], 60)}, got …{show(actual[start:], 60)} (from character {start})"
    return f"expected {show(expected, 60)}, got {show(actual, 60)}"


# --------------------------------------------------------------------------- XML
def diff_xml(expected: Any, actual: Any, rules: BaselineRules) -> list[str]:
    """The differences between two XML documents after normalising both by `rules`."""
    left, right = _normalise_xml(expected, rules), _normalise_xml(actual, rules)
    differences: list[str] = []
    _walk_xml(left, right, f"/{_name(left)}", differences)
    return differences


def _normalise_xml(root: Any, rules: BaselineRules) -> Any:
    root = copy.deepcopy(root)
    namespaces = dict(rules.namespaces)
    for path in rules.ignore:
        for node in _xpath(root, path, namespaces):
            if isinstance(node, etree._Element):
                parent = node.getparent()
                if parent is not None:
                    parent.remove(node)
            elif getattr(node, "is_attribute", False):
                del node.getparent().attrib[node.attrname]
            else:
                raise ConfigError(f"ignore XPath {path!r} must select elements or attributes, not text or numbers")
    for element in list(root.iter()):
        if not isinstance(element.tag, str):  # comments and processing instructions never count
            if element.getparent() is not None:
                element.getparent().remove(element)
            continue
        element.text = _clean_text(element.text, rules.precision)
        element.tail = None
    if rules.empty_equals_missing:
        for element in reversed(list(root.iter())):
            if element is not root and not element.text and not len(element) and not element.attrib:
                element.getparent().remove(element)
    for path in rules.unordered:
        for node in _xpath(root, path, namespaces):
            if isinstance(node, etree._Element):
                node[:] = sorted(node, key=lambda child: etree.tostring(child, method="c14n"))
    return root


def _xpath(root: Any, path: str, namespaces: dict[str, str]) -> Sequence[Any]:
    try:
        result = root.xpath(path, namespaces=namespaces)
    except etree.XPathError as exc:
        raise ConfigError(
            f"baseline rule XPath {path!r} cannot be evaluated ({exc}): check it and its prefixes"
        ) from None
    if not isinstance(result, list):
        raise ConfigError(f"baseline rule XPath {path!r} must select elements or attributes, not text or numbers")
    return result


def _clean_text(text: str | None, precision: int | None) -> str | None:
    if text is None or not text.strip():
        return None
    text = text.strip()
    if precision is not None:
        try:
            return f"{round(float(text), precision):.{precision}f}"
        except ValueError:
            return text
    return text


def _name(element: Any) -> str:
    return str(etree.QName(element).localname)


def _walk_xml(expected: Any, actual: Any, where: str, out: list[str]) -> None:
    if expected.tag != actual.tag:
        out.append(f"{where}: expected element <{_name(expected)}>, got <{_name(actual)}>")
        return
    for name, value in expected.attrib.items():
        if name not in actual.attrib:
            out.append(f"{where}/@{name}: missing in the response (baseline has {value!r})")
        elif actual.attrib[name] != value:
            out.append(f"{where}/@{name}: expected {value!r}, got {actual.attrib[name]!r}")
    for name, value in actual.attrib.items():
        if name not in expected.attrib:
            out.append(f"{where}/@{name}: not in the baseline (response has {value!r})")
    if (expected.text or "") != (actual.text or ""):
        out.append(f"{where}: text {_pair(expected.text or '', actual.text or '')}")
    seen: dict[str, int] = {}
    paths = []
    for child in expected:
        seen[child.tag] = seen.get(child.tag, 0) + 1
        paths.append(f"{where}/{_name(child)}[{seen[child.tag]}]")
    for index, (left, right) in enumerate(zip(expected, actual, strict=False)):
        _walk_xml(left, right, paths[index], out)
    for left in list(expected)[len(actual) :]:
        out.append(f"{where}/{_name(left)}: missing in the response")
    for right in list(actual)[len(expected) :]:
        out.append(f"{where}/{_name(right)}: not in the baseline (response has {show(right.text or '', 60)})")
