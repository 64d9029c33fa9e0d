"""Provisioning clients through the emulated tenant's Cloud Foundry V3 API, over real HTTPS, error by error."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import requests

from iflowtest import CloudFoundryError, OAuthToken, ProvisioningError
from iflowtest.emulator import Emulator
from iflowtest.provisioning.cfapi import CfCredentials, CloudFoundryClient
from iflowtest.provisioning.provisioner import ClientRequest, Provisioner, instance_name, parse_duration
from iflowtest.redaction import Secret


@dataclass
class Landscape:
    emulator: Emulator
    provisioner: Provisioner
    waits: list[float] = field(default_factory=list)

    @property
    def cf(self) -> CloudFoundryClient:
        return self.provisioner.cf


def make_provisioner(
    emu: Emulator, waits: list[float], username: str | None = None, password: str | None = None
) -> Provisioner:
    landscape = emu.cloud_foundry

    def wait(seconds: float) -> None:
        # Time passes on the emulator's clock: jobs move on and nobody sleeps.
        waits.append(seconds)
        emu.advance_clock(seconds)

    client = CloudFoundryClient(
        emu.cf_api,
        CfCredentials(username=username or landscape.username, password=Secret(password or landscape.password)),
        verify=str(emu.ca_file),
        wait=wait,
    )
    return Provisioner(
        client,
        org=landscape.org_name,
        space=landscape.space_name,
        job_timeout=30,
        first_poll=1,
        max_poll=8,
        wait=wait,
        clock=emu.tenant.clock.now,
    )


@pytest.fixture
def landscape(fresh_emulator: Emulator) -> Iterator[Landscape]:
    waits: list[float] = []
    provisioner = make_provisioner(fresh_emulator, waits)
    yield Landscape(fresh_emulator, provisioner, waits)
    provisioner.cf.close()


SENDER = ClientRequest(
    "sender", roles=("ESBMessaging.send", "ESBMessaging_DE"), where="[tool.iflowtest.clients.sender]"
)


def test_provisioned_key_fetches_a_token_and_is_gone_after_deprovisioning(landscape: Landscape) -> None:
    emu = landscape.emulator
    created = landscape.provisioner.provision(SENDER, "iflowtest-abc123-sender")

    assert emu.cloud_foundry.instance_names() == ["iflowtest-abc123-sender"]
    assert created.key.key_type == "secret" and created.key.url == emu.url
    token = OAuthToken(created.key, "sender", verify=str(emu.ca_file))
    response = requests.get(
        emu.url + "/http/de/costcenters",
        params={"companyCode": "1010"},
        headers={"Authorization": f"Bearer {token.get()}"},
        verify=str(emu.ca_file),
        timeout=10,
    )
    assert response.status_code == 200  # the instance's roles include ESBMessaging_DE

    landscape.provisioner.deprovision(created)

    assert emu.cloud_foundry.instance_names() == []
    assert emu.cloud_foundry.key_count() == 0
    assert emu.tenant.clients.all()[0].revoked


def test_instance_names_carry_the_run_prefix() -> None:
    assert instance_name("k3x9q2", "sender_no_de") == "iflowtest-k3x9q2-sender_no_de"


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            ClientRequest("old", grant_types=("client_x509",)),
            "client 'old' (the command line): grant type 'client_x509' reached its end of life in January 2026 and "
            "no new keys can be created with it: use grant types ['client_credentials'] with key type 'certificate' "
            "(a certificate key with client_credentials replaces it)",
        ),
        (
            ClientRequest("odd", roles=("ESBMessaging send",)),
            "client 'odd' (the command line): role 'ESBMessaging send' may only use letters, digits, '_' and '.'",
        ),
        (ClientRequest("none", roles=()), "client 'none' (the command line): roles is empty"),
        (
            ClientRequest("imp", grant_types=("implicit",)),
            "client 'imp' (the command line): unknown grant type 'implicit'",
        ),
        (
            ClientRequest("std", plan="standard"),
            "plan 'standard' is not a plan of it-rt: use one of integration-flow, api",
        ),
        (
            ClientRequest("crt", key_type="certificate", validity=400),
            "certificate validity must be 1 to 365 days, got 400",
        ),
        (
            ClientRequest("a_rather_long_client_name"),
            "service instance name 'iflowtest-abc123-a_rather_long_client_name' has 42 characters; CF-friendly names "
            "have at most 32 characters from A-Z a-z 0-9 . _ -: use a shorter client name",
        ),
    ],
)
def test_bad_requests_are_refused_before_any_call(request_: ClientRequest, message: str) -> None:
    # Nothing listens on the discard port: any call would fail with a plain CloudFoundryError instead.
    nowhere = CloudFoundryClient("https://127.0.0.1:9", CfCredentials(username="u", password=Secret("p")))
    provisioner = Provisioner(nowhere, org="o", space="s")

    with pytest.raises(ProvisioningError) as caught:
        provisioner.provision(request_, instance_name("abc123", request_.client))

    assert message in str(caught.value)


def test_plan_that_is_not_entitled(landscape: Landscape) -> None:
    landscape.emulator.cloud_foundry.entitled_plans = {"api"}

    with pytest.raises(ProvisioningError) as caught:
        landscape.provisioner.provision(SENDER, "iflowtest-abc123-sender")

    assert str(caught.value) == (
        "plan 'integration-flow' of it-rt is not available in space 'dev' for client 'sender': check the "
        "subaccount's entitlements for Process Integration Runtime (plan integration-flow) and assign it to the "
        "subaccount"
    )


def test_taken_name(landscape: Landscape) -> None:
    landscape.provisioner.provision(SENDER, "iflowtest-abc123-sender")

    with pytest.raises(ProvisioningError) as caught:
        landscape.provisioner.provision(SENDER, "iflowtest-abc123-sender")

    assert str(caught.value) == (
        "service instance 'iflowtest-abc123-sender' for client 'sender' could not be created: the name is taken in "
        "space 'dev': delete the old instance with `iflowtest provision delete iflowtest-abc123-sender` (or "
        "`iflowtest provision cleanup` for leftovers of crashed runs)"
    )


@pytest.mark.parametrize(
    ("knob", "detail"),
    [
        ("services_quota", "You have exceeded your organization's services limit."),
        ("space_services_quota", "You have exceeded your space's services limit."),
    ],
)
def test_quota_exceeded(landscape: Landscape, knob: str, detail: str) -> None:
    setattr(landscape.emulator.cloud_foundry, knob, 0)

    with pytest.raises(ProvisioningError) as caught:
        landscape.provisioner.provision(SENDER, "iflowtest-abc123-sender")

    text = str(caught.value)
    assert f"422 CF-UnprocessableEntity: {detail}" in text
    assert text.endswith(
        "the org or space quota allows no more service instances: delete unused instances (`iflowtest provision "
        "cleanup`) or ask an org manager for a quota plan with more services"
    )


def test_unknown_role_fails_the_job_with_the_brokers_text_and_leaves_nothing(landscape: Landscape) -> None:
    request = ClientRequest("fr", roles=("ESBMessaging_FR",), where="[tool.iflowtest.clients.fr]")

    with pytest.raises(ProvisioningError) as caught:
        landscape.provisioner.provision(request, "iflowtest-abc123-fr")

    assert str(caught.value) == (
        "creating service instance 'iflowtest-abc123-fr' for client 'fr' failed (CF-ServiceBrokerBadResponse: "
        "Service broker error: Role 'ESBMessaging_FR' does not exist in this tenant: create it under Monitor > "
        "Manage Security > User Roles first): the Process Integration Runtime broker refused the parameters: fix "
        "roles, grant_types or the key type in [tool.iflowtest.clients.fr] (a custom role must first exist under "
        "Monitor > Manage Security > User Roles) and run again"
    )
    assert landscape.emulator.cloud_foundry.instance_names() == []


def test_token_validity_reaches_the_tokens_when_the_broker_knows_the_parameter(landscape: Landscape) -> None:
    # cpi-facts §1: the JSON key `token-validity` comes from a third-party guide (UNCONFIRMED). Form one: the
    # broker takes it, and the client's tokens live as long as asked.
    created = landscape.provisioner.provision(
        ClientRequest("long", token_validity=7200, where="[tool.iflowtest.clients.long]"), "iflowtest-abc123-long"
    )
    token = requests.post(
        created.key.tokenurl,
        data={"grant_type": "client_credentials"},
        auth=(created.key.clientid, created.credentials["oauth"]["clientsecret"]),
        verify=str(landscape.emulator.ca_file),
        timeout=10,
    ).json()
    assert token["expires_in"] == 7199  # XSUAA counts the second it is in, as for the default 3599


def test_a_broker_that_refuses_token_validity_names_the_setting_to_remove(landscape: Landscape) -> None:
    # Form two: the broker does not know the parameter; the user is told which setting to drop.
    landscape.emulator.cloud_foundry.broker.instance_parameters.discard("token-validity")
    request = ClientRequest("long", token_validity=7200, where="[tool.iflowtest.clients.long]")

    with pytest.raises(ProvisioningError) as caught:
        landscape.provisioner.provision(request, "iflowtest-abc123-long")

    text = str(caught.value)
    assert "unknown instance parameter(s) token-validity" in text
    assert text.endswith(
        "the broker does not accept token_validity ('token-validity' is not confirmed by SAP's docs): remove "
        "token_validity from [tool.iflowtest.clients.long] (the plan's default validity applies) and run again"
    )
    assert landscape.emulator.cloud_foundry.instance_names() == []


def test_api_plan_accepts_role_templates(landscape: Landscape) -> None:
    created = landscape.provisioner.provision(
        ClientRequest("monitor", plan="api", roles=("MonitoringDataRead",)), "iflowtest-abc123-monitor"
    )
    assert created.key.is_api_plan


def test_wrong_password_is_refused_by_uaa(fresh_emulator: Emulator) -> None:
    provisioner = make_provisioner(fresh_emulator, [], password="wrong-password")

    with pytest.raises(CloudFoundryError) as caught:
        provisioner.provision(SENDER, "iflowtest-abc123-sender")

    assert str(caught.value) == (
        f"Cloud Foundry UAA {fresh_emulator.cf_api}/uaa/oauth/token rejected user 'developer@example.com' (401 "
        "unauthorized: Bad credentials): check IFLOWTEST_CF_USERNAME and IFLOWTEST_CF_PASSWORD (2FA users append "
        f"their passcode to the password), or log in with `cf login -a {fresh_emulator.cf_api}` and unset them"
    )
    assert "wrong-password" not in str(caught.value)


def test_user_without_space_developer_gets_403(fresh_emulator: Emulator) -> None:
    fresh_emulator.cloud_foundry.add_user("auditor@example.com", "auditor-password", space_developer=False)
    provisioner = make_provisioner(fresh_emulator, [], "auditor@example.com", "auditor-password")

    with pytest.raises(CloudFoundryError) as caught:
        provisioner.provision(SENDER, "iflowtest-abc123-sender")

    assert str(caught.value) == (
        f"POST {fresh_emulator.cf_api}/v3/service_instances answered 403 CF-NotAuthorized: You are not authorized to "
        "perform the requested action: user 'auditor@example.com' lacks the Space Developer role in the target "
        "space: ask an org or space manager for it, then log in again with `cf login`"
    )


def test_rate_limit_is_retried_after_retry_after(landscape: Landscape) -> None:
    landscape.emulator.cloud_foundry.rate_limit(2, retry_after=7)

    landscape.provisioner.provision(SENDER, "iflowtest-abc123-sender")

    assert landscape.waits[:2] == [7, 7]


def test_persistent_rate_limit_is_an_error(landscape: Landscape) -> None:
    landscape.emulator.cloud_foundry.rate_limit(10, retry_after=2)

    with pytest.raises(CloudFoundryError) as caught:
        landscape.provisioner.provision(SENDER, "iflowtest-abc123-sender")

    assert (
        "answered 429 CF-UaaRateLimited: Rate Limit Exceeded: Cloud Foundry kept rate-limiting after 3 retries"
        in str(caught.value)
    )
    assert landscape.waits == [2, 2, 2]


def test_jobs_are_polled_with_backoff_until_complete(landscape: Landscape) -> None:
    landscape.emulator.cloud_foundry.job_delay = 10

    landscape.provisioner.provision(SENDER, "iflowtest-abc123-sender")

    # Instance job then key job: 1 + 2 + 4 + 8 >= 10 each time.
    assert landscape.waits == [1, 2, 4, 8, 1, 2, 4, 8]


def test_job_moves_processing_polling_complete(landscape: Landscape) -> None:
    emu = landscape.emulator
    emu.cloud_foundry.job_delay = 10
    space = landscape.provisioner.space_guid()
    plan = next(landscape.cf.list("/v3/service_plans", names="integration-flow"))["guid"]
    response = landscape.cf.post(
        "/v3/service_instances",
        {
            "type": "managed",
            "name": "by-hand",
            "parameters": {"roles": ["ESBMessaging.send"]},
            "relationships": {"space": {"data": {"guid": space}}, "service_plan": {"data": {"guid": plan}}},
        },
    )
    location = response.headers["Location"]

    states = []
    for _ in range(3):
        job = landscape.cf.get(location)
        states.append(job["state"])
        emu.advance_clock(5)

    assert response.status_code == 202
    assert states == ["PROCESSING", "POLLING", "COMPLETE"]
    assert job["operation"] == "service_instance.create"


def test_job_that_never_finishes_times_out(landscape: Landscape) -> None:
    landscape.emulator.cloud_foundry.job_delay = 10_000

    with pytest.raises(ProvisioningError) as caught:
        landscape.provisioner.provision(SENDER, "iflowtest-abc123-sender")

    assert str(caught.value) == (
        "creating service instance 'iflowtest-abc123-sender' for client 'sender' is still PROCESSING after 30 s: the "
        "broker is slow or stuck; raise IFLOWTEST_CF_JOB_TIMEOUT, or check the instance with `cf service NAME`; "
        "the half-created instance 'iflowtest-abc123-sender' may be left behind (Cloud Foundry refuses to delete "
        "it while its creation is still in progress): `iflowtest provision cleanup` removes it"
    )
    assert landscape.emulator.cloud_foundry.instance_names() == ["iflowtest-abc123-sender"]


def test_cleanup_deletes_only_old_run_prefixed_instances(landscape: Landscape) -> None:
    emu = landscape.emulator
    old = landscape.provisioner.provision(SENDER, "iflowtest-old111-sender")
    landscape.provisioner.provision(SENDER, "iflowtest-new222-sender")
    landscape.provisioner.provision(SENDER, "somebody-elses")
    emu.cloud_foundry.set_created_at(old.instance_name, datetime.now(UTC) - timedelta(hours=7))

    deleted = landscape.provisioner.cleanup(parse_duration("6h"))

    assert deleted == ["iflowtest-old111-sender"]
    assert emu.cloud_foundry.instance_names() == ["iflowtest-new222-sender", "somebody-elses"]
    assert [i.name for i in landscape.provisioner.instances()] == ["iflowtest-new222-sender"]


def test_parse_duration() -> None:
    assert parse_duration("6h") == timedelta(hours=6)
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("2d") == timedelta(days=2)
    with pytest.raises(ValueError, match="'soon' is not a duration: use a number with s, m, h or d, such as 6h"):
        parse_duration("soon")


def test_unknown_org_and_space(fresh_emulator: Emulator) -> None:
    landscape = fresh_emulator.cloud_foundry
    provisioner = make_provisioner(fresh_emulator, [])
    wrong_org = Provisioner(provisioner.cf, org="nope", space=landscape.space_name)
    wrong_space = Provisioner(provisioner.cf, org=landscape.org_guid, space="prod")

    with pytest.raises(
        ProvisioningError,
        match=r"organization 'nope' was not found at .* or user 'developer@example.com' cannot see it: check IFLOWTEST_CF_ORG",
    ):
        wrong_org.space_guid()
    with pytest.raises(
        ProvisioningError, match=r"space 'prod' was not found .*check IFLOWTEST_CF_SPACE \(`cf spaces` lists yours\)"
    ):
        wrong_space.space_guid()


def test_token_refused_even_after_a_refresh_says_to_log_in(landscape: Landscape) -> None:
    landscape.provisioner.space_guid()  # logged in
    landscape.emulator.cloud_foundry.uaa.remove_user("developer@example.com")

    with pytest.raises(CloudFoundryError) as caught:
        landscape.provisioner.provision(SENDER, "iflowtest-abc123-sender")

    api = landscape.emulator.cf_api
    assert str(caught.value) == (
        f"GET {api}/v3/service_plans answered 401 CF-InvalidAuthToken: Invalid Auth Token: the token of user "
        f"'developer@example.com' was refused: log in again with `cf login -a {api}`, or check "
        "IFLOWTEST_CF_USERNAME/IFLOWTEST_CF_PASSWORD"
    )


def test_missing_org_and_space_name_the_settings(landscape: Landscape) -> None:
    with pytest.raises(ProvisioningError) as caught:
        Provisioner(landscape.cf, org=None, space=None).space_guid()

    assert str(caught.value) == (
        "no Cloud Foundry org and space to provision in: set IFLOWTEST_CF_ORG and IFLOWTEST_CF_SPACE, or choose them "
        "with `cf target -o ORG -s SPACE`"
    )
