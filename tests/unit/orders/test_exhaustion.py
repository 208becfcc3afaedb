"""An exhausted pool (holders' claim at the price passes its assets) takes LP deposits to
recapitalise it. LP value is then near 0: the LP token first rescales the old shares so
that a share is worth about its first price again, and the deposit gets about one share
per collateral unit (times 10**12 for 6 decimals). The supply stays capped so that no
share product can overflow, and a deposit past the cap is refunded, never left to revert
a settlement and stop the queue (SPEC 2 and 3)."""

from inverse.constants import OUTCOME_FILLED, OUTCOME_REFUNDED
from tests.conftest import INITIAL_PRICE, fund, publish_round, settle_orders

from .conftest import LP_VIRTUAL_SHARES, USDC, market_at, requested, settled, wad

MAX_LP_SUPPLY = 2**120


def test_lp_deposit__exhausted_pool__large_deposit_fills_after_rescale_past_share_cap_refunded(
    order_seeded,
    order_pool,
    lens,
    book,
    minter,
    lp,
    keeper,
    owner,
    feed,
    collateral,
    chain,
    deadline,
    settle,
    order_lp_token,
):
    fund(collateral, lp, book, 2**101)
    book.request_mint(lens.max_mint() * 99 // 100, 0, minter, deadline, sender=minter)
    settle()
    old_shares = order_lp_token.balanceOf(lp)
    huge = requested(book.request_lp_deposit(100_000_000 * USDC, 0, lp, deadline, sender=lp), book)
    past_cap = requested(book.request_lp_deposit(2**100, 0, lp, deadline, sender=lp), book)
    fits = requested(book.request_lp_deposit(1_000_000 * USDC, 0, lp, deadline, sender=lp), book)
    crash = INITIAL_PRICE * 4 // 10  # ETH -60% in one round: holders are owed more than the pool holds
    publish_round(feed, owner, chain, crash, after=fits.not_before)
    m = market_at(order_pool, order_lp_token, wad(crash), chain.blocks.head.timestamp)
    assert m.nav < m.raw_nav and m.lp_value == 0

    receipt = settle_orders(book, feed, keeper, chain)
    logs = settled(receipt, order_pool)

    assert [(log.order_id, log.outcome) for log in logs] == [
        (huge.id, OUTCOME_FILLED),
        (past_cap.id, OUTCOME_REFUNDED),
        (fits.id, OUTCOME_FILLED),
    ]
    [rescale] = receipt.events.filter(order_lp_token.Rescale)
    assert order_lp_token.balanceOf(lp) == (old_shares >> rescale.bits) + logs[0].out + logs[2].out
    # About one share per collateral wei times the virtual offset: no explosion.
    for log in (logs[0], logs[2]):
        assert LP_VIRTUAL_SHARES // 2 < log.out // log.filled < 2 * LP_VIRTUAL_SHARES
    assert logs[1].refunded == 2**100
    assert order_lp_token.totalSupply() <= MAX_LP_SUPPLY
    assert lens.lp_value() > 0  # recapitalised: holders are owed their full NAV again
