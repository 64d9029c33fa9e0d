"""YAML loaders that refuse alias bombs: anchors nested so that the document expands past a size.

PyYAML builds an alias as a shared reference, so loading a "billion laughs" document is quick; whatever
walks it afterwards (variable substitution, copies, JSON dumps) visits every expansion and never ends. The
loaders here count the expanded size of the composed document (each node once, with its expansion
remembered) before anything is constructed.
"""

from __future__ import annotations

from typing import Any, Final

import yaml

MAX_NODES: Final = 200_000


class _Bounded:
    """Checks the composed document's expanded size before it is constructed."""

    def get_single_node(self) -> Any:
        node = super().get_single_node()  # type: ignore[misc]
        if node is not None:
            check_expansion(node)
        return node


def bounded(loader: type[Any]) -> type[Any]:
    """`loader` (a PyYAML loader class) refusing documents that expand past MAX_NODES."""
    return type(f"Bounded{loader.__name__}", (_Bounded, loader), {})


def check_expansion(root: yaml.Node, limit: int = MAX_NODES) -> None:
    """Raise a ComposerError (a YAMLError, with the root's line) when `root` expands to more than `limit` nodes."""
    sizes: dict[int, int] = {}
    # A node that contains itself (`&a [*a]`) is left to the reader, which refuses it; here it counts once.
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if children_done or not children:
            open_nodes.discard(id(node))
            total = 1 + sum(sizes.get(id(child), 1) for child in children)
            sizes[id(node)] = total
            if total > limit:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"its anchors and aliases expand to more than {limit} values; expected a document of "
                    "ordinary size: use fewer nested aliases",
                    node.start_mark,
                )
            continue
        if id(node) in open_nodes:
            continue  # reached again through itself
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes and id(child) not in open_nodes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
