"""Reference model of one pool, in pure Python with the contract's integer math.

Every number it produces equals the contract's to the wei: the tests hold the
contract to it, and the simulator and the demo use it to explain what they see.
Operations raise `Revert` with the contract's own reason where the contract would
revert, and change nothing in that case.

The model knows nothing of the oracle's validity or of token transfers: callers
pass it the price the oracle gives (or `None` when the oracle has none).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from .constants import (
    MAX_INTERVAL,
    MAX_KEEPER_BOUNTY_UNITS,
    MAX_MANAGEMENT_FEE,
    MAX_MAX_WAIT,
    MAX_MIN_BACKING,
    MAX_MIN_DELAY,
    MAX_MIN_ORDER_UNITS,
    MAX_SETTLE_FEE_UNITS,
    MAX_THRESHOLD,
    MAX_TRADE_FEE,
    MIN_INTERVAL,
    MIN_MAX_WAIT,
    MIN_MIN_BACKING,
    MIN_MIN_DELAY,
    MIN_THRESHOLD,
    REASON_THRESHOLD,
    REASON_TIME,
    WAD,
    YEAR,
)


class Revert(Exception):
    """The contract would revert with this reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def ceil_div(x: int, y: int) -> int:
    return (x + y - 1) // y


def fee_of(amount: int, rate: int) -> int:
    """Fees are owed by the user: rounded up."""
    return ceil_div(amount * rate, WAD)


def raw_nav(price: int, ref_price: int, ref_nav: int, leverage: int) -> int:
    """n0 * max(0, 1 - L (P - P0) / P0); the move rounded against holders, the NAV down."""
    if price >= ref_price:
        loss = ceil_div(leverage * (price - ref_price), ref_price)
        if loss >= WAD:
            return 0
        return ref_nav * (WAD - loss) // WAD
    gain = leverage * (ref_price - price) // ref_price
    return ref_nav * (WAD + gain) // WAD


@dataclass
class Market:
    """What one operation sees: the contract's `Market` struct."""

    assets: int
    supply: int
    price: int
    raw_nav: int
    nav: int


@dataclass
class PoolModel:
    """State of one pool; mirrors `InversePool.vy` storage."""

    leverage: int
    collateral_decimals: int
    reference_price: int
    last_rebalance: int
    interval: int
    threshold: int
    mint_fee: int
    redeem_fee: int
    management_fee: int
    keeper_bounty: int
    min_backing: int
    reference_nav: int = WAD
    total_assets: int = 0
    paused: bool = False
    is_shutdown: bool = False
    balances: dict[str, int] = field(default_factory=dict)
    lp_balances: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------ derived

    @property
    def value_scale(self) -> int:
        return 10 ** (36 - self.collateral_decimals)

    @property
    def lp_virtual_shares(self) -> int:
        return 10 ** (18 - self.collateral_decimals)

    @property
    def total_supply(self) -> int:
        return sum(self.balances.values())

    @property
    def lp_supply(self) -> int:
        return sum(self.lp_balances.values())

    def params(self) -> dict:
        return {
            "interval": self.interval,
            "threshold": self.threshold,
            "mint_fee": self.mint_fee,
            "redeem_fee": self.redeem_fee,
            "management_fee": self.management_fee,
            "keeper_bounty": self.keeper_bounty,
            "min_backing": self.min_backing,
        }

    def copy(self) -> PoolModel:
        return copy.deepcopy(self)

    # ------------------------------------------------------------ pricing

    def market(self, price: int | None) -> Market:
        m = Market(self.total_assets, self.total_supply, 0, self.reference_nav, 0)
        if not self.is_shutdown:
            if price is None:
                raise Revert("oracle: no valid price")
            m.price = price
            m.raw_nav = raw_nav(price, self.reference_price, m.raw_nav, self.leverage)
        m.nav = self._capped(m)
        return m

    def _capped(self, m: Market) -> int:
        if m.supply == 0:
            return m.raw_nav
        return min(m.raw_nav, m.assets * self.value_scale // m.supply)

    def _inverse_value(self, supply: int, nav: int) -> int:
        return ceil_div(supply * nav, self.value_scale)

    def nav(self, price: int | None) -> int:
        return self.market(price).nav

    def inverse_value(self, price: int | None) -> int:
        m = self.market(price)
        return self._inverse_value(m.supply, m.nav)

    def lp_value(self, price: int | None) -> int:
        m = self.market(price)
        return m.assets - self._inverse_value(m.supply, m.nav)

    def _redeem_amounts(self, shares: int, nav: int) -> tuple[int, int]:
        gross = shares * nav // self.value_scale
        fee = fee_of(gross, self.redeem_fee)
        return gross - fee, fee

    def _mint_capacity(self, m: Market) -> int:
        inverse = self._inverse_value(m.supply, m.nav)
        surplus = (m.assets - inverse) * WAD
        required = self.min_backing * inverse
        if surplus <= required:
            return 0
        return WAD * (surplus - required) // (self.min_backing * (WAD - self.mint_fee) - self.mint_fee * WAD)

    def _lp_withdraw_capacity(self, lp_value: int, inverse: int) -> int:
        if self.is_shutdown:
            return lp_value
        required = ceil_div(self.min_backing * inverse, WAD)
        return max(lp_value - required, 0)

    def _lp_deposit_shares(self, m: Market, assets: int) -> int:
        value_before = m.assets - self._inverse_value(m.supply, m.nav)
        after = copy.copy(m)
        after.assets = m.assets + assets
        after.nav = self._capped(after)
        value_after = after.assets - self._inverse_value(after.supply, after.nav)
        if value_after <= value_before:
            return 0
        return (value_after - value_before) * (self.lp_supply + self.lp_virtual_shares) // (value_before + 1)

    def _lp_withdraw_assets(self, lp_value: int, lp_shares: int) -> int:
        return lp_shares * (lp_value + 1) // (self.lp_supply + self.lp_virtual_shares)

    def due_reason(self, price: int, now: int) -> int:
        reason = 0
        if now >= self.last_rebalance + self.interval:
            reason = REASON_TIME
        move = abs(price - self.reference_price)
        if move * WAD >= self.threshold * self.reference_price:
            reason |= REASON_THRESHOLD
        return reason

    # ------------------------------------------------------------ views

    def preview_mint(self, assets: int, price: int | None) -> int:
        m = self.market(price)
        if m.nav == 0:
            return 0
        return (assets - fee_of(assets, self.mint_fee)) * self.value_scale // m.nav

    def preview_redeem(self, shares: int, price: int | None) -> int:
        return self._redeem_amounts(shares, self.market(price).nav)[0]

    def max_mint(self, price: int | None) -> int:
        if self.paused or self.is_shutdown:
            return 0
        m = self.market(price)
        if m.nav == 0 or m.nav != m.raw_nav:
            return 0
        return self._mint_capacity(m)

    def preview_lp_deposit(self, assets: int, price: int | None) -> int:
        return self._lp_deposit_shares(self.market(price), assets)

    def preview_lp_withdraw(self, lp_shares: int, price: int | None) -> int:
        m = self.market(price)
        return self._lp_withdraw_assets(m.assets - self._inverse_value(m.supply, m.nav), lp_shares)

    def max_lp_withdraw(self, price: int | None) -> int:
        m = self.market(price)
        inverse = self._inverse_value(m.supply, m.nav)
        return self._lp_withdraw_capacity(m.assets - inverse, inverse)

    def rebalance_due(self, price: int | None, now: int) -> bool:
        if self.is_shutdown or price is None:
            return False
        return self.due_reason(price, now) != 0

    # ------------------------------------------------------------ operations

    @staticmethod
    def _check_request(amount: int, receiver: str | None, deadline: int, now: int) -> None:
        if amount == 0:
            raise Revert("pool: zero amount")
        if not receiver:
            raise Revert("pool: zero receiver")
        if now > deadline:
            raise Revert("pool: deadline passed")

    @staticmethod
    def _check_assets_fit(total_assets: int) -> None:
        # The pool keeps total assets in 128 bits of a packed storage word.
        if total_assets >= 2**128:
            raise Revert("pool: assets too large")

    def _check_open(self) -> None:
        if self.paused:
            raise Revert("pool: paused")
        if self.is_shutdown:
            raise Revert("pool: shut down")

    def mint(self, sender, assets, min_shares_out, receiver, deadline, price, now) -> tuple[int, int]:
        """Returns (shares, fee)."""
        self._check_open()
        self._check_request(assets, receiver, deadline, now)
        m = self.market(price)
        if m.nav == 0:
            raise Revert("pool: nav is zero")
        if m.nav != m.raw_nav:
            raise Revert("pool: exhausted")
        fee = fee_of(assets, self.mint_fee)
        shares = (assets - fee) * self.value_scale // m.nav
        if shares == 0:
            raise Revert("pool: zero shares")
        if assets > self._mint_capacity(m):
            raise Revert("pool: exceeds max mint")
        if shares < min_shares_out:
            raise Revert("pool: slippage")
        self._check_assets_fit(m.assets + assets)
        self.total_assets = m.assets + assets
        self.balances[receiver] = self.balances.get(receiver, 0) + shares
        return shares, fee

    def redeem(self, sender, shares, min_assets_out, receiver, deadline, price, now) -> tuple[int, int]:
        """Returns (assets, fee)."""
        self._check_request(shares, receiver, deadline, now)
        if shares > self.balances.get(sender, 0):
            raise Revert("pool: redeem exceeds balance")
        m = self.market(price)
        assets, fee = self._redeem_amounts(shares, m.nav)
        if assets < min_assets_out:
            raise Revert("pool: slippage")
        self.balances[sender] -= shares
        self.total_assets = m.assets - assets
        return assets, fee

    def transfer(self, sender, receiver, amount) -> None:
        if amount > self.balances.get(sender, 0):
            raise Revert("erc20: transfer amount exceeds balance")
        self.balances[sender] = self.balances.get(sender, 0) - amount
        self.balances[receiver] = self.balances.get(receiver, 0) + amount

    def lp_deposit(self, sender, assets, min_lp_out, receiver, deadline, price, now) -> int:
        self._check_open()
        self._check_request(assets, receiver, deadline, now)
        m = self.market(price)
        lp_shares = self._lp_deposit_shares(m, assets)
        if lp_shares == 0:
            raise Revert("pool: zero shares")
        if lp_shares < min_lp_out:
            raise Revert("pool: slippage")
        self._check_assets_fit(m.assets + assets)
        self.total_assets = m.assets + assets
        self.lp_balances[receiver] = self.lp_balances.get(receiver, 0) + lp_shares
        return lp_shares

    def lp_withdraw(self, sender, lp_shares, min_assets_out, receiver, deadline, price, now) -> int:
        self._check_request(lp_shares, receiver, deadline, now)
        if lp_shares > self.lp_balances.get(sender, 0):
            raise Revert("pool: withdraw exceeds balance")
        m = self.market(price)
        inverse = self._inverse_value(m.supply, m.nav)
        assets = self._lp_withdraw_assets(m.assets - inverse, lp_shares)
        if assets > self._lp_withdraw_capacity(m.assets - inverse, inverse):
            raise Revert("pool: insufficient backing")
        if assets < min_assets_out:
            raise Revert("pool: slippage")
        self.lp_balances[sender] -= lp_shares
        self.total_assets = m.assets - assets
        return assets

    def rebalance(self, price: int | None, now: int) -> dict:
        """Returns what the `Rebalance` event reports."""
        if self.is_shutdown:
            raise Revert("pool: shut down")
        m = self.market(price)
        reason = self.due_reason(m.price, now)
        if reason == 0:
            raise Revert("pool: rebalance not due")
        elapsed = now - self.last_rebalance
        fee_rate = min(ceil_div(self.management_fee * elapsed, YEAR), WAD)
        new_nav = m.nav * (WAD - fee_rate) // WAD
        inverse = self._inverse_value(m.supply, new_nav)
        fee_assets = self._inverse_value(m.supply, m.nav) - inverse
        bounty = min(self.keeper_bounty, m.assets - inverse)
        self.reference_price = m.price
        self.reference_nav = new_nav
        self.last_rebalance = now
        self.total_assets = m.assets - bounty
        return {
            "reason": reason,
            "price": m.price,
            "nav": new_nav,
            "management_fee": fee_assets,
            "bounty": bounty,
        }

    def pause(self) -> None:
        if self.paused:
            raise Revert("pool: already paused")
        self.paused = True

    def unpause(self) -> None:
        if not self.paused:
            raise Revert("pool: not paused")
        self.paused = False

    def shutdown(self, price: int | None) -> int:
        """Settles the NAV (at the last reference NAV when `price` is None); returns it."""
        if self.is_shutdown:
            raise Revert("pool: shut down")
        m = Market(self.total_assets, self.total_supply, 0, self.reference_nav, 0)
        if price is not None:
            m.raw_nav = raw_nav(price, self.reference_price, m.raw_nav, self.leverage)
            self.reference_price = price
        m.nav = self._capped(m)
        self.reference_nav = m.nav
        self.is_shutdown = True
        return m.nav

    def set_parameters(self, params: dict) -> None:
        if self.is_shutdown:
            raise Revert("pool: shut down")
        check_parameters(params, self.collateral_decimals)
        for name, value in params.items():
            setattr(self, name, value)


def check_parameters(params: dict, collateral_decimals: int, leverage: int | None = None) -> None:
    """The contract's bounds, with its revert reasons; the order parameters and
    the threshold's bound of 0.5 / L where given."""
    unit = 10**collateral_decimals
    if not MIN_INTERVAL <= params["interval"] <= MAX_INTERVAL:
        raise Revert("pool: interval out of bounds")
    if not MIN_THRESHOLD <= params["threshold"] <= MAX_THRESHOLD:
        raise Revert("pool: threshold out of bounds")
    if leverage is not None and params["threshold"] * leverage > WAD * WAD // 2:
        raise Revert("pool: threshold out of bounds")
    if params["mint_fee"] > MAX_TRADE_FEE:
        raise Revert("pool: mint fee out of bounds")
    if params["redeem_fee"] > MAX_TRADE_FEE:
        raise Revert("pool: redeem fee out of bounds")
    if params["management_fee"] > MAX_MANAGEMENT_FEE:
        raise Revert("pool: management fee out of bounds")
    if params["keeper_bounty"] > MAX_KEEPER_BOUNTY_UNITS * unit:
        raise Revert("pool: keeper bounty out of bounds")
    if not MIN_MIN_BACKING <= params["min_backing"] <= MAX_MIN_BACKING:
        raise Revert("pool: min backing out of bounds")
    if "settle_fee" not in params:
        return
    if params["settle_fee"] > MAX_SETTLE_FEE_UNITS * unit:
        raise Revert("pool: settle fee out of bounds")
    if not MIN_MIN_DELAY <= params["min_delay"] <= MAX_MIN_DELAY:
        raise Revert("pool: min delay out of bounds")
    if not MIN_MAX_WAIT <= params["max_wait"] <= MAX_MAX_WAIT:
        raise Revert("pool: max wait out of bounds")
    if params["min_order"] > MAX_MIN_ORDER_UNITS * unit:
        raise Revert("pool: min order out of bounds")
