"""An exhausted pool (holders' claim at the price passes its assets) takes LP deposits to
recapitalise it. LP value is then near 0, so new LP shares come many per unit: their
supply is capped so that no share product can overflow, and a deposit past the cap is
refunded, never left to revert a settlement and stop the queue (SPEC 2 and 3)."""

from inverse.constants import OUTCOME_FILLED, OUTCOME_REFUNDED
from tests.conftest import INITIAL_PRICE, fund, publish_round, settle_orders

from .conftest import USDC, market_at, requested, settled, wad

MAX_LP_SUPPLY = 2**120


def test_lp_deposit__exhausted_pool__deposit_past_share_cap_refunded_smaller_one_fills(
    order_seeded, order_pool, book, minter, lp, keeper, owner, feed, collateral, chain, deadline, settle, order_lp_token
):
    fund(collateral, lp, book, 200_000_000 * USDC)
    book.request_mint(order_pool.max_mint() * 99 // 100, 0, minter, deadline, sender=minter)
    settle()
    huge = requested(book.request_lp_deposit(100_000_000 * USDC, 0, lp, deadline, sender=lp), book)
    fits = requested(book.request_lp_deposit(1_000_000 * USDC, 0, lp, deadline, sender=lp), book)
    crash = INITIAL_PRICE * 4 // 10  # ETH -60% in one round: holders are owed more than the pool holds
    publish_round(feed, owner, chain, crash, after=fits.not_before)
    m = market_at(order_pool, order_lp_token, wad(crash), chain.blocks.head.timestamp)
    assert m.nav < m.raw_nav and m.lp_value == 0

    logs = settled(settle_orders(book, feed, keeper, chain), order_pool)

    assert [(log.order_id, log.outcome) for log in logs] == [(huge.id, OUTCOME_REFUNDED), (fits.id, OUTCOME_FILLED)]
    assert logs[0].refunded == 100_000_000 * USDC
    assert logs[1].out > 0 and order_lp_token.totalSupply() <= MAX_LP_SUPPLY
    assert order_pool.lp_value() > 0  # recapitalised: holders are owed their full NAV again
