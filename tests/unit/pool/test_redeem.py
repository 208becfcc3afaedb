import pytest

from inverse.constants import WAD
from tests.conftest import INITIAL_PRICE, model_of, price_wad

USDC = 10**6


def test_redeem__at_unchanged_price__pays_nav_less_fee(seeded, pool, minter, collateral, deadline):
    shares = pool.balanceOf(minter)
    before = collateral.balanceOf(minter)

    tx = pool.redeem(shares, 0, minter, deadline, sender=minter)

    gross = shares // 10**12  # NAV 1: one USDC per token
    fee = -(-gross // 1_000)
    assert tx.return_value == gross - fee
    assert collateral.balanceOf(minter) == before + gross - fee
    assert pool.balanceOf(minter) == 0
    assert pool.totalSupply() == 0
    assert tx.events.filter(pool.Redeem) == [
        pool.Redeem(sender=minter, receiver=minter, shares=shares, assets=gross - fee, fee=fee, nav=WAD)
    ]


def test_redeem__after_price_fall__pays_the_inverse_gain(seeded, pool, feed, owner, minter, redeemer, deadline):
    feed.set_answer(INITIAL_PRICE * 90 // 100, sender=owner)  # -10%: a -1x holder gains 10%
    shares = pool.balanceOf(minter)
    model = model_of(pool, 6)
    model.balances[minter.address] = shares
    expected, _ = model.redeem(
        minter.address, shares, 0, redeemer.address, deadline, price_wad(INITIAL_PRICE * 90 // 100), 0
    )

    assets = pool.redeem(shares, 0, redeemer, deadline, sender=minter).return_value

    assert pool.nav() == WAD * 110 // 100 or pool.totalSupply() == 0
    gross = shares * 110 // 100 // 10**12
    assert assets == expected == gross - -(-gross // 1_000)


def test_redeem__matches_preview(seeded, pool, feed, owner, minter, deadline):
    feed.set_answer(INITIAL_PRICE * 103 // 100, sender=owner)
    shares = pool.balanceOf(minter) // 3
    preview = pool.preview_redeem(shares)
    assert pool.redeem(shares, preview, minter, deadline, sender=minter).return_value == preview


def test_redeem__while_paused__succeeds(seeded, pool, guardian, minter, deadline):
    pool.pause(sender=guardian)
    shares = pool.balanceOf(minter)
    assert pool.redeem(shares, 1, minter, deadline, sender=minter).return_value > 0
    assert pool.balanceOf(minter) == 0


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"shares": 0}, "pool: zero amount"),
        ({"receiver": "0x" + "00" * 20}, "pool: zero receiver"),
        ({"deadline_offset": -1}, "pool: deadline passed"),
        ({"min_assets_out": 10**30}, "pool: slippage"),
        ({"shares": 10**40}, "pool: redeem exceeds balance"),
    ],
)
def test_redeem__bad_input__reverts_and_changes_nothing(seeded, pool, minter, chain, unchanged, kwargs, reason):
    shares = kwargs.get("shares", pool.balanceOf(minter))
    receiver = kwargs.get("receiver", minter.address)
    min_out = kwargs.get("min_assets_out", 0)
    deadline = chain.pending_timestamp + kwargs.get("deadline_offset", 3_600)
    with unchanged(reason):
        pool.redeem(shares, min_out, receiver, deadline, sender=minter)


def test_redeem__by_non_holder__reverts(seeded, pool, stranger, deadline, unchanged):
    with unchanged("pool: redeem exceeds balance"):
        pool.redeem(1, 0, stranger, deadline, sender=stranger)


def test_redeem__with_stale_oracle__reverts_with_oracle_reason(seeded, pool, minter, chain, unchanged):
    chain.mine(deltatime=4_000)
    with unchanged("oracle: stale price"):
        pool.redeem(pool.balanceOf(minter), 0, minter, chain.pending_timestamp + 60, sender=minter)


def test_redeem__at_zero_nav__burns_for_nothing(seeded, pool, feed, owner, minter, collateral, deadline):
    feed.set_answer(INITIAL_PRICE * 3, sender=owner)
    before = collateral.balanceOf(minter)
    assert pool.redeem(pool.balanceOf(minter), 0, minter, deadline, sender=minter).return_value == 0
    assert pool.totalSupply() == 0
    assert collateral.balanceOf(minter) == before


def test_transfer__then_redeem_by_receiver__works(seeded, pool, minter, redeemer, deadline):
    shares = pool.balanceOf(minter)
    pool.transfer(redeemer, shares, sender=minter)
    assert pool.redeem(shares, 0, redeemer, deadline, sender=redeemer).return_value > 0
