"""YAML alias bombs are refused at composition, with the line; ordinary anchors still work."""

from __future__ import annotations

import time

import pytest
import yaml

from iflowtest.bounds.yamlsize import bounded

LOADER = bounded(yaml.SafeLoader)


def bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_nested_aliases_are_refused_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(yaml.YAMLError, match="anchors and aliases expand to more than"):
        yaml.load(bomb(9), Loader=LOADER)  # noqa: S506 (a safe loader)
    assert time.monotonic() - started < 2


def test_ordinary_anchors_load() -> None:
    text = "defaults: &d {Accept: application/json}\ncases:\n  - headers: *d\n  - headers: {<<: *d, X: y}\n"
    data = yaml.load(text, Loader=LOADER)  # noqa: S506 (a safe loader)
    assert data["cases"][1]["headers"] == {"Accept": "application/json", "X": "y"}
