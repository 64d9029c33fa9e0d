"""The emulated CPI tenant: XSUAA, iFlow runtime and an S/4HANA cost-center backend on loopback.

Owns the server (`server`, and `serving`: cheroot with HTTP/1.1 keep-alive), the tenant's state (`tenant`), the token endpoint (`xsuaa`, `cfuaa`), the iFlow
runtime and its catalog of flows (`runtime`, `catalog`, `flows`, `iflows.yaml`), the OData V2 services
(`odata*`, `costcenters`), the monitoring API (`mpl`, `mpl_model`) with the data stores and JMS queues
flows write (`stores`), the Cloud Foundry V3 API and its service broker
(`cloudfoundry`, `broker`), TLS with a generated CA (`tls`) and fault injection (`faults`).
It stands behind a wall: it may import only `iflowtest.errors`, `iflowtest.files` and the YAML bound
(`iflowtest.bounds.yamlsize`, for the catalog and recordings a project gives it), and the harness reaches
it only through `iflowtest.target`, so it could be lifted out as a package of its own.
"""

from iflowtest.emulator.server import Emulator

__all__ = ["Emulator"]
