"""The cf CLI session (config.json with fake tokens made at test time) used against the emulated CF API."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest
import requests

from iflowtest import CloudFoundryError, ConfigError
from iflowtest.emulator import Emulator
from iflowtest.provisioning.cfapi import CfCredentials, CloudFoundryClient
from iflowtest.provisioning.cfsession import load_cf_session, token_expired
from iflowtest.provisioning.runkeys import cloud_foundry_from_settings
from iflowtest.settings import cf_config_path, resolve_settings


def fake_token(exp: float) -> str:
    # Signed with a key nobody knows: only its `exp` matters to the client, and the API would refuse it.
    return jwt.encode(
        {"exp": int(exp), "user_name": "developer@example.com"}, "not-the-emulators-signing-key-at-all-ever", "HS256"
    )


def write_config(cf_home: Path, emu: Emulator, access_token: str, refresh_token: str) -> Path:
    landscape = emu.cloud_foundry
    path = cf_home / ".cf" / "config.json"
    path.parent.mkdir(parents=True)
    config = {
        "ConfigVersion": 3,
        "Target": emu.cf_api,
        "APIVersion": "3.180.0",
        "AuthorizationEndpoint": emu.cf_api + "/uaa",
        "UaaEndpoint": emu.cf_api + "/uaa",
        "AccessToken": f"bearer {access_token}",
        "RefreshToken": refresh_token,
        "UAAOAuthClient": "cf",
        "UAAOAuthClientSecret": "",
        "SSLDisabled": False,
        "OrganizationFields": {"GUID": landscape.org_guid, "Name": landscape.org_name},
        "SpaceFields": {"GUID": landscape.space_guid, "Name": landscape.space_name, "AllowSSH": True},
    }
    path.write_text(json.dumps(config))
    return path


def password_grant(emu: Emulator) -> dict[str, str]:
    landscape = emu.cloud_foundry
    response = requests.post(
        emu.cf_api + "/uaa/oauth/token",
        data={"grant_type": "password", "username": landscape.username, "password": landscape.password},
        auth=("cf", ""),
        verify=str(emu.ca_file),
        timeout=10,
    )
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def test_config_is_read_as_the_cli_writes_it(tmp_path: Path, emulator: Emulator) -> None:
    token = fake_token(time.time() + 600)
    path = write_config(tmp_path, emulator, token, "some-refresh-token")

    session = load_cf_session(cf_config_path({"CF_HOME": str(tmp_path)}))

    assert session is not None and session.path == path
    assert session.api == emulator.cf_api
    assert session.bearer == token  # stored as "bearer <token>"
    assert session.org_name == "iflowtest-org" and session.space_name == "dev"
    assert session.uaa_client == "cf" and session.uaa_client_secret.reveal() == ""
    assert not token_expired(token)
    assert "some-refresh-token" not in repr(session)


def test_config_path_defaults_to_home(tmp_path: Path) -> None:
    assert cf_config_path({"HOME": str(tmp_path)}) == tmp_path / ".cf" / "config.json"
    assert load_cf_session(tmp_path / ".cf" / "config.json") is None


def test_expired_token_is_refreshed_with_the_refresh_token(tmp_path: Path, emulator: Emulator) -> None:
    expired = fake_token(time.time() - 30)
    refresh = emulator.cloud_foundry.issue_refresh_token()
    session = load_cf_session(write_config(tmp_path, emulator, expired, refresh))
    assert session is not None and token_expired(session.bearer or "")
    client = CloudFoundryClient(emulator.cf_api, CfCredentials(session=session), verify=str(emulator.ca_file))

    orgs = list(client.list("/v3/organizations", names="iflowtest-org"))

    assert [o["name"] for o in orgs] == ["iflowtest-org"]
    assert client.token() != expired


def test_valid_token_is_used_as_is(tmp_path: Path, emulator: Emulator) -> None:
    access = password_grant(emulator)["access_token"]
    # A refresh token the UAA does not know: the test fails if the client tries to refresh.
    session = load_cf_session(write_config(tmp_path, emulator, access, "unknown-refresh-token"))
    assert session is not None
    client = CloudFoundryClient(emulator.cf_api, CfCredentials(session=session), verify=str(emulator.ca_file))

    assert [s["name"] for s in client.list("/v3/spaces")] == ["dev"]
    assert client.token() == access


def test_refused_refresh_token_says_to_log_in_again(tmp_path: Path, emulator: Emulator) -> None:
    session = load_cf_session(write_config(tmp_path, emulator, fake_token(time.time() - 30), "unknown-refresh-token"))
    assert session is not None
    client = CloudFoundryClient(emulator.cf_api, CfCredentials(session=session), verify=str(emulator.ca_file))

    with pytest.raises(CloudFoundryError) as caught:
        client.get("/v3/organizations")

    assert str(caught.value) == (
        f"Cloud Foundry UAA {emulator.cf_api}/uaa/oauth/token rejected the cf CLI session in {session.path} (401 "
        f"invalid_token: Invalid refresh token): the refresh token of the cf CLI session in {session.path} is no "
        f"longer valid: run `cf login -a {emulator.cf_api}` again"
    )


def test_token_the_api_refuses_without_a_refresh_token_says_to_log_in(tmp_path: Path, emulator: Emulator) -> None:
    # Not expired by its own claim, but not signed by this landscape's UAA, and no refresh token to recover.
    path = write_config(tmp_path, emulator, fake_token(time.time() + 600), "")
    session = load_cf_session(path)
    assert session is not None and session.refresh_token is None
    client = CloudFoundryClient(emulator.cf_api, CfCredentials(session=session), verify=str(emulator.ca_file))

    with pytest.raises(CloudFoundryError) as caught:
        client.get("/v3/organizations")

    assert str(caught.value) == (
        f"no usable Cloud Foundry login for {emulator.cf_api}: the cf CLI session has no valid token; run "
        f"`cf login -a {emulator.cf_api}`, or set IFLOWTEST_CF_USERNAME and IFLOWTEST_CF_PASSWORD"
    )


def test_broken_config_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / ".cf" / "config.json"
    path.parent.mkdir()
    path.write_text("{not json")

    with pytest.raises(
        ConfigError, match=r"cf CLI config .*config.json cannot be read \(JSONDecodeError\): run `cf login` again"
    ):
        load_cf_session(path)


def test_settings_take_api_org_and_space_from_the_session(tmp_path: Path, emulator: Emulator) -> None:
    write_config(tmp_path, emulator, fake_token(time.time() - 30), emulator.cloud_foundry.issue_refresh_token())
    (tmp_path / "pyproject.toml").write_text("[tool.iflowtest]\n")
    settings = resolve_settings(
        tmp_path, {"target": "tenant", "ca_bundle": str(emulator.ca_file)}, {"CF_HOME": str(tmp_path)}
    )

    client, org, space = cloud_foundry_from_settings(settings)

    assert client.api == emulator.cf_api
    assert (org, space) == (emulator.cloud_foundry.org_guid, emulator.cloud_foundry.space_guid)
    assert [s["name"] for s in client.list("/v3/spaces", guids=space or "")] == ["dev"]
