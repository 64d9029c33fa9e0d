"""YAML cases: `*.iflow.yaml` files collected and run as pytest items.

Owns the file format and its validation (`format`), the runner of one case with its steps, saved values and
expectations (`run`), the pytest collector with its failure view in the user's own terms (`collector`) and
the check of the client and iFlow names suites use, in markers, YAML and fixture calls (`names`), and the
run's summary of imported assertions converted and not (`imported`).
Data tables are `iflowtest.tables`, shared with Python tests and the Postman import.
It may import `calls`, `checks`, `cassettes` (a case's cassette), `reporting` (its failure view's printing)
and the shared base.
"""
