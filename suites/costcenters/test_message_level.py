"""Message-level checks: what the change flows did inside CPI, not only what they answered.

The `mpl` fixture reads the tenant's monitoring API through the 'api'-plan client `monitor`: attachments,
custom header properties, the message store, trace payloads, data stores, JMS queues, and the messages a
message triggered (PredecessorMessageGuid).
"""

from __future__ import annotations

import pytest
from lxml import etree

CHANGE = b"""<CostCenterChangeRequest>
  <ControllingArea>A000</ControllingArea>
  <CostCenter>10101101</CostCenter>
  <ValidFrom>2026-01-01</ValidFrom>
  <Changes><Field name="CostCtrResponsiblePersonName">%s</Field></Changes>
</CostCenterChangeRequest>"""
XML = {"Content-Type": "application/xml"}


# sender_no_de POSTs nowhere else: its first call here always meets the CSRF handshake, whatever ran before in
# the process, so the recorded cassettes do not depend on test order.
@pytest.mark.iflow("ChangeCostCenter")
@pytest.mark.client("sender_no_de")
def test_change_logs_request_backend_answer_and_outcome(iflow, mpl):
    response = iflow.post(data=CHANGE % b"J. Smith", headers=XML)
    request_id = etree.fromstring(response.content).findtext("RequestId")

    # The final status, and the custom header properties the flow set.
    mpl.expect_message(response, status="COMPLETED", properties={"CostCenter": "10101101", "ChangeStatus": "ACCEPTED"})
    # The attachments: the request as sent, and the backend's answer (checked like a response).
    mpl.expect_attachment(response, "ChangeRequest", xpath={"/CostCenterChangeRequest/CostCenter": "10101101"})
    mpl.expect_attachment(response, "BackendResponse", json={"$.d.results[0].CompanyCode": "1010"})
    # The Persist step's message store entry, and the data store entry written under the RequestId.
    mpl.expect_store_entry(response, "PersistResponse", xpath={"/CostCenterChangeResponse/Status": "ACCEPTED"})
    mpl.expect_data_store(response, "CostCenterChanges", request_id, xpath={"//RequestId": request_id})
    # The payload at the end of the run, when the iFlow runs at log level Trace (else: skipped, with the reason).
    mpl.expect_trace(response, "EndEvent_2", text={"contains": "ACCEPTED"})


@pytest.mark.iflow("ChangeCostCenter")
@pytest.mark.client("sender_no_de")
def test_rejected_change_sets_its_custom_status(iflow, mpl):
    response = iflow.post(data=CHANGE % b"A name far longer than twenty characters", headers=XML)

    assert response.status_code == 400
    mpl.expect_message(response, status="COMPLETED", custom_status="REJECTED")
    mpl.expect_attachment(response, "BackendResponse", json={"$.d.results[0].CostCenter": "10101101"})


# The asynchronous flow is not CSRF-protected; its calls go through a client that never talks to one that is, so
# whether a call carries a cached CSRF token does not depend on which tests ran before (stable cassettes).
@pytest.mark.iflow("ChangeCostCenterAsync")
@pytest.mark.client("sender_basic")
def test_asynchronous_change_completes_downstream(iflow, mpl):
    response = iflow.post(data=CHANGE % b"J. Smith", headers=XML)

    assert response.status_code == 202
    # 202 only says "queued": wait for the message, then for the one that took it off the queue.
    (downstream,) = mpl.expect_downstream(
        response,
        "ProcessCostCenterChange",
        status="COMPLETED",
        attachments={"BackendResponse": {"json": {"$.d.results[0].CostCenter": "10101101"}}},
    )
    assert downstream.predecessor is not None
    mpl.expect_queue("CostCenterChanges", failed=0, call=response)


# The asynchronous flow is not CSRF-protected; its calls go through a client that never talks to one that is, so
# whether a call carries a cached CSRF token does not depend on which tests ran before (stable cassettes).
@pytest.mark.iflow("ChangeCostCenterAsync")
@pytest.mark.client("sender_basic")
def test_asynchronous_rejection_fails_downstream_and_stays_on_the_queue(iflow, mpl):
    response = iflow.post(data=CHANGE % b"A name far longer than twenty characters", headers=XML)

    assert response.status_code == 202  # the sender learns nothing of the failure
    mpl.expect_downstream(response, "ProcessCostCenterChange", status="FAILED")
    mpl.expect_queue("CostCenterChanges", failed=1, call=response)
