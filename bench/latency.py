"""A latency-bound nightly: N calls that each take 200 ms on the tenant, serial against -n 4 and -n 8 and Newman.

    python bench/latency.py [--requests 1000] [--latency 0.2] [--workers 4,8] [--no-newman] [--write]

One `Emulator` (plain HTTP on 127.0.0.1, as bench/newman.py: Newman has no CA option) answers every call
of the `ReadCostCenters` flow only after an injected latency of 200 ms, as a slow tenant would. The same
Postman collection and data file (N rows, one GET with a status test each) run as:

- Newman (serial: it has no parallel mode), `newman run -d rows.csv`;
- the imported suite (`iflowtest import-postman`) under `python -m pytest`, serially, with `-n 4` and `-n 8`.

Each side is its own process, timed whole (start-up included); the emulator's counters prove that every side
made exactly N runtime calls, and every test and Newman assertion must pass. The targets (issue 19): `-n 8` at
least 6x faster than the serial run, and at least 6x faster than Newman. The import declares the iterations
independent (no request saves a value), so each data row is a work unit of its own under `-n`.
`tests/test_bench_latency.py` runs it small (a few calls, `-n 2`, no Newman) so that it stays runnable. The emulator keeps connections
alive and serves up to 16 requests at once, so 8 workers are never queued on the server.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Final

from iflowtest.emulator import Emulator
from newman import (
    PYTEST,
    Sides,
    ensure_newman,
    imported_project,
    measure,
    run_newman,
    status_collection,
    tenant_environment,
    write_rows,
)
from overhead import write_readme

START: Final = "<!-- latency:results:start -->"
END: Final = "<!-- latency:results:end -->"
TARGET: Final = 6.0


def main(argv: list[str] | None = None) -> int:
    """Run every side once and print (and with --write record) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds each call waits on the tenant")
    parser.add_argument("--workers", default="4,8", help="the -n values to run, comma-separated; the last is compared")
    parser.add_argument("--no-newman", action="store_true", help="leave Newman out (it needs npm to install)")
    parser.add_argument("--write", action="store_true", help="update the results section of bench/README.md")
    args = parser.parse_args(argv)
    workers = [int(n) for n in args.workers.split(",")]
    newman, why = (None, "left out with --no-newman") if args.no_newman else ensure_newman()
    walls: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="iflowtest-latency-") as tmp, Emulator(tls=False) as emulator:
        work = Path(tmp)
        key = emulator.issue_service_key("postman_basic")
        oauth = key["oauth"]
        collection = status_collection(work / "status.postman_collection.json")
        sides = Sides(
            emulator,
            newman or Path(),
            collection,
            {"baseUrl": oauth["url"], "clientid": oauth["clientid"], "clientsecret": oauth["clientsecret"]},
            tenant_environment(key),
        )
        data = write_rows(work / "rows.csv", args.requests)
        project = work / "project"
        imported_project(project, collection, data)
        emulator.inject("ReadCostCenters", latency=args.latency)
        commands: list[tuple[str, list[str] | None]] = [("iflowtest, serial", PYTEST)]
        commands += [(f"iflowtest, -n {n}", [*PYTEST, "-n", str(n)]) for n in workers]
        if newman is not None:
            commands.append(("Newman (serial)", None))
        for side, command in commands:
            before = emulator.counters.calls()
            if command is None:
                run, _ = run_newman(newman, collection, work, sides.newman_env, data, per_request=False)  # type: ignore[arg-type]
            else:
                run = measure(command, project, sides.process_env)
            calls = emulator.counters.calls() - before
            if calls != args.requests or run.returncode != 0:
                print(f"unequal work: {side} made {calls} calls, exit {run.returncode}:\n{run.output[-3000:]}")
                return 1
            walls[side] = run.wall_s
            print(f"{side}: {run.wall_s:.1f} s", file=sys.stderr)
    compared = f"iflowtest, -n {workers[-1]}"
    fastest = walls[compared]
    lines = [
        f"{args.requests} calls, {args.latency * 1000:.0f} ms injected latency each, one run per side, whole-process "
        "wall time:",
        "",
        f"| side | wall s | -n {workers[-1]} faster by |",
        "|---|---:|---:|",
    ]
    for side, wall in walls.items():
        ratio = wall / fastest
        mark = "" if side.startswith("iflowtest, -n") else (" ✓" if ratio >= TARGET else " ✗")
        lines.append(f"| {side} | {wall:.1f} | {ratio:.2f}×{mark} |")
    if newman is None:
        lines += ["", f"Newman skipped: {why}"]
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_readme(table, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
