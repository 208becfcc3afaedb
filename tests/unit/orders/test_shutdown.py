"""Shutdown is settled like an order: queued, priced at its round after every
earlier order, then exits settle in the request itself, without the oracle."""

import ape

from inverse.constants import ORDER_SHUTDOWN, OUTCOME_FILLED, OUTCOME_VOID
from tests.conftest import publish_round, settle_orders

from .conftest import (
    USDC,
    VALUE_SCALE,
    later,
    latest_round_id,
    market_at,
    requested,
    round_data,
    set_parameters,
    settled,
    wad,
)


def test_shutdown__owner__queues_order_and_closes_entries(
    lens, order_seeded, order_pool, book, owner, minter, lp, deadline
):
    tx = order_pool.shutdown(sender=owner)

    assert tx.return_value == 3
    order = requested(tx, book)
    assert (order.id, order.kind, order.requester, order.amount, order.settle_fee) == (
        3,
        ORDER_SHUTDOWN,
        owner.address,
        0,
        0,
    )
    assert order_pool.shutdown_requested() and not order_pool.is_shutdown()
    assert book.terms().closed and not book.terms().is_shutdown
    assert lens.max_mint() == 0
    with ape.reverts("orders: closed"):
        book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter)
    with ape.reverts("orders: closed"):
        book.request_lp_deposit(1_000 * USDC, 0, lp, deadline, sender=lp)
    with ape.reverts("pool: shut down"):
        order_pool.shutdown(sender=owner)
    # Exits are still queued like any order until the NAV is fixed.
    assert book.request_redeem(10**20, 0, minter, deadline, sender=minter).return_value == 4


def test_shutdown__not_owner__reverts(order_seeded, order_pool, guardian, stranger):
    for account in (guardian, stranger):
        with ape.reverts():
            order_pool.shutdown(sender=account)
    assert not order_pool.shutdown_requested()


def test_shutdown__settled_at_its_round__nav_fixed_then_redeem_paid_in_request(
    order_seeded, order_pool, book, owner, minter, redeemer, keeper, feed, collateral, chain, order_lp_token
):
    order = requested(order_pool.shutdown(sender=owner), book)
    publish_round(feed, owner, chain, 1_950 * 10**8, after=order.not_before)
    round_id = latest_round_id(feed)
    m = market_at(order_pool, order_lp_token, wad(1_950 * 10**8), round_data(feed, round_id)[2])

    receipt = settle_orders(book, feed, keeper, chain)

    [log] = settled(receipt, order_pool)
    assert (log.order_id, log.outcome, log.round_id, log.price, log.nav) == (
        3,
        OUTCOME_FILLED,
        round_id,
        wad(1_950 * 10**8),
        m.nav,
    )
    assert receipt.events.filter(order_pool.Shutdown) == [
        order_pool.Shutdown(account=owner, price=wad(1_950 * 10**8), nav=m.nav)
    ]
    assert order_pool.is_shutdown() and book.terms().is_shutdown  # the book's own record: exits now settle at once
    assert order_pool.reference_nav() == m.nav

    feed.set_reverting(True, sender=owner)  # the oracle is not needed any more
    chain.mine(timestamp=chain.pending_timestamp + 10 * 86_400)
    shares = order_pool.balanceOf(minter)
    gross = shares * m.nav // VALUE_SCALE
    fee = (gross + 999) // 1_000
    cash, supply = collateral.balanceOf(redeemer), order_pool.totalSupply()

    tx = book.request_redeem(shares, gross - fee, redeemer, later(chain), sender=minter)

    assert tx.return_value == 0
    [now] = settled(tx, order_pool)
    assert (now.order_id, now.outcome, now.round_id, now.nav, now.filled, now.out, now.settle_fee) == (
        0,
        OUTCOME_FILLED,
        0,
        m.nav,
        shares,
        gross - fee,
        0,
    )
    assert collateral.balanceOf(redeemer) == cash + gross - fee  # paid at once
    assert order_pool.balanceOf(minter) == 0 and order_pool.totalSupply() == supply - shares
    assert book.pending_orders() == 0


def test_shutdown__lp_withdraw_after__paid_in_request_whole_lp_value(
    order_seeded, order_pool, lens, book, owner, minter, lp, keeper, feed, collateral, chain, order_lp_token, settle
):
    order_pool.shutdown(sender=owner)
    settle()
    book.request_redeem(order_pool.balanceOf(minter), 0, minter, later(chain), sender=minter)
    assert order_pool.totalSupply() == 0
    lp_value, cash = lens.lp_value(), collateral.balanceOf(lp)

    tx = book.request_lp_withdraw(order_lp_token.balanceOf(lp), 0, lp, later(chain), sender=lp)

    assert tx.return_value == 0
    [log] = settled(tx, order_pool)
    assert log.outcome == OUTCOME_FILLED and log.refunded == 0
    assert collateral.balanceOf(lp) == cash + log.out
    assert lp_value - 1 <= log.out <= lp_value  # everything, less the virtual share's dust
    assert order_lp_token.totalSupply() == 0
    assert (
        collateral.balanceOf(order_pool) >= order_pool.total_assets() + book.escrowed() + order_pool.total_claimable()
    )


def test_shutdown__orders_around_it__settle_in_queue_order(
    order_seeded, order_pool, book, owner, minter, lp, keeper, feed, collateral, chain, deadline, settle
):
    mint = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    shutdown = requested(order_pool.shutdown(sender=owner), book)
    redeem = requested(book.request_redeem(10**21, 0, minter, deadline, sender=minter), book)
    assert mint.id < shutdown.id < redeem.id

    logs = settled(settle(answer=1_990 * 10**8), order_pool)

    assert [(log.order_id, log.outcome) for log in logs] == [(mint.id, 1), (shutdown.id, 1), (redeem.id, 1)]
    assert logs[0].price == logs[1].price == wad(1_990 * 10**8)  # the mint filled before the NAV was fixed
    assert logs[2].round_id == 0 and logs[2].nav == logs[1].nav == order_pool.reference_nav()  # at the fixed NAV
    assert order_pool.is_shutdown()


def test_shutdown__no_round_by_its_expiry__nav_fixed_at_last_round_before_it_whenever_settled(
    order_seeded, order_pool, book, owner, keeper, feed, chain, order_lp_token
):
    _, answer, _, updated_at, _ = feed.latestRoundData()
    order = requested(order_pool.shutdown(sender=owner), book)
    chain.mine(timestamp=order.expires_at + 1)
    m = market_at(order_pool, order_lp_token, wad(answer), updated_at)
    # The oracle comes back before anyone settles: waiting for a better price picks nothing.
    feed.set_answer(1_500 * 10**8, sender=owner, gas=200_000)

    receipt = settle_orders(book, feed, keeper, chain)

    [log] = settled(receipt, order_pool)
    assert (log.outcome, log.price, log.nav) == (OUTCOME_VOID, wad(answer), m.nav)
    assert order_pool.is_shutdown() and order_pool.reference_nav() == m.nav


def test_shutdown__feed_reverting__still_queued_and_settles_at_reference_nav(
    order_seeded, order_pool, book, owner, keeper, minter, feed, collateral, chain
):
    """SPEC 3 and 6: with a dead oracle the NAV is fixed at the last reference NAV, and
    holders exit without the oracle."""
    feed.set_reverting(True, sender=owner)
    reference_nav = order_pool.reference_nav()

    order = requested(order_pool.shutdown(sender=owner), book)
    assert order.phase == 0  # the feed could not say its phase: void at its expiry
    chain.mine(timestamp=order.expires_at + 1)
    receipt = book.settle([order.as_struct()], [0], sender=keeper)

    [log] = settled(receipt, order_pool)
    assert (log.outcome, log.price, log.nav) == (OUTCOME_VOID, 0, reference_nav)
    assert order_pool.is_shutdown()
    shares, cash = order_pool.balanceOf(minter), collateral.balanceOf(minter)
    tx = book.request_redeem(shares, 0, minter, later(chain), sender=minter)
    [log] = settled(tx, order_pool)
    assert log.nav == reference_nav and collateral.balanceOf(minter) == cash + log.out > cash


def test_shutdown__short_max_wait__waits_the_oracle_max_age_and_fills_at_a_round_after_it(
    order_seeded, order_pool, book, owner, keeper, feed, chain, oracle
):
    """An owner who sets the shortest wait before shutting down would have the shutdown
    void, at a price already published (known to them). It waits the oracle's max age
    instead, within which a live feed always publishes: it fills at a round after it."""
    set_parameters(order_pool, owner, max_wait=300)
    order = requested(order_pool.shutdown(sender=owner), book)
    assert order.max_wait == oracle.max_age() > 300
    publish_round(feed, owner, chain, 1_950 * 10**8, after=order.not_before + 3_000)  # a heartbeat later

    [log] = settled(settle_orders(book, feed, keeper, chain), order_pool)

    assert (log.outcome, log.round_id, log.price) == (OUTCOME_FILLED, latest_round_id(feed), wad(1_950 * 10**8))
