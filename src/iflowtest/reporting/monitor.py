"""Message monitor links in the report: a link only where it will still open when the report is read.

The emulated tenant serves its message monitor on a loopback port that closes when the run ends, so its
links would be dead by the morning. Those messages show their MPL id without a link, marked as the
emulator's; a tenant's `AlternateWebLink` (or a link built from `IFLOWTEST_MONITOR_URL`) stays a link.
"""

from __future__ import annotations

import html
import ipaddress
from typing import Final
from urllib.parse import urlsplit

EMULATOR_NOTE: Final = "emulated tenant: its message monitor stopped with the run"


def opens_later(link: str) -> bool:
    """True for an http(s) link to a host other than this machine (a loopback host is the run's emulator)."""
    try:
        parts = urlsplit(link)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme not in ("https", "http") or not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        return True


def mpl_id_html(mpl_id: str, link: str) -> str:
    """The MPL id for a report cell: linked to the monitor when that link opens later, else marked."""
    shown = html.escape(mpl_id)
    if not mpl_id:
        return ""
    if link and opens_later(link):
        return f'<a href="{html.escape(link)}" target="_blank" rel="noopener">{shown}</a>'
    if link:
        return f'<span class="mpl-gone" title="not linked: {EMULATOR_NOTE}">{shown}</span>'
    return shown


def monitor_text(link: str) -> str:
    """A monitor link as plain text for a log section: the link, or a note that it no longer exists."""
    if not link:
        return ""
    return link if opens_later(link) else f"({EMULATOR_NOTE})"
