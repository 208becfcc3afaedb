# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Chainlink price adapter
@license MIT
@author Inverse token contributors
@notice Reads a Chainlink `AggregatorV3Interface` feed (a proxy) and returns prices
        as WADs. `price()` and `latest()` give the latest answer or revert with a
        clear reason when it cannot be trusted: non-positive, absurdly large, from an
        unfinished round, from the future, older than `max_age`, or, when an L2
        sequencer uptime feed is configured, while the sequencer is down or inside
        the grace period after it came back.
        For settlement at the next price (each order records the feed's phase),
        `order_round()` proves that a round is the order's round: the
        first round of the order's phase with `updatedAt >= not_before` and, where
        the feed reports an observation time in `startedAt`, `startedAt >=
        requested_at`. Both times only grow along a phase's rounds, so two reads
        prove it: the round qualifies and the one before it does not. It also
        proves an order void: its round is invalid on its own data, came after
        `expires_at`, or none came by then; a void proof also gives the last
        valid round before the order's, which fixes a shutdown's NAV when the
        oracle died. A historical round is judged on its own data, never by how
        old the latest answer is now.
@custom:security Trusts the Chainlink feed (and the sequencer uptime feed, if any)
        to report honest answers, and its rounds' `updatedAt` and non-zero
        `startedAt` never to decrease within a phase; everything else is checked
        here. Round reads never revert on a feed's failure (a missing round may
        revert or answer zeros); a read that fails for lack of gas reverts with
        `oracle: out of gas`, so the gas a caller sends cannot turn a round into
        a missing one and change an outcome.
@custom:kill No state and no owner: stop using it by shutting down the pools that
        read it (their shutdown works with a dead oracle, through a void proof).
"""

from .interfaces import IAggregatorV3
from .interfaces import IOracle
from . import constants

implements: IOracle


# The Chainlink price feed.
feed: public(immutable(address))

# Oldest answer (seconds) still accepted: the feed's heartbeat plus a margin.
max_age: public(immutable(uint256))

# Chainlink L2 sequencer uptime feed; the zero address on L1.
sequencer_feed: public(immutable(address))

# Seconds after the sequencer comes back before prices are trusted again.
grace_period: public(immutable(uint256))

# Multiplier from the feed's decimals to 18, read once at deployment.
_TO_WAD: immutable(uint256)

# Size of an ABI-encoded `latestRoundData()` or `getRoundData()` answer: five words.
_ROUND_DATA_SIZE: constant(uint256) = 160

# How long after an order's expiry a feed whose latest round cannot be read at
# all counts as gone, so that the order can be proven void without its round.
DEAD_FEED_GRACE: public(constant(uint256)) = 86_400

# `_order_round`'s result: the query, the answer and, for a fill, the round's
# `startedAt`, which `order_rounds` reuses for the orders behind it.
struct Proof:
    query: IOracle.RoundQuery
    answer: IOracle.Pricing
    started_at: uint256


# A proxy round id is `phaseId << 64 | aggregatorRoundId`.
_PHASE_OFFSET: constant(uint256) = 64
_AGGREGATOR_ROUND_MASK: constant(uint256) = 2**64 - 1
# A next-phase proof names two rounds: `last << 80 | round_id` (see `order_round`).
_NEXT_PHASE_OFFSET: constant(uint256) = 80
_ROUND_ID_MASK: constant(uint256) = 2**80 - 1
# `find_rounds`: steps forward from the round of the order before, before bisecting.
_WALK_STEPS: constant(uint256) = 4


@deploy
def __init__(feed_: address, max_age_: uint256, sequencer_feed_: address, grace_period_: uint256):
    """
    @notice Binds the adapter to a feed; reads and stores its decimals.
    @param feed_ The Chainlink aggregator proxy to read.
    @param max_age_ Oldest accepted answer in seconds (heartbeat plus margin).
    @param sequencer_feed_ The L2 sequencer uptime feed, or the zero address.
    @param grace_period_ Seconds to wait after the sequencer is back up.
    """
    assert feed_ != empty(address), "oracle: zero feed"
    assert max_age_ != 0, "oracle: zero max age"
    assert max_age_ <= constants.MAX_MAX_WAIT, "oracle: max age above 2 days"
    assert sequencer_feed_ == empty(address) or grace_period_ != 0, "oracle: zero grace period"
    feed_decimals: uint8 = staticcall IAggregatorV3(feed_).decimals()
    assert feed_decimals <= 18, "oracle: feed decimals above 18"
    feed = feed_
    max_age = max_age_
    sequencer_feed = sequencer_feed_
    grace_period = grace_period_
    _TO_WAD = 10 ** convert(18 - feed_decimals, uint256)


@external
@view
def price() -> uint256:
    """
    @notice The feed's latest answer as a WAD, if it passes every check.
    @dev Reverts with `oracle: ...` reasons; callers bubble them up unchanged.
    @return uint256 The price, 18 decimals.
    """
    price_: uint256 = 0
    updated_at: uint256 = 0
    round_id: uint256 = 0
    price_, updated_at, round_id = self._checked_latest()
    return price_


@external
@view
def latest() -> (uint256, uint256, uint256):
    """
    @notice The feed's latest answer as a WAD, with the checks of `price()`,
            and the round it comes from.
    @dev Reverts with the same `oracle: ...` reasons as `price()`.
    @return price The price, 18 decimals.
    @return updated_at The round's `updatedAt`.
    @return round_id The round's proxy id (`phaseId << 64 | aggregatorRoundId`).
    """
    return self._checked_latest()


@external
@view
def order_round(
    round_id: uint256, phase: uint256, not_before: uint256, requested_at: uint256, expires_at: uint256
) -> (uint8, uint256, uint256):
    """
    @notice Whether `round_id` settles an order of `phase` (requested at
            `requested_at`, priced no earlier than `not_before`, void after
            `expires_at`) and how. A round qualifies when it exists (answered,
            `0 < updatedAt <= now`), `updatedAt >= not_before` and its `startedAt`
            is 0 (no observation time reported) or `>= requested_at`. The order's
            round is the phase's first qualifying round.
            - `round_id` qualifies: it must be the first (else reverts `oracle: not
              the order's round`); FILL at its price, or VOID (price 0) if it came
              after `expires_at` or its answer is invalid (<= 0 or above the largest
              price). `updated_at` is the round's.
            - `round_id` exists but does not qualify: VOID if `now > expires_at`
              and it is the phase's last round (the feed's latest while the
              phase is current; else round_id + 1 does not exist), so no round
              came by `expires_at`; else WAIT. A feed that cannot be read at
              all proves nothing until `DEAD_FEED_GRACE` after `expires_at`.
            - `round_id` does not exist: WAIT.
            Aggregator round 0 (`round_id == phase << 64`) is the phase's start:
            it exists and never qualifies, so a phase with no rounds can be proven
            void. An order of phase 0 (the feed could not say its phase) has no
            round: VOID once `now > expires_at`, else WAIT.
            When the proxy moved to the next phase before the order's round came
            in its own (the old aggregator silent), its round is the next phase's
            first qualifying round: `round_id` is then `last << 80 | next`, the
            order's phase's last round (which must not qualify, and must be the
            last) and a round of the next phase, judged as above. A void proof in
            the order's own phase is refused once the feed is in a later phase
            (`oracle: its phase ended: prove it in the next one`), so nobody
            chooses between the old phase's void and the new phase's fill.
            On VOID, `price` and `updated_at` are those of the last valid round
            before the order's (0 if none): the round before it, or `round_id`
            itself when no round came (on a next-phase proof whose phase has no
            round yet, the order's phase's last). The same whoever proves it and
            whenever, it fixes a shutdown's NAV when the oracle died.
    @dev Reverts `oracle: round not in the order's phase` if `round_id >> 64 !=
         phase` (or, on a next-phase proof, its parts are not of `phase` and
         `phase + 1`). A historical round is judged on its own data: no `max_age`
         and no sequencer check. Reads at most three rounds; never reverts because
         a round is missing, whether the feed reverts or answers zeros for it.
    @param round_id A proxy round id of `phase`, or a next-phase proof.
    @param phase The feed phase the order recorded at its request.
    @param not_before The order's T: earliest `updatedAt` that may price it.
    @param requested_at When the order was requested: earliest non-zero `startedAt`.
    @param expires_at Latest `updatedAt` that may price it (T + max_wait).
    @return outcome `ROUND_WAIT` (0), `ROUND_FILL` (1) or `ROUND_VOID` (2).
    @return price The round's price as a WAD on a fill, else 0.
    @return updated_at The round's `updatedAt` when `round_id` is the order's
            round (fill, or void for its data or its lateness), else 0.
    """
    answer: IOracle.Pricing = self._order_round(
        IOracle.RoundQuery(
            round_id=round_id, phase=phase, not_before=not_before, requested_at=requested_at, expires_at=expires_at
        )
    ).answer
    return answer.outcome, answer.price, answer.at


@external
@view
def order_rounds(queries: DynArray[IOracle.RoundQuery, constants.MAX_BATCH]) -> DynArray[IOracle.Pricing, constants.MAX_BATCH]:
    """
    @notice `order_round` for consecutive orders of a queue, in one call: the
            answers up to the first order that must wait (not included).
            An order that names the round last proven an earlier order's
            round (a fill) reads the feed no more.
    @dev The shortcut holds because neither T nor the request time decreases
         along a queue: the round before the shared one, which did not qualify
         for the earlier order, cannot qualify for a later one, so only the
         shared round's own data is checked again. Queries that do not follow
         that order get the full proof.
    @param queries Each order's round id, phase, T, request time and expiry.
    @return DynArray[IOracle.Pricing, constants.MAX_BATCH] The outcomes, as `order_round` gives them.
    """
    answers: DynArray[IOracle.Pricing, constants.MAX_BATCH] = []
    proven: Proof = empty(Proof)  # the last round proven an order's round, with a fill
    for q: IOracle.RoundQuery in queries:
        if (
            proven.answer.outcome == constants.ROUND_FILL
            and proven.query.round_id == q.round_id
            and proven.query.phase == q.phase
            and proven.query.not_before <= q.not_before
            and proven.query.requested_at <= q.requested_at
            and self._qualifies(proven.started_at, proven.answer.at, q.not_before, q.requested_at)
            and proven.answer.at <= q.expires_at
        ):
            answers.append(proven.answer)
            continue
        proof: Proof = self._order_round(q)
        if proof.answer.outcome == constants.ROUND_WAIT:
            break
        answers.append(proof.answer)
        if proof.answer.outcome == constants.ROUND_FILL:
            proven = proof
    return answers


@external
@view
def find_rounds(queries: DynArray[IOracle.RoundQuery, constants.MAX_BATCH]) -> DynArray[uint256, constants.MAX_BATCH]:
    """
    @notice The round ids `order_rounds` takes for consecutive orders of a
            queue, found on-chain (for Chainlink Automation, whose check sees
            no logs): each order's round, the first qualifying round of its
            phase; once its phase ended without one, a next-phase proof
            `last << 80 | round`; or, when none came by its expiry, the round
            that proves it void (its phase's last). Up to the first order that
            must wait (not included). The keeper's off-chain search
            (`inverse/orders.py`, `find_round`) with the predicates of the
            proof: a binary search within a phase, whose `updatedAt` and
            `startedAt` only grow, and for an order behind one that a round
            qualifies for, a walk forward from that round.
    @dev Each query's `round_id` is ignored. A phase's last round is found once
         per phase: the feed's latest for the current phase, else by doubling
         and bisecting. The first order of a round reads about log2 of its
         phase's rounds; one behind it, two or three.
    @param queries Each order's phase, T, request time and expiry, in queue order.
    @return DynArray[uint256, constants.MAX_BATCH] The round ids of the orders before the first that must wait.
    """
    found: DynArray[uint256, constants.MAX_BATCH] = []
    last_phase: uint256 = 0
    last: uint256 = 0
    searched: bool = False
    previous: uint256 = 0  # the round the order before qualifies for (0: none): this one's is no earlier
    for q: IOracle.RoundQuery in queries:
        if not searched or q.phase != last_phase:
            last = self._last_of_phase(q.phase)
            last_phase = q.phase
            searched = True
        ready: bool = False
        round_id: uint256 = 0
        ready, round_id = self._find_round(q, last, previous)
        if not ready:
            break
        found.append(round_id)
        previous = round_id & _ROUND_ID_MASK
        if not self._round_qualifies(previous, q):
            previous = 0  # a void proof names the last round, which the next order may not share
    return found


@internal
@view
def _order_round(q: IOracle.RoundQuery) -> Proof:
    """
    @dev `order_round`'s proof; on a fill, also the round's `startedAt`, for
         `order_rounds` to check later orders against the same round. A
         next-phase id (`q.round_id >> 80` not 0) is checked here first: its
         high part must be the order's phase's last round, which does not
         qualify; the proof then goes on with its low part, a round of the
         next phase, as if the order were of that phase.
    """
    round_id: uint256 = q.round_id
    phase: uint256 = q.phase
    # The round before `round_id` when it is its phase's first: the order's
    # phase's last round, on a next-phase proof (else none).
    before: uint256 = 0
    if round_id >> _NEXT_PHASE_OFFSET != 0:
        before = round_id >> _NEXT_PHASE_OFFSET
        round_id &= _ROUND_ID_MASK
        phase += 1
        assert q.phase != 0 and before >> _PHASE_OFFSET == q.phase, "oracle: round not in the order's phase"
        if not self._is_last_round(before, q.phase, q.expires_at):
            return self._proof(q, round_id, constants.ROUND_WAIT, 0, 0, 0)
    assert round_id >> _PHASE_OFFSET == phase, "oracle: round not in the order's phase"
    aggregator_round: uint256 = round_id & _AGGREGATOR_ROUND_MASK

    prev_exists: bool = False
    prev_answer: int256 = 0
    prev_started_at: uint256 = 0
    prev_updated_at: uint256 = 0
    if before & _AGGREGATOR_ROUND_MASK != 0:
        prev_exists, prev_answer, prev_started_at, prev_updated_at = self._round(before)
        assert prev_exists and not self._qualifies(
            prev_started_at, prev_updated_at, q.not_before, q.requested_at
        ), "oracle: not the order's round"

    exists: bool = True  # aggregator round 0: the phase's start
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    if aggregator_round != 0:
        exists, answer, started_at, updated_at = self._round(round_id)
        if not exists:
            return self._proof(q, round_id, constants.ROUND_WAIT, 0, 0, 0)

    if aggregator_round == 0 or not self._qualifies(started_at, updated_at, q.not_before, q.requested_at):
        # Any round after the phase's last one is published later, at
        # `updatedAt >= now`: past `expires_at`, no round of the phase can price it.
        if block.timestamp > q.expires_at and self._is_last_round(round_id, phase, q.expires_at):
            # Once the proxy has moved on, the order's round may be in the next
            # phase: only a next-phase proof shows that none came there either.
            assert before != 0 or phase == 0 or self._latest_phase() <= phase, "oracle: its phase ended: prove it in the next one"
            if aggregator_round == 0:
                answer = prev_answer  # the next phase has no round yet
                updated_at = prev_updated_at
            last_price: uint256 = 0
            last_at: uint256 = 0
            last_price, last_at = self._valid(answer, updated_at)
            return self._proof(q, round_id, constants.ROUND_VOID, last_price, last_at, 0)
        return self._proof(q, round_id, constants.ROUND_WAIT, 0, 0, 0)

    if aggregator_round > 1:
        prev_exists, prev_answer, prev_started_at, prev_updated_at = self._round(round_id - 1)
        assert not prev_exists or not self._qualifies(
            prev_started_at, prev_updated_at, q.not_before, q.requested_at
        ), "oracle: not the order's round"

    price: uint256 = 0
    price, updated_at = self._valid(answer, updated_at)
    if price != 0 and updated_at <= q.expires_at:
        return self._proof(q, round_id, constants.ROUND_FILL, price, updated_at, started_at)
    if not prev_exists:
        return self._proof(q, round_id, constants.ROUND_VOID, 0, 0, 0)
    price, updated_at = self._valid(prev_answer, prev_updated_at)
    return self._proof(q, round_id, constants.ROUND_VOID, price, updated_at, 0)


@internal
@view
def _find_round(q: IOracle.RoundQuery, last: uint256, at_least: uint256) -> (bool, uint256):
    """
    @dev `find_rounds` for one order, given its phase's last round: whether it
         need not wait, and the round id that proves it. `at_least`: a round no
         later than its own (the order before's), or 0.
    """
    if self._round_qualifies(last, q):
        return True, self._first_qualifying(q, q.phase, last, at_least)
    if q.phase != 0 and self._latest_phase() > q.phase:
        # The proxy moved on: the order's round may be in the next phase, once
        # its own phase is proven over.
        if not self._is_last_round(last, q.phase, q.expires_at):
            return False, 0
        phase: uint256 = q.phase + 1
        next_last: uint256 = self._last_of_phase(phase)
        if self._round_qualifies(next_last, q):
            return True, last << _NEXT_PHASE_OFFSET | self._first_qualifying(q, phase, next_last, at_least)
        if block.timestamp > q.expires_at and self._is_last_round(next_last, phase, q.expires_at):
            return True, last << _NEXT_PHASE_OFFSET | next_last  # none came there either: void
        return False, 0
    if block.timestamp > q.expires_at and self._is_last_round(last, q.phase, q.expires_at):
        return True, last  # none came by its expiry: void
    return False, 0


@internal
@view
def _first_qualifying(q: IOracle.RoundQuery, phase: uint256, last: uint256, at_least: uint256) -> uint256:
    """
    @dev The first round of `phase` that qualifies for `q`, given that `last`
         does: a few steps forward from `at_least` (orders behind each other
         mostly share a round or take the next), then a bisection between a
         round that does not qualify and one that does.
    """
    low: uint256 = phase << _PHASE_OFFSET  # the phase's start: never qualifies
    high: uint256 = last
    if at_least >> _PHASE_OFFSET == phase and at_least > low and at_least <= last:
        for i: uint256 in range(_WALK_STEPS):
            if self._round_qualifies(at_least, q):
                return at_least
            low = at_least
            at_least += 1  # <= last, which qualifies
    for i: uint256 in range(_PHASE_OFFSET):
        if high - low <= 1:
            break
        middle: uint256 = (low + high) // 2
        if self._round_qualifies(middle, q):
            high = middle
        else:
            low = middle
    return high


@internal
@view
def _last_of_phase(phase: uint256) -> uint256:
    """
    @dev The newest round id of `phase`: the feed's latest while the phase is
         current; else the last aggregator id that exists, by doubling then
         bisecting (its start, aggregator id 0, if it has none). 0 for phase 0,
         which has no rounds.
    """
    if phase == 0:
        return 0
    base: uint256 = phase << _PHASE_OFFSET
    if self._latest_phase() == phase:
        ok: bool = False
        latest_id: uint256 = 0
        unused_answer: int256 = 0
        unused_started: uint256 = 0
        unused_updated: uint256 = 0
        ok, latest_id, unused_answer, unused_started, unused_updated = self._read(feed, method_id("latestRoundData()"))
        if ok and latest_id >> _PHASE_OFFSET == phase and self._round_exists(latest_id):
            return latest_id
    high: uint256 = 1
    for i: uint256 in range(_PHASE_OFFSET - 1):
        if not self._round_exists(base + high):
            break
        high <<= 1
    low: uint256 = high >> 1  # exists (or 0: the phase's start)
    for i: uint256 in range(_PHASE_OFFSET):
        if high - low <= 1:
            break
        middle: uint256 = (low + high) // 2
        if self._round_exists(base + middle):
            low = middle
        else:
            high = middle
    return base + low


@internal
@view
def _round_exists(round_id: uint256) -> bool:
    if round_id & _AGGREGATOR_ROUND_MASK == 0:
        return True  # a phase's start
    exists: bool = False
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    exists, answer, started_at, updated_at = self._round(round_id)
    return exists


@internal
@view
def _round_qualifies(round_id: uint256, q: IOracle.RoundQuery) -> bool:
    """
    @dev Whether round `round_id` exists and may price `q` (a phase's start never does).
    """
    if round_id & _AGGREGATOR_ROUND_MASK == 0:
        return False
    exists: bool = False
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    exists, answer, started_at, updated_at = self._round(round_id)
    return exists and self._qualifies(started_at, updated_at, q.not_before, q.requested_at)


@internal
@view
def _latest_phase() -> uint256:
    """
    @dev The proxy's current phase (`phaseId()`, else its latest round's); 0 if
         it cannot say. As the order book reads it: an answer past 16 bits is
         no answer, and a failed read that left under 1/32 of the gas it started
         with may have run out of gas, so it reverts rather than let the gas a
         settler sends decide.
    """
    gas_before: uint256 = msg.gas
    ok: bool = False
    response: Bytes[32] = b""
    ok, response = raw_call(feed, method_id("phaseId()"), max_outsize=32, is_static_call=True, revert_on_failure=False)
    if ok and len(response) == 32:
        phase: uint256 = abi_decode(response, uint256)
        if phase < 2**16:
            return phase
    assert ok or msg.gas > gas_before // 32, "oracle: out of gas"
    latest_id: uint256 = 0
    unused_answer: int256 = 0
    unused_started: uint256 = 0
    unused_updated: uint256 = 0
    ok, latest_id, unused_answer, unused_started, unused_updated = self._read(feed, method_id("latestRoundData()"))
    return latest_id >> _PHASE_OFFSET if ok else 0


@internal
@pure
def _proof(
    q: IOracle.RoundQuery, round_id: uint256, outcome: uint8, price: uint256, updated_at: uint256, started_at: uint256
) -> Proof:
    return Proof(
        query=q,
        answer=IOracle.Pricing(outcome=outcome, round_id=round_id, price=price, at=updated_at),
        started_at=started_at,
    )


@internal
@view
def _is_last_round(round_id: uint256, phase: uint256, expires_at: uint256) -> bool:
    """
    @dev Whether `round_id` is its phase's last round. While the phase is the
         feed's current one, only the feed's latest round is, so a failing read
         of the next round (a feed down for a while) never passes for a missing
         one. Once the proxy has moved to a later phase, the old aggregator's
         answer for the next round is final. A feed whose latest round cannot
         be read (the read fails, or the round is unfinished) counts as gone
         only `DEAD_FEED_GRACE` after the expiry:
         a dead feed must not hold the queue forever, and by then the order's
         round (if any) had a day to be settled.
    """
    if phase == 0:
        return True  # the feed could not say its phase at the request: no round can price it
    ok: bool = False
    latest_id: uint256 = 0
    unused_answer: int256 = 0
    unused_started: uint256 = 0
    unused_updated: uint256 = 0
    ok, latest_id, unused_answer, unused_started, unused_updated = self._read(
        feed, method_id("latestRoundData()")
    )
    if ok and latest_id >> _PHASE_OFFSET == phase:
        if latest_id == round_id:
            return True
        latest_exists: bool = False
        latest_answer: int256 = 0
        latest_started: uint256 = 0
        latest_updated: uint256 = 0
        latest_exists, latest_answer, latest_started, latest_updated = self._round(latest_id)
        if latest_exists:
            return False  # a later round exists: name it
        ok = False  # a latest round that cannot be read (unfinished): as a feed that cannot answer
    if not ok and block.timestamp <= expires_at + DEAD_FEED_GRACE:
        return False
    next_exists: bool = False
    next_answer: int256 = 0
    next_started_at: uint256 = 0
    next_updated_at: uint256 = 0
    next_exists, next_answer, next_started_at, next_updated_at = self._round(round_id + 1)
    return not next_exists


@internal
@view
def _valid(answer: int256, updated_at: uint256) -> (uint256, uint256):
    """
    @dev A round's price as a WAD and its `updatedAt`, or (0, 0) if it is
         invalid on its own data (non-positive, or above the largest price).
    """
    if answer <= 0 or convert(answer, uint256) > constants.MAX_PRICE // _TO_WAD:
        return 0, 0
    return convert(answer, uint256) * _TO_WAD, updated_at


@internal
@view
def _checked_latest() -> (uint256, uint256, uint256):
    """
    @dev The checks of `price()` and `latest()`: the latest answer as a WAD, its
         `updatedAt` and its round id, or a revert with an `oracle: ...` reason.
    """
    if sequencer_feed != empty(address):
        status_round: uint256 = 0
        status: int256 = 0
        status_since: uint256 = 0
        unused: uint256 = 0
        status_round, status, status_since, unused = self._latest(sequencer_feed)
        # Chainlink's uptime feed: 0 = up, 1 = down; startedAt = when it changed.
        assert status == 0, "oracle: sequencer down"
        assert status_since != 0, "oracle: sequencer status unknown"
        assert status_since <= block.timestamp, "oracle: sequencer status in the future"
        assert block.timestamp - status_since > grace_period, "oracle: sequencer grace period"

    round_id: uint256 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    round_id, answer, started_at, updated_at = self._latest(feed)
    assert answer > 0, "oracle: non-positive price"
    assert convert(answer, uint256) <= constants.MAX_PRICE // _TO_WAD, "oracle: price too large"
    assert updated_at != 0, "oracle: incomplete round"
    assert updated_at <= block.timestamp, "oracle: future timestamp"
    assert block.timestamp - updated_at <= max_age, "oracle: stale price"
    return convert(answer, uint256) * _TO_WAD, updated_at, round_id


@internal
@view
def _latest(aggregator: address) -> (uint256, int256, uint256, uint256):
    """
    @dev Reads `latestRoundData` (roundId, answer, startedAt, updatedAt) so that a
         feed which reverts, or answers garbage, gives `oracle: feed unavailable`
         instead of an empty revert.
    """
    ok: bool = False
    round_id: uint256 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    ok, round_id, answer, started_at, updated_at = self._read(aggregator, method_id("latestRoundData()"))
    assert ok, "oracle: feed unavailable"
    return round_id, answer, started_at, updated_at


@internal
@view
def _round(round_id: uint256) -> (bool, int256, uint256, uint256):
    """
    @dev Reads round `round_id` of the feed: whether it exists (answered with
         `0 < updatedAt <= now`; a revert, a short answer or zeros mean it does
         not), then answer, startedAt and updatedAt.
    """
    ok: bool = False
    unused: uint256 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    ok, unused, answer, started_at, updated_at = self._read(
        feed, abi_encode(round_id, method_id=method_id("getRoundData(uint80)"))
    )
    return ok and updated_at != 0 and updated_at <= block.timestamp, answer, started_at, updated_at


@internal
@pure
def _qualifies(started_at: uint256, updated_at: uint256, not_before: uint256, requested_at: uint256) -> bool:
    """
    @dev Whether an existing round may price an order: published at or after
         `not_before`, observed (if the feed says when) at or after `requested_at`.
    """
    return updated_at >= not_before and (started_at == 0 or started_at >= requested_at)


@internal
@view
def _read(aggregator: address, data: Bytes[36]) -> (bool, uint256, int256, uint256, uint256):
    """
    @dev Calls `latestRoundData()` or `getRoundData(uint80)` (`data`) without
         reverting: whether it answered five words, then roundId, answer,
         startedAt and updatedAt (every word decoded as 256 bits, so no answer
         makes the decoding revert). A failed call that left less than 1/32 of
         the gas it started with may have run out of gas (the callee gets 63/64
         of it, and each nested call 63/64 of that): it reverts `oracle: out of
         gas` rather than pass for a feed's failure.
    """
    gas_before: uint256 = msg.gas
    ok: bool = False
    response: Bytes[_ROUND_DATA_SIZE] = b""
    ok, response = raw_call(
        aggregator,
        data,
        max_outsize=_ROUND_DATA_SIZE,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok:
        assert msg.gas > gas_before // 32, "oracle: out of gas"
        return False, 0, 0, 0, 0
    if len(response) != _ROUND_DATA_SIZE:
        return False, 0, 0, 0, 0
    round_id: uint256 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answered_in_round: uint256 = 0
    round_id, answer, started_at, updated_at, answered_in_round = abi_decode(
        response, (uint256, int256, uint256, uint256, uint256)
    )
    return True, round_id, answer, started_at, updated_at
