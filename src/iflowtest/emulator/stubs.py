"""Stub behaviours for a project's own iFlows (`iflows.yaml` in the project): respond, echo, delay, replay.

A project declares flows that are not deployed yet (or that other systems' tests need as a virtual tenant) in
the bundled catalog's format; these behaviours answer for them. `fail` is the sample flows' own behaviour
(`flows.fail`). Every run of a stub goes through the runtime like any flow: roles, CSRF, a message log.

`${...}` in a `respond` body, header value or content type is filled from the request: `${query.NAME}`,
`${header.NAME}` (a header among the flow's `allowed_headers`, as only those reach a flow on a tenant), `${json.a.b.0.c}` (a path into a JSON body, list items by number), `${xml.Name}` (the text
of the first element with that local name in an XML body) and `${body}` (the whole body). A name the
request does not hold fails the message (SAP's 500 text), so a stub never answers with a silent gap.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import yaml
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from iflowtest.bounds.yamlsize import bounded
from iflowtest.emulator.costcenters import CostCenterService
from iflowtest.emulator.flows import BehaviourSpec, FlowError, FlowRequest, FlowResponse

# Safe, and refusing alias bombs: a catalog or recording is a file someone else may have written.
_LOADER: Final = bounded(getattr(yaml, "CSafeLoader", yaml.SafeLoader))

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
# Keys the loader adds to options after resolving paths inside the project (never written by users).
BODY_BYTES: Final = "_body_bytes"
CASSETTE_DIR: Final = "_cassette_dir"
FLOW_NAME: Final = "_flow"
ALLOWED_HEADERS: Final = "_allowed_headers"
MAX_DELAY: Final = 300.0


def _fill(template: str, request: FlowRequest, flow: str, allowed: list[str]) -> str:
    def value(match: re.Match[str]) -> str:
        return _lookup(match.group(1).strip(), request, flow, allowed)

    return _PLACEHOLDER.sub(value, template)


def _lookup(expression: str, request: FlowRequest, flow: str, allowed: list[str]) -> str:
    kind, _, name = expression.partition(".")
    if kind == "header" and not any(a == "*" or a.lower() == name.lower() for a in allowed):
        # As on a tenant: only the flow's *Allowed Header(s)* reach it; the others stay at the adapter.
        raise FlowError(
            f"stub {flow}: ${{{expression}}}: header {name} does not reach the flow; add it to the flow's "
            "allowed_headers (its Allowed Header(s))"
        )
    found: Any = None
    if kind == "body" and not name:
        return request.body.decode("utf-8", "replace")
    if kind == "query":
        found = next((v for k, v in request.query.items() if k == name), None)
    elif kind == "header":
        found = request.headers.get(name)
    elif kind == "json":
        found = _json_path(request.body, name)
    elif kind == "xml":
        found = _xml_text(request.body, name)
    else:
        raise FlowError(
            f"stub {flow}: ${{{expression}}} is not a value this stub knows: use ${{query.NAME}}, ${{header.NAME}}, "
            "${json.PATH}, ${xml.ELEMENT} or ${body}"
        )
    if found is None:
        raise FlowError(f"stub {flow}: ${{{expression}}} has no value in this request")
    return found if isinstance(found, str) else json.dumps(found)


def _json_path(body: bytes, path: str) -> Any:
    try:
        node: Any = json.loads(body)
    except ValueError:
        return None
    for part in path.split(".") if path else ():
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _xml_text(body: bytes, name: str) -> str | None:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        return None
    for element in root.iter():
        if isinstance(element.tag, str) and etree.QName(element).localname == name:
            return str(element.text or "")
    return None


def respond(request: FlowRequest, options: Mapping[str, Any], backend: CostCenterService) -> FlowResponse:
    """Answer with the configured status, headers and body (inline `body` or `body_file`), `${...}` filled in."""
    flow = str(options.get(FLOW_NAME, request.address))
    allowed = list(options.get(ALLOWED_HEADERS, []))
    raw = options.get(BODY_BYTES)
    if raw is None:
        raw = str(options.get("body", "")).encode()
    try:
        text: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None  # a binary body_file is sent as it is
    body = _fill(text, request, flow, allowed).encode() if text is not None else raw
    content_type = _fill(str(options.get("content_type", "application/json")), request, flow, allowed)
    headers = {str(k): _fill(str(v), request, flow, allowed) for k, v in dict(options.get("headers", {})).items()}
    return FlowResponse(int(options.get("status", 200)), body, content_type, headers=headers)


def echo(request: FlowRequest, options: Mapping[str, Any], backend: CostCenterService) -> FlowResponse:
    """Answer with the request's body and content type (status from `status`, default 200)."""
    content_type = request.headers.get("Content-Type") or "application/octet-stream"
    return FlowResponse(int(options.get("status", 200)), request.body, content_type)


def delay(request: FlowRequest, options: Mapping[str, Any], backend: CostCenterService) -> FlowResponse:
    """Take `seconds` (real time, as a slow receiver would) before answering as `respond` does."""
    time.sleep(float(options.get("seconds", 1)))
    return respond(request, options, backend)


# ---------------------------------------------------------------- replay from the project's cassettes
_REPLAY_LOCK = threading.Lock()
_REPLAY_INDEX: dict[tuple[str, float], list[dict[str, Any]]] = {}


def _interactions(folder: Path) -> list[dict[str, Any]]:
    """Every recorded interaction under `folder` (cached until a file there changes)."""
    files = sorted(p for p in folder.rglob("*.yaml") if p.is_file())
    stamp = max((p.stat().st_mtime for p in files), default=0.0)
    key = (str(folder), stamp + len(files))
    with _REPLAY_LOCK:
        if key not in _REPLAY_INDEX:
            found: list[dict[str, Any]] = []
            for path in files:
                try:
                    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 (safe, bounded)
                except (OSError, yaml.YAMLError):
                    continue
                if isinstance(data, dict) and isinstance(data.get("interactions"), list):
                    found.extend(i for i in data["interactions"] if isinstance(i, dict))
            _REPLAY_INDEX.clear()
            _REPLAY_INDEX[key] = found
        return _REPLAY_INDEX[key]


def replay(request: FlowRequest, options: Mapping[str, Any], backend: CostCenterService) -> FlowResponse:
    """Answer as the project's recorded cassettes did for the same method, path and query."""
    folder = Path(str(options.get(CASSETTE_DIR, "cassettes")))
    path = (request.address.removesuffix("/*") + request.subpath).lower()
    query = sorted(request.query.items())
    for interaction in _interactions(folder):
        recorded = interaction.get("request") or {}
        uri = urlsplit(str(recorded.get("uri", "")).replace("{runtime}", "https://runtime"))
        if (
            str(recorded.get("method", "")).upper() == request.method
            and uri.path.lower() == path
            and sorted(parse_qsl(uri.query, keep_blank_values=True)) == query
        ):
            return _recorded_answer(interaction.get("response") or {}, request.base_url)
    raise FlowError(
        f"stub {options.get(FLOW_NAME, request.address)}: no recorded interaction in {folder.name}/ answers {request.method} {path}"
        + (f"?{'&'.join(f'{k}={v}' for k, v in query)}" if query else "")
        + ": record it with `iflowtest run --record` against the tenant"
    )


def _recorded_answer(response: Mapping[str, Any], base_url: str) -> FlowResponse:
    status = response.get("status") or {}
    headers = {
        str(k): str(v[0] if isinstance(v, list) and v else v) for k, v in dict(response.get("headers") or {}).items()
    }
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "application/octet-stream")
    body = (response.get("body") or {}).get("string") or ""
    text = body if isinstance(body, str) else bytes(body).decode("utf-8", "replace")
    kept = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length", "connection")}
    return FlowResponse(int(status.get("code", 200)), text.replace("{runtime}", base_url).encode(), content_type, kept)


_RESPOND_OPTIONS: Final[dict[str, type | tuple[type, ...]]] = {
    "status": int,
    "headers": dict,
    "content_type": str,
    "body": str,
    "body_file": str,
}
STUB_BEHAVIOURS: Final[Mapping[str, BehaviourSpec]] = {
    "respond": BehaviourSpec(respond, _RESPOND_OPTIONS),
    "echo": BehaviourSpec(echo, {"status": int}),
    "delay": BehaviourSpec(delay, {**_RESPOND_OPTIONS, "seconds": (int, float)}),
    "replay": BehaviourSpec(replay, {"cassettes": str}),
}
