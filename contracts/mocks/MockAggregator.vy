# pragma version 0.4.3
"""
@title Mock Chainlink aggregator proxy (test only)
@license MIT
@notice Behaves like a Chainlink `AggregatorV3Interface` proxy, faults included.
        Round ids are proxy-shaped, `phaseId << 64 | aggregatorRoundId`; phases
        start at 1 and the first round is `(1 << 64) | 1`. `latestRoundData()`
        answers the latest round; `getRoundData()` answers any phase's rounds
        (an old phase's aggregator keeps answering after a phase change) and,
        for a round that does not exist, reverts `mock: no data for round` (as
        OCR1 aggregators do: "No data present") or, after
        `set_missing_round_answers_zeros(True)`, answers all zeros (as OCR2
        aggregators do). The test sets any answer (zero, negative), any
        timestamps (stale, future, incomplete round, a transmission held in the
        mempool with `startedAt` well before `updatedAt`), starts new phases and
        can make every read revert. Serves as an L2 sequencer uptime feed too
        (answer 0 = up, 1 = down; startedAt = since), through `set_round`.
@custom:security Every mutating function is open to anyone, by design: a test
        double. Never deploy outside tests and demos.
@custom:kill Not needed: a test double.
"""

from ..interfaces import IAggregatorV3

implements: IAggregatorV3

# Answer decimals, like the real feed's (8 for USD pairs).
decimals: public(immutable(uint8))

# Human-readable pair, e.g. "ETH / USD".
description: public(immutable(String[64]))

# Aggregator version, as Chainlink reports it.
version: public(constant(uint256)) = 4

# A proxy round id is `phaseId << 64 | aggregatorRoundId`.
_PHASE_OFFSET: constant(uint256) = 64
_PHASE_ID_REVERTS: constant(uint256) = 1 << 16
_PHASE_AND_FLAG: constant(uint256) = 2**17 - 1

# Loop bound for `read_gas` (a few tens of gas a step).
_MAX_BURN_STEPS: constant(uint256) = 100_000

# Round data by proxy round id, like the real feed keeps history.
struct Round:
    answer: int256
    started_at: uint256
    updated_at: uint256
    exists: bool

# Every round written so far.
rounds: HashMap[uint256, Round]

# The latest round id (proxy id): what `latestRoundData()` answers.
latest_round: public(uint80)

# Latest proxy round id of each phase: the next round of a phase follows it.
phase_latest: public(HashMap[uint256, uint256])

# The current phase (`phaseId()`, bits 0-15), whether `phaseId()` alone reverts
# (bit 16) and the extra gas every read burns (`read_gas`, bits 17-255): one
# word, so `phaseId()` reads one slot as a proxy does.
_phase_word: uint256

# When True every read reverts, like a paused or deprecated feed.
reverting: public(bool)

# When True `getRoundData` answers zeros for a missing round instead of reverting.
missing_round_answers_zeros: public(bool)


@deploy
def __init__(decimals_: uint8, description_: String[64], initial_answer: int256):
    """
    @notice Phase 1 with its first round, `(1 << 64) | 1`, answered now.
    """
    decimals = decimals_
    description = description_
    self._phase_word = 1
    self._set_round((1 << _PHASE_OFFSET) | 1, initial_answer, block.timestamp, block.timestamp)


@external
def set_answer(answer: int256):
    """
    @notice Open to anyone (test double). A new round of the current phase
            (after its latest) with `answer`, started and updated now.
    """
    self._push_round(self._phase_word & 65535, answer, block.timestamp, block.timestamp)


@external
def push_round(answer: int256, started_at: uint256, updated_at: uint256):
    """
    @notice Open to anyone (test double). The next round of the current phase,
            with any data: a transmission held in the mempool has `startedAt`
            well before `updatedAt`; an invalid round has `answer <= 0`.
    """
    self._push_round(self._phase_word & 65535, answer, started_at, updated_at)


@external
def push_round_in_phase(phase: uint256, answer: int256, started_at: uint256, updated_at: uint256):
    """
    @notice Open to anyone (test double). The aggregator of `phase` publishes
            its next round. For an old phase the feed's latest round is
            unchanged (the proxy no longer points to that aggregator), but
            `getRoundData` answers the new round.
    """
    assert phase != 0 and phase <= self._phase_word & 65535, "mock: no such phase"
    self._push_round(phase, answer, started_at, updated_at)


@external
def new_phase(answer: int256):
    """
    @notice Open to anyone (test double). The proxy moves to a new aggregator:
            phase + 1, whose first round (aggregator id 1) answers `answer` now.
            The old phases' rounds stay readable.
    """
    self._phase_word += 1
    self._set_round(
        ((self._phase_word & 65535) << _PHASE_OFFSET) | 1, answer, block.timestamp, block.timestamp
    )


@external
def set_round(round_id: uint80, answer: int256, started_at: uint256, updated_at: uint256):
    """
    @notice Open to anyone (test double). A round with any data at all (faults
            included) at exactly `round_id`; it becomes the feed's latest round
            and its phase's latest. The current phase does not change, so a
            `set_answer` after it continues from the current phase's latest + 1.
    """
    self._set_round(convert(round_id, uint256), answer, started_at, updated_at)


@external
def set_reverting(reverting: bool):
    """
    @notice Open to anyone (test double). Makes every read (`latestRoundData`,
            `getRoundData`, `phaseId`) revert (True) or work again (False).
    """
    self.reverting = reverting


@external
def set_phase_id_reverting(reverting: bool):
    """
    @notice Open to anyone (test double). Makes `phaseId()` alone revert (True),
            while rounds still answer, or work again (False).
    """
    if reverting:
        self._phase_word |= _PHASE_ID_REVERTS
    else:
        self._phase_word &= ~_PHASE_ID_REVERTS


@external
def set_missing_round_answers_zeros(zeros: bool):
    """
    @notice Open to anyone (test double). For a round that does not exist,
            `getRoundData` answers all zeros (True) or reverts (False, default).
    """
    self.missing_round_answers_zeros = zeros


@external
def set_read_gas(read_gas: uint256):
    """
    @notice Open to anyone (test double). Makes every `getRoundData` and
            `phaseId` burn about `read_gas` more, like an aggregator behind a costlier proxy (to test how a
            caller tells a round that is missing from a read that ran out of gas).
    """
    assert read_gas < 2**200, "mock: read gas too large"
    self._phase_word = (self._phase_word & _PHASE_AND_FLAG) | read_gas << 17


@external
@view
def read_gas() -> uint256:
    """
    @notice Extra gas (about) that every `getRoundData` and `phaseId` burns.
    """
    return self._phase_word >> 17


@external
@view
def phaseId() -> uint16:
    """
    @notice The current phase, as a Chainlink proxy reports it.
    """
    assert not self.reverting, "mock: feed reverted"
    word: uint256 = self._phase_word
    assert word & _PHASE_ID_REVERTS == 0, "mock: phaseId reverted"
    self._burn(word >> 17)
    return convert(word & 65535, uint16)


@external
@view
def getRoundData(round_id: uint80) -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice Round `round_id` (proxy id) of any phase; a missing round reverts or
            answers zeros (see `set_missing_round_answers_zeros`).
    """
    assert not self.reverting, "mock: feed reverted"
    self._burn(self._phase_word >> 17)
    r: Round = self.rounds[convert(round_id, uint256)]
    if not r.exists:
        assert self.missing_round_answers_zeros, "mock: no data for round"
        return 0, 0, 0, 0, 0
    return round_id, r.answer, r.started_at, r.updated_at, round_id


@external
@view
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice The latest round, with its proxy id (answeredInRound = round id).
    """
    assert not self.reverting, "mock: feed reverted"
    round_id: uint80 = self.latest_round
    r: Round = self.rounds[convert(round_id, uint256)]
    return round_id, r.answer, r.started_at, r.updated_at, round_id


@internal
@view
def _burn(amount: uint256):
    start: uint256 = msg.gas
    for i: uint256 in range(_MAX_BURN_STEPS):
        if start - msg.gas >= amount:
            break


@internal
def _push_round(phase: uint256, answer: int256, started_at: uint256, updated_at: uint256):
    round_id: uint256 = self.phase_latest[phase] + 1
    if self.phase_latest[phase] == 0:
        round_id = (phase << _PHASE_OFFSET) | 1
    if phase == self._phase_word & 65535:
        self._set_round(round_id, answer, started_at, updated_at)
    else:
        self.rounds[round_id] = Round(answer=answer, started_at=started_at, updated_at=updated_at, exists=True)
        self.phase_latest[phase] = round_id


@internal
def _set_round(round_id: uint256, answer: int256, started_at: uint256, updated_at: uint256):
    self.rounds[round_id] = Round(answer=answer, started_at=started_at, updated_at=updated_at, exists=True)
    self.latest_round = convert(round_id, uint80)
    self.phase_latest[round_id >> _PHASE_OFFSET] = round_id
