"""`iflowtest provision ...`: create, list and delete OAuth clients (it-rt instances with one key) by hand.

    iflowtest provision create NAME --out PATH [--roles ...] [--grant-types ...] [--plan ...] [--key-type ...]
    iflowtest provision list
    iflowtest provision delete NAME
    iflowtest provision cleanup [--older-than 6h]

The landscape comes from the settings (IFLOWTEST_CF_* in the environment or a profile, else the cf CLI
session). `create` writes the key with mode 0600 and never prints a secret. A mistake is one line on stderr
and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from iflowtest.calls.tlsverify import silence_insecure_warnings, warning_line
from iflowtest.errors import IflowtestError, ProvisioningError, UnreachableError
from iflowtest.files import write_private
from iflowtest.provisioning.provisioner import CLEANUP_AGE, ClientRequest, Provisioner, parse_duration, validate
from iflowtest.provisioning.runkeys import client_request, provisioner_from_settings
from iflowtest.settings import KEY_TYPES, PLANS, find_project_root, resolve_settings

USAGE_ERROR = 2
UNREACHABLE = 3  # the Cloud Foundry API or its UAA: not the user's mistake, as for `iflowtest run`


def add_parser(commands: Any, parser_class: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register `provision` and its four subcommands on the `iflowtest` parser."""
    provision: argparse.ArgumentParser = commands.add_parser(
        "provision",
        help="create, list and delete OAuth clients through the Cloud Foundry API",
        description="Manage Process Integration Runtime clients (one service instance with one key each).",
    )
    actions = provision.add_subparsers(dest="action", metavar="ACTION", parser_class=parser_class)
    create = actions.add_parser("create", help="create an instance and its key, write the key to --out")
    create.add_argument("name", help="service instance (and key) name; a declared client's name gives its defaults")
    create.add_argument("--out", type=Path, required=True, help="file for the service key (written with mode 0600)")
    create.add_argument("--roles", nargs="+", help="roles, e.g. ESBMessaging.send ESBMessaging_DE")
    create.add_argument("--grant-types", nargs="+", help="grant types (default client_credentials)")
    create.add_argument("--plan", choices=PLANS, help="service plan (default integration-flow)")
    create.add_argument("--key-type", choices=KEY_TYPES, help="key type (default secret)")
    create.add_argument("--validity", type=int, help="certificate validity in days (1-365, default 365)")
    create.add_argument("--key-length", type=int, help="certificate key length (default 2048)")
    actions.add_parser("list", help="list the service instances in the space")
    delete = actions.add_parser("delete", help="delete a service instance and its keys")
    delete.add_argument("name", help="service instance name")
    cleanup = actions.add_parser("cleanup", help="delete iflowtest-<run id>-* instances that crashed runs left")
    cleanup.add_argument(
        "--older-than", default=CLEANUP_AGE, help=f"minimum age, such as 30m, 6h or 2d (default {CLEANUP_AGE})"
    )
    for sub in (create, actions.choices["list"], delete, cleanup):
        sub.add_argument("--iflow-env", dest="env", metavar="NAME", help="profile: load .env.NAME over .env")
    return provision


def run_provision(parsed: argparse.Namespace, cwd: Path | None = None) -> int:
    """Run one `provision` action; IflowtestError becomes one line on stderr and exit code 2."""
    actions: dict[str, Callable[[argparse.Namespace, Provisioner], int]] = {
        "create": _create,
        "list": _list,
        "delete": _delete,
        "cleanup": _cleanup,
    }
    if parsed.action not in actions:
        print(
            "iflowtest: error: choose one of: create, list, delete, cleanup (see iflowtest provision --help)",
            file=sys.stderr,
        )
        return USAGE_ERROR
    provisioner: Provisioner | None = None
    undo_quiet: Callable[[], None] | None = None
    try:
        settings = resolve_settings(find_project_root(cwd or Path.cwd()), {"env": parsed.env})
        parsed.settings = settings
        if not settings.tls_verify:
            print(warning_line(settings), file=sys.stderr)  # once, instead of urllib3's warning per call
            undo_quiet = silence_insecure_warnings()
        if parsed.action == "create":
            # Everything the command line can get wrong is found before a Cloud Foundry API is looked for.
            parsed.request = _create_request(parsed)
        provisioner = provisioner_from_settings(settings)
        return actions[parsed.action](parsed, provisioner)
    except IflowtestError as exc:
        print(f"iflowtest: error: {exc}", file=sys.stderr)
        return UNREACHABLE if isinstance(exc, UnreachableError) else USAGE_ERROR
    finally:
        if provisioner is not None:
            provisioner.cf.close()
        if undo_quiet is not None:
            undo_quiet()


def _create_request(parsed: argparse.Namespace) -> ClientRequest:
    out: Path = parsed.out
    if out.exists():
        raise ProvisioningError(f"{out} exists: choose another --out or delete the file first (nothing was created)")
    if not out.parent.is_dir():
        raise ProvisioningError(f"folder {out.parent} of --out does not exist: create it first (nothing was created)")
    declared = parsed.settings.clients.get(parsed.name)
    base = client_request(declared) if declared else ClientRequest(parsed.name, where="the command line")
    request = ClientRequest(
        client=parsed.name,
        plan=parsed.plan or base.plan,
        roles=tuple(parsed.roles) if parsed.roles else base.roles,
        grant_types=tuple(parsed.grant_types) if parsed.grant_types else base.grant_types,
        key_type=parsed.key_type or base.key_type,
        validity=parsed.validity or base.validity,
        key_length=parsed.key_length or base.key_length,
        token_validity=base.token_validity,
        where="the command line" + (f" and {base.where}" if declared else ""),
    )
    validate(request, parsed.name)
    return request


def _create(parsed: argparse.Namespace, provisioner: Provisioner) -> int:
    out: Path = parsed.out
    request: ClientRequest = parsed.request
    declared = parsed.name in parsed.settings.clients
    created = provisioner.provision(request, parsed.name)
    write_private(out, json.dumps(created.credentials, indent=2) + "\n")
    print(
        f"iflowtest: created service instance {created.instance_name!r} (plan {request.plan}, roles "
        f"{', '.join(request.roles)}, {request.key_type} key) and its key; key written to {out} (mode 0600)"
    )
    print(
        f"iflowtest: load it with {parsed.settings.clients[parsed.name].env_var if declared else 'IFLOWTEST_CLIENT_<NAME>_KEY'}={out}"
    )
    return 0


def _list(parsed: argparse.Namespace, provisioner: Provisioner) -> int:
    instances = provisioner.instances(prefix="")
    if not instances:
        print("iflowtest: no service instances in the space")
    for info in instances:
        print(f"{info.name}\t{info.created_at.strftime('%Y-%m-%dT%H:%M:%SZ')}\t{info.state}")
    return 0


def _delete(parsed: argparse.Namespace, provisioner: Provisioner) -> int:
    guid = provisioner.find_instance(parsed.name)
    if guid is None:
        raise ProvisioningError(
            f"no service instance {parsed.name!r} in the space: `iflowtest provision list` shows the names"
        )
    provisioner.delete_instance(guid, parsed.name)
    print(f"iflowtest: deleted service instance {parsed.name!r} and its keys")
    return 0


def _cleanup(parsed: argparse.Namespace, provisioner: Provisioner) -> int:
    try:
        age = parse_duration(parsed.older_than)
    except ValueError as exc:
        raise ProvisioningError(f"--older-than {exc}") from None
    deleted = provisioner.cleanup(age)
    for name in deleted:
        print(f"iflowtest: deleted {name}")
    print(f"iflowtest: {len(deleted)} leftover instance(s) older than {parsed.older_than} deleted")
    return 0
