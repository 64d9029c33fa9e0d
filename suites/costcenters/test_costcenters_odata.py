"""CostCentersOData: the OData sender flow exposing A_CostCenter with its query options."""

from __future__ import annotations

import pytest
from lxml import etree

pytestmark = pytest.mark.iflow("CostCentersOData")
SERVICE = "/gw/odata/SAP/CostCenters;v=1"


def test_filter_and_inline_count(iflow):
    response = iflow.get(
        f"{SERVICE}/A_CostCenter",
        params={
            "$filter": "ControllingArea eq 'B000' and CompanyCode eq '1710'",
            "$inlinecount": "allpages",
            "$top": "5",
        },
    )

    assert response.status_code == 200
    body = response.json()["d"]
    assert int(body["__count"]) > 5
    assert len(body["results"]) == 5
    assert {c["CompanyCode"] for c in body["results"]} == {"1710"}


def test_select_and_orderby(iflow):
    response = iflow.get(
        f"{SERVICE}/A_CostCenter",
        params={"$select": "CostCenter,CompanyCode", "$orderby": "CostCenter desc", "$filter": "CompanyCode eq '1110'"},
    )

    rows = response.json()["d"]["results"]
    ids = [r["CostCenter"] for r in rows]
    assert ids == sorted(ids, reverse=True)
    assert set(rows[0]) == {"__metadata", "CostCenter", "CompanyCode"}


def test_or_filter_across_company_codes(iflow):
    response = iflow.get(
        f"{SERVICE}/A_CostCenter", params={"$filter": "CompanyCode eq '1010' or CompanyCode eq '1510'"}
    )

    assert {c["CompanyCode"] for c in response.json()["d"]["results"]} == {"1010", "1510"}


def test_metadata_describes_the_entity(iflow):
    response = iflow.get(f"{SERVICE}/$metadata")

    assert response.status_code == 200
    document = etree.fromstring(response.content)
    names = document.xpath("//*[local-name()='EntityType'][@Name='A_CostCenterType']/*[local-name()='Property']/@Name")
    assert {"ControllingArea", "CostCenter", "CompanyCode", "CostCenterCurrency"} <= set(names)


def test_xml_format(iflow):
    response = iflow.get(f"{SERVICE}/A_CostCenter", params={"$top": "3", "$format": "xml"})

    feed = etree.fromstring(response.content)
    assert len(feed.findall("{http://www.w3.org/2005/Atom}entry")) == 3
