"""The harness's message-log client against the emulated tenant: reads, polling without sleep, fallbacks, wording."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from iflowtest import BearerAuth, CallRecord, IflowClient, OAuthToken, ServiceKey, resolve_settings
from iflowtest.calls.client import APPLICATION_ID_HEADER, ApplicationIds
from iflowtest.calls.mpl import (
    Claims,
    MplClient,
    MplError,
    MplNotFoundError,
    MplStatusError,
    MplTimeoutError,
    check_status,
    monitor_link,
    mpl_client,
    next_page,
    odata_error_text,
    odata_literal,
    parse_odata_datetime,
)
from iflowtest.credentials.registry import ClientRegistry
from iflowtest.emulator import Emulator
from iflowtest.errors import ConfigError
from tests.emulator.test_mpl import add_logs

KeyIssuer = Callable[..., ServiceKey]
ROOT = Path(__file__).resolve().parents[2]


def client_for(emu: Emulator, issue_key: KeyIssuer, name: str = "monitor", **options: object) -> MplClient:
    key = issue_key(emu, name, plan="api", roles=["MonitoringDataRead"])
    token = OAuthToken(key, name, verify=str(emu.ca_file))
    return MplClient(key.url, BearerAuth(token), client_name=name, verify=str(emu.ca_file), **options)  # type: ignore[arg-type]


def sender(
    emu: Emulator, issue_key: KeyIssuer, iflow: str = "ReadCostCenters", path: str = "/http/costcenters"
) -> IflowClient:
    key = issue_key(emu, "sender")
    token = OAuthToken(key, "sender", verify=str(emu.ca_file))
    return IflowClient(key.url, BearerAuth(token), iflow=iflow, default_path=path, verify=str(emu.ca_file))


def test_expect_status_of_a_completed_call(emulator: Emulator, issue_key: KeyIssuer) -> None:
    mpl = client_for(emulator, issue_key)
    response = sender(emulator, issue_key).get()

    log = mpl.expect_status(response)

    assert log.status == "COMPLETED" and log.iflow == "ReadCostCenters"
    assert log.web_link == monitor_link(emulator.url, log.message_guid)
    assert mpl.checked == [log]


def test_a_failed_message_fails_the_check_with_its_error(emulator: Emulator, issue_key: KeyIssuer) -> None:
    mpl = client_for(emulator, issue_key)
    response = sender(emulator, issue_key, "FailingFlow", "/http/failing").get()
    guid = response.headers["SAP_MessageProcessingLogID"]

    with pytest.raises(MplStatusError) as failure:
        mpl.expect_status(response, "COMPLETED")

    assert str(failure.value) == (
        f"message {guid} of iFlow 'FailingFlow' ended FAILED, expected COMPLETED; error: "
        "com.sap.it.rt.adapter.http.api.exception.HttpResponseException: Receiver system S4H_COSTCENTER returned "
        f"HTTP 503 (message monitor: {monitor_link(emulator.url, guid)})"
    )
    assert isinstance(failure.value, AssertionError)


def test_polling_waits_for_a_final_status_without_sleeping(fresh_emulator: Emulator, issue_key: KeyIssuer) -> None:
    # Each "sleep" moves the emulator's clock, so the held message finishes after a few polls.
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        fresh_emulator.advance_clock(seconds)

    mpl = client_for(fresh_emulator, issue_key, poll_interval=5.0, sleep=sleep, monotonic=lambda: sum(slept))
    fresh_emulator.delay_messages("ReadCostCenters", 12, "RETRY")
    response = sender(fresh_emulator, issue_key).get()

    log = mpl.expect_status(response, "COMPLETED", timeout=60)

    assert log.status == "COMPLETED"
    assert slept == [5.0, 5.0, 5.0]


def test_polling_gives_up_after_the_timeout(fresh_emulator: Emulator, issue_key: KeyIssuer) -> None:
    slept: list[float] = []
    mpl = client_for(fresh_emulator, issue_key, poll_interval=5.0, sleep=slept.append, monotonic=lambda: sum(slept))
    fresh_emulator.delay_messages("ReadCostCenters", 3600)
    guid = sender(fresh_emulator, issue_key).get().headers["SAP_MessageProcessingLogID"]

    with pytest.raises(MplTimeoutError) as timeout:
        mpl.wait_for_final(guid, timeout=10)

    assert str(timeout.value) == (
        f"message {guid} of iFlow 'ReadCostCenters' is still PROCESSING after 10 s: open it in the message monitor "
        f"({monitor_link(fresh_emulator.url, guid)}), or raise the timeout if the iFlow retries by design"
    )


def test_without_mpl_id_the_message_is_found_by_name_and_time(fresh_emulator: Emulator, issue_key: KeyIssuer) -> None:
    fresh_emulator.mpl_header = False
    mpl = client_for(fresh_emulator, issue_key)
    response = sender(fresh_emulator, issue_key).get()
    record = response.iflowtest_record  # type: ignore[attr-defined]
    assert record.mpl_id is None

    log = mpl.expect_status(response)

    assert log.message_guid == fresh_emulator.messages[-1].message_guid


def test_without_mpl_id_several_candidates_are_named(fresh_emulator: Emulator, issue_key: KeyIssuer) -> None:
    fresh_emulator.mpl_header = False
    mpl = client_for(fresh_emulator, issue_key)
    flow = sender(fresh_emulator, issue_key)
    flow.get()
    response = flow.get()

    with pytest.raises(MplNotFoundError, match=r"the message log holds 2 messages \(AG"):
        mpl.expect_status(response)


def test_query_follows_skiptoken_pages(fresh_emulator: Emulator, issue_key: KeyIssuer) -> None:
    mpl = client_for(fresh_emulator, issue_key)
    guids = add_logs(fresh_emulator, 1100, iflow="Nightly")
    add_logs(fresh_emulator, 5, iflow="Other")

    found = mpl.query(iflow="Nightly")

    assert [log.message_guid for log in found] == guids


@pytest.mark.parametrize("form", ["absolute", "relative", "bare"])
def test_query_follows_next_links_in_every_form(fresh_emulator: Emulator, issue_key: KeyIssuer, form: str) -> None:
    # "bare" links carry only $skiptoken: unless the filter is sent again, page 2 would hold the other iFlow's logs.
    fresh_emulator.next_links = form
    mpl = client_for(fresh_emulator, issue_key)
    guids = add_logs(fresh_emulator, 1100, iflow="Nightly")
    add_logs(fresh_emulator, 500, iflow="Other")

    found = mpl.query(iflow="Nightly")

    assert [log.message_guid for log in found] == guids


def test_next_page_resolves_the_link_and_keeps_the_query_it_omits() -> None:
    first = "https://api.example.invalid/api/v1/MessageProcessingLogs?%24filter=x&%24orderby=LogStart"
    params = {"$filter": "IntegrationFlowName eq 'A'", "$orderby": "LogStart", "$inlinecount": "allpages"}

    assert next_page(first, "MessageProcessingLogs?$skiptoken=1000", params) == (
        "https://api.example.invalid/api/v1/MessageProcessingLogs",
        {**params, "$skiptoken": "1000"},
    )
    # A link to another host is read from the API's own host: the credentials never go elsewhere.
    assert next_page(first, "https://other.invalid/api/v1/MessageProcessingLogs?$skiptoken=2&$top=5", params) == (
        "https://api.example.invalid/api/v1/MessageProcessingLogs",
        {**params, "$skiptoken": "2", "$top": "5"},
    )
    assert next_page(first, "/api/v1/MessageProcessingLogs?$filter=Status%20eq%20'FAILED'&$skiptoken=3", params)[1] == {
        **params,
        "$filter": "Status eq 'FAILED'",
        "$skiptoken": "3",
    }


def late_log_client(emu: Emulator, issue_key: KeyIssuer) -> tuple[MplClient, list[float]]:
    """A client whose "sleep" moves the emulator's clock: logs written late appear after a few polls."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        emu.advance_clock(seconds)

    return client_for(emu, issue_key, poll_interval=2.0, sleep=sleep, monotonic=lambda: sum(slept)), slept


def test_a_log_written_after_the_answer_is_waited_for(fresh_emulator: Emulator, issue_key: KeyIssuer) -> None:
    fresh_emulator.log_delay = 5
    mpl, slept = late_log_client(fresh_emulator, issue_key)
    response = sender(fresh_emulator, issue_key).get()
    with pytest.raises(MplNotFoundError):
        mpl.get(response.headers["SAP_MessageProcessingLogID"])  # not written yet

    log = mpl.expect_status(response, "COMPLETED", timeout=30)

    assert log.status == "COMPLETED"
    # Polls of 2 s until the 5 s delay has passed; real time moves the emulator's clock too (a loaded
    # machine may take a second between the answer and the polls), so the third poll may not be needed.
    assert slept in ([2.0, 2.0], [2.0, 2.0, 2.0])


def test_without_mpl_id_a_late_log_is_searched_for_again(fresh_emulator: Emulator, issue_key: KeyIssuer) -> None:
    fresh_emulator.mpl_header = False
    fresh_emulator.log_delay = 3
    mpl, slept = late_log_client(fresh_emulator, issue_key)
    response = sender(fresh_emulator, issue_key).get()

    log = mpl.expect_status(response, "COMPLETED", timeout=30)

    assert log.message_guid == fresh_emulator.messages[-1].message_guid
    assert slept in ([2.0], [2.0, 2.0])  # as above: real time may spare the second poll


def test_a_log_that_never_appears_fails_after_the_wait(fresh_emulator: Emulator, issue_key: KeyIssuer) -> None:
    fresh_emulator.log_delay = 3600
    mpl, _ = late_log_client(fresh_emulator, issue_key)
    guid = sender(fresh_emulator, issue_key).get().headers["SAP_MessageProcessingLogID"]

    with pytest.raises(MplNotFoundError) as missing:
        mpl.wait_for_final(guid, timeout=10)

    assert str(missing.value) == (
        f"no message processing log with id {guid!r} on {mpl.base_url} after waiting 10 s: check that the id "
        "comes from this tenant, or raise the timeout if the tenant writes its logs late"
    )


def test_a_log_given_to_one_call_is_not_given_to_the_next(fresh_emulator: Emulator, issue_key: KeyIssuer) -> None:
    # Two calls in one time window, each checked after it was made: the second must not take the first's log.
    fresh_emulator.mpl_header = False
    mpl = client_for(fresh_emulator, issue_key, claims=Claims())
    flow = sender(fresh_emulator, issue_key)

    first = mpl.expect_status(flow.get())
    second = mpl.expect_status(flow.get())

    assert [first.message_guid, second.message_guid] == [m.message_guid for m in fresh_emulator.messages[-2:]]
    assert first.found_by == second.found_by == "iFlow and time window"


def test_the_application_id_finds_each_calls_own_log(fresh_emulator: Emulator, issue_key: KeyIssuer) -> None:
    # No MPL id header, two calls in one window, checked in reverse order: the time window alone would be
    # ambiguous; the iFlow keeps each call's SAP_ApplicationID (allowed header), so each finds its own log.
    fresh_emulator.mpl_header = False
    mpl = client_for(fresh_emulator, issue_key, claims=Claims())
    flow = sender(fresh_emulator, issue_key)
    flow.application_ids = ApplicationIds()
    first, second = flow.get(), flow.get()

    second_log = mpl.expect_status(second)
    first_log = mpl.expect_status(first)

    assert [first_log.message_guid, second_log.message_guid] == [m.message_guid for m in fresh_emulator.messages[-2:]]
    assert first_log.application_id == first.request.headers[APPLICATION_ID_HEADER]
    assert first_log.found_by == second_log.found_by == "application id (SAP_ApplicationID)"


def test_logs_are_searched_by_artifact_id_when_the_display_name_differs(
    fresh_emulator: Emulator, issue_key: KeyIssuer
) -> None:
    # A tenant's IntegrationFlowName is a display name; the suite knows the artifact id, as SAP's CI steps do.
    fresh_emulator.display_names = True
    fresh_emulator.mpl_header = False
    mpl = client_for(fresh_emulator, issue_key, claims=Claims(), artifact_ids={"Costs": "ReadCostCenters"}.get)
    response = sender(fresh_emulator, issue_key, iflow="Costs").get()

    log = mpl.expect_status(response)

    assert log.iflow == "ReadCostCenters" and log.display_name != "ReadCostCenters"
    assert log.found_by == "iFlow and time window"
    assert [m.message_guid for m in mpl.query(iflow="Costs")] == [log.message_guid]


def test_the_artifact_id_comes_from_the_iflow_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.iflowtest.iflows.Costs]\naddress = "/http/costcenters"\nid = "ReadCostCenters"\n'
    )
    settings = resolve_settings(tmp_path, environ={})

    assert settings.iflow("Costs").artifact_id == "ReadCostCenters"
    assert settings.iflow("Other").artifact_id == "Other"


def test_claims_are_shared_through_a_folder(tmp_path: Path) -> None:
    # What two xdist workers see: one claims the log, the other's claim fails; the owner may claim it again.
    first, second = Claims(tmp_path), Claims(tmp_path)

    assert first.claim("AGmpl1", "call-a") and first.claim("AGmpl1", "call-a")
    assert not second.claim("AGmpl1", "call-b")
    assert second.taken("AGmpl1", "call-b") and not second.taken("AGmpl1", "call-a")
    assert second.claim("AGmpl2", "call-b")


def test_a_new_run_in_the_same_process_starts_without_claims(tmp_path: Path) -> None:
    claims = Claims()
    assert claims.claim("AGmpl1", "call-of-run-1")

    claims.restart(tmp_path)

    assert claims.claim("AGmpl1", "call-of-run-2") and claims.directory == tmp_path


def test_every_call_sends_its_own_application_id(fresh_emulator: Emulator, issue_key: KeyIssuer) -> None:
    flow = sender(fresh_emulator, issue_key)
    flow.application_ids = ApplicationIds()

    first, second = flow.get(), flow.get()

    ids = [r.request.headers[APPLICATION_ID_HEADER] for r in (first, second)]
    assert ids[0] != ids[1] and all(i.startswith("iflowtest-") for i in ids)
    assert [r.iflowtest_record.application_id for r in (first, second)] == ids  # type: ignore[attr-defined]


def test_the_found_way_is_kept_for_the_report(emulator: Emulator, issue_key: KeyIssuer) -> None:
    mpl = client_for(emulator, issue_key)

    log = mpl.expect_status(sender(emulator, issue_key).get())

    assert log.found_by == "MPL id (header)"


def test_error_text_and_unknown_id(emulator: Emulator, issue_key: KeyIssuer) -> None:
    mpl = client_for(emulator, issue_key)
    completed = sender(emulator, issue_key).get().headers["SAP_MessageProcessingLogID"]

    assert mpl.error_text(completed) is None
    with pytest.raises(MplNotFoundError, match=r"^no message processing log with id 'AGunknown' on https://127"):
        mpl.get("AGunknown")


@pytest.mark.parametrize("shape", ["odata", "converted"])
def test_api_errors_are_read_in_either_json_shape(fresh_emulator: Emulator, issue_key: KeyIssuer, shape: str) -> None:
    # cpi-facts §5: OData V2's {"error": {...}} or an XML error converted to JSON (UNCONFIRMED): both are read.
    fresh_emulator.odata_errors = shape
    mpl = client_for(fresh_emulator, issue_key)
    response = mpl.session.get(
        f"{mpl.base_url}/MessageProcessingLogs",
        params={"$filter": "LogStart gt datetime'2026-01-01T00:00:00Z'"},
        headers={"Accept": "application/json"},
        verify=str(fresh_emulator.ca_file),
    )
    body = response.json()

    assert response.status_code == 400 and ("error" in body) == (shape == "odata")
    assert odata_error_text(response) == (
        "InvalidFilter: Invalid $filter: datetime literals are UTC and take no time zone suffix "
        "(\"LogStart gt datetime'2026-01-01T00:00:00Z'\"); write datetime'2024-01-31T00:00:00' without 'Z' or an offset"
    )
    with pytest.raises(MplError, match=r"^cannot list: https://127\.0\.0\.1:\d+/api/v1 answered 400: InvalidFilter: "):
        mpl._check(response, "list")


def test_a_client_without_the_role_gets_the_fix(emulator: Emulator, issue_key: KeyIssuer) -> None:
    key = issue_key(emulator, "monitor-ro", plan="api", roles=["WorkspacePackagesRead"])
    mpl = MplClient(
        key.url,
        BearerAuth(OAuthToken(key, "monitor-ro", verify=str(emulator.ca_file))),
        client_name="monitor-ro",
        verify=str(emulator.ca_file),
    )

    with pytest.raises(MplError) as refused:
        mpl.get("AGx")

    assert str(refused.value) == (
        "cannot read message log AGx: client 'monitor-ro' lacks role MonitoringDataRead (403): add it to roles of "
        "[tool.iflowtest.clients.monitor-ro] and re-provision"
    )


def test_unreachable_api_names_the_client(issue_key: KeyIssuer) -> None:
    mpl = MplClient("https://127.0.0.1:9", requests.auth.HTTPBasicAuth("x", "y"), client_name="monitor", timeout=(1, 1))

    with pytest.raises(
        MplError, match=r"^cannot reach the message log API https://127.0.0.1:9/api/v1 \(ConnectionError"
    ):
        mpl.get("AGx")


def test_no_api_client_declared_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.iflowtest.clients.sender]\nplan = "integration-flow"\n')
    registry = ClientRegistry(resolve_settings(tmp_path, environ={}), lambda spec: pytest.fail("no key needed"))

    with pytest.raises(ConfigError) as missing:
        mpl_client(registry)

    assert str(missing.value).startswith("no client of plan 'api' is declared, so message logs cannot be read: ")


def test_check_status_is_the_declarative_assertion(emulator: Emulator, issue_key: KeyIssuer) -> None:
    mpl = client_for(emulator, issue_key)
    record = sender(emulator, issue_key).get().iflowtest_record  # type: ignore[attr-defined]
    assert isinstance(record, CallRecord)

    assert check_status(mpl, record, {"status": "COMPLETED", "timeout": 5}).status == "COMPLETED"
    with pytest.raises(Exception, match="unknown key 'state' in mpl assertion: use status and timeout"):
        check_status(mpl, record, {"state": "COMPLETED"})


def test_literals_and_dates() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    assert (
        odata_literal(datetime(2026, 1, 2, 4, 5, 6, tzinfo=timezone(timedelta(hours=2))))
        == "datetime'2026-01-02T02:05:06'"
    )
    assert parse_odata_datetime("/Date(1765786792442)/") == datetime(2025, 12, 15, 8, 19, 52, 442000, tzinfo=UTC)
    assert parse_odata_datetime("/Date(1765786792442+0000)/") == datetime(2025, 12, 15, 8, 19, 52, 442000, tzinfo=UTC)
    assert parse_odata_datetime(None) is None


SHARED_CLAIMS = """
import json
import pathlib

import pytest

from iflowtest.calls import mpl


@pytest.mark.iflow("ReadCostCenters")
@pytest.mark.parametrize("n", range(4))
def test_read_and_check(iflow, n):
    response = iflow.get(params={"companyCode": "1010"})
    folder = mpl.RUN_CLAIMS.directory
    pathlib.Path(f"claims-{n}.json").write_text(json.dumps(str(folder) if folder else None))
    assert response.status_code == 200
"""


def test_xdist_workers_share_one_claims_folder_removed_after_the_run(pytester: pytest.Pytester) -> None:
    shutil.copy(ROOT / "pyproject.toml", pytester.path / "pyproject.toml")
    pytester.makepyfile(test_shared=SHARED_CLAIMS)

    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly")

    result.assert_outcomes(passed=4)
    folders = {json.loads((pytester.path / f"claims-{n}.json").read_text()) for n in range(4)}
    assert len(folders) == 1 and None not in folders  # every worker, one folder
    assert not Path(folders.pop()).exists()  # removed when the run ended
