"""Collateral the pool meets in the wild: 6 and 18 decimals, USDT-style (no bool),
fee-on-transfer (refused) and a token that calls back (stopped by the lock)."""

import ape
import pytest

from inverse.constants import WAD
from tests.conftest import INITIAL_PRICE


@pytest.mark.parametrize("decimals", [6, 18])
def test_full_cycle__with_collateral_decimals__round_trips_at_nav(
    create_collateral, create_pool, oracle, feed, owner, lp, minter, keeper, chain, decimals
):
    unit = 10**decimals
    token = create_collateral(decimals)
    pool = create_pool(token, oracle, 1)
    lp_token = ape.project.LpToken.at(pool.lp_token())
    for account in (lp, minter):
        token.mint(account, 10**6 * unit, sender=account)
        token.approve(pool, 10**6 * unit, sender=account)
    deadline = chain.pending_timestamp + 86_400 * 3

    pool.lp_deposit(10_000 * unit, 0, lp, deadline, sender=lp)
    assert lp_token.balanceOf(lp) == 10_000 * 10**18  # one LP share per unit, any decimals
    shares = pool.mint(1_000 * unit, 0, minter, deadline, sender=minter).return_value
    assert shares == 999 * 10**18  # one token per unit at NAV 1, less the 0.1% fee

    chain.mine(deltatime=86_400)
    feed.set_answer(INITIAL_PRICE * 95 // 100, sender=owner)
    assert pool.rebalance(sender=keeper).return_value == unit  # bounty: one collateral unit
    nav = pool.reference_nav()
    assert WAD * 104 // 100 < nav < WAD * 105 // 100

    paid = pool.redeem(shares, 0, minter, deadline, sender=minter).return_value
    gross = shares * nav // 10 ** (36 - decimals)
    assert paid == gross - -(-gross // 1_000)
    assert token.balanceOf(pool) == pool.total_assets() == pool.lp_value()


def test_usdt_style_collateral__returning_no_bool__works(create_pool, oracle, owner, lp, minter, chain, project):
    usdt = owner.deploy(project.MockUsdt)
    pool = create_pool(usdt, oracle, 1)
    for account in (lp, minter):
        usdt.mint(account, 10**12, sender=account)
        usdt.approve(pool, 10**12, sender=account)
    deadline = chain.pending_timestamp + 3_600

    pool.lp_deposit(10_000 * 10**6, 0, lp, deadline, sender=lp)
    shares = pool.mint(1_000 * 10**6, 0, minter, deadline, sender=minter).return_value
    before = usdt.balanceOf(minter)
    paid = pool.redeem(shares, 0, minter, deadline, sender=minter).return_value
    assert usdt.balanceOf(minter) == before + paid > 0
    assert usdt.balanceOf(pool) == pool.total_assets()


def test_fee_on_transfer_collateral__is_refused(create_pool, oracle, owner, lp, chain, project):
    token = owner.deploy(project.MockFeeToken)
    pool = create_pool(token, oracle, 1)
    token.mint(lp, 10**24, sender=lp)
    token.approve(pool, 10**24, sender=lp)
    with ape.reverts("pool: fee-on-transfer collateral"):
        pool.lp_deposit(10**21, 0, lp, chain.pending_timestamp + 3_600, sender=lp)
    assert pool.total_assets() == 0
    assert token.balanceOf(pool) == 0


def test_reentrant_collateral__call_back_is_refused_by_the_lock(create_pool, oracle, owner, lp, chain, project):
    token = owner.deploy(project.MockReentrantToken)
    pool = create_pool(token, oracle, 1)
    token.mint(lp, 10**24, sender=lp)
    token.approve(pool, 10**24, sender=lp)
    deadline = chain.pending_timestamp + 3_600
    # A call that works from outside...
    reentry = pool.rebalance_due.encode_input()
    assert pool.rebalance_due() is False
    # ...fails from inside the deposit's transferFrom.
    token.arm(reentry, sender=owner)

    pool.lp_deposit(10**21, 0, lp, deadline, sender=lp)

    assert token.hook_calls() == 1
    assert token.hook_succeeded() is False
    assert pool.total_assets() == token.balanceOf(pool) == 10**21


def test_donation__changes_nothing(seeded, pool, collateral, stranger):
    nav, lp_value, assets = pool.nav(), pool.lp_value(), pool.total_assets()
    collateral.mint(stranger, 10**12, sender=stranger)
    collateral.transfer(pool, 10**12, sender=stranger)
    assert (pool.nav(), pool.lp_value(), pool.total_assets()) == (nav, lp_value, assets)
    assert collateral.balanceOf(pool) == assets + 10**12
