"""The harness's own clients against a tenant whose runtime, API and token URL are three hosts (ports).

Real service keys name three hosts; the harness takes every URL from the keys, so a call, its token and its
message log must work when the emulator serves them on three ports that answer only their own paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from iflowtest import BearerAuth, IflowClient, OAuthToken, ServiceKey
from iflowtest.calls.mpl import MplClient, MplStatusError, monitor_link
from iflowtest.emulator import Emulator
from tests.calls.test_client import CHANGE, change_request

IssueKey = Callable[..., ServiceKey]


@pytest.fixture
def three_hosts() -> Iterator[Emulator]:
    with Emulator(separate_hosts=True) as emu:
        yield emu
        emu.check_errors()


def clients(emu: Emulator, issue_key: IssueKey) -> tuple[IflowClient, MplClient]:
    flow_key = issue_key(emu, "sender")
    api_key = issue_key(emu, "monitor", plan="api", roles=["MonitoringDataRead"])
    verify = str(emu.ca_file)
    sender = IflowClient(flow_key.url, BearerAuth(OAuthToken(flow_key, "sender", verify=verify)), verify=verify)
    monitor = MplClient(
        api_key.url, BearerAuth(OAuthToken(api_key, "monitor", verify=verify)), client_name="monitor", verify=verify
    )
    return sender, monitor


def test_a_call_its_token_and_its_message_log_each_reach_their_own_host(
    three_hosts: Emulator, issue_key: IssueKey
) -> None:
    sender, monitor = clients(three_hosts, issue_key)

    read = sender.get("/http/costcenters", params={"companyCode": "1010", "$top": "1"})
    cost_center = read.json()["d"]["results"][0]["CostCenter"]
    changed = sender.post(CHANGE, data=change_request(cost_center))  # with the CSRF handshake
    read_log = monitor.expect_status(read)
    changed_log = monitor.expect_status(changed)

    assert (read.status_code, changed.status_code) == (200, 200)
    assert (read_log.iflow, changed_log.iflow) == ("ReadCostCenters", "ChangeCostCenter")
    assert read_log.web_link == monitor_link(three_hosts.api_url, read_log.message_guid)
    assert three_hosts.counters.tokens_issued() == 2  # one per client, from the token host


def test_a_failed_call_is_reported_with_its_log_from_the_api_host(three_hosts: Emulator, issue_key: IssueKey) -> None:
    sender, monitor = clients(three_hosts, issue_key)
    response = sender.get("/http/failing")

    with pytest.raises(MplStatusError) as failure:
        monitor.expect_status(response)

    assert response.status_code == 500
    assert "ended FAILED, expected COMPLETED" in str(failure.value)
    assert monitor_link(three_hosts.api_url, three_hosts.messages[-1].message_guid) in str(failure.value)
