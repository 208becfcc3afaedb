"""Rebalances on a pull market: at the price of the slot the block is in (the keeper
proves it and rebalances in one transaction, `PullRebalancer`), in time order with
the orders: none while an order whose T is at or before that price waits, and no
order settles before the chain's clock reaches its T."""

import ape

from inverse.constants import REASON_THRESHOLD, REASON_TIME, WAD
from inverse.orders import order_from_log

from .conftest import USDC, mine_past, rebalance_now, settle_pull, slot_start
from .test_pull_settlement import request_mint


def test_rebalance__threshold__at_the_current_slots_price_in_one_transaction(
    pull_pool, rebalancer, keeper, prices, chain
):
    prices.set(2_300 * 10**8, chain.pending_timestamp)  # ETH +15%: past -1x's 14.2% threshold
    slot = slot_start(1)
    assert not pull_pool.rebalance_due()  # no price of this slot on-chain yet
    receipt = rebalance_now(rebalancer, pull_pool, prices, keeper)
    [event] = receipt.events.filter(pull_pool.Rebalance)
    assert (event.reason, event.price) == (REASON_THRESHOLD, 2_300 * WAD)
    assert pull_pool.reference_price() == 2_300 * WAD
    assert ape.project.PythOracle.at(pull_pool.oracle()).latest()[1] == slot


def test_rebalance__not_due__refused_and_nothing_proven_for_nothing(pull_pool, rebalancer, keeper, prices):
    slot_start(1)
    with ape.reverts("pool: rebalance not due"):
        rebalance_now(rebalancer, pull_pool, prices, keeper)


def test_rebalance__time__at_the_price_of_the_slot_its_block_is_in(pull_pool, rebalancer, keeper, prices, chain):
    chain.mine(timestamp=pull_pool.last_rebalance() + 86_400)
    slot = slot_start(2)
    receipt = rebalance_now(rebalancer, pull_pool, prices, keeper)
    [event] = receipt.events.filter(pull_pool.Rebalance)
    assert event.reason == REASON_TIME and event.price == 2_000 * WAD
    assert ape.project.PythOracle.at(pull_pool.oracle()).proven(slot)[0]


def test_rebalance__the_previous_slots_price__refused(pull_pool, pull_oracle, rebalancer, owner, keeper, prices, chain):
    """A rebalancer cannot reach back for a price: only the slot its block is in."""
    prices.set(2_300 * 10**8, chain.pending_timestamp)
    slot = slot_start(1)
    pull_oracle.prove([(slot, prices.source(slot).data)], owner, value=1, sender=owner)
    chain.mine(timestamp=slot + 5)
    with ape.reverts("oracle: prove the current slot's price"):
        pull_pool.rebalance(sender=keeper)


def test_rebalance__waits_for_an_order_whose_t_is_at_or_before_its_price(
    pull_pool, pull_book, pull_funded, rebalancer, minter, keeper, prices, chain
):
    order = request_mint(pull_book, minter, chain, 100 * USDC)
    prices.set(2_300 * 10**8, order.not_before)
    mine_past(order.not_before + 1)
    with ape.reverts("pool: settle due orders first"):
        rebalance_now(rebalancer, pull_pool, prices, keeper)
    settle_pull(pull_book, prices, keeper)
    rebalance_now(rebalancer, pull_pool, prices, keeper)
    assert pull_pool.reference_price() == 2_300 * WAD


def test_rebalance__an_order_whose_t_is_ahead__cannot_settle_first(
    pull_pool, pull_book, pull_funded, rebalancer, lp, minter, keeper, prices, chain
):
    """Time order from the other side: an order whose T the chain has not reached
    cannot be settled (so never before a rebalance at an earlier price), and settles
    afterwards at the pool the rebalance reset."""
    receipt = pull_book.request_lp_deposit(100_000 * USDC, 0, lp, chain.pending_timestamp + 600, sender=lp)
    mine_past(order_from_log(receipt.events.filter(pull_book.OrderRequested)[0]).not_before)
    settle_pull(pull_book, prices, keeper)
    prices.set(2_300 * 10**8, chain.pending_timestamp)
    slot_start(1)
    order = request_mint(pull_book, minter, chain, 100 * USDC)  # T in a later slot
    assert settle_pull(pull_book, prices, keeper) is None  # not due: its T is ahead
    rebalance_now(rebalancer, pull_pool, prices, keeper)
    mine_past(order.not_before)
    [log] = settle_pull(pull_book, prices, keeper).events.filter(pull_pool.OrderSettled)
    assert log.price == 2_300 * WAD
    assert abs(log.nav - pull_pool.reference_nav()) < WAD // 10**6  # priced at the reference it reset to
