# pragma version 0.4.3
"""
@title Previews for one market
@license MIT
@author Inverse token contributors
@notice What an order would get at the current price, how much the market can
        take now, and what each side owns: `preview_mint`, `preview_redeem`,
        `preview_lp_deposit`, `preview_lp_withdraw`, `max_mint`,
        `max_lp_withdraw`, `inverse_value` and `lp_value`, with the signatures
        SPEC 9 gives them, for the pool that created it (`lens()` on the pool).
        They live here, not in the pool, so the pool keeps room under EIP-170
        for what settles orders. Each reads the pool's state through its public
        views and applies the pool's own formulas (`market_math.vy`), so a
        preview equals the fill at the same price and time. At settlement the
        order's round decides; a preview is not a promise.
@custom:security Views only: holds nothing, changes nothing, trusts the pool,
        its order book, its LP token and its oracle for what they report.
@custom:kill Nothing to stop: no state, no funds.
"""

from ethereum.ercs import IERC20

from .interfaces import ILpToken
from .interfaces import IOracle
from .interfaces import IOrderBook
from .interfaces import IPool
from .interfaces import IPoolLens
from . import market_math

implements: IPoolLens

# The market previewed.
pool: public(immutable(IPool))

_ORACLE: immutable(IOracle)
_LP_TOKEN: immutable(ILpToken)
_ORDER_BOOK: immutable(IOrderBook)
_LEVERAGE: immutable(uint256)
# As in the pool: collateral = tokens * nav / _VALUE_SCALE, and the LP shares' virtual offset.
_VALUE_SCALE: immutable(uint256)
_LP_VIRTUAL_SHARES: immutable(uint256)

_MASK_128: constant(uint256) = 2**128 - 1


# The market at the current price, as the pool would price an order now.
struct Market:
    assets: uint256
    supply: uint256
    raw_nav: uint256
    nav: uint256
    inverse: uint256
    params: IPool.Parameters
    is_shutdown: bool


@deploy
def __init__(
    pool_: IPool,
    oracle_: IOracle,
    lp_token_: ILpToken,
    order_book_: IOrderBook,
    leverage_: uint256,
    value_scale: uint256,
    lp_virtual_shares: uint256,
):
    """
    @notice Created by the pool, from a blueprint, as it is deployed.
    @param pool_ The market's pool.
    @param oracle_ Its price adapter.
    @param lp_token_ Its LP token.
    @param order_book_ Its order book.
    @param leverage_ Its leverage L (WAD).
    @param value_scale Its 10**(36 - collateral decimals).
    @param lp_virtual_shares Its virtual LP shares, 10**(18 - collateral decimals).
    """
    pool = pool_
    _ORACLE = oracle_
    _LP_TOKEN = lp_token_
    _ORDER_BOOK = order_book_
    _LEVERAGE = leverage_
    _VALUE_SCALE = value_scale
    _LP_VIRTUAL_SHARES = lp_virtual_shares


@external
@view
def preview_mint(assets: uint256) -> uint256:
    """
    @notice Tokens a mint order of `assets` would get at the current price, mint
            fee included (0 if the NAV is zero). The settle fee is paid beside
            `assets`; limits (`max_mint`, pause) are not applied.
    @param assets Collateral paid in.
    @return uint256 Tokens out.
    """
    m: Market = self._market()
    if m.nav == 0:
        return 0
    return (assets - market_math.fee(assets, m.params.mint_fee)) * _VALUE_SCALE // m.nav


@external
@view
def preview_redeem(shares: uint256) -> uint256:
    """
    @notice Collateral a redeem order of `shares` would pay the receiver at the
            current price: redeem fee and settle fee taken.
    @param shares Tokens redeemed.
    @return uint256 Collateral out.
    """
    m: Market = self._market()
    assets: uint256 = 0
    fee: uint256 = 0
    assets, fee = market_math.redeem_amounts(shares, m.nav, m.params.redeem_fee, _VALUE_SCALE)
    return assets - min(assets, m.params.settle_fee)


@external
@view
def max_mint() -> uint256:
    """
    @notice The most collateral a mint order can take now without breaking the
            backing rule (`lp_value >= min_backing * inverse_value` afterwards),
            less the pending mint orders; 0 while paused, shut down, exhausted or
            at a zero NAV. At settlement the round's price decides.
    @return uint256 Collateral, in its own decimals.
    """
    if staticcall pool.paused() or staticcall pool.shutdown_requested():
        return 0
    m: Market = self._market()
    if m.nav == 0 or m.nav != m.raw_nav:
        return 0
    capacity: uint256 = market_math.mint_capacity(m.assets - m.inverse, m.inverse, m.params.min_backing, m.params.mint_fee)
    return capacity - min(capacity, staticcall _ORDER_BOOK.escrowed())


@external
@view
def exhausted() -> bool:
    """
    @notice Whether holders are owed all the pool holds now (the NAV capped at
            total assets / supply): an LP deposit would first make them whole,
            so one with a bound (`min_lp_out` above 0) is refunded; a
            recapitalisation is asked with a bound of 0.
    @return bool True when exhausted.
    """
    m: Market = self._market()
    return m.nav != m.raw_nav


@external
@view
def preview_lp_deposit(assets: uint256) -> uint256:
    """
    @notice LP shares an LP deposit order of `assets` would get at the current price.
    @param assets Collateral paid in (the settle fee is paid beside it).
    @return uint256 LP shares out.
    """
    m: Market = self._market()
    value_before: uint256 = 0
    added: uint256 = 0
    value_before, added = market_math.lp_value_added(m.assets, m.supply, m.raw_nav, m.nav, assets, _VALUE_SCALE)
    if added == 0:
        return 0
    # Bits 0-127 are the shares (above them, the rescale they were priced after).
    return (staticcall _LP_TOKEN.deposit_shares(added, value_before, _LP_VIRTUAL_SHARES)) & _MASK_128


@external
@view
def preview_lp_withdraw(lp_shares: uint256) -> uint256:
    """
    @notice Collateral an LP withdrawal order of `lp_shares` would pay the
            receiver at the current price, settle fee taken (the backing rule is
            not applied: see `max_lp_withdraw`).
    @param lp_shares LP shares burned.
    @return uint256 Collateral out.
    """
    m: Market = self._market()
    assets: uint256 = staticcall _LP_TOKEN.shares_value(lp_shares, m.assets - m.inverse, _LP_VIRTUAL_SHARES)
    return assets - min(assets, m.params.settle_fee)


@external
@view
def max_lp_withdraw() -> uint256:
    """
    @notice The most collateral LPs together can withdraw now under the backing rule.
    @return uint256 Collateral, in its own decimals.
    """
    m: Market = self._market()
    return market_math.lp_withdraw_capacity(m.assets - m.inverse, m.inverse, m.params.min_backing, m.is_shutdown)



@external
@view
def inverse_value() -> uint256:
    """
    @notice What all inverse tokens (escrowed ones included) are worth now,
            rounded up (the pool's obligation).
    @return uint256 Collateral, in its own decimals.
    """
    return self._market().inverse


@external
@view
def lp_value() -> uint256:
    """
    @notice What the LP side owns now: total assets less the inverse value.
    @return uint256 Collateral, in its own decimals.
    """
    m: Market = self._market()
    return m.assets - m.inverse

@internal
@view
def _market() -> Market:
    """
    @dev The market now, as the pool's `_live_market` sees it: the latest price
         (reverting with the oracle's reason) unless shut down, when the settled
         NAV stands.
    """
    m: Market = Market(
        assets=staticcall pool.total_assets(),
        supply=staticcall IERC20(pool.address).totalSupply(),
        raw_nav=staticcall pool.reference_nav(),
        nav=0,
        inverse=0,
        params=staticcall pool.parameters(),
        is_shutdown=staticcall pool.is_shutdown(),
    )
    price: uint256 = 0
    if not m.is_shutdown:
        price = staticcall _ORACLE.price()
    if price != 0:
        m.raw_nav = market_math.accrued(
            market_math.raw_nav(price, staticcall pool.reference_price(), m.raw_nav, _LEVERAGE),
            block.timestamp,
            staticcall pool.fee_time(),
            m.params.management_fee,
        )
    m.nav = market_math.capped(m.raw_nav, m.assets, m.supply, _VALUE_SCALE)
    m.inverse = market_math.inverse_value(m.supply, m.nav, _VALUE_SCALE)
    return m
