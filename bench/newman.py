"""Newman against the imported suite: the same collection, the same emulator, 1000 requests with a status test each.

    python bench/newman.py [--requests 1000]

Starts one `Emulator` (plain HTTP on 127.0.0.1: Newman has no option for a CA file, only `--insecure`),
issues one service key, and runs the same work twice, each side in its own process:

- *Newman*: a one-request collection (Basic auth, `pm.response.to.have.status(200)`) with a data file of
  N rows, so Newman makes N requests with N status tests (`newman run -d rows.csv`);
- *iflowtest*: the same collection and data file after `iflowtest import-postman`, run by `python -m pytest`
  as the `tenant` target with the environment's values (baseUrl, clientid, clientsecret): N tests of one call each.

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
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "bench" / "node_modules"
NEWMAN = NODE_MODULES / "newman" / "bin" / "newman.js"
# hypothesis is one of iflowtest's test dependencies, not a user's: its pytest plugin imports all of
# hypothesis at the end of every run (~0.5 s), which a user's install never pays.
PYTEST = [
    sys.executable,
    *("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:hypothesispytest", "suites"),
]
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
    from iflowtest.postman.importer import import_collection

    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text('[tool.iflowtest]\nsuites = ["suites"]\n')
    out = project / "suites" / "imported"
    import_collection(collection, out, environment=environment, data=data)
    clients = (out / "clients.toml").read_text()
    first = clients.split("[tool.iflowtest.clients.", 1)[1].split("]", 1)[0]  # the collection's Basic client
    base = f'[tool.iflowtest]\nsuites = ["suites"]\ndefault_client = "{first}"\n'
    (project / "pyproject.toml").write_text(base + "\n" + clients)
    return out


def tenant_environment(key: dict[str, Any]) -> dict[str, str]:
    """Process environment for a `tenant` run: the Postman environment's values, taken from `key`.

    The imported clients take url, client id, secret and token URL from these variables, as Newman does.
    """
    # PYTHONDONTWRITEBYTECODE (set machine-wide on the sandbox) would make every run recompile every
    # module; a user's machine caches bytecode, so the measured runs do too.
    env = {k: v for k, v in os.environ.items() if not k.startswith("IFLOWTEST_") and k != "PYTHONDONTWRITEBYTECODE"}
    oauth = key["oauth"]
    env["IFLOWTEST_TARGET"] = "tenant"
    env |= {"baseUrl": oauth["url"], "tokenUrl": oauth["tokenurl"], "clientid": oauth["clientid"]}
    env["clientsecret"] = oauth["clientsecret"]
    return env


def write_rows(path: Path, count: int) -> Path:
    """A data file of `count` company codes, one request per row."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["companyCode"])
        writer.writerows([[("1010", "1710", "1510")[i % 3]] for i in range(count)])
    return path


@dataclass
class Sides:
    """Everything one side-by-side round needs: the emulator, Newman, and each side's inputs."""

    emulator: Any
    newman: Path
    collection: Path
    newman_env: dict[str, str]
    process_env: dict[str, str]


def one_round(sides: Sides, work: Path, requests: int, workers: int) -> dict[str, ProcessRun]:
    """Newman, the imported suite and (workers > 0) the suite under pytest -n; each checked for equal work."""
    data = write_rows(work / f"rows-{requests}.csv", requests)
    project = work / f"project-{requests}"
    if not project.exists():
        imported_project(project, sides.collection, data)
    runs: dict[str, ProcessRun] = {}
    commands: list[tuple[str, list[str] | None]] = [("Newman", None), ("iflowtest (imported suite)", PYTEST)]
    if workers:
        commands.append((f"iflowtest, pytest -n {workers}", [*PYTEST, "-n", str(workers)]))
    for side, command in commands:
        before = sides.emulator.counters.calls()
        if command is None:
            run, _ = run_newman(sides.newman, sides.collection, work, sides.newman_env, data, per_request=False)
        else:
            run = measure(command, project, sides.process_env)
        calls = sides.emulator.counters.calls() - before
        if calls != requests or run.returncode != 0:
            raise RuntimeError(f"unequal work: {side} made {calls} calls, exit {run.returncode}:\n{run.output[-3000:]}")
        runs[side] = run
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="measured rounds; the table shows their median")
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
        oauth = key["oauth"]
        sides = Sides(
            emulator,
            newman,
            status_collection(work / "status.postman_collection.json"),
            {"baseUrl": oauth["url"], "clientid": oauth["clientid"], "clientsecret": oauth["clientsecret"]},
            tenant_environment(key),
        )
        try:
            # A warm-up round of 10 requests: disk caches and Python's bytecode cache filled for both sides,
            # as on a machine that runs the suite every night.
            one_round(sides, work, 10, args.workers)
            rounds = [one_round(sides, work, args.requests, args.workers) for _ in range(args.repeat)]
        except RuntimeError as error:
            print(error)
            return 1
    print(f"median of {args.repeat} rounds; every round's wall seconds in brackets\n")
    print("| side | requests | wall s | peak RSS MiB |\n|---|---:|---|---:|")
    medians: dict[str, float] = {}
    for side in rounds[0]:
        walls = [r[side].wall_s for r in rounds]
        medians[side] = statistics.median(walls)
        peak = statistics.median(r[side].peak_mib for r in rounds)
        print(
            f"| {side} | {args.requests} | {medians[side]:.2f} ({', '.join(f'{w:.2f}' for w in walls)}) | {peak:.0f} |"
        )
    ours = "iflowtest (imported suite)"
    ratios = [r["Newman"].wall_s / r[ours].wall_s for r in rounds]
    memory = statistics.median(r["Newman"].peak_mib / r[ours].peak_mib for r in rounds)
    print(
        f"\nNewman / iflowtest wall time: {medians['Newman'] / medians[ours]:.2f}x "
        f"(per round: {', '.join(f'{x:.2f}x' for x in ratios)}); peak memory: {memory:.2f}x lower"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
