# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Chainlink Automation for one market
@license MIT
@author Inverse token contributors
@notice Settles a push market's orders and rebalances its pool with Chainlink
        Automation alone. Register this one contract twice:
        1. As a log-trigger upkeep on the order book's `OrderRequested`.
           `checkLog` rebuilds the order from the log; `performUpkeep` records
           it here, only if it matches the book's commitment (the book keeps
           only a hash of each order). Automation reads logs best effort:
           anyone may `record` an order whose log it missed, from the event.
        2. As a custom-logic upkeep. `checkUpkeep` finds the longest run of
           recorded orders due at the head of the book's queue, each with its
           round (searched on-chain by the oracle adapter's `find_rounds`),
           and whether a rebalance should follow them (the pool's rule: a
           rebalance waits for due orders); `performUpkeep` settles them, then
           rebalances if the pool says it is due.
        The pool pays each order's settle fee to its settler, this contract,
        which sends them on to `receiver`, the address the pool's owner names;
        the bounty of a rebalance goes to `receiver` directly. Automation calls
        from a forwarder contract, which could not spend either. Anyone may
        call `performUpkeep`: the fees and bounty still go to `receiver`, and
        work a competitor did first is skipped without a revert, so a repeated
        or front-run perform costs little. Not for pull markets: Automation
        cannot bring their Pyth updates.
@custom:security Trusts its pool (whose owner names the receiver), the pool's
        order book, whose commitments vouch for every order recorded here, and
        the pool's oracle adapter for the round search (the book proves every
        round again). Holds no funds between calls, except settle fees the
        collateral refused to send to `receiver`: the next settlement sends them.
@custom:kill Cancel both upkeeps with Chainlink to stop it: the market does not
        depend on it, and keepers settle and rebalance without it.
"""

from ethereum.ercs import IERC20

from .interfaces import IOracle
from .interfaces import IOrderBook
from .interfaces import IPool
from . import constants


interface IOwned:
    def owner() -> address: view


# The adapter's on-chain round search (`ChainlinkOracle.find_rounds`).
interface IRoundSearch:
    def find_rounds(queries: DynArray[IOracle.RoundQuery, constants.MAX_BATCH]) -> DynArray[uint256, constants.MAX_BATCH]: view


# A log as Chainlink Automation hands it to `checkLog` (`ILogAutomation`'s `Log`).
struct Log:
    index: uint256
    timestamp: uint256
    tx_hash: bytes32
    block_number: uint256
    block_hash: bytes32
    source: address
    topics: DynArray[bytes32, 4]
    data: Bytes[1024]


event ReceiverSet:
    receiver: indexed(address)


event OrderRecorded:
    order_id: indexed(uint256)


# The market this upkeep serves.
pool: public(immutable(IPool))

# The pool's order book: whose queue it settles and whose commitments it checks.
book: public(immutable(IOrderBook))

# The pool's oracle adapter, which searches each order's round.
oracle: public(immutable(address))

# The market's collateral, in which settle fees are paid.
collateral: public(immutable(IERC20))

# Who gets the settle fees and the bounty of the work performed here.
receiver: public(address)

# Each recorded order by id, in four words: requester | requested_at << 160 |
# not_before << 200 | phase << 240; receiver | kind << 160 | max_wait << 168 |
# settle_fee << 192; amount; min_out | trade_fee << 128. The first word is never
# 0 once recorded (a requester is never the zero address). Never deleted: the
# refund of a cleared slot goes to Automation's transmitter, not to the upkeep's
# balance, which would pay for the write.
_recorded: HashMap[uint256, uint256[4]]

# `OrderRequested`'s topic 0.
_ORDER_REQUESTED: constant(bytes32) = keccak256(
    "OrderRequested(uint256,address,address,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256)"
)
# Its data: nine words (topics 1-3: id, requester, receiver).
_LOG_DATA_SIZE: constant(uint256) = 9 * 32

# Perform data: ABI-encoded, its first word a tag, so that a record and a
# settlement cannot be taken for each other.
# (tag, IPool.Order): from `checkLog`.
_TAG_RECORD: constant(uint256) = 1
_RECORD_SIZE: constant(uint256) = 13 * 32
# (tag, uint256 rebalance_after, uint256 first_id, uint256 held, uint256[]
# round_ids): from `checkUpkeep`; `rebalance_after` is the pool's
# `last_rebalance` when the check expects a rebalance after the orders, else 0;
# `held` the ids of LP deposits the book holds, to hand back first (40 bits each,
# lowest first, at most `_MAX_HANDED_BACK`).
_TAG_SETTLE: constant(uint256) = 2
_SETTLE_HEAD_SIZE: constant(uint256) = 6 * 32
_MAX_HANDED_BACK: constant(uint256) = 6
_MAX_PERFORM_SIZE: constant(uint256) = _SETTLE_HEAD_SIZE + constants.MAX_BATCH * 32

_MASK_24: constant(uint256) = 2**24 - 1
_MASK_40: constant(uint256) = 2**40 - 1
_MASK_64: constant(uint256) = 2**64 - 1
_MASK_128: constant(uint256) = 2**128 - 1
_MASK_160: constant(uint256) = 2**160 - 1


@deploy
def __init__(pool_: IPool, receiver_: address):
    """
    @param pool_ The market's pool (a push market).
    @param receiver_ Who gets the settle fees and the bounty (see `set_receiver`).
    """
    pool = pool_
    book = IOrderBook(staticcall pool_.order_book())
    assert not staticcall book.pull(), "upkeep: pull market"
    oracle = staticcall pool_.oracle()
    collateral = IERC20(staticcall pool_.collateral())
    self._set_receiver(receiver_)


@external
def set_receiver(new_receiver: address):
    """
    @notice Names who gets the settle fees and the bounty from now on. Only the
            pool's owner.
    @param new_receiver Not zero, the pool, its LP token, its order book or this contract.
    """
    assert msg.sender == staticcall IOwned(pool.address).owner(), "upkeep: caller is not the pool's owner"
    self._set_receiver(new_receiver)


@external
@view
def checkLog(trigger: Log, check_data: Bytes[1024]) -> (bool, Bytes[_MAX_PERFORM_SIZE]):
    """
    @notice Chainlink Automation, log trigger (`ILogAutomation`): the order an
            `OrderRequested` log of the book carries, to record if it waits
            and is not recorded yet.
    @param trigger The log, as Automation hands it over.
    @param check_data Ignored.
    @return bool Whether to perform.
    @return Bytes[_MAX_PERFORM_SIZE] The perform data: the tagged order.
    """
    assert (
        trigger.source == book.address
        and len(trigger.topics) == 4
        and trigger.topics[0] == _ORDER_REQUESTED
        and len(trigger.data) == _LOG_DATA_SIZE
    ), "upkeep: not the book's OrderRequested"
    o: IPool.Order = empty(IPool.Order)
    o.id = convert(trigger.topics[1], uint256)
    o.requester = self._address(trigger.topics[2])
    o.receiver = self._address(trigger.topics[3])
    o.kind, o.amount, o.min_out, o.requested_at, o.not_before, o.phase, o.trade_fee, o.settle_fee, o.max_wait = abi_decode(
        trigger.data, (uint256, uint256, uint256, uint256, uint256, uint256, uint256, uint256, uint256)
    )
    if self._recorded[o.id][0] != 0 or not staticcall book.is_pending(o):
        return False, b""  # recorded already, or settled meanwhile
    return True, abi_encode(_TAG_RECORD, o)


@external
@view
def checkUpkeep(check_data: Bytes[1024]) -> (bool, Bytes[_MAX_PERFORM_SIZE]):
    """
    @notice Chainlink Automation, custom logic: whether orders are due or the
            pool's rebalance is. From the head of the book's queue, the longest
            run (at most `MAX_BATCH`) of recorded orders whose rounds are out
            (or void proofs; after shutdown, no round is needed), with their
            round ids. An order not recorded stops the run: `record` it.
    @param check_data Ignored.
    @return bool Whether to perform: orders are due, or a rebalance is.
    @return Bytes[_MAX_PERFORM_SIZE] The perform data: tagged, whether to try a
            rebalance after the orders (the pool's `last_rebalance`, or 0), the
            first order's id and each order's round id.
    """
    head: uint256 = staticcall book.next_order()
    waiting: uint256 = staticcall book.pending_orders()
    shut: bool = staticcall pool.is_shutdown()
    # LP deposits the book holds until their round is over: handed back first,
    # in the book's order.
    held: uint256 = 0
    handed: uint256 = 0
    held_count: uint256 = 0
    held_first: uint256 = 0
    held_at: uint256 = 0
    held_count, held_first, held_at = staticcall book.held_deposits()
    for i: uint256 in range(_MAX_HANDED_BACK):
        if i == held_count:
            break
        held_id: uint256 = held_first
        if i != 0:
            held_id = staticcall book.held_deposit(i)
        if self._recorded[held_id][0] == 0:
            break  # its log was missed: `record` it
        held |= held_id << (40 * i)
        handed += 1
    if held_count != 0 and handed == 0:
        return False, b""  # the first held deposit's log was missed: `record` it
    count: uint256 = 0  # recorded orders from the head
    queries: DynArray[IOracle.RoundQuery, constants.MAX_BATCH] = []
    for i: uint256 in range(constants.MAX_BATCH):
        if i == waiting or i + handed == constants.MAX_BATCH:
            break
        first_word: uint256 = self._recorded[head + i][0]
        if first_word == 0:
            break  # its log was missed
        if handed < held_count and (
            (first_word >> 200) & _MASK_40 > held_at
            or (self._recorded[head + i][1] >> 160) & 255 == constants.ORDER_SHUTDOWN
        ):
            break  # a later round's, or the shutdown: the held deposits not handed back here settle first
        count += 1
        if not shut:
            # The orders after the shutdown order settle at the fixed NAV: no round.
            second_word: uint256 = self._recorded[head + i][1]
            not_before: uint256 = (first_word >> 200) & _MASK_40
            queries.append(
                IOracle.RoundQuery(
                    round_id=0,
                    phase=first_word >> 240,
                    not_before=not_before,
                    requested_at=(first_word >> 160) & _MASK_40,
                    expires_at=not_before + ((second_word >> 168) & _MASK_24),
                )
            )
            shut = (second_word >> 160) & 255 == constants.ORDER_SHUTDOWN
    round_ids: DynArray[uint256, constants.MAX_BATCH] = []
    if len(queries) != 0:
        round_ids = staticcall IRoundSearch(oracle).find_rounds(queries)
    if len(round_ids) == len(queries):
        for i: uint256 in range(constants.MAX_BATCH):
            if len(round_ids) == count:
                break
            round_ids.append(0)
    # Whether to rebalance after the orders, as the pool's `last_rebalance` now (0: no).
    rebalance_after: uint256 = 0
    if len(round_ids) == 0 and handed != 0:
        # Held deposits alone settle once their round is over: the queue's next
        # order is of a later round (its T is after the round's time) or none waits.
        if waiting != 0 and (staticcall book.order(head)).not_before <= held_at:
            return False, b""
    elif len(round_ids) == 0:
        if not staticcall pool.rebalance_due():
            return False, b""
        rebalance_after = staticcall pool.last_rebalance()
    elif (
        not shut
        and (len(round_ids) < len(queries) or len(round_ids) == waiting)
        and self._rebalance_looks_due()
    ):
        # No due order is left after these (the next waits, or none is left), and
        # the pool's rule says due: the pool, asked after they settle, decides.
        rebalance_after = staticcall pool.last_rebalance()
    return True, abi_encode(_TAG_SETTLE, rebalance_after, head, held, round_ids)


@external
def performUpkeep(perform_data: Bytes[_MAX_PERFORM_SIZE]):
    """
    @notice Chainlink Automation, both upkeeps: records an order (from
            `checkLog`), or settles a run of orders and rebalances if due
            (from `checkUpkeep`), checking again what changed meanwhile. The
            settle fees go on to `receiver`. An order recorded or settled
            already, orders a competitor settled and a rebalance no longer due
            are skipped without a revert.
    @param perform_data What `checkLog` or `checkUpkeep` returned.
    """
    assert len(perform_data) >= 32, "upkeep: empty perform data"
    tag: uint256 = self._word(perform_data, 0)
    if tag == _TAG_RECORD:
        self._perform_record(perform_data)
    elif tag == _TAG_SETTLE:
        self._perform_settle(perform_data)
    else:
        raise "upkeep: unknown perform data"


@external
def record(o: IPool.Order):
    """
    @notice Records a pending order for Automation to settle: for an order whose
            log Automation missed (it reads logs best effort).
    @param o The order, exactly as its `OrderRequested` event gave it.
    """
    assert self._recorded[o.id][0] == 0, "upkeep: order already recorded"
    assert staticcall book.is_pending(o), "upkeep: not a pending order of the book"
    self._store(o)


@external
@view
def recorded(order_id: uint256) -> IPool.Order:
    """
    @notice A recorded order (all zeros if none is recorded under `order_id`).
    @param order_id The order's id.
    @return IPool.Order The order as recorded.
    """
    if self._recorded[order_id][0] == 0:
        return empty(IPool.Order)
    return self._load(order_id)


@internal
def _perform_record(perform_data: Bytes[_MAX_PERFORM_SIZE]):
    # Checked before decoding, which would revert without a reason: the size,
    # and the two address words (requester, receiver) within 160 bits.
    assert (
        len(perform_data) == _RECORD_SIZE
        and self._word(perform_data, 3) <= _MASK_160
        and self._word(perform_data, 4) <= _MASK_160
    ), "upkeep: malformed record"
    tag: uint256 = 0
    o: IPool.Order = empty(IPool.Order)
    tag, o = abi_decode(perform_data, (uint256, IPool.Order))
    if self._recorded[o.id][0] != 0:
        return  # a repeat
    if not staticcall book.is_pending(o):
        assert o.id < staticcall book.next_order(), "upkeep: not a pending order of the book"
        return  # settled meanwhile
    self._store(o)


@internal
def _perform_settle(perform_data: Bytes[_MAX_PERFORM_SIZE]):
    size: uint256 = len(perform_data)
    # Checked before decoding, which would revert without a reason.
    assert (
        size >= _SETTLE_HEAD_SIZE
        and size % 32 == 0
        and self._word(perform_data, 1) <= _MASK_40
        and self._word(perform_data, 2) <= _MASK_40
        and self._word(perform_data, 3) < 2 ** (40 * _MAX_HANDED_BACK)
        and self._word(perform_data, 4) == 5 * 32
        and self._word(perform_data, 5) == (size - _SETTLE_HEAD_SIZE) // 32
    ), "upkeep: malformed settlement"
    tag: uint256 = 0
    rebalance_after: uint256 = 0
    first: uint256 = 0
    held: uint256 = 0
    round_ids: DynArray[uint256, constants.MAX_BATCH] = []
    tag, rebalance_after, first, held, round_ids = abi_decode(
        perform_data, (uint256, uint256, uint256, uint256, DynArray[uint256, constants.MAX_BATCH])
    )
    head: uint256 = staticcall book.next_order()
    orders: DynArray[IPool.Order, constants.MAX_BATCH] = []
    rounds: DynArray[uint256, constants.MAX_BATCH] = []
    # The held deposits first (the book skips any released meanwhile), then the run.
    for i: uint256 in range(_MAX_HANDED_BACK):
        held_id: uint256 = (held >> (40 * i)) & _MASK_40
        if held_id == 0:
            break
        orders.append(self._load(held_id))
        rounds.append(0)
    for i: uint256 in range(constants.MAX_BATCH):
        if i == len(round_ids) or len(orders) == constants.MAX_BATCH:
            break
        if first + i < head:
            continue  # a competitor settled it
        orders.append(self._load(first + i))
        rounds.append(round_ids[i])
    if len(orders) != 0:
        extcall book.settle(orders, rounds)
        self._forward_fees()
    # A rebalance since the check (a competitor's) ends the question cheaply.
    if (
        rebalance_after != 0
        and staticcall pool.last_rebalance() == rebalance_after
        and staticcall pool.rebalance_due()
    ):
        extcall pool.rebalance(self.receiver)


@internal
def _forward_fees():
    """
    @dev Sends the collateral here (the settle fees just paid, and any the
         collateral refused before) to `receiver`. A transfer the collateral
         refuses (a blocklisted receiver) leaves them for the next settlement
         rather than stop this one.
    """
    amount: uint256 = staticcall collateral.balanceOf(self)
    if amount == 0:
        return
    ok: bool = False
    response: Bytes[32] = b""
    ok, response = raw_call(
        collateral.address,
        abi_encode(self.receiver, amount, method_id=method_id("transfer(address,uint256)")),
        max_outsize=32,
        revert_on_failure=False,
    )


@internal
def _store(o: IPool.Order):
    # Every field of a book's order fits (the book packs them as narrow).
    assert (
        o.requested_at <= _MASK_40
        and o.not_before <= _MASK_40
        and o.phase <= 2**16 - 1
        and o.kind <= 255
        and o.max_wait <= _MASK_24
        and o.settle_fee <= _MASK_64
        and o.min_out <= _MASK_128
        and o.trade_fee <= _MASK_128
    ), "upkeep: order out of range"
    self._recorded[o.id] = [
        convert(o.requester, uint256) | o.requested_at << 160 | o.not_before << 200 | o.phase << 240,
        convert(o.receiver, uint256) | o.kind << 160 | o.max_wait << 168 | o.settle_fee << 192,
        o.amount,
        o.min_out | o.trade_fee << 128,
    ]
    log OrderRecorded(order_id=o.id)


@internal
@view
def _load(order_id: uint256) -> IPool.Order:
    words: uint256[4] = self._recorded[order_id]
    assert words[0] != 0, "upkeep: order not recorded"
    return IPool.Order(
        id=order_id,
        kind=(words[1] >> 160) & 255,
        requester=convert(convert(words[0] & _MASK_160, uint160), address),
        receiver=convert(convert(words[1] & _MASK_160, uint160), address),
        amount=words[2],
        min_out=words[3] & _MASK_128,
        requested_at=(words[0] >> 160) & _MASK_40,
        not_before=(words[0] >> 200) & _MASK_40,
        phase=words[0] >> 240,
        trade_fee=words[3] >> 128,
        settle_fee=words[1] >> 192,
        max_wait=(words[1] >> 168) & _MASK_24,
    )


@internal
@view
def _rebalance_looks_due() -> bool:
    """
    @dev The pool's rule for a due rebalance, read from its views, for a check
         that cannot ask `rebalance_due` while the orders it will settle first
         are due: the interval has passed, or the latest price moved past the
         threshold. Only a hint: a perform asks the pool.
    """
    params: IPool.Parameters = staticcall pool.parameters()
    if block.timestamp >= staticcall pool.last_rebalance() + params.interval:
        return True
    ok: bool = False
    response: Bytes[96] = b""
    ok, response = raw_call(oracle, method_id("latest()"), max_outsize=96, is_static_call=True, revert_on_failure=False)
    if not ok or len(response) != 96:
        return False  # no valid price: the pool would not rebalance either
    price: uint256 = 0
    updated_at: uint256 = 0
    round_id: uint256 = 0
    price, updated_at, round_id = abi_decode(response, (uint256, uint256, uint256))
    reference: uint256 = staticcall pool.reference_price()
    move: uint256 = price - reference if price >= reference else reference - price
    return move * constants.WAD >= params.threshold * reference


@internal
@pure
def _word(data: Bytes[_MAX_PERFORM_SIZE], index: uint256) -> uint256:
    """
    @dev The `index`th word of `data`, or 0 past its end.
    """
    if len(data) < (index + 1) * 32:
        return 0
    return convert(slice(data, index * 32, 32), uint256)


@internal
@pure
def _address(topic: bytes32) -> address:
    return convert(convert(convert(topic, uint256) & _MASK_160, uint160), address)


@internal
def _set_receiver(new_receiver: address):
    # The pool refuses to pay itself, its LP token or its order book; a receiver
    # it would refuse would stop every upkeep, and one that is this contract
    # would strand the bounty.
    assert new_receiver != empty(address), "upkeep: zero receiver"
    assert new_receiver not in [pool.address, staticcall pool.lp_token(), book.address, self], (
        "upkeep: receiver is the pool"
    )
    self.receiver = new_receiver
    log ReceiverSet(receiver=new_receiver)
