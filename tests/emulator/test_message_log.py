"""The emulator's message processing log keeps the newest records only, so long runs stay flat in memory."""

from __future__ import annotations

from datetime import UTC, datetime

from iflowtest.emulator.tenant import MessageLog, MessageRecord


def record(guid: str) -> MessageRecord:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return MessageRecord(guid, guid, "ReadCostCenters", "COMPLETED", moment, moment)


def test_the_log_keeps_the_newest_records_and_finds_them_by_id() -> None:
    log = MessageLog(keep=2)
    for guid in ("a", "b", "c"):
        log.add(record(guid))

    assert [r.message_guid for r in log.records()] == ["b", "c"]
    assert log.get("a") is None
    assert log.get("c") == record("c")
