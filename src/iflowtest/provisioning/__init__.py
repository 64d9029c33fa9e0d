"""Provisioning: OAuth clients created for a run through the Cloud Foundry V3 API, and deleted after it.

Owns the cf CLI session (`cfsession`), the CF API client (`cfapi`), the provisioner that creates and deletes
service instances and keys (`provisioner`), the run's keys, provisioned or loaded (`runkeys`), the report
of instances killed runs left behind (`leftovers`) and the `iflowtest provision` commands (`cli`).
It may import `credentials` (keys it hands over), `calls` (the TLS notice) and the shared base.
"""
