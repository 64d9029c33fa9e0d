"""The schema of an emulated OData V2 service: entity sets, their properties and navigations, complex types."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Property:
    """One structural property; ``sap`` holds the ``sap:*`` annotations written into $metadata."""

    name: str
    edm_type: str = "Edm.String"
    max_length: int | None = None
    nullable: bool = True
    precision: int | None = None
    sap: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ComplexType:
    """A complex type: a named group of properties that an entity holds as one structured value.

    A property whose ``edm_type`` is ``<namespace>.<name>`` holds it; its row value is a mapping of the
    members' values (or None, rendered with every member null).
    """

    name: str
    properties: tuple[Property, ...]

    def property(self, name: str) -> Property | None:
        """The member called ``name``, or None."""
        return next((p for p in self.properties if p.name == name), None)


@dataclass(frozen=True)
class Navigation:
    """A navigation property: target rows are those whose ``join`` target fields equal ours."""

    name: str
    target_set: str
    join: tuple[tuple[str, str], ...]
    many: bool = True


@dataclass(frozen=True)
class EntitySet:
    """An entity set, its entity type and its key."""

    name: str
    entity_type: str
    keys: tuple[str, ...]
    properties: tuple[Property, ...]
    navigations: tuple[Navigation, ...] = ()
    label: str = ""
    # A media entity: its `$value` is a document (an attachment, an error text), declared m:HasStream.
    has_stream: bool = False

    def property(self, name: str) -> Property | None:
        """The property called ``name``, or None."""
        return next((p for p in self.properties if p.name == name), None)

    def navigation(self, name: str) -> Navigation | None:
        """The navigation property called ``name``, or None."""
        return next((n for n in self.navigations if n.name == name), None)


@dataclass(frozen=True)
class ServiceModel:
    """The schema of one service: namespace, container, entity sets and complex types."""

    namespace: str
    entity_sets: tuple[EntitySet, ...]
    container: str = ""
    complex_types: tuple[ComplexType, ...] = ()

    def entity_set(self, name: str) -> EntitySet | None:
        """The entity set called ``name``, or None."""
        return next((s for s in self.entity_sets if s.name == name), None)

    def complex_type(self, edm_type: str) -> ComplexType | None:
        """The complex type a property of type ``edm_type`` (``<namespace>.<name>``) holds, or None."""
        return next((c for c in self.complex_types if f"{self.namespace}.{c.name}" == edm_type), None)
