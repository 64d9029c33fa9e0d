"""Credentials: who the harness calls as.

Owns service keys (`servicekey`), token fetching and caching (`tokens`, with the circuit `breaker` that stops
a dead token endpoint from being asked once per test), certificate keys for mTLS (`mtls`) and the client
registry (`registry`), which resolves each declared client once into a `ResolvedClient`: spec, key, auth,
certificate, TLS verification and timeouts in one value that the call path carries downwards.
It may import the shared base at the top (`errors`, `redaction`, `files`, `settings`) and `pacing` (token requests are paced).
"""
