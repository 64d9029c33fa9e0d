"""Data tables for parameterised cases: CSV or JSON files under fixtures/, values kept as strings.

Newman users are bitten by guessed types ("0010" becoming 10); a cell here stays the text it is.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from .errors import ConfigError
from .settings import find_project_root


def load_table(path: str | Path) -> list[dict[str, str]]:
    """Rows of a CSV (header line first) or JSON (list of objects) table; every value a string."""
    source = Path(path)
    if not source.is_absolute() and not source.exists():
        # Suites name tables relative to the project, whatever folder pytest was started from.
        source = find_project_root(Path.cwd()) / source
    try:
        text = source.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"data table {source} cannot be read ({exc.strerror}): check the path") from None
    if source.suffix.lower() == ".json":
        rows = _json_rows(text, source)
    elif source.suffix.lower() == ".csv":
        rows = _csv_rows(text, source)
    else:
        raise ConfigError(f"data table {source} must be .csv or .json")
    if not rows:
        raise ConfigError(f"data table {source} has no rows: a parameterised case needs at least one")
    return rows


def table_params(path: str | Path, *, id_columns: tuple[str, ...] | None = None) -> list[Any]:
    """`pytest.param(row, id=...)` per row, ids made of `id_columns` (default: every column)."""
    rows = load_table(path)
    columns = id_columns or tuple(rows[0])
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        raise ConfigError(f"data table {path} has no column {missing[0]!r}; its columns are {', '.join(rows[0])}")
    return [pytest.param(row, id="-".join(row[c] for c in columns)) for row in rows]


def _csv_rows(text: str, source: Path) -> list[dict[str, str]]:
    reader = csv.DictReader(text.splitlines())
    rows = []
    for number, row in enumerate(reader, start=2):
        if None in row or any(v is None for v in row.values()):
            raise ConfigError(
                f"data table {source} line {number} has {len(row) - (None in row)} cells where the header has "
                f"{len(reader.fieldnames or [])}: fix the row"
            )
        rows.append({k.strip(): v.strip() for k, v in row.items()})
    return rows


def _json_rows(text: str, source: Path) -> list[dict[str, str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"data table {source} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ConfigError(f"data table {source} must be a JSON list of objects")
    return [{str(k): v if isinstance(v, str) else json.dumps(v) for k, v in row.items()} for row in data]
