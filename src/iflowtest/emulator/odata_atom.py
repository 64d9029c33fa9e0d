"""Atom/XML output of the OData V2 engine: feeds, entries, the AtomPub service document, ``$metadata``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from iflowtest.emulator.odata_filter import format_key_predicate, xml_datetime
from iflowtest.emulator.odata_model import EntitySet, Navigation, Property, ServiceModel
from iflowtest.emulator.odata_query import QueryOptions

ATOM = "http://www.w3.org/2005/Atom"
APP = "http://www.w3.org/2007/app"
METADATA_NS = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
DATA_NS = "http://schemas.microsoft.com/ado/2007/08/dataservices"
SCHEME = "http://schemas.microsoft.com/ado/2007/08/dataservices/scheme"
RELATED = "http://schemas.microsoft.com/ado/2007/08/dataservices/related/"
EDMX_NS = "http://schemas.microsoft.com/ado/2007/06/edmx"
EDM_NS = "http://schemas.microsoft.com/ado/2008/09/edm"
SAP_NS = "http://www.sap.com/Protocols/SAPData"


class AtomWriter:
    """Writes the rows of ``model`` as Atom; ``related`` gives the rows a navigation leads to."""

    def __init__(
        self,
        model: ServiceModel,
        updated: str,
        related: Callable[[Navigation, Mapping[str, Any]], Sequence[Mapping[str, Any]]],
    ) -> None:
        self.model = model
        self.updated = updated
        self.related = related

    def feed(
        self,
        parent: Any,
        entity_set: EntitySet,
        rows: Sequence[Mapping[str, Any]],
        path: str,
        options: QueryOptions,
        root: str,
        count: int | None,
        next_link: str | None,
    ) -> Any:
        """An Atom ``<feed>`` of ``rows``, standalone or (``parent`` given) inline."""
        feed = _atom_element(parent, "feed", root)
        etree.SubElement(feed, f"{{{ATOM}}}id").text = f"{root}/{path}"
        etree.SubElement(feed, f"{{{ATOM}}}title", type="text").text = entity_set.name
        etree.SubElement(feed, f"{{{ATOM}}}updated").text = self.updated
        etree.SubElement(etree.SubElement(feed, f"{{{ATOM}}}author"), f"{{{ATOM}}}name")
        etree.SubElement(feed, f"{{{ATOM}}}link", href=path, rel="self", title=entity_set.name)
        if count is not None:
            etree.SubElement(feed, f"{{{METADATA_NS}}}count").text = str(count)
        for row in rows:
            self.entry(feed, entity_set, row, options, root)
        if next_link:
            etree.SubElement(feed, f"{{{ATOM}}}link", href=next_link, rel="next")
        return feed

    def entry(
        self, parent: Any, entity_set: EntitySet, row: Mapping[str, Any], options: QueryOptions, root: str
    ) -> Any:
        """An Atom ``<entry>`` for ``row``, standalone or (``parent`` given) inline."""
        uri = entity_set.name + format_key_predicate(entity_set, row)
        entry = _atom_element(parent, "entry", root)
        etree.SubElement(entry, f"{{{ATOM}}}id").text = f"{root}/{uri}"
        etree.SubElement(entry, f"{{{ATOM}}}title", type="text").text = uri
        etree.SubElement(entry, f"{{{ATOM}}}updated").text = self.updated
        etree.SubElement(
            entry,
            f"{{{ATOM}}}category",
            term=f"{self.model.namespace}.{entity_set.entity_type}",
            scheme=SCHEME,
        )
        etree.SubElement(entry, f"{{{ATOM}}}link", href=uri, rel="self", title=entity_set.entity_type)
        for nav in entity_set.navigations:
            target = self.model.entity_set(nav.target_set)
            if not options.shows(nav.name) or target is None:
                continue
            link = etree.SubElement(
                entry,
                f"{{{ATOM}}}link",
                href=f"{uri}/{nav.name}",
                rel=RELATED + nav.name,
                type="application/atom+xml;type=" + ("feed" if nav.many else "entry"),
                title=nav.name,
            )
            if nav.name in options.expand:
                inline = etree.SubElement(link, f"{{{METADATA_NS}}}inline")
                related = self.related(nav, row)
                # Expanded rows show every property and expand nothing, as QueryOptions() does.
                plain = type(options)()
                if nav.many:
                    nav_path = f"{uri}/{nav.name}"
                    self.feed(inline, target, related, nav_path, plain, root, None, None)
                elif related:
                    self.entry(inline, target, related[0], plain, root)
        content = etree.SubElement(entry, f"{{{ATOM}}}content", type="application/xml")
        properties = etree.SubElement(content, f"{{{METADATA_NS}}}properties")
        for prop in entity_set.properties:
            if not options.shows(prop.name):
                continue
            element = etree.SubElement(properties, f"{{{DATA_NS}}}{prop.name}")
            value = row.get(prop.name)
            complex_type = self.model.complex_type(prop.edm_type)
            if complex_type is not None:
                # <d:Artifact m:type="ns.Type"><d:Id>..</d:Id>...</d:Artifact>, members written like properties.
                element.set(f"{{{METADATA_NS}}}type", prop.edm_type)
                members = value or {}
                for member in complex_type.properties:
                    _property_element(element, member, members.get(member.name))
            elif value is None:
                element.set(f"{{{METADATA_NS}}}null", "true")
            else:
                element.text = xml_value(value, prop.edm_type)
        return entry


def _property_element(parent: Any, prop: Property, value: Any) -> None:
    element = etree.SubElement(parent, f"{{{DATA_NS}}}{prop.name}")
    if value is None:
        element.set(f"{{{METADATA_NS}}}null", "true")
    else:
        element.text = xml_value(value, prop.edm_type)


def service_document(names: Sequence[str], root: str) -> Any:
    """The AtomPub service document listing the entity sets ``names``."""
    service = etree.Element(f"{{{APP}}}service", nsmap={"app": APP, "atom": ATOM})
    service.set("{http://www.w3.org/XML/1998/namespace}base", f"{root}/")
    workspace = etree.SubElement(service, f"{{{APP}}}workspace")
    etree.SubElement(workspace, f"{{{ATOM}}}title", type="text").text = "Data"
    for name in names:
        collection = etree.SubElement(workspace, f"{{{APP}}}collection", href=name)
        etree.SubElement(collection, f"{{{ATOM}}}title", type="text").text = name
    return service


def metadata(model: ServiceModel) -> Any:
    """The EDMX ``$metadata`` document of ``model``, with the sap:* annotations Gateway writes."""
    ns = model.namespace
    edmx = etree.Element(f"{{{EDMX_NS}}}Edmx", Version="1.0", nsmap={"edmx": EDMX_NS, "m": METADATA_NS, "sap": SAP_NS})
    services = etree.SubElement(edmx, f"{{{EDMX_NS}}}DataServices")
    services.set(f"{{{METADATA_NS}}}DataServiceVersion", "2.0")
    schema = etree.SubElement(services, f"{{{EDM_NS}}}Schema", Namespace=ns, nsmap={None: EDM_NS})
    schema.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    schema.set(f"{{{SAP_NS}}}schema-version", "1")
    associations: list[tuple[str, EntitySet, Navigation, EntitySet]] = []
    for entity_set in model.entity_sets:
        entity_type = etree.SubElement(schema, f"{{{EDM_NS}}}EntityType", Name=entity_set.entity_type)
        if entity_set.has_stream:
            entity_type.set(f"{{{METADATA_NS}}}HasStream", "true")
        _sap(entity_type, (("label", entity_set.label), ("content-version", "1")))
        key = etree.SubElement(entity_type, f"{{{EDM_NS}}}Key")
        for name in entity_set.keys:
            etree.SubElement(key, f"{{{EDM_NS}}}PropertyRef", Name=name)
        for prop in entity_set.properties:
            _property_definition(entity_type, prop)
        for nav in entity_set.navigations:
            target = model.entity_set(nav.target_set)
            if target is None:
                continue
            # SAP names associations after a hash; an md5 of the path keeps that shape, stably.
            digest = hashlib.md5(f"{entity_set.entity_type}/{nav.name}".encode(), usedforsecurity=False)
            name = "assoc_" + digest.hexdigest().upper()
            associations.append((name, entity_set, nav, target))
            etree.SubElement(
                entity_type,
                f"{{{EDM_NS}}}NavigationProperty",
                Name=nav.name,
                Relationship=f"{ns}.{name}",
                FromRole=f"FromRole_{name}",
                ToRole=f"ToRole_{name}",
            )
    for complex_type in model.complex_types:
        element = etree.SubElement(schema, f"{{{EDM_NS}}}ComplexType", Name=complex_type.name)
        for prop in complex_type.properties:
            _property_definition(element, prop)
    for name, source, nav, target in associations:
        association = etree.SubElement(schema, f"{{{EDM_NS}}}Association", Name=name)
        _sap(association, (("content-version", "1"),))
        for end_set, multiplicity, role in (
            (source, "1", "FromRole"),
            (target, "*" if nav.many else "1", "ToRole"),
        ):
            etree.SubElement(
                association,
                f"{{{EDM_NS}}}End",
                Type=f"{ns}.{end_set.entity_type}",
                Multiplicity=multiplicity,
                Role=f"{role}_{name}",
            )
    container = etree.SubElement(schema, f"{{{EDM_NS}}}EntityContainer", Name=model.container or f"{ns}_Entities")
    container.set(f"{{{METADATA_NS}}}IsDefaultEntityContainer", "true")
    _sap(container, (("supported-formats", "atom json"),))
    read_only = (
        ("creatable", "false"),
        ("updatable", "false"),
        ("deletable", "false"),
        ("content-version", "1"),
    )
    for entity_set in model.entity_sets:
        element = etree.SubElement(
            container,
            f"{{{EDM_NS}}}EntitySet",
            Name=entity_set.name,
            EntityType=f"{ns}.{entity_set.entity_type}",
        )
        _sap(element, read_only)
    for name, source, _, target in associations:
        association_set = etree.SubElement(
            container, f"{{{EDM_NS}}}AssociationSet", Name=name, Association=f"{ns}.{name}"
        )
        _sap(association_set, read_only)
        etree.SubElement(association_set, f"{{{EDM_NS}}}End", EntitySet=source.name, Role=f"FromRole_{name}")
        etree.SubElement(association_set, f"{{{EDM_NS}}}End", EntitySet=target.name, Role=f"ToRole_{name}")
    return edmx


def _property_definition(parent: Any, prop: Property) -> None:
    element = etree.SubElement(parent, f"{{{EDM_NS}}}Property", Name=prop.name, Type=prop.edm_type)
    if not prop.nullable:
        element.set("Nullable", "false")
    if prop.max_length is not None:
        element.set("MaxLength", str(prop.max_length))
    if prop.precision is not None:
        element.set("Precision", str(prop.precision))
    _sap(element, prop.sap)


def _atom_element(parent: Any, tag: str, root: str) -> Any:
    if parent is not None:
        return etree.SubElement(parent, f"{{{ATOM}}}{tag}")
    element = etree.Element(f"{{{ATOM}}}{tag}", nsmap={None: ATOM, "m": METADATA_NS, "d": DATA_NS})
    element.set("{http://www.w3.org/XML/1998/namespace}base", f"{root}/")
    return element


def _sap(element: Any, annotations: Sequence[tuple[str, str]]) -> None:
    for name, value in annotations:
        if value:
            element.set(f"{{{SAP_NS}}}{name}", value)


def xml_value(value: Any, edm_type: str) -> str:
    """A non-null Python value as the text of an Atom property element."""
    if isinstance(value, datetime):
        return xml_datetime(value, edm_type)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def xml_bytes(element: Any) -> bytes:
    """``element`` serialised as UTF-8 with an XML declaration."""
    result: bytes = etree.tostring(element, xml_declaration=True, encoding="utf-8")
    return result
