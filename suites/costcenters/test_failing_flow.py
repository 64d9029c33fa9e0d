"""FailingFlow: a runtime error surfaces as SAP's plain-text 500 and the harness finds its MPL id."""

from __future__ import annotations

import re

import pytest

from iflowtest import record_of


@pytest.mark.iflow("FailingFlow")
def test_failure_carries_the_mpl_id(iflow):
    response = iflow.get()

    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text.startswith("An internal server error occured:")
    record = record_of(response)
    assert re.fullmatch(r"AG[A-Za-z0-9_-]{26}", record.mpl_id)
    assert f"The MPL ID for the failed message is : {record.mpl_id}" in response.text
