"""Cassettes: recording iFlow calls once and replaying them offline.

Owns the recording modes and `[tool.iflowtest.cassettes]` (`modes`), the cassette store bound to vcrpy
(`store`), the indexed replay with its miss messages (`replay`), request matching (`matching`), scrubbing of
secrets and hosts (`scrub`), stand-ins for ids and times that change on every call (`volatile`), the YAML
serializer (`serializer`), the pytest glue (`recording`) and the `iflowtest cassettes check` command (`check`).
It may import `credentials` (the keys whose hosts and secrets it scrubs) and the shared base.
"""
