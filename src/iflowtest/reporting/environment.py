"""The environment rows for developers (Python, platform, packages, plugins, clients, versions), folded away.

pytest-html puts pytest-metadata's table at the top of the page, above everything a lead needs; the
report shows the same rows in a closed `<details>` element below the verdict and the per-iFlow table
instead (the style sheet hides pytest-html's own copy). Values are masked as pytest-html masks them
(`environment_table_redact_list`) and redacted as every other text of the report.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from iflowtest.redaction import redact_text


def run_metadata(config: pytest.Config) -> dict[str, Any]:
    """pytest-metadata's facts of this run (empty without pytest-metadata)."""
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:  # pytest-metadata comes with pytest-html
        return {}
    return dict(config.stash.get(metadata_key, {}))


def masked_keys(config: pytest.Config) -> list[str]:
    """The regular expressions of `environment_table_redact_list` (none when pytest-html is absent)."""
    try:
        return [str(pattern) for pattern in config.getini("environment_table_redact_list")]
    except ValueError:
        return []


def environment_details(metadata: Mapping[str, Any], masked: Sequence[str] = ()) -> str:
    """A closed `<details>` with one row per fact; its summary line names the versions that matter most."""
    if not metadata:
        return ""
    rows = []
    for key, value in metadata.items():
        name = str(key)
        if any(re.match(pattern, name) for pattern in masked):
            shown = html.escape("\u2593" * len(str(value)))
        elif isinstance(value, Mapping):
            items = "".join(f"<li>{html.escape(redact_text(f'{k}: {v}'))}</li>" for k, v in value.items())
            shown = f"<ul>{items}</ul>"
        else:
            shown = html.escape(redact_text(str(value)))
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{shown}</td></tr>")
    return (
        '<details id="environment-details"><summary>Environment: '
        f"{html.escape(_headline(metadata))}</summary>"
        f'<table id="environment-facts">{"".join(rows)}</table></details>'
    )


def _headline(metadata: Mapping[str, Any]) -> str:
    packages = metadata.get("Packages")
    plugins = metadata.get("Plugins")
    parts = [f"Python {metadata['Python']}"] if "Python" in metadata else []
    if isinstance(packages, Mapping) and "pytest" in packages:
        parts.append(f"pytest {packages['pytest']}")
    if isinstance(plugins, Mapping) and "iflowtest" in plugins:
        parts.append(f"iflowtest {plugins['iflowtest']}")
    if "Git commit" in metadata:
        parts.append(f"commit {metadata['Git commit']}")
    shown = ", ".join(parts) or f"{len(metadata)} facts"
    return redact_text(f"{shown} (platform, packages, plugins, clients: open to read)")
