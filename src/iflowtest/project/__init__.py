"""A project of one's own: `iflowtest init` (a working project from the bundled template, merged into what is
there), `iflowtest discover` (a tenant's deployed iFlows and their endpoints, written as iFlow tables and a
smoke suite) and `iflowtest schema` (the YAML suite schema for editors). It may import `credentials` and
`calls` besides the shared base; never the emulator (discovery reads a tenant, or the emulator, over HTTP).
"""
