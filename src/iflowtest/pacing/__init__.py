"""Pacing: the requests per second a run sends to each host or API of the target, shared by its xdist workers.

Owns the configured and documented limits (`limits`: `[tool.iflowtest.rate_limits]`, SAP's per-user API
limits as defaults, which API a URL belongs to) and the pacer (`pacer`): a token bucket per host or API in
a file that every process of the run locks, slowed down by 429 answers until their `Retry-After` has
passed, with the delays it caused counted for the report.
It may import only the shared base at the top (`errors`, `redaction`, `files`, `settings`).
"""
