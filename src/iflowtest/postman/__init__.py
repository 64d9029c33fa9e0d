"""Postman import: a Postman collection with its environment and data file turned into YAML cases.

Owns the collection model (`collection`), the checks of its inputs and output folder (`check`), the importer
(`importer`), the conversion of `pm.*` test scripts into expectations (`scripts`, reading JavaScript subjects in
`chai` and chai chains in `chains`) and the conversion report,
CONVERSION.md (`conversion`).
It may import only the shared base (`tables` for data files).
"""
