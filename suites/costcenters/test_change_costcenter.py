"""ChangeCostCenter: an XML POST behind CSRF protection; the handshake is the harness's job, not the test's."""

from __future__ import annotations

import pytest
from lxml import etree

pytestmark = pytest.mark.iflow("ChangeCostCenter")


def change_request(cost_center: str, person: str) -> bytes:
    return f"""<CostCenterChangeRequest>
  <ControllingArea>A000</ControllingArea>
  <CostCenter>{cost_center}</CostCenter>
  <ValidFrom>2026-01-01</ValidFrom>
  <Changes><Field name="CostCtrResponsiblePersonName">{person}</Field></Changes>
</CostCenterChangeRequest>""".encode()


@pytest.fixture
def existing_cost_center(iflow_client):
    reader = iflow_client(iflow="ReadCostCenters")
    return reader.get(params={"companyCode": "1010", "$top": "1"}).json()["d"]["results"][0]["CostCenter"]


def test_change_request_is_accepted(iflow, existing_cost_center):
    response = iflow.post(
        data=change_request(existing_cost_center, "J. Smith"), headers={"Content-Type": "application/xml"}
    )

    assert response.status_code == 200, response.text[:300]
    answer = etree.fromstring(response.content)
    assert answer.findtext("Status") == "ACCEPTED"
    assert answer.findtext("CostCenter") == existing_cost_center


def test_invalid_change_is_rejected_with_the_field_named(iflow, existing_cost_center):
    too_long = "A name far longer than twenty characters"
    response = iflow.post(
        data=change_request(existing_cost_center, too_long), headers={"Content-Type": "application/xml"}
    )

    assert response.status_code == 400
    answer = etree.fromstring(response.content)
    assert answer.findtext("Status") == "REJECTED"
    assert answer.xpath("//Error/@field") == ["CostCtrResponsiblePersonName"]
