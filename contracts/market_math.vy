# pragma version 0.4.3
"""
@title The pool's formulas
@license MIT
@author Inverse token contributors
@notice The NAV, the fees and the backing rule as pure functions, used by the
        pool to settle orders and by the lens (`PoolLens.vy`) to preview them,
        so a preview and a fill cannot differ in their arithmetic. Every
        rounding goes against the user and for the pool. The Python model
        (`inverse/model.py`) mirrors them.
@custom:security Pure functions only: no state, no calls.
@custom:kill Nothing to stop: a module compiled into the pool and the lens.
"""

from . import constants

WAD: constant(uint256) = constants.WAD


@internal
@pure
def ceil_div(x: uint256, y: uint256) -> uint256:
    return (x + y - 1) // y


@internal
@pure
def fee(amount: uint256, rate: uint256) -> uint256:
    """
    @dev Fees are owed by the user: rounded up.
    """
    return (amount * rate + WAD - 1) // WAD


@internal
@pure
def raw_nav(price: uint256, ref_price: uint256, ref_nav: uint256, leverage: uint256) -> uint256:
    """
    @dev n0 * max(0, 1 - L * (P - P0) / P0). The relative move is rounded against
         holders (a loss up, a gain down), then the NAV down.
    """
    if price >= ref_price:
        loss: uint256 = self.ceil_div(leverage * (price - ref_price), ref_price)
        if loss >= WAD:
            return 0
        return ref_nav * (WAD - loss) // WAD
    gain: uint256 = leverage * (ref_price - price) // ref_price
    return ref_nav * (WAD + gain) // WAD


@internal
@pure
def accrued(nav: uint256, at: uint256, fee_time: uint256, management_fee: uint256) -> uint256:
    """
    @dev The management fee from t0 (`fee_time`) to `at`, rounded against holders.
    """
    if at <= fee_time:
        return nav
    fee_rate: uint256 = min(self.ceil_div(management_fee * (at - fee_time), constants.YEAR), WAD)
    return nav * (WAD - fee_rate) // WAD


@internal
@pure
def capped(raw_nav: uint256, assets: uint256, supply: uint256, value_scale: uint256) -> uint256:
    """
    @dev Holders can never be owed more than the pool holds: nav <= A / S.
    """
    if supply == 0:
        return raw_nav
    return min(raw_nav, assets * value_scale // supply)


@internal
@pure
def inverse_value(supply: uint256, nav: uint256, value_scale: uint256) -> uint256:
    """
    @dev S * n, in collateral, rounded up: it is what the pool owes.
    """
    return self.ceil_div(supply * nav, value_scale)


@internal
@pure
def redeem_amounts(shares: uint256, nav: uint256, fee_rate: uint256, value_scale: uint256) -> (uint256, uint256):
    """
    @dev Gross payout rounded down, fee rounded up; returns (net, fee).
    """
    gross: uint256 = shares * nav // value_scale
    redeem_fee: uint256 = self.fee(gross, fee_rate)
    return gross - redeem_fee, redeem_fee


@internal
@pure
def mint_capacity(lp_value: uint256, inverse: uint256, backing: uint256, fee_rate: uint256) -> uint256:
    """
    @dev Largest `a` with (V + fee) * WAD >= b * (I + a - fee), fee = a * f, for LP
         value V, inverse value I, backing b, fee rate f:
         a <= WAD * (V * WAD - b * I) / (b * (WAD - f) - f * WAD). Rounding of the
         real fee (up) and of the minted value (down) only adds backing, so a
         mint of this size always satisfies the rule. The bounds keep the
         denominator positive (b >= 0.1, f <= 1%).
    """
    surplus: uint256 = lp_value * WAD
    required: uint256 = backing * inverse
    if surplus <= required:
        return 0
    return WAD * (surplus - required) // (backing * (WAD - fee_rate) - fee_rate * WAD)


@internal
@pure
def lp_withdraw_capacity(lp_value: uint256, inverse: uint256, min_backing: uint256, is_shutdown: bool) -> uint256:
    """
    @dev LP value above `min_backing * inverse`; all of it after shutdown, when
         prices no longer move and holders' claim is fixed.
    """
    if is_shutdown:
        return lp_value
    required: uint256 = self.ceil_div(min_backing * inverse, WAD)
    if lp_value <= required:
        return 0
    return lp_value - required


@internal
@pure
def lp_value_added(
    assets: uint256, supply: uint256, raw_nav: uint256, nav: uint256, deposit: uint256, value_scale: uint256
) -> (uint256, uint256):
    """
    @dev (LP value before an LP deposit of `deposit`, the LP value it adds). That
         is all of `deposit` unless the pool is exhausted, where the deposit first
         lifts the capped NAV for holders; the cap's rounding can then even leave
         LP value a few wei lower (0 added).
    """
    value_before: uint256 = assets - self.inverse_value(supply, nav, value_scale)
    nav_after: uint256 = self.capped(raw_nav, assets + deposit, supply, value_scale)
    value_after: uint256 = assets + deposit - self.inverse_value(supply, nav_after, value_scale)
    if value_after <= value_before:
        return value_before, 0
    return value_before, value_after - value_before
