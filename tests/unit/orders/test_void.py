"""Void orders: no round by T + max_wait, an invalid round, and rounds that are not
the order's (a held transmission, a new phase). Void is a full refund, settle fee
included, through the ordinary `settle`."""

import ape
import pytest

from inverse.constants import OUTCOME_FILLED, OUTCOME_VOID
from inverse.orders import settlement_batch
from tests.conftest import INITIAL_PRICE, publish_round, settle_orders

from .conftest import USDC, latest_round_id, requested, round_data, settled, wad

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
    assert order.expires_at == order.not_before + order_pool.max_wait()
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


def test_settle__new_phase_after_request__its_rounds_do_not_price_order_then_void(
    order_seeded, order_pool, book, minter, keeper, owner, feed, collateral, chain, deadline
):
    cash = collateral.balanceOf(minter)
    order = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    old_last = latest_round_id(feed)
    chain.mine(timestamp=order.not_before + 5)
    feed.new_phase(1_900 * 10**8, sender=owner)
    assert latest_round_id(feed) >> 64 == 2 and order.phase == 1

    with ape.reverts("oracle: round not in the order's phase"):
        book.settle([order.as_struct()], [latest_round_id(feed)], sender=keeper)
    assert settlement_batch(book, feed, chain.pending_timestamp) == ([], [])

    chain.mine(timestamp=order.expires_at + 1)
    [log] = settled(settle_orders(book, feed, keeper, chain), order_pool)
    assert (log.outcome, log.round_id, log.refunded) == (OUTCOME_VOID, old_last, order.amount)
    assert collateral.balanceOf(minter) == cash


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
