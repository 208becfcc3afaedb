"""Mint orders as the pool books them: assets, fee and supply after a fill,
`preview_mint` and `max_mint` against the fill, and mints the pool cannot take
(no LP liquidity, zero NAV, too small), which are refunded at settlement.
Request checks and the fill at the round's NAV are in `tests/unit/orders/`."""

import ape

from inverse.constants import OUTCOME_FILLED, OUTCOME_REFUNDED, WAD, YEAR
from inverse.model import ceil_div
from tests.conftest import INITIAL_PRICE, publish_round

from ..orders.conftest import USDC, VALUE_SCALE, later, latest_round_id, requested, round_data, set_parameters, settled

SETTLE_FEE = USDC // 10
ZERO = "0x" + "00" * 20


def test_mint__first_after_lp_deposit__books_assets_and_gives_fee_to_lps(
    order_pool, book, order_funded, lp, minter, collateral, feed, deadline, settle
):
    book.request_lp_deposit(10_000 * USDC, 0, lp, deadline, sender=lp)
    settle()
    assets = 1_000 * USDC
    fee = assets // 1_000  # 0.1%
    book.request_mint(assets, 0, minter, deadline, sender=minter)

    receipt = settle()

    [log] = settled(receipt, order_pool)
    at = round_data(feed, log.round_id)[2]
    # NAV 1 at the unchanged price, less 2% a year from the first round to this one.
    nav = WAD - ceil_div(WAD * 2 // 100 * (at - order_pool.fee_time()), YEAR)
    assert WAD * 99_999 // 100_000 < nav < WAD
    shares = (assets - fee) * VALUE_SCALE // nav
    assert (log.outcome, log.nav, log.filled, log.out) == (OUTCOME_FILLED, nav, assets, shares)
    assert order_pool.balanceOf(minter) == order_pool.totalSupply() == shares
    assert receipt.events.filter(order_pool.Transfer) == [
        order_pool.Transfer(sender=ZERO, receiver=minter, value=shares)
    ]
    assert order_pool.total_assets() == 11_000 * USDC
    assert collateral.balanceOf(order_pool) == 11_000 * USDC  # settle fees went to the keeper
    # At the fill's round the holders own what they paid in, less the fee; LPs the rest.
    assert ceil_div(shares * nav, VALUE_SCALE) == assets - fee


def test_mint__preview_at_round_price__equals_the_fill(
    lens, order_seeded, order_pool, book, minter, keeper, owner, feed, chain, deadline
):
    assets = 1_234_567_891
    order = requested(book.request_mint(assets, 0, minter, deadline, sender=minter), book)
    publish_round(feed, owner, chain, INITIAL_PRICE * 95 // 100, after=order.not_before)
    # Views price at the latest round and block: the round's price and time.
    preview = lens.preview_mint(assets)
    nav = order_pool.nav()
    assert WAD * 1_049 // 1_000 < nav < WAD * 105 // 100  # ETH -5%: NAV +5%, less the fee accrued

    [log] = settled(book.settle([order.as_struct()], [latest_round_id(feed)], sender=keeper), order_pool)

    assert (log.out, log.nav) == (preview, nav)
    assert preview == (assets - ceil_div(assets, 1_000)) * VALUE_SCALE // nav


def test_max_mint__request_exactly_it__fills_whole_and_keeps_backing(
    lens, order_seeded, order_pool, book, minter, collateral, deadline, settle
):
    collateral.mint(minter, 10**9 * USDC, sender=minter)
    collateral.approve(book, 10**9 * USDC, sender=minter)
    capacity = lens.max_mint()
    assert capacity > 0

    book.request_mint(capacity, 0, minter, deadline, sender=minter)
    assert lens.max_mint() == 0  # the pending order (and its settle fee) is taken off
    [log] = settled(settle(), order_pool)

    # The management fee accrued till the round only lowers what holders are owed.
    assert (log.outcome, log.filled, log.refunded) == (OUTCOME_FILLED, capacity, 0)
    assert lens.lp_value() * WAD >= order_pool.parameters().min_backing * lens.inverse_value()
    assert lens.max_mint() <= capacity // 10**6  # what is left is dust


def test_max_mint__pending_orders__taken_off(order_seeded, order_pool, lens, book, owner, minter, lp, chain):
    set_parameters(order_pool, owner, management_fee=0)  # capacity then stands still from block to block
    deadline = later(chain)
    capacity = lens.max_mint()
    book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter)
    assert lens.max_mint() == capacity - 1_000 * USDC - SETTLE_FEE
    # Escrowed LP deposits are counted too: a wallet is told too little, never too much.
    book.request_lp_deposit(2_000 * USDC, 0, lp, deadline, sender=lp)
    assert lens.max_mint() == capacity - 3_000 * USDC - 2 * SETTLE_FEE


def test_max_mint__while_paused__is_zero_and_back_after_unpause(order_seeded, order_pool, lens, guardian, owner):
    set_parameters(order_pool, owner, management_fee=0)  # capacity then stands still from block to block
    capacity = lens.max_mint()
    order_pool.pause(sender=guardian)
    assert lens.max_mint() == 0
    order_pool.unpause(sender=owner)
    assert lens.max_mint() == capacity


def test_mint__without_lp_liquidity__refunded_and_settler_keeps_fee(
    lens, order_pool, book, order_funded, minter, keeper, collateral, deadline, settle
):
    assert lens.max_mint() == 0
    cash, keeper_cash = collateral.balanceOf(minter), collateral.balanceOf(keeper)
    book.request_mint(100 * USDC, 0, minter, deadline, sender=minter)

    [log] = settled(settle(), order_pool)

    assert (log.outcome, log.filled, log.out, log.refunded, log.settle_fee) == (
        OUTCOME_REFUNDED,
        0,
        0,
        100 * USDC,
        SETTLE_FEE,
    )
    assert collateral.balanceOf(minter) == cash - SETTLE_FEE
    assert collateral.balanceOf(keeper) == keeper_cash + SETTLE_FEE
    assert order_pool.totalSupply() == order_pool.total_assets() == 0


def test_mint__yielding_zero_shares__refunded(order_seeded, order_pool, book, owner, minter, collateral, chain, settle):
    set_parameters(order_pool, owner, min_order=0)
    deadline = later(chain)
    cash = collateral.balanceOf(minter)
    supply = order_pool.totalSupply()
    book.request_mint(1, 0, minter, deadline, sender=minter)  # 1 wei: all of it is the (rounded up) fee

    [log] = settled(settle(), order_pool)

    assert (log.outcome, log.out, log.refunded) == (OUTCOME_REFUNDED, 0, 1)
    assert collateral.balanceOf(minter) == cash - SETTLE_FEE
    assert order_pool.totalSupply() == supply


def test_mint__at_zero_nav__views_say_so_and_request_is_refunded(
    lens, order_seeded, order_pool, book, owner, minter, collateral, feed, deadline, settle
):
    feed.set_answer(INITIAL_PRICE * 2, sender=owner)  # +100% at -1x: NAV 0
    assert order_pool.nav() == 0
    assert lens.max_mint() == 0
    assert lens.preview_mint(100 * USDC) == 0
    cash = collateral.balanceOf(minter)
    book.request_mint(100 * USDC, 0, minter, deadline, sender=minter)

    [log] = settled(settle(), order_pool)

    assert (log.outcome, log.nav, log.refunded) == (OUTCOME_REFUNDED, 0, 100 * USDC)
    assert collateral.balanceOf(minter) == cash - SETTLE_FEE


def test_mint__stale_oracle__views_revert_with_its_reason_request_still_queued(
    lens, order_seeded, order_pool, book, minter, chain
):
    chain.mine(deltatime=4_000)
    for view in (order_pool.nav, lens.max_mint, lens.inverse_value, lens.lp_value):
        with ape.reverts("oracle: stale price"):
            view()
    with ape.reverts("oracle: stale price"):
        lens.preview_mint(100 * USDC)
    # The request does not read the price: its round will.
    assert book.request_mint(100 * USDC, 0, minter, chain.pending_timestamp + 60, sender=minter).return_value == 3


def test_mint__not_approved__reverts_with_the_collaterals_reason(
    order_seeded, book, stranger, collateral, deadline, unchanged
):
    collateral.mint(stranger, 1_000 * USDC, sender=stranger)
    with unchanged("erc20: insufficient allowance"):
        book.request_mint(100 * USDC, 0, stranger, deadline, sender=stranger)
