"""Running one YAML case: variables, requests through the run's iFlow clients, saved values, expectations.

`${NAME}` is looked up in the values saved by earlier steps (and, in a `sequence`, by earlier cases), then the
data row, then the case's and file's `variables`, then the profile (environment and `.env.<profile>`), then the
file's `defaults`: Postman's order (local, data, environment, collection), for imported collections. A string that is exactly `${NAME}` takes
the value with its type (a typed table column stays a number); `$${` writes a literal `${`.
"""

from __future__ import annotations

import difflib
import mimetypes
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import requests

from iflowtest.calls.client import CallRecord, IflowClient
from iflowtest.calls.mpl import MplClient, check_status, mpl_client
from iflowtest.calls.pool import IflowClientPool
from iflowtest.cases.format import Case, Step, Suite
from iflowtest.checks.assertions import (
    ExpectationError,
    check_response,
    query_json,
    query_xpath,
    response_json,
    response_xml,
)
from iflowtest.checks.baselines import compare_baseline
from iflowtest.checks.matchers import show
from iflowtest.errors import ConfigError
from iflowtest.redaction import Secret, redact_text

_VARIABLE: Final = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
_SECRET_NAME: Final = re.compile(r"(?i)secret|password|token|key|credential")
_TEXT_SUFFIXES: Final = frozenset({".xml", ".json", ".txt", ".csv", ".soap", ".edi", ".idoc", ".html", ".yaml"})
_DEFAULT_TYPES: Final = {"json": "application/json", "xml": "application/xml", "text": "text/plain; charset=utf-8"}


class CaseVariableError(ConfigError):
    """Raised when a YAML case uses a `${NAME}` that no step, row, variables block or profile defines."""


@dataclass
class Exchange:
    """One step's call, kept for the failure view."""

    step: Step
    number: int
    response: requests.Response | None = None


@dataclass
class CaseRun:
    """The state of one case run: its variables, the exchanges so far and notes for the report."""

    suite: Suite
    case: Case
    row: Mapping[str, Any] | None
    clients: IflowClientPool
    profile: Mapping[str, str]
    base: Path
    update_baselines: bool = False
    on_call: Callable[[CallRecord, requests.Response], None] | None = None
    saved: dict[str, Any] = field(default_factory=dict)
    exchanges: list[Exchange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    mpl_checked: list[Any] = field(default_factory=list)  # MessageLogs for the report
    _own_clients: list[IflowClient] = field(default_factory=list)
    _mpl: MplClient | None = None

    def run(self) -> None:
        """Run every step in order; the first unmet expectation stops the case, an `unconverted:` entry fails it."""
        try:
            self._run_steps()
        finally:
            for client in self._own_clients:
                client.close()
            if self._mpl is not None:
                self._mpl.close()

    def _run_steps(self) -> None:
        unconverted: list[str] = []
        for number, step in enumerate(self.case.steps, start=1):
            exchange = Exchange(step, number)
            self.exchanges.append(exchange)
            exchange.response = self._send(step, number)
            response = exchange.response
            expect = dict(self.resolve(step.expect, number))
            mpl_expected = expect.pop("mpl", None)
            check_response(response, expect, namespaces=self.suite.namespaces, base=self.base)
            if mpl_expected is not None:
                check_status(self.mpl_for_case(), response, mpl_expected)
            if step.baseline is not None:
                note = compare_baseline(
                    response,
                    str(self.resolve(step.baseline.file, number)),
                    step.baseline.rules,
                    update=self.update_baselines,
                    base=self.base,
                )
                if note:
                    self.notes.append(note)
            for name, source in step.save.items():
                self.saved[name] = self._extract(response, name, source, number)
            where = f"step {number} ({step.name!r}): " if len(self.case.steps) > 1 else ""
            unconverted += [f"{where}not converted: {what}" for what in step.unconverted]
        if unconverted:
            # An imported assertion that no expectation checks must not leave the case green on fewer checks.
            raise ExpectationError(
                [*unconverted, "convert each into expect: (or remove it from unconverted:) to check what it checked"]
            )

    # ------------------------------------------------------------------ variables
    def lookup(self, name: str, number: int) -> Any:
        """The value of `${name}` for step `number`."""
        for scope in (self.saved, self.row or {}, self.case.variables):
            if name in scope:
                return scope[name]
        if name in self.profile:
            value = self.profile[name]
            if _SECRET_NAME.search(name):
                Secret(value)  # registered with the redactor: reports and failure views mask it
            return value
        if name in self.case.defaults:
            return self.case.defaults[name]
        known = [*self.saved, *(self.row or {}), *self.case.variables, *self.case.defaults]
        by_lower = {candidate.lower(): candidate for candidate in [*self.profile, *known]}
        close = difflib.get_close_matches(name.lower(), by_lower, n=1)
        hint = f" (did you mean {by_lower[close[0]]!r}?)" if close else ""
        raise CaseVariableError(
            f"step {number} of case {self.case.name!r} uses ${{{name}}}, which is not defined{hint}: define it under "
            "variables, as a data-table column, with save in an earlier step, or in the profile (.env.<profile>)"
        )

    def resolve(self, value: Any, number: int) -> Any:
        """`value` with every `${NAME}` replaced (recursively through lists and mappings)."""
        if isinstance(value, str):
            whole = _VARIABLE.fullmatch(value)
            if whole and whole.group(1):
                return self.lookup(whole.group(1), number)
            return _VARIABLE.sub(lambda m: _text(self.lookup(m.group(1), number)) if m.group(1) else "${", value)
        if isinstance(value, list):
            return [self.resolve(v, number) for v in value]
        if isinstance(value, Mapping):
            return {self.resolve(k, number): self.resolve(v, number) for k, v in value.items()}
        return value

    def mpl_for_case(self) -> MplClient:
        """The message-log reader (first 'api'-plan client), made on first use, its checks kept for the report."""
        if self._mpl is None:
            self._mpl = mpl_client(self.clients.registry)
            self._mpl.checked = self.mpl_checked
        return self._mpl

    # ------------------------------------------------------------------ requests
    def client_for(self, step: Step) -> IflowClient:
        """The run's client for the step's declared client, tagged with its iFlow, reporting its calls.

        `auth: none` gets a client of its own without credentials, so the call is reported as made by no
        client and no 401 is blamed on a declared client's key.
        """
        if step.auth == "none":
            client = self.clients.without_credentials(step.client, step.iflow)
            self._own_clients.append(client)
        else:
            client = self.clients.client(step.client, step.iflow)
        if self.on_call is not None:
            client.add_listener(self.on_call)
        return client

    def _send(self, step: Step, number: int) -> requests.Response:
        request = self.resolve(dict(step.request), number)
        headers = {**self.resolve(dict(self.case.headers), number), **request.get("headers", {})}
        kwargs: dict[str, Any] = {"headers": {k: _text(v) for k, v in headers.items()}}
        if "query" in request:
            kwargs["params"] = {k: _text(v) for k, v in request["query"].items()}
        if "body" in request:
            self._body(request["body"], kwargs, number)
        client = self.client_for(step)
        target = self._url(request["url"], number) if "url" in request else self._path(request.get("path"))
        return client.request(request.get("method", "GET"), target, **kwargs)

    def _url(self, url: Any, number: int) -> str:
        text = _text(url)
        if not text.startswith(("http://", "https://")):
            raise ConfigError(
                f"step {number} of case {self.case.name!r}: url {redact_text(text)!r} is not a full http(s) URL: "
                "give the scheme and host (or the variable holding them), or use path for the runtime"
            )
        return text

    def _path(self, path: str | None) -> str | None:
        if path is None or path.startswith(("/", "http://", "https://")):
            return path
        return f"{self.suite.base_path.rstrip('/')}/{path}" if self.suite.base_path else path

    def _body(self, body: Mapping[str, Any], kwargs: dict[str, Any], number: int) -> None:
        headers: dict[str, str] = kwargs["headers"]
        content_type = body.get("content_type")
        if "json" in body:
            kwargs["json"] = body["json"]
        elif "form" in body:
            kwargs["data"] = {k: _text(v) for k, v in body["form"].items()}
        elif "multipart" in body:
            # requests writes the boundary and its Content-Type header itself.
            parts: dict[str, Any] = {}
            for field_name, value in body["multipart"].items():
                if isinstance(value, Mapping):
                    path = self.base / str(value["file"])
                    parts[field_name] = (path.name, self._read(path, str(value["file"])), value.get("content_type"))
                else:
                    parts[field_name] = (None, _text(value))
            kwargs["files"] = parts
        elif "file" in body:
            path = self.base / body["file"]
            raw = self._read(path, body["file"])
            if path.suffix.lower() in _TEXT_SUFFIXES:
                raw = self.resolve(raw.decode("utf-8"), number).encode("utf-8")
            kwargs["data"] = raw
            content_type = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        else:
            kind = "xml" if "xml" in body else "text"
            kwargs["data"] = str(body[kind]).encode("utf-8")
            content_type = content_type or _DEFAULT_TYPES[kind]
        if content_type and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = content_type

    def _read(self, path: Path, named: str) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"body file {named} of case {self.case.name!r} cannot be read ({exc.strerror}): put it "
                "under fixtures/ and give its path from the project root"
            ) from None

    # ------------------------------------------------------------------ saved values
    def _extract(self, response: requests.Response, name: str, source: Mapping[str, str], number: int) -> Any:
        kind, query = next(iter(source.items()))
        query = str(self.resolve(query, number))
        where = f"save {name!r} of step {number}"
        found: list[Any]
        if kind == "json":
            found = query_json(response_json(response), query)
        elif kind == "xpath":
            found = query_xpath(response_xml(response), query, self.suite.namespaces)
        elif kind == "header":
            value = response.headers.get(query)
            found = [] if value is None else [value]
        else:
            match = re.search(query, response.text)
            found = [] if match is None else [match.group(1) if match.re.groups else match.group(0)]
        if not found:
            raise ExpectationError([f"{where}: {kind} {query!r} found nothing in the response"])
        return found[0]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return show(value, 10_000) if isinstance(value, list | dict) else str(value)
