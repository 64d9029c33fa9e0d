"""Newman's semantics in an imported suite, each rule run over real HTTP: the emulated tenant, and a second host.

Variable precedence (collection < environment < data < saved), full URLs to other hosts, URLs that are one
variable, variables defined nowhere, multipart form-data, `pm.sendRequest` as a preceding step, clients that
take the Postman environment's values, and a run that needs keys only for the clients it uses.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from iflowtest.emulator import Emulator
from iflowtest.postman.importer import import_collection

ROOT = Path(__file__).resolve().parents[2]
V21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
BASIC = {
    "type": "basic",
    "basic": [{"key": "username", "value": "{{clientid}}"}, {"key": "password", "value": "{{clientsecret}}"}],
}
RUN = ("-p", "no:hypothesispytest", "-p", "no:randomly")


class OtherHost:
    """A second HTTP server on loopback (another host than the CPI runtime) that records what it was sent."""

    def __init__(self) -> None:
        seen: list[dict[str, Any]] = []
        self.seen = seen

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
                answer = json.dumps({"token": "t0k3n-from-other-host", "path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OtherHost:
        self.thread.start()  # serve_forever answers as soon as the socket is bound, which it is already
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def other_host() -> Iterator[OtherHost]:
    with OtherHost() as host:
        yield host


def item(name: str, request: Any, tests: list[str] | None = None, pre: list[str] | None = None) -> dict[str, Any]:
    events = [{"listen": "test", "script": {"exec": tests or []}}]
    if pre:
        events.append({"listen": "prerequest", "script": {"exec": pre}})
    return {"name": name, "request": request, "event": events}


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def environment(path: Path, values: dict[str, str]) -> Path:
    return write(path, {"name": "env", "values": [{"key": k, "value": v, "enabled": True} for k, v in values.items()]})


def imported_project(pytester: pytest.Pytester, content: dict[str, Any], env: dict[str, str], **options: Any) -> Path:
    """Import `data` with environment `env` into the sample project, its clients declared and `.env` filled."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    (pytester.path / "pyproject.toml").write_text(pyproject)
    out = pytester.path / "suites" / "pm"
    import_collection(
        write(pytester.path / "c.json", content), out, environment=environment(pytester.path / "e.json", env), **options
    )
    clients = out / "clients.toml"
    (pytester.path / "pyproject.toml").write_text(pyproject + "\n" + (clients.read_text() if clients.exists() else ""))
    (pytester.path / ".env").write_text((out / ".env.example").read_text())
    return out


def cases(out: Path) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for p in sorted(out.rglob("*.iflow.yaml")) for c in yaml.safe_load(p.read_text())["cases"]}


def test_precedence_is_globals_then_collection_then_environment_then_data(pytester: pytest.Pytester) -> None:
    data = {
        "info": {"name": "precedence", "schema": V21},
        "auth": BASIC,
        "variable": [{"key": "company", "value": "9999"}, {"key": "expected", "value": "9999"}],
        "item": [
            item(
                "environment over collection",
                "{{baseUrl}}/http/costcenters?companyCode={{company}}",
                ['pm.expect(pm.response.text()).to.include(pm.variables.get("expected"));'],
            ),
            item(
                "data over environment",
                "{{baseUrl}}/http/costcenters?companyCode={{code}}",
                ['pm.expect(pm.response.text()).to.include("1710");'],
            ),
        ],
    }
    (pytester.path / "rows.json").write_text(json.dumps([{"code": "1710"}]))
    globals_file = environment(pytester.path / "g.json", {"company": "8888", "region": "EU"})
    env = {"company": "1010", "expected": "1010", "code": "1010"}
    out = imported_project(pytester, data, env, data=pytester.path / "rows.json", globals_file=globals_file)

    defaults = yaml.safe_load((out / "precedence.iflow.yaml").read_text())["defaults"]
    assert defaults == {"company": "9999", "region": "EU", "expected": "9999"}  # globals below the collection
    result = pytester.runpytest_inprocess("suites", *RUN)

    # The collection says 9999 (no such company code): the environment's 1010 and the data row's 1710 win.
    result.assert_outcomes(passed=2)


def test_other_hosts_stay_full_urls_and_a_url_in_one_variable_resolves(
    pytester: pytest.Pytester, other_host: OtherHost
) -> None:
    data = {
        "info": {"name": "hosts", "schema": V21},
        "auth": BASIC,
        "item": [
            item("runtime", "{{baseUrl}}/http/costcenters?companyCode=1010", ["pm.response.to.have.status(200);"]),
            item(
                "other host",
                {"method": "GET", "url": f"{other_host.url}/status?x=1"},
                ["pm.response.to.have.status(200);"],
            ),
            item("one variable", "{{statusUrl}}", ["pm.response.to.have.status(200);"]),
        ],
    }
    out = imported_project(pytester, data, {"statusUrl": f"{other_host.url}/from-variable", "baseUrl": "https://x"})

    found = cases(out)
    assert found["runtime"]["request"]["path"] == "/http/costcenters"
    assert found["other host"]["request"]["url"] == f"{other_host.url}/status"
    assert found["one variable"]["request"] == {"method": "GET", "url": "${statusUrl}"}
    report = (out / "CONVERSION.md").read_text()
    assert f"Kept as full URLs (another host than the CPI runtime): other host: `{other_host.url}/status`" in report
    result = pytester.runpytest_inprocess("suites", *RUN)

    result.assert_outcomes(passed=3)
    assert [s["path"] for s in other_host.seen] == ["/status?x=1", "/from-variable"]


def test_variables_defined_nowhere_are_listed(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    data = {
        "info": {"name": "undefined", "schema": V21},
        "variable": [{"key": "known", "value": "1"}],
        "item": [item("a", {"method": "GET", "url": "{{baseUrl}}/http/a?k={{known}}&m={{nowhere}}&g={{$guid}}"})],
    }
    out = tmp_path / "suites" / "u"

    import_collection(write(tmp_path / "c.json", data), out, environment=environment(tmp_path / "e.json", {"env": "1"}))

    assert "nowhere=\n" in (out / ".env.example").read_text()
    assert "baseUrl" not in (out / ".env.example").read_text()  # the CPI runtime: the target's own address
    report = (out / "CONVERSION.md").read_text()
    assert "Variables used and defined nowhere" in report and ": nowhere." in report


def test_formdata_is_sent_as_multipart(pytester: pytest.Pytester, other_host: OtherHost) -> None:
    (pytester.path / "fixtures" / "pm").mkdir(parents=True)
    (pytester.path / "fixtures" / "pm" / "order.xml").write_text("<order/>")
    body = {
        "mode": "formdata",
        "formdata": [
            {"key": "note", "value": "{{note}}", "type": "text"},
            {"key": "payload", "src": "/home/me/order.xml", "type": "file", "contentType": "application/xml"},
        ],
    }
    data = {
        "info": {"name": "multipart", "schema": V21},
        "item": [item("upload", {"method": "POST", "url": f"{other_host.url}/upload", "body": body})],
    }
    out = imported_project(pytester, data, {"note": "hello"})

    assert cases(out)["upload"]["request"]["body"] == {
        "multipart": {
            "note": "${note}",
            "payload": {"file": "fixtures/pm/order.xml", "content_type": "application/xml"},
        }
    }
    pytester.runpytest_inprocess("suites", *RUN).assert_outcomes(passed=1)

    sent = other_host.seen[0]
    assert sent["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="note"\r\n\r\nhello' in sent["body"] and b"<order/>" in sent["body"]


def test_send_request_in_a_pre_request_script_is_a_preceding_step(
    pytester: pytest.Pytester, other_host: OtherHost
) -> None:
    pre = [
        "pm.sendRequest({",
        "    url: pm.environment.get('authUrl') + '/token',",
        "    method: 'POST',",
        "    header: {'Content-Type': 'application/x-www-form-urlencoded'},",
        "    body: {mode: 'urlencoded', urlencoded: [{key: 'grant_type', value: 'client_credentials'}]}",
        "}, function (err, res) {",
        '    pm.environment.set("token", res.json().token);',
        "});",
    ]
    request = {"method": "GET", "url": f"{other_host.url}/orders", "header": [{"key": "X-Token", "value": "{{token}}"}]}
    data = {
        "info": {"name": "send", "schema": V21},
        "item": [item("with a token", request, ["pm.response.to.have.status(200);"], pre)],
    }
    out = imported_project(pytester, data, {"authUrl": other_host.url})

    steps = cases(out)["with a token"]["steps"]
    assert steps[0] == {
        "name": "pm.sendRequest 1",
        "auth": "none",
        "request": {
            "method": "POST",
            "url": "${authUrl}/token",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "body": {"form": {"grant_type": "client_credentials"}},
        },
        "save": {"token": {"json": "$.token"}},
    }
    pytester.runpytest_inprocess("suites", *RUN).assert_outcomes(passed=1)

    assert [s["path"] for s in other_host.seen] == ["/token", "/orders"]
    assert other_host.seen[0]["body"] == b"grant_type=client_credentials"
    assert other_host.seen[1]["headers"]["X-Token"] == "t0k3n-from-other-host"


def test_imported_clients_run_with_the_environments_values_and_only_used_clients_need_keys(
    pytester: pytest.Pytester, emulator: Emulator
) -> None:
    key = emulator.issue_service_key("pmtenant")["oauth"]
    oauth2 = {
        "type": "oauth2",
        "oauth2": [
            {"key": "accessTokenUrl", "value": "{{tokenUrl}}"},
            {"key": "clientId", "value": "{{clientid}}"},
            {"key": "clientSecret", "value": "{{clientsecret}}"},
            {"key": "grant_type", "value": "client_credentials"},
        ],
    }
    ok = ["pm.response.to.have.status(200);"]
    data = {
        "info": {"name": "tenant", "schema": V21},
        "item": [
            {
                **item("basic", "{{baseUrl}}/http/costcenters?companyCode=1010", ok),
                "request": {"url": "{{baseUrl}}/http/costcenters?companyCode=1010", "auth": BASIC},
            },
            {
                **item("oauth", "{{baseUrl}}/http/costcenters?companyCode=1010", ok),
                "request": {"url": "{{baseUrl}}/http/costcenters?companyCode=1010", "auth": oauth2},
            },
        ],
    }
    env = {"baseUrl": key["url"], "tokenUrl": key["tokenurl"], "clientid": key["clientid"], "clientsecret": ""}
    out = imported_project(pytester, data, env)
    (pytester.path / "pyproject.toml").write_text(
        '[tool.iflowtest]\ntarget = "tenant"\n\n[tool.iflowtest.clients.unused]\nsource = "load"\n\n'
        + (out / "clients.toml").read_text()
    )
    with (pytester.path / ".env").open("a") as dotenv:
        dotenv.write(f"clientsecret={key['clientsecret']}\nIFLOWTEST_CA_BUNDLE={emulator.ca_file}\n")

    result = pytester.runpytest_inprocess("suites", *RUN)

    # No service key file, and none for the declared client `unused`, which no selected test calls.
    result.assert_outcomes(passed=2)
    assert key["clientsecret"] not in (out / "clients.toml").read_text()
