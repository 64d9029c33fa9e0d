"""Why a test failed, in a few lines: the assertion or diff, the hints of its calls, its message's error.

A failed row of the HTML report opens with this block, above the traceback and the request and response,
so the reason is read without scrolling inside pytest-html's log box; the verdict banner shows its first
line per failing test. Everything is taken from the test report as it reaches the controller (from xdist
workers too): pytest's `E` lines, the `failed:` block that ends a YAML case's failure view
(`cases/collector.py`), the `hint:` lines of the "iflow calls" section and the `error:` lines of the
"message log" section. All of it is redacted again before it is shown.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, Final

from iflowtest.redaction import redact_text

# Lines of the assertion or diff shown above the log box; the log box below keeps the whole text.
MAX_LINES: Final = 30
MAX_CHARS: Final = 3000
HEADLINE_CHARS: Final = 400
# The end of a YAML case's failure view: "failed:" (an expectation) or "error:" (a call that went wrong).
_CASE_VERDICT: Final = re.compile(r"\n(?:failed|error):\n((?:  .*(?:\n|$))+)\s*\Z")
# The location line closing a pytest traceback: `suites/x/test_y.py:27: AssertionError`.
_CRASH_LOCATION: Final = re.compile(r"^(\S+\.py):(\d+): (\w[\w.]*)$", re.M)


@dataclass(frozen=True)
class FailureReason:
    """What failed (the assertion, the diff or the error), where, and what the harness knows about why."""

    what: str
    where: str = ""
    hints: tuple[str, ...] = ()
    message_errors: tuple[str, ...] = ()

    @property
    def headline(self) -> str:
        """One line for the verdict banner: the first line of `what` (two when it ends in a colon), then a hint."""
        lines = [line.strip() for line in self.what.splitlines() if line.strip()]
        head = " ".join(lines[:2]) if len(lines) > 1 and lines[0].endswith(":") else (lines[0] if lines else "")
        if self.hints:
            head = f"{head} (hint: {self.hints[0]})" if head else f"hint: {self.hints[0]}"
        elif self.message_errors and not head:
            head = f"message error: {self.message_errors[0]}"
        return _shorten(head, HEADLINE_CHARS)

    def to_html(self) -> str:
        """The block a failed row opens with."""
        parts = ['<div class="why">', '<div class="why-title">Why it failed</div>']
        if self.what:
            parts.append(f'<pre class="why-what">{html.escape(self.what)}</pre>')
        if self.where:
            parts.append(f'<div class="why-where">at {html.escape(self.where)}</div>')
        parts += [f'<div class="why-hint"><b>Hint:</b> {html.escape(hint)}</div>' for hint in self.hints]
        parts += [
            f'<div class="why-message"><b>Message log:</b> {html.escape(error)}</div>' for error in self.message_errors
        ]
        parts.append("</div>")
        return "".join(parts)


def failure_reason(report: Any) -> FailureReason | None:
    """The reason of a failed test report (any phase), None for a report that did not fail."""
    if not getattr(report, "failed", False):
        return None
    text = str(getattr(report, "longreprtext", "") or "")
    sections = list(getattr(report, "sections", []))
    what, where = _what_and_where(text)
    hints = _prefixed(sections, "iflow calls", "hint:")
    errors = _prefixed(sections, "message log", "error:")
    return FailureReason(
        what=redact_text(_clip(what)),
        where=redact_text(where),
        hints=tuple(redact_text(_shorten(h, 600)) for h in _unique(hints)),
        message_errors=tuple(redact_text(_shorten(e, 600)) for e in _unique(errors)),
    )


@dataclass(frozen=True)
class Failure:
    """A failed test as the verdict banner lists it: its one-line reason and the id of its results-table row."""

    headline: str
    row_id: str


class FailureReasons:
    """Collects the reason of each failed test on the controller and puts it at the top of its report row."""

    def __init__(self) -> None:
        self.failures: dict[str, Failure] = {}  # nodeid -> the first failing phase's reason

    def note(self, report: Any) -> None:
        """Called with every test report: a failed one gets its reason as pytest-html's first extra."""
        reason = failure_reason(report)
        if reason is None:
            return
        # pytest-html names the row of a failed setup or teardown `<nodeid>::<phase>`.
        row_id = report.nodeid if report.when == "call" else f"{report.nodeid}::{report.when}"
        self.failures.setdefault(report.nodeid, Failure(reason.headline, row_id))
        extra = {
            "name": "why",
            "format_type": "html",
            "content": reason.to_html(),
            "mime_type": None,
            "extension": None,
        }
        report.extras = [extra, *getattr(report, "extras", [])]


def _what_and_where(text: str) -> tuple[str, str]:
    case = _CASE_VERDICT.search(text)
    if case:
        return _dedent(case.group(1).splitlines()), ""
    e_lines = _last_e_block(text.splitlines())
    crash = list(_CRASH_LOCATION.finditer(text))
    where = f"{crash[-1].group(1)}:{crash[-1].group(2)}" if crash else ""
    if e_lines:
        return _dedent(e_lines), where
    # A one-line failure (an iflowtest error, `--tb=line`, a setup error) is its own reason.
    lines = [line for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else "failed without a message"), where


def _last_e_block(lines: list[str]) -> list[str]:
    """The last run of pytest's `E` lines (the exception of the innermost frame), without the `E`."""
    blocks: list[list[str]] = []
    previous_was_e = False
    for line in lines:
        is_e = line == "E" or line.startswith("E ")
        if is_e:
            if not previous_was_e:
                blocks.append([])
            blocks[-1].append(line[1:])
        previous_was_e = is_e
    return blocks[-1] if blocks else []


def _dedent(lines: list[str]) -> str:
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:].rstrip() for line in lines).strip("\n")


def _prefixed(sections: list[tuple[str, str]], header: str, prefix: str) -> list[str]:
    found = []
    for name, content in sections:
        if name != header and not name.endswith(" " + header):
            continue
        for line in content.splitlines():
            stripped = line.strip()
            if stripped.startswith(prefix):
                found.append(stripped[len(prefix) :].strip())
    return found


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def _clip(text: str) -> str:
    lines = text.splitlines()
    kept = "\n".join(lines[:MAX_LINES])
    if len(kept) > MAX_CHARS:
        kept = kept[:MAX_CHARS]
    cut = len(text) - len(kept)
    return kept + (f"\n... ({cut} more characters in the log below)" if cut > 0 else "")


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
