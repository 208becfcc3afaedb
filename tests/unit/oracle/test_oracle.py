"""Chainlink adapter: every check Chainlink documents, and that the pool bubbles its reasons."""

import ape
import pytest
from eth_abi import decode
from hexbytes import HexBytes

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
    with ape.reverts("oracle: max age above 2 days"):  # also the shutdown's shortest wait
        create_oracle(feed, 2 * 86_400 + 1)
    assert create_oracle(feed, 2 * 86_400).max_age() == 2 * 86_400
    with ape.reverts("oracle: zero grace period"):
        create_oracle(feed, MAX_AGE, sequencer, 0)
    with ape.reverts("oracle: feed decimals above 18"):
        create_oracle(create_feed(1, 19))


@pytest.mark.parametrize(
    "operation", ["rebalance", "nav", "preview_mint", "preview_redeem", "max_mint", "lp_value", "inverse_value"]
)
def test_pool__without_valid_price__reverts_with_oracle_reason(order_seeded, order_pool, lens, feed, owner, operation):
    feed.set_answer(-5, sender=owner)
    calls = {
        "rebalance": lambda: order_pool.rebalance(sender=owner),
        "nav": lambda: order_pool.nav(),
        "preview_mint": lambda: lens.preview_mint(10**6),
        "preview_redeem": lambda: lens.preview_redeem(10**18),
        "max_mint": lambda: lens.max_mint(),
        "lp_value": lambda: lens.lp_value(),
        "inverse_value": lambda: lens.inverse_value(),
    }
    assets = order_pool.total_assets()
    with ape.reverts("oracle: non-positive price"):
        calls[operation]()
    assert order_pool.total_assets() == assets
    with ape.reverts("oracle: non-positive price"):
        order_pool.oracle_price()


def test_pool__without_valid_price__requests_still_queue(order_seeded, order_pool, book, feed, owner, minter, chain):
    # A request reads no price: it waits for its round (and is void if none is valid in time).
    feed.set_answer(-5, sender=owner)
    tx = book.request_redeem(100 * 10**18, 0, minter, chain.pending_timestamp + 3_600, sender=minter)
    assert tx.return_value == book.next_order() and book.pending_orders() == 1


# --- latest -------------------------------------------------------------

ROUND_WAIT, ROUND_FILL, ROUND_VOID = 0, 1, 2
PHASE_OFFSET = 64


def rid(phase: int, aggregator_round: int) -> int:
    """A Chainlink proxy round id."""
    return phase << PHASE_OFFSET | aggregator_round


def test_latest__valid_round__returns_price_updated_at_and_round_id(oracle, feed, owner, chain):
    updated = chain.blocks.head.timestamp
    feed.push_round(2_100 * 10**8, updated - 5, updated, sender=owner)
    assert tuple(oracle.latest()) == (price_wad(2_100 * 10**8), updated, rid(1, 2))
    feed.new_phase(2_200 * 10**8, sender=owner)
    price, updated_at, round_id = oracle.latest()
    assert (price, round_id) == (price_wad(2_200 * 10**8), rid(2, 1))
    assert updated_at == chain.blocks.head.timestamp


@pytest.mark.parametrize(
    "answer, started_offset, updated_offset, reason",
    [
        (0, 0, 0, "oracle: non-positive price"),
        (MAX_PRICE // 10**10 + 1, 0, 0, "oracle: price too large"),
        (INITIAL_PRICE, 0, None, "oracle: incomplete round"),
        (INITIAL_PRICE, 0, 1_000, "oracle: future timestamp"),
        (INITIAL_PRICE, 0, -MAX_AGE - 1, "oracle: stale price"),
    ],
)
def test_latest__invalid_round__reverts_like_price(
    oracle, feed, owner, chain, answer, started_offset, updated_offset, reason
):
    now = chain.blocks.head.timestamp
    updated = 0 if updated_offset is None else now + updated_offset
    feed.push_round(answer, now + started_offset, updated, sender=owner)
    if updated_offset is not None and updated_offset < 0:
        chain.mine(timestamp=now + 1)
    with ape.reverts(reason):
        oracle.latest()
    with ape.reverts(reason):
        oracle.price()


def test_latest__sequencer_down__reverts(l2_oracle, sequencer, owner, chain):
    now = chain.pending_timestamp
    sequencer.set_round(2, 1, now, now, sender=owner)
    with ape.reverts("oracle: sequencer down"):
        l2_oracle.latest()


def test_latest__sequencer_status_in_the_future__reverts_clearly(l2_oracle, sequencer, owner, chain):
    now = chain.pending_timestamp
    sequencer.set_round(2, 0, now + 3_600, now, sender=owner)
    with ape.reverts("oracle: sequencer status in the future"):
        l2_oracle.latest()


# --- order_round ---------------------------------------------------------------------------

DELAY = 60
MAX_WAIT = 3_600


class Order:
    """The times an order records: its request, T and T + max_wait."""

    def __init__(self, requested_at: int, phase: int = 1):
        self.phase = phase
        self.requested_at = requested_at
        self.not_before = requested_at + DELAY
        self.expires_at = self.not_before + MAX_WAIT

    def settle(self, oracle, round_id: int, phase: int | None = None):
        return tuple(
            oracle.order_round(
                round_id,
                self.phase if phase is None else phase,
                self.not_before,
                self.requested_at,
                self.expires_at,
            )
        )


@pytest.fixture
def order(chain):
    """An order of phase 1 requested a little after now (room for the set-up transactions)."""
    return Order(chain.blocks.head.timestamp + 100)


def push(feed, owner, answer, started_at, updated_at) -> int:
    """Publishes the next round of the current phase; returns its proxy id."""
    feed.push_round(answer, started_at, updated_at, sender=owner)
    return feed.latest_round()


def test_order_round__first_qualifying_round__fills(oracle, feed, owner, chain, order):
    early = push(feed, owner, 1_900 * 10**8, order.requested_at - 30, order.not_before - 1)
    first = push(feed, owner, 2_100 * 10**8, order.requested_at + 10, order.not_before + 5)
    later = push(feed, owner, 2_200 * 10**8, order.not_before + 10, order.not_before + 15)
    assert (early, first, later) == (rid(1, 2), rid(1, 3), rid(1, 4))
    chain.mine(timestamp=order.not_before + 20)
    assert order.settle(oracle, first) == (ROUND_FILL, price_wad(2_100 * 10**8), order.not_before + 5)
    assert order.settle(oracle, early) == (ROUND_WAIT, 0, 0)


def test_order_round__first_round_of_phase_qualifies__fills_without_predecessor(oracle, feed, owner, chain, order):
    feed.new_phase(2_050 * 10**8, sender=owner)  # round (2, 1), answered now
    now = chain.blocks.head.timestamp
    early = Order(now - DELAY, phase=2)
    assert early.settle(oracle, rid(2, 1)) == (ROUND_FILL, price_wad(2_050 * 10**8), now)


def test_order_round__before_any_qualifying_round__waits(oracle, feed, owner, chain, order):
    last = push(feed, owner, 1_900 * 10**8, order.requested_at - 30, order.not_before - 1)
    chain.mine(timestamp=order.not_before + 600)
    assert order.settle(oracle, last) == (ROUND_WAIT, 0, 0)
    assert order.settle(oracle, rid(1, 1)) == (ROUND_WAIT, 0, 0)
    assert order.settle(oracle, last + 1) == (ROUND_WAIT, 0, 0)  # not published yet
    assert order.settle(oracle, rid(1, 0)) == (ROUND_WAIT, 0, 0)  # the phase's start


def test_order_round__round_published_in_the_future__waits_until_then(oracle, feed, owner, chain, order):
    round_id = push(feed, owner, 2_100 * 10**8, order.requested_at + 10, order.not_before + 50)
    chain.mine(timestamp=order.not_before + 49)
    assert order.settle(oracle, round_id) == (ROUND_WAIT, 0, 0)
    chain.mine(timestamp=order.not_before + 50)
    assert order.settle(oracle, round_id)[0] == ROUND_FILL


def test_order_round__predecessor_qualifies__reverts(oracle, feed, owner, chain, order):
    push(feed, owner, 2_100 * 10**8, order.requested_at + 10, order.not_before + 5)
    second = push(feed, owner, 2_200 * 10**8, order.requested_at + 20, order.not_before + 15)
    chain.mine(timestamp=order.not_before + 20)
    with ape.reverts("oracle: not the order's round"):
        order.settle(oracle, second)


def test_order_round__round_of_another_phase__reverts(oracle, feed, owner, chain, order):
    feed.new_phase(2_100 * 10**8, sender=owner)
    with ape.reverts("oracle: round not in the order's phase"):
        order.settle(oracle, rid(2, 1))
    with ape.reverts("oracle: round not in the order's phase"):
        order.settle(oracle, rid(1, 1), phase=2)
    with ape.reverts("oracle: round not in the order's phase"):
        order.settle(oracle, 1, phase=1)  # not proxy-shaped


def test_order_round__held_transmission__does_not_qualify_and_next_round_fills(oracle, feed, owner, chain, order):
    # Observed before the request, transmitted (updatedAt) after T: it waited in the mempool.
    held = push(feed, owner, 1_900 * 10**8, order.requested_at - 1, order.not_before + 30)
    next_round = push(feed, owner, 2_100 * 10**8, order.requested_at + 40, order.not_before + 45)
    chain.mine(timestamp=order.not_before + 50)
    assert order.settle(oracle, held) == (ROUND_WAIT, 0, 0)
    assert order.settle(oracle, next_round) == (ROUND_FILL, price_wad(2_100 * 10**8), order.not_before + 45)


def queries(*pairs) -> list:
    """`order_rounds` questions: (order, round id) pairs in queue order."""
    return [(round_id, o.phase, o.not_before, o.requested_at, o.expires_at) for o, round_id in pairs]


def answered(oracle, *pairs) -> list:
    """`order_rounds` answers as `order_round` gives them, each checked to name its round."""
    pricings = oracle.order_rounds(queries(*pairs))
    assert [p.round_id for p in pricings] == [round_id for _, round_id in pairs][: len(pricings)]
    return [(p.outcome, p.price, p.at) for p in pricings]


def test_order_rounds__orders_sharing_a_round__same_answers_as_one_by_one(oracle, feed, owner, chain):
    t = chain.blocks.head.timestamp + 100
    a, b, held, c = Order(t), Order(t + 10), Order(t + 12), Order(t + 100)
    # Observed at t + 11: after a's and b's requests, before `held`'s.
    shared = push(feed, owner, 2_100 * 10**8, t + 11, t + 75)
    held_round = push(feed, owner, 2_150 * 10**8, t + 20, t + 80)
    c_round = push(feed, owner, 2_200 * 10**8, t + 105, t + 165)
    chain.mine(timestamp=t + 200)

    pairs = [(a, shared), (b, shared), (held, held_round), (c, c_round)]
    answers = answered(oracle, *pairs)

    assert answers == [o.settle(oracle, round_id) for o, round_id in pairs]
    assert [x[0] for x in answers] == [ROUND_FILL] * 4
    assert answers[1] == (ROUND_FILL, price_wad(2_100 * 10**8), t + 75)
    # The shared round is not `held`'s (observed before its request): it gets the full proof and waits.
    assert answered(oracle, (a, shared), (b, shared), (held, shared), (c, c_round)) == answers[:2]


def test_order_rounds__stops_at_the_first_order_that_waits(oracle, feed, owner, chain, order):
    later = Order(order.requested_at + 500)
    first = push(feed, owner, 2_100 * 10**8, order.requested_at + 10, order.not_before + 5)
    chain.mine(timestamp=order.not_before + 20)
    assert answered(oracle, (order, first), (later, first), (order, first)) == [
        (ROUND_FILL, price_wad(2_100 * 10**8), order.not_before + 5)
    ]
    assert answered(oracle, (later, first)) == []
    assert oracle.order_rounds([]) == []


def test_order_rounds__queries_out_of_queue_order__each_gets_the_full_proof(oracle, feed, owner, chain):
    t = chain.blocks.head.timestamp + 100
    early, late = Order(t), Order(t + 10)
    push(feed, owner, 2_000 * 10**8, t + 5, t + 65)  # early's round: T(early) = t + 60 <= 65 < T(late)
    late_round = push(feed, owner, 2_100 * 10**8, t + 15, t + 75)
    chain.mine(timestamp=t + 100)
    assert oracle.order_rounds(queries((late, late_round)))[0][0] == ROUND_FILL
    # The round proven for `late` is not `early`'s, although `early` asks right after it.
    with ape.reverts("oracle: not the order's round"):
        oracle.order_rounds(queries((late, late_round), (early, late_round)))


def test_order_round__started_at_zero__skips_observation_check(oracle, feed, owner, chain, order):
    before = push(feed, owner, 1_900 * 10**8, 0, order.not_before - 1)
    round_id = push(feed, owner, 2_100 * 10**8, 0, order.not_before)
    chain.mine(timestamp=order.not_before + 1)
    assert order.settle(oracle, round_id) == (ROUND_FILL, price_wad(2_100 * 10**8), order.not_before)
    assert order.settle(oracle, before) == (ROUND_WAIT, 0, 0)


@pytest.mark.parametrize(
    "started_offset, updated_offset, outcome",
    [(0, 0, ROUND_FILL), (0, -1, ROUND_WAIT), (-1, 0, ROUND_WAIT), (-1, -1, ROUND_WAIT)],
    ids=["both-exact", "updated-one-early", "started-one-early", "both-one-early"],
)
def test_order_round__boundaries__qualifies_exactly_at_not_before_and_requested_at(
    oracle, feed, owner, chain, order, started_offset, updated_offset, outcome
):
    round_id = push(feed, owner, 2_100 * 10**8, order.requested_at + started_offset, order.not_before + updated_offset)
    chain.mine(timestamp=order.not_before + 1)
    assert order.settle(oracle, round_id)[0] == outcome


@pytest.mark.parametrize("answer", [0, -1, MAX_PRICE // 10**10 + 1, 2**255 - 1])
def test_order_round__invalid_answer__voids_with_the_round_before(oracle, feed, owner, chain, order, answer):
    before = push(feed, owner, 1_900 * 10**8, order.requested_at - 30, order.not_before - 1)
    round_id = push(feed, owner, answer, order.requested_at + 10, order.not_before + 5)
    chain.mine(timestamp=order.not_before + 10)
    assert order.settle(oracle, round_id) == (ROUND_VOID, price_wad(1_900 * 10**8), order.not_before - 1)
    assert order.settle(oracle, before) == (ROUND_WAIT, 0, 0)


def test_order_round__invalid_round_after_an_invalid_one__voids_without_a_price(oracle, feed, owner, chain, order):
    push(feed, owner, 0, order.requested_at - 30, order.not_before - 1)
    round_id = push(feed, owner, -1, order.requested_at + 10, order.not_before + 5)
    chain.mine(timestamp=order.not_before + 10)
    assert order.settle(oracle, round_id) == (ROUND_VOID, 0, 0)


def test_order_round__first_round_of_phase_invalid__voids_without_a_price(oracle, feed, owner, chain):
    feed.new_phase(-5, sender=owner)  # round (2, 1)
    now = chain.blocks.head.timestamp
    assert Order(now - DELAY, phase=2).settle(oracle, rid(2, 1)) == (ROUND_VOID, 0, 0)


def test_order_round__largest_answer__fills(oracle, feed, owner, chain, order):
    round_id = push(feed, owner, MAX_PRICE // 10**10, order.requested_at + 10, order.not_before + 5)
    chain.mine(timestamp=order.not_before + 10)
    assert order.settle(oracle, round_id) == (ROUND_FILL, MAX_PRICE, order.not_before + 5)


def test_order_round__old_round_and_sequencer_down__still_fills(l2_oracle, feed, sequencer, owner, chain, order):
    round_id = push(feed, owner, 2_100 * 10**8, order.requested_at + 10, order.not_before + 5)
    now = chain.pending_timestamp
    sequencer.set_round(2, 1, now, now, sender=owner)
    chain.mine(timestamp=order.not_before + 30 * 86_400)
    with ape.reverts("oracle: sequencer down"):
        l2_oracle.price()
    assert order.settle(l2_oracle, round_id) == (ROUND_FILL, price_wad(2_100 * 10**8), order.not_before + 5)


@pytest.mark.parametrize("late, outcome", [(0, ROUND_FILL), (1, ROUND_VOID)])
def test_order_round__round_after_expires_at__voids(oracle, feed, owner, chain, order, late, outcome):
    last = push(feed, owner, 1_900 * 10**8, order.requested_at - 30, order.not_before - 1)
    round_id = push(feed, owner, 2_100 * 10**8, order.expires_at - 10, order.expires_at + late)
    chain.mine(timestamp=order.expires_at + 10)
    # Void: the round before it fixes a shutdown's NAV.
    expected = (
        (outcome, price_wad(2_100 * 10**8), order.expires_at + late)
        if outcome == ROUND_FILL
        else (outcome, price_wad(1_900 * 10**8), order.not_before - 1)
    )
    assert order.settle(oracle, round_id) == expected
    assert order.settle(oracle, last) == (ROUND_WAIT, 0, 0)  # a round came after it


def test_order_round__none_by_expires_at__waits_at_expires_at_then_voids(oracle, feed, owner, chain, order):
    last = push(feed, owner, 1_900 * 10**8, order.requested_at - 30, order.not_before - 1)
    chain.mine(timestamp=order.expires_at)
    assert order.settle(oracle, last) == (ROUND_WAIT, 0, 0)  # a round may still come in this second
    chain.mine(timestamp=order.expires_at + 1)
    # Void, with the phase's last round (the last before the order's): a shutdown's NAV.
    assert order.settle(oracle, last) == (ROUND_VOID, price_wad(1_900 * 10**8), order.not_before - 1)
    assert order.settle(oracle, last - 1) == (ROUND_WAIT, 0, 0)  # not the phase's last round


def test_order_round__next_round_exists__waits(oracle, feed, owner, chain, order):
    last = push(feed, owner, 1_900 * 10**8, order.requested_at - 30, order.not_before - 1)
    chain.mine(timestamp=order.expires_at + 100)
    late = push(feed, owner, 2_100 * 10**8, order.expires_at + 150, order.expires_at + 200)
    chain.mine(timestamp=order.expires_at + 300)
    assert order.settle(oracle, last) == (ROUND_WAIT, 0, 0)
    assert order.settle(oracle, late) == (ROUND_VOID, price_wad(1_900 * 10**8), order.not_before - 1)


def test_order_round__phase_change__settles_at_old_aggregators_round(oracle, feed, owner, chain, order):
    before = push(feed, owner, 1_900 * 10**8, order.requested_at - 30, order.not_before - 1)
    feed.new_phase(2_000 * 10**8, sender=owner)
    feed.push_round_in_phase(1, 2_100 * 10**8, order.requested_at + 10, order.not_before + 5, sender=owner)
    round_id = feed.phase_latest(1)
    assert round_id == before + 1
    assert feed.latest_round() == rid(2, 1)
    chain.mine(timestamp=order.expires_at + 1)
    assert order.settle(oracle, round_id) == (ROUND_FILL, price_wad(2_100 * 10**8), order.not_before + 5)


def test_order_round__phase_ended_without_its_round__priced_at_the_next_phases_first(oracle, feed, owner, chain, order):
    """The proxy moved on and the old aggregator fell silent before the order's
    round: its round is the next phase's first qualifying one (a next-phase proof,
    `last << 80 | round`); the old phase's void is refused, so nobody chooses."""
    last = push(feed, owner, 1_900 * 10**8, order.requested_at - 30, order.not_before - 1)
    feed.new_phase(2_100 * 10**8, sender=owner)  # its round 1, before T: does not qualify
    first = push(feed, owner, 2_200 * 10**8, order.requested_at + 10, order.not_before + 5)
    chain.mine(timestamp=order.not_before + 10)
    proof = last << 80 | first
    assert order.settle(oracle, proof) == (ROUND_FILL, price_wad(2_200 * 10**8), order.not_before + 5)
    assert order.settle(oracle, last) == (ROUND_WAIT, 0, 0)  # not past its expiry
    chain.mine(timestamp=order.expires_at + 1)
    with ape.reverts("oracle: its phase ended: prove it in the next one"):
        order.settle(oracle, last)
    assert order.settle(oracle, proof) == (ROUND_FILL, price_wad(2_200 * 10**8), order.not_before + 5)
    second = push(feed, owner, 2_300 * 10**8, order.not_before + 6, order.not_before + 7)
    chain.mine(timestamp=order.expires_at + 2)
    with ape.reverts("oracle: not the order's round"):
        order.settle(oracle, last << 80 | second)
    with ape.reverts("oracle: round not in the order's phase"):
        order.settle(oracle, (last - 1) << 80 | first, phase=2)


def test_order_round__next_phase_proof__names_its_phases_last_round_that_does_not_qualify(
    oracle, feed, owner, chain, order
):
    early = push(feed, owner, 1_900 * 10**8, order.requested_at - 30, order.not_before - 1)
    own = push(feed, owner, 1_950 * 10**8, order.requested_at + 5, order.not_before + 1)  # qualifies
    feed.new_phase(2_100 * 10**8, sender=owner)
    later = push(feed, owner, 2_200 * 10**8, order.requested_at + 10, order.not_before + 5)
    chain.mine(timestamp=order.expires_at + 1)
    assert order.settle(oracle, own) == (ROUND_FILL, price_wad(1_950 * 10**8), order.not_before + 1)
    with ape.reverts("oracle: not the order's round"):
        order.settle(oracle, own << 80 | later)  # its round is in its own phase
    assert order.settle(oracle, early << 80 | later) == (ROUND_WAIT, 0, 0)  # not its phase's last


def test_order_round__phase_change_and_none_came_in_either__voids_after_expiry(oracle, feed, owner, chain, order):
    last = push(feed, owner, 1_900 * 10**8, order.requested_at - 30, order.not_before - 1)
    feed.new_phase(2_100 * 10**8, sender=owner)  # before T: the next phase has no round of the order's
    start = feed.latest_round()
    chain.mine(timestamp=order.expires_at)
    assert order.settle(oracle, last << 80 | start) == (ROUND_WAIT, 0, 0)
    chain.mine(timestamp=order.expires_at + 1)
    at = feed.getRoundData(start)[3]
    assert order.settle(oracle, last << 80 | start) == (ROUND_VOID, price_wad(2_100 * 10**8), at)
    with ape.reverts("oracle: its phase ended: prove it in the next one"):
        order.settle(oracle, last)


def test_order_round__next_phase_without_rounds__voids_at_the_old_phases_last(oracle, feed, owner, chain, order):
    last = push(feed, owner, 1_900 * 10**8, order.requested_at - 30, order.not_before - 1)
    feed.set_round(rid(3, 1), 2_000 * 10**8, order.requested_at - 20, order.requested_at - 20, sender=owner)
    chain.mine(timestamp=order.expires_at + 1)  # the proxy is in phase 3; phase 2 never had a round
    assert order.settle(oracle, last << 80 | rid(2, 0)) == (ROUND_VOID, price_wad(1_900 * 10**8), order.not_before - 1)


@pytest.mark.parametrize("zeros", [False, True], ids=["reverts", "zeros"])
def test_order_round__missing_round__waits_and_proves_void_either_way(oracle, feed, owner, chain, order, zeros):
    feed.set_missing_round_answers_zeros(zeros, sender=owner)
    last = push(feed, owner, 1_900 * 10**8, order.requested_at - 30, order.not_before - 1)
    chain.mine(timestamp=order.not_before + 10)
    assert order.settle(oracle, last + 1) == (ROUND_WAIT, 0, 0)
    assert order.settle(oracle, last + 1_000) == (ROUND_WAIT, 0, 0)
    assert order.settle(oracle, last) == (ROUND_WAIT, 0, 0)
    chain.mine(timestamp=order.expires_at + 1)
    assert order.settle(oracle, last + 1) == (ROUND_WAIT, 0, 0)
    assert order.settle(oracle, last) == (ROUND_VOID, price_wad(1_900 * 10**8), order.not_before - 1)


@pytest.mark.parametrize("zeros", [False, True], ids=["reverts", "zeros"])
def test_order_round__missing_predecessor__fills(oracle, feed, owner, chain, order, zeros):
    feed.set_missing_round_answers_zeros(zeros, sender=owner)
    feed.set_round(rid(1, 5), 2_100 * 10**8, order.requested_at + 10, order.not_before + 5, sender=owner)
    chain.mine(timestamp=order.not_before + 10)
    assert order.settle(oracle, rid(1, 5)) == (ROUND_FILL, price_wad(2_100 * 10**8), order.not_before + 5)


def test_order_round__phase_without_rounds__voids_from_its_start_after_expiry(oracle, chain, order):
    start = rid(2, 0)  # phase 2 has no rounds (the feed is still in phase 1)
    early = Order(order.requested_at, phase=2)
    early.not_before = 0  # even so, the phase's start never qualifies
    assert early.settle(oracle, start) == (ROUND_WAIT, 0, 0)
    assert early.settle(oracle, rid(2, 1)) == (ROUND_WAIT, 0, 0)
    chain.mine(timestamp=early.expires_at + 1)
    assert early.settle(oracle, start) == (ROUND_VOID, 0, 0)


def test_order_round__phase_0__waits_then_voids_without_reading_the_feed(oracle, feed, owner, chain, order):
    feed.set_reverting(True, sender=owner)  # the feed could not say its phase at the request
    unknown = Order(order.requested_at, phase=0)
    chain.mine(timestamp=unknown.expires_at)
    assert unknown.settle(oracle, 0) == (ROUND_WAIT, 0, 0)
    chain.mine(timestamp=unknown.expires_at + 1)
    assert unknown.settle(oracle, 0) == (ROUND_VOID, 0, 0)
    with ape.reverts("oracle: round not in the order's phase"):
        unknown.settle(oracle, rid(1, 1))


def test_order_round__reverting_feed__waits(oracle, feed, owner, chain, order):
    round_id = push(feed, owner, 2_100 * 10**8, order.requested_at + 10, order.not_before + 5)
    chain.mine(timestamp=order.expires_at + 1)
    feed.set_reverting(True, sender=owner)
    assert order.settle(oracle, round_id) == (ROUND_WAIT, 0, 0)


def eth_call(contract, method, args, gas):
    """A raw `eth_call` with a gas limit (ape's calls ignore `gas`): the decoded
    answer, or the error's text."""
    data = getattr(contract, method).encode_input(*args)
    tx = {"to": contract.address, "data": HexBytes(data).to_0x_hex(), "gas": hex(gas)}
    try:
        result = contract.provider.make_request("eth_call", [tx, "latest"])
    except Exception as error:  # noqa: BLE001 - the error's text is the answer
        return str(error)
    return decode(["uint8", "uint256", "uint256"], HexBytes(result))


def test_order_round__too_little_gas__reverts_and_never_voids(oracle, feed, owner, chain, order):
    # The phase's last round does not qualify but is not the last any more: WAIT, even
    # if the settler sends just too little gas for reading the next round.
    last = push(feed, owner, 1_900 * 10**8, order.requested_at - 30, order.not_before - 1)
    chain.mine(timestamp=order.expires_at + 100)
    push(feed, owner, 2_100 * 10**8, order.expires_at + 150, order.expires_at + 200)
    chain.mine(timestamp=order.expires_at + 300)
    feed.set_read_gas(300_000, sender=owner)  # a costly read: its 1/64 would pay for the rest
    args = (last, 1, order.not_before, order.requested_at, order.expires_at)
    # From too little for anything to plenty: some of these run out of gas inside a read.
    answers = [eth_call(oracle, "order_round", args, gas) for gas in range(50_000, 800_000, 10_000)]
    assert all(answer == (ROUND_WAIT, 0, 0) or isinstance(answer, str) for answer in answers)
    assert any(isinstance(answer, str) and "oracle: out of gas" in answer for answer in answers)
    assert answers[-1] == (ROUND_WAIT, 0, 0)


def test_order_round__too_little_gas_for_predecessor__reverts_and_never_fills(oracle, feed, owner, chain, order):
    # The predecessor qualifies, so this is not the order's round, whatever gas is sent.
    push(feed, owner, 2_100 * 10**8, order.requested_at + 10, order.not_before + 5)
    second = push(feed, owner, 2_200 * 10**8, order.requested_at + 20, order.not_before + 15)
    chain.mine(timestamp=order.not_before + 20)
    feed.set_read_gas(300_000, sender=owner)
    args = (second, 1, order.not_before, order.requested_at, order.expires_at)
    answers = [eth_call(oracle, "order_round", args, gas) for gas in range(50_000, 800_000, 10_000)]
    assert all(isinstance(answer, str) for answer in answers)
    assert any("oracle: out of gas" in answer for answer in answers)
    assert "oracle: not the order's round" in answers[-1]


def test_order_round__phase_ended__the_gas_sent_never_turns_the_refused_void_into_one(
    oracle, feed, owner, chain, order
):
    """Once the proxy moved on, a void proof in the order's own phase is refused; a
    settler who sends just too little gas for the (costly) `phaseId()` read gets
    `oracle: out of gas`, never the void."""
    last = push(feed, owner, 1_900 * 10**8, order.requested_at - 30, order.not_before - 1)
    feed.new_phase(2_100 * 10**8, sender=owner)  # before T: not the order's round
    chain.mine(timestamp=order.expires_at + 1)
    feed.set_read_gas(300_000, sender=owner)
    args = (last, 1, order.not_before, order.requested_at, order.expires_at)
    answers = [eth_call(oracle, "order_round", args, gas) for gas in range(50_000, 1_500_000, 20_000)]
    assert all(isinstance(answer, str) for answer in answers)  # never an answer, void included
    assert any("oracle: out of gas" in answer for answer in answers)
    assert "oracle: its phase ended: prove it in the next one" in answers[-1]


# --- the mock proxy ------------------------------------------------------------------------


def test_mock__rounds_and_phases__are_proxy_shaped(feed, owner, chain):
    assert feed.phaseId() == 1
    assert feed.latest_round() == feed.phase_latest(1) == rid(1, 1)
    feed.set_answer(2_100 * 10**8, sender=owner)
    assert feed.latestRoundData()[0] == feed.latestRoundData()[4] == rid(1, 2)
    feed.set_round(rid(1, 7), 2_200 * 10**8, 1, 1, sender=owner)
    feed.set_answer(2_300 * 10**8, sender=owner)
    assert feed.latest_round() == rid(1, 8)
    feed.new_phase(2_400 * 10**8, sender=owner)
    assert (feed.phaseId(), feed.latest_round()) == (2, rid(2, 1))
    now = chain.blocks.head.timestamp
    feed.push_round_in_phase(1, 2_500 * 10**8, now - 5, now, sender=owner)
    assert feed.latest_round() == rid(2, 1)
    assert feed.phase_latest(1) == rid(1, 9)
    assert tuple(feed.getRoundData(rid(1, 9))) == (rid(1, 9), 2_500 * 10**8, now - 5, now, rid(1, 9))
    assert feed.getRoundData(rid(1, 2))[1] == 2_100 * 10**8
    feed.push_round(2_600 * 10**8, now - 50, now, sender=owner)
    assert feed.latest_round() == feed.phase_latest(2) == rid(2, 2)
    with ape.reverts("mock: no such phase"):
        feed.push_round_in_phase(3, 1, now, now, sender=owner)


def test_mock__missing_round__reverts_or_answers_zeros(feed, owner):
    with ape.reverts("mock: no data for round"):
        feed.getRoundData(rid(1, 2))
    with ape.reverts("mock: no data for round"):
        feed.getRoundData(rid(1, 0))
    feed.set_missing_round_answers_zeros(True, sender=owner)
    assert tuple(feed.getRoundData(rid(1, 2))) == (0, 0, 0, 0, 0)
    assert feed.getRoundData(rid(1, 1))[1] == INITIAL_PRICE


def test_mock__reverting__reverts_every_read(feed, owner):
    feed.set_reverting(True, sender=owner)
    for read in (feed.latestRoundData, feed.phaseId, lambda: feed.getRoundData(rid(1, 1))):
        with ape.reverts("mock: feed reverted"):
            read()
