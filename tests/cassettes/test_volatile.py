"""Volatile values become stand-ins: two recordings of the same behaviour give the same cassette text."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from typing import Any

import pytest

from iflowtest.calls.client import ApplicationIds
from iflowtest.cassettes.matching import APPLICATION_ID, DEFAULT_IGNORE_PATTERNS, MatchRules, request_key
from iflowtest.cassettes.serializer import CassetteSerializer, deserialize
from iflowtest.cassettes.volatile import StandIns, stand_in
from iflowtest.emulator.tenant import new_message_id

MPL_SHAPE = re.compile(r"AG[A-Za-z0-9_-]{26}")


def interaction(method: str, uri: str, request_body: Any, headers: dict[str, list[str]], body: str) -> dict[str, Any]:
    return {
        "request": {"method": method, "uri": uri, "body": request_body, "headers": {"Accept": ["*/*"]}},
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {"Content-Length": [str(len(body.encode()))], **headers},
            "body": {"string": body},
        },
    }


def recording(now: float, log_end_ms: int, request_id: str) -> dict[str, Any]:
    """What the emulator answers to one call and its message-log lookup, with this run's ids and times."""
    mpl_id, correlation = new_message_id(now), new_message_id(now)
    log = {
        "d": {
            "MessageGuid": mpl_id,
            "CorrelationId": correlation,
            "TransactionId": correlation.lower(),
            "LogStart": f"/Date({int(now * 1000)})/",
            "LogEnd": f"/Date({log_end_ms})/",
            "AlternateWebLink": f"{{runtime}}/shell/monitoring/Messages/%7B%22identifier%22%3A%22{mpl_id}%22%7D",
            "ValidFrom": "/Date(1262304000000)/",  # not volatile: data a test may check
        }
    }
    answer = f"<Answer><RequestId>{request_id}</RequestId><Owner>4711-0815-DATA</Owner></Answer>"
    return {
        "version": 1,
        "interactions": [
            interaction(
                "POST",
                "{runtime}/http/change",
                f'{{"at": "2026-12-06T09:54:{int(now) % 60:02d}Z", "id": "{uuid.uuid4()}"}}',
                {
                    "SAP_MessageProcessingLogID": [mpl_id],
                    "Date": ["Sun, 06 Dec 2026 09:54:23 GMT"],
                    "Content-Type": ["application/xml"],
                },
                answer,
            ),
            interaction(
                "GET",
                f"{{runtime}}/api/v1/MessageProcessingLogs('{mpl_id}')",
                None,
                {"Content-Type": ["application/json"]},
                json.dumps(log, separators=(",", ":")),
            ),
        ],
    }


@pytest.fixture
def serializer() -> CassetteSerializer:
    return CassetteSerializer(StandIns(MatchRules.from_table({"ignore_fields": ["RequestId"]})))


def test_two_recordings_of_the_same_behaviour_give_the_same_text(serializer: CassetteSerializer) -> None:
    first = serializer.serialize(recording(1_796_550_863.1, 1_796_550_863_100, str(uuid.uuid4())))
    second = serializer.serialize(recording(1_796_550_999.7, 1_796_551_000_002, str(uuid.uuid4())))

    assert first == second
    assert "Date:" not in first


def test_an_mpl_id_stays_one_id_across_header_uri_and_bodies(serializer: CassetteSerializer) -> None:
    cassette = deserialize(serializer.serialize(recording(1_796_550_863.1, 1_796_550_863_100, "x" * 36)))
    call, lookup = cassette["interactions"]

    [mpl_id] = call["response"]["headers"]["SAP_MessageProcessingLogID"]
    log = json.loads(lookup["response"]["body"]["string"])["d"]
    assert MPL_SHAPE.fullmatch(mpl_id)  # still shaped as CPI's ids are, so checks of the shape hold on replay
    assert lookup["request"]["uri"] == f"{{runtime}}/api/v1/MessageProcessingLogs('{mpl_id}')"
    assert log["MessageGuid"] == mpl_id and mpl_id in log["AlternateWebLink"]
    assert log["TransactionId"] != log["CorrelationId"].lower()  # its own stand-in, the same length
    assert len(log["TransactionId"]) == 28
    assert log["LogStart"] == log["LogEnd"] == "/Date(1577836800000)/"
    assert log["ValidFrom"] == "/Date(1262304000000)/"  # data: kept
    assert lookup["response"]["headers"]["Content-Length"] == [str(len(lookup["response"]["body"]["string"]))]


def test_ignored_fields_are_stand_ins_and_other_answer_data_is_kept(serializer: CassetteSerializer) -> None:
    request_id = "3fad13ac-428f-4b83-95dd-8d6c54b2dc4d"
    text = serializer.serialize(recording(1_796_550_863.1, 1_796_550_863_100, request_id))

    assert request_id not in text
    assert re.search(r"<RequestId>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}</RequestId>", text)
    assert "<Owner>4711-0815-DATA</Owner>" in text


def test_a_guid_in_an_answer_that_no_rule_names_is_data() -> None:
    guid = "1d48f624-bcee-43ed-a092-d6720501571c"
    cassette = {"interactions": [interaction("GET", "{runtime}/http/x", None, {}, f'{{"PlanId": "{guid}"}}')]}

    StandIns().apply(cassette)

    assert guid in cassette["interactions"][0]["response"]["body"]["string"]


def test_request_patterns_become_stand_ins_that_matching_still_ignores() -> None:
    rules = MatchRules()
    uri = "{runtime}/api/v1/MessageProcessingLogs?$filter=LogStart%20ge%20datetime%272026-12-06T09%3A54%3A23.123%27"
    body = '{"id": "1d48f624-bcee-43ed-a092-d6720501571c", "at": "2026-12-06T09:54:23Z"}'
    cassette = {"interactions": [interaction("POST", uri, body, {}, "ok")]}
    before = request_key("POST", uri, {"Content-Type": "application/json"}, body.encode(), rules)

    StandIns(rules).apply(cassette)

    request = cassette["interactions"][0]["request"]
    assert "2026" not in request["uri"] and "2020-01-01T00%3A00%3A00.000" in request["uri"]
    assert "1d48f624" not in request["body"]
    after = request_key("POST", request["uri"], {"Content-Type": "application/json"}, request["body"].encode(), rules)
    assert after == before


@pytest.mark.parametrize(
    "value",
    [
        "1d48f624-bcee-43ed-a092-d6720501571c",
        "2026-12-06T09:54:23.123Z",
        "2026-12-06T09:54+01:00",
        "2026-12-06T09:54:23",
    ],
)
def test_a_stand_in_matches_the_default_pattern_of_its_value(value: str) -> None:
    [pattern] = [p for p in DEFAULT_IGNORE_PATTERNS if re.fullmatch(p, value)]

    assert re.fullmatch(pattern, stand_in(value, 3))
    assert len(stand_in(value, 3)) == len(value)


def test_stand_ins_depend_on_the_number_and_the_alphabet_only() -> None:
    # Two random ids of one kind: a digit here, a letter there, `_` or none; the same stand-in.
    assert stand_in("ab12_cd-ef34gh", 1) == stand_in("zz9x8y7w6v5u4t", 1)
    assert stand_in("0ac4fd5821d55eb0", 2) == stand_in("f3a09fc8952b4eeb", 2)
    assert stand_in("0ac4fd5821d55eb0", 2) != stand_in("0ac4fd5821d55eb0", 3)
    assert re.fullmatch(r"[0-9a-f]{16}", stand_in("0ac4fd5821d55eb0", 2))


def test_application_ids_keep_a_shape_matching_ignores() -> None:
    sent = ApplicationIds()()
    replaced = stand_in(sent, 3)

    assert APPLICATION_ID.fullmatch(sent) and APPLICATION_ID.fullmatch(replaced)
    assert replaced != sent and replaced == stand_in(sent, 3)
    assert MatchRules(ignore_patterns=()).blank(f"ApplicationMessageId eq '{sent}'") == (
        MatchRules(ignore_patterns=()).blank(f"ApplicationMessageId eq '{replaced}'")
    )


def test_an_mpl_id_only_in_the_error_text_is_a_stand_in_too(serializer: CassetteSerializer) -> None:
    # A strict tenant sends no MPL id header: a failed call's id stands only in SAP's 500 text.
    texts = []
    for now in (1_796_550_863.1, 1_796_550_999.7):
        mpl_id = new_message_id(now)
        body = f"An internal server error occured.\nThe MPL ID for the failed message is : {mpl_id}\n"
        failed = interaction("GET", "{runtime}/http/failing", None, {"Content-Type": ["text/plain"]}, body)
        texts.append(serializer.serialize({"version": 1, "interactions": [failed]}))

    assert texts[0] == texts[1]
    assert MPL_SHAPE.search(texts[0])


def test_only_the_last_answer_of_a_message_log_poll_is_kept(serializer: CassetteSerializer) -> None:
    # How often a poll found the log missing or PROCESSING depends on timing: a replay answers the final state.
    uri = "{api}/api/v1/MessageProcessingLogs('AGmpl0000000000000000000000x')"
    polls = [
        interaction("GET", uri, None, {"Content-Type": ["application/json"]}, json.dumps({"d": {"Status": status}}))
        for status in ("PROCESSING", "PROCESSING", "COMPLETED")
    ]
    call = interaction("GET", "{runtime}/http/costcenters", None, {"Content-Type": ["application/json"]}, "{}")

    kept = deserialize(serializer.serialize({"version": 1, "interactions": [call, *polls, call]}))["interactions"]

    assert [i["request"]["uri"] for i in kept] == ["{runtime}/http/costcenters", uri, "{runtime}/http/costcenters"]
    assert json.loads(kept[1]["response"]["body"]["string"]) == {"d": {"Status": "COMPLETED"}}


def test_a_zip_answer_gets_the_same_stand_ins_inside_and_packs_the_same_twice() -> None:
    # A data store entry's content comes as a zip (`body`, `headers.prop`): its RequestId is the answer's.
    def zipped(request_id: str) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("body", f"<Answer><RequestId>{request_id}</RequestId></Answer>")
            archive.writestr("headers.prop", "SAP_MessageProcessingLogID=x\n")
        return buffer.getvalue()

    def cassette(request_id: str) -> dict[str, Any]:
        answer = interaction(
            "POST", "{runtime}/http/change", None, {}, f"<Answer><RequestId>{request_id}</RequestId></Answer>"
        )
        entry = interaction("GET", f"{{api}}/api/v1/DataStoreEntries(Id='{request_id}')/$value", None, {}, "")
        entry["response"]["body"]["string"] = zipped(request_id)
        return {"version": 1, "interactions": [answer, entry]}

    rules = MatchRules.from_table({"ignore_fields": ["RequestId"]})
    first, second = cassette(str(uuid.uuid4())), cassette(str(uuid.uuid4()))
    StandIns(rules).apply(first)
    StandIns(rules).apply(second)

    stored = [c["interactions"][1]["response"]["body"]["string"] for c in (first, second)]
    assert stored[0] == stored[1]
    with zipfile.ZipFile(io.BytesIO(stored[0])) as archive:
        body = archive.read("body").decode()
    stand_in_id = first["interactions"][0]["response"]["body"]["string"].split("<RequestId>")[1].split("<")[0]
    assert body == f"<Answer><RequestId>{stand_in_id}</RequestId></Answer>"
