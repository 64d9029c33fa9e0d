"""Parity with Newman: each collection of `bench/postman_corpus/` run by Newman and, imported, by iflowtest.

    python bench/parity.py            # prints the table and rewrites it in bench/README.md
    python bench/parity.py --check    # exits 1 unless the targets hold (for CI-like use)

Starts one `Emulator` (plain HTTP: Newman has no option for a CA file), issues one service key, and per
collection:

- *Newman* runs it with an environment of `baseUrl`, `clientid`, `clientsecret` and `companyCode` (its JSON
  reporter gives, per item, the request sent, every assertion and any script error);
- *iflowtest* imports it (`import_collection`), then runs the suite with pytest as the `tenant` target, the same
  key for every client the import declared and the same four values in the process environment; a small
  conftest records each case's calls and outcome.

Per item the table shows: Newman's verdict (an item fails on a failed assertion or a script error), the
imported case's verdict, whether the same request was sent (method, path and decoded query), and how many of
the item's Postman assertions were converted. "Same verdict" is required where every assertion converted;
where some did not, the imported case fails by design (`unconverted:`), and the row says so.
Newman's verdicts are also written to `bench/postman_corpus/newman-verdicts.json`, so the tests can hold the
imported suite to them where Node.js is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from newman import ensure_newman

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "bench" / "postman_corpus"
README = ROOT / "bench" / "README.md"
VERDICTS = CORPUS / "newman-verdicts.json"
START, END = "<!-- parity table: start (bench/parity.py writes it) -->", "<!-- parity table: end -->"
TARGET_CONVERTED = 0.95
# Records each YAML case's calls and outcome for the comparison (the imported project's conftest).
CONFTEST = """
import json, os
import pytest
from iflowtest.stash import CALLS_KEY

RESULTS = []

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        case = getattr(item, "case", None)
        RESULTS.append({
            "steps": [s.name for s in case.steps] if case else [item.name],
            "unconverted": [bool(s.unconverted) for s in case.steps] if case else [False],
            "outcome": report.outcome,
            "calls": [[r.method, r.url, r.status] for r in item.stash.get(CALLS_KEY, [])],
            "message": str(report.longrepr)[-600:] if report.failed else "",
        })
    return report

def pytest_sessionfinish(session):
    with open(os.environ["PARITY_RESULTS"], "w") as handle:
        json.dump(RESULTS, handle)
"""


@dataclass
class ItemResult:
    """One collection item on both sides."""

    collection: str
    item: str
    newman_ok: bool | None = None
    newman_request: tuple[str, str, tuple[tuple[str, str], ...]] | None = None
    newman_why: str = ""
    ours_ok: bool | None = None
    ours_request: tuple[str, str, tuple[tuple[str, str], ...]] | None = None
    ours_why: str = ""
    assertions: int = 0
    converted: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def fully_converted(self) -> bool:
        return self.converted == self.assertions

    @property
    def same_request(self) -> bool:
        return self.newman_request is not None and self.newman_request == self.ours_request

    @property
    def same_verdict(self) -> bool:
        return self.newman_ok is not None and self.newman_ok == self.ours_ok


def request_key(method: str, path: str, query: list[tuple[str, str]]) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """What makes two requests the same here: method, decoded path, decoded query pairs in order."""
    return method.upper(), unquote(path), tuple((unquote(k), unquote(v)) for k, v in query)


def newman_side(newman: Path, collection: Path, work: Path, environment: dict[str, str]) -> dict[str, ItemResult]:
    """Run one collection with Newman; per item name its verdict and request."""
    env_file = work / "parity.postman_environment.json"
    env_file.write_text(
        json.dumps(
            {"name": "parity", "values": [{"key": k, "value": v, "enabled": True} for k, v in environment.items()]}
        )
    )
    export = work / f"{collection.stem}.newman.json"
    command = [shutil.which("node") or "node", str(newman), "run", str(collection), "-e", str(env_file)]
    command += ["-r", "json", "--reporter-json-export", str(export)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if not export.is_file():
        raise RuntimeError(
            f"newman wrote no report for {collection.name} (exit {done.returncode}): {done.stderr[-1500:]}"
        )
    results: dict[str, ItemResult] = {}
    for execution in json.loads(export.read_text())["run"]["executions"]:
        name = execution["item"]["name"]
        result = results.setdefault(name, ItemResult(collection.stem, name))
        failed = [
            f"{a['assertion']}: {a['error']['message']}" for a in execution.get("assertions") or [] if a.get("error")
        ]
        errors = [
            f"{kind} error: {s['error']['message']}"
            for kind in ("prerequestScript", "testScript")
            for s in execution.get(kind) or []
            if s.get("error")
        ]
        if execution.get("requestError"):
            errors.append(f"request error: {execution['requestError'].get('message')}")
        result.newman_ok = not failed and not errors
        result.newman_why = "; ".join([*failed, *errors])[:300]
        url = execution["request"]["url"]
        path = "/" + "/".join(url.get("path") or [])
        query = [(q["key"], q.get("value") or "") for q in url.get("query") or [] if not q.get("disabled")]
        result.newman_request = request_key(execution["request"]["method"], path, query)
    return results


def iflowtest_side(
    collection: Path, work: Path, key: dict[str, Any], environment: dict[str, str], results: dict[str, ItemResult]
) -> None:
    """Import one collection and run it; fill in our verdict, request and conversion counts per item."""
    from iflowtest.postman.importer import import_collection

    project = work / collection.stem
    project.mkdir(parents=True, exist_ok=True)
    base = '[tool.iflowtest]\nsuites = ["suites"]\n'
    (project / "pyproject.toml").write_text(base)
    out = project / "suites" / collection.stem.split(".")[0]
    imported = import_collection(collection, out)
    clients_file = out / "clients.toml"
    clients_text = clients_file.read_text() if clients_file.is_file() else ""
    clients = list(tomllib.loads(clients_text).get("tool", {}).get("iflowtest", {}).get("clients", {}))
    default = f'default_client = "{clients[0]}"\n' if clients else ""
    (project / "pyproject.toml").write_text(base + default + "\n" + clients_text)
    (project / "conftest.py").write_text(CONFTEST)
    for report in imported.items:
        name = report.label.rsplit(" / ", 1)[-1]
        result = results.setdefault(name, ItemResult(collection.stem, name))
        result.assertions, result.converted = report.assertions, report.converted
    output = work / f"{collection.stem}.ours.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IFLOWTEST_")}
    env |= environment | {"IFLOWTEST_TARGET": "tenant", "PARITY_RESULTS": str(output)}
    for client in clients:
        env[f"IFLOWTEST_CLIENT_{client.upper()}_KEY"] = json.dumps(key)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    command += ["-p", "no:hypothesispytest", "suites"]
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False)
    if not output.is_file():
        raise RuntimeError(
            f"the imported {collection.name} did not run (exit {done.returncode}): {done.stdout[-2000:]}"
        )
    for case in json.loads(output.read_text()):
        _case_into_items(case, results)


def _case_into_items(case: dict[str, Any], results: dict[str, ItemResult]) -> None:
    """A case's outcome and calls, spread over the items it holds (one per step)."""
    steps, calls, passed = case["steps"], case["calls"], case["outcome"] == "passed"
    failing = None
    if not passed:
        if len(calls) < len(steps):
            failing = max(len(calls) - 1, 0)  # the step whose call was the last made
        else:
            marked = [i for i, u in enumerate(case["unconverted"]) if u]
            failing = marked[0] if marked else len(steps) - 1
    for index, step in enumerate(steps):
        name = step.rsplit(" (", 1)[0] if step not in results else step
        result = results.setdefault(name, ItemResult("?", name))
        if index < len(calls):
            method, url, _status = calls[index]
            parts = urlsplit(url)
            result.ours_request = request_key(method, parts.path, parse_qsl(parts.query, keep_blank_values=True))
        if index == failing:
            result.ours_ok, result.ours_why = False, " ".join(case["message"].split())[-300:]
        elif failing is not None and index > failing:
            result.ours_ok, result.ours_why = False, "not run: an earlier step of its case failed"
        else:
            result.ours_ok = True


def run(corpus: Path = CORPUS) -> list[ItemResult]:
    """Both sides over every collection of the corpus."""
    newman, why = ensure_newman()
    if newman is None:
        raise RuntimeError(f"skipped: {why}")
    from iflowtest.emulator import Emulator

    rows: list[ItemResult] = []
    with tempfile.TemporaryDirectory(prefix="iflowtest-parity-") as tmp, Emulator(tls=False) as emulator:
        key = emulator.issue_service_key("postman")
        oauth = key["oauth"]
        environment = {
            "baseUrl": oauth["url"],
            "clientid": oauth["clientid"],
            "clientsecret": oauth["clientsecret"],
            "companyCode": "1010",
        }
        for collection in sorted(corpus.glob("*.postman_collection.json")):
            work = Path(tmp) / collection.stem
            work.mkdir()
            results = newman_side(newman, collection, work, environment)
            iflowtest_side(collection, work, key, environment, results)
            rows.extend(results.values())
    return rows


def table(rows: list[ItemResult]) -> str:
    """The parity table in markdown, with the totals and the two targets."""
    lines = [
        "| collection | item | Newman | iflowtest | same request | assertions converted | same verdict |",
        "|---|---|---|---|---|---:|---|",
    ]
    for r in rows:
        verdict = "yes" if r.same_verdict else "no" if r.fully_converted else "no (not all converted: fails by design)"
        lines.append(
            f"| {r.collection.removesuffix('.postman_collection')} | {r.item} | {_ok(r.newman_ok)} | {_ok(r.ours_ok)} | "
            f"{'yes' if r.same_request else 'no'} | {r.converted}/{r.assertions} | {verdict} |"
        )
    total = sum(r.assertions for r in rows)
    converted = sum(r.converted for r in rows)
    full = [r for r in rows if r.fully_converted]
    same = [r for r in full if r.same_verdict]
    requests = sum(r.same_request for r in rows)
    failing = sum(1 for r in rows if r.newman_ok is False)
    lines += [
        "",
        f"Items: {len(rows)} ({failing} fail in Newman); same request sent: {requests} of {len(rows)}.",
        f"Items whose assertions all converted: {len(full)}; of those with Newman's verdict: {len(same)} "
        f"(target: all).",
        f"Assertions converted: {converted} of {total} ({converted / max(total, 1):.1%}; target: "
        f"{TARGET_CONVERTED:.0%}).",
    ]
    return "\n".join(lines)


def _ok(value: bool | None) -> str:
    return "pass" if value else "fail" if value is False else "—"


def targets_met(rows: list[ItemResult]) -> bool:
    """Every fully converted item has Newman's verdict, the same requests, and 95 % of assertions converted."""
    total = sum(r.assertions for r in rows)
    converted = sum(r.converted for r in rows)
    return (
        all(r.same_verdict for r in rows if r.fully_converted)
        and all(r.same_request for r in rows)
        and converted >= TARGET_CONVERTED * total
    )


def write_readme(text: str, readme: Path = README) -> None:
    """Put the table between its markers in bench/README.md (added at the end the first time)."""
    current = readme.read_text()
    block = f"{START}\n{text}\n{END}"
    if START in current and END in current:
        head, _, rest = current.partition(START)
        _, _, tail = rest.partition(END)
        current = head + block + tail
    else:
        current = current.rstrip("\n") + "\n\n" + block + "\n"
    readme.write_text(current)


def write_verdicts(rows: list[ItemResult], path: Path = VERDICTS) -> None:
    """Newman's verdict per collection and item, for the tests that run the imported corpus without Node.js."""
    verdicts: dict[str, dict[str, bool | None]] = {}
    for r in rows:
        verdicts.setdefault(r.collection, {})[r.item] = r.newman_ok
    path.write_text(json.dumps(verdicts, indent=2, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 unless the targets hold; leave the README")
    args = parser.parse_args(argv)
    try:
        rows = run()
    except RuntimeError as error:
        print(error)
        return 0 if str(error).startswith("skipped") else 1
    text = table(rows)
    print(text)
    if not args.check:
        write_readme(text)
        write_verdicts(rows)
    return 0 if targets_met(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
