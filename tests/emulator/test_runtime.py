"""The emulated runtime: address matching, 401/403/404/405, the CSRF handshake, MPL ids and the 500 text."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests

from iflowtest.emulator import Emulator

READ = "/http/costcenters"
READ_DE = "/http/de/costcenters"
CHANGE = "/http/costcenters/changerequest"
FAILING = "/http/failing"
TOMCAT = '<!doctype html><html lang="en"><head><title>HTTP Status {status} – {phrase}</title>'
FAILURE = re.compile(
    r"An internal server error occured: (?P<error>.+)\.\n"
    r"The MPL ID for the failed message is : (?P<mpl>AG[A-Za-z0-9_-]{26})\n"
    r"For more details please check tail log\."
)
CHANGE_XML = (
    b"<CostCenterChangeRequest><ControllingArea>A000</ControllingArea><CostCenter>10101101</CostCenter>"
    b'<ValidFrom>2026-01-01</ValidFrom><Changes><Field name="CostCtrResponsiblePersonName">J. Smith</Field>'
    b"</Changes></CostCenterChangeRequest>"
)


class Tenant(requests.Session):
    """A session against one emulator: paths relative to its URL, its CA trusted on every request.

    verify is passed per request because REQUESTS_CA_BUNDLE in the environment beats Session.verify.
    """

    def __init__(self, emu: Emulator, key: dict[str, str] | None = None) -> None:
        super().__init__()
        self.emu = emu
        self.key = key
        if key is not None:
            self.auth = (key["clientid"], key["clientsecret"])

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("verify", str(self.emu.ca_file))
        kwargs.setdefault("timeout", 5)
        return super().request(method, self.emu.url + url, *args, **kwargs)

    def bearer(self) -> str:
        assert self.key is not None
        response = requests.post(
            self.key["tokenurl"],
            params={"grant_type": "client_credentials"},
            auth=(self.key["clientid"], self.key["clientsecret"]),
            verify=str(self.emu.ca_file),
            timeout=5,
        )
        token: str = response.json()["access_token"]
        return token


def tenant(emu: Emulator, name: str = "sender", **options: Any) -> Tenant:
    return Tenant(emu, emu.issue_service_key(name, **options)["oauth"])


def is_tomcat(response: requests.Response, status: int, phrase: str) -> bool:
    return response.status_code == status and response.text.startswith(TOMCAT.format(status=status, phrase=phrase))


# ---------------------------------------------------------------- addresses
@pytest.mark.parametrize("path", ["/http/costcenters", "/http/CostCenters", "/HTTP/COSTCENTERS"])
def test_addresses_are_case_insensitive(emulator: Emulator, path: str) -> None:
    response = tenant(emulator).get(path, params={"companyCode": "1010", "top": "1"})

    assert response.status_code == 200
    assert response.headers["SAP_MessageProcessingLogID"]


def test_unknown_address_is_a_tomcat_404_without_message(fresh_emulator: Emulator) -> None:
    response = tenant(fresh_emulator).get("/http/not-deployed")

    assert is_tomcat(response, 404, "Not Found")
    assert response.headers["Content-Type"] == "text/html;charset=utf-8"
    assert "<p><b>Message</b> The requested resource [/http/not-deployed] is not available</p>" in response.text
    assert "SAP_MessageProcessingLogID" not in response.headers
    assert fresh_emulator.messages == []
    assert fresh_emulator.counters.snapshot()["calls"]["by_iflow_and_status"] == [
        {"iflow": None, "status": 404, "count": 1}
    ]


def test_method_the_flow_does_not_take(emulator: Emulator) -> None:
    session = tenant(emulator)

    post = session.post(READ, data=b"x")
    delete = session.delete(FAILING)

    assert is_tomcat(post, 405, "Method Not Allowed")
    assert post.headers["Allow"] == "GET, HEAD"
    assert is_tomcat(delete, 405, "Method Not Allowed")


def test_head_rides_along_with_get(emulator: Emulator) -> None:
    response = tenant(emulator).head(READ, params={"top": "1"})

    assert response.status_code == 200
    assert response.content == b""


WILDCARD_CATALOG = """
iflows:
  - name: AnyBelow
    address: /http/cc/*
    methods: [GET]
    role: ESBMessaging.send
    behaviour: odata_passthrough
  - name: Exact
    address: /http/cc/exact
    methods: [GET]
    role: ESBMessaging.send
    behaviour: fail
    options: {error: exact match wins}
  - name: Soap
    address: /cxf/costcenters
    methods: [GET]
    role: ESBMessaging.send
    behaviour: odata_passthrough
"""


def test_wildcards_exact_matches_and_soap_paths(tmp_path: Path) -> None:
    catalog = tmp_path / "iflows.yaml"
    catalog.write_text(WILDCARD_CATALOG, encoding="utf-8")

    with Emulator(catalog=catalog) as emu:
        session = tenant(emu)
        below = session.get("/http/CC/A_CostCenter/$count")
        exact = session.get("/http/cc/exact")
        soap = session.get("/cxf/costcenters/A_CostCenter/$count")
        default_flows_gone = session.get(READ)

    assert below.status_code == 200
    assert int(below.text) > 0
    assert exact.status_code == 500
    assert "exact match wins" in exact.text
    assert soap.text == below.text
    assert default_flows_gone.status_code == 404
    assert [m.iflow for m in emu.messages] == ["AnyBelow", "Exact", "Soap"]


# ---------------------------------------------------------------- authentication and roles
def test_no_credentials(emulator: Emulator) -> None:
    response = Tenant(emulator).get(READ)

    assert is_tomcat(response, 401, "Unauthorized")
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="')


def test_wrong_basic_secret(emulator: Emulator) -> None:
    session = tenant(emulator)
    session.auth = (session.auth[0], "wrong")  # type: ignore[index]

    response = session.get(READ)

    assert is_tomcat(response, 401, "Unauthorized")
    assert "WWW-Authenticate" not in response.headers


def test_bearer_token_until_it_expires_by_the_emulator_clock(fresh_emulator: Emulator) -> None:
    session = tenant(fresh_emulator)
    headers = {"Authorization": f"Bearer {session.bearer()}"}
    session.auth = None

    fresh = session.get(READ, params={"top": "1"}, headers=headers)
    fresh_emulator.advance_clock(3598)
    almost = session.get(READ, params={"top": "1"}, headers=headers)
    fresh_emulator.advance_clock(2)
    expired = session.get(READ, params={"top": "1"}, headers=headers)

    assert (fresh.status_code, almost.status_code) == (200, 200)
    assert is_tomcat(expired, 401, "Unauthorized")
    assert fresh_emulator.counters.calls("ReadCostCenters", 401) == 1


def test_forged_token_is_401(emulator: Emulator) -> None:
    session = Tenant(emulator)

    response = session.get(READ, headers={"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"})

    assert is_tomcat(response, 401, "Unauthorized")


def test_revoked_client_loses_basic_and_bearer(emulator: Emulator) -> None:
    session = tenant(emulator, "revoked")
    assert session.key is not None
    token = session.bearer()

    emulator.revoke_client(session.key["clientid"])

    assert session.get(READ).status_code == 401
    assert Tenant(emulator).get(READ, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_missing_role_is_403_until_granted(emulator: Emulator) -> None:
    session = tenant(emulator, "no-de")
    assert session.key is not None

    forbidden = session.get(READ_DE)
    emulator.set_roles(session.key["clientid"], ["ESBMessaging.send", "ESBMessaging_DE"])
    granted = session.get(READ_DE, params={"top": "1"})
    emulator.set_roles(session.key["clientid"], [])
    withdrawn = session.get(READ)

    assert is_tomcat(forbidden, 403, "Forbidden")
    assert "<p><b>Message</b> Forbidden</p>" in forbidden.text
    assert granted.status_code == 200
    assert withdrawn.status_code == 403


# ---------------------------------------------------------------- CSRF
def test_full_csrf_dance(fresh_emulator: Emulator) -> None:
    session = tenant(fresh_emulator)

    refused = session.post(CHANGE, data=CHANGE_XML)
    fetched = session.get(CHANGE, headers={"X-CSRF-Token": "Fetch"})
    token = fetched.headers["X-CSRF-Token"]
    accepted = session.post(CHANGE, data=CHANGE_XML, headers={"X-CSRF-Token": token})

    assert is_tomcat(refused, 403, "Forbidden")
    assert refused.headers["X-CSRF-Token"] == "Required"
    assert fetched.status_code == 200
    assert re.fullmatch(r"[0-9A-F]{32}", token)
    assert {"JSESSIONID", "__VCAP_ID__", "JTENANTSESSIONID_emulated-tenant"} <= set(session.cookies.keys())
    assert all(cookie.secure for cookie in session.cookies)
    assert accepted.status_code == 200, accepted.text
    counters = fresh_emulator.counters
    assert counters.csrf_fetches() == 1
    assert counters.calls("ChangeCostCenter", 403) == 1
    assert counters.calls("ChangeCostCenter", 200) == 2  # the fetch and the accepted POST
    # The fetch answers in the adapter: only the accepted POST ran the flow.
    assert [m.iflow for m in fresh_emulator.messages] == ["ChangeCostCenter"]
    assert "SAP_MessageProcessingLogID" not in fetched.headers


def test_csrf_dance_over_plain_http() -> None:
    # Cookies must not be Secure here, or clients would never send JSESSIONID back.
    with Emulator(tls=False) as emu:
        key = emu.issue_service_key("plain")["oauth"]
        session = requests.Session()
        session.auth = (key["clientid"], key["clientsecret"])
        token = session.get(emu.url + CHANGE, headers={"X-CSRF-Token": "Fetch"}, timeout=5).headers["X-CSRF-Token"]
        response = session.post(emu.url + CHANGE, data=CHANGE_XML, headers={"X-CSRF-Token": token}, timeout=5)

    assert response.status_code == 200


def test_fetch_needs_credentials_and_role(emulator: Emulator) -> None:
    anonymous = Tenant(emulator).get(CHANGE, headers={"X-CSRF-Token": "Fetch"})
    no_role = tenant(emulator, "no-roles", roles=[]).get(CHANGE, headers={"X-CSRF-Token": "Fetch"})

    assert anonymous.status_code == 401
    assert no_role.status_code == 403
    assert "X-CSRF-Token" not in anonymous.headers
    assert "X-CSRF-Token" not in no_role.headers


def test_head_fetch_and_a_second_fetch_keeps_the_session_token(emulator: Emulator) -> None:
    session = tenant(emulator)

    first = session.head(CHANGE, headers={"X-CSRF-Token": "fetch"})
    second = session.get(CHANGE, headers={"X-CSRF-Token": "Fetch"})

    assert first.status_code == 200
    assert first.headers["X-CSRF-Token"] == second.headers["X-CSRF-Token"]


def test_invalidated_tokens_are_required_again(fresh_emulator: Emulator) -> None:
    session = tenant(fresh_emulator)
    token = session.get(CHANGE, headers={"X-CSRF-Token": "Fetch"}).headers["X-CSRF-Token"]

    fresh_emulator.invalidate_csrf_tokens()
    stale = session.post(CHANGE, data=CHANGE_XML, headers={"X-CSRF-Token": token})
    new_token = session.get(CHANGE, headers={"X-CSRF-Token": "Fetch"}).headers["X-CSRF-Token"]
    renewed = session.post(CHANGE, data=CHANGE_XML, headers={"X-CSRF-Token": new_token})

    assert stale.status_code == 403
    assert stale.headers["X-CSRF-Token"] == "Required"
    assert new_token != token
    assert renewed.status_code == 200


def test_token_is_bound_to_its_session_cookie(emulator: Emulator) -> None:
    session = tenant(emulator)
    token = session.get(CHANGE, headers={"X-CSRF-Token": "Fetch"}).headers["X-CSRF-Token"]
    other = tenant(emulator, "other")
    other.get(CHANGE, headers={"X-CSRF-Token": "Fetch"})
    cookies = dict(session.cookies)
    session.cookies.clear()

    without_cookie = session.post(CHANGE, data=CHANGE_XML, headers={"X-CSRF-Token": token})
    other_session = other.post(CHANGE, data=CHANGE_XML, headers={"X-CSRF-Token": token})
    restored = session.post(CHANGE, data=CHANGE_XML, headers={"X-CSRF-Token": token}, cookies=cookies)

    assert without_cookie.status_code == 403
    assert without_cookie.headers["X-CSRF-Token"] == "Required"
    assert other_session.status_code == 403
    assert restored.status_code == 200


def test_flow_without_csrf_protection_takes_posts_directly(emulator: Emulator) -> None:
    response = tenant(emulator).post(FAILING, data=b"payload")

    assert response.status_code == 500  # the flow ran (and failed), no 403
    assert "X-CSRF-Token" not in response.headers


# ---------------------------------------------------------------- message processing logs
def test_failure_text_names_the_mpl_of_header_and_log(fresh_emulator: Emulator) -> None:
    response = tenant(fresh_emulator).get(FAILING)

    assert response.status_code == 500
    assert response.headers["Content-Type"] == "text/plain;charset=UTF-8"
    match = FAILURE.fullmatch(response.text)
    assert match is not None, response.text
    assert match["error"] == (
        "com.sap.it.rt.adapter.http.api.exception.HttpResponseException: "
        "Receiver system S4H_COSTCENTER returned HTTP 503"
    )
    assert response.headers["SAP_MessageProcessingLogID"] == match["mpl"]
    [record] = fresh_emulator.messages
    assert (record.message_guid, record.iflow, record.status) == (match["mpl"], "FailingFlow", "FAILED")
    assert record.error_text == match["error"]
    assert record.log_start <= record.log_end


def test_successful_runs_are_completed_messages(fresh_emulator: Emulator) -> None:
    session = tenant(fresh_emulator)

    ids = [session.get(READ, params={"top": "1"}).headers["SAP_MessageProcessingLogID"] for _ in range(3)]

    assert [m.message_guid for m in fresh_emulator.messages] == ids
    assert len(set(ids)) == 3
    assert all(re.fullmatch(r"AG[A-Za-z0-9_-]{26}", mpl) for mpl in ids)
    assert {(m.iflow, m.status, m.error_text) for m in fresh_emulator.messages} == {
        ("ReadCostCenters", "COMPLETED", None)
    }


def test_mpl_header_can_be_switched_off(fresh_emulator: Emulator) -> None:
    fresh_emulator.mpl_header = False
    session = tenant(fresh_emulator)

    ok = session.get(READ, params={"top": "1"})
    failed = session.get(FAILING)

    assert fresh_emulator.mpl_header is False
    assert "SAP_MessageProcessingLogID" not in ok.headers
    assert "SAP_MessageProcessingLogID" not in failed.headers
    match = FAILURE.fullmatch(failed.text)
    assert match is not None
    assert match["mpl"] == fresh_emulator.messages[-1].message_guid
    assert Emulator(mpl_header=False).mpl_header is False


def test_calls_are_counted_by_flow_and_status(fresh_emulator: Emulator) -> None:
    session = tenant(fresh_emulator)
    session.get(READ, params={"top": "1"})
    session.get(READ, params={"top": "1"})
    session.get(FAILING)
    Tenant(fresh_emulator).get(READ)
    session.get("/http/nowhere")

    counters = fresh_emulator.counters
    assert counters.calls() == 5
    assert counters.calls("ReadCostCenters") == 3
    assert counters.calls("ReadCostCenters", 200) == 2
    assert counters.calls("ReadCostCenters", 401) == 1
    assert counters.calls("FailingFlow", 500) == 1
    assert counters.calls(status=404) == 1
