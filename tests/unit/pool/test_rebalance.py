"""Rebalance (SPEC 4): due by time or by a move past the threshold, and only then;
it books the management fee accrued to the latest round's time, resets the
reference, pays the bounty out of LP value and says why. That it waits for due
orders is in `tests/unit/orders/test_time_order.py`."""

import ape
import pytest

from inverse.automation import settle_data
from inverse.constants import (
    BOUNTY_BUDGET,
    BOUNTY_RESERVE,
    DUST_SUPPLY,
    MAX_KEEPER_BOUNTY_UNITS,
    OUTCOME_REFUNDED,
    REASON_THRESHOLD,
    REASON_TIME,
    WAD,
    YEAR,
)
from inverse.model import ceil_div, keeper_bounty_paid, raw_nav
from tests.conftest import INITIAL_PRICE, publish_round

from ..orders.conftest import USDC, VALUE_SCALE, latest_round_id, round_data, set_parameters, settled, wad

DAY = 86_400
NO_FEES = {"mint_fee": 0, "redeem_fee": 0, "management_fee": 0}


def test_rebalance__before_interval_and_threshold__reverts(order_seeded, order_pool, upkeep, keeper, unchanged):
    assert not order_pool.rebalance_due()
    assert upkeep.checkUpkeep(b"") == (False, b"")
    with unchanged("pool: rebalance not due"):
        order_pool.rebalance(sender=keeper)
    tx = upkeep.performUpkeep(
        settle_data(1, [], order_pool.last_rebalance()), sender=keeper
    )  # as a stale check's: nothing, no revert
    assert list(tx.events.filter(order_pool.Rebalance)) == []


def test_rebalance__after_interval__resets_reference_books_fee_pays_bounty(
    order_seeded, order_pool, upkeep, feed, owner, keeper, collateral, chain
):
    chain.mine(deltatime=DAY)
    publish_round(feed, owner, chain, INITIAL_PRICE * 102 // 100)  # +2%: below the 14% threshold
    assert order_pool.rebalance_due()
    assert upkeep.checkUpkeep(b"")[0] is True
    price = wad(INITIAL_PRICE * 102 // 100)
    at = round_data(feed, latest_round_id(feed))[2]
    supply, assets, t0 = order_pool.totalSupply(), order_pool.total_assets(), order_pool.fee_time()
    before_fee = raw_nav(price, wad(INITIAL_PRICE), WAD, WAD)
    assert before_fee == WAD * 98 // 100
    nav = before_fee * (WAD - ceil_div(WAD * 2 // 100 * (at - t0), YEAR)) // WAD  # a day of 2% a year
    fee_assets = ceil_div(supply * before_fee, VALUE_SCALE) - ceil_div(supply * nav, VALUE_SCALE)
    assert 5 * 10**5 < fee_assets < 6 * 10**5  # about 0.55 USDC on 9,800 USDC
    cash = collateral.balanceOf(keeper)

    tx = order_pool.rebalance(sender=keeper)

    assert tx.return_value == USDC
    assert collateral.balanceOf(keeper) == cash + USDC
    assert order_pool.reference_price() == price
    assert order_pool.reference_nav() == nav
    assert order_pool.last_rebalance() == tx.timestamp
    assert order_pool.fee_time() == at  # the fee runs on from the round's time
    assert order_pool.total_assets() == assets - USDC
    assert tx.events.filter(order_pool.Rebalance) == [
        order_pool.Rebalance(
            keeper=keeper, reason=REASON_TIME, price=price, nav=nav, management_fee=fee_assets, bounty=USDC
        )
    ]
    assert not order_pool.rebalance_due()


def test_rebalance__past_threshold__is_due_intraday(order_seeded, order_pool, feed, owner, keeper):
    threshold_move = order_pool.parameters().threshold  # 14.16% for -1x
    up = INITIAL_PRICE * (WAD + threshold_move) // WAD + 1
    feed.set_answer(up - 2, sender=owner, gas=200_000)
    assert not order_pool.rebalance_due()
    feed.set_answer(up, sender=owner, gas=200_000)
    assert order_pool.rebalance_due()
    tx = order_pool.rebalance(sender=keeper)
    assert tx.events.filter(order_pool.Rebalance)[0].reason == REASON_THRESHOLD
    assert order_pool.reference_price() == wad(up)


@pytest.mark.parametrize("side", [+1, -1])
def test_rebalance__move_of_exactly_the_threshold__is_due_a_unit_less_is_not(
    order_seeded, order_pool, feed, owner, keeper, side
):
    """SPEC 4: due when |P - P0| / P0 >= threshold, the bound included. With a 1%
    threshold and a reference of 2,000 the bound is a whole number of feed units."""
    set_parameters(order_pool, owner, threshold=WAD // 100)
    reference = order_pool.reference_price() // 10**10
    assert reference % 100 == 0
    feed.set_answer(reference + side * (reference // 100 - 1), sender=owner, gas=200_000)
    assert not order_pool.rebalance_due()
    feed.set_answer(reference + side * reference // 100, sender=owner, gas=200_000)
    assert order_pool.rebalance_due()
    tx = order_pool.rebalance(sender=keeper)
    assert tx.events.filter(order_pool.Rebalance)[0].reason == REASON_THRESHOLD


def test_rebalance__keepers_budget__pays_a_crash_burst_in_full_then_by_the_second(
    order_seeded, order_pool, feed, owner, keeper, collateral, chain
):
    """After a quiet spell keepers' budget holds three bounties: the first three
    rebalances of a crash, ten minutes apart, are paid in full; the fourth gets what
    filled since (about twenty minutes' worth of a half-day's bounty)."""
    bounty = order_pool.parameters().keeper_bounty
    budget, last = BOUNTY_RESERVE, order_pool.last_rebalance()  # the reserve is full at deployment
    chain.mine(deltatime=2 * DAY)
    price, paid = INITIAL_PRICE, []
    for _ in range(4):
        price = price * 80 // 100  # -20% each time: due by the threshold (14% at -1x)
        publish_round(feed, owner, chain, price, after=chain.pending_timestamp + 600)
        cash = collateral.balanceOf(keeper)

        tx = order_pool.rebalance(sender=keeper)

        [event] = tx.events.filter(order_pool.Rebalance)
        budget = min(budget + tx.timestamp - last, BOUNTY_BUDGET)
        expected, budget = keeper_bounty_paid(bounty, budget, 2**256, event.reason == REASON_TIME)
        last = tx.timestamp
        assert tx.return_value == expected == event.bounty == collateral.balanceOf(keeper) - cash
        paid.append(tx.return_value)
    assert paid[:3] == [USDC] * 3
    assert 0 < paid[3] < USDC // 10


def test_rebalance__keepers_budget__a_rebalance_due_by_time_alone_leaves_two_bounties_for_a_crash(
    order_seeded, order_pool, feed, owner, keeper, chain
):
    """On an hourly schedule each scheduled rebalance gets an hour's worth, never the
    two bounties kept back, so a crash right after one is still paid in full twice."""
    set_parameters(order_pool, owner, interval=3_600)
    paid = []
    for _ in range(30):  # more than a day of hourly rebalances
        publish_round(feed, owner, chain, after=order_pool.last_rebalance() + 3_600)
        tx = order_pool.rebalance(sender=keeper)
        assert tx.events.filter(order_pool.Rebalance)[0].reason == REASON_TIME
        paid.append(tx.return_value)
    assert max(paid[-5:]) < USDC // 10  # an hour's worth of a half-day's bounty, about 1/12
    price, crash = INITIAL_PRICE, []
    for _ in range(3):
        price = price * 80 // 100
        publish_round(feed, owner, chain, price, after=chain.pending_timestamp + 600)
        crash.append(order_pool.rebalance(sender=keeper).return_value)
    assert crash[:2] == [USDC, USDC] and crash[2] < USDC // 10


def test_rebalance__owner_sets_hourly_interval_and_max_bounty__lps_pay_at_most_two_bounties_a_day(
    order_seeded, order_pool, feed, owner, collateral, chain
):
    """The review's drain: the owner queues a 1-hour interval, a 1% threshold and the
    largest bounty, then rebalances as often as it may for a day. Keepers are paid
    from a budget that fills two bounties a day and holds three, so LPs pay at most
    that, not one a rebalance (over 40)."""
    most = MAX_KEEPER_BOUNTY_UNITS * USDC
    set_parameters(order_pool, owner, interval=3_600, threshold=WAD // 100, keeper_bounty=most)
    start, cash = order_pool.last_rebalance(), collateral.balanceOf(owner)
    paid, price, count = 0, INITIAL_PRICE, 0
    while chain.pending_timestamp < start + DAY:
        chain.mine(deltatime=1_800)
        price = price * 102 // 100 if price <= INITIAL_PRICE else price * 98 // 100  # past the threshold
        publish_round(feed, owner, chain, price)
        paid += order_pool.rebalance(sender=owner).return_value
        count += 1

    days = (order_pool.last_rebalance() - start) / DAY
    assert 1 <= days < 1.05 and count >= 40
    assert collateral.balanceOf(owner) - cash == paid <= most * (3 + 2 * days)  # what it held, and two a day
    assert paid < 6 * most


def test_rebalance__receiver__gets_the_bounty(
    order_seeded, order_pool, feed, owner, keeper, stranger, collateral, chain
):
    chain.mine(deltatime=DAY)
    publish_round(feed, owner, chain)
    cash, keeper_cash = collateral.balanceOf(stranger), collateral.balanceOf(keeper)

    tx = order_pool.rebalance(stranger, sender=keeper)

    assert tx.events.filter(order_pool.Rebalance)[0].keeper == stranger
    assert collateral.balanceOf(stranger) == cash + USDC
    assert collateral.balanceOf(keeper) == keeper_cash


@pytest.mark.parametrize("who", ["zero", "pool", "lp_token", "order_book"])
def test_rebalance__receiver_that_cannot_spend_it__reverts(
    order_seeded, order_pool, feed, owner, keeper, chain, unchanged, who
):
    chain.mine(deltatime=DAY)
    publish_round(feed, owner, chain)
    receiver = {
        "zero": "0x" + "00" * 20,
        "pool": order_pool.address,
        "lp_token": order_pool.lp_token(),
        "order_book": order_pool.order_book(),
    }[who]
    with unchanged("pool: bad receiver"):
        order_pool.rebalance(receiver, sender=keeper)


def test_rebalance__crash_and_interval__reports_both_reasons(order_seeded, order_pool, feed, owner, keeper, chain):
    chain.mine(deltatime=DAY)
    publish_round(feed, owner, chain, INITIAL_PRICE // 2)
    tx = order_pool.rebalance(sender=keeper)
    assert tx.events.filter(order_pool.Rebalance)[0].reason == REASON_TIME | REASON_THRESHOLD


def test_rebalance__resets_exposure__next_move_compounds(order_seeded, order_pool, feed, owner, keeper):
    set_parameters(order_pool, owner, **NO_FEES)  # three days of the old fee booked: n0 a little below 1
    n0 = order_pool.reference_nav()
    feed.set_answer(INITIAL_PRICE * 80 // 100, sender=owner, gas=200_000)  # -20%: NAV 1.2 n0
    order_pool.rebalance(sender=keeper)
    assert order_pool.reference_nav() == n0 * 120 // 100
    feed.set_answer(INITIAL_PRICE * 80 // 100 * 110 // 100, sender=owner, gas=200_000)  # +10% from the new reference
    assert order_pool.nav() == n0 * 120 // 100 * 90 // 100


def test_rebalance__volatility_drag__round_trip_ends_below_start(order_seeded, order_pool, feed, owner, keeper, chain):
    """100 -> 110 -> 100 with a rebalance at 110: -1x ends below where it started."""
    set_parameters(order_pool, owner, interval=3_600, keeper_bounty=0, **NO_FEES)
    n0 = order_pool.reference_nav()
    chain.mine(deltatime=3_600)
    publish_round(feed, owner, chain, INITIAL_PRICE * 110 // 100)
    order_pool.rebalance(sender=keeper)
    assert order_pool.nav() == n0 * 90 // 100
    feed.set_answer(INITIAL_PRICE, sender=owner, gas=200_000)
    # 0.9 * (1 + 1/11) = 0.98181...
    assert order_pool.nav() == n0 * 90 // 100 * (WAD + WAD * 10 // 110) // WAD
    assert order_pool.nav() < n0


def test_rebalance__bounty__never_more_than_lp_value(
    lens, order_pool, book, order_funded, lp, minter, feed, owner, keeper, collateral, chain, settle
):
    set_parameters(order_pool, owner, interval=3_600, keeper_bounty=MAX_KEEPER_BOUNTY_UNITS * USDC, **NO_FEES)
    deadline = chain.pending_timestamp + 3_600
    book.request_lp_deposit(10 * USDC, 0, lp, deadline, sender=lp)
    settle()
    book.request_mint(lens.max_mint(), 0, minter, deadline, sender=minter)
    settle()
    chain.mine(deltatime=DAY)  # a whole day's bounty has accrued
    publish_round(feed, owner, chain, INITIAL_PRICE)
    lp_value = lens.lp_value()
    assert 0 < lp_value < MAX_KEEPER_BOUNTY_UNITS * USDC
    cash = collateral.balanceOf(keeper)

    assert order_pool.rebalance(sender=keeper).return_value == lp_value

    assert collateral.balanceOf(keeper) == cash + lp_value
    assert lens.lp_value() == 0
    assert lens.inverse_value() == order_pool.total_assets()


def test_rebalance__with_stale_oracle__not_due_and_reverts(order_seeded, order_pool, upkeep, keeper, chain, unchanged):
    chain.mine(deltatime=2 * DAY)
    assert not order_pool.rebalance_due()
    assert upkeep.checkUpkeep(b"") == (False, b"")
    with unchanged("oracle: stale price"):
        order_pool.rebalance(sender=keeper)


def test_rebalance__while_paused__succeeds(order_seeded, order_pool, guardian, feed, owner, keeper, chain):
    order_pool.pause(sender=guardian)
    chain.mine(deltatime=DAY)
    publish_round(feed, owner, chain)
    tx = order_pool.rebalance(sender=keeper)
    assert order_pool.last_rebalance() == tx.timestamp


def test_rebalance__after_shutdown_settled__not_due_and_reverts(
    order_seeded, order_pool, owner, feed, keeper, chain, settle, unchanged
):
    order_pool.shutdown(sender=owner)
    settle()
    assert order_pool.is_shutdown()
    chain.mine(deltatime=DAY)
    publish_round(feed, owner, chain, INITIAL_PRICE // 2)
    assert not order_pool.rebalance_due()
    with unchanged("pool: shut down"):
        order_pool.rebalance(sender=keeper)


def test_rebalance__past_one_over_l__sets_nav_zero_for_good(
    order_seeded, order_pool, book, feed, owner, keeper, minter, deadline, settle
):
    feed.set_answer(INITIAL_PRICE * 2, sender=owner, gas=200_000)
    order_pool.rebalance(sender=keeper)
    assert order_pool.reference_nav() == 0
    feed.set_answer(INITIAL_PRICE // 10, sender=owner, gas=200_000)  # even a later crash does not revive it
    assert order_pool.nav() == 0
    book.request_mint(100 * USDC, 0, minter, deadline, sender=minter)
    [log] = settled(settle(), order_pool)
    assert (log.outcome, log.nav) == (OUTCOME_REFUNDED, 0)


def test_rebalance__no_holders__restarts_at_nav_one(
    lens, order_seeded, order_pool, book, feed, owner, keeper, minter, deadline, settle
):
    book.request_redeem(order_pool.balanceOf(minter), 0, minter, deadline, sender=minter)
    settle()
    assert order_pool.totalSupply() == 0
    feed.set_answer(INITIAL_PRICE * 2, sender=owner, gas=200_000)  # NAV 0 while nobody held
    assert order_pool.nav() == 0

    tx = order_pool.rebalance(sender=keeper)

    assert order_pool.reference_nav() == WAD == tx.events.filter(order_pool.Rebalance)[0].nav
    assert order_pool.reference_price() == wad(INITIAL_PRICE * 2)
    assert lens.preview_mint(1_000 * USDC) > 0  # the market goes on


def test_rebalance__a_wei_sent_to_the_pool__cannot_keep_a_dead_market_from_restarting(
    lens, order_seeded, order_pool, book, feed, owner, keeper, minter, deadline, settle
):
    """Tokens sent to the pool are never burnt (no order can take them): one wei kept
    the supply above 0 for good, so a market at a NAV of 0 never restarted. Dust
    (under DUST_SUPPLY) at a NAV of 0 now restarts it as if nobody held."""
    order_pool.transfer(order_pool, 1, sender=minter)
    book.request_redeem(order_pool.balanceOf(minter), 0, minter, deadline, sender=minter)
    settle(INITIAL_PRICE * 2)  # NAV 0: the redeem gets nothing, the wei stays
    assert order_pool.totalSupply() == 1 and order_pool.nav() == 0

    tx = order_pool.rebalance(sender=keeper)

    assert order_pool.reference_nav() == WAD == tx.events.filter(order_pool.Rebalance)[0].nav
    assert lens.preview_mint(1_000 * USDC) > 0  # the market goes on


def test_rebalance__dust_kept_through_a_zero_nav__its_holder_takes_nothing_at_the_restart(
    lens, order_seeded, order_pool, book, feed, owner, keeper, minter, collateral, deadline, settle
):
    """The attacker keeps just under DUST_SUPPLY of tokens through a NAV of 0, so
    the market restarts at 1 with them outstanding: worth a collateral unit at
    most, an exit worth nothing, so nothing comes out; the LPs pay at most that unit."""
    keep = DUST_SUPPLY - 1
    book.request_redeem(order_pool.balanceOf(minter) - keep, 0, minter, deadline, sender=minter)
    settle(INITIAL_PRICE * 2)  # NAV 0: the redeem gets nothing
    assert order_pool.totalSupply() == keep and order_pool.nav() == 0
    lp_value, cash = lens.lp_value(), collateral.balanceOf(minter)

    tx = order_pool.rebalance(sender=keeper)

    assert order_pool.reference_nav() == WAD
    worth = keep * WAD // VALUE_SCALE
    assert worth <= 1  # a millionth of a USDC at most
    assert lens.lp_value() + tx.return_value >= lp_value - 1
    with ape.reverts("pool: exit worth nothing"):
        book.request_redeem(keep, 0, minter, deadline, sender=minter)
    assert collateral.balanceOf(minter) == cash  # nothing taken


@pytest.mark.parametrize("elapsed_days", [1, 7, 365])
def test_rebalance__management_fee__is_pro_rata_to_round_time(
    order_seeded, order_pool, feed, owner, keeper, chain, elapsed_days
):
    t0 = order_pool.fee_time()
    chain.mine(timestamp=t0 + elapsed_days * DAY)
    feed.set_answer(INITIAL_PRICE, sender=owner, gas=200_000)
    at = round_data(feed, latest_round_id(feed))[2]
    supply = order_pool.totalSupply()
    chain.mine(deltatime=600)  # when the keeper comes does not matter: the round's time does

    tx = order_pool.rebalance(sender=keeper)

    rate = ceil_div(order_pool.parameters().management_fee * (at - t0), YEAR)
    nav = WAD * (WAD - rate) // WAD
    assert order_pool.reference_nav() == nav
    fee_assets = ceil_div(supply * WAD, VALUE_SCALE) - ceil_div(supply * nav, VALUE_SCALE)
    assert tx.events.filter(order_pool.Rebalance)[0].management_fee == fee_assets
    if elapsed_days == 365:
        assert WAD * 98 // 100 - WAD // 10**6 < nav <= WAD * 98 // 100  # 2% a year


def test_rebalance_due__feed_reverting__false_not_a_revert(
    order_seeded, order_pool, upkeep, feed, owner, keeper, chain
):
    chain.mine(deltatime=DAY)  # due by time, if there were a price
    feed.set_reverting(True, sender=owner)
    assert order_pool.rebalance_due() is False
    assert upkeep.checkUpkeep(b"") == (False, b"")
    with ape.reverts("oracle: feed unavailable"):
        order_pool.rebalance(sender=keeper)
