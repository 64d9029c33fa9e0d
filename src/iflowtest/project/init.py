"""`iflowtest init [DIR]`: a working project from the bundled template, never overwriting anything.

Files that exist are kept; `pyproject.toml` gets the `[tool.iflowtest]` tables it lacks (tomlkit keeps every
comment and value that is there) and `.gitignore` the lines it lacks. A second `init` finds nothing to do
and says so.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

import tomlkit
from tomlkit.exceptions import TOMLKitError

from iflowtest.errors import ConfigError
from iflowtest.files import write_atomically

TEMPLATE: Final = "template"
SCHEMA_FILE: Final = "iflow-suite.schema.json"
# Template names that cannot be package data as they are (dot files), and where they go.
_RENAMED: Final = {"dot-env.example": ".env.example"}
GITIGNORE_LINES: Final = (
    "# iflowtest",
    "reports/",
    ".env",
    ".env.*",
    "!.env.example",
    "secrets/",
    "emulator-keys/",
    "*.pem",
    "*.key",
)
EMPTY_FOLDERS: Final = ("cassettes", "fixtures")
VSCODE_SETTINGS: Final = """{
  "yaml.schemas": {
    "./schema/iflow-suite.schema.json": "*.iflow.yaml"
  }
}
"""


@dataclass
class InitResult:
    """What `init` wrote, merged and kept."""

    written: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything was written or merged."""
        return bool(self.written or self.merged)


def schema_text() -> str:
    """The JSON Schema of `*.iflow.yaml` suites, as shipped with the package."""
    return resources.files("iflowtest").joinpath("schema", SCHEMA_FILE).read_text(encoding="utf-8")


def _template_files(folder: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found: list[tuple[str, Traversable]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        name = _RENAMED.get(entry.name, entry.name)
        if entry.is_dir():
            found.extend(_template_files(entry, f"{prefix}{name}/"))
        else:
            found.append((prefix + name, entry))
    return found


def init_project(target: Path) -> InitResult:
    """Write the template into `target` (created when missing); what exists is kept or merged."""
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target} is a file: give a folder to create the project in")
    target.mkdir(parents=True, exist_ok=True)
    result = InitResult()
    template = resources.files(__package__).joinpath(TEMPLATE)
    for relative, source in _template_files(template):
        if relative == "pyproject.toml":
            _merge_pyproject(target / relative, source.read_text(encoding="utf-8"), result)
        else:
            _write_new(target / relative, relative, source.read_bytes(), result)
    _write_new(target / "schema" / SCHEMA_FILE, f"schema/{SCHEMA_FILE}", schema_text().encode(), result)
    _write_new(target / ".vscode" / "settings.json", ".vscode/settings.json", VSCODE_SETTINGS.encode(), result)
    for folder in EMPTY_FOLDERS:
        keep = target / folder / ".gitkeep"
        if not (target / folder).exists():
            _write_new(keep, f"{folder}/.gitkeep", b"", result)
    _merge_gitignore(target / ".gitignore", result)
    return result


def _write_new(path: Path, relative: str, content: bytes, result: InitResult) -> None:
    if path.exists():
        result.kept.append(relative)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, content.decode("utf-8"))
    result.written.append(relative)


def _merge_gitignore(path: Path, result: InitResult) -> None:
    if not path.exists():
        write_atomically(path, "\n".join(GITIGNORE_LINES) + "\n")
        result.written.append(".gitignore")
        return
    text = path.read_text(encoding="utf-8")
    present = {line.strip() for line in text.splitlines()}
    missing = [line for line in GITIGNORE_LINES if line not in present and not line.startswith("#")]
    if not missing:
        result.kept.append(".gitignore")
        return
    separator = "" if text.endswith("\n") or not text else "\n"
    write_atomically(path, text + separator + "\n".join(["# iflowtest", *missing]) + "\n")
    result.merged.append(f".gitignore ({len(missing)} lines added)")


def _merge_pyproject(path: Path, template_text: str, result: InitResult) -> None:
    """Add the `[tool.iflowtest]` tables `path` lacks; keys and comments already there stay as they are."""
    if not path.exists():
        write_atomically(path, template_text)
        result.written.append("pyproject.toml")
        return
    text = path.read_text(encoding="utf-8")
    try:
        document = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix it, then run `iflowtest init` again") from None
    template = tomlkit.parse(template_text)
    tool = document.get("tool")
    if tool is None:
        tool = tomlkit.table(is_super_table=True)
        document.add("tool", tool)
    elif not isinstance(tool, MutableMapping):
        raise ConfigError(f"{path}: `tool` is not a table; iflowtest init cannot add [tool.iflowtest]")
    ours = template["tool"]["iflowtest"]
    added: list[str] = []
    if "iflowtest" not in tool:
        tool["iflowtest"] = ours
        added.append("[tool.iflowtest]")
    else:
        existing = tool["iflowtest"]
        if not isinstance(existing, MutableMapping):
            raise ConfigError(f"{path}: [tool.iflowtest] is not a table; iflowtest init cannot merge into it")
        added.extend(_add_missing(existing, ours, "tool.iflowtest"))
    if not added:
        result.kept.append("pyproject.toml")
        return
    write_atomically(path, tomlkit.dumps(document))
    result.merged.append(f"pyproject.toml ({', '.join(added)} added)")


# What an existing [tool.iflowtest] gets: the example's iFlow and the emulator's iflows.yaml. Its clients,
# default client and other settings are the user's: adding ours would provision clients nobody asked for.
_MERGED_INTO_EXISTING: Final = (("iflows", "OrderStatus"), ("emulator", "iflows"))


def _add_missing(existing: MutableMapping[str, Any], ours: Any, where: str) -> list[str]:
    """The example iFlow and the emulator's catalog path, where `existing` lacks them; nothing is replaced."""
    added: list[str] = []
    for section, key in _MERGED_INTO_EXISTING:
        if section not in existing:
            existing[section] = tomlkit.table()
        table = existing[section]
        # Tables split across the file (a user's later [tool.iflowtest.iflows.X]) come as mapping proxies.
        if not isinstance(table, MutableMapping):
            raise ConfigError(f"[{where}.{section}] is not a table; iflowtest init cannot merge into it")
        if key not in table:
            table[key] = ours[section][key]
            added.append(f"{where}.{section}.{key}")
    return added


def describe(result: InitResult, target: Path) -> list[str]:
    """The lines `iflowtest init` prints."""
    if not result.changed:
        return [
            f"iflowtest: nothing to do in {target}: every file `iflowtest init` writes is already there "
            "(nothing was changed)"
        ]
    lines = [f"iflowtest: project in {target}"]
    lines += [f"  wrote   {name}" for name in result.written]
    lines += [f"  merged  {name}" for name in result.merged]
    if result.kept:
        lines.append(f"  kept    {len(result.kept)} existing file(s) as they were: {', '.join(result.kept)}")
    lines.append("next: iflowtest run   (against the emulated tenant; see the README to point it at a tenant)")
    return lines
