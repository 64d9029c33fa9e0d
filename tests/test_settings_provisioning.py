"""Settings for provisioning: a client's source, the Cloud Foundry landscape and keeping clients."""

from __future__ import annotations

from pathlib import Path

import pytest

from iflowtest import ConfigError
from iflowtest.provisioning.runkeys import cloud_foundry_from_settings
from iflowtest.settings import check_client_keys, resolve_settings

KEY = (Path(__file__).resolve().parents[1] / "fixtures" / "servicekeys" / "FAKE-integration-flow-key.json").read_text()
CLIENTS = """
[tool.iflowtest.clients.sender]
roles = ["ESBMessaging.send"]

[tool.iflowtest.clients.loaded]
source = "load"
"""


def project(tmp_path: Path, table: str = CLIENTS) -> Path:
    (tmp_path / "pyproject.toml").write_text(table, encoding="utf-8")
    return tmp_path


def test_source_defaults_to_provision_unless_a_key_is_configured(tmp_path: Path) -> None:
    settings = resolve_settings(project(tmp_path), environ={"IFLOWTEST_CLIENT_LOADED_KEY": KEY})

    assert settings.client("sender").source == "provision"
    assert settings.client("loaded").source == "load"
    assert settings.target == "tenant"  # a key is configured, so auto means tenant


def test_cf_settings_come_from_the_environment_and_mean_tenant(tmp_path: Path) -> None:
    environ = {
        "IFLOWTEST_CF_API": "https://api.cf.example.com",
        "IFLOWTEST_CF_ORG": "my-org",
        "IFLOWTEST_CF_SPACE": "dev",
        "IFLOWTEST_CF_USERNAME": "someone@example.com",
        "IFLOWTEST_CF_PASSWORD": "s3cret-passw0rd",
        "IFLOWTEST_CF_JOB_TIMEOUT": "90",
        "IFLOWTEST_CLIENT_LOADED_KEY": KEY,
        "HOME": str(tmp_path),
    }

    settings = resolve_settings(project(tmp_path), environ=environ)

    cf = settings.cf
    assert (cf.api, cf.org, cf.space, cf.username, cf.job_timeout) == (
        "https://api.cf.example.com",
        "my-org",
        "dev",
        "someone@example.com",
        90.0,
    )
    assert cf.password is not None and cf.password.reveal() == "s3cret-passw0rd"
    assert "s3cret-passw0rd" not in repr(settings)
    assert cf.config_path == tmp_path / ".cf" / "config.json"
    assert settings.target == "tenant"


def test_pyproject_cf_table_but_never_credentials(tmp_path: Path) -> None:
    table = CLIENTS + '\n[tool.iflowtest.cf]\napi = "https://api.cf.example.com"\norg = "o"\nspace = "s"\n'
    settings = resolve_settings(project(tmp_path, table), environ={"IFLOWTEST_CLIENT_LOADED_KEY": KEY})
    assert (settings.cf.api, settings.cf.org, settings.cf.space) == ("https://api.cf.example.com", "o", "s")

    with pytest.raises(ConfigError, match=r"unknown key 'password' in \[tool.iflowtest.cf\]"):
        resolve_settings(project(tmp_path, CLIENTS + '\n[tool.iflowtest.cf]\npassword = "x"\n'), environ={})


def test_loaded_client_without_a_key_is_refused_on_a_tenant(tmp_path: Path) -> None:
    settings = resolve_settings(project(tmp_path), {"target": "tenant"}, environ={"IFLOWTEST_CF_API": "https://api.x"})
    with pytest.raises(ConfigError) as caught:
        check_client_keys(settings, settings.clients)

    assert str(caught.value) == (
        "clients with source = 'load' need a service key, missing for loaded: set IFLOWTEST_CLIENT_LOADED_KEY (key "
        "JSON or file path). Put them in .env.<profile> (see .env.example) or set service_key in the client's table"
    )


def test_tenant_without_keys_or_landscape_names_both_ways(tmp_path: Path) -> None:
    settings = resolve_settings(
        project(tmp_path, "[tool.iflowtest.clients.sender]\n"), {"target": "tenant"}, environ={"HOME": str(tmp_path)}
    )
    with pytest.raises(ConfigError) as caught:
        check_client_keys(settings, settings.clients)

    assert str(caught.value).endswith(
        "or have them provisioned: set IFLOWTEST_CF_API, IFLOWTEST_CF_ORG and IFLOWTEST_CF_SPACE (or log in with "
        "`cf login` and `cf target`)"
    )


def test_a_cf_session_is_enough_for_a_tenant(tmp_path: Path) -> None:
    (tmp_path / ".cf").mkdir()
    (tmp_path / ".cf" / "config.json").write_text('{"Target": "https://api.cf.example.com"}')

    settings = resolve_settings(
        project(tmp_path, "[tool.iflowtest.clients.sender]\n"), {"target": "tenant"}, environ={"CF_HOME": str(tmp_path)}
    )

    assert settings.cf.configured and settings.cf.api is None


@pytest.mark.parametrize(
    ("options", "environ", "expected"),
    [
        ({}, {}, False),
        ({"keep_clients": True}, {}, True),
        ({}, {"IFLOWTEST_KEEP_CLIENTS": "yes"}, True),
        ({}, {"IFLOWTEST_KEEP_CLIENTS": "0"}, False),
    ],
)
def test_keep_clients(tmp_path: Path, options: dict[str, bool], environ: dict[str, str], expected: bool) -> None:
    assert resolve_settings(project(tmp_path, ""), options, environ).keep_clients is expected


def test_keep_clients_must_be_a_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="IFLOWTEST_KEEP_CLIENTS must be true or false, got 'maybe'"):
        resolve_settings(project(tmp_path, ""), {}, {"IFLOWTEST_KEEP_CLIENTS": "maybe"})


def test_unknown_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="source = 'provisioned' is not one of: provision, load"):
        resolve_settings(project(tmp_path, '[tool.iflowtest.clients.x]\nsource = "provisioned"\n'), environ={})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"IFLOWTEST_CF_API": "https://api.cf.example.com", "IFLOWTEST_CF_USERNAME": "someone@example.com"},
            "set both IFLOWTEST_CF_USERNAME and IFLOWTEST_CF_PASSWORD, or neither (cf CLI session)",
        ),
        (
            {"IFLOWTEST_CF_API": "https://api.cf.example.com"},
            "no Cloud Foundry login for https://api.cf.example.com: set IFLOWTEST_CF_USERNAME and "
            "IFLOWTEST_CF_PASSWORD in the environment, or log in with `cf login`",
        ),
    ],
)
def test_incomplete_cf_login_is_named(tmp_path: Path, environ: dict[str, str], message: str) -> None:
    settings = resolve_settings(project(tmp_path, ""), {}, {**environ, "CF_HOME": str(tmp_path)})

    with pytest.raises(ConfigError) as caught:
        cloud_foundry_from_settings(settings)

    assert str(caught.value) == message
