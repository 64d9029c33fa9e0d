"""A small read-only OData V2 engine over in-memory rows.

An emulated service describes its entity sets (``ServiceModel``) and hands over its rows as plain
mappings of Python values (strings, aware UTC datetimes, ints, Decimals, booleans, None);
``ODataService`` answers GET/HEAD requests below the service root the way an SAP Gateway service
does: the service document, ``$metadata``, entity sets with ``$filter``/``$orderby``/``$top``/
``$skip``/``$select``/``$expand``/``$inlinecount``/``$format``, ``/$count``, single entities by key
and navigation. Mistakes of the caller come back as OData V2 error bodies, never as exceptions.

This module holds the model, the query pipeline, JSON rendering and the service; the ``$filter``
and key-predicate language (and ``ODataError``) live in ``odata_filter``, the Atom and EDMX
writing in ``odata_atom``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote, urlencode

from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from iflowtest.emulator.odata_atom import METADATA_NS, AtomWriter, metadata, service_document, xml_bytes
from iflowtest.emulator.odata_filter import (
    Expr,
    ODataError,
    bad_request,
    evaluate,
    format_key_predicate,
    member_value,
    parse_filter,
    parse_key_predicate,
    unknown_property,
    xml_datetime,
)
from iflowtest.emulator.odata_model import ComplexType, EntitySet, Navigation, Property, ServiceModel
from iflowtest.emulator.odata_query import QueryOptions

__all__ = [
    "ComplexType",
    "EntitySet",
    "Expr",
    "Navigation",
    "ODataError",
    "ODataService",
    "Property",
    "QueryOptions",
    "ServiceModel",
    "ServiceResponse",
    "bad_request",
    "evaluate",
    "format_key_predicate",
    "json_value",
    "negotiate_format",
    "parse_filter",
    "parse_key_predicate",
    "unknown_property",
]

NEXT_LINK_FORMS: Final = ("absolute", "relative", "bare")
JSON_TYPE = "application/json;charset=utf-8"
XML_TYPE = "application/xml;charset=utf-8"
FEED_TYPE = "application/atom+xml;type=feed;charset=utf-8"
ENTRY_TYPE = "application/atom+xml;type=entry;charset=utf-8"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ServiceResponse:
    """One HTTP answer of an emulated service."""

    status: int
    headers: dict[str, str]
    body: bytes


_PATH_SAFE = "/()',=$"
_PATH = re.compile(r"(?P<set>[A-Za-z_]\w*)(?:\((?P<keys>(?:[^'()]|'(?:[^']|'')*')*)\))?(?:/(?P<rest>.+))?")


def _sort_key(name: str) -> Callable[[Mapping[str, Any]], tuple[bool, Any]]:
    path = tuple(name.split("/"))  # a property, or a complex property's member: IntegrationArtifact/Name

    def key(row: Mapping[str, Any]) -> tuple[bool, Any]:
        value = member_value(row, path)
        return (value is None, 0 if value is None else value)  # nulls last, never compared to values

    return key


def negotiate_format(query: Mapping[str, str], accept: str | None) -> str:
    """``json`` or ``xml``: ``$format`` wins, then Accept.

    Without either, answer JSON: a real S/4 Gateway defaults to Atom, but every CPI flow this harness
    drives asks for JSON, and a JSON default keeps a forgotten header from turning into an XML puzzle.
    """
    if "$format" in query:
        wanted = query["$format"].strip().lower()
        if wanted in ("json", "application/json"):
            return "json"
        if wanted in ("xml", "atom", "application/xml", "application/atom+xml"):
            return "xml"
        raise bad_request("InvalidFormat", f"Unsupported $format {query['$format']!r}: use json or xml")
    accept = (accept or "").lower()
    if "json" in accept:
        return "json"
    return "xml" if "xml" in accept else "json"


# ---------------------------------------------------------------- JSON values
_JSON_CACHE_SIZE: Final = 100_000
_ANSWER_CACHE_SIZE: Final = 1_000


def json_value(value: Any, edm_type: str) -> Any:
    """A Python value as OData V2 verbose JSON writes it (dates as /Date(ms)/, Int64/Decimal as text)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        millis = (value - _EPOCH) // timedelta(milliseconds=1)
        return f"/Date({millis}+0000)/" if edm_type == "Edm.DateTimeOffset" else f"/Date({millis})/"
    if edm_type in ("Edm.Int64", "Edm.Decimal"):
        return str(value)
    if edm_type in ("Edm.Byte", "Edm.Int16", "Edm.Int32"):
        return int(value)
    if edm_type == "Edm.Double":
        return float(value)
    return value if isinstance(value, str | bool) else str(value)


# ---------------------------------------------------------------- the service
class ODataService:
    """Answers read requests for ``model`` over ``rows`` (entity-set name → rows in key order)."""

    def __init__(
        self,
        model: ServiceModel,
        rows: Mapping[str, Sequence[Mapping[str, Any]]],
        *,
        page_size: int | None = None,
        next_links: str = "absolute",
        updated: datetime = datetime(2024, 1, 1, tzinfo=UTC),
    ) -> None:
        if next_links not in NEXT_LINK_FORMS:
            raise ValueError(f"next_links must be one of {', '.join(NEXT_LINK_FORMS)}, got {next_links!r}")
        self.model = model
        # SAP's docs show `__next` relative and without the query options; gateways also send it absolute.
        self.next_links = next_links
        # Server-side paging: above page_size rows without $top, answer one page and a __next link.
        self.page_size = page_size
        # Atom needs an <updated>; a fixed one keeps answers byte-identical between runs.
        self.updated = xml_datetime(updated, "Edm.DateTimeOffset")
        self._rows = {s.name: tuple(rows.get(s.name, ())) for s in model.entity_sets}
        self._by_key = {
            s.name: {tuple(row.get(k) for k in s.keys): row for row in self._rows[s.name]} for s in model.entity_sets
        }
        self._joins: dict[tuple[str, tuple[str, ...]], dict[tuple[Any, ...], list[Mapping[str, Any]]]] = {}
        self._atom = AtomWriter(model, self.updated, self.related)
        # Rows never change, so an entity's JSON form depends only on the row, $select, $expand and the
        # service root: kept per combination, it turns a 48-row page from ~3.5 ms of rendering into lookups.
        self._json_cache: dict[tuple[str, int, frozenset[str] | None, tuple[str, ...], str], dict[str, Any]] = {}
        # Whole answers too, for the same reason: a suite (or a benchmark) asks the same query many times.
        self._answers: dict[tuple[str, tuple[tuple[str, str], ...], str, str], ServiceResponse] = {}

    def rows(self, entity_set: str) -> Sequence[Mapping[str, Any]]:
        """All rows of one entity set."""
        return self._rows[entity_set]

    def find(self, entity_set: str, key: Sequence[Any]) -> Mapping[str, Any] | None:
        """The row with ``key`` (values in key order), or None."""
        return self._by_key[entity_set].get(tuple(key))

    def handle(
        self, method: str, subpath: str, query: Mapping[str, str], *, accept: str | None, service_root: str
    ) -> ServiceResponse:
        """Answer one request; ``subpath`` is relative to ``service_root`` and already URL-decoded."""
        try:
            fmt = negotiate_format(query, accept)
        except ODataError as error:
            return self.error_response(error, "json")
        try:
            if method.upper() not in ("GET", "HEAD"):
                target = _PATH.match(subpath.strip("/"))
                what = f"entity set '{target.group('set')}'" if target else "this service"
                raise ODataError(
                    405,
                    "MethodNotAllowed",
                    f"{method.upper()} is not allowed: {what} is read-only "
                    "(sap:creatable, sap:updatable and sap:deletable are false); use GET",
                )
            response = self._answer(subpath.strip("/"), query, fmt, service_root.rstrip("/"))
        except ODataError as error:
            response = self.error_response(error, fmt)
        if method.upper() == "HEAD":
            return ServiceResponse(response.status, response.headers, b"")
        return response

    def _answer(self, path: str, query: Mapping[str, str], fmt: str, root: str) -> ServiceResponse:
        key = (path, tuple(sorted(query.items())), fmt, root)
        cached = self._answers.get(key)
        if cached is None:
            cached = self._route(path, query, fmt, root)  # errors raise: only successful answers are kept
            if len(self._answers) >= _ANSWER_CACHE_SIZE:
                self._answers.clear()
            self._answers[key] = cached
        return ServiceResponse(cached.status, dict(cached.headers), cached.body)

    def error_response(self, error: ODataError, fmt: str) -> ServiceResponse:
        """The OData V2 error body for ``error``, as JSON or XML."""
        headers = {"dataserviceversion": "1.0"}
        if error.status == 405:
            headers["Allow"] = "GET, HEAD"
        if fmt == "xml":
            root = etree.Element(f"{{{METADATA_NS}}}error", nsmap={None: METADATA_NS})
            etree.SubElement(root, f"{{{METADATA_NS}}}code").text = error.code
            message = etree.SubElement(root, f"{{{METADATA_NS}}}message")
            message.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
            message.text = error.message
            return ServiceResponse(error.status, {"Content-Type": XML_TYPE, **headers}, xml_bytes(root))
        body = {"error": {"code": error.code, "message": {"lang": "en", "value": error.message}}}
        return ServiceResponse(error.status, {"Content-Type": JSON_TYPE, **headers}, _json_bytes(body))

    def _route(self, path: str, query: Mapping[str, str], fmt: str, root: str) -> ServiceResponse:
        if path == "":
            return self._service_document(fmt, root)
        if path == "$metadata":
            return _ok("application/xml;charset=utf-8", xml_bytes(metadata(self.model)))
        match = _PATH.fullmatch(path)
        entity_set = self.model.entity_set(match.group("set")) if match else None
        if match is None or entity_set is None:
            raise ODataError(404, "ResourceNotFound", f"Resource not found for segment '{path.split('(')[0]}'")
        rest = match.group("rest") or ""
        if match.group("keys") is None:
            if rest in ("", "$count"):
                return self._collection(entity_set, self._rows[entity_set.name], path, query, fmt, root, rest)
            raise ODataError(404, "ResourceNotFound", f"Resource not found for segment '{rest}'")
        key = parse_key_predicate(match.group("keys"), entity_set)
        row = self.find(entity_set.name, key)
        if row is None:
            segment = f"{entity_set.name}({match.group('keys')})"
            raise ODataError(404, "ResourceNotFound", f"Resource not found for segment '{segment}'")
        if rest == "":
            return self._single(entity_set, row, query, fmt, root)
        nav_name, _, tail = rest.partition("/")
        nav = entity_set.navigation(nav_name)
        target = self.model.entity_set(nav.target_set) if nav else None
        if nav is None or target is None:
            raise ODataError(
                404,
                "ResourceNotFound",
                f"Resource segment '{nav_name}' not found in '{entity_set.entity_type}'",
            )
        related = self.related(nav, row)
        if nav.many and tail in ("", "$count"):
            return self._collection(target, related, path, query, fmt, root, tail)
        if nav.many or tail or not related:
            raise ODataError(404, "ResourceNotFound", f"Resource not found for segment '{rest}'")
        return self._single(target, related[0], query, fmt, root)

    def related(self, nav: Navigation, row: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The rows ``nav`` leads to from ``row``."""
        target_fields = tuple(target for _, target in nav.join)
        index = self._joins.get((nav.target_set, target_fields))
        if index is None:
            index = {}
            for candidate in self._rows[nav.target_set]:
                index.setdefault(tuple(candidate.get(f) for f in target_fields), []).append(candidate)
            self._joins[(nav.target_set, target_fields)] = index
        return index.get(tuple(row.get(source) for source, _ in nav.join), [])

    def _collection(
        self,
        entity_set: EntitySet,
        rows: Sequence[Mapping[str, Any]],
        path: str,
        query: Mapping[str, str],
        fmt: str,
        root: str,
        tail: str,
    ) -> ServiceResponse:
        options = QueryOptions.parse(query, entity_set, self.model)
        matched = [row for row in rows if options.filter is None or evaluate(options.filter, row) is True]
        for name, descending in reversed(options.orderby):  # stable sorts, last key first
            matched.sort(key=_sort_key(name), reverse=descending)
        page = matched[options.skip :]
        if options.top is not None:
            page = page[: options.top]
        if tail == "$count":
            return _ok("text/plain;charset=utf-8", str(len(page)).encode())
        next_link = None
        if options.top is None and self.page_size is not None and len(page) > self.page_size:
            page = page[: self.page_size]
            kept = {k: v for k, v in query.items() if k not in ("$skip", "$skiptoken")}
            if self.next_links == "bare":
                kept = {}
            next_query = urlencode({**kept, "$skiptoken": options.skip + self.page_size})
            next_link = f"{quote(path, safe=_PATH_SAFE)}?{next_query}"
            if self.next_links == "absolute":
                next_link = f"{root}/{next_link}"
        count = len(matched) if options.inlinecount else None
        if fmt == "xml":
            feed = self._atom.feed(None, entity_set, page, path, options, root, count, next_link)
            return _ok(FEED_TYPE, xml_bytes(feed))
        body: dict[str, Any] = {} if count is None else {"__count": str(count)}
        body["results"] = [self._json_entity(entity_set, row, options, root) for row in page]
        if next_link:
            body["__next"] = next_link
        return _ok(JSON_TYPE, _json_bytes({"d": body}))

    def _single(
        self, entity_set: EntitySet, row: Mapping[str, Any], query: Mapping[str, str], fmt: str, root: str
    ) -> ServiceResponse:
        # Collection options ($filter, $top, ...) mean nothing for one entity: SAP Gateway ignores them too.
        kept = {k: v for k, v in query.items() if k in ("$select", "$expand", "$format")}
        options = QueryOptions.parse(kept, entity_set, self.model)
        if fmt == "xml":
            return _ok(ENTRY_TYPE, xml_bytes(self._atom.entry(None, entity_set, row, options, root)))
        return _ok(JSON_TYPE, _json_bytes({"d": self._json_entity(entity_set, row, options, root)}))

    def _uri(self, entity_set: EntitySet, row: Mapping[str, Any]) -> str:
        return entity_set.name + format_key_predicate(entity_set, row)

    def _json_entity(
        self, entity_set: EntitySet, row: Mapping[str, Any], options: QueryOptions, root: str
    ) -> dict[str, Any]:
        """The entity in verbose JSON; the dict is shared between answers, so callers only serialise it."""
        key = (entity_set.name, id(row), options.select, options.expand, root)  # rows live as long as self
        entity = self._json_cache.get(key)
        if entity is None:
            if len(self._json_cache) >= _JSON_CACHE_SIZE:
                self._json_cache.clear()  # many service roots or $select forms: start over, stay bounded
            entity = self._json_cache[key] = self._render_json_entity(entity_set, row, options, root)
        return entity

    def _render_json_entity(
        self, entity_set: EntitySet, row: Mapping[str, Any], options: QueryOptions, root: str
    ) -> dict[str, Any]:
        uri = f"{root}/{self._uri(entity_set, row)}"
        entity: dict[str, Any] = {
            "__metadata": {"id": uri, "uri": uri, "type": f"{self.model.namespace}.{entity_set.entity_type}"}
        }
        for prop in entity_set.properties:
            if options.shows(prop.name):
                complex_type = self.model.complex_type(prop.edm_type)
                value = row.get(prop.name)
                if complex_type is None:
                    entity[prop.name] = json_value(value, prop.edm_type)
                else:
                    entity[prop.name] = self._json_complex(complex_type, value)
        for nav in entity_set.navigations:
            target = self.model.entity_set(nav.target_set)
            if nav.name in options.expand and target is not None:
                inner = [self._json_entity(target, r, QueryOptions(), root) for r in self.related(nav, row)]
                entity[nav.name] = {"results": inner} if nav.many else (inner[0] if inner else None)
            elif options.shows(nav.name):
                entity[nav.name] = {"__deferred": {"uri": f"{uri}/{nav.name}"}}
        return entity

    def _json_complex(self, complex_type: ComplexType, value: Mapping[str, Any] | None) -> dict[str, Any]:
        """A complex value as V2 verbose JSON writes it: a nested object typed by its own ``__metadata``."""
        members = value or {}
        nested: dict[str, Any] = {"__metadata": {"type": f"{self.model.namespace}.{complex_type.name}"}}
        for member in complex_type.properties:
            nested[member.name] = json_value(members.get(member.name), member.edm_type)
        return nested

    def _service_document(self, fmt: str, root: str) -> ServiceResponse:
        names = [s.name for s in self.model.entity_sets]
        if fmt == "json":
            return _ok(JSON_TYPE, _json_bytes({"d": {"EntitySets": names}}))
        return _ok("application/atomsvc+xml;charset=utf-8", xml_bytes(service_document(names, root)))


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _ok(content_type: str, body: bytes) -> ServiceResponse:
    return ServiceResponse(200, {"Content-Type": content_type, "dataserviceversion": "2.0"}, body)
