"""The reason for the whole design. On the v1 instant pool a trader who sees a
Chainlink update coming (the off-chain price leads it by up to the 0.5% deviation
threshold) mints before a fall and redeems after it, and an LP deposits before a
rise and withdraws after it. With orders, a request is priced at the first round
after its T: an update published before T does not price it, one published after
T is its round, so the round trip happens at the post-update price and the
attacker pays the fees for nothing. Profit is measured in collateral, all fees
(trade fees, settle fees) included; the attacker ends holding nothing else."""

import ape
import pytest

from inverse.constants import OUTCOME_FILLED, WAD
from inverse.orders import settlement_batch
from tests.conftest import INITIAL_PRICE, fund, publish_round, settle_orders

from .conftest import (
    USDC,
    VALUE_SCALE,
    later,
    latest_round_id,
    market_at,
    queue_parameters,
    requested,
    round_data,
    settled,
    wad,
)

SETTLE_FEE = USDC // 10
FALL = INITIAL_PRICE * 995 // 1_000  # ETH -0.5%: NAV of a -1x token +0.5%
RISE = INITIAL_PRICE * 1_005 // 1_000  # ETH +0.5%: LPs gain what holders lose


def _visible_update(order, when, feed, owner, keeper, book, chain, answer):
    """The update everyone saw coming lands before or after the order's T; then the
    order settles at its round. Returns the update's round id and the fill's log."""
    if when == "before_T":
        chain.mine(timestamp=order.requested_at + 30)
    else:
        chain.mine(timestamp=order.not_before + 30)
    feed.set_answer(answer, sender=owner)
    update = latest_round_id(feed)
    if when == "before_T":
        assert round_data(feed, update)[2] < order.not_before
        assert settlement_batch(book, feed, chain.pending_timestamp) == ([], [])  # the update does not price it
        publish_round(feed, owner, chain, answer, after=order.not_before)  # the next round (heartbeat)
    receipt = settle_orders(book, feed, keeper, chain)
    [log] = [log for log in settled(receipt, _pool(book)) if log.order_id == order.id]
    return update, log


def _pool(book):
    from ape import project

    return project.InversePool.at(book.pool())


@pytest.mark.parametrize("when", ["before_T", "after_T"])
def test_mint_then_redeem__around_visible_fall__attacker_profit_not_positive(
    when,
    order_seeded,
    order_pool,
    book,
    stranger_funded,
    keeper,
    owner,
    feed,
    collateral,
    chain,
    order_lp_token,
    deadline,
):
    attacker = stranger_funded
    assets = 50_000 * USDC
    cash = collateral.balanceOf(attacker)
    mint = requested(book.request_mint(assets, 0, attacker, deadline, sender=attacker), book)
    nav_at_request = market_at(order_pool, order_lp_token, wad(INITIAL_PRICE), mint.requested_at).nav

    update, fill = _visible_update(mint, when, feed, owner, keeper, book, chain, FALL)

    assert fill.outcome == OUTCOME_FILLED and fill.price == wad(FALL)  # priced after the fall, not before it
    assert (fill.round_id == update) == (when == "after_T")
    shares = order_pool.balanceOf(attacker)
    assert shares == fill.out
    redeem = requested(book.request_redeem(shares, 0, attacker, later(chain), sender=attacker), book)
    publish_round(feed, owner, chain, FALL, after=redeem.not_before)
    [out] = settled(settle_orders(book, feed, keeper, chain), order_pool)
    assert out.outcome == OUTCOME_FILLED and out.price == wad(FALL)

    profit = collateral.balanceOf(attacker) - cash
    assert order_pool.balanceOf(attacker) == 0
    assert profit <= 0
    # All it did was pay the fees: 0.1% in, 0.1% out and two settle fees (a wei of rounding aside).
    assert -profit <= assets * 21 // 10_000 + 2 * SETTLE_FEE
    # Filled at the price at the request, as the instant pool would, the same round trip gains.
    instant_shares = (assets - assets // 1_000) * VALUE_SCALE // nav_at_request
    gross = instant_shares * out.nav // VALUE_SCALE
    instant_profit = gross - (gross + 999) // 1_000 - assets - 2 * SETTLE_FEE
    assert instant_profit > assets * 25 // 10_000  # about +0.3%: what the order flow takes away


@pytest.mark.parametrize("when", ["before_T", "after_T"])
def test_lp_deposit_then_withdraw__around_visible_rise__attacker_profit_not_positive(
    when,
    order_seeded,
    order_pool,
    lens,
    book,
    stranger_funded,
    keeper,
    owner,
    feed,
    collateral,
    chain,
    order_lp_token,
    deadline,
):
    attacker = stranger_funded
    assets = 100_000 * USDC
    cash = collateral.balanceOf(attacker)
    deposit = requested(book.request_lp_deposit(assets, 0, attacker, deadline, sender=attacker), book)
    lp_value_before = lens.lp_value()

    update, fill = _visible_update(deposit, when, feed, owner, keeper, book, chain, RISE)

    assert fill.outcome == OUTCOME_FILLED and fill.price == wad(RISE)
    assert (fill.round_id == update) == (when == "after_T")
    lp_shares = order_lp_token.balanceOf(attacker)
    withdraw = requested(book.request_lp_withdraw(lp_shares, 0, attacker, later(chain), sender=attacker), book)
    publish_round(feed, owner, chain, RISE, after=withdraw.not_before)
    [out] = settled(settle_orders(book, feed, keeper, chain), order_pool)
    assert out.outcome == OUTCOME_FILLED and out.filled == lp_shares and out.price == wad(RISE)

    profit = collateral.balanceOf(attacker) - cash
    assert order_lp_token.balanceOf(attacker) == 0
    assert profit <= 0
    assert -profit <= 2 * SETTLE_FEE
    # The other LPs kept the gain of the rise: about 0.5% of the 10,000 USDC of inverse value.
    assert lens.lp_value() - lp_value_before > 45 * USDC


def test_redeem__before_visible_rise__priced_after_it_no_loss_avoided(
    order_seeded, order_pool, book, minter, keeper, owner, feed, collateral, chain, order_lp_token, deadline
):
    shares = order_pool.balanceOf(minter)
    redeem = requested(book.request_redeem(shares, 0, minter, deadline, sender=minter), book)
    nav_at_request = market_at(order_pool, order_lp_token, wad(INITIAL_PRICE), redeem.requested_at).nav

    update, log = _visible_update(redeem, "before_T", feed, owner, keeper, book, chain, RISE)

    assert log.price == wad(RISE) and log.round_id == update + 1
    assert log.nav < nav_at_request * 9_951 // 10_000  # the holder bears the -0.5%


@pytest.mark.parametrize(
    "change",
    [{"management_fee": 0}, {"mint_fee": 0, "redeem_fee": 0, "settle_fee": 0}, {"min_backing": WAD // 10}],
    ids=["management_fee_cut", "fees_cut", "backing_cut"],
)
def test_round_trip__across_the_rebalance_that_applies_a_queued_change__attacker_profit_not_positive(
    change, order_seeded, order_pool, book, stranger_funded, keeper, owner, feed, collateral, chain
):
    """A queued parameter change is public for days and applies at a rebalance
    anyone can see coming. A trader who mints on the old terms just before it and
    redeems on the new ones just after gains nothing: the NAV does not jump when
    the change applies (the management fee is booked to the round first), and the
    mint keeps the fees it was requested with."""
    attacker = stranger_funded
    ready_at = queue_parameters(order_pool, owner, **change).timestamp + order_pool.parameter_delay()
    publish_round(feed, owner, chain, after=ready_at - 600)
    cash = collateral.balanceOf(attacker)
    mint = requested(book.request_mint(50_000 * USDC, 0, attacker, ready_at + 3_600, sender=attacker), book)
    publish_round(feed, owner, chain, after=mint.not_before)
    [fill] = settled(settle_orders(book, feed, keeper, chain), order_pool)
    assert fill.outcome == OUTCOME_FILLED and fill.settle_fee == SETTLE_FEE  # on the old terms

    publish_round(feed, owner, chain, after=ready_at)
    assert order_pool.rebalance(sender=keeper).events.filter(order_pool.ParametersUpdated)
    shares = order_pool.balanceOf(attacker)
    redeem = requested(book.request_redeem(shares, 0, attacker, later(chain), sender=attacker), book)
    publish_round(feed, owner, chain, after=redeem.not_before)
    [out] = settled(settle_orders(book, feed, keeper, chain), order_pool)

    assert out.outcome == OUTCOME_FILLED and order_pool.balanceOf(attacker) == 0
    profit = collateral.balanceOf(attacker) - cash
    assert profit < 0  # the fees in force when each order was requested, and the management fee meanwhile


def test_lp_deposit__ahead_of_a_visible_large_mint_in_its_round__attacker_profit_not_positive(
    order_seeded, order_pool, book, stranger_funded, minter, keeper, owner, feed, collateral, chain, deadline
):
    """A large mint waits in the mempool; the attacker's LP deposit lands ahead of
    it in the same round and withdraws at the next round, at the same price. When
    the deposit settled first its shares took two thirds of the mint fee: +13.13
    USDC on a 20,000 mint with 200,000 deposited beside 100,000 of incumbent
    liquidity. The book now holds the deposit until the round's other orders have
    settled: the fee is the incumbents', and the attacker pays two settle fees."""
    attacker = stranger_funded
    fund(collateral, minter, book, 100_000 * USDC)
    cash = collateral.balanceOf(attacker)
    deposit = requested(book.request_lp_deposit(200_000 * USDC, 0, attacker, deadline, sender=attacker), book)
    mint = requested(book.request_mint(20_000 * USDC, 0, minter, deadline, sender=minter), book)
    publish_round(feed, owner, chain, after=mint.not_before)
    fills = settled(settle_orders(book, feed, keeper, chain), order_pool)
    assert [f.order_id for f in fills] == [mint.id, deposit.id] and fills[0].outcome == OUTCOME_FILLED
    assert fills[0].round_id == fills[1].round_id  # one round prices both
    lp_token = ape.project.LpToken.at(order_pool.lp_token())
    withdraw = requested(
        book.request_lp_withdraw(lp_token.balanceOf(attacker), 0, attacker, later(chain), sender=attacker), book
    )
    publish_round(feed, owner, chain, after=withdraw.not_before)
    settle_orders(book, feed, keeper, chain)

    profit = collateral.balanceOf(attacker) - cash
    assert lp_token.balanceOf(attacker) == 0
    assert profit <= 0, f"the attacker made {profit / USDC:.2f} USDC"
    assert -profit <= 2 * SETTLE_FEE + 1  # its settle fees, a unit of rounding aside
