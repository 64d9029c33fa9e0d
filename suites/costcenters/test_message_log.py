"""Message-log checks: a 200 is not enough, the message must also have finished in CPI."""

from __future__ import annotations

import pytest


@pytest.mark.iflow("ReadCostCenters")
def test_read_message_completes(iflow, mpl):
    response = iflow.get(params={"controllingArea": "A000", "companyCode": "1010"})

    assert response.status_code == 200
    log = mpl.expect_status(response, "COMPLETED")
    assert log.iflow == "ReadCostCenters"


@pytest.mark.iflow("FailingFlow")
def test_failing_message_is_failed_with_its_error(iflow, mpl):
    response = iflow.get()

    log = mpl.expect_status(response, "FAILED")
    assert log.error_text
    assert log.error_text in response.text
