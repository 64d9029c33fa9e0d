"""Clients of source 'variables': the key's fields from the profile, as a Postman environment holds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from iflowtest.credentials.registry import load_configured_key
from iflowtest.errors import ConfigError
from iflowtest.settings import resolve_settings

TABLE = """[tool.iflowtest.clients.pm_cpi_oauth]
auth = "oauth"
source = "variables"
url = "${baseUrl}"
clientid = "${clientid}"
clientsecret = "${clientsecret}"
tokenurl = "${tokenUrl}/oauth/token"
"""
VALUES = {
    "baseUrl": "https://tenant-rt.cfapps.eu10.hana.ondemand.com",
    "clientid": "sb-1234",
    "clientsecret": "s3cr3t-from-env",
    "tokenUrl": "https://tenant.authentication.eu10.hana.ondemand.com",
}


def project(tmp_path: Path, table: str = TABLE) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.iflowtest]\n" + table)
    return tmp_path


def test_a_variables_client_builds_its_key_from_the_profile(tmp_path: Path) -> None:
    settings = resolve_settings(project(tmp_path), environ=VALUES)

    key = load_configured_key(settings.client("pm_cpi_oauth"), settings)

    assert (key.url, key.clientid) == (VALUES["baseUrl"], "sb-1234")
    assert key.tokenurl == VALUES["tokenUrl"] + "/oauth/token"
    assert key.clientsecret is not None and key.clientsecret.reveal() == "s3cr3t-from-env"
    assert "s3cr3t-from-env" not in repr(key)


def test_a_missing_variable_names_itself_and_the_fix(tmp_path: Path) -> None:
    settings = resolve_settings(project(tmp_path), environ={k: v for k, v in VALUES.items() if k != "clientsecret"})

    with pytest.raises(ConfigError) as caught:
        load_configured_key(settings.client("pm_cpi_oauth"), settings)

    assert str(caught.value) == (
        "client 'pm_cpi_oauth' takes its clientsecret from ${clientsecret}, which the profile does not set: set "
        "clientsecret in .env.<profile> (the Postman environment's value), or change clientsecret in "
        "[tool.iflowtest.clients.pm_cpi_oauth]"
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            TABLE.replace('clientsecret = "${clientsecret}"', 'clientsecret = "literal"'),
            "clientsecret must name a profile variable",
        ),
        (TABLE.replace('tokenurl = "${tokenUrl}/oauth/token"\n', ""), "source = 'variables' needs tokenurl"),
        (TABLE.replace('source = "variables"\n', 'source = "load"\n'), "belong to source = 'variables'"),
    ],
)
def test_a_variables_client_is_declared_with_references_only(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_settings(project(tmp_path, table), environ={})
