"""The oracle's on-chain round search (`find_rounds`, which Chainlink Automation's
check runs) finds the same round ids as the keeper's off-chain search
(`inverse/orders.py`), and the book's `settle` takes them: many rounds in a
phase, orders spread over them, a held transmission, an invalid round, a phase
switch (next-phase proofs, fill and void), a void order with no round; and on
random feeds and queues (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inverse.constants import ORDER_MINT, OUTCOME_FILLED, OUTCOME_VOID
from inverse.orders import Order, RawFeed, due_orders, pending_orders
from tests.conftest import FEED_DECIMALS, MAX_AGE

from .conftest import USDC, later, latest_round_id, requested, settled

PRICE = 2_000 * 10**8
NOBODY = "0x" + "00" * 20


def _found(book, oracle, feed, chain) -> list[int]:
    """The round ids of the due run at the head, on-chain, after checking that the
    off-chain search finds the same at the same time."""
    orders = pending_orders(book)[:20]
    now = chain.blocks.head.timestamp  # what a call at the head sees
    expected = [round_id for _, round_id, _ in due_orders(orders, RawFeed(feed.address), now, False)]
    queries = [(0, o.phase, o.not_before, o.requested_at, o.expires_at) for o in orders]
    found = list(oracle.find_rounds(queries))
    assert found == expected
    return found


def _mint(book, minter, chain):
    return requested(book.request_mint(100 * USDC, 0, minter, later(chain), sender=minter), book)


def test_find_rounds__orders_spread_over_many_rounds__as_the_keeper_finds_them(
    order_seeded, book, oracle, feed, owner, minter, keeper, chain, order_pool
):
    start = chain.pending_timestamp
    for step in range(40):  # a round every 25 s, an order every 100 s: each order's round is a few rounds on
        chain.mine(timestamp=start + 25 * step)
        feed.set_answer(PRICE + step * 10**8, sender=owner)
        if step % 4 == 0 and step < 24:
            _mint(book, minter, chain)
        _found(book, oracle, feed, chain)  # at every step: a due run that grows, stopping at the first to wait
    found = _found(book, oracle, feed, chain)
    assert len(found) == 6 and len(set(found)) == 6

    logs = settled(book.settle([o.as_struct() for o in pending_orders(book)], found, sender=keeper), order_pool)
    assert [(log.outcome, log.round_id) for log in logs] == [(OUTCOME_FILLED, r) for r in found]


def test_find_rounds__held_transmission_then_an_invalid_round__skips_one_voids_on_the_other(
    order_seeded, book, oracle, feed, owner, minter, keeper, chain, order_pool
):
    first, second = _mint(book, minter, chain), _mint(book, minter, chain)
    chain.mine(timestamp=second.not_before + 1)
    feed.push_round(PRICE, first.requested_at - 1, second.not_before + 1, sender=owner)  # observed before: not theirs
    assert _found(book, oracle, feed, chain) == []
    feed.push_round(-1, chain.pending_timestamp, chain.pending_timestamp, sender=owner)  # theirs, invalid
    invalid = latest_round_id(feed)

    assert _found(book, oracle, feed, chain) == [invalid, invalid]
    logs = settled(book.settle([first.as_struct(), second.as_struct()], [invalid] * 2, sender=keeper), order_pool)
    assert [log.outcome for log in logs] == [OUTCOME_VOID] * 2


def test_find_rounds__across_a_phase_switch__next_phase_proofs_fill_then_void(
    order_seeded, book, oracle, feed, owner, minter, keeper, chain, order_pool
):
    for _ in range(37):  # a long old phase: its last round is found by doubling and bisecting
        chain.mine(timestamp=chain.pending_timestamp + 10)
        feed.set_answer(PRICE, sender=owner)
    filled = _mint(book, minter, chain)
    chain.mine(timestamp=filled.not_before - 5)
    old_last = latest_round_id(feed)
    feed.new_phase(PRICE, sender=owner)  # before its T: not its round
    assert old_last & (2**64 - 1) > 32 and latest_round_id(feed) >> 64 == 2
    void = _mint(book, minter, chain)  # of the new phase
    chain.mine(timestamp=filled.not_before + 5)
    feed.set_answer(PRICE, sender=owner)
    fill_round = latest_round_id(feed)
    assert _found(book, oracle, feed, chain) == [old_last << 80 | fill_round]
    book.settle([filled.as_struct()], [old_last << 80 | fill_round], sender=keeper)

    chain.mine(timestamp=void.expires_at + 1)  # no round of its phase after its T
    feed.new_phase(PRICE, sender=owner)  # phase 3: its next phase, where none came by its expiry either
    [proof] = _found(book, oracle, feed, chain)
    assert proof >> 80 == fill_round and proof & (2**80 - 1) == latest_round_id(feed)

    [log] = settled(book.settle([void.as_struct()], [proof], sender=keeper), order_pool)
    assert log.outcome == OUTCOME_VOID


# One round: seconds after the one before, and how long its observation was held
# (`startedAt` that many seconds before `updatedAt`).
feed_round = st.tuples(st.integers(1, 400), st.sampled_from([0, 0, 0, 90, 900]))
feed_phases = st.lists(st.lists(feed_round, min_size=0, max_size=12), min_size=1, max_size=3)
# One order: seconds after the one before, its delay to T, its wait after T.
order_queue = st.lists(
    st.tuples(st.integers(0, 600), st.integers(30, 400), st.integers(300, 1_800)), min_size=1, max_size=8
)


@pytest.fixture(scope="module")
def search(owner, project, create_oracle):
    feed = owner.deploy(project.MockAggregator, FEED_DECIMALS, "ETH / USD", PRICE)
    feed.set_missing_round_answers_zeros(True, sender=owner)  # no revert traces on missing rounds
    return feed, create_oracle(feed, MAX_AGE)


@settings(max_examples=max(settings().max_examples // 20, 10))  # each example sends tens of transactions
@given(
    phases=feed_phases, queue=order_queue, invalid=st.sets(st.integers(0, 40), max_size=3), tail=st.integers(0, 3_000)
)
def test_find_rounds__random_feed_and_queue__same_round_ids_as_the_keepers_search(
    search, owner, chain, phases, queue, invalid, tail
):
    feed, oracle = search
    snapshot = chain.snapshot()
    try:
        start = max(chain.pending_timestamp, chain.blocks.head.timestamp) + 10
        # The orders' request times, spread over the rounds' span; each records
        # the phase current when it is requested.
        pending, at = [], start
        for gap, _, _ in queue:
            at += gap
            pending.append(at)
        requests: list[tuple[int, int]] = []

        def requests_before(time: int) -> None:
            while pending and pending[0] < time:
                requests.append((pending.pop(0), int(feed.phaseId())))

        # startedAt never goes back along a feed (OCR transmits reports in the order
        # they were made): a held transmission starts no earlier than the round before.
        t, count, started = start, 0, 0
        for p, phase_rounds in enumerate(phases):
            if p:
                t = max(t + 30, chain.blocks.head.timestamp + 1)  # never before a block the node made meanwhile
                requests_before(t)
                chain.mine(timestamp=t)
                feed.new_phase(PRICE, sender=owner)
            for gap, held in phase_rounds:
                t = max(t + gap, chain.blocks.head.timestamp + 1)
                requests_before(t)
                chain.mine(timestamp=t)
                started = max(t - held, started)
                feed.push_round(-1 if count in invalid else PRICE + count, started, t, sender=owner)
                count += 1
        requests += [(r, int(feed.phaseId())) for r in pending]
        now = max(t + tail, chain.blocks.head.timestamp + 1)
        chain.mine(timestamp=now)

        built, last_t, last_expiry = [], 0, 0
        for i, ((requested_at, phase), (_, delay, wait)) in enumerate(zip(requests, queue, strict=True)):
            not_before = max(requested_at + delay, last_t)
            max_wait = max(wait, last_expiry - not_before)  # expiry never before the order ahead's
            built.append(
                Order(i + 1, ORDER_MINT, NOBODY, NOBODY, 1, 0, requested_at, not_before, phase, 0, 0, max_wait)
            )
            last_t, last_expiry = not_before, not_before + max_wait
        head = chain.blocks.head.timestamp
        expected = [round_id for _, round_id, _ in due_orders(built, RawFeed(feed.address), head, False)]
        queries = [(0, o.phase, o.not_before, o.requested_at, o.expires_at) for o in built]

        assert list(oracle.find_rounds(queries)) == expected
    finally:
        chain.restore(snapshot)
