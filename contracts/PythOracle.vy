# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Pyth price adapter (pull oracle)
@license MIT
@author Inverse token contributors
@notice Reads one Pyth price feed and returns prices as WADs. `price()` gives
        the price last brought on-chain if it is valid and no older than
        `max_age`. `first_price()` proves the price that settles something
        due at a time T: Pyth's `parsePriceFeedUpdatesUnique(data, [id], T,
        2**64 - 1)` accepts an update only if it was published at or after T
        and the feed's previous price before T, so the one price it can return
        is the first published at or after T: whoever brings it gets the same
        answer (SPEC 3b). That price fills when it is valid on its own data
        (positive, within `MAX_PRICE`, a confidence interval no wider than
        `max_confidence` of the price, an exponent in [-36, 18]) and was
        published by `expires_at`; otherwise the thing it prices is void.
@custom:security Trusts Pyth's contract (an upgradeable proxy under Pyth's
        governance) to verify updates (Wormhole's guardian signatures over
        Pythnet's prices) and to report `prevPublishTime` honestly; everything
        else is checked here. A proof needs an update that still verifies:
        Hermes keeps their history, and Wormhole stops accepting an old guardian
        set's signatures about a day after it rotates, so a caller must not rely
        on proving a price long after it; a book needs a fallback for a price
        that cannot be proven. The caller pays exactly Pyth's update fee.
@custom:kill No state and no owner: stop using it by shutting down the pools that
        read it.
"""

from .interfaces import IPyth
from . import constants

# Pyth's contract on this chain.
pyth: public(immutable(IPyth))

# The feed's price id (the same on every chain), e.g. ETH/USD.
price_id: public(immutable(bytes32))

# Oldest price (seconds) `price()` accepts.
max_age: public(immutable(uint256))

# Widest confidence interval accepted, as a WAD fraction of the price.
max_confidence: public(immutable(uint256))

# Exponents a price may have: 10**-36 to 10**18 per unit.
_MIN_EXPO: constant(int32) = -36
_MAX_EXPO: constant(int32) = 18
# Pyth's publish times are uint64.
_MAX_TIME: constant(uint256) = 2**64 - 1


@deploy
def __init__(pyth_: IPyth, price_id_: bytes32, max_age_: uint256, max_confidence_: uint256):
    """
    @param pyth_ Pyth's contract.
    @param price_id_ The feed's price id.
    @param max_age_ Oldest price `price()` accepts, in seconds (1 s to 2 days).
    @param max_confidence_ Widest confidence interval accepted (WAD, up to 10%).
    """
    assert pyth_.address.is_contract, "oracle: pyth is not a contract"
    assert price_id_ != empty(bytes32), "oracle: zero price id"
    assert max_age_ != 0 and max_age_ <= 2 * constants.DAY, "oracle: max age out of bounds"
    assert max_confidence_ != 0 and max_confidence_ <= constants.WAD // 10, "oracle: max confidence out of bounds"
    pyth = pyth_
    price_id = price_id_
    max_age = max_age_
    max_confidence = max_confidence_


@external
@view
def price() -> uint256:
    """
    @notice The feed's price on Pyth's contract as a WAD, if no older than
            `max_age` and valid on its own data.
    @dev Reverts with Pyth's error (no price, stale) or an `oracle: ...` reason.
         `parsePriceFeedUpdatesUnique` stores nothing: on a pull market this
         moves only when someone calls Pyth's `updatePriceFeeds`.
    @return uint256 The price, 18 decimals.
    """
    p: IPyth.Price = staticcall pyth.getPriceNoOlderThan(price_id, max_age)
    # Pyth takes `max_age` either way; a price from the future is not one to act on.
    assert p.publishTime <= block.timestamp, "oracle: price from the future"
    wad: uint256 = self._wad(p)
    assert wad != 0, "oracle: invalid price"
    return wad


@external
@payable
def first_price(
    update_data: DynArray[Bytes[constants.PYTH_MAX_UPDATE_BYTES], constants.PYTH_MAX_UPDATES],
    not_before: uint256,
    expires_at: uint256,
) -> (uint8, uint256, uint256):
    """
    @notice The first price published at or after `not_before`, proven by Pyth
            from `update_data`: FILL at it (WAD) if it is valid and was
            published by `expires_at`, else VOID (price 0).
    @dev Reverts with Pyth's error if the data does not hold that price
         (`PriceFeedNotFoundWithinRange()`: a later price, another feed) or
         the fee sent is short (`InsufficientFee()`).
    @param update_data Pyth update data (from Hermes: the first update at or after `not_before`).
    @param not_before T: the earliest publish time that may price it.
    @param expires_at The latest publish time that may fill it.
    @return uint8 ROUND_FILL or ROUND_VOID.
    @return uint256 The price (WAD), 0 when void.
    @return uint256 Its publish time; when void, no later than `expires_at`
            (a late update's time is no time to book anything at).
    """
    assert not_before != 0 and not_before <= expires_at, "oracle: bad time range"
    assert expires_at <= _MAX_TIME, "oracle: time out of range"
    # Exactly the fee: Pyth keeps whatever is paid above it.
    assert msg.value == staticcall pyth.getUpdateFee(update_data), "oracle: pay exactly the update fee"
    feeds: DynArray[IPyth.PriceFeed, constants.PYTH_MAX_PRICE_IDS] = extcall pyth.parsePriceFeedUpdatesUnique(
        update_data, [price_id], convert(not_before, uint64), max_value(uint64), value=msg.value
    )
    # Pyth answers one feed per id asked, or reverts; an empty answer proves nothing.
    assert len(feeds) == 1 and feeds[0].id == price_id, "oracle: not the feed's price"
    p: IPyth.Price = feeds[0].price
    wad: uint256 = self._wad(p)
    if wad == 0 or p.publishTime > expires_at:
        return constants.ROUND_VOID, 0, min(p.publishTime, expires_at)
    return constants.ROUND_FILL, wad, p.publishTime


@internal
@view
def _wad(p: IPyth.Price) -> uint256:
    """
    @dev `price * 10**expo` as a WAD, or 0 when it is invalid on its own data.
    """
    if p.price <= 0 or p.expo < _MIN_EXPO or p.expo > _MAX_EXPO:
        return 0
    raw: uint256 = convert(p.price, uint256)
    # conf / price above max_confidence: too uncertain to price anything.
    if convert(p.conf, uint256) * constants.WAD > max_confidence * raw:
        return 0
    wad: uint256 = 0
    if p.expo >= -18:
        wad = raw * 10 ** convert(convert(p.expo + 18, int256), uint256)
    else:
        wad = raw // 10 ** convert(convert(-18 - p.expo, int256), uint256)
    if wad > constants.MAX_PRICE:
        return 0
    return wad
