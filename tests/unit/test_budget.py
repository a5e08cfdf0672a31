"""A call's budget running out is its own exception, still a kind of ITFlow timeout."""

from concurrent.futures import Future

import pytest

from itflow_bridge.core.errors import BudgetExceeded, ITFlowTimeout
from itflow_bridge.services.budget import SingleFlight, wait


def test_a_spent_budget_is_its_own_kind_of_timeout():
    with pytest.raises(BudgetExceeded, match="budget of 50 ms") as raised:
        wait(Future(), 0.05)
    assert isinstance(raised.value, ITFlowTimeout)


def test_an_http_timeout_inside_the_work_is_not_called_a_spent_budget():
    def work():
        raise ITFlowTimeout("ITFlow at https://itflow.example did not answer in time (read timeout)")

    with pytest.raises(ITFlowTimeout, match="did not answer in time") as raised:
        SingleFlight(workers=1).run("k", work, budget=30.0)
    assert not isinstance(raised.value, BudgetExceeded)
