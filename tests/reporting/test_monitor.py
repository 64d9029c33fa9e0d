"""MPL ids link to the message monitor only where the link will still open: never to the stopped emulator."""

from __future__ import annotations

import pytest

from iflowtest.reporting.monitor import monitor_text, mpl_id_html, opens_later

TENANT = "https://acme.integrationsuite.cfapps.eu10.hana.ondemand.com/shell/monitoring/Messages/%7B%7D"


@pytest.mark.parametrize(
    ("link", "opens"),
    [
        (TENANT, True),
        ("http://10.0.0.7:8080/shell/monitoring/Messages/x", True),
        ("https://127.0.0.1:43121/shell/monitoring/Messages/x", False),
        ("https://[::1]:43121/shell/monitoring/Messages/x", False),
        ("https://localhost:8443/x", False),
        ("javascript:alert(1)", False),
        ("not a link", False),
        ("https://[broken/x", False),
    ],
)
def test_which_links_open_later(link: str, opens: bool) -> None:
    assert opens_later(link) is opens


def test_the_cell_links_a_tenants_message_and_marks_the_emulators() -> None:
    assert mpl_id_html("AGx", TENANT) == f'<a href="{TENANT}" target="_blank" rel="noopener">AGx</a>'
    emulated = mpl_id_html("AGx", "https://127.0.0.1:4000/shell/monitoring/Messages/x")
    assert emulated.startswith('<span class="mpl-gone" title="not linked: emulated tenant') and "<a " not in emulated
    assert mpl_id_html("AGx", "") == "AGx"
    assert mpl_id_html("", TENANT) == ""
    assert mpl_id_html("<b>", "") == "&lt;b&gt;"


def test_log_text_names_the_link_or_why_there_is_none() -> None:
    assert monitor_text(TENANT) == TENANT
    assert monitor_text("https://127.0.0.1:4000/x") == "(emulated tenant: its message monitor stopped with the run)"
    assert monitor_text("") == ""
