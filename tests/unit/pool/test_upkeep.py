"""Chainlink Automation (SPEC 4): the market's `Upkeep` contract says when a
rebalance is due and performs it; the bounty goes to the address the pool's owner
names, never to the forwarder that calls. Its orders: `test_upkeep_orders.py`."""

import ape
import pytest
from ape.exceptions import ContractLogicError

from inverse.automation import decode_settle, settle_data
from inverse.deploy import deploy_upkeep, order_book_of
from tests.conftest import publish_round

from ..orders.conftest import USDC

DAY = 86_400
ZERO = "0x" + "00" * 20


def test_perform_upkeep__bounty__goes_to_the_named_receiver_not_the_forwarder(
    order_seeded, order_pool, upkeep, feed, owner, keeper, collateral, chain
):
    chain.mine(deltatime=DAY)
    publish_round(feed, owner, chain)
    receiver = upkeep.receiver()
    needed, data = upkeep.checkUpkeep(b"")
    assert needed and decode_settle(data) == (
        order_pool.last_rebalance(),
        order_book_of(order_pool).next_order(),
        [],
    )  # no order due
    cash, forwarder = collateral.balanceOf(receiver), collateral.balanceOf(keeper)

    tx = upkeep.performUpkeep(data, sender=keeper)  # the keeper plays Automation's forwarder

    [log] = tx.events.filter(order_pool.Rebalance)
    assert (log.keeper, log.bounty) == (receiver, USDC)
    assert collateral.balanceOf(receiver) == cash + USDC
    assert collateral.balanceOf(keeper) == forwarder
    assert upkeep.checkUpkeep(b"") == (False, b"")
    again = upkeep.performUpkeep(data, sender=keeper)  # a repeat is harmless: no revert, no bounty
    assert list(again.events.filter(order_pool.Rebalance)) == []
    assert collateral.balanceOf(receiver) == cash + USDC


def test_set_receiver__by_the_pools_owner__pays_the_new_one(
    order_seeded, order_pool, upkeep, feed, owner, keeper, stranger, collateral, chain
):
    tx = upkeep.set_receiver(stranger, sender=owner)
    assert tx.events == [upkeep.ReceiverSet(receiver=stranger)]
    chain.mine(deltatime=DAY)
    publish_round(feed, owner, chain)
    cash = collateral.balanceOf(stranger)
    upkeep.performUpkeep(settle_data(1, [], order_pool.last_rebalance()), sender=keeper)
    assert collateral.balanceOf(stranger) == cash + USDC


def test_set_receiver__follows_the_pools_ownership(order_pool, upkeep, owner, stranger, keeper):
    order_pool.transfer_ownership(stranger, sender=owner)
    order_pool.accept_ownership(sender=stranger)
    with ape.reverts("upkeep: caller is not the pool's owner"):
        upkeep.set_receiver(owner, sender=owner)
    upkeep.set_receiver(keeper, sender=stranger)
    assert upkeep.receiver() == keeper


def test_set_receiver__not_the_owner__reverts(upkeep, keeper, unchanged):
    with unchanged("upkeep: caller is not the pool's owner"):
        upkeep.set_receiver(keeper, sender=keeper)
    assert upkeep.receiver() != keeper


@pytest.mark.parametrize("who", ["zero", "pool", "lp_token", "order_book", "upkeep"])
def test_set_receiver__one_that_would_stop_or_strand_the_bounty__reverts(order_pool, upkeep, owner, who):
    receiver = {
        "zero": ZERO,
        "pool": order_pool.address,
        "lp_token": order_pool.lp_token(),
        "order_book": order_pool.order_book(),
        "upkeep": upkeep.address,
    }[who]
    reason = "upkeep: zero receiver" if who == "zero" else "upkeep: receiver is the pool"
    before = upkeep.receiver()
    with ape.reverts(reason):
        upkeep.set_receiver(receiver, sender=owner)
    assert upkeep.receiver() == before


def test_deploy__zero_receiver__reverts(order_pool, owner):
    # ape's revert check looks for a contract that was never created: match the error itself.
    with pytest.raises(ContractLogicError, match="^upkeep: zero receiver$"):
        deploy_upkeep(owner, order_pool, ZERO)
