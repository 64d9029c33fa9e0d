"""ReadCostCenters: the S/4HANA cost-center read, per controlling area and company code, with Basic and OAuth."""

from __future__ import annotations

from pathlib import Path

import pytest

from iflowtest.tables import table_params

TABLE = Path(__file__).resolve().parents[2] / "fixtures" / "costcenters" / "company_codes.csv"
ROWS = table_params(TABLE, id_columns=("controlling_area", "company_code"))


@pytest.mark.iflow("ReadCostCenters")
@pytest.mark.parametrize("client", ["sender", "sender_basic"], ids=["oauth", "basic"])
@pytest.mark.parametrize("row", ROWS)
def test_cost_centers_of_a_company_code(iflow_client, client, row):
    iflow = iflow_client(client, "ReadCostCenters")

    response = iflow.get(params={"controllingArea": row["controlling_area"], "companyCode": row["company_code"]})

    assert response.status_code == 200, response.text[:300]
    results = response.json()["d"]["results"]
    assert results, f"no cost centers for company code {row['company_code']}"
    for center in results:
        assert center["ControllingArea"] == row["controlling_area"]
        assert center["CompanyCode"] == row["company_code"]
        assert center["Country"] == row["country"]
        assert center["CostCenterCurrency"] == row["currency"]
        assert center["ValidityEndDate"] == "/Date(253402214400000)/"


@pytest.mark.iflow("ReadCostCenters")
def test_one_cost_center_by_id(iflow):
    listing = iflow.get(params={"companyCode": "1010", "$top": "1"}).json()["d"]["results"]
    wanted = listing[0]["CostCenter"]

    response = iflow.get(params={"controllingArea": "A000", "costCenter": wanted})

    assert response.status_code == 200
    assert [c["CostCenter"] for c in response.json()["d"]["results"]] == [wanted]


@pytest.mark.iflow("ReadCostCenters")
def test_unknown_company_code_gives_an_empty_list(iflow):
    response = iflow.get(params={"companyCode": "9999"})

    assert response.status_code == 200
    assert response.json()["d"]["results"] == []
