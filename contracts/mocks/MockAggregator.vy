# pragma version 0.4.3
"""
@title Mock Chainlink aggregator (test only)
@license MIT
@notice Behaves like a Chainlink `AggregatorV3Interface` feed, faults included:
        the test sets any answer (zero, negative), any timestamps (stale, future,
        incomplete round) and can make every read revert. Serves as an L2
        sequencer uptime feed too (answer 0 = up, 1 = down; startedAt = since).
@custom:security Anyone can set the answer: never deploy outside tests and demos.
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

# Round data by round id, like the real feed keeps history.
struct Round:
    answer: int256
    started_at: uint256
    updated_at: uint256

# Every round set so far.
rounds: HashMap[uint80, Round]

# The latest round id.
latest_round: public(uint80)

# When True every read reverts, like a paused or deprecated feed.
reverting: public(bool)


@deploy
def __init__(decimals_: uint8, description_: String[64], initial_answer: int256):
    decimals = decimals_
    description = description_
    self._set_round(1, initial_answer, block.timestamp, block.timestamp)


@external
def set_answer(answer: int256):
    """
    @notice A new round with `answer`, started and updated now.
    """
    self._set_round(self.latest_round + 1, answer, block.timestamp, block.timestamp)


@external
def set_round(round_id: uint80, answer: int256, started_at: uint256, updated_at: uint256):
    """
    @notice A round with any data at all (faults included); becomes the latest.
    """
    self._set_round(round_id, answer, started_at, updated_at)


@external
def set_reverting(reverting: bool):
    """
    @notice Makes every read revert (True) or work again (False).
    """
    self.reverting = reverting


@external
@view
def getRoundData(round_id: uint80) -> (uint80, int256, uint256, uint256, uint80):
    assert not self.reverting, "mock: feed reverted"
    r: Round = self.rounds[round_id]
    assert r.updated_at != 0 or r.answer != 0, "mock: no data for round"
    return round_id, r.answer, r.started_at, r.updated_at, round_id


@external
@view
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    assert not self.reverting, "mock: feed reverted"
    round_id: uint80 = self.latest_round
    r: Round = self.rounds[round_id]
    return round_id, r.answer, r.started_at, r.updated_at, round_id


@internal
def _set_round(round_id: uint80, answer: int256, started_at: uint256, updated_at: uint256):
    self.rounds[round_id] = Round(answer=answer, started_at=started_at, updated_at=updated_at)
    self.latest_round = round_id
