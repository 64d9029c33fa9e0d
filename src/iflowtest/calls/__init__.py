"""Calling iFlows and the APIs around them: how a request goes out and what is recorded of it.

Owns the iFlow client (`client`: CSRF, MPL ids, call records), the pooled session (`session`), retries and
retried body reads (`retrying`, `bodyretry`), the pool that hands out clients per declared client and iFlow
(`pool`), the hints that explain error answers (`hints`), the message-log client (`mpl`), the reads of what a
message did (`monitor`: properties, attachments, message store, trace, successors, data stores, JMS queues)
and the notice of a run without TLS verification (`tlsverify`).
It may import `credentials` (a `ResolvedClient` is what it calls as), `pacing` (every call waits for the run's
pacer) and the shared base, nothing else.
"""
