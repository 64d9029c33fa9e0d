"""The conversion report of a Postman import: every item with its outcome, its assertions converted and not, and
what was left with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ItemReport:
    """How one collection item converted: converted, partly converted or unsupported, and what was left.

    `assertions` counts the Postman assertions of the item's test script (each `pm.test`, each `tests[...]`),
    `converted` those that became expectations; the others fail the imported case until they are converted.
    """

    label: str
    outcome: str
    left: list[tuple[str, str]] = field(default_factory=list)  # (what was not converted, why)
    assertions: int = 0
    converted: int = 0

    @property
    def not_converted(self) -> int:
        """Assertions that did not become expectations."""
        return self.assertions - self.converted


@dataclass
class ImportResult:
    """What an import wrote and how every item fared."""

    items: list[ItemReport]
    report: Path
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Items per outcome."""
        return {o: sum(i.outcome == o for i in self.items) for o in ("converted", "partly converted", "unsupported")}

    def assertion_counts(self) -> tuple[int, int, int]:
        """Postman assertions over all items: (all, converted, not converted)."""
        total = sum(i.assertions for i in self.items)
        converted = sum(i.converted for i in self.items)
        return total, converted, total - converted

    def summary(self) -> str:
        """One line for the terminal."""
        c = self.counts()
        total, converted, missing = self.assertion_counts()
        failing = sum(1 for i in self.items if i.not_converted)
        tail = f" ({failing} case(s) fail until those are converted)" if missing else ""
        return (
            f"{len(self.items)} item(s): {c['converted']} converted, {c['partly converted']} partly converted, "
            f"{c['unsupported']} unsupported; Postman assertions: {converted} of {total} converted, "
            f"{missing} not converted{tail}; report: {self.report}"
        )


def report_text(name: str, collection: Path, result: ImportResult) -> str:
    """The report as markdown: counts, notes, one row per item, and one row per thing not converted."""
    counts = result.counts()
    total, converted, missing = result.assertion_counts()
    lines = [
        f"# Conversion report: {name}",
        "",
        f"From `{collection.name}`: {len(result.items)} item(s), {counts['converted']} converted, "
        f"{counts['partly converted']} partly converted, {counts['unsupported']} unsupported.",
        "",
        f"Postman assertions (`pm.test`, `tests[...]`): {total}; converted: {converted}; not converted: {missing}.",
        "Each assertion not converted is listed under `unconverted:` in its case and fails that case until you "
        "convert it into `expect:` or remove it, so no case passes on fewer checks than Newman ran.",
        "",
        *(f"Note: {note}\n" for note in result.notes),
        "## Assertions per item",
        "",
        "| item | outcome | assertions | converted | not converted |",
        "|---|---|---:|---:|---:|",
        *(
            f"| {_cell(i.label)} | {i.outcome} | {i.assertions} | {i.converted} | {i.not_converted} |"
            for i in result.items
        ),
        f"| **total** | | {total} | {converted} | {missing} |",
        "",
        "## Items and what was not converted",
        "",
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
