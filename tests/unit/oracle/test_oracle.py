"""Chainlink adapter: every check Chainlink documents, and that the pool bubbles its reasons."""

import ape
import pytest

from inverse.constants import MAX_PRICE
from tests.conftest import INITIAL_PRICE, MAX_AGE, price_wad

ZERO = "0x" + "00" * 20
GRACE = 3_600


def test_price__8_decimal_feed__is_scaled_to_wad(oracle, feed):
    assert oracle.price() == INITIAL_PRICE * 10**10 == 2_000 * 10**18
    assert oracle.feed() == feed.address
    assert oracle.max_age() == MAX_AGE


def test_price__18_decimal_feed__is_unchanged(create_feed, create_oracle):
    feed = create_feed(1_234 * 10**18, 18)
    assert create_oracle(feed).price() == 1_234 * 10**18


@pytest.mark.parametrize("answer", [0, -1, -(10**8)])
def test_price__non_positive_answer__reverts(oracle, feed, owner, answer):
    feed.set_answer(answer, sender=owner)
    with ape.reverts("oracle: non-positive price"):
        oracle.price()


def test_price__largest_answer__is_accepted_and_one_more_reverts(oracle, feed, owner):
    largest = MAX_PRICE // 10**10  # the feed has 8 decimals
    feed.set_answer(largest, sender=owner)
    assert oracle.price() == MAX_PRICE
    feed.set_answer(largest + 1, sender=owner)
    with ape.reverts("oracle: price too large"):
        oracle.price()
    feed.set_answer(2**255 - 1, sender=owner)  # would overflow the WAD scaling
    with ape.reverts("oracle: price too large"):
        oracle.price()


def test_price__incomplete_round__reverts(oracle, feed, owner):
    feed.set_round(7, INITIAL_PRICE, 0, 0, sender=owner)
    with ape.reverts("oracle: incomplete round"):
        oracle.price()


def test_price__future_timestamp__reverts(oracle, feed, owner, chain):
    future = chain.pending_timestamp + 1_000
    feed.set_round(7, INITIAL_PRICE, future, future, sender=owner)
    with ape.reverts("oracle: future timestamp"):
        oracle.price()


def test_price__older_than_max_age__reverts(oracle, feed, owner, chain):
    updated = chain.blocks.head.timestamp
    feed.set_round(7, INITIAL_PRICE, updated, updated, sender=owner)
    chain.mine(timestamp=updated + MAX_AGE)
    assert oracle.price() == price_wad(INITIAL_PRICE)  # exactly max_age old: still fine
    chain.mine(timestamp=updated + MAX_AGE + 1)
    with ape.reverts("oracle: stale price"):
        oracle.price()


def test_price__reverting_feed__reverts_clearly(oracle, feed, owner):
    feed.set_reverting(True, sender=owner)
    with ape.reverts("oracle: feed unavailable"):
        oracle.price()


@pytest.fixture
def sequencer(create_feed, owner, chain):
    """An L2 sequencer uptime feed: up for the last two hours."""
    feed = create_feed(0, 0, "L2 Sequencer Uptime")
    now = chain.pending_timestamp
    feed.set_round(1, 0, now - 2 * GRACE, now, sender=owner)
    return feed


@pytest.fixture
def l2_oracle(create_oracle, feed, sequencer):
    return create_oracle(feed, MAX_AGE, sequencer, GRACE)


def test_price__sequencer_up_past_grace__passes(l2_oracle):
    assert l2_oracle.price() == price_wad(INITIAL_PRICE)
    assert l2_oracle.grace_period() == GRACE


def test_price__sequencer_down__reverts(l2_oracle, sequencer, owner, chain):
    now = chain.pending_timestamp
    sequencer.set_round(2, 1, now, now, sender=owner)
    with ape.reverts("oracle: sequencer down"):
        l2_oracle.price()


def test_price__sequencer_back_inside_grace__reverts_until_grace_ends(l2_oracle, sequencer, feed, owner, chain):
    back = chain.pending_timestamp
    sequencer.set_round(3, 0, back, back, sender=owner)
    with ape.reverts("oracle: sequencer grace period"):
        l2_oracle.price()
    chain.mine(timestamp=back + GRACE + 1)
    feed.set_answer(INITIAL_PRICE, sender=owner)
    assert l2_oracle.price() == price_wad(INITIAL_PRICE)


def test_price__sequencer_status_unknown__reverts(l2_oracle, sequencer, owner):
    sequencer.set_round(4, 0, 0, 0, sender=owner)
    with ape.reverts("oracle: sequencer status unknown"):
        l2_oracle.price()


def test_constructor__checks_its_inputs(create_oracle, create_feed, feed, sequencer):
    with ape.reverts("oracle: zero feed"):
        create_oracle(ZERO)
    with ape.reverts("oracle: zero max age"):
        create_oracle(feed, 0)
    with ape.reverts("oracle: zero grace period"):
        create_oracle(feed, MAX_AGE, sequencer, 0)
    with ape.reverts("oracle: feed decimals above 18"):
        create_oracle(create_feed(1, 19))


@pytest.mark.parametrize(
    "operation",
    [
        "mint",
        "redeem",
        "lp_deposit",
        "lp_withdraw",
        "rebalance",
        "nav",
        "preview_mint",
        "max_mint",
        "lp_value",
    ],
)
def test_pool__without_valid_price__reverts_with_oracle_reason(seeded, pool, feed, owner, minter, lp, chain, operation):
    feed.set_answer(-5, sender=owner)
    deadline = chain.pending_timestamp + 3_600
    calls = {
        "mint": lambda: pool.mint(10**6, 0, minter, deadline, sender=minter),
        "redeem": lambda: pool.redeem(10**18, 0, minter, deadline, sender=minter),
        "lp_deposit": lambda: pool.lp_deposit(10**6, 0, lp, deadline, sender=lp),
        "lp_withdraw": lambda: pool.lp_withdraw(10**18, 0, lp, deadline, sender=lp),
        "rebalance": lambda: pool.rebalance(sender=owner),
        "nav": lambda: pool.nav(),
        "preview_mint": lambda: pool.preview_mint(10**6),
        "max_mint": lambda: pool.max_mint(),
        "lp_value": lambda: pool.lp_value(),
    }
    assets = pool.total_assets()
    with ape.reverts("oracle: non-positive price"):
        calls[operation]()
    assert pool.total_assets() == assets
    with ape.reverts("oracle: non-positive price"):
        pool.oracle_price()
