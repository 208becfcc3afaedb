"""Helpers for the order-flow tests of the next-price market (`order_pool`, `book`).

The expected amounts are computed here with the contract's integer math, from the
pool's views read just before a settlement and the order's round (its price and
`updatedAt`), so a test shows *which* price an order was filled at."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from ape import chain, project

from inverse.constants import ORDER_PARAMETER_NAMES, WAD
from inverse.model import accrued, ceil_div, fee_of, lp_deposit_shares, raw_nav
from inverse.orders import Order, order_from_log
from inverse.status import read_parameters
from tests.conftest import FEED_DECIMALS, fund, publish_round

USDC = 10**6
VALUE_SCALE = 10**30  # 10**(36 - 6): collateral = tokens * nav / VALUE_SCALE
LP_VIRTUAL_SHARES = 10**12  # 10**(18 - 6)


def wad(answer: int) -> int:
    """A feed answer (8 decimals) as the WAD price the oracle reports."""
    return answer * 10 ** (18 - FEED_DECIMALS)


@pytest.fixture
def order_lp_token(order_pool, project):
    return project.LpToken.at(order_pool.lp_token())


@pytest.fixture
def stranger_funded(collateral, book, stranger):
    """`stranger` (the attacker of the adversarial tests) with 1,000,000 USDC approved to the book."""
    fund(collateral, stranger, book, 1_000_000 * USDC)
    return stranger


def later(chain, seconds: int = 3_600) -> int:
    """A deadline `seconds` after the pending block (for tests that move the clock)."""
    return chain.pending_timestamp + seconds


def requested(receipt, book) -> Order:
    """The order a request receipt created, as `settle` takes it back."""
    [log] = receipt.events.filter(book.OrderRequested)
    return order_from_log(log)


def settled(receipt, pool) -> list:
    """The `OrderSettled` logs of a receipt, in order."""
    return list(receipt.events.filter(pool.OrderSettled))


def round_data(feed, round_id: int):
    """(answer, startedAt, updatedAt) of a round."""
    _, answer, started_at, updated_at, _ = feed.getRoundData(round_id)
    return answer, started_at, updated_at


def latest_round_id(feed) -> int:
    return feed.latestRoundData()[0]


def queue_parameters(pool, owner, **changes):
    """Queues the parameters in force with `changes`."""
    params = read_parameters(pool) | changes
    return pool.queue_parameters(tuple(params[name] for name in ORDER_PARAMETER_NAMES), sender=owner)


def set_parameters(pool, owner, **changes):
    """Puts `changes` in force the only way the owner can: queues them, waits out
    the delay (and the interval, so a rebalance is due), publishes a round at
    the latest answer and rebalances. Returns the rebalance's receipt."""
    queue_parameters(pool, owner, **changes)
    feed = project.MockAggregator.at(project.ChainlinkOracle.at(pool.oracle()).feed())
    due = max(pool.parameters_ready_at(), pool.last_rebalance() + read_parameters(pool)["interval"])
    publish_round(feed, owner, chain, after=due)
    return pool.rebalance(sender=owner)


@dataclass
class Market:
    """The pool as an order sees it at its round: the contract's `Market`."""

    assets: int
    supply: int
    raw_nav: int
    nav: int
    lp_supply: int
    min_backing: int

    @property
    def inverse(self) -> int:
        return ceil_div(self.supply * self.nav, VALUE_SCALE)

    @property
    def lp_value(self) -> int:
        return self.assets - self.inverse

    def mint_capacity(self, fee_rate: int) -> int:
        surplus = self.lp_value * WAD
        required = self.min_backing * self.inverse
        if surplus <= required:
            return 0
        return WAD * (surplus - required) // (self.min_backing * (WAD - fee_rate) - fee_rate * WAD)

    def mint(self, assets: int, fee_rate: int) -> tuple[int, int, int]:
        """(filled, fee, shares) of a mint order of `assets`."""
        filled = min(assets, self.mint_capacity(fee_rate)) if self.nav and self.nav == self.raw_nav else 0
        fee = fee_of(filled, fee_rate)
        return filled, fee, (filled - fee) * VALUE_SCALE // max(self.nav, 1)

    def redeem(self, shares: int, fee_rate: int) -> tuple[int, int]:
        """(assets before the settle fee, redeem fee) of a redeem order of `shares`."""
        gross = shares * self.nav // VALUE_SCALE
        fee = fee_of(gross, fee_rate)
        return gross - fee, fee

    def lp_deposit(self, assets: int) -> int:
        before = self.lp_value
        after_assets = self.assets + assets
        after_nav = min(self.raw_nav, after_assets * VALUE_SCALE // self.supply) if self.supply else self.raw_nav
        after = after_assets - ceil_div(self.supply * after_nav, VALUE_SCALE)
        if after <= before:
            return 0
        # At a share price under 2**-20 of the first, priced after the LP token's rescale.
        return lp_deposit_shares(self.lp_supply, after - before, before, LP_VIRTUAL_SHARES)[0]

    def lp_withdraw(self, lp_shares: int) -> int:
        """Collateral for `lp_shares` (before the settle fee; the backing rule not applied)."""
        return lp_shares * (self.lp_value + 1) // (self.lp_supply + LP_VIRTUAL_SHARES)


def market_at(pool, lp_token, price: int, at: int) -> Market:
    """The pool's market at WAD `price` and round time `at`, from its views now."""
    nav = raw_nav(price, pool.reference_price(), pool.reference_nav(), pool.leverage())
    params, fee_time = pool.parameters(), pool.fee_time()
    if at > fee_time:
        nav = accrued(nav, params.management_fee, at - fee_time)
    assets, supply = pool.total_assets(), pool.totalSupply()
    capped = min(nav, assets * VALUE_SCALE // supply) if supply else nav
    return Market(assets, supply, nav, capped, lp_token.totalSupply(), params.min_backing)


def state(pool, book, collateral, lp_token, accounts) -> dict:
    """Every number a user could check, to show a failed request changed nothing."""
    holders = list(accounts) + [pool, book]
    return {
        "collateral": [collateral.balanceOf(a) for a in holders],
        "tokens": [pool.balanceOf(a) for a in holders],
        "lp_shares": [lp_token.balanceOf(a) for a in holders],
        "supply": pool.totalSupply(),
        "lp_supply": lp_token.totalSupply(),
        "total_assets": pool.total_assets(),
        "escrowed": book.escrowed(),
        "pending": book.pending_orders(),
        "next": book.next_order(),
    }
