import pytest


@pytest.mark.iflow("OrderStatus")
def test_order_status_names_the_order(iflow):
    response = iflow.get(params={"id": "0815"})
    assert response.status_code == 200
    assert response.json() == {"order": "0815", "status": "SHIPPED"}
