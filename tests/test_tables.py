"""Data tables: strings unless the table declares a type, YAML/JSON/CSV alike, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from iflowtest.errors import ConfigError
from iflowtest.tables import load_table, require_columns, row_id, table_params


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_cells_stay_text_unless_the_header_declares_a_type(tmp_path: Path) -> None:
    table = write(tmp_path, "t.csv", "company_code,amount:float,count:int,active:bool\n0010,1.50,3,yes\n")

    assert load_table(table) == [{"company_code": "0010", "amount": 1.5, "count": 3, "active": True}]


def test_yaml_scalars_stay_the_text_written(tmp_path: Path) -> None:
    table = write(tmp_path, "t.yaml", "- {company_code: 0010, flag: yes, when: 2026-01-01}\n")

    assert load_table(table) == [{"company_code": "0010", "flag": "yes", "when": "2026-01-01"}]


def test_json_and_yaml_declare_types_beside_the_rows(tmp_path: Path) -> None:
    json_table = write(tmp_path, "t.json", '{"types": {"n": "int"}, "rows": [{"n": "7", "code": 10}]}')
    yaml_table = write(tmp_path, "t.yml", "types: {n: int}\nrows:\n  - {n: 7, code: 10}\n")

    assert load_table(json_table) == load_table(yaml_table) == [{"n": 7, "code": "10"}]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "t.csv",
            "n:int\nseven\n",
            "line 2: column 'n' is declared int but holds 'seven': fix the value or the declared type",
        ),
        ("t.csv", "n:integer\n1\n", "column 'n' has unknown type 'integer'; types are str, int, float, bool"),
        (
            "t.yaml",
            "rows: [{a: 1}]\nkinds: {}\n",
            "must be a list of rows or an object with 'rows' (and optional 'types'); unknown key 'kinds'",
        ),
        ("t.yaml", "- [1, 2]\n", "must be a list of objects (one per row)"),
        ("t.yaml", "- {a: [1\n", "is not valid YAML (line 2)"),
        ("t.json", "[]", "has no rows: a parameterised case needs at least one"),
        ("t.txt", "a\n1\n", "must be .csv, .json, .yaml or .yml"),
        ("t.csv", "a,b\n1\n", "line 2 has 1 cells where the header has 2: fix the row"),
    ],
)
def test_bad_tables_are_explained(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_table(write(tmp_path, name, text))
    assert message in str(caught.value)


def test_missing_column_names_the_columns_there_are(tmp_path: Path) -> None:
    rows = load_table(write(tmp_path, "t.yaml", "- {code: '1010', country: DE}\n- {code: '1020'}\n"))

    with pytest.raises(ConfigError) as caught:
        require_columns(rows, ["country"], "fixtures/t.yaml", used_by="case 'x'")
    assert str(caught.value) == (
        "data table fixtures/t.yaml has no column 'country' used by case 'x' (row 2); its columns are code, country: "
        "add the column or fix the name"
    )
    with pytest.raises(ConfigError, match="has no column 'cuntry'; its columns are code, country"):
        require_columns(rows, ["cuntry"], "fixtures/t.yaml")


def test_table_params_ids(tmp_path: Path) -> None:
    table = write(tmp_path, "t.csv", "area,code:int\nA000,1010\n")

    [param] = table_params(table, id_columns=("area", "code"))
    assert param.id == "A000-1010" == row_id(param.values[0], ("area", "code"))


def test_a_table_that_is_not_utf8_is_explained(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_bytes(b"code\n" + bytes(range(128, 256)))

    with pytest.raises(ConfigError) as raised:
        load_table(tmp_path / "rows.csv")

    assert str(raised.value) == (
        f"data table {tmp_path / 'rows.csv'} is not UTF-8 text (byte 5): save it as UTF-8 (CSV UTF-8 in Excel)"
    )
