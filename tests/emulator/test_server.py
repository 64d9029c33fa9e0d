"""The Emulator's lifecycle, its own endpoints, service keys and errors raised in the server thread."""

from __future__ import annotations

import base64
import re
import threading
from datetime import datetime
from typing import Any

import pytest
import requests

from iflowtest.emulator import Emulator
from iflowtest.emulator.costcenters import SERVICE_PATH, CostCenterService


def get(emu: Emulator, path: str, **kwargs: Any) -> requests.Response:
    # verify per request: REQUESTS_CA_BUNDLE in the environment would beat a Session's verify.
    return requests.get(emu.url + path, verify=str(emu.ca_file), timeout=5, **kwargs)


# ---------------------------------------------------------------- lifecycle
def test_port_zero_gives_two_independent_emulators_side_by_side() -> None:
    with Emulator() as first, Emulator() as second:
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+", first.url)
        assert first.url != second.url
        key = first.issue_service_key("sender")["oauth"]
        token = requests.post(
            key["tokenurl"],
            params={"grant_type": "client_credentials"},
            auth=(key["clientid"], key["clientsecret"]),
            verify=str(first.ca_file),
            timeout=5,
        ).json()["access_token"]

        own = get(first, "/http/failing", headers={"Authorization": f"Bearer {token}"})
        foreign = get(second, "/http/failing", headers={"Authorization": f"Bearer {token}"})

    assert own.status_code == 500  # the flow ran
    assert foreign.status_code == 401  # signed with another emulator's key
    assert first.counters.calls() == 1
    assert second.counters.calls() == 1


def test_url_is_known_only_once_started() -> None:
    emu = Emulator()
    assert repr(emu) == "<Emulator not started>"
    with pytest.raises(RuntimeError, match=r"not been started: call start\(\) or use it in a with block"):
        _ = emu.url
    with pytest.raises(RuntimeError, match="not been started"):
        emu.issue_service_key("early")

    with emu:
        assert get(emu, "/_emulator/health").text == "ok"
        assert repr(emu) == f"<Emulator {emu.url}>"


def test_stop_is_idempotent_and_really_stops() -> None:
    emu = Emulator().start()
    url, ca_file = emu.url, str(emu.ca_file)

    emu.stop()
    emu.stop()

    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/_emulator/health", verify=ca_file, timeout=5)


def test_can_be_started_again_after_stop() -> None:
    emu = Emulator()
    with emu:
        pass
    with emu:
        assert get(emu, "/_emulator/health").status_code == 200


def test_start_twice_is_refused() -> None:
    with Emulator() as emu, pytest.raises(RuntimeError, match=r"already running at https://127\.0\.0\.1:"):
        emu.start()


def test_taken_port_is_an_os_error_not_an_exit() -> None:
    with Emulator() as emu:
        port = int(emu.url.rsplit(":", 1)[1])
        with pytest.raises(OSError, match="in use"):
            Emulator(port=port).start()


def test_plain_http_without_tls() -> None:
    with Emulator(tls=False) as emu:
        assert emu.url.startswith("http://127.0.0.1:")
        assert requests.get(emu.url + "/_emulator/health", timeout=5).text == "ok"
        with pytest.raises(RuntimeError, match=r"plain HTTP \(tls=False\): there is no CA file"):
            _ = emu.ca_file


def test_serve_forever_returns_when_stopped_from_another_thread() -> None:
    emu = Emulator().start()
    serving = threading.Thread(target=emu.serve_forever)
    serving.start()

    emu.stop()
    serving.join(timeout=5)

    assert not serving.is_alive()


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="invalid subdomain 'Not_Valid'"):
        Emulator(subdomain="Not_Valid")
    with pytest.raises(ValueError, match="token_lifetime must be a whole number of seconds ≥ 1, got 0"):
        Emulator(token_lifetime=0)
    with pytest.raises(ValueError, match="next_links must be one of absolute, relative, bare, got 'full'"):
        Emulator(next_links="full")
    with pytest.raises(ValueError, match="log_delay must be ≥ 0 seconds, got -1"):
        Emulator(log_delay=-1)


def test_every_switch_is_a_constructor_parameter_with_the_lenient_default() -> None:
    lenient = Emulator(tls=False)
    strict = Emulator(
        tls=False, mpl_header=False, next_links="relative", log_delay=2, display_names=True, separate_hosts=True
    )

    assert (lenient.mpl_header, lenient.next_links, lenient.log_delay) == (True, "absolute", 0.0)
    assert (lenient.display_names, lenient.separate_hosts) == (False, False)
    assert (strict.mpl_header, strict.next_links, strict.log_delay) == (False, "relative", 2.0)
    assert (strict.display_names, strict.separate_hosts) == (True, True)


# ---------------------------------------------------------------- the emulator's own endpoints
def test_health_and_counters(fresh_emulator: Emulator) -> None:
    get(fresh_emulator, "/http/nowhere")

    assert get(fresh_emulator, "/_emulator/health").text == "ok"
    snapshot = get(fresh_emulator, "/_emulator/counters").json()
    assert snapshot == fresh_emulator.counters.snapshot()
    assert snapshot["calls"] == {"total": 1, "by_iflow_and_status": [{"iflow": None, "status": 404, "count": 1}]}
    assert snapshot["csrf_fetches"] == 0

    fresh_emulator.counters.reset()
    assert fresh_emulator.counters.snapshot()["calls"]["total"] == 0


def test_backend_is_served_directly_without_auth(emulator: Emulator) -> None:
    response = get(emulator, SERVICE_PATH + "/A_CostCenter", params={"$top": "1"})

    assert response.status_code == 200
    row = response.json()["d"]["results"][0]
    assert row["__metadata"]["uri"].startswith(emulator.url + SERVICE_PATH + "/A_CostCenter(")


def test_unknown_paths_get_the_tomcat_404(emulator: Emulator) -> None:
    response = get(emulator, "/no/such/thing")

    assert response.status_code == 404
    assert response.text.startswith('<!doctype html><html lang="en"><head><title>HTTP Status 404 – Not Found</title>')


# ---------------------------------------------------------------- errors in the server thread
def test_server_thread_errors_reach_the_caller_once(fresh_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("kaboom in the backend")

    monkeypatch.setattr(CostCenterService, "handle", broken)

    response = get(fresh_emulator, SERVICE_PATH + "/A_CostCenter")

    assert response.status_code == 500
    assert response.text.startswith("emulator bug: RuntimeError: kaboom in the backend\n")
    with pytest.raises(RuntimeError, match="kaboom in the backend"):
        fresh_emulator.check_errors()
    fresh_emulator.check_errors()  # raised once, then forgotten


# ---------------------------------------------------------------- service keys
def test_service_key_has_the_shape_cpi_issues(emulator: Emulator) -> None:
    key = emulator.issue_service_key("sender")

    oauth = key["oauth"]
    assert list(key) == ["oauth"]
    assert list(oauth) == ["clientid", "clientsecret", "url", "createdate", "tokenurl"]
    uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    assert re.fullmatch(rf"sb-{uuid}!b\d+\|it-rt-emulated-tenant!b\d+", oauth["clientid"])
    assert re.fullmatch(rf"{uuid}\$[A-Za-z0-9_-]{{43}}=", oauth["clientsecret"])
    assert oauth["url"] == emulator.url
    assert oauth["tokenurl"] == emulator.url + "/oauth/token"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", oauth["createdate"])
    datetime.fromisoformat(oauth["createdate"])


def test_each_key_is_a_new_client(emulator: Emulator) -> None:
    first = emulator.issue_service_key("twice")["oauth"]
    second = emulator.issue_service_key("twice")["oauth"]

    assert first["clientid"] != second["clientid"]
    assert first["clientsecret"] != second["clientsecret"]
    names = {c.clientid: c.name for c in emulator.tenant.clients.all()}
    assert names[first["clientid"]] == names[second["clientid"]] == "twice"


def test_api_plan_key(emulator: Emulator) -> None:
    oauth = emulator.issue_service_key("monitor", plan="api", roles=["MonitoringDataRead"])["oauth"]

    assert re.fullmatch(r"sb-[0-9a-f-]{36}!b\d+\|it!b\d+", oauth["clientid"])
    assert oauth["url"] == emulator.url


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"plan": "standard"}, "unknown plan 'standard' for service it-rt: use one of integration-flow, api"),
        ({"roles": ["ESBMessaging send"]}, "invalid role name 'ESBMessaging send': CPI allows only letters"),
        ({"roles": "ESBMessaging.send"}, "roles must be a list of role names"),
        ({"key_type": "x509"}, "unknown key type 'x509': use one of secret, certificate"),
        ({"grant_types": ["client_x509"]}, "grant type 'client_x509' is deprecated"),
        ({"grant_types": ["implicit"]}, "unknown grant type 'implicit'"),
        ({"token_validity": 0}, "token_validity must be a positive number of seconds, got 0"),
    ],
)
def test_invalid_key_requests_are_refused(emulator: Emulator, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        emulator.issue_service_key("refused", **options)


def test_instance_names_follow_cpi_rules(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="invalid service instance name 'has space'"):
        emulator.issue_service_key("has space")
    with pytest.raises(ValueError, match="up to 32 characters"):
        emulator.issue_service_key("x" * 33)


def test_unknown_client_cannot_be_changed(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="no client 'sb-nobody' was issued by this emulator"):
        emulator.set_roles("sb-nobody", ["ESBMessaging.send"])
    with pytest.raises(ValueError, match="no client 'sb-nobody'"):
        emulator.revoke_client("sb-nobody")


def test_answers_name_no_server_software(emulator: Emulator) -> None:
    answer = requests.get(f"{emulator.url}/http/costcenters", verify=str(emulator.ca_file), timeout=10)

    assert "Server" not in answer.headers


# ---------------------------------------------------------------- separate hosts
def test_separate_hosts_listen_on_three_ports_named_by_the_keys() -> None:
    with Emulator(separate_hosts=True) as emu:
        flow_key = emu.issue_service_key("sender")["oauth"]
        api_key = emu.issue_service_key("monitor", plan="api", roles=["MonitoringDataRead"])["oauth"]
        ports = {url.rsplit(":", 1)[1] for url in (emu.url, emu.api_url, emu.token_host_url)}

        assert emu.separate_hosts and len(ports) == 3
        assert flow_key["url"] == emu.url
        assert api_key["url"] == emu.api_url
        assert flow_key["tokenurl"] == api_key["tokenurl"] == emu.token_host_url + "/oauth/token"
    with Emulator() as together:
        assert together.api_url == together.token_host_url == together.url
        assert together.issue_service_key("s")["oauth"]["tokenurl"] == together.url + "/oauth/token"


def test_separate_hosts_answer_only_their_own_paths() -> None:
    with Emulator(separate_hosts=True) as emu:
        key = emu.issue_service_key("monitor", plan="api", roles=["MonitoringDataRead"])["oauth"]
        auth = (key["clientid"], key["clientsecret"])
        verify = str(emu.ca_file)

        def status(base: str, path: str, method: str = "GET") -> int:
            return requests.request(method, base + path, auth=auth, verify=verify, timeout=5).status_code

        token = requests.post(
            key["tokenurl"], data={"grant_type": "client_credentials"}, auth=auth, verify=verify, timeout=5
        )
        header = token.json()["access_token"].split(".")[0]
        runtime_refusal = requests.post(emu.url + "/oauth/token", auth=auth, verify=verify, timeout=5)

        assert token.status_code == 200
        assert emu.token_host_url + "/token_keys" in base64.urlsafe_b64decode(header + "==").decode()
        assert status(emu.token_host_url, "/token_keys") == 200
        assert status(emu.api_url, "/api/v1/MessageProcessingLogs") == 200
        assert status(emu.url, "/http/costcenters") == 403  # the flow is there; the api-plan client lacks its role
        assert status(emu.url, SERVICE_PATH + "/A_CostCenter?$top=1") == 200
        assert status(emu.url, "/api/v1/MessageProcessingLogs") == 404
        assert status(emu.api_url, "/oauth/token", "POST") == 404
        assert status(emu.api_url, "/http/costcenters") == 404
        assert status(emu.token_host_url, "/api/v1/MessageProcessingLogs") == 404
        assert status(emu.token_host_url, "/http/costcenters") == 404
        assert runtime_refusal.status_code == 404 and "HTTP Status 404" in runtime_refusal.text
        for base in (emu.url, emu.api_url, emu.token_host_url):
            assert status(base, "/_emulator/health") == 200
    for base in (emu.url, emu.api_url, emu.token_host_url):
        with pytest.raises(requests.ConnectionError):
            requests.get(base + "/_emulator/health", verify=verify, timeout=5)
