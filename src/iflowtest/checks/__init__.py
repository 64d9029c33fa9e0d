"""Checks: what a response must be, shared by YAML cases and Python tests.

Owns the expectations (`assertions`: status, headers, JSONPath, XPath, OData, JSON Schema, XSD, time), the
matchers they compare with (`matchers`) and recorded baselines compared under ignore rules (`baselines`).
It may import `calls` (call records) and the shared base.
"""
