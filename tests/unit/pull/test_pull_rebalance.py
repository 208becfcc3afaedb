"""Rebalances on a pull market: at the price of the newest proven slot, while it is
recent (the keeper proves it and rebalances in one transaction, `PullRebalancer`), in time order with
the orders: none while an order whose T is at or before that price waits, and no
order settles before the chain's clock reaches its T."""

import ape

from inverse.constants import PULL_REBALANCE_WINDOW, REASON_THRESHOLD, REASON_TIME, WAD, default_threshold
from inverse.deploy import order_book_of, prove_recent_price
from inverse.model import raw_nav
from inverse.orders import order_from_log
from tests.conftest import fund

from .conftest import USDC, mine_past, rebalance_now, settle_pull, slot_start
from .test_pull_settlement import request_mint


def test_rebalance__threshold__at_the_current_slots_price_in_one_transaction(
    pull_pool, rebalancer, keeper, prices, chain
):
    prices.set(2_300 * 10**8, chain.pending_timestamp)  # ETH +15%: past -1x's 14.2% threshold
    slot = slot_start(1)
    assert not pull_pool.rebalance_due()  # no price of this slot on-chain yet
    receipt = rebalance_now(rebalancer, pull_pool, prices, keeper)
    [event] = receipt.events.filter(pull_pool.Rebalance)
    assert (event.reason, event.price) == (REASON_THRESHOLD, 2_300 * WAD)
    assert pull_pool.reference_price() == 2_300 * WAD
    assert ape.project.PythOracle.at(pull_pool.oracle()).latest()[1] == slot


def test_rebalance__not_due__refused_and_nothing_proven_for_nothing(pull_pool, rebalancer, keeper, prices):
    slot_start(1)
    with ape.reverts("pool: rebalance not due"):
        rebalance_now(rebalancer, pull_pool, prices, keeper)


def test_rebalance__time__at_the_price_of_the_slot_its_block_is_in(pull_pool, rebalancer, keeper, prices, chain):
    chain.mine(timestamp=pull_pool.last_rebalance() + 86_400)
    slot = slot_start(2)
    receipt = rebalance_now(rebalancer, pull_pool, prices, keeper)
    [event] = receipt.events.filter(pull_pool.Rebalance)
    assert event.reason == REASON_TIME and event.price == 2_000 * WAD
    assert ape.project.PythOracle.at(pull_pool.oracle()).proven(slot)[0]


def test_rebalance__proven_at_the_head_mined_a_12_second_block_later__at_that_price(
    pull_pool, pull_oracle, owner, keeper, prices, chain
):
    """On a chain with 12-second blocks the keeper proves the head's slot and its
    transaction lands in the next block, in another slot: the price still serves."""
    prices.set(2_300 * 10**8, chain.pending_timestamp)
    slot = slot_start(4)  # the head in the slot's last second
    pull_oracle.prove([(slot, prices.source(slot).data)], owner, value=1, sender=owner)
    chain.pending_timestamp = slot + 4 + 12
    receipt = pull_pool.rebalance(sender=keeper)
    [event] = receipt.events.filter(pull_pool.Rebalance)
    assert (event.reason, event.price) == (REASON_THRESHOLD, 2_300 * WAD)


def test_rebalance__a_slot_older_than_the_window__refused(pull_pool, pull_oracle, owner, keeper, prices, chain):
    """A rebalancer cannot reach back for a price: only a slot begun less than
    PULL_REBALANCE_WINDOW seconds before the block."""
    prices.set(2_300 * 10**8, chain.pending_timestamp)
    slot = slot_start(1)
    pull_oracle.prove([(slot, prices.source(slot).data)], owner, value=1, sender=owner)
    chain.mine(timestamp=slot + PULL_REBALANCE_WINDOW)
    with ape.reverts("oracle: prove a recent slot's price"):
        pull_pool.rebalance(sender=keeper)


def test_rebalance__never_at_a_price_older_than_one_an_order_settled_at(
    pull_pool, pull_oracle, pull_book, pull_funded, owner, minter, keeper, prices, chain
):
    """Within the window a rebalancer may bring an older slot's proof, but the price
    only moves forward: after an order settled at its slot's price, a rebalance uses
    that price or a later one, never the older slot's (the pool cannot go back in time)."""
    slot = slot_start(1)
    prices.set(2_300 * 10**8, slot)  # past the threshold from here on
    order = request_mint(pull_book, minter, chain, 100 * USDC)
    prices.set(2_320 * 10**8, order.not_before)
    mine_past(order.not_before)
    [fill] = settle_pull(pull_book, prices, keeper).events.filter(pull_pool.OrderSettled)
    assert fill.price == 2_320 * WAD and order.not_before > slot
    pull_oracle.prove([(slot, prices.source(slot).data)], owner, value=1, sender=owner)  # the older, 2,300
    assert pull_oracle.proven(slot)[1] == 2_300 * WAD
    receipt = pull_pool.rebalance(sender=keeper)
    [event] = receipt.events.filter(pull_pool.Rebalance)
    assert event.price == 2_320 * WAD and pull_oracle.latest()[1] == order.not_before


def test_rebalance__waits_for_an_order_whose_t_is_at_or_before_its_price(
    pull_pool, pull_book, pull_funded, rebalancer, minter, keeper, prices, chain
):
    order = request_mint(pull_book, minter, chain, 100 * USDC)
    prices.set(2_300 * 10**8, order.not_before)
    mine_past(order.not_before + 1)
    with ape.reverts("pool: settle due orders first"):
        rebalance_now(rebalancer, pull_pool, prices, keeper)
    settle_pull(pull_book, prices, keeper)
    rebalance_now(rebalancer, pull_pool, prices, keeper)
    assert pull_pool.reference_price() == 2_300 * WAD


def test_rebalance__an_order_whose_t_is_ahead__cannot_settle_first(
    pull_pool, pull_book, pull_funded, rebalancer, lp, minter, keeper, prices, chain
):
    """Time order from the other side: an order whose T the chain has not reached
    cannot be settled (so never before a rebalance at an earlier price), and settles
    afterwards at the pool the rebalance reset."""
    receipt = pull_book.request_lp_deposit(100_000 * USDC, 0, lp, chain.pending_timestamp + 600, sender=lp)
    mine_past(order_from_log(receipt.events.filter(pull_book.OrderRequested)[0]).not_before)
    settle_pull(pull_book, prices, keeper)
    prices.set(2_300 * 10**8, chain.pending_timestamp)
    slot_start(1)
    order = request_mint(pull_book, minter, chain, 100 * USDC)  # T in a later slot
    assert settle_pull(pull_book, prices, keeper) is None  # not due: its T is ahead
    rebalance_now(rebalancer, pull_pool, prices, keeper)
    mine_past(order.not_before)
    [log] = settle_pull(pull_book, prices, keeper).events.filter(pull_pool.OrderSettled)
    assert log.price == 2_300 * WAD
    assert abs(log.nav - pull_pool.reference_nav()) < WAD // 10**6  # priced at the reference it reset to


def test_rebalance__a_late_rebalancer_choosing_among_the_windows_slots__gains_at_most_a_quarter_percent():
    """What the window's choice is worth (SPEC 3b: bounded per rebalance, at -3x).
    The price runs past the threshold at 0.1% a slot (1.2% a minute), down or up,
    and no keeper acts for the whole window; a holder who then rebalances brings the
    slot that leaves his tokens worth most at the next slot's price (where his
    redeem settles) instead of the newest. Per 100,000 of holders' value he gains
    under 250 (0.25%), and nothing when the price is steady; choosing whether a
    redeem between two slots comes before the rebalance or after it moves under
    0.11% of its value. A slot older than the newest valid proof is not used and
    one not past the threshold makes nothing due (tests above), so with a keeper
    acting in the first block there is at most a slot to choose from."""
    leverage, reference = 3 * WAD, 2_000 * WAD
    holders = 100_000 * 10**6
    threshold = default_threshold(leverage)

    def value_after(reset: int, later: int) -> int:
        nav = raw_nav(reset, reference, WAD, leverage)  # the NAV the rebalance books
        return holders * raw_nav(later, reset, nav, leverage) // WAD

    slots = PULL_REBALANCE_WINDOW // 5
    for direction in (-1, 1):
        for step_bps in (0, 10):
            past = reference + direction * (reference * threshold // WAD + WAD)
            window = [past * (10_000 + direction * step_bps * k) // 10_000 for k in range(slots)]
            redeemed_at = window[-1] * (10_000 + direction * step_bps) // 10_000
            newest = value_after(window[-1], redeemed_at)
            gain = max(value_after(price, redeemed_at) for price in window) - newest
            assert 0 <= gain < 250 * holders // 100_000
            assert gain > 0 if step_bps else gain == 0
            # A redeem whose T falls between two of the window's slots: the slot chosen
            # also puts the rebalance before it or after it. Either way the redeem is
            # worth at most 0.11% more, about its redeem fee.
            for j in range(1, slots):
                first = raw_nav(window[j], window[j - 1], raw_nav(window[j - 1], reference, WAD, leverage), leverage)
                after = raw_nav(window[j], reference, WAD, leverage)
                assert abs(first - after) * 10_000 < 11 * after
                assert first == after if step_bps == 0 else first != after


def test_rebalance__at_an_older_slot_of_the_window__takes_its_place_before_a_later_order(
    pull_pool, pull_oracle, pull_book, seeded, owner, minter, keeper, prices, chain
):
    """Time order by the price's publish time (SPEC 3b), as on a push market: a
    rebalance at a slot of the window comes before an order whose T is later, even
    once that T has passed (on a 12-second chain one is due in nearly every block,
    so waiting for it would hold rebalances up for good); the order then settles at
    the reset pool, at its own price."""
    slot = slot_start(1)
    prices.set(2_300 * 10**8, slot)  # past the -1x threshold from this slot on
    pull_oracle.prove([(slot, prices.source(slot).data)], owner, value=1, sender=owner)
    order = request_mint(pull_book, minter, chain, 100 * USDC)
    prices.set(2_350 * 10**8, order.not_before)
    mine_past(order.not_before)
    assert pull_oracle.latest()[1] == slot < order.not_before  # the older slot still serves
    assert pull_pool.rebalance_due()
    [event] = pull_pool.rebalance(sender=keeper).events.filter(pull_pool.Rebalance)
    assert event.price == 2_300 * WAD and pull_pool.reference_price() == 2_300 * WAD
    [fill] = settle_pull(pull_book, prices, keeper).events.filter(pull_pool.OrderSettled)
    nav = raw_nav(2_350 * WAD, 2_300 * WAD, pull_pool.reference_nav(), WAD)
    # From the reset reference (the old one gives 0.825), less seconds of management fee.
    assert fill.price == 2_350 * WAD and abs(fill.nav - nav) * 10**7 <= nav


def test_rebalance__time__never_at_a_price_published_before_it_fell_due(pull_pool, pull_oracle, owner, keeper, prices):
    """A time rebalance's price is one published at or after it fell due (one of the
    window's slots from then on, as SPEC 3b's rule allows on a chain whose blocks are
    slower than a slot): a slot within the window but published before that time
    does not make it due."""
    due = pull_pool.last_rebalance() + 86_400
    before = due - (due % 5 or 5)  # the last slot that begins before it is due
    mine_past(before)
    pull_oracle.prove([(before, prices.source(before).data)], owner, value=1, sender=owner)
    mine_past(due)
    assert pull_oracle.latest()[1] == before and not pull_pool.rebalance_due()
    with ape.reverts("pool: rebalance not due"):
        pull_pool.rebalance(sender=keeper)
    after = before + 5
    mine_past(after)
    pull_oracle.prove([(after, prices.source(after).data)], owner, value=1, sender=owner)
    [event] = pull_pool.rebalance(sender=keeper).events.filter(pull_pool.Rebalance)
    assert event.reason == REASON_TIME and pull_oracle.latest()[1] == after >= due


def test_rebalance__a_late_holder_choosing_the_windows_slot_on_chain__gains_under_a_quarter_percent(
    pull_oracle, collateral, create_order_pool, owner, lp, minter, keeper, prices, chain
):
    """The model's bound above, on a -3x pull market: ETH falls past the threshold and
    on at 0.1% a slot with no keeper for 16 seconds; a holder asks to redeem all he
    holds, then rebalances at whichever of the window's 4 slots pays his redeem most
    (each tried from the same state). Against the newest slot, which a keeper arriving
    then would use, he gains under 0.25% of what he redeems; against the first slot
    past the threshold, where a keeper acting in the first block rebalances, nothing."""
    prove_recent_price(owner, pull_oracle, prices.source)  # the pool's first reference
    pool = create_order_pool(collateral, pull_oracle, 3)
    book = order_book_of(pool)
    for account in (lp, minter):
        fund(collateral, account, book, 2_000_000 * USDC)
    book.request_lp_deposit(1_000_000 * USDC, 0, lp, chain.pending_timestamp + 600, sender=lp)
    book.request_mint(100_000 * USDC, 0, minter, chain.pending_timestamp + 600, sender=minter)
    mine_past(book.order(book.next_order() + 1).not_before)
    settle_pull(book, prices, keeper)
    tokens = pool.balanceOf(minter)
    assert tokens > 0

    first = slot_start(0)
    past = 2_000 * 10**8 * (10_000 - 665) // 10_000  # -6.65%: past -3x's 6.61% threshold
    window = [past * (10_000 - 10 * k) // 10_000 for k in range(PULL_REBALANCE_WINDOW // 5)]
    for k, price in enumerate(window):
        prices.set(price, first + 5 * k)
    mine_past(first + 5 * len(window) - 4)  # the last slot begun, the first one 16 s old
    redeem = order_from_log(
        book.request_redeem(tokens, 0, minter, chain.pending_timestamp + 600, sender=minter).events.filter(
            book.OrderRequested
        )[0]
    )
    prices.set(window[-1] * 9_990 // 10_000, redeem.not_before)  # the fall goes on

    paid = []
    for k in range(len(window)):
        snapshot = chain.snapshot()
        slot = first + 5 * k
        pull_oracle.prove([(slot, prices.source(slot).data)], owner, value=1, sender=owner)
        [event] = pool.rebalance(sender=minter).events.filter(pool.Rebalance)
        assert event.price == window[k] * 10**10
        mine_past(redeem.not_before)
        [fill] = settle_pull(book, prices, keeper).events.filter(pool.OrderSettled)
        paid.append(fill.out)
        chain.restore(snapshot)
    gain = max(paid) - paid[-1]
    assert 0 < gain and gain * 400 < paid[-1]  # under 0.25% of the redeem, over the newest slot
    assert max(paid) == paid[0]  # the best choice is the first slot: where a prompt keeper is
