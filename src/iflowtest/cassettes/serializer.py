"""Readable cassettes: a vcrpy serializer writing decoded bodies, JSON and XML pretty-printed in block style.

vcrpy's YAML serializer writes a compact JSON or XML answer as one long line, so a re-recording is a
one-line diff nobody can review (vcrpy #580, #249). Here a body that is JSON or XML is stored
pretty-printed as a YAML literal block, with `body_format` saying how to undo the layout on load, so a
replay hands the client the exact bytes that were recorded. A body whose layout cannot be undone exactly
is stored as recorded (still decoded text); binary bodies stay `!!binary`.

Recording the same behaviour twice writes the same text: headers are written sorted by name (vcrpy keeps
them in the order the connection delivered them, which changes between runs), and `CassetteSerializer`
replaces volatile values by stand-ins first (volatile.py).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

import yaml

from iflowtest.bounds import nesting
from iflowtest.bounds.yamlsize import bounded
from iflowtest.cassettes.scrub import header_value
from iflowtest.cassettes.volatile import StandIns

try:  # libyaml is about ten times faster (vcrpy PR #16); fall back to pure Python where it is missing
    from yaml import CSafeDumper as _Dumper
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

_BoundedLoader = bounded(_Loader)

# json.dumps settings a body may have been written with, tried in order until one reproduces it.
_JSON_STYLES: Final = {
    "json": {"ensure_ascii": False},
    "json-compact": {"ensure_ascii": False, "separators": (",", ":")},
    "json-ascii": {"ensure_ascii": True},
    "json-ascii-compact": {"ensure_ascii": True, "separators": (",", ":")},
}
_BETWEEN_TAGS = re.compile(r">\s+<")
_PRETTY_BREAK = re.compile(r">\n *<")


class _CassetteDumper(_Dumper):
    """Block style for every multi-line string."""


def _represent_str(dumper: _CassetteDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_CassetteDumper.add_representer(str, _represent_str)


class CassetteSerializer:
    """The serializer a run gives vcrpy: volatile values become stand-ins, then the readable YAML."""

    def __init__(self, stand_ins: StandIns | None = None) -> None:
        self.stand_ins = stand_ins or StandIns()

    def serialize(self, cassette: dict[str, Any]) -> str:
        """vcrpy serializer interface, without handled CSRF challenges, with stand-ins for volatile values."""
        drop_handled_csrf_challenges(cassette)
        self.stand_ins.apply(cassette)
        return serialize(cassette)

    def deserialize(self, text: str) -> dict[str, Any]:
        """vcrpy serializer interface."""
        return deserialize(text)


def drop_handled_csrf_challenges(cassette: dict[str, Any]) -> None:
    """Leave out each `403 X-CSRF-Token: Required` that the harness answered by fetching a token and resending.

    Which test's call meets the challenge depends only on which call came first in its process with that client
    (the token is kept per client), so keeping it would make a cassette depend on test order and on how xdist
    shared the tests out. Replaying, the call without the challenge is answered directly. A challenge that
    comes back after the fresh token (the endpoint keeps no session) is what its test is about, and stays.
    """
    interactions = cassette.get("interactions") or []
    kept = []
    for index, interaction in enumerate(interactions):
        following = interactions[index + 1] if index + 1 < len(interactions) else None
        if (
            following is not None
            and _csrf_challenge(interaction)
            and not _csrf_challenge(following)
            and _same_call(interaction["request"], following["request"])
        ):
            continue
        kept.append(interaction)
    cassette["interactions"] = kept


def _csrf_challenge(interaction: dict[str, Any]) -> bool:
    response = interaction.get("response") or {}
    status = (response.get("status") or {}).get("code")
    return status == 403 and header_value(response.get("headers") or {}, "x-csrf-token").lower() == "required"


def _same_call(first: dict[str, Any], second: dict[str, Any]) -> bool:
    return bool(first.get("method") == second.get("method") and first.get("uri") == second.get("uri"))


def serialize(cassette: dict[str, Any]) -> str:
    """vcrpy serializer interface: the cassette dict (bodies already decoded to str) to YAML text."""
    for interaction in cassette.get("interactions", []):
        request, response = interaction["request"], interaction["response"]
        for part in (request, response):
            if isinstance(part.get("headers"), dict):
                part["headers"] = dict(sorted(part["headers"].items(), key=lambda item: (item[0].lower(), item[0])))
        text, layout = pretty(request.get("body"), header_value(request.get("headers", {}), "content-type"))
        if layout:
            request["body"], request["body_format"] = text, layout
        body = response.get("body", {})
        text, layout = pretty(body.get("string"), header_value(response.get("headers", {}), "content-type"))
        if layout:
            body["string"], body["format"] = text, layout
    return yaml.dump(
        cassette, Dumper=_CassetteDumper, default_flow_style=False, allow_unicode=True, sort_keys=False, width=2**16
    )


def deserialize(text: str) -> dict[str, Any]:
    """vcrpy serializer interface: YAML text to the cassette dict, bodies back in their recorded layout."""
    cassette: dict[str, Any] = yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 (a safe loader)
    if not isinstance(cassette, dict):
        raise ValueError("a cassette is a YAML mapping with 'interactions'; this file holds something else")
    for interaction in cassette.get("interactions") or []:
        request, response = interaction["request"], interaction["response"]
        layout = request.pop("body_format", None)
        if layout:
            request["body"] = undo_pretty(request["body"], layout)
        body = response.get("body", {})
        layout = body.pop("format", None)
        if layout:
            body["string"] = undo_pretty(body["string"], layout)
    return cassette


def pretty(body: Any, content_type: str) -> tuple[Any, str | None]:
    """(pretty text, layout name) for a JSON or XML body whose layout can be undone exactly; else (body, None)."""
    if not isinstance(body, str) or not body.strip():
        return body, None
    kind = content_type.lower()
    stripped = body.lstrip()
    if stripped.startswith("<?xml") and body.count("\n") == 1:
        # lxml and most servers write the declaration on a line of its own, then the document in one line.
        declaration, document = body.split("\n", 1)
        text, layout = pretty(document, content_type)
        if layout == "xml":
            return f"{declaration}\n{text}", "xml-declared"
        return body, None
    if "\n" in body:
        return body, None  # already multi-line: readable as it is, and exact
    if "json" in kind or stripped[:1] in ("{", "["):
        try:
            document = nesting.loads(body)
        except ValueError:
            return body, None
        for layout, options in _JSON_STYLES.items():
            if json.dumps(document, **options) == body:  # type: ignore[arg-type]
                return json.dumps(document, indent=2, ensure_ascii=False), layout
        return body, None
    if ("xml" in kind or stripped.startswith("<")) and not _BETWEEN_TAGS.search(body):
        text = _indent_xml(body)
        if undo_pretty(text, "xml") == body:
            return text, "xml"
    return body, None


def undo_pretty(text: str, layout: str) -> str:
    """The recorded bytes (as text) of a body stored pretty-printed with `layout`."""
    if layout in _JSON_STYLES:
        return json.dumps(nesting.loads(text), **_JSON_STYLES[layout])  # type: ignore[arg-type]
    if layout == "xml":
        return _PRETTY_BREAK.sub("><", text)
    if layout == "xml-declared":
        declaration, document = text.split("\n", 1)
        return f"{declaration}\n{_PRETTY_BREAK.sub('><', document)}"
    raise ValueError(f"unknown body_format {layout!r} in cassette: re-record it with this version of iflowtest")


def _indent_xml(body: str) -> str:
    # Textual and reversible: a break goes only between adjacent tags, and the body has none there
    # (checked by the caller), so removing the breaks gives the recorded bytes back. lxml's pretty
    # printer rewrites declarations and quotes, which could not be undone exactly.
    pieces = body.replace("><", ">\n<").split("\n")
    depth, lines = 0, []
    for piece in pieces:
        closing = piece.startswith("</")
        if closing:
            depth = max(0, depth - 1)
        lines.append("  " * depth + piece)
        if _opens(piece):
            depth += 1
    return "\n".join(lines)


def _opens(piece: str) -> bool:
    is_tag = piece.startswith("<") and not piece.startswith(("</", "<?", "<!"))
    return is_tag and not piece.endswith("/>") and "</" not in piece
