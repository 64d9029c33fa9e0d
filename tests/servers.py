"""Tiny WSGI servers for the few answers the emulated tenant never gives (redirects, hanging, HTML tokens), and a
standing `iflowtest emulator` process for tests whose landscape must outlive a run."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from dotenv import dotenv_values
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from iflowtest.emulator import Emulator
from iflowtest.emulator.tls import EmulatorTls
from iflowtest.provisioning.cfapi import CfCredentials, CloudFoundryClient
from iflowtest.redaction import Secret

Handler = Callable[[Request], Response]


@contextmanager
def serve(handler: Handler, tls: EmulatorTls | None = None) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 port 0 in a thread (HTTPS with `tls`); yields the base URL once it answers."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/__ready":
            return Response("ready")(environ, start_response)
        return handler(request)(environ, start_response)

    context = tls.server_context() if tls else None
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}"
    try:
        requests.get(url + "/__ready", timeout=5, verify=str(tls.ca_file) if tls else True).raise_for_status()
        yield url
    finally:
        server.shutdown()
        thread.join(timeout=5)


IFLOWTEST = str(Path(sys.executable).parent / "iflowtest")  # the installed command, as a user calls it


def iflowtest(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the installed `iflowtest` command in a user's environment (plus `env`), capturing its output."""
    environ = user_environ()
    environ.update(env or {})
    return subprocess.run(
        [IFLOWTEST, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=timeout, check=False
    )


def user_environ() -> dict[str, str]:
    """This process's environment without IFLOWTEST_* settings, as a user's fresh shell would have it."""
    return {k: v for k, v in os.environ.items() if not k.startswith("IFLOWTEST_")}


READY_LINE = "press Ctrl-C to stop"  # the last line `iflowtest emulator` prints once it serves


@dataclass
class StandingEmulator:
    """An `iflowtest emulator` process serving from `folder`, with what it printed up to its readiness line."""

    process: subprocess.Popen[str]
    folder: Path
    keys: Path
    output: str = ""
    returncode: int | None = None  # once stopped
    stderr: str = ""  # once stopped

    def shown(self, label: str) -> str:
        """The value it printed after `label` ("runtime", "CA file", "cf api", ...)."""
        found = re.search(rf"^iflowtest emulator: {re.escape(label)}\s+(\S+)", self.output, re.MULTILINE)
        assert found, f"{label!r} not in:\n{self.output}"
        return found.group(1)

    @property
    def ca_file(self) -> str:
        """The CA file of its TLS folder (`verify=` for requests)."""
        return self.shown("CA file")

    def write_profile(self, name: str) -> Path:
        """Copy its landscape (`keys/cf.env`) to `.env.<name>` in its folder, as the README says; returns the file."""
        target = self.folder / f".env.{name}"
        shutil.copy(self.keys / "cf.env", target)
        return target

    @property
    def cf_profile(self) -> Path:
        """The profile of its emulated landscape it wrote (`keys/cf.env`)."""
        return self.keys / "cf.env"

    def stop(self, signum: int = signal.SIGINT, timeout: float = 30) -> int:
        """Send `signum` unless it has ended, wait for it, and keep its exit code and the rest of its stderr."""
        if self.returncode is None:
            if self.process.poll() is None:
                self.process.send_signal(signum)
            try:
                _, stderr = self.process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                _, stderr = self.process.communicate()
            self.returncode, self.stderr = self.process.returncode, stderr or ""
        return self.returncode


@contextmanager
def standing_emulator(
    folder: Path, *options: str, keys: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[StandingEmulator]:
    """`iflowtest emulator --keys-dir KEYS OPTIONS` in `folder`, in a user's environment (plus `env`), once it serves.

    Always stopped on exit (Ctrl-C, then killed after 30 s) and waited for; when the block ends without an
    error, the emulator must have ended with exit code 0 (also after a signal the block sent it).
    """
    keys = keys or folder / "keys"
    environ = user_environ()
    environ.update(env or {})
    process = subprocess.Popen(
        [IFLOWTEST, "emulator", "--keys-dir", str(keys), *options],
        cwd=folder,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    emulator = StandingEmulator(process, folder, keys)
    try:
        emulator.output = read_until_serving(process)
        if READY_LINE not in emulator.output:
            emulator.stop()
            raise AssertionError(f"iflowtest emulator did not start:\n{emulator.output}{emulator.stderr}")
        yield emulator
    except BaseException:
        emulator.stop()
        raise
    code = emulator.stop()
    assert code == 0, f"iflowtest emulator ended with {code}:\n{emulator.stderr[-3000:]}"


@contextmanager
def cloud_foundry(profile_file: Path) -> Iterator[CloudFoundryClient]:
    """A client of the Cloud Foundry V3 API a profile names, logged in as its user (read straight, no process)."""
    profile = dotenv_values(profile_file)
    client = CloudFoundryClient(
        str(profile["IFLOWTEST_CF_API"]),
        CfCredentials(str(profile["IFLOWTEST_CF_USERNAME"]), Secret(str(profile["IFLOWTEST_CF_PASSWORD"]))),
        verify=str(profile["IFLOWTEST_CA_BUNDLE"]),
    )
    try:
        yield client
    finally:
        client.close()


def instance_names(profile_file: Path) -> list[str]:
    """The service instances in the space of the landscape a profile names, oldest first."""
    with cloud_foundry(profile_file) as cf:
        return [str(i["name"]) for i in cf.list("/v3/service_instances")]


def read_until_serving(process: subprocess.Popen[str]) -> str:
    """What `iflowtest emulator` printed up to its readiness line (it prints its URLs once it serves)."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if READY_LINE in line:
            break
    return "".join(lines)


# Every role of the monitoring API the harness reads (message logs, payloads, trace, data stores and queues).
MONITOR_ROLES = (
    "MonitoringDataRead",
    "MessagePayloadsRead",
    "TraceConfigurationRead",
    "DataStoresAndQueuesRead",
    "DataStorePayloadsRead",
)


def read_tests(count: int) -> str:
    """A test module of `count` tests, each reading ReadCostCenters once through the `iflow` fixture."""
    return f"""
import pytest


@pytest.mark.iflow("ReadCostCenters")
@pytest.mark.parametrize("n", range({count}))
def test_read(iflow, n):
    assert iflow.get().status_code == 200
"""


def write_key_profile(emu: Emulator, folder: Path, profile: str) -> dict[str, dict[str, Any]]:
    """Issue keys for the sample clients and write them to `.env.<profile>`, as a user configures a tenant."""
    roles = ["ESBMessaging.send", "ESBMessaging_DE"]
    keys = {name: emu.issue_service_key(name, roles=roles) for name in ("sender", "sender_basic")}
    keys["sender_no_de"] = emu.issue_service_key("sender_no_de", roles=["ESBMessaging.send"])
    keys["monitor"] = emu.issue_service_key("monitor", plan="api", roles=list(MONITOR_ROLES))
    keys["sender_cert"] = emu.issue_service_key("sender_cert", roles=["ESBMessaging.send"], key_type="certificate")
    lines = [f"IFLOWTEST_CA_BUNDLE={emu.ca_file}"]
    lines += [f"IFLOWTEST_CLIENT_{name.upper()}_KEY='{json.dumps(key)}'" for name, key in keys.items()]
    (folder / f".env.{profile}").write_text("\n".join(lines) + "\n")
    return keys


HOSTILE_PYPROJECT = """
[tool.iflowtest]
suites = ["suites"]
default_client = "sender"
target = "tenant"

[tool.iflowtest.clients.sender]
plan = "integration-flow"
roles = ["ESBMessaging.send"]
auth = "oauth"

[tool.iflowtest.iflows.Hostile]
"""


@contextmanager
def hostile_tenant(handler: Handler, folder: Path) -> Iterator[dict[str, str]]:
    """A tenant whose iFlows answer as `handler` says (its token endpoint is well-behaved), over HTTPS.

    Yields the environment of a project in `folder` (written: pyproject.toml with one client `sender`,
    suites/) that targets it: the client's key, with a secret unique to this call, and the CA bundle.
    """
    from iflowtest.emulator.tls import create_tls

    secret = f"hostile-secret-{os.urandom(8).hex()}"
    token = "eyJhbGciOiJub25lIn0." + os.urandom(24).hex() + ".sig" + os.urandom(8).hex()

    def tenant(request: Request) -> Response:
        if request.path == "/oauth/token":
            return Response(
                json.dumps({"access_token": token, "token_type": "bearer", "expires_in": 3600}),
                content_type="application/json",
            )
        return handler(request)

    tls = create_tls(directory=folder / ".tls")
    with serve(tenant, tls) as url:
        key = {"oauth": {"clientid": "sb-hostile!b1|it-rt-hostile!b2", "clientsecret": secret, "url": url}}
        key["oauth"]["tokenurl"] = url + "/oauth/token"
        (folder / "pyproject.toml").write_text(HOSTILE_PYPROJECT)
        (folder / "suites").mkdir(exist_ok=True)
        yield {
            "IFLOWTEST_CLIENT_SENDER_KEY": json.dumps(key),
            "IFLOWTEST_CA_BUNDLE": str(tls.ca_file),
            "HOSTILE_SECRET": secret,
            "HOSTILE_TOKEN": token,
        }
