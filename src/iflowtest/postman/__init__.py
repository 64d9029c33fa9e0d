"""Postman import: a Postman collection with its environment and data file turned into YAML cases.

Owns the collection model (`collection`), the shapes Newman accepts brought to v2.1 (`shapes`), the v3
collection folder reader (`v3`), the checks of its inputs and output folder (`check`), the importer
(`importer`), the conversion of `pm.*` test scripts into expectations (`scripts`, reading JavaScript subjects in
`chai` and chai chains in `chains`) and of `pm.sendRequest` into preceding steps (`prerequest`), and the
conversion report, CONVERSION.md (`conversion`).
It may import only the shared base (`tables` for data files).
"""
