"""Fixtures for the pool's unit tests on the next-price market (`order_pool`, `book`):
markets of other collaterals and leverages, settling any market's book, and a
check that a failed call changed nothing. Expected amounts are worked out in the
tests by hand or with the helpers of `tests/unit/orders/conftest.py`."""

from contextlib import contextmanager

import ape
import pytest

from inverse.deploy import order_book_of
from tests.conftest import fund, publish_round, settle_orders
from tests.unit.orders.conftest import read_parameters, state


@pytest.fixture
def order_lp_token(order_pool, project):
    return project.LpToken.at(order_pool.lp_token())


@pytest.fixture
def settle_book(feed, owner, keeper, chain):
    """`settle_book(book, answer=None)`: the `settle` fixture for any market's book:
    publish the next round after every pending order's T, then settle as the keeper."""

    def run(book, answer=None, settler=None):
        pending = book.pending_orders()
        after = book.order(book.next_order() + pending - 1).not_before if pending else None
        publish_round(feed, owner, chain, answer, after)
        return settle_orders(book, feed, settler or keeper, chain)

    return run


@pytest.fixture
def create_market(create_order_pool, oracle, project, lp, minter, redeemer):
    """`create_market(token, leverage=1, params=None, funds=None)`: a new market on
    `token` -> (pool, book, lp_token); with `funds`, the LP, minter and redeemer each
    get that much of a faucet token, approved to the book."""

    def create(token, leverage=1, params=None, funds=None):
        pool = create_order_pool(token, oracle, leverage, params)
        book = order_book_of(pool)
        if funds:
            for account in (lp, minter, redeemer):
                fund(token, account, book, funds)
        return pool, book, project.LpToken.at(pool.lp_token())

    return create


def snapshot(pool, book, collateral, lp_token, accounts) -> dict:
    """Every number a user could check: balances, supplies, escrow, queue,
    references, switches and parameters."""
    return state(pool, book, collateral, lp_token, accounts) | {
        "reference": (pool.reference_price(), pool.reference_nav(), pool.last_rebalance(), pool.fee_time()),
        "switches": (pool.paused(), pool.shutdown_requested(), pool.is_shutdown()),
        "roles": (pool.owner(), pool.pending_owner(), pool.guardian()),
        "params": read_parameters(pool),
        "queued": (pool.parameters_ready_at(), pool.queued_parameters()),
        "claimable": pool.total_claimable(),
    }


@pytest.fixture
def unchanged(order_pool, book, collateral, order_lp_token, accounts):
    """`with unchanged("pool: reason"):` the call reverts with that reason and no
    balance, supply, escrow, reference, switch or parameter of `order_pool` moved."""

    @contextmanager
    def check(reason):
        users = list(accounts)[:8]
        before = snapshot(order_pool, book, collateral, order_lp_token, users)
        with ape.reverts(reason):
            yield
        assert snapshot(order_pool, book, collateral, order_lp_token, users) == before

    return check
