"""The system query options of one OData V2 request ($filter, $orderby, $top, $skip, $select, $expand, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from iflowtest.emulator.odata_filter import (
    Expr,
    bad_request,
    not_a_member_path,
    parse_filter,
    unknown_member,
    unknown_property,
)
from iflowtest.emulator.odata_model import EntitySet, ServiceModel

_SYSTEM_OPTIONS = (
    "$filter",
    "$orderby",
    "$top",
    "$skip",
    "$skiptoken",
    "$select",
    "$expand",
    "$inlinecount",
    "$format",
)


@dataclass(frozen=True)
class QueryOptions:
    """The system query options of one request, checked against the entity set they address."""

    filter: Expr | None = None
    orderby: tuple[tuple[str, bool], ...] = ()  # (property or Complex/Member path, descending)
    top: int | None = None
    skip: int = 0
    select: frozenset[str] | None = None  # None: every property and navigation
    expand: tuple[str, ...] = ()
    inlinecount: bool = False

    @classmethod
    def parse(cls, query: Mapping[str, str], entity_set: EntitySet, model: ServiceModel | None = None) -> QueryOptions:
        """Validate ``query``; unknown ``$`` options, properties or bad numbers raise ODataError (400)."""
        for name in query:
            # Custom options (sap-client, sap-language) are the caller's business; unknown $ ones are not.
            if name.startswith("$") and name not in _SYSTEM_OPTIONS:
                raise bad_request("InvalidQueryOption", f"System query option '{name}' is not supported")
        members = {p.name for p in entity_set.properties} | {n.name for n in entity_set.navigations}
        select = None
        if "$select" in query:
            select = frozenset(_names(query["$select"], "$select", entity_set, members | {"*"}, model))
        orderby = []
        for item in _split(query.get("$orderby", "")):
            name, _, direction = item.partition(" ")
            if direction.strip() not in ("", "asc", "desc"):
                raise bad_request("InvalidQueryOption", f"Invalid $orderby direction {direction.strip()!r}")
            _orderby_path(name, entity_set, model)
            orderby.append((name, direction.strip() == "desc"))
        inlinecount = query.get("$inlinecount", "none")
        if inlinecount not in ("allpages", "none"):
            raise bad_request("InvalidQueryOption", f"$inlinecount must be allpages or none, not {inlinecount!r}")
        return cls(
            filter=parse_filter(query["$filter"], entity_set, model) if query.get("$filter", "").strip() else None,
            orderby=tuple(orderby),
            top=_count_option(query, "$top"),
            skip=(_count_option(query, "$skip") or 0) + (_count_option(query, "$skiptoken") or 0),
            select=select,
            expand=tuple(
                _names(query.get("$expand", ""), "$expand", entity_set, {n.name for n in entity_set.navigations}, model)
            ),
            inlinecount=inlinecount == "allpages",
        )

    def shows(self, member: str) -> bool:
        """Whether ``$select`` keeps the property or navigation ``member``."""
        return self.select is None or "*" in self.select or member in self.select or member in self.expand


def _split(text: str) -> list[str]:
    return [" ".join(item.split()) for item in text.split(",") if item.strip()]


def _names(text: str, option: str, entity_set: EntitySet, allowed: set[str], model: ServiceModel | None) -> list[str]:
    names = _split(text)
    for name in names:
        if name not in allowed:
            raise unknown_property(name, option, entity_set, allowed, model)
    return names


def _orderby_path(name: str, entity_set: EntitySet, model: ServiceModel | None) -> None:
    head, slash, member = name.partition("/")
    _names(head, "$orderby", entity_set, {p.name for p in entity_set.properties}, model)
    prop = entity_set.property(head)
    complex_type = model.complex_type(prop.edm_type) if model is not None and prop is not None else None
    if prop is None or complex_type is None:
        if slash:
            raise bad_request("InvalidQueryOption", f"Invalid $orderby: property '{head}' has no members ('{name}')")
        return
    if not slash:
        raise not_a_member_path(prop, "$orderby", complex_type)
    if complex_type.property(member) is None:
        raise unknown_member(member, "$orderby", prop, complex_type)


def _count_option(query: Mapping[str, str], name: str) -> int | None:
    if name not in query:
        return None
    text = query[name].strip()
    if not text.isascii() or not text.isdigit():
        raise bad_request(
            "InvalidQueryOption", f"Invalid value {query[name]!r} for {name}: expected a whole number ≥ 0"
        )
    return int(text)
