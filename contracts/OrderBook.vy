# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Order book of one inverse token market
@license MIT
@author Inverse token contributors
@notice Every mint, redeem, LP deposit and LP withdrawal of a market is an order
        requested here and settled at the next price. A request escrows what the
        user pays (collateral goes straight to the pool; tokens and LP shares
        move into the pool's escrow) and records T = max(now + min_delay, T of
        the order before it), the feed's phase and how long it may wait for its
        round: at least `max_wait`, and never expiring before the order ahead of
        it (a shutdown waits at least the oracle's `max_age`). Anyone may `settle` the oldest
        orders, each at its round (the first round of its phase with
        `updatedAt >= T`, observed after the request), which the oracle adapter
        proves from two round reads; the pool then fills or refunds them at that
        round. So whoever settles, and whenever, the amounts are the same.
        Within a round LP deposits settle last (`held_deposits`), so that a
        deposit never shares the fees of its round's orders behind it.
        Only a hash of each order is stored (`OrderRequested` carries the order);
        the settler hands the order back.
        Created by its pool from a blueprint; the pool is the only contract it
        trusts, and it holds no funds.
@custom:security Trusts its pool (immutable, its creator) for the market's terms
        and for every fill, and the oracle adapter for round proofs. No owner:
        nobody can cancel, reorder or price an order.
@custom:kill Follows its pool: the pool's `pause` closes mint and LP deposit
        requests here, and its `shutdown` queues the order that fixes the NAV;
        afterwards exits settle at once.
"""

from ethereum.ercs import IERC20

from .interfaces import IOracle
from .interfaces import IPullOracle
from .interfaces import IPool
from .interfaces import IOrderBook
from . import constants

implements: IOrderBook


# The market this book takes orders for: fills them and holds every token.
pool: public(immutable(address))

# The market's collateral.
collateral: public(immutable(address))

# The price adapter that proves each order's round.
oracle: public(immutable(address))

# The adapter's Chainlink feed (a proxy), whose phase each order records; none
# on a pull market (SPEC 3b), whose orders record phase 0.
feed: public(immutable(address))

# Whether the adapter is a pull oracle: T is rounded up to a slot and a settle
# may bring the slots' update data.
pull: public(immutable(bool))

# The pool's LP share token.
lp_token: public(immutable(address))

# next order to settle (bits 0-39), next order id (40-79), T of the newest order
# (80-119), its wait (120-143), collateral escrowed for pending mints and LP
# deposits (144-255): what a request reads and writes, in one word.
_queue_word: uint256

# What a request needs, pushed by the pool whenever it changes, so that a
# request reads one word of its own storage instead of calling the pool. Two
# words of the same layout: the entry side's (mint, LP deposit) with `closed` and
# the mint fee, the exit side's (redeem, LP withdrawal) with `is_shutdown` and the
# redeem fee. Layout: flag (bit 0), trade fee (1-56), settle fee (57-120), min
# delay (121-144), max wait (145-168), min order (169-248).
_entry_terms: uint256
_exit_terms: uint256

# Each pending order's commitment: T (bits 216-255), phase (200-215) and the top
# 200 bits of keccak256 of the ABI-encoded order. Cleared when it settles.
_orders: HashMap[uint256, uint256]

# LP deposits priced but held back until every other order of their round has
# settled, so that a deposit never shares the fees of orders of its own round
# behind it in the queue (liquidity placed ahead of a visible large mint would
# take its fee). Held deposits keep their commitment in `_orders` behind the
# queue's head, and their ids in `_held_ids`, in queue order, from `start` on.
# All are of one round: count (bits 0-39), start (40-79), the round's time
# (80-119) and id (120-199); its price below. Bits 200-239: the time of
# `_fallback_price` (read with it on every settle for free).
_held_word: uint256
_held_price: uint256
_held_ids: HashMap[uint256, uint256]

# Pull market: the first price an order filled at in the latest five-minute
# window (of the clock) in which one did. A shutdown that no Pyth price can
# prove (none came for a day past its expiry, or one not positive) fixes the
# NAV there if it is later than the last rebalance: the last reference alone
# would ignore every move since. Written at most once a window, and the same
# however the orders were batched, so no settler picks it.
_fallback_price: uint256

_MASK_16: constant(uint256) = 2**16 - 1
_MASK_24: constant(uint256) = 2**24 - 1
_MASK_40: constant(uint256) = 2**40 - 1
_MASK_56: constant(uint256) = 2**56 - 1
_MASK_64: constant(uint256) = 2**64 - 1
_MASK_80: constant(uint256) = 2**80 - 1
# Collateral the book may hold in escrow.
_MAX_ESCROW: constant(uint256) = 2**112 - 1
# Largest slippage bound: keeps `min_out * filled` far inside 256 bits.
_MAX_MIN_OUT: constant(uint256) = 2**128 - 1
# Largest price a held deposit keeps (a WAD price of 3.4e20): a larger one settles it in place.
_MAX_HELD_PRICE: constant(uint256) = 2**128 - 1
_FALLBACK_WINDOW: constant(uint256) = 300


# `_queue_word`, decoded.
struct Queue:
    # Id of the oldest unsettled order (== tail when none).
    head: uint256
    # Id the next request gets.
    tail: uint256
    # T of the newest order: T never decreases along the queue.
    last_not_before: uint256
    # The newest order's wait: T + wait (its expiry) never decreases either.
    last_max_wait: uint256
    # Collateral held for pending mints and LP deposits (amount plus settle fee).
    escrowed: uint256


# `_held_word` and `_held_price`, decoded: the deposits held and their round's
# pricing, and the time of `_fallback_price`.
struct Held:
    count: uint256
    start: uint256
    at: uint256
    round_id: uint256
    price: uint256
    fallback_at: uint256


# One side's terms word, decoded.
struct SideTerms:
    # Entry side: mint and LP deposit requests are closed. Exit side: the NAV is fixed.
    flag: bool
    # Mint fee (entry side) or redeem fee (exit side), WAD.
    trade_fee: uint256
    settle_fee: uint256
    min_delay: uint256
    max_wait: uint256
    min_order: uint256


@deploy
def __init__(collateral_: address, oracle_: address, lp_token_: address):
    """
    @notice Created by the pool, which becomes the only contract it trusts.
    @param collateral_ The market's collateral.
    @param oracle_ The price adapter.
    @param lp_token_ The pool's LP share token.
    """
    pool = msg.sender
    collateral = collateral_
    oracle = oracle_
    feed = staticcall IOracle(oracle_).feed()
    pull = feed == empty(address)
    lp_token = lp_token_
    self._queue_word = 1 | 1 << 40  # order ids start at 1


# ---------------------------------------------------------------- requests


@external
def request_mint(assets: uint256, min_shares_out: uint256, receiver: address, deadline: uint256) -> uint256:
    """
    @notice Requests inverse tokens for `assets` collateral at the NAV of the next
            round, less the mint fee. Escrows `assets` plus the settle fee now;
            what the backing cannot take at settlement is refunded.
    @param assets Collateral to pay in (approve this book for it plus `settle_fee()`).
    @param min_shares_out Fewest tokens accepted for all of `assets` (pro rata on a partial fill).
    @param receiver Who gets the tokens.
    @param deadline Last timestamp at which this request may execute.
    @return uint256 The order id.
    """
    return self._request_entry(constants.ORDER_MINT, assets, min_shares_out, receiver, deadline)


@external
def request_mint_with_permit(
    assets: uint256, min_shares_out: uint256, receiver: address, deadline: uint256, v: uint8, r: bytes32, s: bytes32
) -> uint256:
    """
    @notice `request_mint` with no approval transaction: first applies the
            caller's EIP-2612 permit on the collateral for `assets` plus the
            settle fee, valid until `deadline`.
    @param assets Collateral to pay in.
    @param min_shares_out Fewest tokens accepted (slippage bound).
    @param receiver Who gets the tokens.
    @param deadline Last timestamp at which the request (and the permit) may execute.
    @param v The permit signature's v.
    @param r The permit signature's r.
    @param s The permit signature's s.
    @return uint256 The order id.
    """
    self._permit_collateral(assets, deadline, v, r, s)
    return self._request_entry(constants.ORDER_MINT, assets, min_shares_out, receiver, deadline)


@external
def request_redeem(shares: uint256, min_assets_out: uint256, receiver: address, deadline: uint256) -> uint256:
    """
    @notice Requests collateral for `shares` inverse tokens at the NAV of the next
            round, less the redeem fee and the settle fee. The tokens move into
            escrow now and stay exposed until then. Open while paused; after
            shutdown it settles in this call (and returns 0).
    @param shares Tokens to redeem.
    @param min_assets_out Least collateral the receiver accepts.
    @param receiver Who gets the collateral.
    @param deadline Last timestamp at which this request may execute.
    @return uint256 The order id (0 if settled at once).
    """
    return self._request_exit(constants.ORDER_REDEEM, shares, min_assets_out, receiver, deadline)


@external
def request_lp_deposit(assets: uint256, min_lp_out: uint256, receiver: address, deadline: uint256) -> uint256:
    """
    @notice Requests LP shares for `assets` collateral at the LP value of the next
            round. Escrows `assets` plus the settle fee now. Into an exhausted
            pool part of it first restores what holders are owed.
    @param assets Collateral to pay in (approve this book for it plus `settle_fee()`).
    @param min_lp_out Fewest LP shares accepted (slippage bound).
    @param receiver Who gets the LP shares.
    @param deadline Last timestamp at which this request may execute.
    @return uint256 The order id.
    """
    return self._request_entry(constants.ORDER_LP_DEPOSIT, assets, min_lp_out, receiver, deadline)


@external
def request_lp_deposit_with_permit(
    assets: uint256, min_lp_out: uint256, receiver: address, deadline: uint256, v: uint8, r: bytes32, s: bytes32
) -> uint256:
    """
    @notice `request_lp_deposit` with no approval transaction: first applies the
            caller's EIP-2612 permit on the collateral for `assets` plus the
            settle fee, valid until `deadline`.
    @param assets Collateral to pay in.
    @param min_lp_out Fewest LP shares accepted (slippage bound).
    @param receiver Who gets the LP shares.
    @param deadline Last timestamp at which the request (and the permit) may execute.
    @param v The permit signature's v.
    @param r The permit signature's r.
    @param s The permit signature's s.
    @return uint256 The order id.
    """
    self._permit_collateral(assets, deadline, v, r, s)
    return self._request_entry(constants.ORDER_LP_DEPOSIT, assets, min_lp_out, receiver, deadline)


@external
def request_lp_withdraw(lp_shares: uint256, min_assets_out: uint256, receiver: address, deadline: uint256) -> uint256:
    """
    @notice Requests collateral for `lp_shares` at the LP value of the next round,
            less the settle fee, as far as the backing rule allows (the rest is
            refunded). The shares move into escrow now. Open while paused; after
            shutdown it settles in this call (and returns 0).
    @param lp_shares LP shares to burn.
    @param min_assets_out Least collateral the receiver accepts for all of them (pro rata on a partial fill).
    @param receiver Who gets the collateral.
    @param deadline Last timestamp at which this request may execute.
    @return uint256 The order id (0 if settled at once).
    """
    return self._request_exit(constants.ORDER_LP_WITHDRAW, lp_shares, min_assets_out, receiver, deadline)


@external
def request_shutdown(owner: address, terms: IPool.Terms) -> uint256:
    """
    @notice Queues the shutdown order (the pool's `shutdown`, by its owner).
            It waits for its round at least the oracle's `max_age`: while the
            feed lives a round comes in that time, so the shutdown is priced
            after the request, never void at a price its owner already saw.
    @dev The pool passes its terms, now closed to entries, and they are stored
         as by `set_terms`.
    @param owner The pool's owner, recorded as the requester.
    @param terms The pool's terms in force.
    @return uint256 The order id.
    """
    assert msg.sender == pool, "orders: caller is not the pool"
    self._store_terms(terms)
    max_wait: uint256 = max(terms.max_wait, staticcall IOracle(oracle).max_age())  # max_age <= MAX_MAX_WAIT
    return self._enqueue(constants.ORDER_SHUTDOWN, 0, 0, owner, owner, 0, 0, terms.min_delay, max_wait)


@external
def set_terms(terms: IPool.Terms):
    """
    @notice Stores the pool's terms for requests to read (the pool pushes them
            whenever its parameters, pause or shutdown change).
    @param terms The pool's terms in force.
    """
    assert msg.sender == pool, "orders: caller is not the pool"
    self._store_terms(terms)


# ---------------------------------------------------------------- settlement


@external
@payable
def settle(
    orders: DynArray[IPool.Order, constants.MAX_BATCH],
    round_ids: DynArray[uint256, constants.MAX_BATCH],
    updates: DynArray[IPullOracle.PullUpdate, constants.PULL_MAX_PROOFS] = [],
) -> uint256:
    """
    @notice Settles the oldest pending orders, each at its round (found off-chain,
            proven here), and has the pool pay the caller their settle fees.
            Orders already settled by someone else are skipped; the batch stops
            at the first order whose round is not out yet. Void orders (an
            invalid round, or none by T + max_wait) are refunded through here.
            On a pull market an order's price is the first Pyth price at or
            after its T: `updates` brings the proofs of the slots not proven
            yet, with Pyth's update fee as the value (the rest is refunded).
            An LP deposit filled at a round is held until that round's other
            orders have settled (in this call or a later one); whoever
            completes the round hands the held deposits back first, and no
            order of a later round settles before they do.
    @param orders The held LP deposits to hand back, in `held_deposit`'s
           order, then the orders in queue order, exactly as `OrderRequested`
           gave them.
    @param round_ids Each order's round id; for a void order without a round, its
           phase's last round; ignored once the pool is shut down, and on a
           pull market (any value).
    @param updates Pull market: each unproven slot's time and Pyth update data.
    @return uint256 The number of orders settled by this call (held ones not).
    """
    assert len(orders) == len(round_ids), "orders: lengths differ"
    if len(updates) != 0:
        assert pull, "orders: not a pull market"
        extcall IPullOracle(oracle).prove(updates, msg.sender, value=msg.value)
    else:
        assert msg.value == 0, "orders: no update to pay for"
    queue: Queue = self._queue()
    held: Held = self._held()
    exit_terms: SideTerms = self._side_terms(self._exit_terms)
    shut: bool = exit_terms.flag
    was_shut: bool = shut
    # Held deposits handed back (behind the queue's head, in the order they
    # were held), then the queue's next orders, each checked against its commitment, and
    # the round questions for the oracle: every queue order until the NAV is
    # fixed (the shutdown order included); after it, none.
    returned: DynArray[uint256, constants.MAX_BATCH] = []  # their places in `orders`
    batch: DynArray[IPool.Order, constants.MAX_BATCH] = []
    queries: DynArray[IOracle.RoundQuery, constants.MAX_BATCH] = []
    for i: uint256 in range(constants.MAX_BATCH):
        if i == len(orders):
            break
        o: IPool.Order = orders[i]
        if o.id < queue.head:
            if self._orders[o.id] == 0:
                continue  # settled already: a competing settler was first
            # Handed back in the order they were held, before the queue's.
            assert (
                len(batch) == 0
                and len(returned) < held.count
                and o.id == self._held_ids[held.start + len(returned)]
            ), "orders: not the next order"
            assert self._orders[o.id] == self._commitment(o), "orders: unknown order"
            returned.append(i)
            continue
        if o.id < queue.head + len(batch):
            continue  # a competing settler was first, or the order is in this batch already
        assert o.id == queue.head + len(batch), "orders: not the next order"
        assert self._orders[o.id] == self._commitment(o), "orders: unknown order"
        if not shut:
            queries.append(
                IOracle.RoundQuery(
                    round_id=round_ids[i],
                    phase=o.phase,
                    not_before=o.not_before,
                    requested_at=o.requested_at,
                    expires_at=o.not_before + o.max_wait,
                )
            )
            shut = o.kind == constants.ORDER_SHUTDOWN
        batch.append(o)
    if len(batch) == 0 and len(returned) == 0:
        return 0

    pricings: DynArray[IOracle.Pricing, constants.MAX_BATCH] = []
    if len(queries) != 0:
        pricings = staticcall IOracle(oracle).order_rounds(queries)
    # The oracle answers up to the first order whose round is not out yet; the
    # orders after a shutdown settle at the fixed NAV.
    for i: uint256 in range(constants.MAX_BATCH):
        if len(batch) == len(pricings):
            break
        if len(pricings) < len(queries):
            batch.pop()
        else:
            pricings.append(IOracle.Pricing(outcome=constants.ROUND_FILL, round_id=0, price=0, at=block.timestamp))

    # Most settlements hold nothing: none held, none handed back, no deposit
    # filled at a round into a market with LPs. Then every order settles in its
    # place, without the reordering below.
    taken: uint256 = len(batch)
    in_place: bool = held.count == 0 and len(returned) == 0
    for i: uint256 in range(constants.MAX_BATCH):
        if i == len(batch) or not in_place:
            break
        in_place = batch[i].kind != constants.ORDER_LP_DEPOSIT or pricings[i].outcome != constants.ROUND_FILL
    if not in_place:
        # What settles now, in order: each queue order, except LP deposits filled at
        # a round, which are held until the round's other orders have settled.
        done: DynArray[IPool.Order, constants.MAX_BATCH] = []
        done_pricings: DynArray[IOracle.Pricing, constants.MAX_BATCH] = []
        holding: DynArray[IPool.Order, constants.MAX_BATCH] = []
        taken = 0
        lp_supply: uint256 = max_value(uint256)  # read once, when a deposit comes
        if held.count != 0:
            lp_supply = 1  # the held deposits are LPs before any deposit after them
        for i: uint256 in range(constants.MAX_BATCH):
            if i == len(batch):
                break
            o: IPool.Order = batch[i]
            p: IOracle.Pricing = pricings[i]
            if held.count + len(holding) != 0 and (
                o.kind == constants.ORDER_SHUTDOWN
                or (p.outcome == constants.ROUND_FILL and (p.at > held.at or p.round_id != held.round_id))
            ):
                # A later round: the held deposits settle first, every one of them.
                for k: uint256 in returned:
                    done.append(orders[k])
                    done_pricings.append(self._held_pricing(held))
                for h: IPool.Order in holding:
                    done.append(h)
                    done_pricings.append(self._held_pricing(held))
                held.start += len(returned)
                held.count -= len(returned)
                returned = []
                holding = []
                if held.count != 0:
                    break  # a held deposit was not handed back: this order waits for it
            hold: bool = (
                o.kind == constants.ORDER_LP_DEPOSIT
                and p.outcome == constants.ROUND_FILL
                and p.price != 0
                and p.price <= _MAX_HELD_PRICE
                and p.round_id <= _MASK_80
            )
            if hold and lp_supply == max_value(uint256):
                lp_supply = staticcall IERC20(lp_token).totalSupply()
            # With no LP yet there are no fees to protect: the first deposits settle
            # in place, so that mints behind them in their round have their backing.
            if hold and lp_supply != 0:
                if held.count + len(holding) == 0:
                    held.at = p.at
                    held.round_id = p.round_id
                    held.price = p.price
                holding.append(o)
            else:
                if hold:
                    lp_supply = 1  # the market's first LPs: deposits after them are held
                done.append(o)
                done_pricings.append(p)
            taken += 1
        if len(returned) + len(holding) != 0:
            # The round is over once the queue's next order has its T after the
            # round's time (a later round prices it), or none waits and the round
            # is not ahead of the block (a Pyth price may be, by the clock skew it
            # allows; a request's T is after the block's time).
            next_id: uint256 = queue.head + taken
            over: bool = held.at <= block.timestamp
            if next_id != queue.tail:
                over = self._orders[next_id] >> 216 > held.at
            if over:
                for k: uint256 in returned:
                    done.append(orders[k])
                    done_pricings.append(self._held_pricing(held))
                for h: IPool.Order in holding:
                    done.append(h)
                    done_pricings.append(self._held_pricing(held))
                held.start += len(returned)
                held.count -= len(returned)
            else:
                for h: IPool.Order in holding:
                    self._held_ids[held.start + held.count] = h.id
                    held.count += 1
        if taken == 0 and len(done) == 0:
            assert len(batch) == 0, "orders: hand back the held LP deposits first"
            raise "orders: order not due"

        batch = done
        pricings = done_pricings
    elif taken == 0:
        raise "orders: order not due"

    for o: IPool.Order in batch:
        if o.kind == constants.ORDER_MINT or o.kind == constants.ORDER_LP_DEPOSIT:
            queue.escrowed -= o.amount + o.settle_fee
        elif o.kind == constants.ORDER_SHUTDOWN:
            # The pool fixes its NAV in this batch and cannot push its terms
            # while this book is locked: exits settle at once from now on.
            exit_terms.flag = True
            self._exit_terms = self._pack_side(exit_terms)
        self._orders[o.id] = 0
    new_fallback: uint256 = 0  # a new one, if this batch fills in a later window
    if pull and not was_shut and len(batch) != 0:
        # A fill's time follows its T along the queue, and a void's time (its
        # expiry, or its price's if earlier or late) is at or after every fill
        # before it: the batch's last pricing tells most batches, in the
        # fallback's window, apart from the rest (not one with orders after the
        # shutdown, priced at the block's time, which a price may be ahead of).
        window: uint256 = held.fallback_at // _FALLBACK_WINDOW
        if exit_terms.flag or pricings[len(pricings) - 1].at // _FALLBACK_WINDOW > window:
            for p: IOracle.Pricing in pricings:
                if p.outcome == constants.ROUND_FILL and p.price != 0 and p.at // _FALLBACK_WINDOW > window:
                    held.fallback_at = p.at
                    new_fallback = p.price
                    window = p.at // _FALLBACK_WINDOW
        if exit_terms.flag:
            # A shutdown void without any price: at the fallback, if later than the last rebalance.
            for i: uint256 in range(constants.MAX_BATCH):
                if i == len(batch):
                    break
                if batch[i].kind == constants.ORDER_SHUTDOWN:
                    if pricings[i].price == 0 and held.fallback_at > staticcall IPool(pool).fee_time():
                        pricings[i].price = new_fallback if new_fallback != 0 else self._fallback_price
                        pricings[i].at = held.fallback_at
                        pricings[i].round_id = held.fallback_at  # a fill's round id is its price's time
                    break
    queue.head += taken
    self._store_queue(queue)
    self._store_held(held)
    if new_fallback != 0:
        self._fallback_price = new_fallback
    if len(batch) != 0:
        extcall IPool(pool).execute(batch, pricings, msg.sender)
    return len(batch)


# ---------------------------------------------------------------- views


@external
@view
def order(order_id: uint256) -> IPool.OrderStatus:
    """
    @notice Where an order stands: unknown, pending (with its T and phase; a
            held LP deposit is pending too) or settled (what it got is in the
            pool's `OrderSettled` event).
    @param order_id The id a request returned.
    @return IPool.OrderStatus Status, T and phase.
    """
    queue: Queue = self._queue()
    if order_id == 0 or order_id >= queue.tail:
        return empty(IPool.OrderStatus)
    slot: uint256 = self._orders[order_id]
    if order_id < queue.head and slot == 0:
        return IPool.OrderStatus(status=constants.ORDER_SETTLED, not_before=0, phase=0)
    return IPool.OrderStatus(status=constants.ORDER_PENDING, not_before=slot >> 216, phase=(slot >> 200) & _MASK_16)


@external
@view
def pending_orders() -> uint256:
    """
    @notice How many orders wait in the queue, from `next_order()` on (held LP
            deposits are counted by `held_deposits()`).
    @return uint256 The count.
    """
    queue: Queue = self._queue()
    return queue.tail - queue.head


@external
@view
def held_deposits() -> (uint256, uint256, uint256):
    """
    @notice LP deposits priced at a round but held until that round's other
            orders have settled: they settle, at that round, in the settlement
            that completes it. A settler hands them back first in `settle`, in
            the order `held_deposit` lists them.
    @return uint256 How many are held.
    @return uint256 The first to hand back (0 if none).
    @return uint256 Their round's time (the last held round's, once none is).
    """
    held: Held = self._held()
    if held.count == 0:
        return 0, 0, held.at
    return held.count, self._held_ids[held.start], held.at


@external
@view
def fallback_price() -> (uint256, uint256):
    """
    @notice Pull market: the price a shutdown that no Pyth price can prove
            would fix the NAV at (if later than the last rebalance; else the
            last reference NAV stands): the first price an order filled at in
            the latest five-minute window in which one did.
    @return uint256 The price (WAD), 0 if none yet (or a push market).
    @return uint256 Its time.
    """
    return self._fallback_price, self._held().fallback_at


@external
@view
def held_deposit(index: uint256) -> uint256:
    """
    @notice The id of a held LP deposit, in the order they are handed back.
    @param index 0 for the first, up to `held_deposits()`'s count less one.
    @return uint256 The order id.
    """
    held: Held = self._held()
    assert index < held.count, "orders: no such held deposit"
    return self._held_ids[held.start + index]


@external
@view
def next_order() -> uint256:
    """
    @notice Id of the oldest pending order (the next to settle); equals the next
            request's id when none is pending.
    @return uint256 The order id.
    """
    return self._queue().head


@external
@view
def escrowed() -> uint256:
    """
    @notice Collateral held for pending mints and LP deposits (amounts and settle
            fees), outside the pool's total assets.
    @return uint256 Collateral, in its own decimals.
    """
    return self._queue().escrowed


@external
@view
def current_phase() -> uint256:
    """
    @notice The feed's current phase (the proxy's `phaseId()`), which a request
            records so that its order settles at a round of that phase.
    @dev From `phaseId()`, else (it reverts or answers no word) from the latest
         round id. 0 if the feed cannot say (both fail, or the phase is above 16
         bits, which no proxy has): an order of
         phase 0 has no round and is void at its expiry, so a dead feed never
         stops an exit or a shutdown. A read that fails for lack of gas reverts
         `orders: out of gas`, so a caller cannot pick phase 0.
    @return uint256 The phase id, or 0 (always on a pull market).
    """
    if pull:
        return 0
    return self._current_phase()


@external
@view
def terms() -> IPool.Terms:
    """
    @notice The terms a request gets now: whether mint and LP deposit requests
            are closed, whether the NAV is fixed, the fees and order parameters.
    @return IPool.Terms The terms.
    """
    entry: SideTerms = self._side_terms(self._entry_terms)
    exit: SideTerms = self._side_terms(self._exit_terms)
    return IPool.Terms(
        closed=entry.flag,
        is_shutdown=exit.flag,
        mint_fee=entry.trade_fee,
        redeem_fee=exit.trade_fee,
        settle_fee=entry.settle_fee,
        min_delay=entry.min_delay,
        max_wait=entry.max_wait,
        min_order=entry.min_order,
    )


@external
@view
def settle_fee() -> uint256:
    """
    @notice Collateral each order pays whoever settles it (paid with the request).
    @return uint256 Collateral, in its own decimals.
    """
    return self._side_terms(self._entry_terms).settle_fee


@external
@view
def min_delay() -> uint256:
    """
    @notice Seconds from a request to the earliest round that may price it.
    @return uint256 Seconds.
    """
    return self._side_terms(self._entry_terms).min_delay


@external
@view
def max_wait() -> uint256:
    """
    @notice Seconds after an order's T (at least) before it is void if no round came.
    @return uint256 Seconds.
    """
    return self._side_terms(self._entry_terms).max_wait


@external
@view
def min_order() -> uint256:
    """
    @notice Smallest order, in collateral (a request for a whole balance is always taken).
    @return uint256 Collateral, in its own decimals.
    """
    return self._side_terms(self._entry_terms).min_order


@external
@view
def head() -> (bool, uint256, uint256):
    """
    @notice The oldest pending order's T and phase, which `rebalance` checks;
            while LP deposits are held, their round's time and phase (their
            round is out: a rebalance waits for them).
    @return bool Whether an order is pending.
    @return uint256 Its T.
    @return uint256 Its phase.
    """
    held: Held = self._held()
    if held.count != 0:
        return True, held.at, held.round_id >> 64
    queue: Queue = self._queue()
    if queue.head == queue.tail:
        return False, 0, 0
    slot: uint256 = self._orders[queue.head]
    return True, slot >> 216, (slot >> 200) & _MASK_16


@external
@view
def is_pending(o: IPool.Order) -> bool:
    """
    @notice Whether `o` is a pending order exactly as requested (it matches its
            commitment), so that a contract may keep it for a later `settle`.
    @param o The order, as `OrderRequested` gave it.
    @return bool True while it waits; false once settled, or for any other order.
    """
    # A settled or unused id's slot is 0, which no commitment is (T is not 0).
    return self._orders[o.id] == self._commitment(o)


# ---------------------------------------------------------------- internal


@internal
def _request_entry(kind: uint256, assets: uint256, min_out: uint256, receiver: address, deadline: uint256) -> uint256:
    """
    @dev Mint and LP deposit: the collateral and the settle fee go to the pool now.
    """
    terms: SideTerms = self._side_terms(self._entry_terms)
    assert not terms.flag, "orders: closed"
    self._check_request(assets, min_out, receiver, deadline)
    assert assets >= terms.min_order, "orders: below min order"
    self._pull(assets + terms.settle_fee)
    trade_fee: uint256 = terms.trade_fee if kind == constants.ORDER_MINT else 0
    return self._enqueue(
        kind, assets, min_out, msg.sender, receiver, trade_fee, terms.settle_fee, terms.min_delay, terms.max_wait
    )


@internal
def _request_exit(kind: uint256, amount: uint256, min_out: uint256, receiver: address, deadline: uint256) -> uint256:
    """
    @dev Redeem and LP withdrawal: the pool takes the tokens into escrow. After
         shutdown the NAV is fixed, so the order settles in this call.
    """
    self._check_request(amount, min_out, receiver, deadline)
    terms: SideTerms = self._side_terms(self._exit_terms)
    balance: uint256 = 0
    value: uint256 = 0
    balance, value = extcall IPool(pool).take(kind, msg.sender, amount)
    # Valued at the last reference (no oracle read); a whole balance is always taken.
    assert value >= terms.min_order or amount == balance, "orders: below min order"
    # The settle fee comes out of an exit: one worth less would pay its settler
    # next to nothing and come back to be requested again (the pool refuses one
    # worth 0 unless the whole side is). After shutdown it settles here, for free.
    assert value >= terms.settle_fee or value == 0 or terms.flag, "orders: worth less than the settle fee"
    trade_fee: uint256 = terms.trade_fee if kind == constants.ORDER_REDEEM else 0
    if not terms.flag:
        return self._enqueue(
            kind, amount, min_out, msg.sender, receiver, trade_fee, terms.settle_fee, terms.min_delay, terms.max_wait
        )
    o: IPool.Order = IPool.Order(
        id=0,
        kind=kind,
        requester=msg.sender,
        receiver=receiver,
        amount=amount,
        min_out=min_out,
        requested_at=block.timestamp,
        not_before=block.timestamp,
        phase=0,
        trade_fee=trade_fee,
        settle_fee=0,
        max_wait=0,
    )
    extcall IPool(pool).execute(
        [o], [IOracle.Pricing(outcome=constants.ROUND_FILL, round_id=0, price=0, at=block.timestamp)], msg.sender
    )
    return 0


@internal
def _enqueue(
    kind: uint256,
    amount: uint256,
    min_out: uint256,
    requester: address,
    receiver: address,
    trade_fee: uint256,
    settle_fee: uint256,
    min_delay: uint256,
    min_wait: uint256,
) -> uint256:
    """
    @dev Records the order's commitment with T = max(now + min_delay, T of the
         order before it), the feed's current phase and a wait that keeps its
         expiry (T + wait) no earlier than the order before it: orders settle
         in queue order, so a later order never waits less, and a void one is
         never priced before a round that filled an order ahead of it.
    """
    queue: Queue = self._queue()
    not_before: uint256 = block.timestamp + min_delay
    phase: uint256 = 0
    if pull:
        # Up to the slot's end, so that one proven price settles the whole slot.
        not_before = (not_before + constants.PULL_SLOT - 1) // constants.PULL_SLOT * constants.PULL_SLOT
    else:
        phase = self._current_phase()
    not_before = max(not_before, queue.last_not_before)
    max_wait: uint256 = min_wait
    if queue.last_not_before + queue.last_max_wait > not_before + max_wait:
        max_wait = queue.last_not_before + queue.last_max_wait - not_before
    o: IPool.Order = IPool.Order(
        id=queue.tail,
        kind=kind,
        requester=requester,
        receiver=receiver,
        amount=amount,
        min_out=min_out,
        requested_at=block.timestamp,
        not_before=not_before,
        phase=phase,
        trade_fee=trade_fee,
        settle_fee=settle_fee,
        max_wait=max_wait,
    )
    self._orders[o.id] = self._commitment(o)
    queue.tail += 1
    queue.last_not_before = not_before
    queue.last_max_wait = max_wait
    if kind == constants.ORDER_MINT or kind == constants.ORDER_LP_DEPOSIT:
        queue.escrowed += amount + settle_fee
        assert queue.escrowed <= _MAX_ESCROW, "orders: amount too large"
    self._store_queue(queue)
    log IPool.OrderRequested(
        order_id=o.id,
        requester=o.requester,
        receiver=o.receiver,
        kind=o.kind,
        amount=o.amount,
        min_out=o.min_out,
        requested_at=o.requested_at,
        not_before=o.not_before,
        phase=o.phase,
        trade_fee=o.trade_fee,
        settle_fee=o.settle_fee,
        max_wait=o.max_wait,
    )
    return o.id


@internal
@view
def _current_phase() -> uint256:
    """
    @dev Read here, not through the oracle adapter: one call frame and one cold
         account less on every request. If `phaseId()` fails, the latest round
         id's top bits. A failed read that left under 1/32 of the gas it
         started with may have run out of gas (the feed got 63/64): it reverts
         rather than pass for a dead feed's phase 0.
    """
    gas_before: uint256 = msg.gas
    ok: bool = False
    response: Bytes[32] = b""
    ok, response = raw_call(feed, method_id("phaseId()"), max_outsize=32, is_static_call=True, revert_on_failure=False)
    if ok and len(response) == 32:
        return self._phase_or_zero(abi_decode(response, uint256))
    assert ok or msg.gas > gas_before // 32, "orders: out of gas"
    # No phaseId() answer, though the feed may still answer rounds: its latest
    # round id carries the phase (`phaseId << 64 | aggregatorRoundId`).
    gas_before = msg.gas
    round_data: Bytes[160] = b""
    ok, round_data = raw_call(
        feed, method_id("latestRoundData()"), max_outsize=160, is_static_call=True, revert_on_failure=False
    )
    if not ok:
        assert msg.gas > gas_before // 32, "orders: out of gas"
        return 0
    if len(round_data) != 160:
        return 0
    return self._phase_or_zero(convert(slice(round_data, 0, 32), uint256) >> 64)


@internal
@pure
def _phase_or_zero(phase: uint256) -> uint256:
    if phase > _MASK_16:
        return 0  # not a proxy's uint16 phase: no round could ever be proven its
    return phase


@internal
@pure
def _commitment(o: IPool.Order) -> uint256:
    """
    @dev What the book keeps of an order: T and phase in the top 56 bits (what
         `rebalance` checks), the top 200 bits of the order's hash below them.
    """
    digest: uint256 = convert(keccak256(abi_encode(o)), uint256)
    return (o.not_before & _MASK_40) << 216 | (o.phase & _MASK_16) << 200 | digest >> 56


@internal
@view
def _check_request(amount: uint256, min_out: uint256, receiver: address, deadline: uint256):
    assert amount != 0, "orders: zero amount"
    assert receiver != empty(address), "orders: zero receiver"
    assert receiver != pool and receiver != lp_token and receiver != self, "orders: receiver is the pool"
    assert block.timestamp <= deadline, "orders: deadline passed"
    assert min_out <= _MAX_MIN_OUT, "orders: min out too large"


@internal
def _pull(assets: uint256):
    """
    @dev transferFrom the caller straight to the pool, accepting tokens that
         return no bool, and refusing any that delivers less (fee-on-transfer).
    """
    balance_before: uint256 = staticcall IERC20(collateral).balanceOf(pool)
    assert extcall IERC20(collateral).transferFrom(msg.sender, pool, assets, default_return_value=True), "orders: transfer failed"
    balance_after: uint256 = staticcall IERC20(collateral).balanceOf(pool)
    assert balance_after - balance_before == assets, "orders: fee-on-transfer collateral"


@internal
def _permit_collateral(assets: uint256, deadline: uint256, v: uint8, r: bytes32, s: bytes32):
    """
    @dev Applies the caller's permit for this book, for `assets` plus the settle
         fee. A failed permit is ignored if the allowance is there anyway: anyone
         can submit a signature seen in the mempool first, and that must not
         block the call. The owner is always the caller, so a token whose
         `permit` silently does nothing only lets the book spend what the
         caller approved.
    """
    amount: uint256 = assets + self._side_terms(self._entry_terms).settle_fee
    applied: bool = raw_call(
        collateral,
        abi_encode(
            msg.sender,
            self,
            amount,
            deadline,
            v,
            r,
            s,
            method_id=method_id("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)"),
        ),
        revert_on_failure=False,
    )
    if not applied:
        assert block.timestamp <= deadline, "orders: deadline passed"
        assert staticcall IERC20(collateral).allowance(msg.sender, self) >= amount, "orders: permit failed"


@internal
def _store_terms(terms: IPool.Terms):
    self._entry_terms = self._pack_side(
        SideTerms(
            flag=terms.closed,
            trade_fee=terms.mint_fee,
            settle_fee=terms.settle_fee,
            min_delay=terms.min_delay,
            max_wait=terms.max_wait,
            min_order=terms.min_order,
        )
    )
    self._exit_terms = self._pack_side(
        SideTerms(
            flag=terms.is_shutdown,
            trade_fee=terms.redeem_fee,
            settle_fee=terms.settle_fee,
            min_delay=terms.min_delay,
            max_wait=terms.max_wait,
            min_order=terms.min_order,
        )
    )


@internal
@pure
def _pack_side(terms: SideTerms) -> uint256:
    # The pool bounds every parameter far inside its field (a trade fee of 1%
    # < 2**56, 5 units of 18 decimals < 2**64, two days < 2**24, 10,000 units < 2**80);
    # checked here too, so that a wider bound can never spill into the next field.
    assert (
        terms.trade_fee <= _MASK_56
        and terms.settle_fee <= _MASK_64
        and terms.min_delay <= _MASK_24
        and terms.max_wait <= _MASK_24
        and terms.min_order <= _MASK_80
    ), "orders: terms out of range"
    word: uint256 = (
        terms.trade_fee << 1
        | terms.settle_fee << 57
        | terms.min_delay << 121
        | terms.max_wait << 145
        | terms.min_order << 169
    )
    if terms.flag:
        word |= 1
    return word


@internal
@pure
def _side_terms(word: uint256) -> SideTerms:
    return SideTerms(
        flag=word & 1 != 0,
        trade_fee=(word >> 1) & _MASK_56,
        settle_fee=(word >> 57) & _MASK_64,
        min_delay=(word >> 121) & _MASK_24,
        max_wait=(word >> 145) & _MASK_24,
        min_order=word >> 169,
    )


@internal
@view
def _queue() -> Queue:
    word: uint256 = self._queue_word
    return Queue(
        head=word & _MASK_40,
        tail=(word >> 40) & _MASK_40,
        last_not_before=(word >> 80) & _MASK_40,
        last_max_wait=(word >> 120) & _MASK_24,
        escrowed=word >> 144,
    )


@internal
@view
def _held() -> Held:
    word: uint256 = self._held_word
    held: Held = Held(
        count=word & _MASK_40,
        start=(word >> 40) & _MASK_40,
        at=(word >> 80) & _MASK_40,
        round_id=(word >> 120) & _MASK_80,
        price=0,
        fallback_at=(word >> 200) & _MASK_40,
    )
    if held.count != 0:
        held.price = self._held_price
    return held


@internal
def _store_held(held: Held):
    # Written only when it changed: most settlements hold nothing. The price
    # stays behind once released, so the next round's write is a cheap one.
    word: uint256 = held.count | held.start << 40 | held.at << 80 | held.round_id << 120 | held.fallback_at << 200
    if word != self._held_word:
        self._held_word = word
    if held.count != 0 and held.price != self._held_price:
        self._held_price = held.price


@internal
@pure
def _held_pricing(held: Held) -> IOracle.Pricing:
    return IOracle.Pricing(outcome=constants.ROUND_FILL, round_id=held.round_id, price=held.price, at=held.at)


@internal
def _store_queue(queue: Queue):
    # Ids and T below 2**40 on any real chain, a wait at most MAX_MAX_WAIT; the
    # escrow is checked against 2**112 when it grows.
    self._queue_word = (
        queue.head
        | queue.tail << 40
        | queue.last_not_before << 80
        | queue.last_max_wait << 120
        | queue.escrowed << 144
    )
