"""Message-level expectations: what the iFlow did inside CPI, not only what it answered.

One model behind YAML's `expect: message:` and the `mpl` fixture's Python functions:

    message:
      status: COMPLETED                 # the final status (waited for); `custom_status` a matcher
      properties: {CostCenter: "10101101"}
      attachments:
        BackendResponse: {json: {"$.d.results[0].CompanyCode": "1010"}}
      store: {PersistResponse: {xpath: {/CostCenterChangeResponse/Status: ACCEPTED}}}
      trace: {EndEvent_2: {text: {contains: ACCEPTED}}}     # skipped with the reason when trace is off
      data_store: {CostCenterChanges: {id: "${request_id}"}}
      queues: {CostCenterChanges: {failed: 0}}
      downstream:
        - iflow: ProcessCostCenterChange   # messages whose PredecessorMessageGuid is this one
          status: COMPLETED

Documents (attachments, message store entries, trace payloads, data store entries) take the body checks a
response takes (`json`, `xpath`, `text`, `baseline`) plus `content_type` and `absent`. Every unmet
expectation is one line naming the message, its iFlow and the part; a read the monitor client may not do
fails with one line naming the role it lacks.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import pytest
import requests

from iflowtest.calls.client import CallRecord
from iflowtest.calls.monitor import MessagePart, MonitorClient
from iflowtest.calls.mpl import MessageLog, call_key, call_record
from iflowtest.checks.assertions import ExpectationError, check_response
from iflowtest.checks.baselines import BaselineRules, compare_baseline
from iflowtest.checks.matchers import matcher, show
from iflowtest.errors import ConfigError

MESSAGE_KEYS: Final = (
    "status",
    "custom_status",
    "timeout",
    "properties",
    "attachments",
    "store",
    "trace",
    "data_store",
    "queues",
    "downstream",
)
DOWNSTREAM_KEYS: Final = ("iflow", "count", *(k for k in MESSAGE_KEYS if k != "timeout"))
CONTENT_KEYS: Final = ("json", "xpath", "text", "baseline", "content_type", "absent")
_BODY_KEYS: Final = ("json", "xpath", "text")
DEFAULT_TIMEOUT: Final = 60.0
TRACE_HINT: Final = (
    "set its log level to Trace in Monitor > Manage Integration Content (it falls back after about 10 minutes) "
    "and run again"
)

Call = requests.Response | CallRecord | MessageLog | str


class MessageChecks(MonitorClient):
    """The `mpl` fixture: message-log reads plus the message-level expectations (`expect_message` and friends)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.namespaces: Mapping[str, str] = {}  # XPath prefixes (a YAML suite's `namespaces`)
        self.base: Path | None = None  # where relative baseline paths start (default: the project root)
        self.update_baselines = False
        self.notes: list[str] = []  # baselines written, for the report
        self._found: dict[str, str] = {}  # call -> MPL id: each expectation on one call looks its message up once
        self._how: dict[str, str] = {}

    # ------------------------------------------------------------ finding the message
    def message_of(self, call: Call, *, timeout: float = DEFAULT_TIMEOUT) -> MessageLog:
        """The final log of a call's message (response, call record, log or MPL id), waited for within `timeout`."""
        started = time.monotonic()
        if isinstance(call, MessageLog):
            guid, how = call.message_guid, call.found_by or ""
        elif isinstance(call, str):
            guid, how = call, "MPL id (given)"
        else:
            record = call_record(call)
            key = call_key(record)
            if key not in self._found:
                found = self.find_for_call(record, timeout)
                self._found[key] = found.message_guid
                self._how[found.message_guid] = found.found_by or ""
            guid = self._found[key]
            how = self._how.get(guid, "")
        log = self.wait_for_final(guid, max(0.0, timeout - (time.monotonic() - started)))
        log = replace(log, found_by=how, error_text=self.error_text(guid) if log.status == "FAILED" else None)
        if all(seen.message_guid != guid for seen in self.checked):
            self.checked.append(log)
        return log

    # ------------------------------------------------------------ the whole expectation
    def expect_message(self, call: Call, spec: Mapping[str, Any] | None = None, **expected: Any) -> MessageLog:
        """Check a message against a `message:` mapping (or keyword arguments of the same names).

        Waits for the final status first; a trace expectation that cannot be checked because trace is off
        skips the test with the reason, once every other expectation has passed.
        """
        __tracebackhide__ = True
        merged = {**(spec or {}), **expected}
        _check_keys(merged, MESSAGE_KEYS, "message expectation")
        deadline = time.monotonic() + float(merged.get("timeout", DEFAULT_TIMEOUT))
        log = self.message_of(call, timeout=_left(deadline))
        failures, skips = self._check_spec(log, merged, deadline)
        if failures:
            raise ExpectationError(failures)
        if skips:
            pytest.skip("; ".join(skips))
        return log

    # ------------------------------------------------------------ single expectations (Python)
    def expect_properties(self, call: Call, expected: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """The message's custom header properties meet `expected` (name: value or matcher spec)."""
        __tracebackhide__ = True
        self.expect_message(call, {"status": None, "properties": dict(expected), "timeout": timeout})

    def expect_attachment(
        self, call: Call, name: str, *, timeout: float = DEFAULT_TIMEOUT, **checks: Any
    ) -> requests.Response | None:
        """The attachment `name` meets `checks` (json, xpath, text, baseline, content_type, absent); its content."""
        __tracebackhide__ = True
        log = self.message_of(call, timeout=timeout)
        return self._expect_part(log, "attachment", self.attachments(log.message_guid), name, checks)

    def expect_store_entry(
        self, call: Call, store_id: str, *, timeout: float = DEFAULT_TIMEOUT, **checks: Any
    ) -> requests.Response | None:
        """A Persist step `store_id` stored the message and its content meets `checks`; its content."""
        __tracebackhide__ = True
        log = self.message_of(call, timeout=timeout)
        return self._expect_part(log, "message store entry", self.store_entries(log.message_guid), store_id, checks)

    def expect_trace(
        self, call: Call, step: str, *, timeout: float = DEFAULT_TIMEOUT, **checks: Any
    ) -> requests.Response | None:
        """The payload traced at model step `step` meets `checks`; skips the test when the run was not traced."""
        __tracebackhide__ = True
        log = self.message_of(call, timeout=timeout)
        parts, skip = self._traced(log)
        if skip:
            pytest.skip(skip)
        return self._expect_part(log, "trace payload", parts, step, checks)

    def expect_data_store(
        self, call: Call, store: str, entry_id: str, *, timeout: float = DEFAULT_TIMEOUT, **checks: Any
    ) -> requests.Response:
        """The message wrote entry `entry_id` into data store `store`, and its body meets `checks`; the body."""
        __tracebackhide__ = True
        log = self.message_of(call, timeout=timeout)
        failures, part = self._data_store(log, store, {"id": entry_id, **checks})
        if failures or part is None:
            raise ExpectationError(failures)
        return self.content(part)

    def expect_queue(
        self, queue: str, *, failed: Any = 0, call: Call | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        """No message (or `failed` messages) left in error on JMS queue `queue`: those `call` queued, or all."""
        __tracebackhide__ = True
        deadline = time.monotonic() + timeout
        guids = None
        if call is not None:
            log = self.message_of(call, timeout=timeout)
            guids = {log.message_guid}
        failures = self._queue(
            queue, {"failed": failed, "scope": "queue" if guids is None else "message"}, guids, deadline
        )
        if failures:
            raise ExpectationError(failures)

    def expect_downstream(
        self, call: Call, iflow: str, *, status: str | None = "COMPLETED", timeout: float = DEFAULT_TIMEOUT, **spec: Any
    ) -> list[MessageLog]:
        """The messages of iFlow `iflow` that followed the call's message (PredecessorMessageGuid) meet `spec`."""
        __tracebackhide__ = True
        deadline = time.monotonic() + timeout
        log = self.message_of(call, timeout=timeout)
        failures, skips, found = self._downstream(log, {"iflow": iflow, "status": status, **spec}, deadline)
        if failures:
            raise ExpectationError(failures)
        if skips:
            pytest.skip("; ".join(skips))
        return found

    # ------------------------------------------------------------ the checks
    def _check_spec(self, log: MessageLog, spec: Mapping[str, Any], deadline: float) -> tuple[list[str], list[str]]:
        """(failures, skip reasons) of one message against a spec."""
        label = _label(log)
        failures: list[str] = []
        skips: list[str] = []
        status = spec.get("status", "COMPLETED")
        if status is not None and log.status != str(status):
            error = f"; error: {log.error_text}" if log.error_text else ""
            failures.append(f"{label} ended {log.status}, expected {status}{error}")
        if "custom_status" in spec:
            ok, why = _match(spec["custom_status"], [log.custom_status] if log.custom_status else [])
            if not ok:
                failures.append(f"{label} custom status: {why}")
        if "properties" in spec:
            failures += self._properties(log, _mapping(spec["properties"], "properties"))
        for key, kind, read in (
            ("attachments", "attachment", self.attachments),
            ("store", "message store entry", self.store_entries),
        ):
            if key in spec:
                parts = read(log.message_guid)
                for name, checks in _mapping(spec[key], key).items():
                    failures += self._part_failures(log, kind, parts, str(name), _mapping(checks or {}, name))[0]
        if "trace" in spec:
            parts, skip = self._traced(log)
            if skip:
                skips.append(skip)
            else:
                for step, checks in _mapping(spec["trace"], "trace").items():
                    failures += self._part_failures(
                        log, "trace payload", parts, str(step), _mapping(checks or {}, step)
                    )[0]
        for store, entry in _mapping(spec.get("data_store", {}), "data_store").items():
            failures += self._data_store(log, str(store), _mapping(entry, store))[0]
        guids = {log.message_guid}
        for downstream in _list(spec.get("downstream", []), "downstream"):
            more_failures, more_skips, found = self._downstream(log, downstream, deadline)
            failures += more_failures
            skips += more_skips
            guids |= {m.message_guid for m in found}
        for queue, queue_spec in _queues(spec.get("queues", {})).items():
            failures += self._queue(queue, queue_spec, guids, deadline)
        return failures, skips

    def _properties(self, log: MessageLog, expected: Mapping[str, Any]) -> list[str]:
        properties = self.custom_header_properties(log.message_guid)
        failures = []
        for name, spec in expected.items():
            values = [value for key, value in properties if key == name]
            ok, why = _match(spec, values)
            if not ok:
                present = ", ".join(sorted({key for key, _ in properties})) or "none"
                why = why if values else "not set"
                failures.append(f"{_label(log)} custom header property {name}: {why} (properties set: {present})")
        return failures

    def _traced(self, log: MessageLog) -> tuple[list[MessagePart], str | None]:
        """The trace payloads of a message, or why they cannot be checked (the reason a test is skipped for)."""
        if (log.log_level or "").upper() != "TRACE":
            return [], (
                f"trace of {_label(log)} not checked: the message ran at log level {log.log_level or 'unknown'}, "
                f"not Trace; {TRACE_HINT}"
            )
        parts = self.trace_payloads(log.message_guid)
        if not parts:
            return (
                [],
                f"trace of {_label(log)} not checked: its trace payloads have expired (a tenant keeps them about an hour)",
            )
        return parts, None

    def _expect_part(
        self, log: MessageLog, kind: str, parts: list[MessagePart], name: str, checks: Mapping[str, Any]
    ) -> requests.Response | None:
        __tracebackhide__ = True
        failures, response = self._part_failures(log, kind, parts, name, checks)
        if failures:
            raise ExpectationError(failures)
        return response

    def _part_failures(
        self, log: MessageLog, kind: str, parts: list[MessagePart], name: str, checks: Mapping[str, Any]
    ) -> tuple[list[str], requests.Response | None]:
        """Failures of one stored document against content checks, and its content when it was read."""
        _check_keys(checks, CONTENT_KEYS, f"{kind} {name!r}")
        where = f"{_label(log)} {kind} {name!r}"
        matching = [part for part in parts if part.name == name]
        if checks.get("absent"):
            return ([f"{where}: expected none, found {len(matching)}"] if matching else []), None
        if not matching:
            present = ", ".join(sorted({part.name for part in parts})) or "none"
            return [f"{where}: not found (the message has {kind}s: {present})"], None
        part = matching[-1]  # the latest, when a flow wrote the name more than once
        response = self.content(part)
        return self._content_failures(where, part, response, checks), response

    def _content_failures(
        self, where: str, part: MessagePart, response: requests.Response, checks: Mapping[str, Any]
    ) -> list[str]:
        failures = []
        if "content_type" in checks:
            content_type = part.content_type or response.headers.get("Content-Type")
            ok, why = _match(checks["content_type"], [content_type] if content_type else [])
            if not ok:
                failures.append(f"{where} content type: {why}")
        body = {key: checks[key] for key in _BODY_KEYS if key in checks}
        try:
            if body:
                check_response(response, body, namespaces=self.namespaces, base=self.base)
        except ExpectationError as exc:
            failures += [f"{where}: {line}" for line in exc.failures]
        if "baseline" in checks:
            file, rules = _baseline(checks["baseline"], self.namespaces)
            try:
                note = compare_baseline(response, file, rules, update=self.update_baselines, base=self.base)
            except ExpectationError as exc:
                failures += [f"{where}: {line}" for line in exc.failures]
            else:
                if note:
                    self.notes.append(f"{where}: {note}")
        return failures

    def _data_store(self, log: MessageLog, store: str, spec: Mapping[str, Any]) -> tuple[list[str], MessagePart | None]:
        _check_keys(spec, ("id", *CONTENT_KEYS), f"data store {store!r}")
        if "id" not in spec:
            raise ConfigError(f"data store {store!r} expectation lacks 'id': name the entry id the message writes")
        entry_id = str(spec["id"])
        where = f"{_label(log)}: data store {store!r} entry {entry_id!r}"
        entries = self.data_store_entries(store, entry_id)
        mine = [part for row, part in entries if row.get("MessageId") == log.message_guid]
        if spec.get("absent"):
            return ([f"{where}: expected none, found one"] if mine else []), None
        if not entries:
            return [f"{where}: not found (no entry with this id in the data store)"], None
        if not mine:
            writers = ", ".join(sorted({str(row.get("MessageId")) for row, _ in entries}))
            return [f"{where}: written by message {writers}, not by this message"], None
        checks = {key: value for key, value in spec.items() if key != "id"}
        if not checks:
            return [], mine[0]
        return self._content_failures(where, mine[0], self.content(mine[0]), checks), mine[0]

    def _downstream(
        self, log: MessageLog, spec: Mapping[str, Any], deadline: float
    ) -> tuple[list[str], list[str], list[MessageLog]]:
        """Find the messages of `spec['iflow']` that followed `log`, wait for them, check each."""
        _check_keys(spec, DOWNSTREAM_KEYS, "downstream expectation")
        iflow = spec.get("iflow")
        if not isinstance(iflow, str) or not iflow:
            raise ConfigError("a downstream expectation needs 'iflow': the iFlow whose messages follow this one")
        count = spec.get("count", {"min": 1})
        pauses = self._pauses()
        while True:
            found = self.successors(log.message_guid, iflow)
            ok, why = _match(count, [len(found)])
            if (ok and found) or time.monotonic() >= deadline:
                break
            self._sleep(next(pauses))
        if not ok:
            return (
                [f"{_label(log)}: messages of iFlow {iflow!r} that followed it: {why} (PredecessorMessageGuid)"],
                [],
                found,
            )
        failures: list[str] = []
        skips: list[str] = []
        finals = []
        inner = {key: value for key, value in spec.items() if key not in ("iflow", "count")}
        for successor in found:
            final = self.message_of(successor.message_guid, timeout=_left(deadline))
            finals.append(final)
            more_failures, more_skips = self._check_spec(final, inner, deadline)
            failures += more_failures
            skips += more_skips
        return failures, skips, finals

    def _queue(self, queue: str, spec: Mapping[str, Any], guids: set[str] | None, deadline: float) -> list[str]:
        """Failures of a queue expectation; the message's own JMS messages are waited for until processed."""
        _check_keys(spec, ("failed", "scope"), f"queue {queue!r}")
        scope = spec.get("scope", "message" if guids else "queue")
        if scope not in ("message", "queue"):
            raise ConfigError(f"scope of queue {queue!r} must be 'message' or 'queue', got {scope!r}")
        pauses = self._pauses()
        while True:
            messages = self.queue_messages(queue)
            mine = [m for m in messages if guids is not None and m.message_guid in guids]
            in_flight = [m for m in mine if not m.failed]
            if not in_flight or time.monotonic() >= deadline:
                break
            self._sleep(next(pauses))
        counted = messages if scope == "queue" or guids is None else mine
        failed = [m for m in counted if m.failed]
        ok, why = _match(spec.get("failed", 0), [len(failed)])
        failures = []
        if not ok:
            whose = "on it" if scope == "queue" else "this message put on it"
            shown = ", ".join(f"{m.jms_id} (message {m.message_guid}, {m.retry_count} retries)" for m in failed[:5])
            failures.append(f"queue {queue!r}: messages in error that {whose}: {why}" + (f": {shown}" if shown else ""))
        if in_flight:
            failures.append(
                f"queue {queue!r}: {len(in_flight)} message(s) this message put on it were still not processed when "
                "the wait ended: raise timeout, or check that the iFlow reading the queue is deployed"
            )
        if not messages:
            names = self.queue_names()
            if names is not None and queue not in names:
                failures.append(
                    f"queue {queue!r} does not exist on the JMS broker (queues: {', '.join(names) or 'none'})"
                )
        return failures


# ------------------------------------------------------------------ YAML
def check_message(checks: MessageChecks, call: Call, expected: Any) -> MessageLog:
    """The `message:` expectation of a YAML step."""
    __tracebackhide__ = True
    return checks.expect_message(call, _mapping(expected, "message"))


# ------------------------------------------------------------------ helpers
def _label(log: MessageLog) -> str:
    return f"message {log.message_guid} of iFlow {log.iflow!r}"


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _match(spec: Any, found: list[Any]) -> tuple[bool, str]:
    try:
        return matcher(spec)(found)
    except ValueError as exc:  # a matcher spec that does not make sense
        raise ConfigError(str(exc)) from None


def _check_keys(spec: Mapping[str, Any], allowed: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in {what}: use {', '.join(allowed)}")


def _mapping(value: Any, what: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{what} must be a mapping, got {show(value, 60)}")
    return value


def _list(value: Any, what: str) -> list[Mapping[str, Any]]:
    items = [value] if isinstance(value, Mapping) else value
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise ConfigError(f"{what} must be a list of mappings with iflow (and status, attachments, ...)")
    return items


def _queues(value: Any) -> dict[str, Mapping[str, Any]]:
    """`queues:` as a mapping name -> spec; a list of names means no message in error on each."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return {name: {"failed": 0} for name in value}
    return {
        str(name): _mapping(spec or {"failed": 0}, f"queue {name!r}")
        for name, spec in _mapping(value, "queues").items()
    }


def _baseline(spec: Any, namespaces: Mapping[str, str]) -> tuple[str, BaselineRules]:
    if isinstance(spec, str):
        return spec, BaselineRules(namespaces=namespaces)
    fields = dict(_mapping(spec, "baseline"))
    _check_keys(fields, ("file", "ignore", "precision", "empty_equals_missing", "unordered"), "baseline")
    return str(fields["file"]), BaselineRules(
        ignore=tuple(fields.get("ignore", ())),
        precision=fields.get("precision"),
        empty_equals_missing=bool(fields.get("empty_equals_missing", False)),
        unordered=tuple(fields.get("unordered", ())),
        namespaces=namespaces,
    )
