"""The emulated Cloud Foundry V3 API and its UAA, spoken to directly over HTTPS."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from iflowtest import CloudFoundryError
from iflowtest.emulator import Emulator
from iflowtest.provisioning.cfapi import CfCredentials, CloudFoundryClient
from iflowtest.redaction import Secret


@pytest.fixture
def cf(fresh_emulator: Emulator) -> CloudFoundryClient:
    landscape = fresh_emulator.cloud_foundry
    return CloudFoundryClient(
        fresh_emulator.cf_api,
        CfCredentials(landscape.username, Secret(landscape.password)),
        verify=str(fresh_emulator.ca_file),
    )


def call(emu: Emulator, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"bearer {token}"} if token else {}
    return requests.request(method, emu.cf_api + path, headers=headers, verify=str(emu.ca_file), timeout=10, **kwargs)


def test_root_links_to_uaa_and_v3(emulator: Emulator) -> None:
    links = call(emulator, "GET", "/").json()["links"]

    assert links["uaa"]["href"] == emulator.cf_api + "/uaa"
    assert links["login"]["href"] == emulator.cf_api + "/uaa"
    assert links["cloud_controller_v3"]["href"] == emulator.cf_api + "/v3"


def test_v3_needs_a_token(emulator: Emulator) -> None:
    missing = call(emulator, "GET", "/v3/organizations")
    forged = call(emulator, "GET", "/v3/organizations", token="eyJhbGciOiJIUzI1NiJ9.e30.x")

    assert missing.status_code == 401
    assert missing.json() == {
        "errors": [{"code": 10002, "title": "CF-NotAuthenticated", "detail": "Authentication error"}]
    }
    assert forged.status_code == 401 and forged.json()["errors"][0]["title"] == "CF-InvalidAuthToken"


def test_uaa_serves_only_the_cf_client(emulator: Emulator) -> None:
    landscape = emulator.cloud_foundry
    form = {"grant_type": "password", "username": landscape.username, "password": landscape.password}

    other = requests.post(
        emulator.cf_api + "/uaa/oauth/token", data=form, auth=("not-cf", ""), verify=str(emulator.ca_file), timeout=10
    )
    cf = requests.post(
        emulator.cf_api + "/uaa/oauth/token", data=form, auth=("cf", ""), verify=str(emulator.ca_file), timeout=10
    )

    assert other.status_code == 401 and other.json()["error"] == "unauthorized"
    assert cf.status_code == 200
    assert cf.json()["token_type"] == "bearer" and cf.json()["refresh_token"]


def test_plans_are_filtered_and_paginated(fresh_emulator: Emulator, cf: CloudFoundryClient) -> None:
    first = cf.get("/v3/service_plans", service_offering_names="it-rt", per_page="1")
    api = list(cf.list("/v3/service_plans", names="api"))

    assert first["pagination"]["total_results"] == 2 and len(first["resources"]) == 1
    assert first["pagination"]["next"]["href"].startswith(fresh_emulator.cf_api + "/v3/service_plans?")
    assert [p["name"] for p in cf.list("/v3/service_plans", per_page="1")] == ["integration-flow", "api"]
    assert [p["name"] for p in api] == ["api"]


def test_unknown_filter_is_a_bad_query_parameter(cf: CloudFoundryClient) -> None:
    with pytest.raises(CloudFoundryError, match="answered 400 CF-BadQueryParameter: The query parameter is invalid"):
        cf.get("/v3/service_plans", colour="blue")


def test_key_details_and_name_taken(fresh_emulator: Emulator, cf: CloudFoundryClient) -> None:
    space = next(cf.list("/v3/spaces"))["guid"]
    plan = next(cf.list("/v3/service_plans", names="integration-flow"))["guid"]
    cf.post(
        "/v3/service_instances",
        {
            "type": "managed",
            "name": "by-hand",
            "parameters": {"roles": ["ESBMessaging.send"]},
            "relationships": {"space": {"data": {"guid": space}}, "service_plan": {"data": {"guid": plan}}},
        },
    )
    instance = next(cf.list("/v3/service_instances", names="by-hand"))["guid"]
    key = {"type": "key", "name": "k", "relationships": {"service_instance": {"data": {"guid": instance}}}}
    created = cf.post("/v3/service_credential_bindings", key)
    binding = next(cf.list("/v3/service_credential_bindings", service_instance_guids=instance, names="k"))

    details = cf.get(f"/v3/service_credential_bindings/{binding['guid']}/details")

    assert created.status_code == 202 and "/v3/jobs/" in created.headers["Location"]
    assert set(details["credentials"]["oauth"]) >= {"clientid", "clientsecret", "url", "tokenurl", "createdate"}
    with pytest.raises(
        CloudFoundryError, match=r"422 CF-UnprocessableEntity: The binding name is invalid\. .* name 'k'\."
    ):
        cf.post("/v3/service_credential_bindings", key)


def create_instance(cf: CloudFoundryClient, name: str) -> tuple[requests.Response, str]:
    space = next(cf.list("/v3/spaces"))["guid"]
    plan = next(cf.list("/v3/service_plans", names="integration-flow"))["guid"]
    created = cf.post(
        "/v3/service_instances",
        {
            "type": "managed",
            "name": name,
            "parameters": {"roles": ["ESBMessaging.send"]},
            "relationships": {"space": {"data": {"guid": space}}, "service_plan": {"data": {"guid": plan}}},
        },
    )
    return created, next(cf.list("/v3/service_instances", names=name))["guid"]


def test_an_asynchronous_create_answers_202_without_a_body(fresh_emulator: Emulator, cf: CloudFoundryClient) -> None:
    created, _ = create_instance(cf, "no-body")

    assert created.status_code == 202
    assert created.content == b""
    assert "/v3/jobs/" in created.headers["Location"]


def test_a_delete_is_asynchronous_and_refused_while_the_create_runs(
    fresh_emulator: Emulator, cf: CloudFoundryClient
) -> None:
    landscape = fresh_emulator.cloud_foundry
    landscape.job_delay = 10
    _, guid = create_instance(cf, "slow")

    with pytest.raises(CloudFoundryError) as refused:
        cf.delete(f"/v3/service_instances/{guid}")
    fresh_emulator.advance_clock(10)  # the create finishes
    deleting = cf.delete(f"/v3/service_instances/{guid}")
    during = cf.get(f"/v3/service_instances/{guid}")["last_operation"]
    fresh_emulator.advance_clock(10)  # the delete finishes

    assert refused.value.status == 422
    assert "There is an operation in progress for the service instance." in str(refused.value)
    assert deleting.status_code == 202 and deleting.content == b""
    assert during == {"type": "delete", "state": "in progress", "description": ""}
    assert cf.get(f"/v3/jobs/{deleting.headers['Location'].rsplit('/', 1)[1]}")["state"] == "COMPLETE"
    assert landscape.instance_names() == []


def test_documented_list_parameters_are_accepted(fresh_emulator: Emulator, cf: CloudFoundryClient) -> None:
    offering = next(cf.list("/v3/service_offerings", names="it-rt"))
    create_instance(cf, "labelled-not")

    plans = [p["name"] for p in cf.list("/v3/service_plans", service_offering_guids=offering["guid"])]
    with_fields = cf.get("/v3/service_instances", **{"fields[space]": "name,guid", "names": "labelled-not"})
    by_label = cf.get("/v3/service_instances", label_selector="team=integration")
    without_label = cf.get("/v3/service_instances", label_selector="!team")

    assert plans == ["integration-flow", "api"]
    assert [i["name"] for i in with_fields["resources"]] == ["labelled-not"]
    assert by_label["resources"] == []
    assert [i["name"] for i in without_label["resources"]] == ["labelled-not"]
