"""ReadCostCentersDE: German company codes only, behind the custom role ESBMessaging_DE."""

from __future__ import annotations

import pytest

from iflowtest import record_of


@pytest.mark.iflow("ReadCostCentersDE")
@pytest.mark.parametrize("company_code", ["1010", "1020", "1030"])
def test_german_company_codes(iflow, company_code):
    response = iflow.get(params={"companyCode": company_code})

    assert response.status_code == 200
    results = response.json()["d"]["results"]
    assert results
    assert {c["Country"] for c in results} == {"DE"}


@pytest.mark.iflow("ReadCostCentersDE")
def test_other_countries_are_filtered_out(iflow):
    response = iflow.get(params={"companyCode": "1710"})

    assert response.status_code == 200
    assert response.json()["d"]["results"] == []


@pytest.mark.iflow("ReadCostCentersDE")
@pytest.mark.client("sender_no_de")
def test_client_without_the_custom_role_is_forbidden(iflow):
    response = iflow.get(params={"companyCode": "1010"})

    assert response.status_code == 403
    hint = record_of(response).hint
    assert "lacks role ESBMessaging_DE required by iFlow 'ReadCostCentersDE'" in hint
    assert "[tool.iflowtest.clients.sender_no_de]" in hint
