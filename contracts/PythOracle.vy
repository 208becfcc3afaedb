# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Pyth price adapter (pull oracle)
@license MIT
@author Inverse token contributors
@notice Reads one Pyth price feed for the markets of a pull oracle (SPEC 3b)
        and returns prices as WADs. An order's price is the first Pyth price
        published at or after its T (a multiple of PULL_SLOT seconds): `prove`
        checks it with Pyth's `parsePriceFeedUpdatesUnique(data, [id], T,
        2**64 - 1)`, which accepts an update only if it was published at or
        after T and the feed's previous price before T, so the one price it can
        hold is the first at or after T, whoever brings it. The proven price is
        kept per slot; `order_rounds` answers the order book from it, once the
        chain's clock has reached T: FILL when it is valid on its own data
        (positive, within `MAX_PRICE`, a confidence interval no wider than
        `max_confidence` of the price, an exponent in [-36, 18]) and was
        published by the order's expiry; VOID otherwise (a late price still
        comes with it: a shutdown fixes its NAV there); and VOID without a price
        when no proof came by PULL_FALLBACK_GRACE after the expiry (the fallback
        when no price can be had; a proof brought later does not count, so
        nobody chooses between the two). Rebalances read `latest()`: the
        price of the newest slot proven with a valid price (the first at or
        after a multiple of PULL_SLOT), while that slot began less than
        PULL_REBALANCE_WINDOW before the block. It only moves forward, so a
        rebalance never goes back before a price an order settled at; the pool
        settles first every order whose T is at or before it. A rebalancer
        chooses when, and among the slots begun within the window and after the
        newest valid proof (at most 4), never an older price.
@custom:security Trusts Pyth's contract (an upgradeable proxy under Pyth's
        governance) to verify updates (Wormhole's guardian signatures over
        Pythnet's prices) and to report `prevPublishTime` honestly; everything
        else is checked here. Wormhole stops accepting an old guardian set's
        signatures about a day after it rotates, so a proof should come soon
        after its slot: the keeper brings it in the first block it can. Assumes
        the chain's clock is not behind Pyth's by more than a market's
        `min_delay` (else a price already published could price an order).
@custom:kill No owner; its proofs are facts about Pyth's history. Stop using it
        by shutting down the pools that read it.
"""

from .interfaces import IOracle
from .interfaces import IPullOracle
from .interfaces import IPyth
from . import constants

implements: IPullOracle

# Pyth's contract on this chain.
pyth: public(immutable(IPyth))

# The feed's price id (the same on every chain), e.g. ETH/USD.
price_id: public(immutable(bytes32))

# Oldest price (seconds) `price()` accepts; settlements and rebalances have rules of their own.
max_age: public(immutable(uint256))

# Widest confidence interval accepted, as a WAD fraction of the price.
max_confidence: public(immutable(uint256))

# Each proven slot's price: the first published at or after the slot's time, as
# its WAD (0 when invalid on its own data) << 128 | 1 << 127 if its confidence
# interval is too wide | the block time it was proven at << 64 | its publish
# time; 0 when not proven yet. Facts about Pyth's history: set once, never changed.
_proven: HashMap[uint256, uint256]

# The valid proof of the latest slot: its WAD << 128 | the slot << 64 | its
# publish time. What rebalances use while its slot is recent (PULL_REBALANCE_WINDOW).
_latest: uint256

# Exponents a price may have: 10**-36 to 10**18 per unit.
_MIN_EXPO: constant(int32) = -36
_MAX_EXPO: constant(int32) = 18
# Pyth's publish times are uint64.
_MAX_TIME: constant(uint256) = 2**64 - 1
_MASK_64: constant(uint256) = 2**64 - 1
# The proven-at time's field, below the flag of a too-wide confidence interval.
_MASK_64_LOW63: constant(uint256) = 2**63 - 1
_WIDE: constant(uint256) = 1 << 127
# Bounds of `max_confidence` (SPEC 7): 0.1% to 5% of the price.
_MIN_CONFIDENCE: constant(uint256) = constants.WAD // 1_000
_MAX_CONFIDENCE: constant(uint256) = constants.WAD // 20


event PriceProven:
    # The slot's time: the price is the first published at or after it.
    not_before: indexed(uint256)
    # The price as a WAD; 0 when invalid on its own data.
    price: uint256
    publish_time: uint256


@deploy
def __init__(pyth_: IPyth, price_id_: bytes32, max_age_: uint256, max_confidence_: uint256):
    """
    @param pyth_ Pyth's contract.
    @param price_id_ The feed's price id.
    @param max_age_ Oldest price `price()` accepts, in seconds (1 s to 1 hour).
    @param max_confidence_ Widest confidence interval accepted (WAD, 0.1% to 5%).
    """
    assert pyth_.address.is_contract, "oracle: pyth is not a contract"
    assert price_id_ != empty(bytes32), "oracle: zero price id"
    assert max_age_ != 0 and max_age_ <= 3_600, "oracle: max age out of bounds"
    assert max_confidence_ >= _MIN_CONFIDENCE and max_confidence_ <= _MAX_CONFIDENCE, "oracle: max confidence out of bounds"
    pyth = pyth_
    price_id = price_id_
    max_age = max_age_
    max_confidence = max_confidence_


@external
@payable
def prove(updates: DynArray[IPullOracle.PullUpdate, constants.PULL_MAX_PROOFS], refund_to: address):
    """
    @notice Proves and keeps, for each update's slot not proven yet, the first
            price published at or after the slot's time, paying Pyth's update
            fee for each out of the value sent; the rest goes to `refund_to`.
            A valid price for a slot later than the newest valid proof's
            becomes `latest()`.
    @dev Reverts with Pyth's error if an update does not hold that price
         (`PriceFeedNotFoundWithinRange()`: a later price, one before the slot,
         another feed's) or is not Pyth's (`InvalidUpdateData()`). A slot proven
         already (a competing settler) is skipped and its fee refunded.
    @param updates Each slot's time (a multiple of PULL_SLOT) and its update data
           (from Hermes: the first update at or after that time).
    @param refund_to Who gets the value not spent on fees.
    """
    spent: uint256 = 0
    for u: IPullOracle.PullUpdate in updates:
        assert u.not_before != 0 and u.not_before % constants.PULL_SLOT == 0, "oracle: not a slot time"
        # Not before the chain's clock reaches it: no order is due before its T,
        # and a clock behind Pyth's would let a settlement come before the order's time.
        assert u.not_before <= block.timestamp, "oracle: slot in the future"
        if self._proven[u.not_before] != 0:
            continue
        data: DynArray[Bytes[constants.PYTH_MAX_UPDATE_BYTES], constants.PYTH_MAX_UPDATES] = [u.data]
        fee: uint256 = staticcall pyth.getUpdateFee(data)
        spent += fee
        assert spent <= msg.value, "oracle: update fee not paid"
        feeds: DynArray[IPyth.PriceFeed, constants.PYTH_MAX_PRICE_IDS] = extcall pyth.parsePriceFeedUpdatesUnique(
            data, [price_id], convert(u.not_before, uint64), max_value(uint64), value=fee
        )
        # Pyth answers one feed per id asked, or reverts; an empty answer proves nothing.
        assert len(feeds) == 1 and feeds[0].id == price_id, "oracle: not the feed's price"
        p: IPyth.Price = feeds[0].price
        # What Pyth's range check promises, checked again: its contract is upgradeable.
        assert p.publishTime >= u.not_before and p.publishTime <= _MAX_TIME, "oracle: not the feed's price"
        wad: uint256 = self._raw_wad(p)
        # Flagged when its confidence interval is too wide: it prices no order and
        # no rebalance, but a shutdown fixes its NAV there, never at an older price.
        wide: uint256 = 0 if self._confident(p) else 1
        self._proven[u.not_before] = wad << 128 | wide << 127 | block.timestamp << 64 | p.publishTime
        if wide == 1:
            wad = 0
        # An invalid price never replaces a valid one for rebalances.
        if wad != 0 and u.not_before > (self._latest >> 64) & _MASK_64:
            self._latest = wad << 128 | u.not_before << 64 | p.publishTime
        log PriceProven(not_before=u.not_before, price=wad, publish_time=p.publishTime)
    if msg.value > spent:
        assert refund_to != empty(address), "oracle: zero refund address"
        raw_call(refund_to, b"", value=msg.value - spent)


@external
@view
def order_rounds(queries: DynArray[IOracle.RoundQuery, constants.MAX_BATCH]) -> DynArray[IOracle.Pricing, constants.MAX_BATCH]:
    """
    @notice How consecutive orders of a queue are priced, from the proven slots:
            the answers up to the first order that must wait (not included).
            WAIT while the chain's clock is before T. FILL at the slot's price
            if it is valid and was published by the order's expiry. VOID if it
            is invalid (price 0, at the earlier of its time and the expiry) or
            late (with that late price and its time, which only a shutdown
            uses). VOID with no price when no proof came by
            PULL_FALLBACK_GRACE after the expiry (no price could be had); WAIT
            until then.
    @param queries Each order's T (a slot time) and expiry; round ids and
           phases are not used on a pull market.
    @return DynArray[IOracle.Pricing, constants.MAX_BATCH] The outcomes; a
            fill's `round_id` is the price's publish time.
    """
    answers: DynArray[IOracle.Pricing, constants.MAX_BATCH] = []
    for q: IOracle.RoundQuery in queries:
        if block.timestamp < q.not_before:
            break
        word: uint256 = self._proven[q.not_before]
        deadline: uint256 = q.expires_at + constants.PULL_FALLBACK_GRACE
        # A proof brought at or after the deadline is too late for this order:
        # the fallback stands, whoever settles.
        if word == 0 or (word >> 64) & _MASK_64_LOW63 >= deadline:
            if block.timestamp < deadline:
                break
            answers.append(IOracle.Pricing(outcome=constants.ROUND_VOID, round_id=0, price=0, at=q.expires_at))
            continue
        at: uint256 = word & _MASK_64
        wad: uint256 = word >> 128
        if wad == 0 or word & _WIDE != 0:
            # Invalid: refunded; a shutdown takes the price if only its confidence was too wide.
            answers.append(IOracle.Pricing(outcome=constants.ROUND_VOID, round_id=at, price=wad, at=min(at, q.expires_at)))
        elif at > q.expires_at:
            answers.append(IOracle.Pricing(outcome=constants.ROUND_VOID, round_id=at, price=wad, at=at))
        else:
            answers.append(IOracle.Pricing(outcome=constants.ROUND_FILL, round_id=at, price=wad, at=at))
    return answers


@external
@view
def proven(not_before: uint256) -> (bool, uint256, uint256):
    """
    @notice The price proven for a slot, if any.
    @param not_before The slot's time.
    @return bool Whether it is proven.
    @return uint256 The price (WAD), 0 when invalid on its own data.
    @return uint256 Its publish time.
    """
    word: uint256 = self._proven[not_before]
    if word & _WIDE != 0:
        return True, 0, word & _MASK_64
    return word != 0, word >> 128, word & _MASK_64


@external
@view
def latest() -> (uint256, uint256, uint256):
    """
    @notice The price rebalances use: the price of the newest slot proven with
            a valid price (the first published at or after a multiple of
            PULL_SLOT seconds), while that slot began less than
            PULL_REBALANCE_WINDOW seconds ago. Anyone proves it with `prove`
            (the keeper in the same transaction as the rebalance, through
            `PullRebalancer`).
    @return price The price, 18 decimals.
    @return updated_at Its publish time.
    @return round_id 0 (a pull price has no round; pull orders record phase 0).
    """
    word: uint256 = self._latest
    assert word != 0, "oracle: no price proven"
    assert ((word >> 64) & _MASK_64) + constants.PULL_REBALANCE_WINDOW > block.timestamp, "oracle: prove a recent slot's price"
    at: uint256 = word & _MASK_64
    assert at <= block.timestamp, "oracle: price from the future"
    return word >> 128, at, 0


@external
@view
def price() -> uint256:
    """
    @notice The newest price on-chain as a WAD: Pyth's stored price (moved by
            anyone's `updatePriceFeeds`) or the latest proof, whichever was
            published later, if valid and no older than `max_age`. For views
            and previews; nothing is settled or rebalanced at it.
    @return uint256 The price, 18 decimals.
    """
    wad: uint256 = 0
    at: uint256 = 0
    ok: bool = False
    response: Bytes[128] = b""
    # Pyth reverts for a feed it never stored on this chain: then only proofs count.
    ok, response = raw_call(
        pyth.address,
        abi_encode(price_id, method_id=method_id("getPriceUnsafe(bytes32)")),
        max_outsize=128,
        is_static_call=True,
        revert_on_failure=False,
    )
    if ok and len(response) == 128:
        p: IPyth.Price = abi_decode(response, IPyth.Price)
        wad = self._wad(p)
        at = p.publishTime
    word: uint256 = self._latest
    if word & _MASK_64 > at:
        wad = word >> 128
        at = word & _MASK_64
    assert at != 0, "oracle: no price"
    assert at <= block.timestamp, "oracle: price from the future"
    assert at + max_age >= block.timestamp, "oracle: stale price"
    assert wad != 0, "oracle: invalid price"
    return wad


@external
@view
def feed() -> address:
    """
    @notice No Chainlink feed: a pull market's orders record no phase.
    @return address The zero address.
    """
    return empty(address)


@internal
@view
def _wad(p: IPyth.Price) -> uint256:
    """
    @dev `price * 10**expo` as a WAD, or 0 when it is invalid on its own data.
    """
    if not self._confident(p):
        return 0
    return self._raw_wad(p)


@internal
@view
def _confident(p: IPyth.Price) -> bool:
    """
    @dev conf / price within max_confidence (a non-positive price is not).
    """
    return p.price > 0 and convert(p.conf, uint256) * constants.WAD <= max_confidence * convert(p.price, uint256)


@internal
@pure
def _raw_wad(p: IPyth.Price) -> uint256:
    """
    @dev `price * 10**expo` as a WAD whatever its confidence interval, or 0 when
         it is not positive, its exponent is absurd or it is above MAX_PRICE.
    """
    if p.price <= 0 or p.expo < _MIN_EXPO or p.expo > _MAX_EXPO:
        return 0
    raw: uint256 = convert(p.price, uint256)
    wad: uint256 = 0
    if p.expo >= -18:
        wad = raw * 10 ** convert(convert(p.expo + 18, int256), uint256)
    else:
        wad = raw // 10 ** convert(convert(-18 - p.expo, int256), uint256)
    if wad > constants.MAX_PRICE:
        return 0
    return wad
