# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Chainlink price adapter
@license MIT
@author Inverse token contributors
@notice Reads a Chainlink `AggregatorV3Interface` feed and returns its answer as a
        WAD, or reverts with a clear reason when the answer cannot be trusted:
        non-positive, absurdly large, from an unfinished round, from the future, older than
        `max_age`, or, when an L2 sequencer uptime feed is configured, while the
        sequencer is down or inside the grace period after it came back.
@custom:security Trusts the Chainlink feed (and the sequencer uptime feed, if any)
        to report honest answers; everything else is checked here.
@custom:kill No state and no owner: stop using it by shutting down the pools that
        read it (their shutdown works with a dead oracle).
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

# Size of an ABI-encoded `latestRoundData()` answer: five words.
_ROUND_DATA_SIZE: constant(uint256) = 160


@deploy
def __init__(feed_: address, max_age_: uint256, sequencer_feed_: address, grace_period_: uint256):
    """
    @notice Binds the adapter to a feed; reads and stores its decimals.
    @param feed_ The Chainlink aggregator (or proxy) to read.
    @param max_age_ Oldest accepted answer in seconds (heartbeat plus margin).
    @param sequencer_feed_ The L2 sequencer uptime feed, or the zero address.
    @param grace_period_ Seconds to wait after the sequencer is back up.
    """
    assert feed_ != empty(address), "oracle: zero feed"
    assert max_age_ != 0, "oracle: zero max age"
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
    if sequencer_feed != empty(address):
        status: int256 = 0
        status_since: uint256 = 0
        unused: uint256 = 0
        status, status_since, unused = self._latest(sequencer_feed)
        # Chainlink's uptime feed: 0 = up, 1 = down; startedAt = when it changed.
        assert status == 0, "oracle: sequencer down"
        assert status_since != 0, "oracle: sequencer status unknown"
        assert block.timestamp - status_since > grace_period, "oracle: sequencer grace period"

    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answer, started_at, updated_at = self._latest(feed)
    assert answer > 0, "oracle: non-positive price"
    assert convert(answer, uint256) <= constants.MAX_PRICE // _TO_WAD, "oracle: price too large"
    assert updated_at != 0, "oracle: incomplete round"
    assert updated_at <= block.timestamp, "oracle: future timestamp"
    assert block.timestamp - updated_at <= max_age, "oracle: stale price"
    return convert(answer, uint256) * _TO_WAD


@internal
@view
def _latest(aggregator: address) -> (int256, uint256, uint256):
    """
    @dev Reads `latestRoundData` (answer, startedAt, updatedAt) so that a feed
         which reverts, or answers garbage, gives `oracle: feed unavailable`
         instead of an empty revert.
    """
    ok: bool = False
    response: Bytes[_ROUND_DATA_SIZE] = b""
    ok, response = raw_call(
        aggregator,
        method_id("latestRoundData()"),
        max_outsize=_ROUND_DATA_SIZE,
        is_static_call=True,
        revert_on_failure=False,
    )
    assert ok and len(response) == _ROUND_DATA_SIZE, "oracle: feed unavailable"
    round_id: uint80 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answered_in_round: uint80 = 0
    round_id, answer, started_at, updated_at, answered_in_round = abi_decode(
        response, (uint80, int256, uint256, uint256, uint80)
    )
    return answer, started_at, updated_at
