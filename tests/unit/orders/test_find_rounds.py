"""The oracle's on-chain round search (`find_rounds`, which Chainlink Automation's
check runs) finds the same round ids as the keeper's off-chain search
(`inverse/orders.py`), and the book's `settle` takes them: many rounds in a
phase, orders spread over them, a held transmission, an invalid round, a phase
switch (next-phase proofs, fill and void), a void order with no round."""

from __future__ import annotations

from inverse.constants import OUTCOME_FILLED, OUTCOME_VOID
from inverse.orders import RawFeed, due_orders, pending_orders

from .conftest import USDC, later, latest_round_id, requested, settled

PRICE = 2_000 * 10**8


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
