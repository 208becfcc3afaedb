"""Settlement: every order is filled at the NAV of its round (the first round after
its T), whoever settles it and whenever; slippage, backing and competing settlers."""

import ape
import pytest

from inverse.constants import (
    ORDER_SETTLED,
    OUTCOME_FILLED,
    OUTCOME_PARTIAL,
    OUTCOME_REFUNDED,
    WAD,
)
from inverse.model import ceil_div
from inverse.orders import settlement_batch
from tests.conftest import INITIAL_PRICE, publish_round, settle_orders

from .conftest import (
    LP_VIRTUAL_SHARES,
    USDC,
    VALUE_SCALE,
    latest_round_id,
    market_at,
    requested,
    round_data,
    set_parameters,
    settled,
    wad,
)

SETTLE_FEE = USDC // 10
ZERO = "0x" + "00" * 20


def _publish_after(order, feed, owner, chain, answer):
    """Publishes `answer` as the first round at or after the order's T; returns (round id, updatedAt)."""
    publish_round(feed, owner, chain, answer, after=order.not_before)
    round_id = latest_round_id(feed)
    return round_id, round_data(feed, round_id)[2]


# ---------------------------------------------------------------- fills


def test_settle_mint__feed_moves_after_request__fills_at_its_round_nav(
    order_seeded, order_pool, book, minter, redeemer, keeper, owner, feed, collateral, chain, order_lp_token, deadline
):
    assets = 1_000 * USDC
    order = requested(book.request_mint(assets, 0, redeemer, deadline, sender=minter), book)
    feed.set_answer(1_900 * 10**8, sender=owner)  # before T: does not price it
    early = latest_round_id(feed)
    assert round_data(feed, early)[2] < order.not_before
    round_id, at = _publish_after(order, feed, owner, chain, 1_980 * 10**8)
    m = market_at(order_pool, order_lp_token, wad(1_980 * 10**8), at)
    fee = assets // 1_000
    shares = (assets - fee) * VALUE_SCALE // m.nav
    at_request = market_at(order_pool, order_lp_token, wad(INITIAL_PRICE), at)
    assert shares != (assets - fee) * VALUE_SCALE // at_request.nav
    assert WAD * 1_009 // 1_000 < m.nav < WAD * 101 // 100  # ETH -1%: NAV +1%, less the fee accrued
    keeper_cash, pool_cash = collateral.balanceOf(keeper), collateral.balanceOf(order_pool)
    total_assets, supply = order_pool.total_assets(), order_pool.totalSupply()

    receipt = settle_orders(book, feed, keeper, chain)

    [log] = settled(receipt, order_pool)
    assert (log.order_id, log.settler, log.outcome) == (3, keeper.address, OUTCOME_FILLED)
    assert (log.round_id, log.price, log.nav) == (round_id, wad(1_980 * 10**8), m.nav)
    assert (log.filled, log.out, log.refunded, log.settle_fee) == (assets, shares, 0, SETTLE_FEE)
    assert receipt.events.filter(order_pool.Mint) == [
        order_pool.Mint(sender=minter, receiver=redeemer, assets=assets, shares=shares, fee=fee, nav=m.nav)
    ]
    assert order_pool.balanceOf(redeemer) == shares
    assert order_pool.totalSupply() == supply + shares
    assert order_pool.total_assets() == total_assets + assets
    assert collateral.balanceOf(keeper) == keeper_cash + SETTLE_FEE
    assert collateral.balanceOf(order_pool) == pool_cash - SETTLE_FEE
    assert book.escrowed() == 0 and book.pending_orders() == 0
    assert book.order(3).status == ORDER_SETTLED


def test_settle_redeem__feed_moves__pays_round_value_less_redeem_and_settle_fee(
    order_seeded, order_pool, book, minter, redeemer, keeper, owner, feed, collateral, chain, order_lp_token, deadline
):
    shares = order_pool.balanceOf(minter) // 2
    order = requested(book.request_redeem(shares, 0, redeemer, deadline, sender=minter), book)
    round_id, at = _publish_after(order, feed, owner, chain, 2_050 * 10**8)
    m = market_at(order_pool, order_lp_token, wad(2_050 * 10**8), at)
    net, fee = m.redeem(shares, order_pool.parameters().redeem_fee)
    assert fee == (shares * m.nav // VALUE_SCALE + 999) // 1_000
    cash, keeper_cash = collateral.balanceOf(redeemer), collateral.balanceOf(keeper)
    total_assets, supply = order_pool.total_assets(), order_pool.totalSupply()

    receipt = settle_orders(book, feed, keeper, chain)

    [log] = settled(receipt, order_pool)
    assert (log.order_id, log.outcome, log.round_id, log.price, log.nav) == (
        3,
        OUTCOME_FILLED,
        round_id,
        wad(2_050 * 10**8),
        m.nav,
    )
    assert (log.filled, log.out, log.refunded, log.settle_fee) == (shares, net - SETTLE_FEE, 0, SETTLE_FEE)
    assert receipt.events.filter(order_pool.Redeem) == [
        order_pool.Redeem(sender=minter, receiver=redeemer, shares=shares, assets=net - SETTLE_FEE, fee=fee, nav=m.nav)
    ]
    assert collateral.balanceOf(redeemer) == cash + net - SETTLE_FEE
    assert collateral.balanceOf(keeper) == keeper_cash + SETTLE_FEE
    assert order_pool.totalSupply() == supply - shares
    assert order_pool.balanceOf(order_pool) == 0
    assert order_pool.total_assets() == total_assets - net


def test_settle_lp_deposit__feed_moves__mints_shares_at_round_lp_value(
    order_seeded, order_pool, book, lp, redeemer, keeper, owner, feed, collateral, chain, order_lp_token, deadline
):
    assets = 20_000 * USDC
    order = requested(book.request_lp_deposit(assets, 0, redeemer, deadline, sender=lp), book)
    round_id, at = _publish_after(order, feed, owner, chain, 2_040 * 10**8)
    m = market_at(order_pool, order_lp_token, wad(2_040 * 10**8), at)
    lp_shares = m.lp_deposit(assets)
    assert lp_shares == assets * (m.lp_supply + 10**12) // (m.lp_value + 1)
    keeper_cash, total_assets = collateral.balanceOf(keeper), order_pool.total_assets()

    receipt = settle_orders(book, feed, keeper, chain)

    [log] = settled(receipt, order_pool)
    assert (log.order_id, log.outcome, log.round_id, log.nav) == (3, OUTCOME_FILLED, round_id, m.nav)
    assert (log.filled, log.out, log.refunded, log.settle_fee) == (assets, lp_shares, 0, SETTLE_FEE)
    assert receipt.events.filter(order_pool.LpDeposit) == [
        order_pool.LpDeposit(sender=lp, receiver=redeemer, assets=assets, lp_shares=lp_shares)
    ]
    assert order_lp_token.balanceOf(redeemer) == lp_shares
    assert order_pool.total_assets() == total_assets + assets
    assert collateral.balanceOf(keeper) == keeper_cash + SETTLE_FEE
    assert book.escrowed() == 0


def test_settle_lp_withdraw__feed_moves__pays_round_lp_value_less_settle_fee(
    order_seeded, order_pool, book, lp, redeemer, keeper, owner, feed, collateral, chain, order_lp_token, deadline
):
    lp_shares = order_lp_token.balanceOf(lp) // 10
    order = requested(book.request_lp_withdraw(lp_shares, 0, redeemer, deadline, sender=lp), book)
    round_id, at = _publish_after(order, feed, owner, chain, 1_960 * 10**8)
    m = market_at(order_pool, order_lp_token, wad(1_960 * 10**8), at)
    assets = m.lp_withdraw(lp_shares)
    assert 9_000 * USDC < assets < 10_100 * USDC
    cash, keeper_cash = collateral.balanceOf(redeemer), collateral.balanceOf(keeper)
    total_assets, lp_supply = order_pool.total_assets(), order_lp_token.totalSupply()

    receipt = settle_orders(book, feed, keeper, chain)

    [log] = settled(receipt, order_pool)
    assert (log.order_id, log.outcome, log.round_id, log.nav) == (3, OUTCOME_FILLED, round_id, m.nav)
    assert (log.filled, log.out, log.refunded, log.settle_fee) == (lp_shares, assets - SETTLE_FEE, 0, SETTLE_FEE)
    assert receipt.events.filter(order_pool.LpWithdraw) == [
        order_pool.LpWithdraw(sender=lp, receiver=redeemer, lp_shares=lp_shares, assets=assets - SETTLE_FEE)
    ]
    assert collateral.balanceOf(redeemer) == cash + assets - SETTLE_FEE
    assert collateral.balanceOf(keeper) == keeper_cash + SETTLE_FEE
    assert order_lp_token.totalSupply() == lp_supply - lp_shares
    assert order_lp_token.balanceOf(order_pool) == 0
    assert order_pool.total_assets() == total_assets - assets


# ---------------------------------------------------------------- slippage and backing


def test_settle_mint__slippage_broken_at_round__refunds_and_settler_keeps_fee(
    lens, order_seeded, order_pool, book, minter, keeper, owner, feed, collateral, chain, deadline
):
    assets = 1_000 * USDC
    min_shares = lens.preview_mint(assets)  # at 2,000
    cash, keeper_cash = collateral.balanceOf(minter), collateral.balanceOf(keeper)
    total_assets, supply = order_pool.total_assets(), order_pool.totalSupply()
    order = requested(book.request_mint(assets, min_shares, minter, deadline, sender=minter), book)
    round_id, _ = _publish_after(order, feed, owner, chain, 1_900 * 10**8)  # NAV +5%: fewer tokens

    receipt = settle_orders(book, feed, keeper, chain)

    [log] = settled(receipt, order_pool)
    assert (log.order_id, log.outcome, log.round_id, log.price) == (3, OUTCOME_REFUNDED, round_id, wad(1_900 * 10**8))
    assert (log.filled, log.out, log.refunded, log.settle_fee) == (0, 0, assets, SETTLE_FEE)
    assert not receipt.events.filter(order_pool.Mint)
    assert collateral.balanceOf(minter) == cash - SETTLE_FEE
    assert collateral.balanceOf(keeper) == keeper_cash + SETTLE_FEE
    assert order_pool.total_assets() == total_assets and order_pool.totalSupply() == supply
    assert book.escrowed() == 0


def test_settle_mint__slippage_kept_at_round__fills(
    lens, order_seeded, order_pool, book, minter, keeper, owner, feed, chain, deadline
):
    assets = 1_000 * USDC
    min_shares = lens.preview_mint(assets) * 99 // 100
    order = requested(book.request_mint(assets, min_shares, minter, deadline, sender=minter), book)
    _publish_after(order, feed, owner, chain, 1_990 * 10**8)  # NAV +0.5%: inside the 1% bound

    [log] = settled(settle_orders(book, feed, keeper, chain), order_pool)

    assert log.outcome == OUTCOME_FILLED and log.out >= min_shares


def test_settle_redeem__slippage_broken_at_round__refunds_tokens_less_those_paying_the_settler(
    lens, order_seeded, order_pool, book, minter, keeper, owner, feed, collateral, chain, order_lp_token, deadline
):
    shares = order_pool.balanceOf(minter)
    min_assets = lens.preview_redeem(shares)  # at 2,000
    cash, keeper_cash = collateral.balanceOf(minter), collateral.balanceOf(keeper)
    order = requested(book.request_redeem(shares, min_assets, minter, deadline, sender=minter), book)
    _, at = _publish_after(order, feed, owner, chain, 2_100 * 10**8)  # NAV -5%
    m = market_at(order_pool, order_lp_token, wad(2_100 * 10**8), at)
    # The settler is paid in tokens worth the fee at the round's NAV, rounded up.
    fee_shares = ceil_div(SETTLE_FEE * VALUE_SCALE, m.nav)
    total_assets, supply = order_pool.total_assets(), order_pool.totalSupply()

    [log] = settled(settle_orders(book, feed, keeper, chain), order_pool)

    assert (log.outcome, log.filled, log.out) == (OUTCOME_REFUNDED, 0, 0)
    assert (log.refunded, log.settle_fee) == (shares - fee_shares, SETTLE_FEE)
    assert order_pool.balanceOf(minter) == shares - fee_shares and order_pool.balanceOf(order_pool) == 0
    assert order_pool.totalSupply() == supply - fee_shares
    assert collateral.balanceOf(minter) == cash and collateral.balanceOf(keeper) == keeper_cash + SETTLE_FEE
    assert order_pool.total_assets() == total_assets - SETTLE_FEE


def test_settle_lp_withdraw__slippage_broken_at_round__refunds_shares_less_those_paying_the_settler(
    lens, order_seeded, order_pool, book, lp, keeper, owner, feed, collateral, chain, order_lp_token, deadline
):
    lp_shares = order_lp_token.balanceOf(lp) // 10
    min_assets = lens.preview_lp_withdraw(lp_shares)  # at 2,000
    keeper_cash = collateral.balanceOf(keeper)
    order = requested(book.request_lp_withdraw(lp_shares, min_assets, lp, deadline, sender=lp), book)
    _, at = _publish_after(order, feed, owner, chain, 1_900 * 10**8)  # LP value falls
    m = market_at(order_pool, order_lp_token, wad(1_900 * 10**8), at)
    fee_lp_shares = ceil_div(SETTLE_FEE * (m.lp_supply + LP_VIRTUAL_SHARES), m.lp_value + 1)
    total_assets, lp_supply = order_pool.total_assets(), order_lp_token.totalSupply()

    [log] = settled(settle_orders(book, feed, keeper, chain), order_pool)

    assert (log.outcome, log.filled, log.out) == (OUTCOME_REFUNDED, 0, 0)
    assert (log.refunded, log.settle_fee) == (lp_shares - fee_lp_shares, SETTLE_FEE)
    assert order_lp_token.balanceOf(lp) == m.lp_supply - fee_lp_shares and order_lp_token.balanceOf(order_pool) == 0
    assert order_lp_token.totalSupply() == lp_supply - fee_lp_shares
    assert collateral.balanceOf(keeper) == keeper_cash + SETTLE_FEE
    assert order_pool.total_assets() == total_assets - SETTLE_FEE


def test_settle_mint__above_backing__fills_what_fits_and_refunds_rest(
    lens, order_seeded, order_pool, book, minter, keeper, owner, feed, collateral, chain, order_lp_token, deadline
):
    capacity_now = lens.max_mint()
    assets = 300_000 * USDC
    assert capacity_now < assets
    cash = collateral.balanceOf(minter)
    order = requested(book.request_mint(assets, 0, minter, deadline, sender=minter), book)
    round_id, at = _publish_after(order, feed, owner, chain, INITIAL_PRICE)
    m = market_at(order_pool, order_lp_token, wad(INITIAL_PRICE), at)
    filled, fee, shares = m.mint(assets, order_pool.parameters().mint_fee)
    assert 0 < filled < assets
    tokens_before = order_pool.balanceOf(minter)

    receipt = settle_orders(book, feed, keeper, chain)

    [log] = settled(receipt, order_pool)
    assert (log.outcome, log.filled, log.out, log.refunded, log.settle_fee) == (
        OUTCOME_PARTIAL,
        filled,
        shares,
        assets - filled,
        SETTLE_FEE,
    )
    assert receipt.events.filter(order_pool.Mint)[0].assets == filled
    assert collateral.balanceOf(minter) == cash - filled - SETTLE_FEE
    assert order_pool.balanceOf(minter) == tokens_before + shares
    assert book.escrowed() == 0
    after = market_at(order_pool, order_lp_token, wad(INITIAL_PRICE), at)
    assert (
        after.lp_value * WAD >= order_pool.parameters().min_backing * after.inverse
    )  # the backing rule holds at the round
    assert (
        after.lp_value * WAD < order_pool.parameters().min_backing * after.inverse * 1_0001 // 1_0000
    )  # and is used up


@pytest.mark.parametrize("short", [False, True])
def test_settle_mint__partial_fill__slippage_bound_scaled_to_the_fill_rounded_up(
    short, order_seeded, order_pool, book, minter, keeper, owner, feed, chain, order_lp_token
):
    """A partly filled order keeps its price bound: min_out scaled by filled / amount,
    rounded up. A bound whose scaled value lies strictly between the shares the fill
    gives and one more is broken (refunded); one a share lower holds (filled)."""
    set_parameters(order_pool, owner, management_fee=0)  # the fill is known before the round
    assets = 300_000 * USDC
    m = market_at(order_pool, order_lp_token, wad(INITIAL_PRICE), chain.pending_timestamp)
    filled, _, shares = m.mint(assets, order_pool.parameters().mint_fee)
    assert 0 < filled < assets
    # shares < bound * filled / assets < shares + 1 (as filled < assets); rounded up, shares + 1.
    bound = shares * assets // filled + (0 if short else 1)
    assert (bound * filled) % assets != 0
    order = requested(book.request_mint(assets, bound, minter, chain.pending_timestamp + 3_600, sender=minter), book)
    _publish_after(order, feed, owner, chain, INITIAL_PRICE)

    [log] = settled(settle_orders(book, feed, keeper, chain), order_pool)

    assert (log.outcome, log.out) == ((OUTCOME_PARTIAL, shares) if short else (OUTCOME_REFUNDED, 0))


# ---------------------------------------------------------------- which round, and who settles


def test_settle__round_not_out__reverts_order_not_due(
    order_seeded, order_pool, book, minter, keeper, owner, feed, chain, deadline
):
    order = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    feed.set_answer(1_990 * 10**8, sender=owner)  # before T
    before_t = latest_round_id(feed)

    assert settlement_batch(book, feed, chain.pending_timestamp) == ([], [])
    with ape.reverts("orders: order not due"):
        book.settle([order.as_struct()], [before_t], sender=keeper)
    with ape.reverts("orders: order not due"):
        book.settle([order.as_struct()], [before_t + 1], sender=keeper)  # not published yet
    assert book.pending_orders() == 1


def test_settle__same_batch_twice__second_settler_skips_and_gets_nothing(
    order_seeded,
    order_pool,
    book,
    minter,
    lp,
    keeper,
    stranger,
    owner,
    feed,
    collateral,
    chain,
    order_lp_token,
    deadline,
):
    book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter)
    last = requested(book.request_lp_withdraw(order_lp_token.balanceOf(lp) // 10, 0, lp, deadline, sender=lp), book)
    _publish_after(last, feed, owner, chain, INITIAL_PRICE)
    batch, round_ids = settlement_batch(book, feed, chain.pending_timestamp)
    assert len(batch) == 2

    first = book.settle(batch[:1], round_ids[:1], sender=stranger)  # a competing settler takes the first
    assert first.return_value == 1
    keeper_cash = collateral.balanceOf(keeper)
    second = book.settle(batch, round_ids, sender=keeper)
    assert second.return_value == 1
    assert [log.order_id for log in settled(second, order_pool)] == [4]
    assert collateral.balanceOf(keeper) == keeper_cash + SETTLE_FEE  # only the order it settled

    again = book.settle(batch, round_ids, sender=keeper)
    assert again.return_value == 0
    assert not settled(again, order_pool)
    assert collateral.balanceOf(keeper) == keeper_cash + SETTLE_FEE
    assert collateral.balanceOf(stranger) == SETTLE_FEE


def test_settle__an_order_named_twice__settles_once(
    order_seeded, order_pool, book, minter, keeper, owner, feed, collateral, chain, deadline
):
    first = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    _publish_after(first, feed, owner, chain, INITIAL_PRICE)
    batch, round_ids = settlement_batch(book, feed, chain.pending_timestamp)
    keeper_cash = collateral.balanceOf(keeper)

    receipt = book.settle(batch * 2, round_ids * 2, sender=keeper)

    assert receipt.return_value == 1
    assert [log.order_id for log in settled(receipt, order_pool)] == [first.id]
    assert collateral.balanceOf(keeper) == keeper_cash + SETTLE_FEE


def test_settle__later_round_whose_predecessor_qualifies__reverts_not_the_orders_round(
    order_seeded, order_pool, book, minter, keeper, owner, feed, chain, deadline
):
    order = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    its_round, _ = _publish_after(order, feed, owner, chain, 1_990 * 10**8)
    publish_round(feed, owner, chain, 1_900 * 10**8)  # a better price for a minter, one round later
    later_round = latest_round_id(feed)

    with ape.reverts("oracle: not the order's round"):
        book.settle([order.as_struct()], [later_round], sender=keeper)
    [log] = settled(book.settle([order.as_struct()], [its_round], sender=keeper), order_pool)
    assert (log.round_id, log.price) == (its_round, wad(1_990 * 10**8))


def test_settle__orders_out_of_queue_order_or_altered__revert(
    order_seeded, order_pool, book, minter, keeper, owner, feed, chain, deadline
):
    first = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    second = requested(book.request_mint(2_000 * USDC, 0, minter, deadline, sender=minter), book)
    round_id, _ = _publish_after(second, feed, owner, chain, INITIAL_PRICE)

    with ape.reverts("orders: not the next order"):
        book.settle([second.as_struct()], [round_id], sender=keeper)
    bigger = list(first.as_struct())
    bigger[4] = 100_000 * USDC  # amount
    with ape.reverts("orders: unknown order"):
        book.settle([tuple(bigger)], [round_id], sender=keeper)
    with ape.reverts("orders: lengths differ"):
        book.settle([first.as_struct()], [], sender=keeper)
    assert book.pending_orders() == 2


def test_settle__two_settlers_at_different_times__same_amounts(
    order_seeded,
    order_pool,
    book,
    minter,
    lp,
    redeemer,
    keeper,
    stranger,
    owner,
    feed,
    collateral,
    chain,
    order_lp_token,
    deadline,
):
    book.request_mint(3_000 * USDC, 0, redeemer, deadline, sender=minter)
    book.request_redeem(order_pool.balanceOf(minter) // 3, 0, redeemer, deadline, sender=minter)
    book.request_lp_deposit(5_000 * USDC, 0, redeemer, deadline, sender=lp)
    last = requested(
        book.request_lp_withdraw(order_lp_token.balanceOf(lp) // 5, 0, redeemer, deadline, sender=lp), book
    )
    round_id, _ = _publish_after(last, feed, owner, chain, 1_985 * 10**8)

    def outcome(settler):
        settler_cash = collateral.balanceOf(settler)
        receipt = settle_orders(book, feed, settler, chain)
        logs = [
            (
                log.order_id,
                log.outcome,
                log.round_id,
                log.price,
                log.nav,
                log.filled,
                log.out,
                log.refunded,
                log.settle_fee,
            )
            for log in settled(receipt, order_pool)
        ]
        views = (
            order_pool.balanceOf(redeemer),
            order_lp_token.balanceOf(redeemer),
            collateral.balanceOf(redeemer),
            collateral.balanceOf(minter),
            collateral.balanceOf(lp),
            order_pool.total_assets(),
            order_pool.totalSupply(),
            order_lp_token.totalSupply(),
            book.escrowed(),
        )
        return logs, views, collateral.balanceOf(settler) - settler_cash

    snapshot = chain.snapshot()
    now_logs, now_views, now_fees = outcome(keeper)  # at once
    chain.restore(snapshot)
    for answer in (2_100 * 10**8, 1_800 * 10**8, 2_300 * 10**8):  # an hour of later rounds
        publish_round(feed, owner, chain, answer, after=chain.pending_timestamp + 1_200)
    later_logs, later_views, later_fees = outcome(stranger)

    assert len(now_logs) == 4 and {log[2] for log in now_logs} == {round_id}
    assert later_logs == now_logs
    assert later_views == now_views
    assert later_fees == now_fees == 4 * SETTLE_FEE


def test_claim__nothing_credited__reverts(order_seeded, order_pool, minter):
    # Crediting `claimable` needs a collateral that refuses a receiver; MockCollateral cannot.
    assert order_pool.claimable(minter) == 0
    with ape.reverts("pool: nothing to claim"):
        order_pool.claim(sender=minter)


def test_settle__any_batch__pool_holds_assets_escrow_and_claims(
    order_seeded, order_pool, book, minter, lp, collateral, deadline, settle
):
    book.request_mint(5_000 * USDC, 0, minter, deadline, sender=minter)
    book.request_lp_deposit(7_000 * USDC, 0, lp, deadline, sender=lp)
    held = order_pool.total_assets() + book.escrowed() + order_pool.total_claimable()
    assert collateral.balanceOf(order_pool) >= held
    settle(answer=1_970 * 10**8)
    assert book.escrowed() == 0
    assert collateral.balanceOf(order_pool) >= order_pool.total_assets() + order_pool.total_claimable()
