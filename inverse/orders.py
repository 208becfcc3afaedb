"""Orders off-chain: read them from `OrderRequested`, find each one's round, settle.

The order book stores only a hash of each order, so whoever settles reads the
order from its `OrderRequested` event and hands it back. Its round is the first
round of its phase with `updatedAt >= T` and (where the feed reports it)
`startedAt >= requested_at`: both times only grow along a phase's rounds, so the
round is found by a binary search, and the orders behind it in the queue (whose
T and request time never decrease) by walking forward from there. The keeper,
the wallet CLI, the demo and the tests all settle through here.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, field, replace

from ape.exceptions import ApeException

from .constants import DEAD_FEED_GRACE, MAX_BATCH, MAX_PRICE, ORDER_KINDS, ORDER_LP_DEPOSIT, ORDER_MINT, ORDER_SHUTDOWN

PHASE_SHIFT = 64
# A next-phase proof (`ChainlinkOracle.order_round`): last << 80 | round.
NEXT_PHASE_SHIFT = 80
ROUND_ID_MASK = 2**NEXT_PHASE_SHIFT - 1


@dataclass(frozen=True)
class Order:
    """An order as requested (the `IPool.Order` struct, field for field)."""

    id: int
    kind: int
    requester: str
    receiver: str
    amount: int
    min_out: int
    requested_at: int
    not_before: int
    phase: int
    trade_fee: int
    settle_fee: int
    max_wait: int
    # Priced, and held by the book until its round's other orders settle (an LP
    # deposit behind the queue's head): handed back first in `settle`.
    held: bool = field(default=False, compare=False)

    @property
    def expires_at(self) -> int:
        """After this time with no round of its phase, the order is void."""
        return self.not_before + self.max_wait

    @property
    def kind_name(self) -> str:
        return ORDER_KINDS.get(self.kind, str(self.kind))

    def as_struct(self) -> tuple:
        return astuple(self)[:12]


def order_from_log(log) -> Order:
    return Order(
        id=log.order_id,
        kind=log.kind,
        requester=log.requester,
        receiver=log.receiver,
        amount=log.amount,
        min_out=log.min_out,
        requested_at=log.requested_at,
        not_before=log.not_before,
        phase=log.phase,
        trade_fee=log.trade_fee,
        settle_fee=log.settle_fee,
        max_wait=log.max_wait,
    )


def requested_orders(book, start_block: int = 0) -> list[Order]:
    """Every order requested at `book` since `start_block`, oldest first."""
    from ape import chain

    head = chain.blocks.head.number
    logs = paged_logs(lambda first, last: book.OrderRequested.range(first, last + 1), start_block, head)
    return sorted((order_from_log(log) for log in logs), key=lambda o: o.id)


# Held LP deposits listed ahead of the queue: at most a batch less one, so that a
# batch always has room for the queue order that may complete their round.
MAX_HANDED_BACK = MAX_BATCH - 1


def held_ids(count: int, first: int, held_deposit) -> list[int]:
    """The ids of the held LP deposits to hand back, in the book's order (at most
    MAX_HANDED_BACK), from `held_deposits()`'s count and first and the book's
    `held_deposit(i)`, which is asked only past the first."""
    listed = min(count, MAX_HANDED_BACK)
    return ([first] if listed else []) + [held_deposit(i) for i in range(1, listed)]


def pending_orders(book, start_block: int = 0) -> list[Order]:
    """The orders still waiting in `book`, in the order `settle` takes them: the
    held LP deposits first (up to MAX_HANDED_BACK), then the queue from its head."""
    head = book.next_order()
    count, first, _ = book.held_deposits()
    held = held_ids(count, first, book.held_deposit)
    orders = {o.id: o for o in requested_orders(book, start_block)}
    return [replace(orders[i], held=True) for i in held] + [o for i, o in sorted(orders.items()) if i >= head]


@dataclass(frozen=True)
class Round:
    round_id: int
    answer: int
    started_at: int
    updated_at: int


class RoundReader:
    """Reads a feed's rounds once each; a round that does not exist (the call
    reverts, or answers zeros, or is dated after `now`) reads as None."""

    def __init__(self, feed, now: int):
        self.feed = feed
        self.now = now
        self._cache: dict[int, Round | None] = {}
        self._max_answer: int | None = None

    def get(self, round_id: int) -> Round | None:
        if round_id not in self._cache:
            self._cache[round_id] = self._read(round_id)
        return self._cache[round_id]

    def _read(self, round_id: int) -> Round | None:
        if round_id & (2**PHASE_SHIFT - 1) == 0:
            return Round(round_id, 0, 0, 0)  # a phase's start: exists, never qualifies
        try:
            _, answer, started_at, updated_at, _ = self.feed.getRoundData(round_id)
        except (ApeException, ValueError):
            return None
        if updated_at == 0 or updated_at > self.now:
            return None
        return Round(round_id, answer, started_at, updated_at)

    def valid(self, r: Round) -> bool:
        """Whether the oracle takes `r`'s answer as a price (`ChainlinkOracle._valid`)."""
        if self._max_answer is None:
            self._max_answer = MAX_PRICE // 10 ** (18 - int(self.feed.decimals()))
        return 0 < r.answer <= self._max_answer

    def exists(self, round_id: int) -> bool:
        return self.get(round_id) is not None

    def last_of_phase(self, phase: int) -> int:
        """The newest round id of `phase` (its start, aggregator id 0, if it has none)."""
        base = phase << PHASE_SHIFT
        if phase == 0:
            return 0  # the feed could not say its phase: no rounds; void at expiry with round id 0
        try:
            current = int(self.feed.phaseId())
        except (ApeException, ValueError):
            current = None  # a feed that reverts every read: its rounds read as missing
        if current == phase:
            try:
                latest = int(self.feed.latestRoundData()[0])
            except (ApeException, ValueError):
                latest = 0  # the aggregator cannot answer: search the phase as an old one
            if latest >> PHASE_SHIFT == phase and self.exists(latest):
                # A round may have been published after `latest` in the same block.
                while self.exists(latest + 1):
                    latest += 1
                return latest
        # An older phase: the last aggregator id that exists, by doubling then bisecting.
        high = 1
        while self.exists(base + high):
            high *= 2
        low = high // 2  # exists (or 0: the phase's start)
        while high - low > 1:
            middle = (low + high) // 2
            if self.exists(base + middle):
                low = middle
            else:
                high = middle
        return base + low

    def latest_phase(self) -> int | None:
        """The proxy's current phase, as the oracle reads it (`phaseId()`, else its
        latest round's); None if it cannot say."""
        for read in (lambda: int(self.feed.phaseId()), lambda: int(self.feed.latestRoundData()[0]) >> PHASE_SHIFT):
            try:
                return read()
            except (ApeException, ValueError):
                continue
        return None

    def is_last(self, round_id: int, phase: int, expires_at: int) -> bool:
        """Whether the oracle takes `round_id` as its phase's last round (its
        `_is_last_round`): the feed's latest while the phase is current, else
        the next round is missing; a feed whose latest round cannot be read,
        only a day (`DEAD_FEED_GRACE`) after the order's expiry."""
        if phase == 0:
            return True
        try:
            latest = int(self.feed.latestRoundData()[0])
        except (ApeException, ValueError):
            latest = None
        if latest is not None and latest >> PHASE_SHIFT == phase:
            if latest == round_id:
                return True
            if self.exists(latest):
                return False
            latest = None  # an unfinished latest round: as a feed that cannot answer
        if latest is None and self.now <= expires_at + DEAD_FEED_GRACE:
            return False
        return not self.exists(round_id + 1)


def qualifies(r: Round | None, order: Order) -> bool:
    return (
        r is not None
        and r.updated_at != 0
        and r.updated_at >= order.not_before
        and (r.started_at == 0 or r.started_at >= order.requested_at)
    )


def find_round(reader: RoundReader, order: Order, last: int | None = None, at_least: int | None = None) -> int | None:
    """The round id `settle` needs for `order`: its round; once its phase ended
    without it (the proxy moved on), a next-phase proof, `last << 80 | round`
    (its phase's last round, and its round in the next phase); or, when none
    came by its expiry, the last round that proves it void. None while the order
    must wait. `at_least`: a round no later than the order's (the round of the
    order before it in the queue), to walk forward from."""
    if last is None:
        last = reader.last_of_phase(order.phase)
    if qualifies(reader.get(last), order):
        return _first_qualifying(reader, order, order.phase, last, at_least)
    latest_phase = reader.latest_phase()
    if order.phase and latest_phase is not None and latest_phase > order.phase:
        if not reader.is_last(last, order.phase, order.expires_at):
            return None
        phase = order.phase + 1
        next_last = reader.last_of_phase(phase)
        if qualifies(reader.get(next_last), order):
            return last << NEXT_PHASE_SHIFT | _first_qualifying(reader, order, phase, next_last, at_least)
        if reader.now > order.expires_at and reader.is_last(next_last, phase, order.expires_at):
            return last << NEXT_PHASE_SHIFT | next_last  # none came there either by its expiry: void
        return None
    if reader.now > order.expires_at and reader.is_last(last, order.phase, order.expires_at):
        return last  # none came by its expiry: void
    return None


def _first_qualifying(reader: RoundReader, order: Order, phase: int, last: int, at_least: int | None) -> int:
    """The first round of `phase` that qualifies for `order`, given that `last` does."""
    if at_least is not None and at_least >> PHASE_SHIFT == phase and at_least <= last:
        r = at_least
        while not qualifies(reader.get(r), order):
            r += 1
        return r
    low, high = phase << PHASE_SHIFT, last  # low does not qualify (or is the start); high does
    while high - low > 1:
        middle = (low + high) // 2
        if qualifies(reader.get(middle), order):
            high = middle
        else:
            low = middle
    return high


def settlement_batch(book, feed, now: int, start_block: int = 0, limit: int = MAX_BATCH) -> tuple[list, list]:
    """The longest run of due orders at the head of `book`'s queue, with their
    round ids, ready for `book.settle(orders, round_ids)`; empty if the oldest
    order must still wait. After a shutdown order, orders need no round."""
    orders = pending_orders(book, start_block)
    return due_batch(orders, feed, now, bool(book_pool_is_shutdown(book)), limit)


def due_batch(orders: list[Order], feed, now: int, shut: bool, limit: int = MAX_BATCH) -> tuple[list, list]:
    """`settlement_batch` for orders already known (the pending ones, as
    `pending_orders` gives them): the longest due run of them with their round
    ids. `shut`: the pool is shut down (orders need no round)."""
    held = sum(order.held for order in orders)
    due = due_orders(orders[: held + limit], feed, now, shut, held + limit)
    chunk = in_batches(due, limit)[0] if due else []
    return [order.as_struct() for order, _, _ in chunk], [round_id for _, round_id, _ in chunk]


def in_batches(due: list[tuple], size: int = MAX_BATCH) -> list[list[tuple]]:
    """`due_orders`' run cut into `settle` calls of `size` orders. A call of held
    deposits alone settles nothing while their round goes on, so one that would
    be all held takes a queue order in its last place."""
    batches = []
    while due:
        batch = due[:size]
        queue = next((d for d in due if not d[0].held), None)
        if all(order.held for order, _, _ in batch) and queue is not None:
            batch = due[: size - 1] + [queue]
        batches.append(batch)
        due = [d for d in due if all(d[0].id != b[0].id for b in batch)]
    return batches


def due_orders(orders: list[Order], feed, now: int, shut: bool, limit: int = MAX_BATCH) -> list[tuple]:
    """`due_batch` as (order, round id, void) each: void when no valid round of its
    own came by its expiry, or an entry after shutdown. A void order is refunded
    and pays its settler nothing."""
    reader = RoundReader(feed, now)
    due = []
    previous: int | None = None
    lasts: dict[int, int] = {}
    for order in orders[:limit]:
        if shut:
            due.append((order, 0, order.kind in (ORDER_MINT, ORDER_LP_DEPOSIT)))
            continue
        if order.phase not in lasts:
            lasts[order.phase] = reader.last_of_phase(order.phase)
        round_id = find_round(reader, order, lasts[order.phase], previous)
        if round_id is None:
            break
        r = reader.get(round_id & ROUND_ID_MASK)  # a next-phase proof names its round last
        # Its round came, but too late or without a valid answer: void all the same.
        priced = qualifies(r, order) and r.updated_at <= order.expires_at and reader.valid(r)
        due.append((order, round_id, not priced))
        previous = round_id & ROUND_ID_MASK if qualifies(r, order) else None
        shut = order.kind == ORDER_SHUTDOWN
    if due and all(order.held for order, _, _ in due) and len(orders) > len(due):
        # Held deposits alone settle only once their round is over: the book's
        # next order has its T after the round (it is not due yet, so it does not).
        at = reader.get(due[0][1] & ROUND_ID_MASK).updated_at
        if orders[len(due)].not_before <= at:
            return []
    return due


def raw_view(address: str, signature: str, outputs: list[str]):
    """A view read with a bare `eth_call` (a few times faster than a contract
    call through ape, and a revert costs no trace): `raw_view(a, "f(uint80)",
    ["int256"])(5)`. A revert raises ValueError."""
    from ape import chain
    from eth_abi import decode, encode
    from eth_utils import keccak
    from web3.exceptions import Web3Exception

    selector = keccak(text=signature)[:4]
    inputs = [t for t in signature[signature.index("(") + 1 : -1].split(",") if t]
    web3 = chain.provider.web3

    def call(*args):
        try:
            out = web3.eth.call({"to": address, "data": selector + encode(inputs, list(args))})
        except Web3Exception as error:
            raise ValueError(f"{signature} reverted: {error}") from error
        if len(out) < 32 * len(outputs):
            raise ValueError(f"{signature}: short answer")
        values = decode(outputs, out)
        return values[0] if len(outputs) == 1 else values

    return call


class RawFeed:
    """The three reads of a feed that `RoundReader` makes, as bare `eth_call`s."""

    def __init__(self, address: str):
        self.address = address
        round_data = ["uint80", "int256", "uint256", "uint256", "uint80"]
        self.phaseId = raw_view(address, "phaseId()", ["uint16"])
        self.getRoundData = raw_view(address, "getRoundData(uint80)", round_data)
        self.latestRoundData = raw_view(address, "latestRoundData()", round_data)
        self.decimals = raw_view(address, "decimals()", ["uint8"])


# keccak of `OrderRequested(uint256,address,address,uint256,...)`, read from the ABI once.
_ORDER_REQUESTED_TOPIC: bytes | None = None


def _order_requested_topic() -> bytes:
    global _ORDER_REQUESTED_TOPIC
    if _ORDER_REQUESTED_TOPIC is None:
        from ape import project
        from eth_utils import keccak

        _ORDER_REQUESTED_TOPIC = keccak(text=project.OrderBook.contract_type.events["OrderRequested"].selector)
    return _ORDER_REQUESTED_TOPIC


def order_from_raw_log(log) -> Order:
    """An `OrderRequested` log as `eth_getLogs` gives it (topics: id, requester, receiver)."""
    from eth_abi import decode
    from eth_utils import to_checksum_address

    topics = log["topics"]
    words = decode(["uint256"] * 9, bytes(log["data"]))
    kind, amount, min_out, requested_at, not_before, phase, trade_fee, settle_fee, max_wait = words
    return Order(
        id=int.from_bytes(topics[1], "big"),
        kind=kind,
        requester=to_checksum_address(bytes(topics[2])[12:]),
        receiver=to_checksum_address(bytes(topics[3])[12:]),
        amount=amount,
        min_out=min_out,
        requested_at=requested_at,
        not_before=not_before,
        phase=phase,
        trade_fee=trade_fee,
        settle_fee=settle_fee,
        max_wait=max_wait,
    )


class OrderCache:
    """A book's pending orders, kept from its `OrderRequested` logs read
    incrementally: each `update` reads only the blocks since the last one, and
    drops what the book has settled. `start_block`: where the book was deployed
    (a manifest's `block`); `chunk`: most blocks per log query, fewer where the
    node refuses that many (`paged_logs`)."""

    def __init__(self, book_address: str, start_block: int = 0, chunk: int = 10_000):
        self.address = book_address
        self.start_block = start_block
        self.chunk = chunk
        self.cursor = start_block  # the next block to read
        self.orders: dict[int, Order] = {}
        self.next_order = raw_view(book_address, "next_order()", ["uint256"])
        self.pending_orders = raw_view(book_address, "pending_orders()", ["uint256"])
        self.held_deposits = raw_view(book_address, "held_deposits()", ["uint256", "uint256", "uint256"])
        self.held_deposit = raw_view(book_address, "held_deposit(uint256)", ["uint256"])
        self.held_at = 0  # the held deposits' round time, as `update` last read it

    def reset(self) -> None:
        """Forget everything and read again from the start (a log went missing)."""
        self.cursor = self.start_block
        self.orders = {}

    def _read_to(self, last_block: int) -> None:
        from ape import chain

        while self.cursor <= last_block:
            stop = min(self.cursor + self.chunk - 1, last_block)
            logs = paged_logs(
                lambda first, last: chain.provider.web3.eth.get_logs(
                    {"address": self.address, "fromBlock": first, "toBlock": last, "topics": [_order_requested_topic()]}
                ),
                self.cursor,
                stop,
            )
            for log in logs:
                order = order_from_raw_log(log)
                self.orders[order.id] = order
            self.cursor = stop + 1

    def update(self, head_block: int) -> list[Order]:
        """The pending orders as `settle` takes them: the held LP deposits, then
        the queue from its head."""
        from ape import chain

        self._read_to(head_block)
        head, waiting = self.next_order(), self.pending_orders()
        count, first, self.held_at = self.held_deposits()
        held = held_ids(count, first, self.held_deposit)
        keep_from = first if count else head
        pending = self._pending(head, keep_from)
        if len(pending) < waiting or any(i not in self.orders for i in held):
            # A request in a block newer than `head_block`, or a log the node
            # had not indexed yet (or a reorg): read on, then from the start.
            self._read_to(chain.provider.web3.eth.block_number)
            pending = self._pending(head, keep_from)
            if len(pending) < waiting or any(i not in self.orders for i in held):
                self.reset()
                self._read_to(chain.provider.web3.eth.block_number)
                pending = self._pending(head, keep_from)
        return [replace(self.orders[i], held=True) for i in held if i in self.orders] + pending[:waiting]

    def _pending(self, head: int, keep_from: int) -> list[Order]:
        for order_id in [i for i in self.orders if i < keep_from]:
            del self.orders[order_id]
        pending = []
        while head + len(pending) in self.orders:  # a run without gaps from the head
            pending.append(self.orders[head + len(pending)])
        return pending


def book_pool_is_shutdown(book) -> bool:
    from ape import project

    return project.InversePool.at(book.pool()).is_shutdown()


# Public RPCs refuse an eth_getLogs over too many blocks (or with too many results),
# each with words of its own; these are the ones they use.
_TOO_LARGE = ("range", "limit", "exceed", "too many", "too large", "more than", "response size")


def paged_logs(fetch, start: int, stop: int) -> list:
    """`fetch(first, last)` (the logs of blocks first..last) over start..stop: the
    whole range first, and a range the node refuses as too large split in halves
    until each passes. Logs come back in block order."""
    if start > stop:
        return []
    try:
        return list(fetch(start, stop))
    except Exception as error:  # each client raises its own type for an RPC error
        if start == stop or not any(words in str(error).lower() for words in _TOO_LARGE):
            raise
    middle = (start + stop) // 2
    return paged_logs(fetch, start, middle) + paged_logs(fetch, middle + 1, stop)
