"""Hints for error answers: what a 401, 403, 404, 500 or 503 means in the terms of the user's configuration.

A pure function of the answer, the declared client and the iFlow's declared role: the call path carries
those down to it, so a hint never needs the registry or the settings.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

import requests

from iflowtest.settings import ClientSpec

_BODY_LIMIT: Final = re.compile(r"Message body exceeds configured size limit \(([\d.]+) ?MB\)")


def explain_answer(
    response: requests.Response, spec: ClientSpec, iflow: str | None, required: str | None
) -> str | None:
    """A one-line diagnosis of an error answer in the terms of the declared client and iFlow.

    `required` is the role the iFlow's sender adapter requires (`role` of `[tool.iflowtest.iflows.NAME]`).
    """
    status = response.status_code
    flow = f"iFlow {iflow!r}" if iflow else "the iFlow"
    path = urlsplit(response.url).path
    if status == 401:
        how = {
            "basic": "its clientid/clientsecret (Basic)",
            "certificate": "its client certificate",
        }.get(spec.auth, "its token, even after one refresh")
        return (
            f"401 from {path}: the runtime did not accept client {spec.name!r} ({how}): check that the key "
            "belongs to this tenant and was not deleted"
        )
    if status == 403:
        if required and required not in spec.roles:
            return (
                f"403 from {path}: client {spec.name!r} (roles {', '.join(spec.roles)}) lacks role {required} "
                f"required by {flow}: add it to roles of {spec.table} and re-provision"
            )
        return (
            f"403 from {path}: client {spec.name!r} (roles {', '.join(spec.roles)}) is not authorized for {flow}: "
            "the instance lacks the role of its sender adapter (declare role in [tool.iflowtest.iflows.NAME] "
            "to have it named here)"
        )
    if status == 404:
        return (
            f"404 from {path}: no iFlow is deployed at this address: check the address (case-insensitive; "
            "/http for HTTPS, /cxf for SOAP and IDoc senders) and that the iFlow is deployed and started"
        )
    if status in (413, 500) and (limit := _BODY_LIMIT.search(response.text[:2000])):
        # SAP's text for a body over the sender adapter's Body Size; the status is 413 or 500 (cpi-facts §4).
        sent = len(response.request.body or b"") if response.request is not None else 0
        return (
            f"{status} from {path}: the request body ({sent} bytes) is over the Body Size of {flow} "
            f"({limit.group(1)} MB): raise Body Size in its sender adapter, or send a smaller body"
        )
    if status == 500 and "text/plain" in response.headers.get("Content-Type", ""):
        return f"500 from {path}: {flow} failed at runtime; open its MPL in the message monitor"
    if status == 503:
        return f"503 from {path}: the runtime is not available for {flow} (starting, or not deployed)"
    return None
