"""A pull market (SPEC 3b) on the mock Pyth, deployed per module (a session fixture
first made late in a worker's run would not survive ape's module snapshots): `pull_pool` (-1x, 6-decimal collateral)
and its order book, and `prices`, the Pyth price path the tests publish: a price every
second of the chain's clock, signed by the mock's test signer, each update the first
at or after its own second, as the local price service and Hermes serve them."""

from __future__ import annotations

import pytest
from ape import chain, project

from inverse.deploy import deploy_pull_oracle, lens_of, order_book_of, prove_recent_price
from inverse.orders import order_from_log, pending_orders
from inverse.pull import SlotPrice, pull_batch
from inverse.pyth import TEST_SIGNER, PriceUpdate
from tests.conftest import fund

ETH_USD = bytes.fromhex("ff61491a931112ddf1bd8147cd1b641375f79f5825126d665480874634fd0ace")
BTC_USD = bytes.fromhex("e62df6c8b4a85fe1a67db44dc12de5db330f7ac66b72dc658afedf0f4a415b43")
USDC = 10**6
CONF = 10**8  # 1 USD at 8 decimals: 0.05% of 2,000


def signed(publish_time: int, price: int, prev: int | None = None, conf: int = CONF, feed: bytes = ETH_USD) -> bytes:
    """A Pyth update at `price` USD (8 decimals) published at `publish_time`."""
    prev = publish_time - 1 if prev is None else prev
    return PriceUpdate(feed, price, conf, -8, publish_time, prev).sign()


class Prices:
    """The price path by second: `set(price, since)`; `source(slot)` is the first
    update at or after `slot` if the chain's clock has reached it (else None)."""

    def __init__(self, price: int = 2_000 * 10**8):
        self.path = [(0, price)]
        self.conf: dict[int, int] = {}  # seconds published with another confidence

    def set(self, price: int, since: int) -> None:
        self.path = [(t, p) for t, p in self.path if t < since] + [(since, price)]

    def at(self, t: int) -> int:
        return [p for since, p in self.path if since <= t][-1]

    def source(self, slot: int) -> SlotPrice | None:
        if slot > chain.blocks.head.timestamp:
            return None
        return SlotPrice(signed(slot, self.at(slot), conf=self.conf.get(slot, CONF)), slot)


@pytest.fixture(scope="module")
def pyth(owner, project):
    return owner.deploy(project.MockPyth, TEST_SIGNER, 1)  # 1 wei per update, as Pyth on most chains


@pytest.fixture(scope="module")
def pull_oracle(owner, pyth):
    return deploy_pull_oracle(owner, pyth.address, ETH_USD)


@pytest.fixture(scope="module")
def rebalancer(owner, project):
    return owner.deploy(project.PullRebalancer)


@pytest.fixture
def prices():
    return Prices()


@pytest.fixture(scope="module")
def pull_pool(owner, pull_oracle, collateral, create_order_pool, order_pool, book):
    # `order_pool` and `book` (session fixtures, a push market some tests compare with)
    # first: made later inside a module, ape would rebase every fixture of the module.
    prove_recent_price(owner, pull_oracle, Prices().source)
    return create_order_pool(collateral, pull_oracle, 1)


@pytest.fixture(scope="module")
def pull_book(pull_pool):
    return order_book_of(pull_pool)


@pytest.fixture
def pull_lens(pull_pool):
    return lens_of(pull_pool)


@pytest.fixture
def pull_funded(collateral, pull_book, lp, minter, redeemer, stranger):
    for account in (lp, minter, redeemer, stranger):
        fund(collateral, account, pull_book, 1_000_000 * USDC)


def settle_pull(book, prices, settler, now: int | None = None, limit: int = 20):
    """Settles the due run at the head of `book` as the keeper would: the orders,
    the updates of their slots not proven yet, the update fee. None if nothing is due."""
    adapter = project.PythOracle.at(book.oracle())
    batch = pull_batch(
        pending_orders(book),
        lambda slot: adapter.proven(slot)[0],
        prices.source,
        chain.pending_timestamp if now is None else now,
        False,
        limit,
    )
    if not batch.due:
        return None
    return book.settle(batch.orders, batch.round_ids, batch.updates, value=len(batch.updates), sender=settler)


def mine_past(t: int) -> None:
    """Mines a block at `t` (or now, if later): the chain's clock and the price path reach it."""
    chain.mine(timestamp=max(t, chain.pending_timestamp))


def slot_start(offset: int = 0) -> int:
    """Moves the chain to the first second of a new slot (plus `offset`); returns the slot."""
    now = chain.pending_timestamp
    slot = now - now % 5 + 5
    chain.mine(timestamp=slot + offset)
    return slot


def rebalance_now(rebalancer, pool, prices, sender):
    """What the keeper sends: the current slot's update and the rebalance, in one transaction."""
    now = chain.pending_timestamp
    slot = now - now % 5
    update = prices.source(slot) if slot <= chain.blocks.head.timestamp else None
    updates = [(slot, update.data)] if update else []
    return rebalancer.rebalance(pool, updates, value=len(updates), sender=sender)


@pytest.fixture
def seeded(pull_pool, pull_book, pull_funded, lp, keeper, prices, chain):
    """100,000 USDC of LP liquidity, settled."""
    receipt = pull_book.request_lp_deposit(100_000 * USDC, 0, lp, chain.pending_timestamp + 600, sender=lp)
    order = order_from_log(receipt.events.filter(pull_book.OrderRequested)[0])
    mine_past(order.not_before)
    settle_pull(pull_book, prices, keeper)
    return pull_pool
