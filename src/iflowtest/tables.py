"""Data tables for parameterised cases: CSV, JSON or YAML files under fixtures/, values kept as strings.

Newman users are bitten by guessed types ("0010" becoming 10); a cell here stays the text it is unless the
table itself declares a type for its column:

- CSV: a header cell `name:type`, e.g. `amount:float` (the column is then called `amount`);
- JSON or YAML: an object `{"types": {"amount": "float"}, "rows": [...]}` instead of a plain list of rows.

Types are `str`, `int`, `float` and `bool` (`true/false`, `yes/no`, `1/0`).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from iflowtest.bounds import nesting
from iflowtest.bounds.yamlsize import bounded
from iflowtest.errors import ConfigError
from iflowtest.redaction import MASK, Secret
from iflowtest.settings import find_project_root, project_file

Row = dict[str, Any]
_TRUE: Final = frozenset({"true", "yes", "1"})
_FALSE: Final = frozenset({"false", "no", "0"})


def _to_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{text!r} is not one of true/false, yes/no, 1/0")


CONVERTERS: Final[dict[str, Callable[[str], Any]]] = {"str": str, "int": int, "float": float, "bool": _to_bool}


def load_table(path: str | Path, *, base: Path | None = None) -> list[Row]:
    """Rows of a CSV (header line first), JSON or YAML table; strings unless the table declares a type.

    A relative path is taken from the current folder when it exists there, else from `base` (default: the
    project root), so suites name tables relative to the project whatever folder pytest was started from.
    """
    source = Path(path)  # as the suite names it: messages show it so
    root = base or find_project_root(Path.cwd())
    location = source.absolute() if source.is_absolute() or source.exists() else root / source
    if base is not None:  # a suite names it (YAML): only inside the project
        location = project_file(location, base, what="data table")
    try:
        text = location.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(
            f"data table {source} cannot be read ({exc.strerror}, at {location}): check the path"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"data table {source} is not UTF-8 text (byte {exc.start}): save it as UTF-8 (CSV UTF-8 in Excel)"
        ) from None
    suffix = source.suffix.lower()
    if suffix == ".json":
        rows = _structured_rows(_parse_json(text, source), source)
    elif suffix in (".yaml", ".yml"):
        rows = _structured_rows(_parse_yaml(text, source), source)
    elif suffix == ".csv":
        rows = _csv_rows(text, source)
    else:
        raise ConfigError(f"data table {source} must be .csv, .json, .yaml or .yml")
    if not rows:
        raise ConfigError(f"data table {source} has no rows: a parameterised case needs at least one")
    for row in rows:  # secret columns: masked wherever their values would be shown or written
        for name, value in row.items():
            if is_secret_column(name) and isinstance(value, str):
                Secret(value)
    return rows


def require_columns(rows: list[Row], columns: Iterable[str], source: str | Path, used_by: str = "") -> None:
    """Raise a ConfigError naming the first of `columns` some row lacks, and the columns the table has."""
    known = list(rows[0]) if rows else []
    for number, row in enumerate(rows, start=1):
        for column in columns:
            if column not in row:
                where = f" (row {number})" if column in known else ""
                user = f" used by {used_by}" if used_by else ""
                raise ConfigError(
                    f"data table {source} has no column {column!r}{user}{where}; its columns are "
                    f"{', '.join(known) or '(none)'}: add the column or fix the name"
                )


SECRET_COLUMN: Final = re.compile(r"(?i)secret|password|passwd|token|credential|api_?key|private")


def is_secret_column(name: str) -> bool:
    """Whether a column's values are secrets (by its name): never in a test id, masked wherever they are shown."""
    return bool(SECRET_COLUMN.search(name))


def default_id_columns(rows: list[Row]) -> tuple[str, ...]:
    """The columns that name a row in test ids by default: every column but the secret ones."""
    return tuple(c for c in rows[0] if not is_secret_column(c)) if rows else ()


def row_id(row: Row, columns: Iterable[str]) -> str:
    """The id of a row in test names: its `columns` values joined by '-' (a secret column's value masked)."""
    return "-".join(MASK if is_secret_column(c) else _text(row[c]) for c in columns) or "row"


def table_params(path: str | Path, *, id_columns: tuple[str, ...] | None = None) -> list[Any]:
    """`pytest.param(row, id=...)` per row, ids made of `id_columns` (default: every column but secret ones)."""
    rows = load_table(path)
    columns = id_columns or default_id_columns(rows)
    require_columns(rows, columns, path)
    return [pytest.param(row, id=row_id(row, columns)) for row in rows]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _convert(value: str, kind: str, column: str, source: Path, where: str) -> Any:
    try:
        return CONVERTERS[kind](value)
    except ValueError:
        raise ConfigError(
            f"data table {source} {where}: column {column!r} is declared {kind} but holds {value!r}: fix the value "
            "or the declared type"
        ) from None


def _check_types(types: Any, source: Path) -> dict[str, str]:
    if not isinstance(types, Mapping):
        raise ConfigError(f"data table {source}: 'types' must map column names to one of {', '.join(CONVERTERS)}")
    for column, kind in types.items():
        if kind not in CONVERTERS:
            raise ConfigError(
                f"data table {source}: column {column!r} has unknown type {kind!r}; types are {', '.join(CONVERTERS)}"
            )
    return {str(k): str(v) for k, v in types.items()}


def _csv_rows(text: str, source: Path) -> list[Row]:
    reader = csv.DictReader(text.splitlines())
    types: dict[str, str] = {}
    names: dict[str, str] = {}
    for header in reader.fieldnames or []:
        name, _, kind = header.strip().partition(":")
        names[header] = name.strip()
        if kind:
            types.update(_check_types({name.strip(): kind.strip()}, source))
    rows = []
    for number, row in enumerate(reader, start=2):
        if None in row or any(v is None for v in row.values()):
            cells = sum(1 for k, v in row.items() if k is not None and v is not None) + len(row.get(None) or [])
            raise ConfigError(
                f"data table {source} line {number} has {cells} cells where the header has "
                f"{len(reader.fieldnames or [])}: fix the row"
            )
        clean: Row = {}
        for header, value in row.items():
            name = names[header]
            kind = types.get(name, "str")
            clean[name] = _convert(value.strip(), kind, name, source, f"line {number}")
        rows.append(clean)
    return rows


def _parse_json(text: str, source: Path) -> Any:
    try:
        return nesting.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"data table {source} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except nesting.TooDeepError as exc:
        raise ConfigError(f"data table {source}: {exc}") from None


_BOUNDED_BASE_LOADER: Final = bounded(yaml.BaseLoader)


def _parse_yaml(text: str, source: Path) -> Any:
    try:
        # BaseLoader keeps every scalar as the text written: an unquoted 0010 stays "0010", not 8.
        return yaml.load(text, Loader=_BOUNDED_BASE_LOADER)  # noqa: S506 (BaseLoader builds no objects)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"data table {source} is not valid YAML{line}: {getattr(exc, 'problem', exc)}") from None


def _structured_rows(data: Any, source: Path) -> list[Row]:
    types: dict[str, str] = {}
    if isinstance(data, Mapping):
        unknown = sorted(str(k) for k in data if k not in ("types", "rows"))
        if unknown or "rows" not in data:
            raise ConfigError(
                f"data table {source} must be a list of rows or an object with 'rows' (and optional 'types')"
                + (f"; unknown key {unknown[0]!r}" if unknown else "")
            )
        types = _check_types(data.get("types") or {}, source)
        data = data["rows"]
    if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
        raise ConfigError(f"data table {source} must be a list of objects (one per row)")
    rows = []
    for number, row in enumerate(data, start=1):
        clean: Row = {}
        for key, value in row.items():
            # Values stay text unless declared: a JSON 10 is the string "10".
            text = value if isinstance(value, str) else _text(value)
            kind = types.get(str(key), "str")
            clean[str(key)] = _convert(text, kind, str(key), source, f"row {number}")
        rows.append(clean)
    return rows
