"""The monitoring API's answers as a hostile or broken tenant may send them: one MplError line, never a traceback.

A real HTTP server on loopback answers each read; the client is the harness's own (`MonitorClient`), so the
same code reads these answers as reads a tenant's.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from requests.auth import HTTPBasicAuth
from werkzeug.wrappers import Request, Response

from iflowtest.calls.monitor import MonitorClient
from iflowtest.calls.mpl import MplError
from tests.servers import serve

GUID = "AGhostile"
LOG = {"MessageGuid": GUID, "Status": "COMPLETED", "LogStart": "/Date(1765786792442)/"}


def odata(body: object) -> Response:
    return Response(json.dumps(body), content_type="application/json")


@contextmanager
def monitor(handler: Callable[[Request], Response]) -> Iterator[tuple[MonitorClient, str]]:
    with serve(handler) as url:
        client = MonitorClient(url, HTTPBasicAuth("monitor", "secret"), client_name="monitor")
        try:
            yield client, url
        finally:
            client.close()


BROKEN_LOGS = {
    "deep": Response("[" * 100_000 + "]" * 100_000, content_type="application/json"),
    "a list": odata([LOG]),
    "d is text": odata({"d": "yes"}),
    "not json": Response("{'d': ", content_type="application/json"),
    "null": odata(None),
}


@pytest.mark.parametrize("kind", list(BROKEN_LOGS))
def test_a_message_log_answer_without_its_shape_is_one_line(kind: str) -> None:
    with monitor(lambda _request: BROKEN_LOGS[kind]) as (client, _url), pytest.raises(MplError) as info:
        client.get(GUID)
    message = str(info.value)
    assert message.startswith(f"cannot read message log {GUID}: the API answered 200 application/json"), message
    assert "\n" not in message and len(message) < 400, message


def test_fields_of_another_type_are_read_as_unknown_not_as_a_crash() -> None:
    odd = {
        "MessageGuid": GUID,
        "Status": ["COMPLETED"],
        "IntegrationArtifact": "ReadCostCenters",
        "LogStart": "/Date(99999999999999999999999)/",
        "LogEnd": "/Date(-99999999999999)/",
        "CustomStatus": {"x": 1},
        "ApplicationMessageId": 42,
    }
    with monitor(lambda _request: odata({"d": odd})) as (client, _url):
        log = client.get(GUID)
    assert (log.message_guid, log.status, log.iflow, log.log_start, log.log_end) == (GUID, "", None, None, None)
    assert (log.custom_status, log.application_id) == (None, "42")


@pytest.mark.parametrize("results", [{"x": 1}, [LOG, "row"], "rows"])
def test_results_that_are_not_a_list_of_entities_are_one_line(results: object) -> None:
    with (
        monitor(lambda _request: odata({"d": {"results": results}})) as (client, _url),
        pytest.raises(MplError, match=r"^cannot query message logs: the answer's 'results' is not a list"),
    ):
        client.query(status="FAILED")


def test_a_next_link_to_another_host_is_read_from_the_apis_own_host() -> None:
    elsewhere: list[str] = []

    def other_host(request: Request) -> Response:
        elsewhere.append(request.headers.get("Authorization", ""))
        return odata({"d": {"results": []}})

    def api(request: Request) -> Response:
        if "$skiptoken" in request.args:
            return odata({"d": {"results": [{**LOG, "MessageGuid": "second"}]}})
        return odata({"d": {"results": [LOG], "__next": f"{other}/api/v1/MessageProcessingLogs?$skiptoken=1"}})

    with serve(other_host) as other, monitor(api) as (client, _url):
        found = client.query(status="COMPLETED")
    assert [log.message_guid for log in found] == [GUID, "second"]
    assert elsewhere == []  # the credentials never went to the other host


def test_next_links_in_a_circle_end_with_one_line() -> None:
    def api(request: Request) -> Response:
        return odata({"d": {"results": [LOG], "__next": "MessageProcessingLogs?$skiptoken=7"}})

    with monitor(api) as (client, _url), pytest.raises(MplError, match=r"next-page links go round in a circle"):
        client.query(status="COMPLETED")


@pytest.mark.parametrize(
    ("read", "rows"),
    [
        (lambda c: c.attachments(GUID), [{"Name": "a"}]),
        (lambda c: c.store_entries(GUID), [{"MessageStoreId": "s"}]),
        (lambda c: c.trace_payloads(GUID), [{"Id": "run", "RunId": "run", "ChildCount": "many", "TraceId": "x"}]),
    ],
    ids=["attachments", "store", "trace"],
)
def test_rows_without_the_fields_the_harness_needs_are_one_line(
    read: Callable[[MonitorClient], object], rows: list[dict[str, object]]
) -> None:
    with (
        monitor(lambda _request: odata({"d": {"results": rows}})) as (client, _url),
        pytest.raises(MplError, match=r"the answer lacks a field the harness needs, or holds another type") as info,
    ):
        read(client)
    assert "\n" not in str(info.value)


def test_fields_of_another_type_in_rows_are_read_as_unknown() -> None:
    answers = {
        "CustomHeaderProperties": [{"Name": {"a": 1}, "Value": None}],
        "JmsMessages": [{"Name": "Q", "RetryCount": "often", "Failed": "maybe", "MessageId": GUID}],
    }

    def api(request: Request) -> Response:
        return odata({"d": {"results": answers[request.path.rsplit("/", 1)[-1]]}})

    with monitor(api) as (client, _url):
        assert client.custom_header_properties(GUID) == [("", "")]
        [message] = client.queue_messages("Q")
    assert (message.queue, message.retry_count, message.failed, message.message_guid) == ("Q", 0, False, GUID)


def test_a_data_store_entry_that_unpacks_past_the_bound_is_refused() -> None:
    from iflowtest.bounds.answers import MAX_BODY_BYTES

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("body", b"\0" * (MAX_BODY_BYTES + 1024))
    bomb = buffer.getvalue()

    def api(request: Request) -> Response:
        if request.path.endswith("$value"):
            return Response(bomb, content_type="application/zip")
        row = {"Id": "E1", "DataStoreName": "DS", "IntegrationFlow": "F", "Type": "", "MessageId": GUID}
        return odata({"d": {"results": [row]}})

    with monitor(api) as (client, _url):
        [(_row, part)] = client.data_store_entries("DS", "E1")
        with pytest.raises(MplError, match=r"unpacks to more than 64 MiB"):
            client.content(part)
