"""Settling on a pull market (SPEC 3b): an order's price is the first Pyth price
published at or after its T, a multiple of PULL_SLOT seconds. Whoever settles brings
each slot's update (the first at or after the slot's time, from Hermes) unless someone
proved that slot already; the adapter (`PythOracle.vy`) keeps every proof, so the
orders of one slot share it. The keeper, the wallet CLI, the demo and the tests all
settle pull markets through here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .constants import (
    MAX_BATCH,
    ORDER_LP_DEPOSIT,
    ORDER_MINT,
    ORDER_SHUTDOWN,
    PULL_FALLBACK_GRACE,
    PULL_MAX_PROOFS,
    PULL_SLOT,
    WAD,
)
from .hermes import NotYetPublished
from .orders import Order


def slot_of(t: int) -> int:
    """The slot an order requested with T >= t is priced at: t rounded up to PULL_SLOT."""
    return -(-t // PULL_SLOT) * PULL_SLOT


def recent_slot(now: int) -> int:
    """The latest slot at or before `now`: the one a rebalance's price is proven for
    (it serves for PULL_REBALANCE_WINDOW seconds, a block or two on a slow chain)."""
    return now - now % PULL_SLOT


@dataclass(frozen=True)
class SlotPrice:
    """An update holding a slot's first price: its data and what Hermes says of it."""

    data: bytes
    publish_time: int


# Where updates come from: a Hermes client (`hermes_source`), or a signer in tests.
UpdateSource = Callable[[int], SlotPrice | None]
# Whether a slot is proven on-chain already: the adapter's `proven(slot)[0]`.
ProvenCheck = Callable[[int], bool]


@dataclass
class PullBatch:
    """What one `settle(orders, round_ids, updates)` takes, with the fee to send."""

    due: list[tuple[Order, bool]]  # each order, and whether it will be void (earns its settler nothing)
    updates: list[tuple[int, bytes]]  # (slot, update data) for each slot not proven yet

    @property
    def orders(self) -> list[tuple]:
        return [order.as_struct() for order, _ in self.due]

    @property
    def round_ids(self) -> list[int]:
        return [0] * len(self.due)


def pull_batch(
    orders: list[Order],
    proven: ProvenCheck,
    source: UpdateSource,
    now: int,
    shut: bool,
    limit: int = MAX_BATCH,
) -> PullBatch:
    """The longest due run of `orders` (pending, in queue order, from the head) and
    the updates it needs: every order whose slot is proven or has an update out,
    with at most PULL_MAX_PROOFS new slots; an order whose slot has no price out by
    its expiry plus PULL_FALLBACK_GRACE is void without one. `shut`: the pool is
    shut down (orders need no price)."""
    batch = PullBatch([], [])
    fetched: dict[int, SlotPrice] = {}
    for order in orders[:limit]:
        if shut:
            batch.due.append((order, order.kind in (ORDER_MINT, ORDER_LP_DEPOSIT)))
            continue
        slot = order.not_before
        if slot > now:
            break  # its slot has not begun on the chain (Pyth may have its price already: clock skew)
        price = fetched.get(slot)
        if price is None and not proven(slot):
            if len(batch.updates) < PULL_MAX_PROOFS:
                price = source(slot)
            if price is None:
                if now < order.expires_at + PULL_FALLBACK_GRACE:
                    break
                batch.due.append((order, True))  # the fallback: no price could be had
                shut = order.kind == ORDER_SHUTDOWN
                continue
            fetched[slot] = price
            batch.updates.append((slot, price.data))
        late = price is not None and price.publish_time > order.expires_at
        batch.due.append((order, late))
        shut = order.kind == ORDER_SHUTDOWN
    return batch


def current_slot_update(now: int, proven: ProvenCheck, source: UpdateSource) -> list[tuple[int, bytes]] | None:
    """What a rebalance sent after the head block at `now` brings to prove its price
    (the first of the slot `now` is in): [] when that slot is proven already,
    [(slot, update data)] once its first price is out, None while it is not."""
    slot = recent_slot(now)
    if proven(slot):
        return []
    update = source(slot)
    return None if update is None else [(slot, update.data)]


def hermes_source(hermes, price_id: str) -> UpdateSource:
    """Each slot's first update from a Hermes client (`inverse.hermes.Hermes`); None
    while it is not published yet."""

    def source(slot: int) -> SlotPrice | None:
        try:
            updates = hermes.at(slot, [price_id])
        except NotYetPublished:
            return None
        return SlotPrice(updates.data[0], int(updates.parsed[0]["price"]["publish_time"]))

    return source


def rebalance_would_be_due(
    now: int, price: int, last_rebalance: int, interval: int, reference: int, threshold: int
) -> bool:
    """What a pull market's `rebalance_due()` would say once the latest slot's
    price (`price`, WAD) is proven: the interval has passed by that slot's time
    (the pool asks it of the price's publish time, at or after the slot's) or the
    price is past the threshold. What the keeper, the demo and the playground look at."""
    return recent_slot(now) >= last_rebalance + interval or abs(price - reference) * WAD >= threshold * reference


def signed_source(price_at: Callable[[int], int], price_id: bytes, key: bytes | None = None) -> UpdateSource:
    """Updates signed here with the mock Pyth's test signer (local chains only): a
    price every second, `price_at(t)` USD with 8 decimals, each published at its
    slot's own second."""
    from .pyth import TEST_SIGNER_KEY, PriceUpdate

    def source(slot: int) -> SlotPrice:
        price = price_at(slot)
        update = PriceUpdate(price_id, price, max(price // 2_000, 1), -8, slot, slot - 1)
        return SlotPrice(update.sign(key or TEST_SIGNER_KEY), slot)

    return source


def update_fee(pyth, updates: list[tuple[int, bytes]]) -> int:
    """What Pyth charges for the updates (wei): `getUpdateFee` over all of them."""
    return pyth.getUpdateFee([data for _, data in updates]) if updates else 0
