"""What a message did inside CPI, read through the tenant's monitoring API (`<api-plan url>/api/v1`).

`MonitorClient` extends the message-log client with the parts of a message SAP's API exposes (cpi-facts
section 5): custom header properties, attachments (`MessageProcessingLogAttachments('id')/$value`),
message store entries (`MessageStoreEntries('id')/$value`), trace payloads (`Runs`, `RunSteps`,
`TraceMessages(<n>L)/$value`, kept about an hour), the messages a message triggered
(`PredecessorMessageGuid`, 2025-10), data store entries (`DataStoreEntries`, a zip with the body) and JMS
queues (`JmsMessages`, `JmsBrokers('Broker1')?$expand=QueueStates`, 2026-05). Each read names the role it
needs when the tenant refuses it, so a monitor client without `MessagePayloadsRead` gets one line that says so.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import requests

from iflowtest.bounds.answers import MAX_BODY_BYTES, BoundedResponse
from iflowtest.calls import odata
from iflowtest.calls.mpl import MONITORING_ROLE, MessageLog, MplClient, MplError, Pages, next_page

PAYLOADS_ROLE: Final = "MessagePayloadsRead"
TRACE_ROLE: Final = "TraceConfigurationRead"
STORES_ROLE: Final = "DataStoresAndQueuesRead"
STORE_PAYLOADS_ROLE: Final = "DataStorePayloadsRead"
BROKER: Final = "Broker1"
# Which field of a JMS message names its queue, and which says it failed: the JMS API is new (2026-05) and
# its field names are UNCONFIRMED, so each form seen in public clients is read.
_QUEUE_FIELDS: Final = ("Name", "QueueName", "Queue")
_FAILED_STATUSES: Final = frozenset({"FAILED", "ERROR"})


@dataclass(frozen=True)
class MessagePart:
    """One stored document of a message: an attachment, a message store entry, a trace payload, a data store entry."""

    kind: str  # "attachment", "message store entry", "trace payload" or "data store entry"
    name: str  # attachment name, message store id (Persist step), model step id, or data store entry id
    value_path: str  # below the API root, e.g. MessageProcessingLogAttachments('...')/$value
    roles: tuple[str, ...]  # what reading the content needs, for the error that names a missing one
    content_type: str | None = None
    message_guid: str | None = None


@dataclass(frozen=True)
class QueueMessage:
    """One message on a JMS queue."""

    queue: str
    jms_id: str
    message_guid: str | None
    failed: bool
    retry_count: int


class MonitorClient(MplClient):
    """Reads what a message did: its properties, stored documents, successors, data stores and queues."""

    # ------------------------------------------------------------ the message's own parts
    def custom_header_properties(self, guid: str) -> list[tuple[str, str]]:
        """(name, value) of every custom header property the flow set (SAP allows one name several times)."""
        rows = self._results(
            f"MessageProcessingLogs('{_key(guid)}')/CustomHeaderProperties",
            f"read the custom header properties of message {guid}",
        )
        return [(odata.text_field(row, "Name") or "", odata.text_field(row, "Value") or "") for row in rows]

    def attachments(self, guid: str) -> list[MessagePart]:
        """The attachments the flow wrote to the message's log (names may repeat)."""
        return self._parts(guid, "Attachments", "attachment", "Name", "MessageProcessingLogAttachments", "ContentType")

    def store_entries(self, guid: str) -> list[MessagePart]:
        """The message store entries its Persist steps wrote, named by their message store id (the step id)."""
        return self._parts(guid, "MessageStoreEntries", "message store entry", "MessageStoreId", "MessageStoreEntries")

    def _parts(
        self, guid: str, navigation: str, kind: str, name: str, entity_set: str, content_type: str | None = None
    ) -> list[MessagePart]:
        """The stored parts listed under a log's navigation property, each readable at `<entity_set>('id')/$value`."""
        what = f"list the {navigation_words(navigation)} of {guid}"
        rows = self._results(f"MessageProcessingLogs('{_key(guid)}')/{navigation}", what)
        with odata.reading(f"cannot {what}", MplError):
            return [
                MessagePart(
                    kind,
                    str(row.get(name, "")),
                    f"{entity_set}('{_key(str(row['Id']))}')/$value",
                    (PAYLOADS_ROLE,),
                    odata.text_field(row, content_type) if content_type else None,
                    guid,
                )
                for row in rows
            ]

    def trace_payloads(self, guid: str) -> list[MessagePart]:
        """The payloads a run at log level Trace kept, named by model step id; empty once they expired."""
        parts: list[MessagePart] = []
        for run in self._results(f"MessageProcessingLogs('{_key(guid)}')/Runs", f"list the runs of message {guid}"):
            with odata.reading(f"cannot list the runs of message {guid}", MplError):
                run_id = _key(str(run["Id"]))
            steps = self._results(
                f"MessageProcessingLogRuns('{run_id}')/RunSteps", f"list the run steps of message {guid}"
            )
            for step in steps:
                with odata.reading(f"cannot list the run steps of message {guid}", MplError):
                    step_key = f"RunId='{_key(str(step['RunId']))}',ChildCount={int(step['ChildCount'])}"
                traces = self._results(
                    f"MessageProcessingLogRunSteps({step_key})/TraceMessages",
                    f"list the trace of message {guid}",
                    role=TRACE_ROLE,
                )
                with odata.reading(f"cannot list the trace of message {guid}", MplError):
                    parts.extend(
                        MessagePart(
                            "trace payload",
                            str(trace.get("ModelStepId") or step.get("ModelStepId") or ""),
                            f"TraceMessages({int(trace['TraceId'])}L)/$value",
                            (PAYLOADS_ROLE, TRACE_ROLE),
                            trace.get("MimeType"),
                            guid,
                        )
                        for trace in traces
                    )
        return parts

    def content(self, part: MessagePart) -> requests.Response:
        """The content of a stored part (`$value`); a data store entry's zip is unpacked to its body."""
        response = self._get(f"{self.base_url}/{part.value_path}", accept="*/*")
        if response.status_code == 404:
            raise MplError(
                f"the {part.kind} {part.name!r} is listed but its content is gone (404 on {part.value_path}): the "
                "tenant may have deleted it (trace payloads expire after about an hour)"
            )
        self._check(response, f"read the {part.kind} {part.name!r}", json_body=False, role=" and ".join(part.roles))
        if part.kind == "data store entry" and response.content[:2] == b"PK":
            return _unpacked(response)
        return response

    # ------------------------------------------------------------ messages it triggered
    def successors(self, guid: str, iflow: str | None = None) -> list[MessageLog]:
        """The messages whose PredecessorMessageGuid is `guid` (optionally only those of one iFlow)."""
        terms = [f"PredecessorMessageGuid eq '{guid.replace(chr(39), chr(39) * 2)}'"]
        if iflow:
            terms.append(f"IntegrationArtifact/Id eq '{self._artifact_id(iflow).replace(chr(39), chr(39) * 2)}'")
        params = {"$filter": " and ".join(terms), "$orderby": "LogStart"}
        response = self._get(f"{self.base_url}/MessageProcessingLogs", params=params)
        if response.status_code == 400:
            raise MplError(
                f"the message log API of {self.base_url} cannot filter by PredecessorMessageGuid (400): the field came "
                "with the 2025-10 release of Cloud Integration; on an older tenant, check downstream flows by their "
                "own calls"
            )
        what = f"find the messages that followed {guid}"
        self._check(response, what)
        body = odata.entity(response, f"cannot {what}", MplError)
        return [MessageLog.from_json(row) for row in odata.rows(body, f"cannot {what}", MplError)]

    # ------------------------------------------------------------ data stores and queues
    def data_store_entries(self, store: str, entry_id: str) -> list[tuple[dict[str, Any], MessagePart]]:
        """The entries with id `entry_id` in data store `store` (one per iFlow for local stores), with their parts."""
        where = f"DataStoreName eq '{store.replace(chr(39), chr(39) * 2)}' and Id eq '{entry_id.replace(chr(39), chr(39) * 2)}'"
        what = f"read data store {store!r}"
        try:
            rows = list(self._rows("DataStoreEntries", {"$filter": where}, what, role=STORES_ROLE))
        except _Refused as refused:
            if refused.status == 404:
                raise MplError(f"cannot {what}: the API of {self.base_url} has no DataStoreEntries (404)") from None
            # A tenant that does not filter data store entries: read them all and pick the same ones here.
            every = self._rows("DataStoreEntries", {}, what, role=STORES_ROLE)
            rows = [r for r in every if r.get("DataStoreName") == store and str(r.get("Id")) == entry_id]
        found = []
        for row in rows:
            key = ",".join(
                f"{name}='{_key(str(row.get(name) or ''))}'"
                for name in ("Id", "DataStoreName", "IntegrationFlow", "Type")
            )
            part = MessagePart(
                "data store entry",
                entry_id,
                f"DataStoreEntries({key})/$value",
                (STORE_PAYLOADS_ROLE,),
                None,
                row.get("MessageId"),
            )
            found.append((row, part))
        return found

    def queue_messages(self, queue: str) -> list[QueueMessage]:
        """The messages on JMS queue `queue` (`JmsMessages`), failed ones included."""
        what = f"read the messages of queue {queue!r}"
        literal = queue.replace("'", "''")
        try:
            rows = list(self._rows("JmsMessages", {"$filter": f"Name eq '{literal}'"}, what, role=STORES_ROLE))
        except _Refused as refused:
            if refused.status == 404:
                raise MplError(
                    f"cannot {what}: the API of {self.base_url} has no JmsMessages (404): queue checks need the JMS "
                    "message API of Cloud Integration (2026-05)"
                ) from None
            # A tenant whose messages name their queue otherwise refuses the filter: read them all, pick locally.
            rows = list(self._rows("JmsMessages", {}, what, role=STORES_ROLE))
        messages = []
        for row in rows:
            name = next((str(row[f]) for f in _QUEUE_FIELDS if row.get(f) not in (None, "")), "")
            if name != queue:
                continue
            failed = row.get("Failed") in (True, "true") or str(row.get("Status", "")).upper() in _FAILED_STATUSES
            messages.append(
                QueueMessage(
                    queue=name,
                    jms_id=str(row.get("Id", "")),
                    message_guid=row.get("MessageId") or row.get("Mplid") or row.get("MplId"),
                    failed=failed,
                    retry_count=_count(row.get("RetryCount")),
                )
            )
        return messages

    def queue_names(self) -> list[str] | None:
        """The queues of the tenant's broker (`JmsBrokers('Broker1')?$expand=QueueStates`); None without that API."""
        response = self._get(f"{self.base_url}/JmsBrokers('{BROKER}')", params={"$expand": "QueueStates"})
        if response.status_code == 404:
            return None
        what = "cannot read the queues of the JMS broker"
        self._check(response, what.removeprefix("cannot "), role=STORES_ROLE)
        states = odata.expanded(odata.entity(response, what, MplError), "QueueStates", what, MplError)
        return [odata.text_field(state, "Name") or "" for state in states]

    # ------------------------------------------------------------ internals
    def _results(self, path: str, what: str, *, role: str = MONITORING_ROLE) -> list[dict[str, Any]]:
        response = self._get(f"{self.base_url}/{path}")
        self._check(response, what, role=role)
        return odata.rows(odata.entity(response, f"cannot {what}", MplError), f"cannot {what}", MplError)

    def _rows(self, entity_set: str, params: dict[str, str], what: str, *, role: str) -> Iterator[dict[str, Any]]:
        """Every row of an entity set query, following `__next` links; `_Refused` for a 400 or 404."""
        url: str | None = f"{self.base_url}/{entity_set}"
        query = {"$inlinecount": "allpages", **params}
        pages = Pages(what)
        while url is not None:
            pages.visit(url, query)
            response = self._get(url, params=query)
            if response.status_code in (400, 404):
                raise _Refused(response.status_code)
            self._check(response, what, role=role)
            body = odata.entity(response, f"cannot {what}", MplError)
            yield from odata.rows(body, f"cannot {what}", MplError)
            link = body.get("__next")
            url, query = next_page(response.url, link, query) if link else (None, query)


class _Refused(Exception):
    """A query the tenant does not understand (400) or an entity set it does not have (404)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _key(value: str) -> str:
    return quote(value.replace("'", "''"), safe="")


def navigation_words(navigation: str) -> str:
    """A navigation property as words for messages: `MessageStoreEntries` → "message store entries"."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", navigation).lower()


def _count(value: Any) -> int:
    """A count field (`RetryCount`): 0 when absent or not a number."""
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError, OverflowError):
        return 0


def _unpacked(response: requests.Response) -> requests.Response:
    """A data store entry's zip (`body` and `headers.prop`) as a response whose content is the body."""
    try:
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive, archive.open("body") as stream:
            body = stream.read(MAX_BODY_BYTES + 1)  # the size in the zip's directory is the sender's word only
    except (zipfile.BadZipFile, KeyError, NotImplementedError, RuntimeError, EOFError, OSError, zlib.error):
        return response  # not the zip of a data store entry: its content as it came
    if len(body) > MAX_BODY_BYTES:
        raise MplError(
            f"the data store entry at {response.url} unpacks to more than {MAX_BODY_BYTES // (1024 * 1024)} MiB: "
            "check what the data store holds"
        )
    unpacked = BoundedResponse()
    unpacked.status_code = response.status_code
    unpacked.url = response.url
    unpacked._content = body
    unpacked.encoding = "utf-8"
    return unpacked
