"""Postman test scripts turned into `expect:` and `save:` of a YAML case, line by line, by pattern.

Only the common `pm.*` snippets (Postman's own "snippets" list) and the legacy `tests[...] = ...` forms are
understood; a JavaScript interpreter would run anything but give no declarative case. Every other line is
returned as not converted, with the reason, for the conversion report and the comment next to the case.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_JSON_VAR = re.compile(
    r"^\s*(?:var|let|const)\s+(\w+)\s*=\s*(?:pm\.response\.json\(\)|JSON\.parse\(responseBody\))\s*;?\s*$"
)
_SCHEMA_VAR = re.compile(r"^\s*(?:var|let|const)\s+(\w+)\s*=\s*(\{.*)$")
_STRUCTURE = re.compile(r"^\s*(?:pm\.test\(.*function\s*\(\)\s*\{|pm\.test\(.*\(\)\s*=>\s*\{|\}\);?|\}|//.*)\s*$")
_VALUE = (
    r"((?:\"[^\"]*\"|'[^']*'|-?\d+(?:\.\d+)?|true|false|null"
    r"|pm\.(?:iterationData|environment|variables|collectionVariables|globals)\.get\(\s*[\"']\w+[\"']\s*\)))"
)
_CALL = r"\(\s*" + _VALUE + r"\s*\)"


@dataclass
class ScriptResult:
    """What a test script became: expectations, saved values, and the lines left as they were."""

    expect: dict[str, Any] = field(default_factory=dict)
    save: dict[str, Any] = field(default_factory=dict)
    kept: list[tuple[str, str]] = field(default_factory=list)  # (line, why it was not converted)


def literal(text: str) -> Any:
    """A JavaScript literal (number, quoted string, true/false/null) as Python."""
    if m := re.fullmatch(r"pm\.\w+\.get\(\s*[\"'](\w+)[\"']\s*\)", text):
        return "${" + m.group(1) + "}"
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    return json.loads(text)


def json_path(expression: str, json_vars: set[str]) -> str | None:
    """`jsonData.d.results[0].Id` (or `pm.response.json().d`) as the JSONPath `$.d.results[0].Id`."""
    expression = expression.strip()
    for prefix in ("pm.response.json()", *json_vars):
        if expression == prefix:
            return "$"
        if expression.startswith(prefix) and expression[len(prefix)] in ".[":
            rest = expression[len(prefix) :]
            if re.fullmatch(r"(?:\.\w+|\[\d+\]|\[\"[^\"]+\"\]|\['[^']+'\])+", rest):
                return "$" + rest.replace('"', "'")
    return None


def convert(lines: list[str]) -> ScriptResult:
    """Convert a test script's lines; structure (`pm.test(...)`, braces) counts as converted."""
    result = ScriptResult()
    json_vars: set[str] = set()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip():
            continue
        if match := _JSON_VAR.match(line):
            json_vars.add(match.group(1))
            continue
        if _STRUCTURE.match(line):
            continue
        if match := _SCHEMA_VAR.match(line):
            # An inline schema object, possibly over several lines; only a JSON-compatible literal converts.
            text, end = match.group(2), index
            while end < len(lines) and not _balanced(text):
                text += "\n" + lines[end]
                end += 1
            try:
                schema = json.loads(text.rstrip().rstrip(";"))
            except json.JSONDecodeError:
                schema = None
            if isinstance(schema, dict):
                result.expect.setdefault("_schemas", {})[match.group(1)] = schema
                index = end
                continue
        if not _convert_line(line.strip(), result, json_vars):
            result.kept.append((line, "not one of the supported pm.* test patterns"))
    schemas = result.expect.pop("_schemas", {})
    if "json_schema" in result.expect:
        name = result.expect["json_schema"]
        if name in schemas:
            result.expect["json_schema"] = schemas[name]
        else:
            result.expect.pop("json_schema")
            result.kept.append(
                (f"jsonSchema({name})", f"the schema {name} is not a JSON object literal in this script")
            )
    return result


def _balanced(text: str) -> bool:
    return text.count("{") == text.count("}") and text.count("[") == text.count("]")


def _status(result: ScriptResult, value: Any) -> None:
    existing = result.expect.get("status")
    if existing is not None and existing != value:
        values = existing if isinstance(existing, list) else [existing]
        result.expect["status"] = [v for v in values if v == value] or value
    else:
        result.expect["status"] = value


def _convert_line(line: str, result: ScriptResult, json_vars: set[str]) -> bool:
    line = line.rstrip(";").strip()
    if m := re.fullmatch(r"pm\.response\.to\.have\.status" + _CALL, line):
        value = literal(m.group(1))
        if isinstance(value, int):
            _status(result, value)
            return True
        return False  # a reason phrase ("OK"): no YAML form checks it
    if m := re.fullmatch(r"pm\.response\.to\.be\.(ok|success)", line):
        _status(result, 200 if m.group(1) == "ok" else "2xx")
        return True
    if m := re.fullmatch(
        r"pm\.expect\(pm\.response\.(?:code|status)\)\.to\.(?:be\.)?(?:eql|equal|equals)" + _CALL, line
    ):
        _status(result, literal(m.group(1)))
        return True
    if m := re.fullmatch(r"pm\.expect\(pm\.response\.code\)\.to\.be\.oneOf\(\[([\d,\s]+)\]\)", line):
        result.expect["status"] = [int(v) for v in m.group(1).split(",") if v.strip()]
        return True
    if m := re.fullmatch(r"pm\.expect\(pm\.response\.responseTime\)\.to\.be\.(?:below|lessThan)\((\d+)\)", line):
        # below(N) is "< N" and max_ms is "<= N": they differ only when a call takes exactly N ms, which
        # Postman's whole-millisecond responseTime can hit and iflowtest's fractional timing practically
        # cannot; N - 1 would fail calls Postman passes (199.4 ms against below(200)), so N stays.
        result.expect["max_ms"] = int(m.group(1))
        return True
    if m := re.fullmatch(r"pm\.response\.to\.have\.header" + _CALL, line):
        result.expect.setdefault("headers", {})[str(literal(m.group(1)))] = {"present": True}
        return True
    if m := re.fullmatch(
        r"pm\.expect\(pm\.response\.headers\.get" + _CALL + r"\)\.to\.(?:include|contain|have\.string)" + _CALL, line
    ):
        pattern = ".*" + re.escape(str(literal(m.group(2)))) + ".*"
        result.expect.setdefault("headers", {})[str(literal(m.group(1)))] = {"regex": pattern}
        return True
    if m := re.fullmatch(
        r"pm\.expect\(pm\.response\.text\(\)\)\.to\.(?:include|contain|have\.string)" + _CALL, line
    ) or re.fullmatch(r"pm\.response\.to\.have\.body" + _CALL, line):
        result.expect["text"] = (
            {"contains": literal(m.group(1))}
            if "include" in line or "contain" in line or "string" in line
            else literal(m.group(1))
        )
        return True
    if m := re.fullmatch(r"pm\.response\.to\.have\.jsonSchema\((\w+)\)", line):
        result.expect["json_schema"] = m.group(1)
        return True
    if m := re.fullmatch(
        r"pm\.expect\((.+?)\)\.to\.(?:be\.)?(eql|equal|equals|include|contain|exist)(?:" + _CALL + r")?", line
    ):
        path = json_path(m.group(1), json_vars)
        if path is None:
            return False
        if m.group(2) == "exist":
            result.expect.setdefault("json", {})[path] = {"present": True}
            return True
        if m.group(3) is None:
            return False
        value = literal(m.group(3))
        result.expect.setdefault("json", {})[path] = (
            {"contains": value} if m.group(2) in ("include", "contain") else value
        )
        return True
    if m := re.fullmatch(
        r"pm\.(?:environment|collectionVariables|globals|variables)\.set\(\s*[\"'](\w+)[\"']\s*,\s*(.+)\)", line
    ):
        path = json_path(m.group(2), json_vars)
        if path is None:
            return False
        result.save[m.group(1)] = {"json": path}
        return True
    return _legacy(line, result)


def _legacy(line: str, result: ScriptResult) -> bool:
    m = re.fullmatch(r"tests\[[\"'].*[\"']\]\s*=\s*(.+)", line)
    if not m:
        return False
    rule = m.group(1).strip()
    if s := re.fullmatch(r"responseCode\.code\s*={2,3}\s*(\d+)", rule):
        _status(result, int(s.group(1)))
        return True
    if s := re.fullmatch(r"responseTime\s*<\s*(\d+)", rule):
        result.expect["max_ms"] = int(s.group(1))
        return True
    if s := re.fullmatch(r"responseBody\.(?:has|indexOf)" + _CALL + r"(\s*!==?\s*-1)?", rule):
        result.expect["text"] = {"contains": literal(s.group(1))}
        return True
    if s := re.fullmatch(r"postman\.getResponseHeader" + _CALL, rule):
        result.expect.setdefault("headers", {})[str(literal(s.group(1)))] = {"present": True}
        return True
    return False
