"""Checks: what a response must be, shared by YAML cases and Python tests.

Owns the expectations (`assertions`: status, headers, JSONPath, XPath, OData, JSON Schema, XSD, time), the
matchers they compare with (`matchers`), recorded baselines compared under ignore rules (`baselines`) and the
message-level expectations on what a message did inside CPI (`messages`, the `mpl` fixture and YAML `message:`).
It may import `calls` (call records, the message-log and monitoring reads) and the shared base.
"""
