"""Sequences: YAML cases of several files that run as one, in a fixed order, sharing the values they save.

An imported Postman collection is one sequence (`sequence:` in each of its files, `order:` on each case):
Newman runs its requests one after another in collection order, and a value one request saves
(`pm.collectionVariables.set`) is seen by every later one, whatever its folder. Here that means: the
collected items of a sequence are put in `order` (iteration by iteration when a data table repeats them)
at the place of its first item, and with `pytest -n` every file of a sequence goes to one worker
(`SequenceScheduling`, used with `--dist loadfile`, which `iflowtest run -n` passes when a suite declares a
sequence or an iFlow is `in_order`). The saved values live in the process, one store per sequence.

A sequence whose files declare `iterations: independent` (what the import writes when nothing saves a value
and a data file repeats the requests) is split further: each iteration, one data row of every case in
`order`, is a work unit of its own, so `-n 8` runs eight iterations at once. The format refuses `save:` in
such a sequence, and every case of it reads the same table with the same ids, so a row's id names its
iteration in every node id. Cases of the sequence without a table stay one more unit, in their order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import pytest
from xdist.scheduler import LoadFileScheduling

from iflowtest.cases.collector import YamlCaseItem
from iflowtest.cases.format import SUFFIX, load_suite
from iflowtest.errors import IflowtestError

# A sequence is declared at the top level of a suite file: `sequence: NAME` at the start of a line.
_DECLARED: Final = re.compile(r"^sequence:\s*['\"]?([^'\"#\n]+?)['\"]?\s*(?:#.*)?$", re.MULTILINE)
_INDEPENDENT: Final = re.compile(r"^iterations:\s*['\"]?independent['\"]?\s*(?:#.*)?$", re.MULTILINE)
_SKIPPED_FOLDERS: Final = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", "reports"})


def order_sequences(items: list[pytest.Item]) -> None:
    """Put each sequence's items in its order, where its first item was; other items keep their places."""
    groups: dict[str, list[YamlCaseItem]] = {}
    for item in items:
        if isinstance(item, YamlCaseItem) and item.case.sequence is not None:
            groups.setdefault(item.case.sequence, []).append(item)
    if not groups:
        return
    ordered = {name: iter(sorted(group, key=lambda i: (i.row_index, i.case.order))) for name, group in groups.items()}
    result: list[pytest.Item] = []
    for item in items:
        if isinstance(item, YamlCaseItem) and item.case.sequence is not None:
            result.append(next(ordered[item.case.sequence]))
        else:
            result.append(item)
    items[:] = result


@lru_cache(maxsize=4096)
def _head(path: Path) -> tuple[str | None, bool]:
    """The sequence a suite file declares and whether its iterations are independent, read without parsing the
    whole file (the controller of an xdist run asks for every node id); (None, False) when none or unreadable."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None, False
    match = _DECLARED.search(text)
    return (match.group(1).strip() if match else None), _INDEPENDENT.search(text) is not None


def declared_sequence(path: Path) -> str | None:
    """The sequence a suite file declares; None when none or unreadable."""
    return _head(path)[0]


@lru_cache(maxsize=1024)
def _tabled_cases(path: Path) -> tuple[str, ...]:
    """Names of the file's cases that read a table, longest first; () when it does not load (collection says why)."""
    try:
        suite = load_suite(path)
    except IflowtestError:
        return ()
    return tuple(sorted((c.name for c in suite.cases if c.table is not None), key=len, reverse=True))


def work_unit(root: Path, nodeid: str) -> str:
    """What one xdist worker runs whole: a sequence, an iteration of an independent one, or a file."""
    file, _, name = nodeid.partition("::")
    sequence, independent = _head(root / file) if file.endswith(SUFFIX) else (None, False)
    if sequence is None:
        return file
    if independent:
        # A collected name is `case[row id]`; a row has the same id in every case (one table, one choice of ids).
        for case in _tabled_cases(root / file):
            if name.startswith(f"{case}[") and name.endswith("]"):
                return f"sequence {sequence} iteration [{name[len(case) + 1 : -1]}]"
    return f"sequence {sequence}"


def sequence_unit(item: pytest.Item) -> str | None:
    """The sequence (or independent iteration) a collected item belongs to; None for an item of no sequence."""
    if not isinstance(item, YamlCaseItem) or item.case.sequence is None:
        return None
    if item.suite.independent and item.row is not None:
        return f"sequence {item.case.sequence} iteration {item.row_index}"
    return f"sequence {item.case.sequence}"


def suite_files(root: Path) -> Iterator[Path]:
    """Every `*.iflow.yaml` below `root`, skipping virtual environments, caches and reports."""
    for path in root.iterdir() if root.is_dir() else ():
        if path.is_dir() and not path.is_symlink():
            if path.name not in _SKIPPED_FOLDERS and not path.name.startswith("."):
                yield from suite_files(path)
        elif path.name.endswith(SUFFIX):
            yield path


def has_sequences(root: Path) -> bool:
    """Whether any suite below `root` (or `root`, a suite file) declares a sequence (then `-n` needs loadfile)."""
    if root.name.endswith(SUFFIX):
        return declared_sequence(root) is not None
    return any(declared_sequence(path) is not None for path in suite_files(root))


class SequenceScheduling(LoadFileScheduling):  # type: ignore[misc]  # xdist ships no type information
    """xdist's loadfile scheduling, with every file of a sequence in one work unit (so on one worker, in order),
    or each iteration of an independent sequence."""

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        self.root = Path(config.rootpath)

    def _split_scope(self, nodeid: str) -> str:
        return work_unit(self.root, nodeid)
