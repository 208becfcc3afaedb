"""Rebalances on a pull market: at the newest price proven for a recent slot (the
keeper proves the slot of its block first), in time order with the orders: none
while an order whose T is at or before that price waits."""

import ape

from inverse.constants import PULL_RECENT, REASON_THRESHOLD, WAD
from inverse.deploy import prove_recent_price
from inverse.orders import order_from_log
from inverse.pull import recent_slot

from .conftest import USDC, mine_past, settle_pull
from .test_pull_settlement import request_mint


def test_rebalance__threshold__at_the_recent_slots_proven_price(
    pull_pool, pull_book, pull_oracle, owner, keeper, prices, chain
):
    now = chain.pending_timestamp
    prices.set(2_300 * 10**8, now)  # ETH +15%: past -1x's 14.2% threshold
    mine_past(now + 10)
    assert not pull_pool.rebalance_due()  # the price on-chain has not moved yet
    prove_recent_price(owner, pull_oracle, prices.source)
    assert pull_pool.rebalance_due()
    receipt = pull_pool.rebalance(sender=keeper)
    [event] = receipt.events.filter(pull_pool.Rebalance)
    assert (event.reason, event.price) == (REASON_THRESHOLD, 2_300 * WAD)
    assert pull_pool.reference_price() == 2_300 * WAD


def test_rebalance__waits_for_an_order_whose_t_is_at_or_before_its_price(
    pull_pool, pull_book, pull_oracle, pull_funded, minter, owner, keeper, prices, chain
):
    order = request_mint(pull_book, minter, chain, 100 * USDC)
    prices.set(2_300 * 10**8, order.not_before)
    mine_past(order.not_before + 1)
    prove_recent_price(owner, pull_oracle, prices.source)  # the slot of T or later
    assert pull_oracle.latest()[1] >= order.not_before
    assert not pull_pool.rebalance_due()
    with ape.reverts("pool: settle due orders first"):
        pull_pool.rebalance(sender=keeper)
    settle_pull(pull_book, prices, keeper)
    pull_pool.rebalance(sender=keeper)
    assert pull_pool.reference_price() == 2_300 * WAD


def test_rebalance__an_order_after_its_price_settles_at_the_reset_pool(
    pull_pool, pull_book, pull_oracle, pull_funded, lp, minter, owner, keeper, prices, chain
):
    receipt = pull_book.request_lp_deposit(100_000 * USDC, 0, lp, chain.pending_timestamp + 600, sender=lp)
    mine_past(order_from_log(receipt.events.filter(pull_book.OrderRequested)[0]).not_before)
    settle_pull(pull_book, prices, keeper)
    prices.set(2_300 * 10**8, chain.pending_timestamp)
    mine_past(chain.pending_timestamp + 10)
    prove_recent_price(owner, pull_oracle, prices.source)
    order = request_mint(pull_book, minter, chain, 100 * USDC)  # T after the proven price
    pull_pool.rebalance(sender=keeper)
    mine_past(order.not_before)
    [log] = settle_pull(pull_book, prices, keeper).events.filter(pull_pool.OrderSettled)
    assert log.price == 2_300 * WAD
    assert abs(log.nav - pull_pool.reference_nav()) < WAD // 10**6  # priced at the reference it reset to


def test_latest__a_slot_older_than_recent__cannot_move_the_rebalance_price(pull_oracle, owner, prices, chain):
    prove_recent_price(owner, pull_oracle, prices.source)
    before = tuple(pull_oracle.latest())
    old = recent_slot(chain.pending_timestamp) - PULL_RECENT - 5
    prices.set(1_000 * 10**8, old)
    pull_oracle.prove([(old, prices.source(old).data)], owner, value=1, sender=owner)
    assert tuple(pull_oracle.latest()) == before
