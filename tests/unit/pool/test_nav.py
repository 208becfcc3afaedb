"""The NAV formula (SPEC 2) against hand-computed cases: -L times the move from
the reference, the management fee accrued by the second, the cap at A / S."""

import pytest

from inverse.constants import OUTCOME_FILLED, OUTCOME_REFUNDED, WAD, YEAR, default_order_parameters
from inverse.deploy import lens_of, leverage_wad
from inverse.model import ceil_div
from tests.conftest import INITIAL_PRICE, publish_round

from ..orders.conftest import USDC, VALUE_SCALE, set_parameters, settled

DAY = 86_400


@pytest.mark.parametrize(
    "leverage, move_percent, expected_nav",
    [
        (1, +10, WAD * 90 // 100),  # price up 10%: -1x loses 10%
        (1, -10, WAD * 110 // 100),  # price down 10%: -1x gains 10%
        (3, +10, WAD * 70 // 100),
        (3, -10, WAD * 130 // 100),
        ("0.5", +10, WAD * 95 // 100),
        (2, -50, WAD * 2),  # halving at -2x doubles the NAV
        (1, +100, 0),  # a move of 1/L: NAV hits 0
        (3, +34, 0),  # past 1/L = 33.3%: still 0, never negative
        (3, +33, WAD * 1 // 100),
    ],
)
def test_nav__after_price_move__is_reference_times_one_minus_l_move(
    create_order_pool, collateral, oracle, feed, owner, leverage, move_percent, expected_nav
):
    params = default_order_parameters(leverage_wad(leverage), 6) | {"management_fee": 0}
    pool = create_order_pool(collateral, oracle, leverage, params)
    feed.set_answer(INITIAL_PRICE * (100 + move_percent) // 100, sender=owner, gas=200_000)
    assert pool.nav() == expected_nav


@pytest.mark.parametrize("side", [+1, -1])
def test_nav__move_not_a_whole_fraction__loss_rounded_up_gain_down(
    create_order_pool, collateral, oracle, feed, owner, side
):
    """-3x from a reference of 1,999.99999999 by one feed unit (1e-8): the relative
    move times L, 3 * 10**18 / 199,999,999,999 = 15,000,000.000075 in WAD, is a
    loss rounded up (holders never gain from rounding) or a gain rounded down."""
    reference = 199_999_999_999
    feed.set_answer(reference, sender=owner, gas=200_000)
    params = default_order_parameters(leverage_wad(3), 6) | {"management_fee": 0}
    pool = create_order_pool(collateral, oracle, 3, params)
    assert pool.reference_price() == reference * 10**10
    feed.set_answer(reference + side, sender=owner, gas=200_000)
    assert pool.nav() == (WAD - 15_000_001 if side > 0 else WAD + 15_000_000)


def test_nav__management_fee__accrues_by_the_second_from_the_reference_round(order_pool, feed, owner, chain):
    t0 = order_pool.fee_time()
    fee = order_pool.parameters().management_fee
    feed.set_answer(INITIAL_PRICE, sender=owner, gas=200_000)  # a fresh price at the reference
    start = chain.blocks.head.timestamp
    navs = []
    for elapsed in (1, 2, 3_600, 30 * DAY):
        chain.mine(timestamp=start + elapsed)
        if elapsed > 3_000:
            feed.set_answer(INITIAL_PRICE, sender=owner, gas=200_000)  # keep the price fresh
        now = chain.blocks.head.timestamp
        navs.append(order_pool.nav())
        assert navs[-1] == WAD * (WAD - ceil_div(fee * (now - t0), YEAR)) // WAD
    assert navs == sorted(navs, reverse=True) and len(set(navs)) == 4
    # About 30 days of 2% a year: 0.164%.
    assert WAD * 998 // 1_000 < navs[-1] < WAD * 9_984 // 10_000


def test_nav__management_fee_over_years__stops_at_zero(order_pool, feed, owner, chain):
    set_parameters(order_pool, owner, management_fee=WAD // 10)
    chain.mine(timestamp=order_pool.fee_time() + 11 * 365 * DAY)  # 10% a year for 11 years: 110%
    feed.set_answer(INITIAL_PRICE, sender=owner, gas=200_000)
    assert order_pool.nav() == 0


def test_nav__with_no_holders__is_not_capped(order_pool, feed, owner):
    set_parameters(order_pool, owner, management_fee=0)
    feed.set_answer(INITIAL_PRICE // 2, sender=owner, gas=200_000)
    assert order_pool.totalSupply() == order_pool.total_assets() == 0
    assert order_pool.nav() == WAD * 150 // 100


def test_nav__past_pool_assets__is_capped_and_pool_exhausted(
    create_market, collateral, feed, owner, lp, minter, chain, settle_book
):
    """-3x at full use of the LP backing (1.5x): a 60% fall owes holders 2.8x, more than the 2.5x there is."""
    pool, book, _ = create_market(collateral, 3, funds=10**6 * USDC)
    lens = lens_of(pool)
    deadline = chain.pending_timestamp + 3_600
    book.request_lp_deposit(1_000 * USDC, 0, lp, deadline, sender=lp)
    settle_book(book)
    book.request_mint(lens.max_mint(), 0, minter, deadline, sender=minter)
    settle_book(book)
    supply = pool.totalSupply()
    assets = pool.total_assets()

    feed.set_answer(INITIAL_PRICE * 40 // 100, sender=owner, gas=200_000)

    cap = assets * VALUE_SCALE // supply
    assert pool.nav() == cap < WAD * 280 // 100  # owed 2.8 a token, there is 2.5
    assert lens.inverse_value() <= pool.total_assets()
    assert lens.lp_value() == pool.total_assets() - lens.inverse_value() <= 1
    assert lens.max_mint() == 0
    # A mint is refunded at its round; a redeem pays the capped NAV.
    book.request_mint(100 * USDC, 0, minter, deadline, sender=minter)
    shares = pool.balanceOf(minter) // 2
    book.request_redeem(shares, 0, minter, deadline, sender=minter)
    mint, redeem = settled(settle_book(book, answer=INITIAL_PRICE * 40 // 100), pool)
    assert (mint.outcome, mint.nav, mint.refunded) == (OUTCOME_REFUNDED, cap, 100 * USDC)
    gross = shares * cap // VALUE_SCALE
    assert (redeem.outcome, redeem.nav) == (OUTCOME_FILLED, cap)
    assert redeem.out == gross - -(-gross // 1_000) - pool.parameters().settle_fee


def test_views__inverse_plus_lp_value__equal_total_assets(order_seeded, order_pool, lens, feed, owner, chain):
    for move in (-30, -5, 0, 7, 60, 120):
        publish_round(feed, owner, chain, INITIAL_PRICE * (100 + move) // 100)
        nav = order_pool.nav()
        assert lens.inverse_value() + lens.lp_value() == order_pool.total_assets()
        assert lens.inverse_value() == ceil_div(order_pool.totalSupply() * nav, VALUE_SCALE)
