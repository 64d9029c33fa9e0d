"""The conversion report of a Postman import: every item with its outcome, and what was left with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ItemReport:
    """How one collection item converted: converted, partly converted or unsupported, and what was left."""

    label: str
    outcome: str
    left: list[tuple[str, str]] = field(default_factory=list)  # (what was not converted, why)


@dataclass
class ImportResult:
    """What an import wrote and how every item fared."""

    items: list[ItemReport]
    report: Path
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Items per outcome."""
        return {o: sum(i.outcome == o for i in self.items) for o in ("converted", "partly converted", "unsupported")}

    def summary(self) -> str:
        """One line for the terminal."""
        c = self.counts()
        return (
            f"{len(self.items)} item(s): {c['converted']} converted, {c['partly converted']} partly converted, "
            f"{c['unsupported']} unsupported; report: {self.report}"
        )


def report_text(name: str, collection: Path, result: ImportResult) -> str:
    """The report as markdown: counts, notes, and one row per item and per thing not converted."""
    counts = result.counts()
    lines = [
        f"# Conversion report: {name}",
        "",
        f"From `{collection.name}`: {len(result.items)} item(s), {counts['converted']} converted, "
        f"{counts['partly converted']} partly converted, {counts['unsupported']} unsupported.",
        "",
        *(f"Note: {note}\n" for note in result.notes),
        "| item | outcome | not converted | why |",
        "|---|---|---|---|",
    ]
    for item in result.items:
        left = item.left or [("", "")]
        for what, why in left:
            lines.append(f"| {_cell(item.label)} | {item.outcome} | {_cell(what)} | {_cell(why)} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    # Any line break (a name with \r, \u2028…) would end the table row: it becomes a space.
    return " ".join(text.replace("|", "\\|").splitlines())
