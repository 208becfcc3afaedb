"""LP deposits settle after the other orders of their round: the book holds a
deposit priced at a round until every order of that round behind it has settled
(possibly in later settle calls), so a deposit never shares the fees of orders
of its own round that were behind it in the queue. Until then it is pending, a
rebalance waits for it, and whoever completes the round hands it back."""

import ape

from inverse.constants import ORDER_PENDING, ORDER_SETTLED, OUTCOME_FILLED, OUTCOME_VOID
from inverse.orders import RawFeed, pending_orders, settlement_batch
from tests.conftest import fund, publish_round, settle_orders

from .conftest import USDC, later, requested, settled

SETTLE_FEE = USDC // 10


def _a_deposit_held_ahead_of_a_mint(book, stranger, minter, keeper, owner, feed, collateral, chain, deadline):
    """An LP deposit and a mint of one round, the deposit settled alone (held: the
    mint of its round is still to come). Returns both, and the keeper's batch."""
    fund(collateral, stranger, book, 100_000 * USDC)
    fund(collateral, minter, book, 100_000 * USDC)
    deposit = requested(book.request_lp_deposit(50_000 * USDC, 0, stranger, deadline, sender=stranger), book)
    mint = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    publish_round(feed, owner, chain, after=mint.not_before)
    batch, round_ids = settlement_batch(book, RawFeed(feed.address), chain.pending_timestamp)
    assert batch[0][0] == deposit.id
    book.settle(batch[:1], round_ids[:1], sender=keeper)
    assert book.held_deposits()[:2] == (1, deposit.id)
    return deposit, mint, batch, round_ids


def test_settle__a_round_split_across_two_calls__the_deposit_waits_for_the_rest_of_its_round(
    order_seeded, order_pool, book, stranger, minter, redeemer, keeper, owner, feed, collateral, chain, deadline
):
    for account in (stranger, minter, redeemer):
        fund(collateral, account, book, 100_000 * USDC)
    mint_1 = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    deposit = requested(book.request_lp_deposit(50_000 * USDC, 0, stranger, deadline, sender=stranger), book)
    mint_2 = requested(book.request_mint(5_000 * USDC, 0, redeemer, deadline, sender=redeemer), book)
    publish_round(feed, owner, chain, after=mint_2.not_before)
    batch, round_ids = settlement_batch(book, RawFeed(feed.address), chain.pending_timestamp)
    assert [o[0] for o in batch] == [mint_1.id, deposit.id, mint_2.id]

    # A settler takes the first two only: the deposit is priced but held.
    first = book.settle(batch[:2], round_ids[:2], sender=keeper)
    assert [log.order_id for log in settled(first, order_pool)] == [mint_1.id]
    assert book.order(deposit.id).status == ORDER_PENDING
    count, lowest, at = book.held_deposits()
    assert (count, lowest) == (1, deposit.id) and at == feed.latestRoundData()[3]
    assert book.next_order() == mint_2.id and book.pending_orders() == 1
    assert [o.id for o in pending_orders(book)] == [deposit.id, mint_2.id]
    with ape.reverts("pool: settle due orders first"):  # its round is out: a rebalance waits for it
        order_pool.rebalance(sender=keeper)

    # Another settler completes the round: the mint first, then the held deposit, at the same round.
    cash = collateral.balanceOf(owner)
    second = settle_orders(book, feed, owner, chain)
    logs = settled(second, order_pool)
    assert [log.order_id for log in logs] == [mint_2.id, deposit.id]
    assert logs[1].outcome == OUTCOME_FILLED and logs[1].round_id == logs[0].round_id
    assert book.order(deposit.id).status == ORDER_SETTLED and book.held_deposits()[0] == 0
    assert collateral.balanceOf(owner) - cash == 2 * SETTLE_FEE  # the one who settled it is paid for it


def test_settle__a_later_round_behind_held_deposits__waits_until_they_are_handed_back(
    order_seeded, order_pool, book, stranger, minter, keeper, owner, feed, collateral, chain, deadline, unchanged
):
    deposit, same_round, _, _ = _a_deposit_held_ahead_of_a_mint(
        book, stranger, minter, keeper, owner, feed, collateral, chain, deadline
    )
    # Its round's mint settles; the round is not over for the book until a later order shows it...
    later_mint = requested(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter), book)
    publish_round(feed, owner, chain, after=later_mint.not_before)
    batch, round_ids = settlement_batch(book, RawFeed(feed.address), chain.pending_timestamp)
    assert [o[0] for o in batch] == [deposit.id, same_round.id, later_mint.id]
    # ...and an order of a later round never settles before the held deposit: a
    # settler that leaves it out settles what comes before the later round only.
    tx = book.settle(batch[1:], round_ids[1:], sender=keeper)
    assert [log.order_id for log in settled(tx, order_pool)] == [same_round.id]
    assert book.held_deposits()[0] == 1 and book.next_order() == later_mint.id
    with unchanged("orders: hand back the held LP deposits first"):
        book.settle(batch[2:], round_ids[2:], sender=keeper)
    # Handed back, it settles first, at its own round; then the later one.
    tx = settle_orders(book, feed, keeper, chain)
    logs = settled(tx, order_pool)
    assert [log.order_id for log in logs] == [deposit.id, later_mint.id]
    assert logs[0].round_id < logs[1].round_id and book.held_deposits()[0] == 0


def test_settle__a_held_deposit_handed_back_after_a_competitor_released_it__is_skipped(
    order_seeded, order_pool, book, stranger, minter, keeper, owner, feed, collateral, chain, deadline
):
    _a_deposit_held_ahead_of_a_mint(book, stranger, minter, keeper, owner, feed, collateral, chain, deadline)
    stale = settlement_batch(book, RawFeed(feed.address), chain.pending_timestamp)
    settle_orders(book, feed, owner, chain)  # the competitor completes the round
    assert book.held_deposits()[0] == 0 and book.pending_orders() == 0

    tx = book.settle(*stale, sender=keeper)  # the slower settler's batch: nothing left in it
    assert tx.return_value == 0 and not settled(tx, order_pool)


def test_settle__a_deposit_in_an_empty_pool__settles_in_place_and_backs_the_mint_behind_it(
    order_pool, book, lp, minter, keeper, owner, feed, collateral, chain, deadline, order_funded
):
    """No LP yet, no fees to protect: the market's first deposit is not held, so the
    first mint, in the same round, has its backing."""
    deposit = requested(book.request_lp_deposit(100_000 * USDC, 0, lp, deadline, sender=lp), book)
    mint = requested(book.request_mint(10_000 * USDC, 0, minter, deadline, sender=minter), book)
    publish_round(feed, owner, chain, after=mint.not_before)
    logs = settled(settle_orders(book, feed, keeper, chain), order_pool)
    assert [(log.order_id, log.outcome) for log in logs] == [(deposit.id, OUTCOME_FILLED), (mint.id, OUTCOME_FILLED)]


def test_shutdown__a_held_deposit__settles_before_the_shutdown_order(
    order_seeded, order_pool, book, stranger, minter, keeper, owner, feed, collateral, chain, deadline
):
    fund(collateral, stranger, book, 100_000 * USDC)
    deposit = requested(book.request_lp_deposit(50_000 * USDC, 0, stranger, deadline, sender=stranger), book)
    shutdown_id = order_pool.shutdown(sender=owner).return_value
    shutdown = book.order(shutdown_id)
    publish_round(feed, owner, chain, after=max(shutdown.not_before, deposit.not_before))
    # Held alone first (the shutdown order is still to come in its batch)...
    batch, round_ids = settlement_batch(book, RawFeed(feed.address), chain.pending_timestamp)
    assert [o[0] for o in batch] == [deposit.id, shutdown_id]
    logs = settled(book.settle(batch, round_ids, sender=keeper), order_pool)
    # ...it fills before the NAV is fixed, as it would have in place.
    assert [(log.order_id, log.outcome) for log in logs][0] == (deposit.id, OUTCOME_FILLED)
    assert logs[-1].order_id == shutdown_id and order_pool.is_shutdown()
    assert OUTCOME_VOID not in [log.outcome for log in logs]


def test_settle__a_fresh_market__the_first_deposit_in_place_and_a_later_rounds_deposit_held_in_one_call(
    order_pool, book, lp, minter, stranger, keeper, owner, feed, collateral, chain, deadline, order_funded
):
    """However a settler batches them: the market's first deposit settles in place,
    and a deposit of a later round settled in the same call is held behind the mint
    of its round, as it would be settled in a call of its own."""
    fund(collateral, stranger, book, 100_000 * USDC)
    first = requested(book.request_lp_deposit(10_000 * USDC, 0, lp, deadline, sender=lp), book)
    publish_round(feed, owner, chain, after=first.not_before)
    second = requested(book.request_lp_deposit(10_000 * USDC, 0, stranger, later(chain), sender=stranger), book)
    mint = requested(book.request_mint(5_000 * USDC, 0, minter, later(chain), sender=minter), book)
    publish_round(feed, owner, chain, after=mint.not_before)
    logs = settled(settle_orders(book, feed, keeper, chain), order_pool)
    assert [log.order_id for log in logs] == [first.id, mint.id, second.id]
    assert logs[1].round_id == logs[2].round_id != logs[0].round_id


def test_settle__more_held_deposits_than_a_batch__the_keepers_batches_settle_them_all(
    order_seeded, order_pool, book, stranger, minter, keeper, owner, feed, collateral, chain, deadline
):
    """21 deposits and a mint of one round, the deposits taken first by a settler
    (all held): the keeper's batches hand them back at most 19 at a time, beside
    the mint that completes their round."""
    fund(collateral, stranger, book, 1_000_000 * USDC)
    fund(collateral, minter, book, 100_000 * USDC)
    deposits = [
        requested(book.request_lp_deposit(100 * USDC, 0, stranger, deadline, sender=stranger), book) for _ in range(21)
    ]
    mint = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    publish_round(feed, owner, chain, after=mint.not_before)
    batch, round_ids = settlement_batch(book, RawFeed(feed.address), chain.pending_timestamp)
    book.settle(batch, round_ids, sender=keeper)  # the first 20 deposits: held
    batch, round_ids = settlement_batch(book, RawFeed(feed.address), chain.pending_timestamp)
    assert len(batch) == 20 and [o[0] for o in batch][-1] == deposits[-1].id  # 19 handed back, the 21st
    book.settle(batch, round_ids, sender=keeper)
    assert book.held_deposits()[0] == 21 and book.next_order() == mint.id
    order = []
    while book.pending_orders() or book.held_deposits()[0]:
        order += [log.order_id for log in settled(settle_orders(book, feed, keeper, chain), order_pool)]
    assert order[0] == mint.id and sorted(order[1:]) == [d.id for d in deposits]
    assert all(book.order(d.id).status == ORDER_SETTLED for d in deposits)
