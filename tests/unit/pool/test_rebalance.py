import pytest

from inverse.constants import REASON_THRESHOLD, REASON_TIME, WAD, YEAR
from inverse.status import read_parameters
from tests.conftest import INITIAL_PRICE, model_of, price_wad

USDC = 10**6
DAY = 86_400


def test_rebalance__before_interval_and_threshold__reverts(seeded, pool, keeper, unchanged):
    assert not pool.rebalance_due()
    assert pool.checkUpkeep(b"") == (False, b"")
    with unchanged("pool: rebalance not due"):
        pool.rebalance(sender=keeper)
    with unchanged("pool: rebalance not due"):
        pool.performUpkeep(b"", sender=keeper)


def test_rebalance__after_interval__resets_reference_accrues_fee_pays_bounty(
    seeded, pool, feed, owner, keeper, collateral, chain
):
    chain.mine(deltatime=DAY)
    feed.set_answer(INITIAL_PRICE * 102 // 100, sender=owner)  # +2%: below the 14% threshold
    assert pool.rebalance_due()
    model = model_of(pool, 6)
    model.balances["holders"] = pool.totalSupply()
    before = collateral.balanceOf(keeper)

    tx = pool.rebalance(sender=keeper)

    now = chain.blocks.head.timestamp
    expected = model.rebalance(price_wad(INITIAL_PRICE * 102 // 100), now)
    assert expected["reason"] == REASON_TIME
    assert tx.return_value == expected["bounty"] == USDC
    assert collateral.balanceOf(keeper) == before + USDC
    assert pool.reference_price() == expected["price"]
    assert pool.reference_nav() == expected["nav"] == model.reference_nav
    assert pool.last_rebalance() == now
    assert pool.total_assets() == model.total_assets
    assert expected["nav"] < WAD * 98 // 100  # -2% from the price, less a day of management fee
    assert tx.events.filter(pool.Rebalance) == [
        pool.Rebalance(
            keeper=keeper,
            reason=REASON_TIME,
            price=expected["price"],
            nav=expected["nav"],
            management_fee=expected["management_fee"],
            bounty=USDC,
        )
    ]
    assert not pool.rebalance_due()


def test_rebalance__past_threshold__is_due_intraday(seeded, pool, feed, owner, keeper):
    threshold_move = pool.threshold()  # 14.16% for -1x
    up = INITIAL_PRICE * (WAD + threshold_move) // WAD + 1
    feed.set_answer(up - 2, sender=owner)
    assert not pool.rebalance_due()
    feed.set_answer(up, sender=owner)
    assert pool.rebalance_due()
    tx = pool.rebalance(sender=keeper)
    assert tx.events.filter(pool.Rebalance)[0].reason == REASON_THRESHOLD
    assert pool.reference_price() == price_wad(up)


def test_rebalance__crash_and_interval__reports_both_reasons(seeded, pool, feed, owner, keeper, chain):
    chain.mine(deltatime=DAY)
    feed.set_answer(INITIAL_PRICE // 2, sender=owner)
    tx = pool.performUpkeep(b"", sender=keeper)
    assert tx.events.filter(pool.Rebalance)[0].reason == REASON_TIME | REASON_THRESHOLD


def test_rebalance__resets_exposure__next_move_compounds(seeded, pool, feed, owner, keeper):
    feed.set_answer(INITIAL_PRICE * 80 // 100, sender=owner)  # -20%: NAV 1.2
    pool.rebalance(sender=keeper)
    nav0 = pool.reference_nav()
    assert WAD * 119 // 100 < nav0 <= WAD * 120 // 100
    feed.set_answer(INITIAL_PRICE * 80 // 100 * 110 // 100, sender=owner)  # +10% from the new reference
    assert pool.nav() == nav0 * 90 // 100


def test_rebalance__volatility_drag__round_trip_ends_below_start(seeded, pool, feed, owner, keeper, chain):
    """100 -> 110 -> 100 with a rebalance at 110: -1x ends below where it started."""
    pool.set_parameters(
        read_parameters(pool) | dict(interval=3_600, mint_fee=0, redeem_fee=0, management_fee=0, keeper_bounty=0),
        sender=owner,
    )
    chain.mine(deltatime=3_600)
    feed.set_answer(INITIAL_PRICE * 110 // 100, sender=owner)
    pool.rebalance(sender=keeper)
    assert pool.nav() == WAD * 90 // 100
    feed.set_answer(INITIAL_PRICE, sender=owner)
    # 0.9 * (1 + 1/11) = 0.98181...
    assert pool.nav() == WAD * 90 // 100 * (WAD + WAD * 10 // 110) // WAD
    assert pool.nav() < WAD


def test_rebalance__bounty__never_more_than_lp_value(pool, funded, lp, minter, feed, owner, keeper, deadline, chain):
    pool.lp_deposit(10 * USDC, 0, lp, deadline, sender=lp)
    pool.mint(pool.max_mint(), 0, minter, deadline, sender=minter)
    pool.set_parameters(
        read_parameters(pool)
        | dict(interval=3_600, mint_fee=0, redeem_fee=0, management_fee=0, keeper_bounty=100 * USDC),
        sender=owner,
    )
    chain.mine(deltatime=3_600)
    feed.set_answer(INITIAL_PRICE, sender=owner)
    lp_value = pool.lp_value()
    assert lp_value < 100 * USDC
    assert pool.rebalance(sender=keeper).return_value == lp_value
    assert pool.lp_value() == 0
    assert pool.inverse_value() <= pool.total_assets()


def test_rebalance__with_stale_oracle__not_due_and_reverts(seeded, pool, keeper, chain, unchanged):
    chain.mine(deltatime=2 * DAY)
    assert not pool.rebalance_due()
    assert pool.checkUpkeep(b"")[0] is False
    with unchanged("oracle: stale price"):
        pool.rebalance(sender=keeper)


def test_rebalance__while_paused__succeeds(seeded, pool, guardian, feed, owner, keeper, chain):
    pool.pause(sender=guardian)
    chain.mine(deltatime=DAY)
    feed.set_answer(INITIAL_PRICE, sender=owner)
    pool.rebalance(sender=keeper)
    assert pool.last_rebalance() == chain.blocks.head.timestamp


def test_rebalance__after_shutdown__reverts(seeded, pool, owner, feed, keeper, chain, unchanged):
    pool.shutdown(sender=owner)
    chain.mine(deltatime=DAY)
    feed.set_answer(INITIAL_PRICE, sender=owner)
    assert not pool.rebalance_due()
    with unchanged("pool: shut down"):
        pool.rebalance(sender=keeper)


def test_rebalance__past_one_over_l__sets_nav_zero_for_good(seeded, pool, feed, owner, keeper, minter, deadline):
    feed.set_answer(INITIAL_PRICE * 2, sender=owner)
    pool.rebalance(sender=keeper)
    assert pool.reference_nav() == 0
    feed.set_answer(INITIAL_PRICE // 10, sender=owner)  # even a later crash does not revive it
    assert pool.nav() == 0
    import ape

    with ape.reverts("pool: nav is zero"):
        pool.mint(USDC, 0, minter, deadline, sender=minter)


@pytest.mark.parametrize("elapsed_days", [1, 7, 365])
def test_rebalance__management_fee__is_pro_rata_to_time(seeded, pool, feed, owner, keeper, chain, elapsed_days):
    start = pool.last_rebalance()
    chain.mine(timestamp=start + elapsed_days * DAY)
    feed.set_answer(INITIAL_PRICE, sender=owner)
    inverse_before = pool.inverse_value()
    tx = pool.rebalance(sender=keeper)
    elapsed = chain.blocks.head.timestamp - start
    fee_rate = -(-pool.management_fee() * elapsed // YEAR)
    assert pool.reference_nav() == WAD * (WAD - fee_rate) // WAD
    assert tx.events.filter(pool.Rebalance)[0].management_fee == inverse_before - pool.inverse_value()
