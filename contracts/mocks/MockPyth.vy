# pragma version 0.4.3
"""
@title Mock Pyth contract (test only)
@license MIT
@notice Behaves like Pyth's on-chain contract for what this project calls (the real
        function names, selectors, structs, update fee and custom errors; see
        `IPyth.vyi`), with updates signed by one test signer instead of Wormhole's
        guardians. An update is 352 bytes, each word ABI-encoded:

            id, price, conf, expo, publish_time, prev_publish_time, ema_price,
            ema_conf, v, r, s

        where (v, r, s) signs keccak256 of the first 256 bytes (the local price
        service, `inverse/pyth.py`, makes them). As on Pyth:
        `parsePriceFeedUpdatesUnique` returns, for each requested id, the update
        with `minPublishTime <= publishTime <= maxPublishTime` whose previous
        price was published before `minPublishTime` (the first one at or after
        it), and reverts `PriceFeedNotFoundWithinRange()` if there is none (a
        later update, one out of range, another feed's); every update must be
        signed (`InvalidUpdateData()`), the fee paid (`InsufficientFee()`);
        `getPriceNoOlderThan` reverts `StalePrice()` for a price further than
        `age` from now, either way.
@custom:security A test double: the signer's key is public (the test mnemonic).
        `set_fee` is open to the deployer only, so a test can raise the fee.
        Never deploy outside tests and demos.
@custom:kill Not needed: a test double.
"""

from ..interfaces import IPyth
from .. import constants

implements: IPyth

# Whose signature makes an update valid (Wormhole's guardians, on Pyth).
signer: public(immutable(address))

# Who may change the fee.
_DEPLOYER: immutable(address)

# Wei per update, as `getUpdateFee` charges (1 wei on most chains).
fee: public(uint256)

# The latest price `updatePriceFeeds` stored, per feed id.
_latest: HashMap[bytes32, IPyth.PriceFeed]

_UPDATE_BYTES: constant(uint256) = 352
_SIGNED_BYTES: constant(uint256) = 256
_INT64_MIN: constant(int256) = -(2**63)
_INT64_MAX: constant(int256) = 2**63 - 1
_INT32_MIN: constant(int256) = -(2**31)
_INT32_MAX: constant(int256) = 2**31 - 1
_UINT64_MAX: constant(uint256) = 2**64 - 1
# secp256k1's n / 2: a signature with a higher s is the same one mirrored (malleable).
_HALF_CURVE_ORDER: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168


# An update, decoded and its signature checked.
struct Update:
    feed: IPyth.PriceFeed
    prev_publish_time: uint256


@deploy
def __init__(signer_: address, fee_: uint256):
    """
    @param signer_ The test signer whose updates are valid.
    @param fee_ Wei per update.
    """
    signer = signer_
    _DEPLOYER = msg.sender
    self.fee = fee_


@external
def set_fee(new_fee: uint256):
    """
    @notice Sets the fee per update (the deployer only).
    @param new_fee Wei per update.
    """
    assert msg.sender == _DEPLOYER, "mock pyth: caller is not the deployer"
    self.fee = new_fee


@external
@view
def getUpdateFee(updateData: DynArray[Bytes[constants.PYTH_MAX_UPDATE_BYTES], constants.PYTH_MAX_UPDATES]) -> uint256:
    """
    @notice The fee for these updates.
    @param updateData The updates.
    @return uint256 Wei.
    """
    return self.fee * len(updateData)


@external
@payable
def updatePriceFeeds(updateData: DynArray[Bytes[constants.PYTH_MAX_UPDATE_BYTES], constants.PYTH_MAX_UPDATES]):
    """
    @notice Stores each update's price where it is newer than the stored one.
    @param updateData Signed updates.
    """
    updates: DynArray[Update, constants.PYTH_MAX_UPDATES] = []
    for data: Bytes[constants.PYTH_MAX_UPDATE_BYTES] in updateData:
        updates.append(self._decode(data))
    self._check_fee(msg.value, len(updateData))
    for update: Update in updates:
        if update.feed.price.publishTime > self._latest[update.feed.id].price.publishTime:
            self._latest[update.feed.id] = update.feed


@external
@payable
def parsePriceFeedUpdatesUnique(
    updateData: DynArray[Bytes[constants.PYTH_MAX_UPDATE_BYTES], constants.PYTH_MAX_UPDATES],
    priceIds: DynArray[bytes32, constants.PYTH_MAX_PRICE_IDS],
    minPublishTime: uint64,
    maxPublishTime: uint64,
) -> DynArray[IPyth.PriceFeed, constants.PYTH_MAX_PRICE_IDS]:
    """
    @notice For each id, the first price published at or after `minPublishTime`,
            if the updates hold it and it is no later than `maxPublishTime`.
    @param updateData Signed updates.
    @param priceIds The feeds wanted.
    @param minPublishTime The earliest publish time accepted.
    @param maxPublishTime The latest publish time accepted.
    @return DynArray[IPyth.PriceFeed, constants.PYTH_MAX_PRICE_IDS] One per id, in order.
    """
    updates: DynArray[Update, constants.PYTH_MAX_UPDATES] = []
    for data: Bytes[constants.PYTH_MAX_UPDATE_BYTES] in updateData:
        updates.append(self._decode(data))
    self._check_fee(msg.value, len(updateData))
    low: uint256 = convert(minPublishTime, uint256)
    high: uint256 = convert(maxPublishTime, uint256)
    feeds: DynArray[IPyth.PriceFeed, constants.PYTH_MAX_PRICE_IDS] = []
    for id: bytes32 in priceIds:
        # As on Pyth, an id asked twice finds nothing the second time.
        for feed: IPyth.PriceFeed in feeds:
            if feed.id == id:
                raw_revert(method_id("PriceFeedNotFoundWithinRange()"))
        found: bool = False
        for update: Update in updates:
            t: uint256 = update.feed.price.publishTime
            if update.feed.id == id and low <= t and t <= high and update.prev_publish_time < low:
                feeds.append(update.feed)
                found = True
                break
        if not found:
            raw_revert(method_id("PriceFeedNotFoundWithinRange()"))
    return feeds


@external
@view
def getPriceUnsafe(id: bytes32) -> IPyth.Price:
    """
    @notice The stored price, however old.
    @param id The feed.
    @return IPyth.Price The price.
    """
    price: IPyth.Price = self._latest[id].price
    if price.publishTime == 0:
        raw_revert(method_id("PriceFeedNotFound()"))
    return price


@external
@view
def getPriceNoOlderThan(id: bytes32, age: uint256) -> IPyth.Price:
    """
    @notice The stored price, if published within `age` seconds of now (either way).
    @param id The feed.
    @param age Seconds.
    @return IPyth.Price The price.
    """
    price: IPyth.Price = self._latest[id].price
    if price.publishTime == 0:
        raw_revert(method_id("PriceFeedNotFound()"))
    t: uint256 = price.publishTime
    if max(t, block.timestamp) - min(t, block.timestamp) > age:
        raw_revert(method_id("StalePrice()"))
    return price


@internal
@view
def _check_fee(paid: uint256, updates: uint256):
    if paid < self.fee * updates:
        raw_revert(method_id("InsufficientFee()"))


@internal
@view
def _decode(data: Bytes[constants.PYTH_MAX_UPDATE_BYTES]) -> Update:
    """
    @dev An update, or `InvalidUpdateData()` if it is malformed or not signed by
         the signer. Every word is read as 256 bits and range-checked here, so
         any tampering ends in that error.
    """
    if len(data) != _UPDATE_BYTES:
        raw_revert(method_id("InvalidUpdateData()"))
    id: bytes32 = empty(bytes32)
    price: int256 = 0
    conf: uint256 = 0
    expo: int256 = 0
    publish_time: uint256 = 0
    prev_publish_time: uint256 = 0
    ema_price: int256 = 0
    ema_conf: uint256 = 0
    v: uint256 = 0
    r: bytes32 = empty(bytes32)
    s: bytes32 = empty(bytes32)
    id, price, conf, expo, publish_time, prev_publish_time, ema_price, ema_conf, v, r, s = abi_decode(
        data,
        (bytes32, int256, uint256, int256, uint256, uint256, int256, uint256, uint256, bytes32, bytes32),
    )
    digest: bytes32 = keccak256(slice(data, 0, _SIGNED_BYTES))
    in_range: bool = (
        price >= _INT64_MIN
        and price <= _INT64_MAX
        and ema_price >= _INT64_MIN
        and ema_price <= _INT64_MAX
        and conf <= _UINT64_MAX
        and ema_conf <= _UINT64_MAX
        and expo >= _INT32_MIN
        and expo <= _INT32_MAX
        and publish_time <= _UINT64_MAX
        and prev_publish_time <= _UINT64_MAX
        and (v == 27 or v == 28)
        and convert(s, uint256) <= _HALF_CURVE_ORDER
    )
    if not in_range or ecrecover(digest, v, r, s) != signer or signer == empty(address):
        raw_revert(method_id("InvalidUpdateData()"))
    e: int32 = convert(expo, int32)
    return Update(
        feed=IPyth.PriceFeed(
            id=id,
            price=IPyth.Price(
                price=convert(price, int64), conf=convert(conf, uint64), expo=e, publishTime=publish_time
            ),
            emaPrice=IPyth.Price(
                price=convert(ema_price, int64), conf=convert(ema_conf, uint64), expo=e, publishTime=publish_time
            ),
        ),
        prev_publish_time=prev_publish_time,
    )
