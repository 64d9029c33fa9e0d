"""The package's shape, as ARCHITECTURE.md draws it: no import circles, the emulator behind its wall.

The import graph is read from the source with `ast`, every import counted wherever it stands (module top,
inside a function, under `if TYPE_CHECKING`): a lazy import is still a dependency, and a circle hidden in a
function is still a circle.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "iflowtest"
# The harness reaches the emulator only here (`iflow_emulator` fixture, `TargetSession`, `iflowtest emulator`).
GATE = "iflowtest.target"
# What the emulator may import from the harness: the error base and the file primitives, nothing else.
EMULATOR_MAY_IMPORT = {"iflowtest.errors", "iflowtest.files", "iflowtest.bounds", "iflowtest.bounds.yamlsize"}
ENTRY_POINTS = {"iflowtest.plugin", "iflowtest.cli"}
# Which concept may import which: a sub-package may import those listed (and the top-level shared base,
# `errors`, `redaction`, `files`, `settings`, `stash`, `tables`), never the others. ARCHITECTURE.md says why.
SHARED_BASE = {"errors", "redaction", "files", "settings", "stash", "tables"}
# Sub-packages that belong to the shared base: any module may import them; they import only `errors`.
SHARED_PACKAGES = {"bounds"}
MAY_IMPORT: dict[str, set[str]] = {
    "credentials": {"pacing"},
    "calls": {"credentials", "pacing"},
    "provisioning": {"credentials", "calls"},
    "checks": {"calls"},
    "cases": {"calls", "checks", "cassettes", "reporting", "soap"},
    "cassettes": {"credentials"},
    "reporting": {"calls", "pacing"},
    "postman": set(),
    "soap": {"calls", "checks"},
    "emulator": set(),
    "pacing": set(),
    "project": {"credentials", "calls"},
    "bounds": set(),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path) -> Iterator[str]:
    """Every iflowtest module that `path` imports (a name imported from a package counts when it is a module)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.split(".")[0] == "iflowtest")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            if source.split(".")[0] != "iflowtest":
                continue
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                yield candidate if is_module(candidate) else source


def import_graph() -> dict[str, set[str]]:
    graph = {module_name(path): set() for path in PACKAGE.rglob("*.py")}
    for path in PACKAGE.rglob("*.py"):
        graph[module_name(path)] = {target for target in imports_of(path) if target != module_name(path)}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in graph:
                    continue
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def concept(module: str) -> str | None:
    """The sub-package a module belongs to, or None for the top level."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else None


GRAPH = import_graph()


def test_the_graph_is_read() -> None:
    assert "iflowtest.calls.client" in GRAPH["iflowtest.plugin"] or any(
        m.startswith("iflowtest.calls") for m in GRAPH["iflowtest.plugin"]
    )
    assert "iflowtest.emulator" in GRAPH[GATE]


def test_the_cycle_finder_finds_circles() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles() -> None:
    assert circles(GRAPH) == []


def test_the_emulator_imports_only_the_error_base_and_file_primitives() -> None:
    leaks = {
        (module, target)
        for module, targets in GRAPH.items()
        if concept(module) == "emulator"
        for target in targets
        if concept(target) != "emulator" and target not in EMULATOR_MAY_IMPORT
    }
    assert leaks == set()


def test_the_harness_reaches_the_emulator_only_through_the_target_module() -> None:
    leaks = {
        (module, target)
        for module, targets in GRAPH.items()
        if concept(module) != "emulator" and module != GATE
        for target in targets
        if concept(target) == "emulator"
    }
    assert leaks == set()


def test_nothing_imports_the_entry_points() -> None:
    importers = {(m, t) for m, targets in GRAPH.items() for t in targets if t in ENTRY_POINTS and m != "iflowtest.cli"}
    assert importers == set()


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_sub_packages_import_only_what_the_map_allows(package: str) -> None:
    allowed = MAY_IMPORT[package] | {package}
    leaks = {
        (module, target)
        for module, targets in GRAPH.items()
        if concept(module) == package
        for target in targets
        if (concept(target) or "") not in allowed
        and not (concept(target) is None and target.removeprefix("iflowtest.") in SHARED_BASE)
        and concept(target) not in SHARED_PACKAGES
        and not (package == "emulator" and target in EMULATOR_MAY_IMPORT)
    }
    assert leaks == set()


def test_every_sub_package_says_what_it_owns_and_imports_nothing() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        docstring = ast.get_docstring(tree)
        assert docstring and "may import" in docstring, f"{init.parent.name}/__init__.py needs its docstring"
        if init.parent.name != "emulator":  # the emulator's one public name is its Emulator
            assert not any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body), init


def test_the_top_level_holds_only_entry_points_and_the_shared_base() -> None:
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(top) <= 10, top


def test_the_shared_base_imports_no_sub_package() -> None:
    base = {f"iflowtest.{name}" for name in SHARED_BASE - {"stash"}}  # stash imports the types its keys hold
    leaks = {
        (module, target)
        for module in base
        for target in GRAPH[module]
        if concept(target) is not None and concept(target) not in SHARED_PACKAGES
    }
    assert leaks == set()


def test_the_shared_packages_import_only_the_error_base() -> None:
    leaks = {
        (module, target)
        for module, targets in GRAPH.items()
        if concept(module) in SHARED_PACKAGES
        for target in targets
        if concept(target) != concept(module) and target != "iflowtest.errors"
    }
    assert leaks == set()


def test_architecture_md_draws_the_map_this_test_enforces() -> None:
    text = (PACKAGE.parents[1] / "ARCHITECTURE.md").read_text(encoding="utf-8")
    drawn: dict[str, set[str]] = {}
    for folder, allowed in re.findall(r"^\| `(\w+)/` \|[^|]*\| ([^|]*) \|$", text, flags=re.M):
        drawn[folder] = set(re.findall(r"`(\w+)`", allowed)) - {"errors", "files"}
    assert drawn == MAY_IMPORT
    assert sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py")) == sorted(MAY_IMPORT)
