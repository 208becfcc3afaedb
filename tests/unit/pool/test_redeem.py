"""Redeem orders as the pool books them: the whole supply, `preview_redeem` against
the fill, a zero NAV, tokens received by transfer, and exits that stay open with a
stale oracle. Request checks, the fill at the round's NAV and slippage refunds are
in `tests/unit/orders/`."""

import ape
import pytest

from inverse.constants import OUTCOME_FILLED, OUTCOME_REFUNDED
from inverse.model import ceil_div
from tests.conftest import INITIAL_PRICE, publish_round

from ..orders.conftest import (
    LP_VIRTUAL_SHARES,
    USDC,
    VALUE_SCALE,
    later,
    latest_round_id,
    requested,
    set_parameters,
    settled,
)

SETTLE_FEE = USDC // 10


def test_redeem__whole_supply__burns_it_and_pays_nav_less_fees(
    order_seeded, order_pool, lens, book, minter, keeper, collateral, deadline, settle
):
    shares = order_pool.balanceOf(minter)
    assert shares == order_pool.totalSupply()
    cash, assets_before = collateral.balanceOf(minter), order_pool.total_assets()
    book.request_redeem(shares, 0, minter, deadline, sender=minter)

    receipt = settle()

    [log] = settled(receipt, order_pool)
    gross = shares * log.nav // VALUE_SCALE
    fee = -(-gross // 1_000)
    assert (log.outcome, log.filled, log.out, log.settle_fee) == (
        OUTCOME_FILLED,
        shares,
        gross - fee - SETTLE_FEE,
        SETTLE_FEE,
    )
    assert collateral.balanceOf(minter) == cash + gross - fee - SETTLE_FEE
    assert order_pool.totalSupply() == order_pool.balanceOf(order_pool) == 0
    assert order_pool.total_assets() == assets_before - gross + fee  # the fee stays with LPs
    assert lens.inverse_value() == 0 and lens.lp_value() == order_pool.total_assets()
    [burn] = receipt.events.filter(order_pool.Transfer)
    assert (burn.sender, burn.receiver, burn.value) == (order_pool.address, "0x" + "00" * 20, shares)


def test_redeem__preview_at_round_price__equals_the_fill(
    lens, order_seeded, order_pool, book, minter, keeper, owner, feed, chain, deadline
):
    shares = order_pool.balanceOf(minter) // 3
    order = requested(book.request_redeem(shares, 0, minter, deadline, sender=minter), book)
    publish_round(feed, owner, chain, INITIAL_PRICE * 103 // 100, after=order.not_before)
    preview, nav = lens.preview_redeem(shares), order_pool.nav()  # both now, the fee accrued alike

    [log] = settled(book.settle([order.as_struct()], [latest_round_id(feed)], sender=keeper), order_pool)

    assert log.out == preview
    gross = shares * nav // VALUE_SCALE
    assert preview == gross - -(-gross // 1_000) - SETTLE_FEE


def test_preview_redeem__payout_below_settle_fee__is_zero(order_seeded, order_pool, lens):
    assert lens.preview_redeem(10**16) == 0  # about 0.01 USDC, less 0.1 USDC


def test_redeem__at_zero_nav__burns_for_nothing_and_no_settle_fee(
    order_seeded, order_pool, book, minter, keeper, owner, feed, collateral, deadline, settle
):
    feed.set_answer(INITIAL_PRICE * 3, sender=owner)
    cash, keeper_cash = collateral.balanceOf(minter), collateral.balanceOf(keeper)
    book.request_redeem(order_pool.balanceOf(minter), 0, minter, deadline, sender=minter)

    [log] = settled(settle(answer=INITIAL_PRICE * 3), order_pool)

    assert (log.outcome, log.nav, log.out, log.settle_fee) == (OUTCOME_FILLED, 0, 0, 0)
    assert order_pool.totalSupply() == 0
    assert collateral.balanceOf(minter) == cash and collateral.balanceOf(keeper) == keeper_cash


@pytest.mark.parametrize("kind", ["redeem", "lp_withdraw"])
def test_exit__worth_nothing_at_the_reference__refused_at_the_request(
    order_seeded, order_pool, book, minter, lp, owner, chain, unchanged, kind
):
    """With no settle fee and no minimum, a share worth 0 after rounding would be
    burnt for nothing, or come back and be requested again for free: refused."""
    set_parameters(order_pool, owner, settle_fee=0, min_order=0)
    request, account = (book.request_redeem, minter) if kind == "redeem" else (book.request_lp_withdraw, lp)
    with unchanged("pool: exit worth nothing"):
        request(1, 0, account, later(chain), sender=account)  # 1e-18 of a token or share: 0 collateral


@pytest.mark.parametrize("kind", ["redeem", "lp_withdraw"])
def test_exit__worth_less_than_the_settle_fee__refused_at_the_request(
    order_seeded, order_pool, lens, book, order_lp_token, minter, lp, accounts, chain, unchanged, kind
):
    """It would pay its settler next to nothing, and come back to be requested again
    for free: refused, even as a whole balance below the minimum order."""
    fee = book.settle_fee()
    if kind == "redeem":
        token, account, request = order_pool, minter, book.request_redeem
        amount = (fee - 1) * VALUE_SCALE // order_pool.reference_nav()  # just under the fee
    else:
        token, account, request = order_lp_token, lp, book.request_lp_withdraw
        amount = (fee - 1) * (order_lp_token.totalSupply() + LP_VIRTUAL_SHARES) // (lens.lp_value() + 1)
    holder = accounts[8]
    token.transfer(holder, amount, sender=account)  # a whole balance: the minimum order does not apply
    with unchanged("orders: worth less than the settle fee"):
        request(amount, 0, holder, later(chain), sender=holder)
    request(token.balanceOf(account), 0, account, later(chain), sender=account)  # a real exit goes


@pytest.mark.parametrize("kind", ["redeem", "lp_withdraw"])
def test_exit__worth_a_wei_at_the_reference_and_nothing_at_its_round__refunded_not_burnt(
    order_seeded, order_pool, lens, book, order_lp_token, minter, lp, owner, chain, settle, kind
):
    set_parameters(order_pool, owner, settle_fee=0, min_order=0)
    if kind == "redeem":
        token, account, request = order_pool, minter, book.request_redeem
        amount = ceil_div(VALUE_SCALE, order_pool.reference_nav())  # 1 wei at the reference NAV
        answer = INITIAL_PRICE * 11 // 10  # -1x: the NAV falls 10%
    else:
        token, account, request = order_lp_token, lp, book.request_lp_withdraw
        per_wei = ceil_div(order_lp_token.totalSupply() + LP_VIRTUAL_SHARES, lens.lp_value() + 1)
        amount = per_wei + per_wei // 1_000  # a wei and a little at the reference
        answer = INITIAL_PRICE * 9 // 10  # holders gain 10% of 10,000: LP value falls 1%
    request(amount, 0, account, later(chain), sender=account)
    held = token.balanceOf(account)

    [log] = settled(settle(answer=answer), order_pool)

    assert (log.outcome, log.out, log.refunded, log.settle_fee) == (OUTCOME_REFUNDED, 0, amount, 0)
    assert token.balanceOf(account) == held + amount


def test_redeem__tokens_received_by_transfer__redeemed_by_receiver(
    order_seeded, order_pool, book, minter, redeemer, collateral, deadline, settle
):
    shares = order_pool.balanceOf(minter)
    order_pool.transfer(redeemer, shares, sender=minter)
    cash = collateral.balanceOf(redeemer)
    book.request_redeem(shares, 0, redeemer, deadline, sender=redeemer)

    [log] = settled(settle(), order_pool)

    assert log.outcome == OUTCOME_FILLED and log.out > 9_900 * USDC
    assert collateral.balanceOf(redeemer) == cash + log.out


def test_exit_requests__stale_oracle__still_queued_and_previews_say_why(
    lens, order_seeded, order_pool, book, order_lp_token, minter, lp, chain
):
    chain.mine(deltatime=4_000)
    with ape.reverts("oracle: stale price"):
        lens.preview_redeem(10**18)
    with ape.reverts("oracle: stale price"):
        lens.preview_lp_withdraw(10**18)
    deadline = chain.pending_timestamp + 60
    # Exits never read the price at the request: the way out stays open.
    assert book.request_redeem(order_pool.balanceOf(minter), 0, minter, deadline, sender=minter).return_value == 3
    assert book.request_lp_withdraw(order_lp_token.balanceOf(lp) // 10, 0, lp, deadline, sender=lp).return_value == 4
