"""Sequences: YAML cases of several files that run as one, in a fixed order, sharing the values they save.

An imported Postman collection is one sequence (`sequence:` in each of its files, `order:` on each case):
Newman runs its requests one after another in collection order, and a value one request saves
(`pm.collectionVariables.set`) is seen by every later one, whatever its folder. Here that means: the
collected items of a sequence are put in `order` (iteration by iteration when a data table repeats them)
at the place of its first item, and with `pytest -n` every file of a sequence goes to one worker
(`SequenceScheduling`, used with `--dist loadfile`, which `iflowtest run -n` passes when a suite declares a
sequence or an iFlow is `in_order`). The saved values live in the process, one store per sequence.
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
from iflowtest.cases.format import SUFFIX

# A sequence is declared at the top level of a suite file: `sequence: NAME` at the start of a line.
_DECLARED: Final = re.compile(r"^sequence:\s*['\"]?([^'\"#\n]+?)['\"]?\s*(?:#.*)?$", re.MULTILINE)
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
def declared_sequence(path: Path) -> str | None:
    """The sequence a suite file declares, read without parsing the whole file; None when none or unreadable."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = _DECLARED.search(text)
    return match.group(1).strip() if match else None


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
    """xdist's loadfile scheduling, with every file of a sequence in one work unit (so on one worker, in order)."""

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        self.root = Path(config.rootpath)

    def _split_scope(self, nodeid: str) -> str:
        file = nodeid.split("::", 1)[0]
        sequence = declared_sequence(self.root / file) if file.endswith(SUFFIX) else None
        return f"sequence {sequence}" if sequence is not None else file
