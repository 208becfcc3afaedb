"""Time order: nothing moves the pool to a later price (a rebalance) while an order
whose round is already out waits."""

import ape

from inverse.automation import settle_data
from inverse.constants import OUTCOME_FILLED, REASON_TIME
from tests.conftest import publish_round, settle_orders

from .conftest import USDC, later, requested, settled, wad


def test_rebalance__order_with_round_out_pending__reverts_until_settled(
    order_seeded, order_pool, upkeep, book, minter, keeper, owner, feed, collateral, chain
):
    chain.mine(timestamp=order_pool.last_rebalance() + order_pool.parameters().interval + 1)
    publish_round(feed, owner, chain, 1_990 * 10**8)  # a fresh price: a rebalance is due by time
    order = requested(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter), book)
    assert order_pool.rebalance_due()  # its round is not out: the latest round is before its T
    publish_round(feed, owner, chain, 1_980 * 10**8, after=order.not_before)  # its round

    assert not order_pool.rebalance_due()
    with ape.reverts("pool: settle due orders first"):
        order_pool.rebalance(sender=keeper)
    # Automation never saw its log: its upkeep neither settles it nor jumps it.
    assert upkeep.checkUpkeep(b"") == (False, b"")
    skipped = upkeep.performUpkeep(settle_data(order.id, [], order_pool.last_rebalance()), sender=keeper)
    assert list(skipped.events.filter(order_pool.Rebalance)) == []
    assert order_pool.reference_price() == wad(2_000 * 10**8)

    [log] = settled(settle_orders(book, feed, keeper, chain), order_pool)
    assert (log.outcome, log.price) == (OUTCOME_FILLED, wad(1_980 * 10**8))  # at the pool as it stood
    assert order_pool.rebalance_due()
    keeper_cash = collateral.balanceOf(keeper)
    tx = order_pool.rebalance(sender=keeper)

    [event] = tx.events.filter(order_pool.Rebalance)
    assert (event.keeper, event.reason, event.price) == (keeper.address, REASON_TIME, wad(1_980 * 10**8))
    assert tx.return_value == event.bounty == order_pool.parameters().keeper_bounty == USDC
    assert collateral.balanceOf(keeper) == keeper_cash + USDC
    assert order_pool.reference_price() == wad(1_980 * 10**8)
    assert order_pool.last_rebalance() == tx.timestamp


def test_rebalance__not_due__reverts_not_due(order_seeded, order_pool, keeper):
    with ape.reverts("pool: rebalance not due"):
        order_pool.rebalance(sender=keeper)
