"""Newman against the imported suite: the same collection, the same emulator, 1000 requests with a status test each.

    python bench/newman.py [--requests 1000]

Starts one `Emulator` (plain HTTP on 127.0.0.1: Newman has no option for a CA file, only `--insecure`),
issues one service key, and runs the same work twice, each side in its own process:

- *Newman*: a one-request collection (Basic auth, `pm.response.to.have.status(200)`) with a data file of
  N rows, so Newman makes N requests with N status tests (`newman run -d rows.csv`);
- *iflowtest*: the same collection and data file after `iflowtest import-postman`, run by `python -m pytest`
  as the `tenant` target with the key in `IFLOWTEST_CLIENT_POSTMAN_BASIC_KEY`: N tests of one call each.

Wall time is the whole process (start-up included, on both sides); peak memory is the process's maximum
resident set from `os.wait4`. The emulator's counters prove both sides made the same N runtime calls.
Newman is installed once with npm into `bench/node_modules/` (git-ignored). The parity test
(`tests/test_postman_parity.py`) uses `ensure_newman` and `run_newman` from here.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "bench" / "node_modules"
NEWMAN = NODE_MODULES / "newman" / "bin" / "newman.js"
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "suites"]
V21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


@dataclass
class ProcessRun:
    """One measured process: exit code, wall seconds, peak resident memory (MiB) and its output."""

    returncode: int
    wall_s: float
    peak_mib: float
    output: str


@functools.cache  # one attempt per process: without a registry, npm would make every caller wait again
def ensure_newman() -> tuple[Path | None, str]:
    """Newman's entry script, installed into bench/node_modules on first use; (None, why) where it cannot be."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None, f"Newman needs Node.js and npm on PATH ({'node' if node is None else 'npm'} is missing)"
    if not NEWMAN.is_file():
        try:
            done = subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(NODE_MODULES.parent),
                    "--no-save",
                    "--no-package-lock",
                    "--no-audit",
                    "--no-fund",
                    "--fetch-retries=1",
                    "--fetch-timeout=30000",
                    "newman@6",
                ],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None, "npm could not install newman within 300 s (no registry reachable?)"
        if done.returncode != 0 or not NEWMAN.is_file():
            return None, f"npm could not install newman (exit {done.returncode}): {done.stderr.strip()[-300:]}"
    return NEWMAN, ""


def measure(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> ProcessRun:
    """Run a command, timing its wall clock and reading its peak RSS from the kernel's per-child accounting."""
    log = cwd / f"output-{time.monotonic_ns()}.log"
    with log.open("w") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return ProcessRun(process.returncode, wall, usage.ru_maxrss / 1024, log.read_text(errors="replace"))


def run_newman(
    newman: Path,
    collection: Path,
    workdir: Path,
    environment: dict[str, str],
    data: Path | None = None,
    *,
    per_request: bool = True,
) -> tuple[ProcessRun, list[tuple[str, int, bool]]]:
    """Run a collection with Newman; per request (item name, iteration, all its tests passed).

    Without `per_request` Newman runs silent and only its exit code tells (0: every test passed): its JSON
    reporter cannot serialise the summary of a thousand iterations ("RangeError: Invalid string length").
    """
    env_file = workdir / "newman.postman_environment.json"
    env_file.write_text(
        json.dumps(
            {"name": "bench", "values": [{"key": k, "value": v, "enabled": True} for k, v in environment.items()]}
        )
    )
    export = workdir / "newman-report.json"
    command = [shutil.which("node") or "node", str(newman), "run", str(collection), "-e", str(env_file)]
    command += ["-d", str(data)] if data else []
    command += ["--insecure"]
    command += ["-r", "json", "--reporter-json-export", str(export)] if per_request else ["--silent"]
    run = measure(command, workdir)
    if not per_request:
        return run, []
    if not export.is_file():
        raise RuntimeError(f"newman wrote no report (exit {run.returncode}):\n{run.output[-2000:]}")
    executions = json.loads(export.read_text())["run"]["executions"]
    results = [
        (e["item"]["name"], e["cursor"]["iteration"], not any(a.get("error") for a in e.get("assertions") or []))
        for e in executions
    ]
    return run, results


def status_collection(path: Path) -> Path:
    """One GET with Basic auth and a status test, run once per data row."""
    test = ['pm.test("Status code is 200", function () {', "    pm.response.to.have.status(200);", "});"]
    path.write_text(
        json.dumps(
            {
                "info": {"name": "status", "schema": V21},
                "auth": {
                    "type": "basic",
                    "basic": [
                        {"key": "username", "value": "{{clientid}}"},
                        {"key": "password", "value": "{{clientsecret}}"},
                    ],
                },
                "item": [
                    {
                        "name": "read cost centers",
                        "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": test}}],
                        "request": {
                            "method": "GET",
                            "header": [{"key": "Accept", "value": "application/json"}],
                            "url": "{{baseUrl}}/http/costcenters?companyCode={{companyCode}}",
                        },
                    }
                ],
            }
        )
    )
    return path


def imported_project(project: Path, collection: Path, data: Path | None, environment: Path | None = None) -> Path:
    """A throw-away project holding the imported suite and its clients, for the `tenant` target."""
    from iflowtest.postman_import import import_collection

    project.mkdir(parents=True, exist_ok=True)
    base = '[tool.iflowtest]\nsuites = ["suites"]\ndefault_client = "postman_basic"\n'
    (project / "pyproject.toml").write_text(base)
    out = project / "suites" / "imported"
    import_collection(collection, out, environment=environment, data=data)
    (project / "pyproject.toml").write_text(base + "\n" + (out / "clients.toml").read_text())
    return out


def tenant_environment(key: dict[str, Any], clients: list[str]) -> dict[str, str]:
    """Process environment for a `tenant` run where every client uses `key`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IFLOWTEST_")}
    env["IFLOWTEST_TARGET"] = "tenant"
    for client in clients:
        env[f"IFLOWTEST_CLIENT_{client.upper()}_KEY"] = json.dumps(key)
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers of the third row (0: no row)")
    args = parser.parse_args(argv)
    newman, why = ensure_newman()
    if newman is None:
        print(f"skipped: {why}")
        return 0
    import tempfile

    from iflowtest.emulator import Emulator

    with tempfile.TemporaryDirectory(prefix="iflowtest-newman-") as tmp, Emulator(tls=False) as emulator:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        key = emulator.issue_service_key("postman_basic")
        data = work / "rows.csv"
        with data.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["companyCode"])
            writer.writerows([[("1010", "1710", "1510")[i % 3]] for i in range(args.requests)])
        collection = status_collection(work / "status.postman_collection.json")
        project = work / "project"
        imported_project(project, collection, data)
        oauth = key["oauth"]

        before = emulator.counters.calls()
        newman_run, _ = run_newman(
            newman,
            collection,
            work,
            {"baseUrl": oauth["url"], "clientid": oauth["clientid"], "clientsecret": oauth["clientsecret"]},
            data,
            per_request=False,
        )
        newman_calls = emulator.counters.calls() - before
        before = emulator.counters.calls()
        ours = measure(
            PYTEST,
            project,
            tenant_environment(key, ["postman_basic"]),
        )
        our_calls = emulator.counters.calls() - before
        parallel = None
        if args.workers:
            before = emulator.counters.calls()
            parallel = measure(
                [*PYTEST, "-n", str(args.workers)],
                project,
                tenant_environment(key, ["postman_basic"]),
            )
            if emulator.counters.calls() - before != args.requests or parallel.returncode != 0:
                print(f"unequal work with -n {args.workers}:\n{parallel.output[-3000:]}")
                return 1
    if (
        newman_calls != args.requests
        or our_calls != args.requests
        or newman_run.returncode != 0
        or ours.returncode != 0
    ):
        print(
            f"unequal work: newman {newman_calls} calls, exit {newman_run.returncode}; iflowtest {our_calls} calls, exit {ours.returncode}"
        )
        print(ours.output[-3000:])
        return 1
    print("| side | requests | wall s | peak RSS MiB |\n|---|---|---|---|")
    print(f"| Newman | {args.requests} | {newman_run.wall_s:.2f} | {newman_run.peak_mib:.0f} |")
    print(f"| iflowtest (imported suite) | {args.requests} | {ours.wall_s:.2f} | {ours.peak_mib:.0f} |")
    if parallel is not None:
        row = f"| iflowtest, pytest -n {args.workers} | {args.requests} | {parallel.wall_s:.2f} | {parallel.peak_mib:.0f} |"
        print(row)
    print(
        f"\nNewman / iflowtest wall time: {newman_run.wall_s / ours.wall_s:.2f}×; "
        f"peak memory: {newman_run.peak_mib / ours.peak_mib:.2f}×"
        + (f"; with -n {args.workers}: {newman_run.wall_s / parallel.wall_s:.2f}×" if parallel else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
