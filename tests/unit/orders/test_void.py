"""Void orders: no round by T + max_wait, an invalid round, and rounds that are not
the order's (a held transmission, a new phase). Void is a full refund, settle fee
included, through the ordinary `settle`."""

import ape
import pytest

from inverse.constants import DEAD_FEED_GRACE, OUTCOME_FILLED, OUTCOME_VOID
from inverse.orders import due_orders, pending_orders, settlement_batch
from tests.conftest import INITIAL_PRICE, publish_round, settle_orders

from .conftest import (
    USDC,
    later,
    latest_round_id,
    queue_parameters,
    requested,
    round_data,
    set_parameters,
    settled,
    wad,
)

SETTLE_FEE = USDC // 10


def _request(kind, book, order_pool, order_lp_token, minter, lp, deadline):
    if kind == "mint":
        return minter, book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter)
    if kind == "lp_deposit":
        return lp, book.request_lp_deposit(1_000 * USDC, 0, lp, deadline, sender=lp)
    if kind == "redeem":
        return minter, book.request_redeem(order_pool.balanceOf(minter) // 2, 0, minter, deadline, sender=minter)
    return lp, book.request_lp_withdraw(order_lp_token.balanceOf(lp) // 2, 0, lp, deadline, sender=lp)


def _holdings(user, order_pool, order_lp_token, collateral):
    return collateral.balanceOf(user), order_pool.balanceOf(user), order_lp_token.balanceOf(user)


@pytest.mark.parametrize("kind", ["mint", "redeem", "lp_deposit", "lp_withdraw"])
def test_settle__no_round_by_T_plus_max_wait__void_full_refund(
    kind, order_seeded, order_pool, book, minter, lp, keeper, feed, collateral, chain, order_lp_token, deadline
):
    before = {user: _holdings(user, order_pool, order_lp_token, collateral) for user in (minter, lp)}
    total_assets, supply, lp_supply = order_pool.total_assets(), order_pool.totalSupply(), order_lp_token.totalSupply()
    user, tx = _request(kind, book, order_pool, order_lp_token, minter, lp, deadline)
    order = requested(tx, book)
    assert order.expires_at == order.not_before + order_pool.parameters().max_wait
    chain.mine(timestamp=order.expires_at - 10)
    assert settlement_batch(book, feed, chain.pending_timestamp) == ([], [])  # still waiting
    chain.mine(timestamp=order.expires_at + 1)
    keeper_cash = collateral.balanceOf(keeper)

    receipt = settle_orders(book, feed, keeper, chain)

    [log] = settled(receipt, order_pool)
    assert (log.order_id, log.outcome, log.round_id) == (
        3,
        OUTCOME_VOID,
        latest_round_id(feed),
    )  # the phase's last round
    assert (log.price, log.nav, log.filled, log.out, log.settle_fee) == (0, 0, 0, 0, 0)
    assert log.refunded == order.amount
    for account in (minter, lp):
        assert _holdings(account, order_pool, order_lp_token, collateral) == before[account]
    assert collateral.balanceOf(keeper) == keeper_cash
    assert order_pool.total_assets() == total_assets
    assert order_pool.totalSupply() == supply and order_lp_token.totalSupply() == lp_supply
    assert book.escrowed() == 0 and book.pending_orders() == 0


def test_settle__round_after_expiry__still_void(
    order_seeded, order_pool, book, minter, keeper, owner, feed, collateral, chain, deadline
):
    cash = collateral.balanceOf(minter)
    order = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    publish_round(feed, owner, chain, 1_900 * 10**8, after=order.expires_at + 60)  # too late to price it
    late = latest_round_id(feed)
    assert round_data(feed, late)[2] > order.expires_at

    [log] = settled(settle_orders(book, feed, keeper, chain), order_pool)

    assert (log.outcome, log.round_id, log.price, log.refunded) == (OUTCOME_VOID, late, 0, order.amount)
    assert collateral.balanceOf(minter) == cash


@pytest.mark.parametrize("answer", [0, -1])
def test_settle__round_with_invalid_answer__void_full_refund(
    answer, order_seeded, order_pool, book, minter, keeper, collateral, deadline, settle
):
    cash, keeper_cash = collateral.balanceOf(minter), collateral.balanceOf(keeper)
    order = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)

    [log] = settled(settle(answer=answer), order_pool)

    assert (log.order_id, log.outcome, log.price, log.filled, log.refunded, log.settle_fee) == (
        order.id,
        OUTCOME_VOID,
        0,
        0,
        order.amount,
        0,
    )
    assert collateral.balanceOf(minter) == cash
    assert collateral.balanceOf(keeper) == keeper_cash


def test_settle__held_transmission__does_not_price_order_next_round_does(
    order_seeded, order_pool, book, minter, keeper, owner, feed, chain, deadline
):
    order = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    chain.mine(timestamp=order.not_before + 5)
    # Observed before the request, landed after T: a transmission held in the mempool.
    feed.push_round(1_800 * 10**8, order.requested_at - 30, order.not_before, sender=owner)
    held = latest_round_id(feed)
    _, started_at, updated_at = round_data(feed, held)
    assert started_at < order.requested_at and updated_at >= order.not_before

    assert settlement_batch(book, feed, chain.pending_timestamp) == ([], [])
    with ape.reverts("orders: order not due"):
        book.settle([order.as_struct()], [held], sender=keeper)

    publish_round(feed, owner, chain, 1_990 * 10**8)
    next_round = latest_round_id(feed)
    assert next_round == held + 1
    [log] = settled(settle_orders(book, feed, keeper, chain), order_pool)
    assert (log.outcome, log.round_id, log.price) == (OUTCOME_FILLED, next_round, wad(1_990 * 10**8))


def test_settle__new_phase_after_request__old_aggregator_silent__fills_at_the_new_phases_first_round(
    order_seeded, order_pool, book, minter, keeper, owner, feed, collateral, chain, deadline
):
    """The proxy moves to a new aggregator after the request and the old one
    publishes nothing more: the order's price is the first round after its T in
    the new phase (it was void at its expiry, an hour later, while the new phase
    priced everything else)."""
    order = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    old_last = latest_round_id(feed)
    chain.mine(timestamp=order.not_before + 5)
    feed.new_phase(1_900 * 10**8, sender=owner)
    first = latest_round_id(feed)
    assert first >> 64 == 2 and order.phase == 1

    with ape.reverts("oracle: round not in the order's phase"):
        book.settle([order.as_struct()], [first], sender=keeper)
    assert settlement_batch(book, feed, chain.pending_timestamp)[1] == [old_last << 80 | first]
    [log] = settled(settle_orders(book, feed, keeper, chain), order_pool)
    assert (log.outcome, log.round_id, log.price) == (OUTCOME_FILLED, first, wad(1_900 * 10**8))


def test_settle__void_order_then_next_order__next_still_fills_at_its_round(
    order_seeded, order_pool, book, minter, redeemer, keeper, owner, feed, chain, deadline, settle
):
    first = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    chain.mine(timestamp=first.expires_at + 1)
    second = requested(book.request_mint(1_000 * USDC, 0, minter, chain.pending_timestamp + 600, sender=minter), book)
    assert second.not_before > first.expires_at

    logs = settled(settle(answer=INITIAL_PRICE), order_pool)

    assert [(log.order_id, log.outcome) for log in logs] == [(first.id, OUTCOME_VOID), (second.id, OUTCOME_FILLED)]
    assert logs[1].price == wad(INITIAL_PRICE)


def test_due_orders__void_order_marked_void__what_the_keeper_counts_is_what_settling_pays(
    order_seeded, book, minter, keeper, owner, feed, collateral, chain, deadline
):
    """The keeper counts a void order's settle fee as nothing (it is refunded to the
    requester); it counted it in full and settled at a loss."""
    first = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    chain.mine(timestamp=first.expires_at + 1)
    second = requested(book.request_mint(1_000 * USDC, 0, minter, chain.pending_timestamp + 600, sender=minter), book)
    publish_round(feed, owner, chain, after=second.not_before)

    due = due_orders(pending_orders(book), feed, chain.pending_timestamp, False)

    assert [(order.id, void) for order, _, void in due] == [(first.id, True), (second.id, False)]
    counted = sum(order.settle_fee for order, _, void in due if not void)
    cash = collateral.balanceOf(keeper)
    book.settle([order.as_struct() for order, _, _ in due], [round_id for _, round_id, _ in due], sender=keeper)
    assert collateral.balanceOf(keeper) - cash == counted == SETTLE_FEE


def test_settle__feed_down_after_order_round__void_proof_refused_then_fills_at_its_round(
    order_seeded, order_pool, book, minter, keeper, stranger, owner, feed, collateral, chain, deadline
):
    """A feed that reverts for a while after an order's round came in time: its reads
    fail, which must not pass for a phase with no round, or whoever settles during the
    outage would pick void over the fill."""
    order = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    publish_round(feed, owner, chain, 1_900 * 10**8, after=order.not_before)
    its_round = latest_round_id(feed)
    feed.set_reverting(True, sender=owner)
    chain.mine(timestamp=order.expires_at + 60)
    cash = collateral.balanceOf(minter)

    phase_start = order.phase << 64
    with ape.reverts("orders: order not due"):
        book.settle([order.as_struct()], [phase_start], sender=stranger)
    assert settlement_batch(book, feed, chain.pending_timestamp) == ([], [])

    feed.set_reverting(False, sender=owner)
    [log] = settled(settle_orders(book, feed, keeper, chain), order_pool)
    assert (log.outcome, log.round_id, log.price) == (OUTCOME_FILLED, its_round, wad(1_900 * 10**8))
    assert order_pool.balanceOf(minter) > 0 and collateral.balanceOf(minter) == cash


def test_settle__feed_dead_a_day_past_expiry__void_without_its_round(
    order_seeded, order_pool, book, minter, keeper, owner, feed, collateral, chain, deadline
):
    """A feed gone for good must not hold the queue: a day after the expiry the phase
    start proves the order void, and the order behind it settles."""
    cash = collateral.balanceOf(minter)
    order = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    feed.set_reverting(True, sender=owner)
    chain.mine(timestamp=order.expires_at + DEAD_FEED_GRACE - 1)  # the settle's block: the grace's last second
    assert settlement_batch(book, feed, chain.pending_timestamp) == ([], [])
    with ape.reverts("orders: order not due"):
        book.settle([order.as_struct()], [order.phase << 64], sender=keeper)

    chain.mine(timestamp=order.expires_at + DEAD_FEED_GRACE + 1)
    [log] = settled(settle_orders(book, feed, keeper, chain), order_pool)

    assert (log.outcome, log.round_id, log.price, log.refunded) == (OUTCOME_VOID, order.phase << 64, 0, order.amount)
    assert collateral.balanceOf(minter) == cash and book.pending_orders() == 0


def test_request__shorter_max_wait_after_an_order__expiry_never_before_the_order_ahead(
    order_seeded, order_pool, book, minter, redeemer, keeper, owner, feed, chain
):
    """Orders settle in queue order: an order behind another that is filled at a round
    must not be void for that same round because its owner's terms changed meanwhile."""
    set_parameters(order_pool, owner, max_wait=3 * 3_600)
    ready_at = queue_parameters(order_pool, owner, max_wait=600).timestamp + order_pool.parameter_delay()
    publish_round(feed, owner, chain, after=ready_at)
    deadline = later(chain)
    first = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    order_pool.rebalance(sender=owner)  # applies the shorter wait; the first order's round is not out
    second = requested(book.request_mint(1_000 * USDC, 0, redeemer, deadline, sender=redeemer), book)
    assert second.not_before >= first.not_before
    assert second.expires_at == first.expires_at and second.max_wait > order_pool.parameters().max_wait
    publish_round(feed, owner, chain, 1_950 * 10**8, after=first.not_before + 2 * 3_600)

    logs = settled(settle_orders(book, feed, keeper, chain), order_pool)

    assert [(log.order_id, log.outcome, log.price) for log in logs] == [
        (first.id, OUTCOME_FILLED, wad(1_950 * 10**8)),
        (second.id, OUTCOME_FILLED, wad(1_950 * 10**8)),
    ]
    chain.mine(timestamp=first.expires_at)
    third = requested(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter), book)
    assert third.max_wait == 600  # the expiries ahead of it are past


def test_settle__unfinished_latest_round__void_a_day_past_expiry_at_the_round_before(
    order_seeded, order_pool, book, minter, keeper, owner, feed, collateral, chain, deadline
):
    """A latest round that never finishes (updatedAt 0) cannot be read, so it proves
    nothing for a while, like a feed that fails; it must not hold the queue for good."""
    cash = collateral.balanceOf(minter)
    order = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    before = latest_round_id(feed)
    feed.set_round(before + 1, 1_900 * 10**8, 0, 0, sender=owner, gas=200_000)
    chain.mine(timestamp=order.expires_at + 1)
    assert settlement_batch(book, feed, chain.pending_timestamp) == ([], [])
    for named in (order.phase << 64, before, before + 1):
        with ape.reverts("orders: order not due"):
            book.settle([order.as_struct()], [named], sender=keeper)

    chain.mine(timestamp=order.expires_at + DEAD_FEED_GRACE + 1)
    [log] = settled(settle_orders(book, feed, keeper, chain), order_pool)

    assert (log.outcome, log.round_id, log.refunded) == (OUTCOME_VOID, before, order.amount)
    assert collateral.balanceOf(minter) == cash
