"""What the tenant's flows keep besides their message logs: data store entries and JMS queue messages.

A flow's Write step puts an entry into a data store (`DataStoreEntries` of the API, looked up by store and
id); a JMS receiver puts a message on a queue, from which a JMS sender flow takes it a moment later
(`JmsMessages`; a message whose processing failed stays on the queue, marked failed, until it is retried).
Both are shared by the server's request threads, so each guards its state with a lock and hands out copies.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Final

# The one broker of a tenant's JMS queues, as SAP's API names it (`JmsBrokers('Broker1')`).
BROKER: Final = "Broker1"


@dataclass(frozen=True)
class DataStoreEntry:
    """One entry a flow's Write step put into a data store."""

    store: str
    entry_id: str
    iflow: str  # the writing flow: local data stores are scoped to it
    message_guid: str
    content: str
    content_type: str
    created_at: datetime
    retain_until: datetime
    headers: tuple[tuple[str, str], ...] = ()


class DataStores:
    """Every data store entry of the tenant, by (store, id, flow); a second write with the same id overwrites."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], DataStoreEntry] = {}
        self._lock = threading.Lock()

    def write(self, entry: DataStoreEntry) -> None:
        """Store `entry` (overwrite, as a Write step with *Overwrite Existing Message* does)."""
        with self._lock:
            self._entries[(entry.store, entry.entry_id, entry.iflow)] = entry

    def entries(self) -> list[DataStoreEntry]:
        """A copy of every entry, oldest first."""
        with self._lock:
            return sorted(self._entries.values(), key=lambda e: e.created_at)


@dataclass(frozen=True)
class QueuedMessage:
    """One message on a JMS queue, from the JMS receiver that put it there to the JMS sender that takes it."""

    queue: str
    jms_id: str
    message_guid: str  # the message that put it on the queue
    created_at: datetime
    # When the consuming flow takes it (emulator clock); a failed one stays, marked failed, until retried.
    taken_at: datetime | None = None
    failed: bool = False
    retry_count: int = 0
    next_retry: datetime | None = None

    def on_queue(self, now: datetime) -> bool:
        """Whether the API shows the message on its queue at `now`."""
        return self.failed or self.taken_at is None or now < self.taken_at

    def failed_at(self, now: datetime) -> bool:
        """Whether the message is marked failed at `now` (its consumer has run and failed)."""
        return self.failed and (self.taken_at is None or now >= self.taken_at)


class JmsQueues:
    """The queues of the tenant's broker and the messages on them."""

    def __init__(self) -> None:
        self._queues: dict[str, list[QueuedMessage]] = {}
        self._lock = threading.Lock()

    def declare(self, queue: str) -> None:
        """Make `queue` exist (a deployed flow with a JMS adapter creates its queue)."""
        with self._lock:
            self._queues.setdefault(queue, [])

    def put(self, message: QueuedMessage) -> None:
        """Put `message` on its queue."""
        with self._lock:
            self._queues.setdefault(message.queue, []).append(message)

    def update(self, jms_id: str, **changes: object) -> None:
        """Change a message (the consumer took it, or failed on it)."""
        with self._lock:
            for messages in self._queues.values():
                for index, message in enumerate(messages):
                    if message.jms_id == jms_id:
                        messages[index] = dataclasses.replace(message, **changes)  # type: ignore[arg-type]

    def names(self) -> list[str]:
        """Every queue, by name."""
        with self._lock:
            return sorted(self._queues)

    def messages(self, now: datetime) -> list[QueuedMessage]:
        """The messages on every queue at `now`, oldest first."""
        with self._lock:
            every = [m for messages in self._queues.values() for m in messages]
        return sorted((m for m in every if m.on_queue(now)), key=lambda m: m.created_at)
