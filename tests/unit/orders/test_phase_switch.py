"""The Chainlink proxy moves to a new aggregator and the old one publishes nothing
more. An order whose round had not come in its own phase is priced at the new
phase's first round after its T (a next-phase proof), so a switch neither fixes a
shutdown's NAV at a price from before its request nor holds up rebalances until
the order's expiry."""

import pytest

from inverse.constants import OUTCOME_FILLED, WAD
from inverse.deploy import order_book_of
from tests.conftest import fund, publish_round, settle_orders

from .conftest import USDC, VALUE_SCALE, later, latest_round_id, requested, settled, wad

PRICE = 2_000 * 10**8


@pytest.fixture
def minus_3x(create_order_pool, collateral, oracle, feed, owner, lp, minter, keeper, chain):
    """A -3x market at 2,000: 400,000 of LP liquidity and 100,000 minted."""
    publish_round(feed, owner, chain, PRICE)
    pool = create_order_pool(collateral, oracle, 3)
    book = order_book_of(pool)
    for account in (lp, minter):
        fund(collateral, account, book, 10**12)
    book.request_lp_deposit(400_000 * USDC, 0, lp, later(chain), sender=lp)
    book.request_mint(100_000 * USDC, 0, minter, later(chain), sender=minter)
    publish_round(feed, owner, chain, PRICE, after=chain.pending_timestamp + 120)
    settle_orders(book, feed, keeper, chain)
    assert book.pending_orders() == 0
    return pool, book


def test_shutdown__across_a_phase_switch__nav_fixed_at_the_new_phases_first_round(
    minus_3x, feed, owner, minter, keeper, chain
):
    """The review's figures: at 2,010 (+0.5%, inside the deviation band) the owner
    shuts down; 60 s later the proxy switches and the new aggregator publishes 1,980
    every 10 minutes. The NAV was fixed at the old phase's 2,010, published before
    the request (holders 98,401 on 100,000, -4.4%); it is 1,980's now (102,897)."""
    pool, book = minus_3x
    publish_round(feed, owner, chain, PRICE * 1_005 // 1_000)
    old_last = latest_round_id(feed)
    order = requested(pool.shutdown(sender=owner), book)
    chain.mine(timestamp=order.requested_at + 60)
    feed.new_phase(PRICE * 99 // 100, sender=owner)  # before T: not the order's round
    chain.mine(timestamp=order.requested_at + 660)
    feed.set_answer(PRICE * 99 // 100, sender=owner)
    first = latest_round_id(feed)

    [log] = settled(settle_orders(book, feed, keeper, chain), pool)

    assert (log.outcome, log.round_id, log.price) == (OUTCOME_FILLED, first, wad(PRICE * 99 // 100))
    assert first >> 64 == 2 and old_last >> 64 == 1 and pool.is_shutdown()
    held = pool.balanceOf(minter) * pool.reference_nav() // VALUE_SCALE
    assert abs(held - 102_897 * USDC) < 5 * USDC  # 99,900 tokens at NAV 1.03, less minutes of management fee


def test_rebalance__pending_order_across_a_phase_switch__waits_only_for_the_new_phases_round(
    minus_3x, feed, owner, minter, keeper, chain
):
    """A 10-unit mint pending when the proxy switches held every rebalance for 70
    minutes (its old phase silent, void only at its expiry) while the new phase
    showed +10%, past the -3x threshold. Its price is now the new phase's first
    round after its T: it settles there, and the rebalance comes right after."""
    pool, book = minus_3x
    chain.mine(timestamp=chain.pending_timestamp + 600)
    order = requested(book.request_mint(10 * USDC, 0, minter, later(chain), sender=minter), book)
    chain.mine(timestamp=order.not_before + 5)
    feed.new_phase(PRICE * 110 // 100, sender=owner)
    assert not pool.rebalance_due()  # the order first

    [log] = settled(settle_orders(book, feed, keeper, chain), pool)

    assert (log.order_id, log.outcome, log.price) == (order.id, OUTCOME_FILLED, wad(PRICE * 110 // 100))
    assert pool.rebalance_due()
    pool.rebalance(sender=keeper)
    assert pool.reference_price() == wad(PRICE * 110 // 100) and pool.reference_nav() < WAD


def test_mint_then_redeem__across_a_phase_switch_seen_coming__attacker_profit_not_positive(
    minus_3x, collateral, feed, owner, stranger, keeper, chain
):
    """The proxy's next aggregator is visible before it goes live (`proposedAggregator`),
    and with it the lower price it will answer. A mint requested just before the
    switch is priced at the new phase's first round after its T, the price everyone
    saw coming, so the round trip only pays its fees."""
    pool, book = minus_3x
    fund(collateral, stranger, book, 1_000_000 * USDC)
    cash = collateral.balanceOf(stranger)
    mint = requested(book.request_mint(50_000 * USDC, 0, stranger, later(chain), sender=stranger), book)
    chain.mine(timestamp=mint.not_before + 5)
    feed.new_phase(PRICE * 99 // 100, sender=owner)  # -1%: a -3x NAV +3%, as the attacker foresaw
    [fill] = settled(settle_orders(book, feed, keeper, chain), pool)
    assert (fill.outcome, fill.price) == (OUTCOME_FILLED, wad(PRICE * 99 // 100))
    redeem = requested(book.request_redeem(pool.balanceOf(stranger), 0, stranger, later(chain), sender=stranger), book)
    publish_round(feed, owner, chain, PRICE * 99 // 100, after=redeem.not_before)
    [out] = settled(settle_orders(book, feed, keeper, chain), pool)
    assert out.outcome == OUTCOME_FILLED

    profit = collateral.balanceOf(stranger) - cash
    assert pool.balanceOf(stranger) == 0
    assert profit <= 0
    assert -profit <= 50_000 * USDC * 21 // 10_000 + 2 * USDC // 10  # the two trade fees and settle fees
