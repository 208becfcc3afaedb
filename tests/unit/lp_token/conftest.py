import pytest


@pytest.fixture
def order_lp_token(order_pool, project):
    return project.LpToken.at(order_pool.lp_token())
