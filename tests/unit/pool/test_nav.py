"""The NAV formula against hand-computed cases (SPEC 2)."""

import pytest

from inverse.constants import WAD
from tests.conftest import INITIAL_PRICE

USDC = 10**6


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
    create_pool, collateral, oracle, feed, owner, leverage, move_percent, expected_nav
):
    pool = create_pool(collateral, oracle, leverage)
    feed.set_answer(INITIAL_PRICE * (100 + move_percent) // 100, sender=owner)
    assert pool.nav() == expected_nav


def test_nav__with_no_holders__is_not_capped(pool, feed, owner):
    feed.set_answer(INITIAL_PRICE // 2, sender=owner)
    assert pool.totalSupply() == 0
    assert pool.nav() == WAD * 150 // 100


def test_nav__past_pool_assets__is_capped_and_pool_exhausted(
    create_pool, collateral, oracle, feed, owner, lp, minter, deadline, project
):
    """-3x at full use of the LP backing (1.5x): a 60% fall owes holders 2.8x, more than the 2.5x there is."""
    pool = create_pool(collateral, oracle, 3)
    for account in (lp, minter):
        collateral.mint(account, 10**6 * USDC, sender=account)
        collateral.approve(pool, 10**6 * USDC, sender=account)
    pool.lp_deposit(1_000 * USDC, 0, lp, deadline, sender=lp)
    pool.mint(pool.max_mint(), 0, minter, deadline, sender=minter)
    supply = pool.totalSupply()
    assets = pool.total_assets()

    feed.set_answer(INITIAL_PRICE * 40 // 100, sender=owner)

    cap = assets * 10**30 // supply
    assert pool.nav() == cap < WAD * 280 // 100
    assert pool.inverse_value() <= pool.total_assets()
    assert pool.lp_value() == pool.total_assets() - pool.inverse_value() <= 1
    assert pool.max_mint() == 0
    # Mints revert; redeem pays the capped NAV.
    import ape

    with ape.reverts("pool: exhausted"):
        pool.mint(10 * USDC, 0, minter, deadline, sender=minter)
    shares = pool.balanceOf(minter) // 2
    gross = shares * cap // 10**30
    assert pool.redeem(shares, 0, minter, deadline, sender=minter).return_value == gross - -(-gross // 1_000)


def test_views__inverse_plus_lp_value__equal_total_assets(seeded, pool, feed, owner):
    for move in (-30, -5, 0, 7, 60, 120):
        feed.set_answer(INITIAL_PRICE * (100 + move) // 100, sender=owner)
        assert pool.inverse_value() + pool.lp_value() == pool.total_assets()
        assert pool.inverse_value() == -(-pool.totalSupply() * pool.nav() // 10**30)
