"""SOAP and IDoc over `/cxf`: what a SOAP sender needs beyond an HTTP call.

Owns envelopes built from templates for SOAP 1.1 and 1.2 and faults read as such (`envelope`), WS-Security
signatures made with a client certificate and checked on answers (`security`, with signxml), the check of a
body against the WSDL a case names (`wsdl`, with xmlschema), and the calls and expectations that YAML cases
and Python tests share (`call`).
It may import `calls` (the iFlow client), `checks` (matchers, the expectation error) and the shared base.
"""
